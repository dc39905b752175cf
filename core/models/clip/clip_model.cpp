#include "models/clip/clip_model.h"

#include <ATen/ATen.h>

#include <cmath>
#include <limits>

#include "common/error.h"
#include "models/model_kind.h"

namespace vlm::models {

ClipAttentionImpl::ClipAttentionImpl(const ClipEncoderConfig& c)
    : heads(c.numAttentionHeads), headDim(c.headDim()), scale(std::pow(double(c.headDim()), -0.5)) {
  k_proj = register_module("k_proj", Linear(c.hiddenSize, c.hiddenSize));
  v_proj = register_module("v_proj", Linear(c.hiddenSize, c.hiddenSize));
  q_proj = register_module("q_proj", Linear(c.hiddenSize, c.hiddenSize));
  out_proj = register_module("out_proj", Linear(c.hiddenSize, c.hiddenSize));
}

at::Tensor ClipAttentionImpl::forward(const at::Tensor& x, const at::Tensor& mask, at::Tensor* probs) {
  const int64_t b = x.size(0), t = x.size(1), c = x.size(2);
  auto split = [&](const at::Tensor& y) { return y.view({b, t, heads, headDim}).transpose(1, 2); };  // [B, H, T, D]
  // transformers scales q before q.k
  const at::Tensor q = split(q_proj->forward(x) * scale);
  const at::Tensor k = split(k_proj->forward(x));
  const at::Tensor v = split(v_proj->forward(x));
  at::Tensor scores = at::matmul(q, k.transpose(-1, -2));  // [B, H, T, T]
  if (mask.defined()) scores = scores + mask;
  const at::Tensor p = at::softmax(scores, -1);
  if (probs) *probs = p;
  return out_proj->forward(at::matmul(p, v).transpose(1, 2).reshape({b, t, c}));
}

ClipMlpImpl::ClipMlpImpl(const ClipEncoderConfig& c) : act(c.hiddenAct) {
  fc1 = register_module("fc1", Linear(c.hiddenSize, c.intermediateSize));
  fc2 = register_module("fc2", Linear(c.intermediateSize, c.hiddenSize));
}

at::Tensor ClipMlpImpl::forward(const at::Tensor& x) { return fc2->forward(activation(act, fc1->forward(x))); }

ClipEncoderLayerImpl::ClipEncoderLayerImpl(const ClipEncoderConfig& c) {
  self_attn = register_module("self_attn", ClipAttention(c));
  layer_norm1 = register_module("layer_norm1", LayerNorm(c.hiddenSize, c.layerNormEps));
  mlp = register_module("mlp", ClipMlp(c));
  layer_norm2 = register_module("layer_norm2", LayerNorm(c.hiddenSize, c.layerNormEps));
}

at::Tensor ClipEncoderLayerImpl::forward(const at::Tensor& x, const at::Tensor& mask, at::Tensor* probs) {
  const at::Tensor h = x + self_attn->forward(layer_norm1->forward(x), mask, probs);
  return h + mlp->forward(layer_norm2->forward(h));
}

ClipEncoderImpl::ClipEncoderImpl(const ClipEncoderConfig& c) {
  layers = register_module("layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < c.numHiddenLayers; ++i) layers->push_back(ClipEncoderLayer(c));
}

at::Tensor ClipEncoderImpl::forward(at::Tensor x, const at::Tensor& mask, ActivationRecorder* rec, const std::string& prefix) {
  for (size_t i = 0; i < layers->size(); ++i) {
    const std::string name = prefix + ".layers." + std::to_string(i);
    at::Tensor probs;
    const bool wantProbs = rec && rec->wants(name + ".attn.probs");
    x = layers->at<ClipEncoderLayerImpl>(i).forward(x, mask, wantProbs ? &probs : nullptr);
    if (wantProbs) rec->record(name + ".attn.probs", probs);
    if (rec) rec->record(name + ".out", x);
  }
  return x;
}

ClipVisionEmbeddingsImpl::ClipVisionEmbeddingsImpl(const ClipVisionConfig& c) {
  class_embedding = register_parameter("class_embedding", at::empty({c.hiddenSize}));
  patch_embedding = register_module("patch_embedding", PatchConv(c.numChannels, c.hiddenSize, c.patchSize, false));
  position_embedding = register_module("position_embedding", Embedding(c.numPatches() + 1, c.hiddenSize));
}

at::Tensor ClipVisionEmbeddingsImpl::forward(const at::Tensor& pixelValues) {
  const int64_t batch = pixelValues.size(0);
  at::Tensor patches = patch_embedding->forward(pixelValues.to(patch_embedding->weight.dtype()));  // [B, C, g, g]
  patches = patches.flatten(2).transpose(1, 2);                                                   // [B, N, C]
  const at::Tensor cls = class_embedding.expand({batch, 1, -1}).to(patches.dtype());
  const at::Tensor x = at::cat({cls, patches}, 1);  // [B, 1+N, C]
  return x + position_embedding->weight.slice(0, 0, x.size(1)).unsqueeze(0).to(x.dtype());
}

ClipVisionTransformerImpl::ClipVisionTransformerImpl(const ClipVisionConfig& c) : config(c) {
  embeddings = register_module("embeddings", ClipVisionEmbeddings(c));
  pre_layrnorm = register_module("pre_layrnorm", LayerNorm(c.hiddenSize, c.layerNormEps));
  encoder = register_module("encoder", ClipEncoder(c));
  post_layernorm = register_module("post_layernorm", LayerNorm(c.hiddenSize, c.layerNormEps));
}

at::Tensor ClipVisionTransformerImpl::forward(const at::Tensor& pixelValues, ActivationRecorder* rec, const std::string& prefix,
                                              const at::Tensor& keepTokens) {
  if (pixelValues.dim() != 4 || pixelValues.size(1) != config.numChannels || pixelValues.size(2) != config.imageSize ||
      pixelValues.size(3) != config.imageSize)
    throw Error(ErrorCode::InvalidArgument, "CLIP vision model expects pixel values [B, " + std::to_string(config.numChannels) + ", " +
                                                std::to_string(config.imageSize) + ", " + std::to_string(config.imageSize) + "]");
  at::Tensor x = pre_layrnorm->forward(keepSequenceTokens(embeddings->forward(pixelValues), keepTokens));
  if (rec) rec->record(prefix + ".embeddings", x);
  x = encoder->forward(x, at::Tensor(), rec, prefix);
  if (rec) rec->record(prefix + ".last_hidden_state", x);
  at::Tensor pooled = post_layernorm->forward(x.select(1, 0));
  if (rec) rec->record(prefix + ".pooler_output", pooled);
  return pooled;
}

ClipTextEmbeddingsImpl::ClipTextEmbeddingsImpl(const ClipTextConfig& c) {
  token_embedding = register_module("token_embedding", Embedding(c.vocabSize, c.hiddenSize));
  position_embedding = register_module("position_embedding", Embedding(c.maxPositionEmbeddings, c.hiddenSize));
}

at::Tensor ClipTextEmbeddingsImpl::forward(const at::Tensor& ids) {
  const int64_t t = ids.size(1);
  return token_embedding->forward(ids) + position_embedding->weight.slice(0, 0, t).unsqueeze(0);
}

ClipTextTransformerImpl::ClipTextTransformerImpl(const ClipTextConfig& c) : config(c) {
  embeddings = register_module("embeddings", ClipTextEmbeddings(c));
  encoder = register_module("encoder", ClipEncoder(c));
  final_layer_norm = register_module("final_layer_norm", LayerNorm(c.hiddenSize, c.layerNormEps));
}

at::Tensor ClipTextTransformerImpl::pooledPositions(const at::Tensor& ids) const {
  if (config.eosTokenId == 2) return ids.to(at::kInt).argmax(-1);  // legacy: the highest id (<|endoftext|>)
  return ids.eq(config.eosTokenId).to(at::kInt).argmax(-1);
}

at::Tensor ClipTextTransformerImpl::forward(const at::Tensor& ids, const at::Tensor& attentionMask, ActivationRecorder* rec,
                                            const std::string& prefix) {
  if (ids.dim() != 2 || ids.size(1) < 1)
    throw Error(ErrorCode::InvalidArgument, "CLIP text model expects input ids [B, T]");
  const int64_t b = ids.size(0), t = ids.size(1);
  if (t > config.maxPositionEmbeddings)
    throw Error(ErrorCode::InvalidArgument, "CLIP text of " + std::to_string(t) + " tokens is longer than max_position_embeddings " +
                                                std::to_string(config.maxPositionEmbeddings));
  if (attentionMask.defined() && (attentionMask.dim() != 2 || attentionMask.size(0) != b || attentionMask.size(1) != t))
    throw Error(ErrorCode::InvalidArgument, "CLIP attention mask must be [B, T] like the ids");
  if (ids.numel() > 0 && (ids.min().item<int64_t>() < 0 || ids.max().item<int64_t>() >= config.vocabSize))
    throw Error(ErrorCode::InvalidArgument, "CLIP token id out of range [0, " + std::to_string(config.vocabSize) + ")");
  at::Tensor x = embeddings->forward(ids);
  if (rec) rec->record(prefix + ".embeddings", x);
  // transformers: causal mask (finfo.min above the diagonal) plus the expanded padding mask
  // ((1 - mask) * finfo.min), both added to the scores.
  const auto opts = x.options().requires_grad(false);
  const double lowest = x.scalar_type() == at::kBFloat16 ? -3.3895313892515355e38 : double(std::numeric_limits<float>::lowest());
  at::Tensor mask = at::full({t, t}, lowest, opts).triu(1).view({1, 1, t, t});
  if (attentionMask.defined()) {
    const at::Tensor pad = (1.0 - attentionMask.to(opts.dtype()).view({b, 1, 1, t})) * lowest;
    mask = mask + pad.expand({b, 1, t, t});
  }
  x = encoder->forward(x, mask, rec, prefix);
  x = final_layer_norm->forward(x);
  if (rec) rec->record(prefix + ".last_hidden_state", x);
  const at::Tensor pos = pooledPositions(ids).to(at::kLong);
  at::Tensor pooled = x.index({at::arange(b, pos.options()), pos});
  if (rec) rec->record(prefix + ".pooler_output", pooled);
  return pooled;
}

ClipModelImpl::ClipModelImpl(const ClipConfig& c) : config(c) {
  text_model = register_module("text_model", ClipTextTransformer(c.text));
  vision_model = register_module("vision_model", ClipVisionTransformer(c.vision));
  visual_projection = register_module("visual_projection", Linear(c.vision.hiddenSize, c.projectionDim, false));
  text_projection = register_module("text_projection", Linear(c.text.hiddenSize, c.projectionDim, false));
  logit_scale = register_parameter("logit_scale", at::full({}, c.logitScaleInitValue));
}

at::Tensor ClipModelImpl::imageFeatures(const at::Tensor& pixelValues, ActivationRecorder* rec, const at::Tensor& keepTokens) {
  at::Tensor f = visual_projection->forward(vision_model->forward(pixelValues, rec, "vision", keepTokens));
  if (rec) rec->record("image_features", f);
  return f;
}

at::Tensor ClipModelImpl::textFeatures(const at::Tensor& ids, const at::Tensor& attentionMask, ActivationRecorder* rec) {
  at::Tensor f = text_projection->forward(text_model->forward(ids, attentionMask, rec, "text"));
  if (rec) rec->record("text_features", f);
  return f;
}

at::Tensor ClipModelImpl::logitScaleExp() const { return logit_scale.exp(); }

at::Tensor l2Normalize(const at::Tensor& x) { return x / x.norm(2, {-1}, true); }

ClipScores clipScores(const at::Tensor& imageEmbeds, const at::Tensor& textEmbeds, const at::Tensor& logitScaleExp) {
  ClipScores s;
  const at::Tensor perText = at::matmul(textEmbeds, imageEmbeds.t());  // [n_texts, n_images]
  s.cosine = perText.t();
  s.logitsPerImage = (perText * logitScaleExp).t();
  return s;
}

std::vector<TensorSpec> clipCheckpointTensors(const ClipConfig& c) {
  std::vector<TensorSpec> t;
  auto encoder = [&](const std::string& p, const ClipEncoderConfig& e) {
    const int64_t C = e.hiddenSize, I = e.intermediateSize;
    for (int64_t i = 0; i < e.numHiddenLayers; ++i) {
      const std::string l = p + "encoder.layers." + std::to_string(i) + ".";
      for (const char* proj : {"k_proj", "v_proj", "q_proj", "out_proj"}) {
        t.push_back({l + "self_attn." + proj + ".weight", {C, C}});
        t.push_back({l + "self_attn." + proj + ".bias", {C}});
      }
      appendVitLayerNormsAndMlp(t, l, C, I);
    }
  };
  const auto& x = c.text;
  t.push_back({"text_model.embeddings.token_embedding.weight", {x.vocabSize, x.hiddenSize}});
  t.push_back({"text_model.embeddings.position_embedding.weight", {x.maxPositionEmbeddings, x.hiddenSize}});
  encoder("text_model.", x);
  t.push_back({"text_model.final_layer_norm.weight", {x.hiddenSize}});
  t.push_back({"text_model.final_layer_norm.bias", {x.hiddenSize}});
  const auto& v = c.vision;
  t.push_back({"vision_model.embeddings.class_embedding", {v.hiddenSize}});
  t.push_back({"vision_model.embeddings.patch_embedding.weight", {v.hiddenSize, v.numChannels, v.patchSize, v.patchSize}});
  t.push_back({"vision_model.embeddings.position_embedding.weight", {v.numPatches() + 1, v.hiddenSize}});
  t.push_back({"vision_model.pre_layrnorm.weight", {v.hiddenSize}});
  t.push_back({"vision_model.pre_layrnorm.bias", {v.hiddenSize}});
  encoder("vision_model.", v);
  t.push_back({"vision_model.post_layernorm.weight", {v.hiddenSize}});
  t.push_back({"vision_model.post_layernorm.bias", {v.hiddenSize}});
  t.push_back({"visual_projection.weight", {c.projectionDim, v.hiddenSize}});
  t.push_back({"text_projection.weight", {c.projectionDim, x.hiddenSize}});
  t.push_back({"logit_scale", {}});
  return t;
}

const WeightTable& clipWeightTable() {
  // position_ids buffers are stored by older transformers versions; nothing is tied in CLIP.
  static const WeightTable table{{}, {"*.position_ids"}};
  return table;
}

LoadedClip loadClip(const std::filesystem::path& dir, at::ScalarType dtype, const at::Device& device) {
  requireModelFamily(dir, {ModelFamily::Clip}, "similarity");
  return loadModel<ClipModel>(dir, loadClipConfig(dir / "config.json"), clipWeightTable(), dtype, device);
}

}  // namespace vlm::models
