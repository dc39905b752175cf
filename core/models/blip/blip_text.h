#pragma once
// BLIP's BERT-style text transformer with cross-attention to image tokens (transformers
// BlipTextModel / BlipTextLMHeadModel). Module names are the checkpoint keys under
// "text_decoder." (captioning, VQA answer decoder) or "text_encoder." (VQA question encoder):
//   bert.embeddings.{word_embeddings, position_embeddings, LayerNorm}
//   bert.encoder.layer.N.{attention.{self.{query,key,value}, output.{dense,LayerNorm}},
//                         crossattention.{...same...}, intermediate.dense, output.{dense,LayerNorm}}
//   cls.predictions.{transform.{dense, LayerNorm}, decoder, bias}       (LM head only)
// Layers are BERT post-LN: self-attn -> +residual, LN -> cross-attn -> +residual, LN ->
// dense, act, dense -> +residual, LN.
//
// Named intermediates, prefix given by the caller (normally "text"):
//   PREFIX.embeddings                 [B, T, C]
//   PREFIX.layers.K.selfattn.probs    [B, H, T, Tpast+T]
//   PREFIX.layers.K.crossattn.probs   [B, H, T, N]   (N image / question tokens, CLS first)
//   PREFIX.layers.K.out               [B, T, C]
//   PREFIX.logits                     [B, T, V]      (LM head)

#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>

#include <vector>

#include "models/blip/blip_config.h"
#include "models/generation.h"
#include "models/nn.h"

