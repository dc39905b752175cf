#pragma once
// What an explanation explains: a *target* runs one differentiable forward pass of a model on
// an image and yields one scalar Y per explained unit (a caption token's log-probability, the
// whole caption's log-probability, a VQA answer token, a CLIP cosine), which gradient methods
// (gradcam.h) differentiate with respect to named intermediates.
//
// Core-only header (LibTorch types): the app and the UI do not include it.
//
// Teacher forcing: for decoder ids [DEC] w1 ... w(T-1), token position t (1 <= t < T) is
// explained by Y_t = log_softmax(logits[t-1])[ids[t]]; the whole sequence by sum_t Y_t.

#include <ATen/core/Tensor.h>

#include <string>
#include <vector>

#include "models/blip/blip_caption.h"
#include "models/blip/blip_vqa.h"
#include "models/clip/clip_model.h"
#include "models/nn.h"

namespace vlm::explain {

// The last vision layer index plus one: "post_layernorm" (BLIP's image_embeds).
inline constexpr int64_t kPostLayernorm = -1;

// One explained unit of a forward pass.
struct TargetOutput {
  at::Tensor y;              // scalar [] with a graph back to the recorded intermediates
  int64_t queryPosition;     // decoder query row that predicts the token (t-1), -1 when none
  std::string label;         // "token 3", "caption", "answer", "cosine"
};

// One forward pass: the scalars, and the recorder that holds the intermediates it asked for.
struct TargetPass {
  std::vector<TargetOutput> outputs;
};

class Target {
 public:
  virtual ~Target() = default;
  // The explained scalars for a batch of images: pixels [B, 3, S, S] (on the model's device,
  // the model's dtype) -> [B, K], one column per explained unit (outputLabels()). Autograd as
  // the caller set it (gradient methods turn it on, Shapley games off); rows are independent,
  // so d(sum of column k)/d(pixels[b]) is row b's gradient. keepTokens: patch removal
  // ([K] or [B, K], see models::keepSequenceTokens); undefined = every patch.
  virtual at::Tensor forward(const at::Tensor& pixels, models::ActivationRecorder* rec,
                             const at::Tensor& keepTokens = {}) const = 0;
  // K labels ("token 3", "caption", "answer", "cosine") and, per output, the decoder query row
  // that predicts it (t-1; -1 for a whole sequence or a cosine).
  virtual std::vector<std::string> outputLabels() const = 0;
  virtual std::vector<int64_t> queryPositions() const = 0;
  // The explained image's pixel values [1, 3, S, S] (model device and dtype).
  const at::Tensor& pixels() const { return pixels_; }
  // One forward pass of pixels() with autograd, recording into `rec` (gradcam.h differentiates
  // the outputs with respect to the recorded intermediates).
  TargetPass run(models::ActivationRecorder& rec) const;
  // Number of vision encoder layers L (layers 0..L-1 can be explained).
  virtual int64_t numVisionLayers() const = 0;
  // Recorder name of vision layer `layer` (0..L-1 or kPostLayernorm), output [1, 1+N, C].
  // InvalidArgument when out of range or not available for this model.
  virtual std::string visionLayerName(int64_t layer) const;
  // Number of text layers whose cross-attention goes to the image tokens (0: none).
  virtual int64_t numCrossAttentionLayers() const { return 0; }
  // Recorder name of that cross-attention's probabilities [1, H, T, 1+N].
  virtual std::string crossAttentionName(int64_t layer) const;
  // Whether row t-1 of that attention predicts token t (captioning), or the rows are other
  // tokens (VQA: the question's) and a map averages them.
  virtual bool crossAttentionPerToken() const { return true; }
  virtual bool hasPostLayernorm() const { return true; }

