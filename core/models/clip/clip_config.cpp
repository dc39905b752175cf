#include "models/clip/clip_config.h"

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

void parseEncoder(const nlohmann::json& j, ClipEncoderConfig& c, const std::string& where, const std::string& file) {
  c.hiddenSize = jsonGet<int64_t>(j, "hidden_size", c.hiddenSize, where);
  c.intermediateSize = jsonGet<int64_t>(j, "intermediate_size", c.intermediateSize, where);
  c.numHiddenLayers = jsonGet<int64_t>(j, "num_hidden_layers", c.numHiddenLayers, where);
  c.numAttentionHeads = jsonGet<int64_t>(j, "num_attention_heads", c.numAttentionHeads, where);
  c.hiddenAct = jsonGet<std::string>(j, "hidden_act", c.hiddenAct, where);
  c.layerNormEps = jsonGet<double>(j, "layer_norm_eps", c.layerNormEps, where);
  requirePositive(c.hiddenSize, "hidden_size", where);
  requirePositive(c.intermediateSize, "intermediate_size", where);
  requirePositive(c.numHiddenLayers, "num_hidden_layers", where);
  requirePositive(c.numAttentionHeads, "num_attention_heads", where);
  if (c.hiddenSize % c.numAttentionHeads != 0)
    throw Error(ErrorCode::Corrupt, where + ": hidden_size " + std::to_string(c.hiddenSize) + " is not a multiple of num_attention_heads " +
                                        std::to_string(c.numAttentionHeads), file);
  if (!isSupportedActivation(c.hiddenAct))
    throw Error(ErrorCode::Unsupported, where + ": hidden_act '" + c.hiddenAct + "' is not supported (" + supportedActivations() + ")", file);
  if (c.layerNormEps <= 0) throw Error(ErrorCode::Corrupt, where + ": layer_norm_eps must be positive", file);
}

// text_config_dict (legacy) replaces text_config entirely when present, as in CLIPConfig.__init__.
const nlohmann::json& subConfig(const nlohmann::json& j, const char* legacy, const char* key, std::string& name) {
  static const nlohmann::json empty = nlohmann::json::object();
  if (auto it = j.find(legacy); it != j.end() && it->is_object()) {
    name = legacy;
    return *it;
  }
  name = key;
  if (auto it = j.find(key); it != j.end() && it->is_object()) return *it;
  return empty;
}

}  // namespace

ClipConfig parseClipConfig(const nlohmann::json& j, const std::string& where) {
  if (!j.is_object()) throw Error(ErrorCode::Corrupt, where + ": not a JSON object", where);
  ClipConfig c;
  const std::string modelType = jsonGet<std::string>(j, "model_type", "", where);
  if (!modelType.empty() && modelType != "clip")
    throw Error(ErrorCode::Unsupported, where + ": model_type is '" + modelType + "', expected 'clip' (a CLIP checkpoint)", where);
  if (auto it = j.find("architectures"); it != j.end() && it->is_array() && !it->empty() && (*it)[0].is_string())
    c.architecture = (*it)[0].get<std::string>();
  c.projectionDim = jsonGet<int64_t>(j, "projection_dim", c.projectionDim, where);
  c.logitScaleInitValue = jsonGet<double>(j, "logit_scale_init_value", c.logitScaleInitValue, where);
  requirePositive(c.projectionDim, "projection_dim", where);

  std::string name;
  const nlohmann::json& t = subConfig(j, "text_config_dict", "text_config", name);
  const std::string tw = where + ": " + name;
  ClipTextConfig& tc = c.text;
  parseEncoder(t, tc, tw, where);
  tc.vocabSize = jsonGet<int64_t>(t, "vocab_size", tc.vocabSize, tw);
  tc.maxPositionEmbeddings = jsonGet<int64_t>(t, "max_position_embeddings", tc.maxPositionEmbeddings, tw);
  tc.projectionDim = jsonGet<int64_t>(t, "projection_dim", tc.projectionDim, tw);
  tc.padTokenId = jsonGet<int64_t>(t, "pad_token_id", tc.padTokenId, tw);
  tc.bosTokenId = jsonGet<int64_t>(t, "bos_token_id", tc.bosTokenId, tw);
  tc.eosTokenId = jsonGet<int64_t>(t, "eos_token_id", tc.eosTokenId, tw);
  requirePositive(tc.vocabSize, "vocab_size", tw);
  requirePositive(tc.maxPositionEmbeddings, "max_position_embeddings", tw);

  const nlohmann::json& v = subConfig(j, "vision_config_dict", "vision_config", name);
  const std::string vw = where + ": " + name;
  ClipVisionConfig& vc = c.vision;
  parseEncoder(v, vc, vw, where);
  vc.numChannels = jsonGet<int64_t>(v, "num_channels", vc.numChannels, vw);
  vc.imageSize = jsonGet<int64_t>(v, "image_size", vc.imageSize, vw);
  vc.patchSize = jsonGet<int64_t>(v, "patch_size", vc.patchSize, vw);
  vc.projectionDim = jsonGet<int64_t>(v, "projection_dim", vc.projectionDim, vw);
  requirePositive(vc.imageSize, "image_size", vw);
  requirePositive(vc.patchSize, "patch_size", vw);
  if (vc.imageSize % vc.patchSize != 0)
    throw Error(ErrorCode::Corrupt, vw + ": image_size " + std::to_string(vc.imageSize) + " is not a multiple of patch_size " +
                                        std::to_string(vc.patchSize), where);
  if (vc.numChannels != 3)
    throw Error(ErrorCode::Unsupported, vw + ": num_channels " + std::to_string(vc.numChannels) + " is not supported (RGB images: 3)", where);
  return c;
}

ClipConfig loadClipConfig(const std::filesystem::path& configJson) {
  return parseClipConfig(io::readJsonFile(configJson), configJson.string());
}

nlohmann::json clipConfigToJson(const ClipConfig& c) {
  auto encoder = [](const ClipEncoderConfig& e) {
    return nlohmann::ordered_json{{"hidden_size", e.hiddenSize},
                                  {"intermediate_size", e.intermediateSize},
                                  {"num_hidden_layers", e.numHiddenLayers},
                                  {"num_attention_heads", e.numAttentionHeads},
                                  {"hidden_act", e.hiddenAct},
                                  {"layer_norm_eps", e.layerNormEps}};
  };
  nlohmann::ordered_json j;
  j["architectures"] = {c.architecture.empty() ? "CLIPModel" : c.architecture};
  j["logit_scale_init_value"] = c.logitScaleInitValue;
  j["model_type"] = "clip";
  j["projection_dim"] = c.projectionDim;
  nlohmann::ordered_json t = encoder(c.text);
  t["model_type"] = "clip_text_model";
  t["vocab_size"] = c.text.vocabSize;
  t["max_position_embeddings"] = c.text.maxPositionEmbeddings;
  t["projection_dim"] = c.text.projectionDim;
  t["pad_token_id"] = c.text.padTokenId;
  t["bos_token_id"] = c.text.bosTokenId;
  t["eos_token_id"] = c.text.eosTokenId;
  j["text_config"] = t;
  j["torch_dtype"] = "float32";
  nlohmann::ordered_json v = encoder(c.vision);
  v["model_type"] = "clip_vision_model";
  v["num_channels"] = c.vision.numChannels;
  v["image_size"] = c.vision.imageSize;
  v["patch_size"] = c.vision.patchSize;
  v["projection_dim"] = c.vision.projectionDim;
  j["vision_config"] = v;
  return nlohmann::json(j);
}

}  // namespace vlm::models
