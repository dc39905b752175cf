#include "explain/target.h"

#include <ATen/ATen.h>
#include <torch/autograd.h>

#include "common/error.h"

namespace vlm::explain {

namespace {

void checkIds(const std::vector<int64_t>& ids, int64_t vocab, const std::string& what) {
  if (ids.size() < 2)
    throw Error(ErrorCode::InvalidArgument, what + " needs at least two token ids ([DEC] and one more), got " + std::to_string(ids.size()));
  for (int64_t id : ids)
    if (id < 0 || id >= vocab)
      throw Error(ErrorCode::InvalidArgument, what + ": token id " + std::to_string(id) + " is outside the vocabulary (0.." + std::to_string(vocab - 1) + ")");
}

void checkSelection(const TokenSelection& sel, size_t n, const std::string& what) {
  if (sel.kind == TokenSelection::Kind::One && (sel.token < 1 || sel.token >= int64_t(n)))
    throw Error(ErrorCode::InvalidArgument, what + " token " + std::to_string(sel.token) + " is outside 1.." + std::to_string(n - 1) +
                                                " (position 0 is [DEC], which is not predicted)");
}

at::Tensor idsTensor(const std::vector<int64_t>& ids, const at::Device& device) {
  return at::tensor(ids, at::TensorOptions().dtype(at::kLong)).unsqueeze(0).to(device);
}

// Y per selected token from teacher-forced logits [T, V].
std::vector<TargetOutput> tokenOutputs(const at::Tensor& logits, const std::vector<int64_t>& ids, const TokenSelection& sel,
                                       const std::string& wholeLabel) {
  const at::Tensor logp = at::log_softmax(logits, -1);  // [T, V]
  auto y = [&](int64_t t) { return logp[t - 1][ids[t]]; };
  std::vector<TargetOutput> out;
  const int64_t n = int64_t(ids.size());
  switch (sel.kind) {
    case TokenSelection::Kind::One:
      out.push_back({y(sel.token), sel.token - 1, "token " + std::to_string(sel.token)});
      break;
    case TokenSelection::Kind::Each:
      for (int64_t t = 1; t < n; ++t) out.push_back({y(t), t - 1, "token " + std::to_string(t)});
      break;
    case TokenSelection::Kind::Whole: {
      const at::Tensor idx = at::arange(1, n, at::TensorOptions().dtype(at::kLong).device(logits.device()));
      const at::Tensor next = idsTensor(ids, logits.device())[0].index({idx});
      out.push_back({logp.index({idx - 1, next}).sum(), -1, wholeLabel});
      break;
    }
  }
  return out;
}

at::Tensor preparePixels(const at::Tensor& pixelValues, const at::Tensor& like) {
  if (pixelValues.dim() != 4 || pixelValues.size(0) != 1 || pixelValues.size(1) != 3)
    throw Error(ErrorCode::InvalidArgument, "explain: pixel values must be [1, 3, S, S]");
  return pixelValues.detach().to(like.device(), like.scalar_type());
}

}  // namespace

std::string Target::visionLayerName(int64_t layer) const {
  const int64_t n = numVisionLayers();
  if (layer == kPostLayernorm) {
    if (!hasPostLayernorm())
      throw Error(ErrorCode::InvalidArgument, "vision layer post_layernorm is not available for this model (use 0.." + std::to_string(n - 1) + ")");
    return "vision.post_layernorm";
  }
  if (layer < 0 || layer >= n)
    throw Error(ErrorCode::InvalidArgument, "vision layer " + std::to_string(layer) + " is outside 0.." + std::to_string(n - 1) +
                                                (hasPostLayernorm() ? " (or post_layernorm)" : ""));
  return "vision.layers." + std::to_string(layer) + ".out";
}

std::string Target::crossAttentionName(int64_t layer) const {
  const int64_t n = numCrossAttentionLayers();
  if (n == 0) throw Error(ErrorCode::InvalidArgument, "this target has no cross-attention to the image tokens");
  if (layer < 0 || layer >= n)
    throw Error(ErrorCode::InvalidArgument, "text layer " + std::to_string(layer) + " is outside 0.." + std::to_string(n - 1));
  return "text.layers." + std::to_string(layer) + ".crossattn.probs";
}

// ---------------------------------------------------------------- captioning

CaptionTarget::CaptionTarget(models::BlipForConditionalGeneration model, at::Tensor pixelValues, std::vector<int64_t> ids,
                             TokenSelection sel)
    : model_(std::move(model)), ids_(std::move(ids)), sel_(sel) {
  checkIds(ids_, model_->config.text.vocabSize, "caption");
  checkSelection(sel_, ids_.size(), "caption");
  pixels_ = preparePixels(pixelValues, model_->text_decoder->cls->predictions->bias);
}

TargetPass CaptionTarget::run(models::ActivationRecorder& rec) const {
  torch::AutoGradMode grad(true);
  const at::Tensor pixels = pixels_.clone().requires_grad_(true);
  const at::Tensor embeds = model_->encodeImage(pixels, &rec);
  const at::Tensor logits = model_->decode(embeds, idsTensor(ids_, pixels.device()), &rec)[0];  // [T, V]
  return {tokenOutputs(logits, ids_, sel_, "caption")};
}

int64_t CaptionTarget::numVisionLayers() const { return model_->config.vision.numHiddenLayers; }
int64_t CaptionTarget::numCrossAttentionLayers() const { return model_->config.text.numHiddenLayers; }
std::string CaptionTarget::crossAttentionName(int64_t layer) const { return Target::crossAttentionName(layer); }

// ---------------------------------------------------------------- VQA

VqaAnswerTarget::VqaAnswerTarget(models::BlipForQuestionAnswering model, at::Tensor pixelValues, std::vector<int64_t> questionIds,
                                 std::vector<int64_t> answerIds, TokenSelection sel)
    : model_(std::move(model)), questionIds_(std::move(questionIds)), answerIds_(std::move(answerIds)), sel_(sel) {
  const int64_t vocab = model_->config.text.vocabSize;
  if (questionIds_.empty()) throw Error(ErrorCode::InvalidArgument, "VQA explanation needs a question");
  for (int64_t id : questionIds_)
    if (id < 0 || id >= vocab)
      throw Error(ErrorCode::InvalidArgument, "question: token id " + std::to_string(id) + " is outside the vocabulary (0.." + std::to_string(vocab - 1) + ")");
  checkIds(answerIds_, vocab, "answer");
  checkSelection(sel_, answerIds_.size(), "answer");
  pixels_ = preparePixels(pixelValues, model_->text_decoder->cls->predictions->bias);
}

TargetPass VqaAnswerTarget::run(models::ActivationRecorder& rec) const {
  torch::AutoGradMode grad(true);
  const at::Tensor pixels = pixels_.clone().requires_grad_(true);
  const at::Tensor embeds = model_->encodeImage(pixels, &rec);
  const at::Tensor q = idsTensor(questionIds_, pixels.device());
  const at::Tensor qEmbeds = model_->encodeQuestion(embeds, q, {}, &rec);
  const at::Tensor logits = model_->answerLogits(qEmbeds, {}, idsTensor(answerIds_, pixels.device()), &rec)[0];
  return {tokenOutputs(logits, answerIds_, sel_, "answer")};
}

int64_t VqaAnswerTarget::numVisionLayers() const { return model_->config.vision.numHiddenLayers; }

// ---------------------------------------------------------------- CLIP

ClipSimilarityTarget::ClipSimilarityTarget(models::ClipModel model, at::Tensor pixelValues, std::vector<int64_t> textIds)
    : model_(std::move(model)) {
  if (textIds.empty()) throw Error(ErrorCode::InvalidArgument, "CLIP similarity explanation needs a non-empty text");
  const int64_t vocab = model_->config.text.vocabSize;
  for (int64_t id : textIds)
    if (id < 0 || id >= vocab)
      throw Error(ErrorCode::InvalidArgument, "text: token id " + std::to_string(id) + " is outside the vocabulary (0.." + std::to_string(vocab - 1) + ")");
  pixels_ = preparePixels(pixelValues, model_->logit_scale);
  torch::NoGradGuard ng;
  const at::Tensor ids = idsTensor(textIds, pixels_.device());
  textEmbeds_ = models::l2Normalize(model_->textFeatures(ids, at::ones_like(ids)))[0].detach();
}

TargetPass ClipSimilarityTarget::run(models::ActivationRecorder& rec) const {
  torch::AutoGradMode grad(true);
  const at::Tensor pixels = pixels_.clone().requires_grad_(true);
  const at::Tensor img = models::l2Normalize(model_->imageFeatures(pixels, &rec))[0];
  return {{{(img * textEmbeds_).sum(), -1, "cosine"}}};
}

int64_t ClipSimilarityTarget::numVisionLayers() const { return model_->config.vision.numHiddenLayers; }

}  // namespace vlm::explain
