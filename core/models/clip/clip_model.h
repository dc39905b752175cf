#pragma once
// CLIPModel (image-text alignment) as in transformers 4.43. Module names are the checkpoint keys:
//   vision_model.{embeddings.{class_embedding, patch_embedding, position_embedding}, pre_layrnorm,
//                 encoder.layers.N.{layer_norm1, self_attn.{q_proj,k_proj,v_proj,out_proj},
//                 layer_norm2, mlp.{fc1,fc2}}, post_layernorm}
//   text_model.{embeddings.{token_embedding, position_embedding}, encoder.layers.N.{...}, final_layer_norm}
//   visual_projection, text_projection (no bias), logit_scale
//
// Named intermediates (ActivationRecorder), all differentiable:
//   vision.embeddings           [B, 1+N, C]  pre_layrnorm(patch + class + position) = hidden_states[0]
//   vision.layers.K.attn.probs  [B, H, 1+N, 1+N]
//   vision.layers.K.out         [B, 1+N, C]  = hidden_states[K+1]
//   vision.pooler_output        [B, C]       post_layernorm(last_hidden_state[:, 0])
//   image_features              [B, P]       visual_projection(pooler_output)
//   text.embeddings             [B, T, C]    token + position embeddings = hidden_states[0]
//   text.layers.K.attn.probs    [B, H, T, T]
//   text.layers.K.out           [B, T, C]
//   text.last_hidden_state      [B, T, C]    final_layer_norm(last layer)
//   text.pooler_output          [B, C]       last_hidden_state at the pooled (end-of-text) token
//   text_features               [B, P]       text_projection(pooler_output)

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>

#include <filesystem>
#include <string>
#include <vector>

#include "models/clip/clip_config.h"
#include "models/nn.h"
#include "models/weights.h"

