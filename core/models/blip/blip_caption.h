#pragma once
// BlipForConditionalGeneration (image captioning): vision_model + text_decoder, as in
// transformers. Loading, the checkpoint key table, teacher forcing and generation.

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>

#include <filesystem>
#include <memory>
#include <vector>

#include "models/blip/blip_config.h"
#include "models/blip/blip_text.h"
#include "models/blip/blip_vision.h"
#include "models/generation.h"
#include "models/weights.h"

namespace vlm::models {

struct BlipForConditionalGenerationImpl : torch::nn::Module {
  explicit BlipForConditionalGenerationImpl(const BlipConfig& c);
  // pixel values [B, 3, S, S] -> image_embeds [B, 1+N, Cv] (vision tower incl. post_layernorm)
  // keepTokens: patch removal (nn.h keepSequenceTokens); undefined = every patch
  at::Tensor encodeImage(const at::Tensor& pixelValues, ActivationRecorder* rec = nullptr, const at::Tensor& keepTokens = {});
  // Teacher-forced logits [B, T, V] of decoder ids [B, T] given image_embeds; logits[:, p]
  // predicts ids[:, p+1]. The ids are used as given (transformers' forward does not replace
  // [CLS] by [DEC]; put bos_token_id first to agree with generate()).
  at::Tensor decode(const at::Tensor& imageEmbeds, const at::Tensor& ids, ActivationRecorder* rec = nullptr);

  BlipConfig config;
  BlipVisionModel vision_model{nullptr};
  BlipTextLMHeadModel text_decoder{nullptr};
};
TORCH_MODULE(BlipForConditionalGeneration);

// Every tensor a BlipForConditionalGeneration checkpoint holds for `config`, with its shape,
// as transformers writes it (the LM-head decoder weight included; the aliased decoder.bias
// excluded). Derived from the architecture by hand, independently of the module classes.
std::vector<TensorSpec> blipCaptionCheckpointTensors(const BlipConfig& config);
// How parameters map to checkpoint keys where they are not equal (tied LM head, aliases).
const WeightTable& blipCaptionWeightTable();

using LoadedBlipCaption = LoadedModel<BlipForConditionalGeneration>;
// Builds the model from `dir`/config.json and loads its weights (safetensors / .bin).
LoadedBlipCaption loadBlipCaption(const std::filesystem::path& dir, at::ScalarType dtype = at::kFloat,
                                  const at::Device& device = at::kCPU);

// The decoder side of generation for one image (see BlipTextStepDecoder).
class BlipCaptionStepDecoder : public BlipTextStepDecoder {
 public:
  BlipCaptionStepDecoder(BlipForConditionalGeneration model, at::Tensor imageEmbeds /* [1, N, C] */);
};

// Start tokens of generate(): [DEC] alone, or [DEC] + the prompt's tokens without [CLS]/[SEP].
std::vector<int64_t> blipCaptionPrompt(const BlipConfig& config, const std::vector<int64_t>& promptIdsWithSpecials);

}  // namespace vlm::models
