#pragma once
// Token-level explanations end to end (what the CLI, the GUI and the benchmark call): a loaded
// Captioner / QuestionAnswerer / SimilarityModel, an image, what to explain and how; the maps
// come back as plain float vectors. No LibTorch types in this header.
//
// Positions: ids[0] is [DEC]; token K (1 <= K < ids.size()) is the K-th generated token,
// explained by its teacher-forced log-probability log p(ids[K] | image, ids[<K]).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/job.h"
#include "io/image.h"
#include "pipeline/options.h"
#include "vision/geometry.h"

namespace vlm {

class Captioner;
class QuestionAnswerer;
class SimilarityModel;

enum class ExplainMethod { GradCam, HiResCam, GradTimesActivation, CrossAttention, IntegratedGradients };
const char* toString(ExplainMethod m);
// "gradcam", "hirescam", "gradxact", "xattn", "ig"
std::optional<ExplainMethod> parseExplainMethod(std::string_view name);

enum class TokenScope { One, All, Whole };  // one token, every token (one forward pass), the whole text

struct ExplainOptions {
  ExplainMethod method = ExplainMethod::GradCam;
  TokenScope scope = TokenScope::One;
  int token = 1;
  // Vision layer 0..L-1 for the Grad-CAM family (default: post_layernorm for BLIP, layer L-2 for
  // CLIP, whose last layer's patch tokens never reach the pooled CLS); text layer 0..L-1 for
  // cross-attention (default: the last; VQA: the question encoder's layers, the map averaged
  // over the question tokens).
  std::optional<int> layer;
  bool postLayernorm = false;  // explicitly the post_layernorm output (BLIP)
  // Integrated gradients
  int steps = 32;
  bool trapezoid = false;          // Riemann trapezoid instead of Gauss-Legendre
  int internalBatch = 4;
  std::string baseline = "black";  // black | blur | mean
  double blurSigma = 0;            // 0: input side / 16
  bool onQuestion = false;         // VQA: attribute to the question's tokens instead of the pixels
  // The text explained: these ids ([DEC] first) instead of the model's own greedy output.
  std::vector<int64_t> ids;
  DecodingOptions decoding;  // how the explained caption / answer is generated
};

struct ExplainedMap {
  std::string label;       // "token 3", "caption", "answer", "cosine", "layer 4"
  std::string token;       // the explained token's text ("" for a whole text / cosine)
  int64_t position = -1;   // token position (-1 for a whole text / cosine)
  double y = 0;            // the explained scalar (log-probability or cosine)
  int side = 0;            // the map is side x side over the model input (g, or S for IG)
  std::vector<float> raw;         // side * side, row-major
  std::vector<float> normalized;  // in [0, 1] (IG: positive part / max)
  // Integrated gradients
  std::optional<double> fInput, fBaseline, delta;
  std::vector<float> questionScores;  // IG on the question: one value per question token
};

struct ExplainResult {
  std::string model;             // what the user gave
  std::string family;            // "blip-caption", "blip-vqa", "clip"
  std::string text;              // the caption / answer / the CLIP text
  std::string question;          // VQA
  std::vector<int64_t> ids;      // caption / answer ids ([DEC] first); CLIP: the text's ids
  std::vector<std::string> tokens;
  std::vector<std::string> questionTokens;  // VQA
  std::string method;            // toString(method) (+ rule for IG)
  std::string layer;             // "post_layernorm", "vision layer 3", "text layer 1", "pixels", "question"
  std::vector<ExplainedMap> maps;
  std::optional<vision::InputGeometry> geometry;  // original image <-> model input (always set)
  double generateSeconds = 0, explainSeconds = 0;
  std::vector<std::string> notes;  // e.g. why a map is all zero

  // A map drawn over the original image (W x H, values of `normalized`).
  std::vector<float> onImage(const ExplainedMap& map) const;
};

// What every explanation of an image starts from, without a map: model, family, geometry, the
// explained ids (given, or generated with `decoding`), their tokens and text.
ExplainResult captionHeader(const Captioner& captioner, const io::ImageU8& image, const std::vector<int64_t>& ids,
                            const DecodingOptions& decoding, const JobContext& job = {});
ExplainResult answerHeader(const QuestionAnswerer& vqa, const io::ImageU8& image, const std::string& question,
                           const std::vector<int64_t>& ids, const DecodingOptions& decoding, const JobContext& job = {});
ExplainResult similarityHeader(const SimilarityModel& clip, const io::ImageU8& image, const std::string& text);

// vlm::Error InvalidArgument for an out-of-range token / layer, a method that does not apply to
// the model (cross-attention for VQA or CLIP, IG on the question for captioning); Cancelled.
ExplainResult explainCaption(const Captioner& captioner, const io::ImageU8& image, const ExplainOptions& options,
                             const JobContext& job = {});
ExplainResult explainAnswer(const QuestionAnswerer& vqa, const io::ImageU8& image, const std::string& question,
                            const ExplainOptions& options, const JobContext& job = {});
ExplainResult explainSimilarity(const SimilarityModel& clip, const io::ImageU8& image, const std::string& text,
                                const ExplainOptions& options, const JobContext& job = {});

// The layer evolution: Grad-CAM (options.method of the Grad-CAM family) of one token (or the
// whole text) on every vision layer 0..L-1, then post_layernorm where the model has it, from one
// forward pass; maps[i] is labelled "layer i" / "post_layernorm".
ExplainResult explainCaptionLayers(const Captioner& captioner, const io::ImageU8& image, const ExplainOptions& options,
                                   const JobContext& job = {});

}  // namespace vlm
