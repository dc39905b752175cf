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

// The selected tokens' log-probabilities from teacher-forced logits [B, T, V] -> [B, K].
at::Tensor tokenScalars(const at::Tensor& logits, const std::vector<int64_t>& ids, const TokenSelection& sel) {
  const at::Tensor logp = at::log_softmax(logits, -1);  // [B, T, V]
  const int64_t n = int64_t(ids.size());
  const auto lopts = at::TensorOptions().dtype(at::kLong).device(logits.device());
  const at::Tensor rows = at::arange(0, n - 1, lopts);                                  // t-1
  const at::Tensor next = idsTensor(ids, logits.device())[0].slice(0, 1);               // ids[t]
  const at::Tensor all = logp.index({at::indexing::Slice(), rows, next});               // [B, T-1]
  switch (sel.kind) {
    case TokenSelection::Kind::One: return all.slice(1, sel.token - 1, sel.token);
    case TokenSelection::Kind::Each: return all;
    case TokenSelection::Kind::Whole: return all.sum(1, /*keepdim=*/true);
  }
  return all;
}

std::vector<std::string> tokenLabels(size_t n, const TokenSelection& sel, const std::string& wholeLabel) {
  switch (sel.kind) {
    case TokenSelection::Kind::One: return {"token " + std::to_string(sel.token)};
    case TokenSelection::Kind::Each: {
      std::vector<std::string> out;
      for (size_t t = 1; t < n; ++t) out.push_back("token " + std::to_string(t));
      return out;
    }
    case TokenSelection::Kind::Whole: return {wholeLabel};
  }
  return {};
}

std::vector<int64_t> tokenQueries(size_t n, const TokenSelection& sel) {
  switch (sel.kind) {
    case TokenSelection::Kind::One: return {sel.token - 1};
    case TokenSelection::Kind::Each: {
      std::vector<int64_t> out;
      for (size_t t = 1; t < n; ++t) out.push_back(int64_t(t) - 1);
      return out;
    }
    case TokenSelection::Kind::Whole: return {-1};
  }
  return {};
}

at::Tensor preparePixels(const at::Tensor& pixelValues, const at::Tensor& like) {
  if (pixelValues.dim() != 4 || pixelValues.size(0) != 1 || pixelValues.size(1) != 3)
    throw Error(ErrorCode::InvalidArgument, "explain: pixel values must be [1, 3, S, S]");
  return pixelValues.detach().to(like.device(), like.scalar_type());
}

void checkBatch(const at::Tensor& pixels, const at::Tensor& reference) {
  if (pixels.dim() != 4 || pixels.sizes().slice(1) != reference.sizes().slice(1))
    throw Error(ErrorCode::InvalidArgument, "explain: a pixel batch must be [B, 3, S, S] like the explained image");
}

}  // namespace

TargetPass Target::run(models::ActivationRecorder& rec) const {
  torch::AutoGradMode grad(true);
  const at::Tensor y = forward(pixels_.clone().requires_grad_(true), &rec)[0];  // [K]
  const auto labels = outputLabels();
  const auto queries = queryPositions();
  TargetPass pass;
  for (size_t k = 0; k < labels.size(); ++k) pass.outputs.push_back({y[int64_t(k)], queries[k], labels[k]});
  return pass;
}

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

at::Tensor CaptionTarget::forward(const at::Tensor& pixels, models::ActivationRecorder* rec, const at::Tensor& keepTokens) const {
  checkBatch(pixels, pixels_);
  const at::Tensor embeds = model_->encodeImage(pixels, rec, keepTokens);
  const at::Tensor ids = idsTensor(ids_, pixels.device()).expand({pixels.size(0), int64_t(ids_.size())});
  return tokenScalars(model_->decode(embeds, ids, rec), ids_, sel_);
}

std::vector<std::string> CaptionTarget::outputLabels() const { return tokenLabels(ids_.size(), sel_, "caption"); }
std::vector<int64_t> CaptionTarget::queryPositions() const { return tokenQueries(ids_.size(), sel_); }

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

