#pragma once
// What the BLIP families (captioning, VQA) share about their checkpoints: the key tables of
// the vision tower, a BERT text model and the LM head, written by hand from the architecture
// (independently of the module classes, so that the tests can check one against the other),
// and reading a folder's config.json with the family and width checks.

#include <filesystem>
#include <string>
#include <vector>

#include "models/blip/blip_config.h"
#include "models/model_kind.h"
#include "models/weights.h"

namespace vlm::models {

// "<prefix>embeddings.*", "<prefix>encoder.layers.N.*", "<prefix>post_layernorm.*"
// (prefix "vision_model.").
void appendBlipVisionTensors(std::vector<TensorSpec>& out, const BlipVisionConfig& config, const std::string& prefix);
// A BlipTextModel without pooler, cross-attention in every layer: "<prefix>embeddings.*",
// "<prefix>encoder.layer.N.{attention,crossattention,intermediate,output}.*"
// (prefix "text_decoder.bert." or "text_encoder.").
void appendBlipTextTensors(std::vector<TensorSpec>& out, const BlipTextConfig& config, const std::string& prefix);
// "<prefix>bias", "<prefix>transform.*", "<prefix>decoder.weight" (prefix
// "text_decoder.cls.predictions."); the aliased decoder.bias is not listed.
void appendBlipLmHeadTensors(std::vector<TensorSpec>& out, const BlipTextConfig& config, const std::string& prefix);

// The tied / aliased keys of a text_decoder (BlipTextLMHeadModel) as transformers writes them:
// the LM head's decoder weight may be absent (tied to the word embeddings), decoder.bias is
// the same parameter as predictions.bias, position_ids buffers are not parameters.
const WeightTable& blipTextDecoderWeightTable();

// `dir`/config.json for `command`: the folder must hold `family` (requireModelFamily's message
// otherwise); the config is parsed with transformers' defaults, and the text model's
// cross-attention input width (encoder_hidden_size) must equal the vision width.
BlipConfig loadBlipFolderConfig(const std::filesystem::path& dir, ModelFamily family, const std::string& command);

}  // namespace vlm::models
