#pragma once
// BLIP configuration as transformers 4.43 BlipConfig / BlipVisionConfig / BlipTextConfig
// define it: config.json stores only non-default values, so every absent key takes the
// transformers default below. Nothing here is specific to one checkpoint.

#include <cstdint>
#include <filesystem>
#include <string>

#include <nlohmann/json_fwd.hpp>

namespace vlm::models {

struct BlipVisionConfig {
  int64_t hiddenSize = 768;
  int64_t intermediateSize = 3072;
  int64_t projectionDim = 512;
  int64_t numHiddenLayers = 12;
  int64_t numAttentionHeads = 12;
  int64_t imageSize = 384;
  int64_t patchSize = 16;
  std::string hiddenAct = "gelu";
  double layerNormEps = 1e-5;

  int64_t gridSize() const { return imageSize / patchSize; }
  int64_t numPatches() const { return gridSize() * gridSize(); }
  int64_t headDim() const { return hiddenSize / numAttentionHeads; }
};

struct BlipTextConfig {
  int64_t vocabSize = 30524;
  int64_t hiddenSize = 768;
  int64_t encoderHiddenSize = 768;
  int64_t intermediateSize = 3072;
  int64_t projectionDim = 768;
  int64_t numHiddenLayers = 12;
  int64_t numAttentionHeads = 8;  // the real checkpoints' config.json say 12: always read it
  int64_t maxPositionEmbeddings = 512;
  std::string hiddenAct = "gelu";
  double layerNormEps = 1e-12;
  int64_t bosTokenId = 30522;  // [DEC]
  int64_t eosTokenId = 2;
  int64_t padTokenId = 0;
  int64_t sepTokenId = 102;    // generation stops here
  std::string positionEmbeddingType = "absolute";

  int64_t headDim() const { return hiddenSize / numAttentionHeads; }
};

struct BlipConfig {
  BlipVisionConfig vision;
  BlipTextConfig text;
  int64_t projectionDim = 512;
  int64_t imageTextHiddenSize = 256;
  std::string architecture;  // architectures[0], e.g. "BlipForConditionalGeneration"
  std::string modelType = "blip";
};

// Parses config.json (or its parsed JSON) with transformers' defaults; validates what the
// model code relies on (positive sizes, hidden sizes divisible by the head counts, a
// supported activation and position embedding type). Errors name the file and the key.
BlipConfig parseBlipConfig(const nlohmann::json& j, const std::string& where);
BlipConfig loadBlipConfig(const std::filesystem::path& configJson);

// The config.json transformers writes for `config` (only the keys that matter for loading,
// including the defaults, so that `BlipConfig.from_pretrained` reproduces it).
nlohmann::json blipConfigToJson(const BlipConfig& config);

}  // namespace vlm::models
