#pragma once
// Shapley explanations end to end (CLI `shap`, the GUI, batch runs): which image regions a
// caption, a caption token, a VQA answer or a CLIP similarity depends on. Features (players)
// come from explain/features.h, the game from explain/shap_game.h, the estimators from
// explain/shapley.h. No LibTorch types in this header.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/job.h"
#include "explain/masking.h"
#include "io/image.h"
#include "pipeline/explainer.h"
#include "pipeline/options.h"
#include "vision/geometry.h"

namespace vlm {

class Captioner;
class QuestionAnswerer;
class SimilarityModel;

// token-logprob / token-logodds: each caption (answer) token's teacher-forced log-probability
// (log-odds), one output per token; caption-logprob: the whole caption's; answer: the whole VQA
// answer's log-probability; clip: the CLIP cosine with a text; caption-similarity (VL-SHAP):
// the caption regenerated (greedy) from the masked image, compared with the original caption
// by the cosine of their CLIP text embeddings (needs ShapOptions::clip).
enum class ShapValue { TokenLogProb, TokenLogOdds, CaptionLogProb, CaptionSimilarity, Answer, Clip };
const char* toString(ShapValue v);
std::optional<ShapValue> parseShapValue(std::string_view name);

enum class ShapEstimator { Exact, Kernel, Permutation, Owen, Interactions };
const char* toString(ShapEstimator e);
std::optional<ShapEstimator> parseShapEstimator(std::string_view name);

struct ShapOptions {
  std::string features = "grid:4x4";  // explain/features.h parseFeatureSpec
  ShapValue value = ShapValue::TokenLogProb;
  ShapEstimator estimator = ShapEstimator::Kernel;
  int64_t evaluations = 300;  // budget of model evaluations (sampling estimators, Owen, interactions)
  int batch = 16;             // coalitions per forward pass
  uint64_t seed = 0;
  double tolerance = 0;       // sampling: stop when the error is below this share of the value range
  explain::MaskerKind masker = explain::MaskerKind::Constant;
  explain::MaskerOptions maskerOptions;
  double dffThreshold = 0.5;
  std::vector<vision::PixelRect> rects;  // rects features, in original-image pixels
  std::vector<int64_t> ids;              // explain these ids ([DEC] first) instead of the model's own text
  DecodingOptions decoding;              // how the explained (and, for caption-similarity, every regenerated) caption is made
  const SimilarityModel* clip = nullptr; // caption-similarity: the CLIP model comparing the captions
};

struct ShapResult {
  // model, family, text, ids, tokens, question, geometry; maps: one per output, the Shapley
  // values painted over the model input (side S: each pixel the sum of the values of the
  // features that contain it), normalized = positive part / max.
  ExplainResult info;
  std::string features;     // the feature set's description
  std::string featureKind;  // grid, slic, dff, rects, partition
  std::string value, estimator, masker;
  int side = 0;             // S
  int gridSide = 0;         // S / patch size
  std::vector<std::vector<uint8_t>> featureMasks;  // F masks over the S x S input
  std::vector<std::vector<int>> featurePatches;    // per feature its whole patches (empty when none)
  std::vector<std::string> featureLabels;
  std::vector<std::string> outputLabels;           // "token 3", "caption", "answer", "cosine"
  std::vector<double> values, stderrs;             // [F x K]
  std::vector<double> emptyValue, fullValue;       // v(nothing visible), v(everything), per output
  std::vector<double> interactions;                // interactions estimator: [F x F x K] SII
  std::vector<double> interactionStderrs;          // [F x F x K]
  std::vector<double> ksiiSingle;                  // [F x K]
  bool exact = false;
  bool converged = false;
  int64_t evaluations = 0, cacheHits = 0, forwardPasses = 0, samples = 0;
  double seconds = 0, modelSeconds = 0;
  double visiblePatchShare = 0;  // patch removal: mean share of the patches the evaluated coalitions kept
  int count() const { return int(featureLabels.size()); }
  int outputs() const { return int(outputLabels.size()); }
  double valueOf(int feature, int output) const { return values[size_t(feature) * outputs() + output]; }
};

// vlm::Error InvalidArgument for a feature spec, value or estimator that does not apply (e.g.
// owen without a partition, patch removal with superpixels, exact above 20 features);
// Cancelled.
ShapResult shapCaption(const Captioner& captioner, const io::ImageU8& image, const ShapOptions& options, const JobContext& job = {});
ShapResult shapAnswer(const QuestionAnswerer& vqa, const io::ImageU8& image, const std::string& question, const ShapOptions& options,
                      const JobContext& job = {});
ShapResult shapSimilarity(const SimilarityModel& clip, const io::ImageU8& image, const std::string& text, const ShapOptions& options,
                          const JobContext& job = {});

// Rectangles from a JSON file: [[x, y, w, h], ...], [{"x":..,"y":..,"width":..,"height":..}],
// or either under a "rects" key. InvalidArgument / NotFound naming the file.
std::vector<vision::PixelRect> readRectsFile(const std::string& path);

}  // namespace vlm