namespace vlm::models {

struct ClipAttentionImpl : torch::nn::Module {
  explicit ClipAttentionImpl(const ClipEncoderConfig& c);
  // x [B, T, C]; `mask` additive [B or 1, 1, T, T] or undefined; `probs` receives the softmax.
  at::Tensor forward(const at::Tensor& x, const at::Tensor& mask, at::Tensor* probs = nullptr);
  int64_t heads, headDim;
  double scale;
  Linear k_proj{nullptr}, v_proj{nullptr}, q_proj{nullptr}, out_proj{nullptr};
};
TORCH_MODULE(ClipAttention);

struct ClipMlpImpl : torch::nn::Module {
  explicit ClipMlpImpl(const ClipEncoderConfig& c);
  at::Tensor forward(const at::Tensor& x);
  std::string act;
  Linear fc1{nullptr}, fc2{nullptr};
};
TORCH_MODULE(ClipMlp);

struct ClipEncoderLayerImpl : torch::nn::Module {
  explicit ClipEncoderLayerImpl(const ClipEncoderConfig& c);
  at::Tensor forward(const at::Tensor& x, const at::Tensor& mask, at::Tensor* probs = nullptr);
  ClipAttention self_attn{nullptr};
  LayerNorm layer_norm1{nullptr};
  ClipMlp mlp{nullptr};
  LayerNorm layer_norm2{nullptr};
};
TORCH_MODULE(ClipEncoderLayer);

struct ClipEncoderImpl : torch::nn::Module {
  explicit ClipEncoderImpl(const ClipEncoderConfig& c);
  // Runs every layer, recording PREFIX.layers.K.{out, attn.probs}.
  at::Tensor forward(at::Tensor x, const at::Tensor& mask, ActivationRecorder* rec, const std::string& prefix);
  torch::nn::ModuleList layers{nullptr};
};
TORCH_MODULE(ClipEncoder);

struct ClipVisionEmbeddingsImpl : torch::nn::Module {
  explicit ClipVisionEmbeddingsImpl(const ClipVisionConfig& c);
  at::Tensor forward(const at::Tensor& pixelValues);  // [B, 3, S, S] -> [B, 1+N, C]
  at::Tensor class_embedding;             // [C]
  PatchConv patch_embedding{nullptr};     // [C, 3, P, P], no bias
  Embedding position_embedding{nullptr};  // [1+N, C]
};
TORCH_MODULE(ClipVisionEmbeddings);

struct ClipVisionTransformerImpl : torch::nn::Module {
  explicit ClipVisionTransformerImpl(const ClipVisionConfig& c);
  // pixel values [B, 3, S, S] -> pooler_output [B, C]; keepTokens: patch removal (nn.h)
  at::Tensor forward(const at::Tensor& pixelValues, ActivationRecorder* rec = nullptr, const std::string& prefix = "vision",
                     const at::Tensor& keepTokens = {});
  ClipVisionConfig config;
  ClipVisionEmbeddings embeddings{nullptr};
  LayerNorm pre_layrnorm{nullptr};  // (sic: the checkpoint's name)
  ClipEncoder encoder{nullptr};
  LayerNorm post_layernorm{nullptr};
};
TORCH_MODULE(ClipVisionTransformer);

struct ClipTextEmbeddingsImpl : torch::nn::Module {
  explicit ClipTextEmbeddingsImpl(const ClipTextConfig& c);
  at::Tensor forward(const at::Tensor& ids);  // [B, T] -> [B, T, C]
  Embedding token_embedding{nullptr};     // [V, C]
  Embedding position_embedding{nullptr};  // [77, C]
};
TORCH_MODULE(ClipTextEmbeddings);

struct ClipTextTransformerImpl : torch::nn::Module {
  explicit ClipTextTransformerImpl(const ClipTextConfig& c);
  // ids [B, T] (+ attention mask [B, T] of 0/1, undefined = all ones) -> pooler_output [B, C]
  at::Tensor forward(const at::Tensor& ids, const at::Tensor& attentionMask, ActivationRecorder* rec = nullptr,
                     const std::string& prefix = "text");
  // The pooled position of each row: argmax(ids) for the legacy eos_token_id 2, else the first
  // position holding eos_token_id (0 when there is none, as torch's argmax of all zeros).
  at::Tensor pooledPositions(const at::Tensor& ids) const;
  ClipTextConfig config;
  ClipTextEmbeddings embeddings{nullptr};
  ClipEncoder encoder{nullptr};
  LayerNorm final_layer_norm{nullptr};
};
TORCH_MODULE(ClipTextTransformer);

struct ClipModelImpl : torch::nn::Module {
  explicit ClipModelImpl(const ClipConfig& c);
  at::Tensor imageFeatures(const at::Tensor& pixelValues, ActivationRecorder* rec = nullptr,
                           const at::Tensor& keepTokens = {});  // [B, P]
  at::Tensor textFeatures(const at::Tensor& ids, const at::Tensor& attentionMask, ActivationRecorder* rec = nullptr);  // [B, P]
  // exp(logit_scale), the factor of logits = scale * cosine (no clamp, as at inference in HF)
  at::Tensor logitScaleExp() const;

  ClipConfig config;
  ClipTextTransformer text_model{nullptr};
  ClipVisionTransformer vision_model{nullptr};
  Linear visual_projection{nullptr};  // [P, Cv]
  Linear text_projection{nullptr};    // [P, Ct]
  at::Tensor logit_scale;             // [] (scalar)
};
TORCH_MODULE(ClipModel);

// x / ||x||_2 over the last dimension (CLIPModel.forward's normalisation).
at::Tensor l2Normalize(const at::Tensor& x);

struct ClipScores {
  at::Tensor cosine;          // [n_images, n_texts]
  at::Tensor logitsPerImage;  // [n_images, n_texts] = exp(logit_scale) * cosine
};
// As CLIPModel.forward: logits_per_text = text_embeds @ image_embeds.T * scale, transposed.
ClipScores clipScores(const at::Tensor& imageEmbeds, const at::Tensor& textEmbeds, const at::Tensor& logitScaleExp);

// Every tensor a CLIPModel checkpoint holds for `config`, with its shape (written by hand from
// the architecture, independently of the module classes).
std::vector<TensorSpec> clipCheckpointTensors(const ClipConfig& config);
const WeightTable& clipWeightTable();

using LoadedClip = LoadedModel<ClipModel>;
// Builds the model from `dir`/config.json and loads its weights (safetensors / .bin).
LoadedClip loadClip(const std::filesystem::path& dir, at::ScalarType dtype = at::kFloat, const at::Device& device = at::kCPU);

}  // namespace vlm::models
