#include "models/blip/blip_vision.h"

#include "common/error.h"
#include "models/nn.h"

namespace vlm::models {

BlipVisionEmbeddingsImpl::BlipVisionEmbeddingsImpl(const BlipVisionConfig& c) {
  class_embedding = register_parameter("class_embedding", at::empty({1, 1, c.hiddenSize}));
  patch_embedding = register_module(
      "patch_embedding", PatchConv(3, c.hiddenSize, c.patchSize));
  position_embedding = register_parameter("position_embedding", at::empty({1, c.numPatches() + 1, c.hiddenSize}));
}

at::Tensor BlipVisionEmbeddingsImpl::forward(const at::Tensor& pixelValues) {
  const int64_t batch = pixelValues.size(0);
  at::Tensor patches = patch_embedding->forward(pixelValues.to(patch_embedding->weight.dtype()));  // [B, C, g, g]
  patches = patches.flatten(2).transpose(1, 2);                                                   // [B, N, C]
  at::Tensor cls = class_embedding.expand({batch, 1, -1}).to(patches.dtype());
  at::Tensor x = at::cat({cls, patches}, 1);  // [B, 1+N, C]
  return x + position_embedding.slice(1, 0, x.size(1)).to(x.dtype());
}

BlipAttentionImpl::BlipAttentionImpl(const BlipVisionConfig& c)
    : heads(c.numAttentionHeads), headDim(c.headDim()), scale(std::pow(double(c.headDim()), -0.5)) {
  qkv = register_module("qkv", Linear(c.hiddenSize, 3 * c.hiddenSize));
  projection = register_module("projection", Linear(c.hiddenSize, c.hiddenSize));
}

at::Tensor BlipAttentionImpl::forward(const at::Tensor& x, at::Tensor* probs) {
  const int64_t b = x.size(0), t = x.size(1), c = x.size(2);
  // (tokens, 3, heads, head_dim): q, k, v are the 1st / 2nd / 3rd thirds of qkv's output
  at::Tensor mixed = qkv->forward(x).reshape({b, t, 3, heads, headDim}).permute({2, 0, 3, 1, 4});
  at::Tensor q = mixed[0], k = mixed[1], v = mixed[2];           // [B, H, T, D]
  at::Tensor scores = at::matmul(q, k.transpose(-1, -2)) * scale;  // [B, H, T, T]
  at::Tensor p = at::softmax(scores, -1);
  if (probs) *probs = p;
  at::Tensor ctx = at::matmul(p, v).permute({0, 2, 1, 3}).reshape({b, t, c});  // [B, T, C]
  return projection->forward(ctx);
}

BlipMlpImpl::BlipMlpImpl(const BlipVisionConfig& c) : act(c.hiddenAct) {
  fc1 = register_module("fc1", Linear(c.hiddenSize, c.intermediateSize));
  fc2 = register_module("fc2", Linear(c.intermediateSize, c.hiddenSize));
}

at::Tensor BlipMlpImpl::forward(const at::Tensor& x) { return fc2->forward(activation(act, fc1->forward(x))); }

BlipEncoderLayerImpl::BlipEncoderLayerImpl(const BlipVisionConfig& c) {
  layer_norm1 = register_module("layer_norm1", LayerNorm(c.hiddenSize, c.layerNormEps));
  self_attn = register_module("self_attn", BlipAttention(c));
  layer_norm2 = register_module("layer_norm2", LayerNorm(c.hiddenSize, c.layerNormEps));
  mlp = register_module("mlp", BlipMlp(c));
}

at::Tensor BlipEncoderLayerImpl::forward(const at::Tensor& x, at::Tensor* probs) {
  at::Tensor h = self_attn->forward(layer_norm1->forward(x), probs) + x;
  return mlp->forward(layer_norm2->forward(h)) + h;
}

BlipEncoderImpl::BlipEncoderImpl(const BlipVisionConfig& c) {
  layers = register_module("layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < c.numHiddenLayers; ++i) layers->push_back(BlipEncoderLayer(c));
}

BlipVisionModelImpl::BlipVisionModelImpl(const BlipVisionConfig& c) : config(c) {
  embeddings = register_module("embeddings", BlipVisionEmbeddings(c));
  encoder = register_module("encoder", BlipEncoder(c));
  post_layernorm = register_module("post_layernorm", LayerNorm(c.hiddenSize, c.layerNormEps));
}

at::Tensor BlipVisionModelImpl::forward(const at::Tensor& pixelValues, ActivationRecorder* rec, const std::string& prefix,
                                        const at::Tensor& keepTokens) {
  if (pixelValues.dim() != 4 || pixelValues.size(1) != 3 || pixelValues.size(2) != config.imageSize ||
      pixelValues.size(3) != config.imageSize)
    throw Error(ErrorCode::InvalidArgument, "vision model expects pixel values [B, 3, " + std::to_string(config.imageSize) + ", " +
                                                std::to_string(config.imageSize) + "]");
  at::Tensor x = keepSequenceTokens(embeddings->forward(pixelValues), keepTokens);
  if (rec) rec->record(prefix + ".embeddings", x);
  for (size_t i = 0; i < encoder->layers->size(); ++i) {
    const std::string name = prefix + ".layers." + std::to_string(i);
    at::Tensor probs;
    const bool wantProbs = rec && rec->wants(name + ".attn.probs");
    x = encoder->layers->at<BlipEncoderLayerImpl>(i).forward(x, wantProbs ? &probs : nullptr);
    if (wantProbs) rec->record(name + ".attn.probs", probs);
    if (rec) rec->record(name + ".out", x);
  }
  at::Tensor embeds = post_layernorm->forward(x);
  if (rec) {
    rec->record(prefix + ".post_layernorm", embeds);
    if (rec->wants(prefix + ".pooler")) rec->record(prefix + ".pooler", post_layernorm->forward(embeds.select(1, 0)));
  }
  return embeds;
}

}  // namespace vlm::models
