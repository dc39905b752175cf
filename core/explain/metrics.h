#pragma once
// Faithfulness and sanity metrics for attribution maps: deletion / insertion curves over a
// game's features, pointing game, relevance mass and rank, rank correlation. No LibTorch.

#include <cstdint>
#include <vector>

#include "explain/shapley.h"

namespace vlm::explain {

struct Curve {
  std::vector<double> fraction;  // share of features removed (deletion) / inserted (insertion), 0..1
  std::vector<double> value;     // the game's output at that point
  double auc = 0;                // trapezoid rule over fraction in [0, 1]
};
struct DeletionInsertion {
  std::vector<Curve> deletion;   // per output
  std::vector<Curve> insertion;  // per output
};
// F = v.players(), K = v.outputs(). scores: [F x K] row-major (one ranking per output:
// feature f's score for output k is scores[f * K + k]; ties broken by the lower index).
// Features are removed from the full coalition (deletion: the top c absent) / added to the
// empty one (insertion: only the top c present) in descending score order. The curves are
// sampled at c = round(j F / steps), j = 0..steps (duplicates dropped; 0 and F always
// included), or at every c = 0..F when steps is 0 or >= F; fraction = c / F.
// All coalitions of all outputs go to the cache in one request (batched, never twice).
// Throws InvalidArgument for a game without players or outputs, scores.size() != F * K, a
// non-finite score or a negative `steps`.
DeletionInsertion deletionInsertion(CoalitionCache& v, const std::vector<double>& scores, int steps,
                                    const JobContext& job);

// The map-vs-mask metrics below take a map and a mask of width x height, row-major (mask:
// nonzero = object). They throw InvalidArgument for a null map or mask, a size < 1, and an
// empty mask (there is nothing to point at; a 0 would silently bias an average). NaN map
// values never count as relevant.

// Zhang et al.'s pointing game: is the map's maximum (the first in raster order) within
// `tolerance` pixels (Euclidean, inclusive) of a mask pixel? tolerance >= 0.
bool pointingGameHit(const float* map, const uint8_t* mask, int width, int height, int tolerance = 15);
// Share of the positive relevance (sum of max(map, 0)) that falls inside the mask (Arras et
// al.); 0 when the map has no positive value.
double relevanceMass(const float* map, const uint8_t* mask, int width, int height);
// Share of the top-m pixels of the map (m = the number of mask pixels; ties broken by the
// lower raster index) that lie inside the mask (Arras et al.).
double relevanceRank(const float* map, const uint8_t* mask, int width, int height);
// Spearman rank correlation: Pearson's correlation of the ranks, ties getting their average
// rank; 0 if either side is constant. Throws InvalidArgument for sides of different sizes,
// fewer than 2 values or a non-finite value.
double spearman(const std::vector<double>& a, const std::vector<double>& b);

}  // namespace vlm::explain
