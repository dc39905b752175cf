#pragma once
// Faithfulness of any map (Grad-CAM, cross-attention, IG, Shapley) for the unit it explains:
// deletion / insertion curves over image features ranked by the map, pointing game and
// relevance mass / rank against a ground-truth mask; and the cascading model randomisation
// sanity check. No LibTorch types in this header.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/job.h"
#include "explain/masking.h"
#include "io/image.h"
#include "pipeline/explainer.h"

namespace vlm {

class Captioner;
class QuestionAnswerer;
class SimilarityModel;

struct FaithfulnessOptions {
  std::string features = "grid";  // the players the map ranks (explain/features.h); default the patch grid
  int steps = 0;                  // curve points (0 = one per feature)
  int batch = 16;
  explain::MaskerKind masker = explain::MaskerKind::Constant;
  explain::MaskerOptions maskerOptions;
  std::vector<uint8_t> groundTruth;  // W x H of the original image, nonzero = object; empty = none
  int pointingTolerance = 15;
};

struct MapFaithfulness {
  std::string label, token;
  int64_t position = -1;
  std::vector<double> deletionFraction, deletionValue, insertionFraction, insertionValue;
  double deletionAuc = 0, insertionAuc = 0;
  double fullValue = 0, emptyValue = 0;
  std::optional<bool> pointingHit;
  std::optional<double> relevanceMass, relevanceRank;
};

struct FaithfulnessResult {
  std::string features;
  std::vector<MapFaithfulness> maps;
  int64_t evaluations = 0, cacheHits = 0;
  double seconds = 0;
};

// `explained` is an explanation of this image by this model (its ids, question / text and
// maps; readExplanation() gives one back from disk, without geometry: then the model's own
// geometry for this image is used). Maps without an image map (IG on the question) are skipped.
FaithfulnessResult faithfulnessCaption(const Captioner& captioner, const io::ImageU8& image, const ExplainResult& explained,
                                       const FaithfulnessOptions& options, const JobContext& job = {});
FaithfulnessResult faithfulnessAnswer(const QuestionAnswerer& vqa, const io::ImageU8& image, const ExplainResult& explained,
                                      const FaithfulnessOptions& options, const JobContext& job = {});
FaithfulnessResult faithfulnessSimilarity(const SimilarityModel& clip, const io::ImageU8& image, const ExplainResult& explained,
                                          const FaithfulnessOptions& options, const JobContext& job = {});

nlohmann::ordered_json describeFaithfulness(const FaithfulnessResult& result);

// An explanation written by writeExplanation / writeShap (explanation.json and the maps'
// .npy files). NotFound / Corrupt naming the file.
ExplainResult readExplanation(const std::filesystem::path& dir);

// A mask image (ground truth, or a Shapley feature): any PNG/JPEG of width x height, nonzero in
// any channel = in the mask. InvalidArgument for another size.
std::vector<uint8_t> readMaskImage(const std::filesystem::path& path, int width, int height);

// Cascading randomisation (Adebayo et al. 2018): post_layernorm, then the vision layers from the
// last to the first, are re-initialised one more at each step (as a fresh ViT: weights normal
// with std 0.02, biases 0, LayerNorm weights 1; seeded), the
// explanation is recomputed and compared with the original by Spearman rank correlation (of
// the raw maps and of their absolute values). The model's weights are restored afterwards,
// also on error or cancel.
struct RandomizationStep {
  std::string randomized;  // "post_layernorm..layer 3": what is random at this step
  std::vector<double> spearman, spearmanAbs;  // per map
};
std::vector<RandomizationStep> cascadingRandomization(const Captioner& captioner, const io::ImageU8& image, const ExplainOptions& options,
                                                      uint64_t seed, const JobContext& job = {});

}  // namespace vlm