at::Tensor VqaAnswerTarget::forward(const at::Tensor& pixels, models::ActivationRecorder* rec, const at::Tensor& keepTokens) const {
  checkBatch(pixels, pixels_);
  const int64_t b = pixels.size(0);
  const at::Tensor embeds = model_->encodeImage(pixels, rec, keepTokens);
  const at::Tensor q = idsTensor(questionIds_, pixels.device()).expand({b, int64_t(questionIds_.size())});
  const at::Tensor qEmbeds = model_->encodeQuestion(embeds, q, {}, rec);
  const at::Tensor a = idsTensor(answerIds_, pixels.device()).expand({b, int64_t(answerIds_.size())});
  return tokenScalars(model_->answerLogits(qEmbeds, {}, a, rec), answerIds_, sel_);
}

std::vector<std::string> VqaAnswerTarget::outputLabels() const { return tokenLabels(answerIds_.size(), sel_, "answer"); }
std::vector<int64_t> VqaAnswerTarget::queryPositions() const { return tokenQueries(answerIds_.size(), sel_); }

at::Tensor VqaAnswerTarget::questionWordEmbeddings() const {
  torch::NoGradGuard ng;
  return model_->text_encoder->embeddings->word_embeddings->forward(idsTensor(questionIds_, pixels_.device())).detach();
}

at::Tensor VqaAnswerTarget::questionBaselineEmbeddings() const {
  std::vector<int64_t> ids = questionIds_;
  const int64_t pad = model_->config.text.padTokenId;
  for (size_t i = 1; i + 1 < ids.size(); ++i) ids[i] = pad;
  torch::NoGradGuard ng;
  return model_->text_encoder->embeddings->word_embeddings->forward(idsTensor(ids, pixels_.device())).detach();
}

at::Tensor VqaAnswerTarget::forwardQuestionEmbeddings(const at::Tensor& wordEmbeddings) const {
  const int64_t tq = int64_t(questionIds_.size());
  if (wordEmbeddings.dim() != 3 || wordEmbeddings.size(1) != tq)
    throw Error(ErrorCode::InvalidArgument, "VQA explanation: question embeddings must be [B, " + std::to_string(tq) + ", C]");
  if (!imageEmbeds_.defined()) {
    torch::NoGradGuard ng;
    imageEmbeds_ = model_->encodeImage(pixels_).detach();
  }
  torch::AutoGradMode grad(true);
  const int64_t b = wordEmbeddings.size(0);
  const at::Tensor q = idsTensor(questionIds_, pixels_.device()).expand({b, tq});
  const at::Tensor qEmbeds = model_->encodeQuestion(imageEmbeds_, q, {}, nullptr, wordEmbeddings);
  const at::Tensor a = idsTensor(answerIds_, pixels_.device()).expand({b, int64_t(answerIds_.size())});
  return tokenScalars(model_->answerLogits(qEmbeds, {}, a), answerIds_, sel_);
}

int64_t VqaAnswerTarget::numVisionLayers() const { return model_->config.vision.numHiddenLayers; }
int64_t VqaAnswerTarget::numCrossAttentionLayers() const { return model_->config.text.numHiddenLayers; }
std::string VqaAnswerTarget::crossAttentionName(int64_t layer) const {
  Target::crossAttentionName(layer);  // validates
  return "question.layers." + std::to_string(layer) + ".crossattn.probs";
}

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

at::Tensor ClipSimilarityTarget::forward(const at::Tensor& pixels, models::ActivationRecorder* rec, const at::Tensor& keepTokens) const {
  checkBatch(pixels, pixels_);
  const at::Tensor img = models::l2Normalize(model_->imageFeatures(pixels, rec, keepTokens));  // [B, P]
  return (img * textEmbeds_.unsqueeze(0)).sum(1, /*keepdim=*/true);
}

int64_t ClipSimilarityTarget::numVisionLayers() const { return model_->config.vision.numHiddenLayers; }

}  // namespace vlm::explain
