#pragma once
// Mask and regenerate: hide rectangles of the image (or the patches under them), caption it (or
// answer the question) again with the same decoding settings, and report what changed: a
// word-level diff, the change in the ORIGINAL text's log-probability, and optionally a CLIP
// similarity before and after. Auto-mask picks the rectangles from an explanation's top-k %.
// No LibTorch types in this header.

#include <optional>
#include <string>
#include <vector>

#include "common/job.h"
#include "explain/masking.h"
#include "io/image.h"
#include "pipeline/captioner.h"
#include "pipeline/explainer.h"
#include "pipeline/options.h"
#include "vision/geometry.h"

namespace vlm {

class Captioner;
class QuestionAnswerer;
class SimilarityModel;

struct WordChange {
  enum class Op { Kept, Removed, Inserted };
  Op op;
  std::string word;
};
const char* toString(WordChange::Op op);
// A shortest edit script between the words (split on whitespace) of `before` and `after`
// (longest common subsequence; removals before insertions at each change).
std::vector<WordChange> wordDiff(const std::string& before, const std::string& after);

struct MaskSpec {
  std::vector<vision::PixelRect> rects;  // original-image pixels
  explain::MaskerKind masker = explain::MaskerKind::Constant;
  explain::MaskerOptions options;
  // Patch removal only: drop exactly these patches of the BLIP model (auto-mask) instead of every
  // patch the rectangles influence.
  std::vector<int> exactPatches;
};

struct AutoMaskSpec {
  double percent = 10;     // the top `percent` % of the map's cells
  ExplainOptions explain;  // which map (method, token, layer); Grad-CAM family or IG
  explain::MaskerKind masker = explain::MaskerKind::Constant;
  explain::MaskerOptions options;
};

struct RegenerateResult {
  std::string original, masked;             // caption / answer before and after
  std::vector<int64_t> originalIds, maskedIds;
  std::vector<WordChange> diff;
  // log p(original ids | image) and | masked image), teacher-forced, per token and summed
  std::vector<double> tokenLogProbBefore, tokenLogProbAfter;
  double logProbBefore = 0, logProbAfter = 0;
  // CLIP cosine of the original text with the image before / after masking, and of the new text
  // with the masked image (when a CLIP model is given)
  std::optional<double> clipBefore, clipAfter, clipMaskedText;
  std::vector<vision::PixelRect> rects;  // as applied (clipped to the image)
  std::vector<int> removedPatches;       // patch removal: the BLIP model's dropped patches
  std::vector<int> clipRemovedPatches;   // ... and the CLIP model's
  io::ImageU8 maskedImage;               // what the model saw (patch removal: removed areas darkened)
  std::string masker;
  std::optional<ExplainResult> explanation;  // auto-mask: the map the rectangles came from
  double seconds = 0;
};

// Captioning (both captions continue `decoding.prompt` when one is given). `clip` may be null.
// vlm::Error InvalidArgument for bad rectangles (empty, outside the image), Cancelled.
RegenerateResult maskAndRegenerate(const Captioner& captioner, const io::ImageU8& image, const MaskSpec& mask,
                                   const CaptionOptions& decoding, const SimilarityModel* clip = nullptr, const JobContext& job = {});
// VQA: the answer to `question` before and after.
RegenerateResult maskAndRegenerate(const QuestionAnswerer& vqa, const io::ImageU8& image, const std::string& question,
                                   const MaskSpec& mask, const DecodingOptions& decoding, const SimilarityModel* clip = nullptr,
                                   const JobContext& job = {});
// Explain (spec.explain), mask the top spec.percent % of the map, regenerate.
RegenerateResult autoMaskAndRegenerate(const Captioner& captioner, const io::ImageU8& image, const AutoMaskSpec& spec,
                                       const DecodingOptions& decoding, const SimilarityModel* clip = nullptr,
                                       const JobContext& job = {});

}  // namespace vlm
