#include "models/blip/blip_vqa.h"

#include "common/error.h"
#include "models/blip/blip_checkpoint.h"
#include "models/nn.h"

namespace vlm::models {

BlipForQuestionAnsweringImpl::BlipForQuestionAnsweringImpl(const BlipConfig& c) : config(c) {
  vision_model = register_module("vision_model", BlipVisionModel(c.vision));
  text_encoder = register_module("text_encoder", BlipTextModel(c.text));
  text_decoder = register_module("text_decoder", BlipTextLMHeadModel(c.text));
}

at::Tensor BlipForQuestionAnsweringImpl::encodeImage(const at::Tensor& pixelValues, ActivationRecorder* rec,
                                                     const at::Tensor& keepTokens) {
  return vision_model->forward(pixelValues, rec, "vision", keepTokens);
}

at::Tensor BlipForQuestionAnsweringImpl::encodeQuestion(const at::Tensor& imageEmbeds, const at::Tensor& questionIds,
                                                        const at::Tensor& questionMask, ActivationRecorder* rec,
                                                        const at::Tensor& wordEmbeddings) {
  TextForwardInputs in;
  in.ids = questionIds;
  in.wordEmbeddings = wordEmbeddings;
  in.attentionMask = questionMask;
  in.causal = false;  // BlipTextModel with is_decoder=False: padding mask only
  in.encoderStates = imageEmbeds;  // image attention mask: all ones
  return text_encoder->forward(in, nullptr, rec, "question");
}

at::Tensor BlipForQuestionAnsweringImpl::answerLogits(const at::Tensor& questionEmbeds, const at::Tensor& questionMask,
                                                      const at::Tensor& answerIds, ActivationRecorder* rec) {
  TextForwardInputs in;
  in.ids = answerIds;
  in.causal = true;
  in.encoderStates = questionEmbeds;
  in.encoderMask = questionMask;
  return text_decoder->forward(in, nullptr, rec, "answer");
}

std::vector<TensorSpec> blipVqaCheckpointTensors(const BlipConfig& c) {
  std::vector<TensorSpec> t;
  appendBlipVisionTensors(t, c.vision, "vision_model.");
  appendBlipTextTensors(t, c.text, "text_encoder.");
  appendBlipTextTensors(t, c.text, "text_decoder.bert.");
  appendBlipLmHeadTensors(t, c.text, "text_decoder.cls.predictions.");
  return t;
}

const WeightTable& blipVqaWeightTable() { return blipTextDecoderWeightTable(); }

LoadedBlipVqa loadBlipVqa(const std::filesystem::path& dir, at::ScalarType dtype, const at::Device& device) {
  const BlipConfig config = loadBlipFolderConfig(dir, ModelFamily::BlipVqa, "vqa");
  if (config.text.hiddenSize != config.text.encoderHiddenSize)
    throw Error(ErrorCode::Corrupt, (dir / "config.json").string() + ": text_config.hidden_size (" + std::to_string(config.text.hiddenSize) +
                                        ") must equal text_config.encoder_hidden_size (" + std::to_string(config.text.encoderHiddenSize) +
                                        "): the answer decoder cross-attends to the question encoder's tokens",
                (dir / "config.json").string());
  return loadModel<BlipForQuestionAnswering>(dir, config, blipVqaWeightTable(), dtype, device);
}

BlipVqaStepDecoder::BlipVqaStepDecoder(BlipForQuestionAnswering model, at::Tensor questionEmbeds)
    : BlipTextStepDecoder(model->text_decoder, std::move(questionEmbeds)) {}

std::vector<int64_t> blipVqaAnswerPrompt(const BlipConfig& config) { return {config.text.bosTokenId}; }

}  // namespace vlm::models
