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
// scores: [F x K] (one ranking per output; ties broken by feature index). Features are
// removed from the full coalition (deletion) / added to the empty one (insertion) in
// descending score order, `steps` points evenly spaced over 0..F (0 = every feature).
// All coalitions go to the cache in one request (batched, never twice).
DeletionInsertion deletionInsertion(CoalitionCache& v, const std::vector<double>& scores, int steps,
                                    const JobContext& job);

// Zhang et al.'s pointing game: is the map's maximum within `tolerance` pixels of the
// ground-truth mask? map and mask are width x height row-major (mask: nonzero = object).
bool pointingGameHit(const float* map, const uint8_t* mask, int width, int height, int tolerance = 15);
// Share of the positive relevance that falls inside the mask (Arras et al.); 0 when the
// map has no positive value.
double relevanceMass(const float* map, const uint8_t* mask, int width, int height);
// Share of the top-|mask| pixels of the map that lie inside the mask (Arras et al.).
double relevanceRank(const float* map, const uint8_t* mask, int width, int height);
// Spearman rank correlation (ties get their average rank); 0 if either side is constant.
double spearman(const std::vector<double>& a, const std::vector<double>& b);

}  // namespace vlm::explain