namespace vlm::models {

class ActivationRecorder;

// Keys and values a decoder has already computed: self-attention grows by one step per
// token; cross-attention keys/values of the (fixed) encoder states are computed once.
struct TextKVCache {
  std::vector<at::Tensor> selfKey, selfValue;    // per layer [B, H, Tpast, D]
  std::vector<at::Tensor> crossKey, crossValue;  // per layer [B, H, N, D]
  int64_t length = 0;                            // Tpast
  // Keeps the rows `index` (beam search): every cached tensor's batch dimension.
  void reorder(const at::Tensor& index);
  // One (still undefined) slot per layer.
  void ensureLayers(size_t layers);
  void clear();
};

struct BlipTextEmbeddingsImpl : torch::nn::Module {
  explicit BlipTextEmbeddingsImpl(const BlipTextConfig& c);
  // ids [B, T], positions start at `pastLength` -> [B, T, C]
  // `wordEmbeddings` [B, T, C], when given, replaces word_embeddings(ids) (integrated gradients
  // along the question's embeddings).
  at::Tensor forward(const at::Tensor& ids, int64_t pastLength, const at::Tensor& wordEmbeddings = {});
  Embedding word_embeddings{nullptr};      // [V, C]
  Embedding position_embeddings{nullptr};  // [P, C]
  models::LayerNorm LayerNorm{nullptr};
};
TORCH_MODULE(BlipTextEmbeddings);

struct BlipTextSelfAttentionImpl : torch::nn::Module {
  BlipTextSelfAttentionImpl(const BlipTextConfig& c, bool crossAttention);
  at::Tensor splitHeads(const at::Tensor& x) const;  // [B, T, C] -> [B, H, T, D]
  // Keys and values of `states` [B, N, Cin] split into heads, [B, H, N, D] each.
  std::pair<at::Tensor, at::Tensor> keysValues(const at::Tensor& states);
  int64_t heads, headDim;
  Linear query{nullptr};  // [C, C]
  Linear key{nullptr};    // [C, C] or [C, Ce] for cross-attention
  Linear value{nullptr};
};
TORCH_MODULE(BlipTextSelfAttention);

struct BlipTextSelfOutputImpl : torch::nn::Module {
  explicit BlipTextSelfOutputImpl(const BlipTextConfig& c);
  at::Tensor forward(const at::Tensor& h, const at::Tensor& residual);  // LN(dense(h) + residual)
  Linear dense{nullptr};
  models::LayerNorm LayerNorm{nullptr};
};
TORCH_MODULE(BlipTextSelfOutput);

struct BlipTextAttentionImpl : torch::nn::Module {
  BlipTextAttentionImpl(const BlipTextConfig& c, bool crossAttention);
  BlipTextSelfAttention self{nullptr};
  BlipTextSelfOutput output{nullptr};
};
TORCH_MODULE(BlipTextAttention);

struct BlipTextIntermediateImpl : torch::nn::Module {
  explicit BlipTextIntermediateImpl(const BlipTextConfig& c);
  Linear dense{nullptr};  // [I, C]
};
TORCH_MODULE(BlipTextIntermediate);

struct BlipTextOutputImpl : torch::nn::Module {
  explicit BlipTextOutputImpl(const BlipTextConfig& c);
  Linear dense{nullptr};  // [C, I]
  models::LayerNorm LayerNorm{nullptr};
};
TORCH_MODULE(BlipTextOutput);

struct BlipTextLayerImpl : torch::nn::Module {
  explicit BlipTextLayerImpl(const BlipTextConfig& c);
  BlipTextAttention attention{nullptr};
  BlipTextAttention crossattention{nullptr};
  BlipTextIntermediate intermediate{nullptr};
  BlipTextOutput output{nullptr};
};
TORCH_MODULE(BlipTextLayer);

struct BlipTextEncoderImpl : torch::nn::Module {
  explicit BlipTextEncoderImpl(const BlipTextConfig& c);
  torch::nn::ModuleList layer{nullptr};
};
TORCH_MODULE(BlipTextEncoder);

// Inputs of one text forward pass.
struct TextForwardInputs {
  at::Tensor ids;              // [B, T] new tokens
  at::Tensor attentionMask;    // optional [B, Tpast+T] of 0/1 (padding); none = all ones
  bool causal = true;          // decoder (causal) or encoder (bidirectional)
  at::Tensor encoderStates;    // [B or 1, N, Ce] image (or question) tokens; may be undefined with a filled cache
  at::Tensor encoderMask;      // optional [B, N] of 0/1; none = all ones
  at::Tensor wordEmbeddings;   // optional [B, T, C]: used instead of word_embeddings(ids)
};

struct BlipTextModelImpl : torch::nn::Module {
  explicit BlipTextModelImpl(const BlipTextConfig& c);
  // -> hidden states [B, T, C]. With a cache, keys/values are appended (and cross-attention
  // keys/values are taken from it once computed).
  at::Tensor forward(const TextForwardInputs& in, TextKVCache* cache = nullptr, ActivationRecorder* rec = nullptr,
                     const std::string& prefix = "text");
  // Fills the cache's cross-attention keys/values for `encoderStates` [B, N, Ce] (every layer),
  // so that later steps only compute the new tokens.
  void precomputeCrossAttention(const at::Tensor& encoderStates, TextKVCache& cache);
  BlipTextConfig config;
  BlipTextEmbeddings embeddings{nullptr};
  BlipTextEncoder encoder{nullptr};
};
TORCH_MODULE(BlipTextModel);

struct BlipTextPredictionHeadTransformImpl : torch::nn::Module {
  explicit BlipTextPredictionHeadTransformImpl(const BlipTextConfig& c);
  Linear dense{nullptr};
  models::LayerNorm LayerNorm{nullptr};
};
TORCH_MODULE(BlipTextPredictionHeadTransform);

struct BlipTextLMPredictionHeadImpl : torch::nn::Module {
  explicit BlipTextLMPredictionHeadImpl(const BlipTextConfig& c);
  at::Tensor forward(const at::Tensor& h);  // [B, T, C] -> logits [B, T, V]
  std::string act;
  BlipTextPredictionHeadTransform transform{nullptr};
  Linear decoder{nullptr};  // weight [V, C], no bias of its own
  at::Tensor bias;                     // [V] (transformers: decoder.bias is this parameter)
};
TORCH_MODULE(BlipTextLMPredictionHead);

struct BlipTextOnlyMLMHeadImpl : torch::nn::Module {
  explicit BlipTextOnlyMLMHeadImpl(const BlipTextConfig& c);
  BlipTextLMPredictionHead predictions{nullptr};
};
TORCH_MODULE(BlipTextOnlyMLMHead);

struct BlipTextLMHeadModelImpl : torch::nn::Module {
  explicit BlipTextLMHeadModelImpl(const BlipTextConfig& c);
  // -> logits [B, T, V] for the new tokens
  at::Tensor forward(const TextForwardInputs& in, TextKVCache* cache = nullptr, ActivationRecorder* rec = nullptr,
                     const std::string& prefix = "text");
  BlipTextModel bert{nullptr};
  BlipTextOnlyMLMHead cls{nullptr};
};
TORCH_MODULE(BlipTextLMHeadModel);

// The decoder side of generate() for a text decoder that cross-attends to fixed encoder
// states (the image tokens when captioning, the question tokens in VQA). The states'
// cross-attention keys/values are computed once per reset(); self-attention keys/values are
// cached. States of batch 1 serve any number of rows (beams: expanded into contiguous copies,
// as transformers does); states of batch B serve exactly B rows (one per sequence).
class BlipTextStepDecoder : public StepDecoder {
 public:
  BlipTextStepDecoder(BlipTextLMHeadModel decoder, at::Tensor encoderStates /* [1 or B, N, Ce] */);
  void reset(int64_t batch) override;
  at::Tensor step(const at::Tensor& ids) override;
  void reorder(const at::Tensor& rows) override;

 private:
  BlipTextLMHeadModel decoder_;
  at::Tensor states_;
  at::Tensor batchStates_;
  TextKVCache cache_;
};

}  // namespace vlm::models
