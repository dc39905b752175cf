#include "models/blip/blip_config.h"

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "io/json_util.h"
#include "models/nn.h"

namespace vlm::models {

using io::jsonGet;

namespace {

void requirePositive(int64_t v, const char* key, const std::string& where) {
  if (v <= 0) throw Error(ErrorCode::Corrupt, where + ": '" + key + "' must be positive, got " + std::to_string(v), where);
}

}  // namespace

BlipConfig parseBlipConfig(const nlohmann::json& j, const std::string& where) {
  if (!j.is_object()) throw Error(ErrorCode::Corrupt, where + ": not a JSON object", where);
  BlipConfig c;
  c.modelType = jsonGet<std::string>(j, "model_type", "", where);
  if (!c.modelType.empty() && c.modelType != "blip")
    throw Error(ErrorCode::Unsupported, where + ": model_type is '" + c.modelType + "', expected 'blip' (a BLIP checkpoint)", where);
  if (auto it = j.find("architectures"); it != j.end() && it->is_array() && !it->empty() && (*it)[0].is_string())
    c.architecture = (*it)[0].get<std::string>();
  c.projectionDim = jsonGet<int64_t>(j, "projection_dim", c.projectionDim, where);
  c.imageTextHiddenSize = jsonGet<int64_t>(j, "image_text_hidden_size", c.imageTextHiddenSize, where);

  static const nlohmann::json empty = nlohmann::json::object();
  const nlohmann::json& v = j.contains("vision_config") && j["vision_config"].is_object() ? j["vision_config"] : empty;
  const std::string vw = where + ": vision_config";
  BlipVisionConfig& vc = c.vision;
  vc.hiddenSize = jsonGet<int64_t>(v, "hidden_size", vc.hiddenSize, vw);
  vc.intermediateSize = jsonGet<int64_t>(v, "intermediate_size", vc.intermediateSize, vw);
  vc.projectionDim = jsonGet<int64_t>(v, "projection_dim", vc.projectionDim, vw);
  vc.numHiddenLayers = jsonGet<int64_t>(v, "num_hidden_layers", vc.numHiddenLayers, vw);
  vc.numAttentionHeads = jsonGet<int64_t>(v, "num_attention_heads", vc.numAttentionHeads, vw);
  vc.imageSize = jsonGet<int64_t>(v, "image_size", vc.imageSize, vw);
  vc.patchSize = jsonGet<int64_t>(v, "patch_size", vc.patchSize, vw);
  vc.hiddenAct = jsonGet<std::string>(v, "hidden_act", vc.hiddenAct, vw);
  vc.layerNormEps = jsonGet<double>(v, "layer_norm_eps", vc.layerNormEps, vw);

  const nlohmann::json& t = j.contains("text_config") && j["text_config"].is_object() ? j["text_config"] : empty;
  const std::string tw = where + ": text_config";
  BlipTextConfig& tc = c.text;
  tc.vocabSize = jsonGet<int64_t>(t, "vocab_size", tc.vocabSize, tw);
  tc.hiddenSize = jsonGet<int64_t>(t, "hidden_size", tc.hiddenSize, tw);
  tc.encoderHiddenSize = jsonGet<int64_t>(t, "encoder_hidden_size", tc.encoderHiddenSize, tw);
  tc.intermediateSize = jsonGet<int64_t>(t, "intermediate_size", tc.intermediateSize, tw);
  tc.projectionDim = jsonGet<int64_t>(t, "projection_dim", tc.projectionDim, tw);
  tc.numHiddenLayers = jsonGet<int64_t>(t, "num_hidden_layers", tc.numHiddenLayers, tw);
  tc.numAttentionHeads = jsonGet<int64_t>(t, "num_attention_heads", tc.numAttentionHeads, tw);
  tc.maxPositionEmbeddings = jsonGet<int64_t>(t, "max_position_embeddings", tc.maxPositionEmbeddings, tw);
  tc.hiddenAct = jsonGet<std::string>(t, "hidden_act", tc.hiddenAct, tw);
  tc.layerNormEps = jsonGet<double>(t, "layer_norm_eps", tc.layerNormEps, tw);
  tc.bosTokenId = jsonGet<int64_t>(t, "bos_token_id", tc.bosTokenId, tw);
  tc.eosTokenId = jsonGet<int64_t>(t, "eos_token_id", tc.eosTokenId, tw);
  tc.padTokenId = jsonGet<int64_t>(t, "pad_token_id", tc.padTokenId, tw);
  tc.sepTokenId = jsonGet<int64_t>(t, "sep_token_id", tc.sepTokenId, tw);
  tc.positionEmbeddingType = jsonGet<std::string>(t, "position_embedding_type", tc.positionEmbeddingType, tw);

  requirePositive(vc.hiddenSize, "hidden_size", vw);
  requirePositive(vc.intermediateSize, "intermediate_size", vw);
  requirePositive(vc.numHiddenLayers, "num_hidden_layers", vw);
  requirePositive(vc.numAttentionHeads, "num_attention_heads", vw);
  requirePositive(vc.imageSize, "image_size", vw);
  requirePositive(vc.patchSize, "patch_size", vw);
  requirePositive(tc.vocabSize, "vocab_size", tw);
  requirePositive(tc.hiddenSize, "hidden_size", tw);
  requirePositive(tc.encoderHiddenSize, "encoder_hidden_size", tw);
  requirePositive(tc.intermediateSize, "intermediate_size", tw);
  requirePositive(tc.numHiddenLayers, "num_hidden_layers", tw);
  requirePositive(tc.numAttentionHeads, "num_attention_heads", tw);
  requirePositive(tc.maxPositionEmbeddings, "max_position_embeddings", tw);
  if (vc.hiddenSize % vc.numAttentionHeads != 0)
    throw Error(ErrorCode::Corrupt, vw + ": hidden_size " + std::to_string(vc.hiddenSize) + " is not a multiple of num_attention_heads " + std::to_string(vc.numAttentionHeads), where);
  if (tc.hiddenSize % tc.numAttentionHeads != 0)
    throw Error(ErrorCode::Corrupt, tw + ": hidden_size " + std::to_string(tc.hiddenSize) + " is not a multiple of num_attention_heads " + std::to_string(tc.numAttentionHeads), where);
  if (vc.imageSize % vc.patchSize != 0)
    throw Error(ErrorCode::Corrupt, vw + ": image_size " + std::to_string(vc.imageSize) + " is not a multiple of patch_size " + std::to_string(vc.patchSize), where);
  if (!isSupportedActivation(vc.hiddenAct))
    throw Error(ErrorCode::Unsupported, vw + ": hidden_act '" + vc.hiddenAct + "' is not supported (" + supportedActivations() + ")", where);
  if (!isSupportedActivation(tc.hiddenAct))
    throw Error(ErrorCode::Unsupported, tw + ": hidden_act '" + tc.hiddenAct + "' is not supported (" + supportedActivations() + ")", where);
  if (tc.positionEmbeddingType != "absolute")
    throw Error(ErrorCode::Unsupported, tw + ": position_embedding_type '" + tc.positionEmbeddingType + "' is not supported (only 'absolute')", where);
  if (vc.layerNormEps <= 0 || tc.layerNormEps <= 0)
    throw Error(ErrorCode::Corrupt, where + ": layer_norm_eps must be positive", where);
  return c;
}

BlipConfig loadBlipConfig(const std::filesystem::path& configJson) {
  return parseBlipConfig(io::readJsonFile(configJson), configJson.string());
}

nlohmann::json blipConfigToJson(const BlipConfig& c) {
  nlohmann::ordered_json j;
  j["architectures"] = {c.architecture.empty() ? "BlipForConditionalGeneration" : c.architecture};
  j["image_text_hidden_size"] = c.imageTextHiddenSize;
  j["model_type"] = "blip";
  j["projection_dim"] = c.projectionDim;
  j["text_config"] = {
      {"model_type", "blip_text_model"},
      {"vocab_size", c.text.vocabSize},
      {"hidden_size", c.text.hiddenSize},
      {"encoder_hidden_size", c.text.encoderHiddenSize},
      {"intermediate_size", c.text.intermediateSize},
      {"projection_dim", c.text.projectionDim},
      {"num_hidden_layers", c.text.numHiddenLayers},
      {"num_attention_heads", c.text.numAttentionHeads},
      {"max_position_embeddings", c.text.maxPositionEmbeddings},
      {"hidden_act", c.text.hiddenAct},
      {"layer_norm_eps", c.text.layerNormEps},
      {"bos_token_id", c.text.bosTokenId},
      {"eos_token_id", c.text.eosTokenId},
      {"pad_token_id", c.text.padTokenId},
      {"sep_token_id", c.text.sepTokenId},
  };
  j["torch_dtype"] = "float32";
  j["vision_config"] = {
      {"model_type", "blip_vision_model"},
      {"hidden_size", c.vision.hiddenSize},
      {"intermediate_size", c.vision.intermediateSize},
      {"projection_dim", c.vision.projectionDim},
      {"num_hidden_layers", c.vision.numHiddenLayers},
      {"num_attention_heads", c.vision.numAttentionHeads},
      {"image_size", c.vision.imageSize},
      {"patch_size", c.vision.patchSize},
      {"hidden_act", c.vision.hiddenAct},
      {"layer_norm_eps", c.vision.layerNormEps},
  };
  return nlohmann::json(j);
}

}  // namespace vlm::models
