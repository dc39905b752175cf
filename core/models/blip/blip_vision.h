#pragma once
// BLIP's vision transformer (transformers BlipVisionModel). Module names are the checkpoint
// keys under "vision_model.": embeddings.{class_embedding, patch_embedding, position_embedding},
// encoder.layers.N.{layer_norm1, self_attn.{qkv, projection}, layer_norm2, mlp.{fc1, fc2}},
// post_layernorm.
//
// Named intermediates (ActivationRecorder), prefix given by the caller (normally "vision"):
//   PREFIX.embeddings            [B, 1+N, C]  = hidden_states[0]
//   PREFIX.layers.K.attn.probs   [B, H, 1+N, 1+N] softmax attention of layer K
//   PREFIX.layers.K.out          [B, 1+N, C]  output of layer K = hidden_states[K+1]
//   PREFIX.post_layernorm        [B, 1+N, C]  post_layernorm(last) = image_embeds
//   PREFIX.pooler                [B, C]       post_layernorm(image_embeds[:, 0]) (as BlipVisionModel)

#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>

#include "models/blip/blip_config.h"
#include "models/nn.h"

namespace vlm::models {

class ActivationRecorder;

struct BlipVisionEmbeddingsImpl : torch::nn::Module {
  explicit BlipVisionEmbeddingsImpl(const BlipVisionConfig& c);
  at::Tensor forward(const at::Tensor& pixelValues);  // [B, 3, S, S] -> [B, 1+N, C]
  at::Tensor class_embedding;     // [1, 1, C]
  PatchConv patch_embedding{nullptr};  // weight [C, 3, P, P], bias [C]
  at::Tensor position_embedding;  // [1, 1+N, C]
};
TORCH_MODULE(BlipVisionEmbeddings);

struct BlipAttentionImpl : torch::nn::Module {
  explicit BlipAttentionImpl(const BlipVisionConfig& c);
  // x [B, T, C] -> [B, T, C]; `probs` receives the softmax [B, H, T, T] when non-null.
  at::Tensor forward(const at::Tensor& x, at::Tensor* probs = nullptr);
  int64_t heads, headDim;
  double scale;
  Linear qkv{nullptr};         // [3C, C] + [3C]
  Linear projection{nullptr};  // [C, C] + [C]
};
TORCH_MODULE(BlipAttention);

struct BlipMlpImpl : torch::nn::Module {
  explicit BlipMlpImpl(const BlipVisionConfig& c);
  at::Tensor forward(const at::Tensor& x);
  std::string act;
  Linear fc1{nullptr};  // [I, C]
  Linear fc2{nullptr};  // [C, I]
};
TORCH_MODULE(BlipMlp);

struct BlipEncoderLayerImpl : torch::nn::Module {
  explicit BlipEncoderLayerImpl(const BlipVisionConfig& c);
  // pre-LN: x + attn(ln1(x)), then + mlp(ln2(.))
  at::Tensor forward(const at::Tensor& x, at::Tensor* probs = nullptr);
  LayerNorm layer_norm1{nullptr};
  BlipAttention self_attn{nullptr};
  LayerNorm layer_norm2{nullptr};
  BlipMlp mlp{nullptr};
};
TORCH_MODULE(BlipEncoderLayer);

struct BlipEncoderImpl : torch::nn::Module {
  explicit BlipEncoderImpl(const BlipVisionConfig& c);
  torch::nn::ModuleList layers{nullptr};
};
TORCH_MODULE(BlipEncoder);

struct BlipVisionModelImpl : torch::nn::Module {
  explicit BlipVisionModelImpl(const BlipVisionConfig& c);
  // pixel values [B, 3, S, S] -> image_embeds [B, 1+N, C] (post_layernorm applied); with
  // keepTokens (see keepSequenceTokens in nn.h) [B, K, C].
  at::Tensor forward(const at::Tensor& pixelValues, ActivationRecorder* rec = nullptr,
                     const std::string& prefix = "vision", const at::Tensor& keepTokens = {});
  BlipVisionConfig config;
  BlipVisionEmbeddings embeddings{nullptr};
  BlipEncoder encoder{nullptr};
  LayerNorm post_layernorm{nullptr};
};
TORCH_MODULE(BlipVisionModel);

}  // namespace vlm::models