 protected:
  at::Tensor pixels_;
};

// Which decoder positions a caption / answer target explains.
struct TokenSelection {
  enum class Kind { One, Each, Whole };
  Kind kind = Kind::One;
  int64_t token = 1;  // for Kind::One: 1 <= token < ids.size()
  static TokenSelection one(int64_t t) { return {Kind::One, t}; }
  static TokenSelection each() { return {Kind::Each, 0}; }    // every token 1..T-1, one output each
  static TokenSelection whole() { return {Kind::Whole, 0}; }  // one output: sum of the token log-probs
};

// BLIP captioning, teacher-forced on `ids` ([DEC] first). pixelValues [1, 3, S, S].
class CaptionTarget : public Target {
 public:
  CaptionTarget(models::BlipForConditionalGeneration model, at::Tensor pixelValues, std::vector<int64_t> ids,
                TokenSelection sel);
  at::Tensor forward(const at::Tensor& pixels, models::ActivationRecorder* rec, const at::Tensor& keepTokens = {}) const override;
  std::vector<std::string> outputLabels() const override;
  std::vector<int64_t> queryPositions() const override;
  int64_t numVisionLayers() const override;
  int64_t numCrossAttentionLayers() const override;
  std::string crossAttentionName(int64_t layer) const override;
  const std::vector<int64_t>& ids() const { return ids_; }

 private:
  mutable models::BlipForConditionalGeneration model_;  // forward() is not const
  std::vector<int64_t> ids_;
  TokenSelection sel_;
};

// BLIP VQA: answer ids ([DEC] first) teacher-forced after the question ids ([CLS] ... [SEP]).
// The answer decoder cross-attends to the question tokens; the image is seen through the
// question encoder's cross-attention, which is what cross-attention Grad-CAM uses here
// (averaged over the question tokens).
class VqaAnswerTarget : public Target {
 public:
  VqaAnswerTarget(models::BlipForQuestionAnswering model, at::Tensor pixelValues, std::vector<int64_t> questionIds,
                  std::vector<int64_t> answerIds, TokenSelection sel);
  at::Tensor forward(const at::Tensor& pixels, models::ActivationRecorder* rec, const at::Tensor& keepTokens = {}) const override;
  std::vector<std::string> outputLabels() const override;
  std::vector<int64_t> queryPositions() const override;
  int64_t numVisionLayers() const override;
  int64_t numCrossAttentionLayers() const override;
  std::string crossAttentionName(int64_t layer) const override;
  bool crossAttentionPerToken() const override { return false; }

  // Integrated gradients on the question: the question's word embeddings [1, Tq, C] (before
  // position embeddings and LayerNorm), the baseline that replaces every word between [CLS]
  // and [SEP] by [PAD]'s embedding, and the explained scalars [B, K] for a batch of word
  // embeddings [B, Tq, C] with the image fixed (its embeddings computed once, no gradient).
  at::Tensor questionWordEmbeddings() const;
  at::Tensor questionBaselineEmbeddings() const;
  at::Tensor forwardQuestionEmbeddings(const at::Tensor& wordEmbeddings) const;
  const std::vector<int64_t>& questionIds() const { return questionIds_; }

 private:
  mutable models::BlipForQuestionAnswering model_;
  std::vector<int64_t> questionIds_;
  std::vector<int64_t> answerIds_;
  TokenSelection sel_;
  mutable at::Tensor imageEmbeds_;  // for the question path, computed on first use
};

// CLIP: Y = cosine(normalised image features, normalised text features) for one text
// (ids [T] as the CLIP tokenizer gives them, unpadded). The text side has no gradient.
// CLIP's post_layernorm only sees the CLS token: not available as a Grad-CAM layer.
class ClipSimilarityTarget : public Target {
 public:
  ClipSimilarityTarget(models::ClipModel model, at::Tensor pixelValues, std::vector<int64_t> textIds);
  at::Tensor forward(const at::Tensor& pixels, models::ActivationRecorder* rec, const at::Tensor& keepTokens = {}) const override;
  std::vector<std::string> outputLabels() const override { return {"cosine"}; }
  std::vector<int64_t> queryPositions() const override { return {-1}; }
  int64_t numVisionLayers() const override;
  bool hasPostLayernorm() const override { return false; }

 private:
  mutable models::ClipModel model_;
  at::Tensor textEmbeds_;  // [P], computed once without gradient
};

}  // namespace vlm::explain
