#pragma once
// BlipForQuestionAnswering (visual question answering) as transformers 4.43 runs it:
//   image_embeds    = vision_model(pixel_values)                       (post_layernorm applied)
//   question_embeds = text_encoder(question ids as tokenized, [CLS] first, padding mask only
//                     (bidirectional), cross-attending to image_embeds)  (no pooler)
//   answer          = text_decoder.generate([DEC], cross-attending to question_embeds with an
//                     ALL-ONES mask, eos = sep_token_id, finished rows padded with pad_token_id)
// Teacher forcing (forward()) uses the question's attention mask in the decoder's
// cross-attention instead. The text encoder and decoder share text_config, so the text width
// must equal encoder_hidden_size (the decoder cross-attends to text tokens) and the vision
// width (the encoder cross-attends to image tokens).
//
// Module names are the checkpoint keys: vision_model.* (as captioning), text_encoder.* (a
// BlipTextModel WITHOUT the "bert." prefix, cross-attention in every layer), text_decoder.{bert,
// cls}.* (BlipTextLMHeadModel, as captioning).
//
// Named intermediates (ActivationRecorder; see blip_vision.h / blip_text.h for shapes):
//   vision.*    the vision tower: vision.embeddings, vision.layers.K.{attn.probs,out},
//               vision.post_layernorm (= image_embeds), vision.pooler
//   question.*  the text encoder: question.embeddings, question.layers.K.selfattn.probs
//               [B, H, Tq, Tq], question.layers.K.crossattn.probs [B, H, Tq, 1+N] (to the image
//               tokens), question.layers.K.out (the last one = question_embeds)
//   answer.*    the answer decoder: answer.embeddings, answer.layers.K.selfattn.probs,
//               answer.layers.K.crossattn.probs [B, H, Ta, Tq] (to the question tokens),
//               answer.layers.K.out, answer.logits [B, Ta, V]
// Nothing here switches autograd off: an answer token's log-probability can be differentiated
// with respect to any of these (the pipeline runs inference under InferenceMode itself).

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>

#include <filesystem>
#include <vector>

#include "models/blip/blip_config.h"
#include "models/blip/blip_text.h"
#include "models/blip/blip_vision.h"
#include "models/generation.h"
#include "models/weights.h"

namespace vlm::models {

struct BlipForQuestionAnsweringImpl : torch::nn::Module {
  explicit BlipForQuestionAnsweringImpl(const BlipConfig& c);
  // pixel values [B, 3, S, S] -> image_embeds [B, 1+N, Cv]
  // keepTokens: patch removal (nn.h keepSequenceTokens); undefined = every patch
  at::Tensor encodeImage(const at::Tensor& pixelValues, ActivationRecorder* rec = nullptr, const at::Tensor& keepTokens = {});
  // question ids [B, Tq] ([CLS] ... [SEP], right-padded), mask [B, Tq] of 0/1 (undefined = all
  // ones), image_embeds [B or 1, 1+N, Cv] -> question_embeds [B, Tq, C]
  // `wordEmbeddings` [B, Tq, C], when given, replaces the word embeddings of the ids.
  at::Tensor encodeQuestion(const at::Tensor& imageEmbeds, const at::Tensor& questionIds, const at::Tensor& questionMask = {},
                            ActivationRecorder* rec = nullptr, const at::Tensor& wordEmbeddings = {});
  // Teacher-forced answer logits [B, Ta, V] of answer ids [B, Ta] ([DEC] first); logits[:, p]
  // predicts ids[:, p+1]. The decoder's cross-attention uses `questionMask` (forward()'s
  // choice; generate() attends to every question token: pass an undefined mask for that).
  at::Tensor answerLogits(const at::Tensor& questionEmbeds, const at::Tensor& questionMask, const at::Tensor& answerIds,
                          ActivationRecorder* rec = nullptr);

  BlipConfig config;
  BlipVisionModel vision_model{nullptr};
  BlipTextModel text_encoder{nullptr};
  BlipTextLMHeadModel text_decoder{nullptr};
};
TORCH_MODULE(BlipForQuestionAnswering);

// Every tensor a BlipForQuestionAnswering checkpoint holds for `config`, with its shape, as
// transformers writes it (the LM-head decoder weight included; the aliased decoder.bias
// excluded). Derived from the architecture by hand, independently of the module classes.
std::vector<TensorSpec> blipVqaCheckpointTensors(const BlipConfig& config);
// How parameters map to checkpoint keys where they are not equal: the answer decoder's tied LM
// head and aliased bias, exactly as in captioning (the text encoder maps one to one).
const WeightTable& blipVqaWeightTable();

using LoadedBlipVqa = LoadedModel<BlipForQuestionAnswering>;
// Builds the model from `dir`/config.json and loads its weights (safetensors / .bin). A folder
// of another family (captioning, CLIP) is refused naming what it is and the commands it suits.
LoadedBlipVqa loadBlipVqa(const std::filesystem::path& dir, at::ScalarType dtype = at::kFloat,
                          const at::Device& device = at::kCPU);

// The answer decoder's side of generate(): cross-attends to question_embeds [1 or B, Tq, C]
// with no mask (generate()'s all-ones mask); see BlipTextStepDecoder.
class BlipVqaStepDecoder : public BlipTextStepDecoder {
 public:
  BlipVqaStepDecoder(BlipForQuestionAnswering model, at::Tensor questionEmbeds);
};

// generate()'s start: [DEC] (text_config.bos_token_id) alone.
std::vector<int64_t> blipVqaAnswerPrompt(const BlipConfig& config);

}  // namespace vlm::models
