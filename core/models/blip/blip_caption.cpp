#include "models/blip/blip_caption.h"

#include "common/error.h"
#include "models/blip/blip_checkpoint.h"
#include "models/nn.h"

namespace vlm::models {

BlipForConditionalGenerationImpl::BlipForConditionalGenerationImpl(const BlipConfig& c) : config(c) {
  vision_model = register_module("vision_model", BlipVisionModel(c.vision));
  text_decoder = register_module("text_decoder", BlipTextLMHeadModel(c.text));
}

at::Tensor BlipForConditionalGenerationImpl::encodeImage(const at::Tensor& pixelValues, ActivationRecorder* rec,
                                                       const at::Tensor& keepTokens) {
  return vision_model->forward(pixelValues, rec, "vision", keepTokens);
}

at::Tensor BlipForConditionalGenerationImpl::decode(const at::Tensor& imageEmbeds, const at::Tensor& ids, ActivationRecorder* rec) {
  TextForwardInputs in;
  in.ids = ids;
  in.causal = true;
  in.encoderStates = imageEmbeds;
  return text_decoder->forward(in, nullptr, rec, "text");
}

std::vector<TensorSpec> blipCaptionCheckpointTensors(const BlipConfig& c) {
  std::vector<TensorSpec> t;
  appendBlipVisionTensors(t, c.vision, "vision_model.");
  appendBlipTextTensors(t, c.text, "text_decoder.bert.");
  appendBlipLmHeadTensors(t, c.text, "text_decoder.cls.predictions.");
  return t;
}

const WeightTable& blipCaptionWeightTable() { return blipTextDecoderWeightTable(); }

LoadedBlipCaption loadBlipCaption(const std::filesystem::path& dir, at::ScalarType dtype, const at::Device& device) {
  const BlipConfig config = loadBlipFolderConfig(dir, ModelFamily::BlipCaption, "caption");
  return loadModel<BlipForConditionalGeneration>(dir, config, blipCaptionWeightTable(), dtype, device);
}

BlipCaptionStepDecoder::BlipCaptionStepDecoder(BlipForConditionalGeneration model, at::Tensor imageEmbeds)
    : BlipTextStepDecoder(model->text_decoder, std::move(imageEmbeds)) {}

std::vector<int64_t> blipCaptionPrompt(const BlipConfig& config, const std::vector<int64_t>& promptIds) {
  // generate(): input_ids[:, 0] = bos; input_ids[:, :-1] (drops the trailing [SEP]).
  std::vector<int64_t> ids{config.text.bosTokenId};
  if (promptIds.size() > 2) ids.insert(ids.end(), promptIds.begin() + 1, promptIds.end() - 1);
  return ids;
}

}  // namespace vlm::models
