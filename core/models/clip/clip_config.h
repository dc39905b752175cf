#pragma once
// CLIP configuration as transformers 4.43 CLIPConfig / CLIPTextConfig / CLIPVisionConfig define
// it: config.json stores only non-default values, every absent key takes the default below.
// The legacy `text_config_dict` / `vision_config_dict` keys of older hub configs win over
// `text_config` / `vision_config`, as in transformers.

#include <cstdint>
#include <filesystem>
#include <string>

#include <nlohmann/json_fwd.hpp>

namespace vlm::models {

// What the vision and text encoders share (pre-LN transformer layers).
struct ClipEncoderConfig {
  int64_t hiddenSize = 0;
  int64_t intermediateSize = 0;
  int64_t numHiddenLayers = 12;
  int64_t numAttentionHeads = 0;
  std::string hiddenAct = "quick_gelu";  // openai checkpoints; others use "gelu"
  double layerNormEps = 1e-5;

  int64_t headDim() const { return hiddenSize / numAttentionHeads; }
};

struct ClipTextConfig : ClipEncoderConfig {
  ClipTextConfig() {
    hiddenSize = 512;
    intermediateSize = 2048;
    numAttentionHeads = 8;
  }
  int64_t vocabSize = 49408;
  int64_t maxPositionEmbeddings = 77;
  int64_t projectionDim = 512;
  int64_t padTokenId = 1;
  int64_t bosTokenId = 49406;
  // 2 in the openai hub configs (a legacy value): the pooled token is then argmax(input_ids),
  // otherwise the first position holding eos_token_id.
  int64_t eosTokenId = 49407;
};

struct ClipVisionConfig : ClipEncoderConfig {
  ClipVisionConfig() {
    hiddenSize = 768;
    intermediateSize = 3072;
    numAttentionHeads = 12;
  }
  int64_t numChannels = 3;
  int64_t imageSize = 224;
  int64_t patchSize = 32;
  int64_t projectionDim = 512;

  int64_t gridSize() const { return imageSize / patchSize; }
  int64_t numPatches() const { return gridSize() * gridSize(); }
};

struct ClipConfig {
  ClipTextConfig text;
  ClipVisionConfig vision;
  int64_t projectionDim = 512;  // the projections' output (image and text embeddings)
  double logitScaleInitValue = 2.6592;
  std::string architecture;  // architectures[0], e.g. "CLIPModel"
};

// Parses config.json with transformers' defaults and validates what the model relies on
// (positive sizes, heads dividing the widths, supported activations, 3 channels). Errors name
// the file and the key.
ClipConfig parseClipConfig(const nlohmann::json& j, const std::string& where);
ClipConfig loadClipConfig(const std::filesystem::path& configJson);

// The config.json transformers writes for `config` (so `CLIPConfig.from_pretrained` reproduces it).
nlohmann::json clipConfigToJson(const ClipConfig& config);

}  // namespace vlm::models
