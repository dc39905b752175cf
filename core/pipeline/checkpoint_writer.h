#pragma once
// Writing a checkpoint in the Hugging Face layout (what make-random-model and train-shapes
// save): weights under the module's parameter names (= the checkpoint keys), the BLIP image
// processor's preprocessor_config.json, the bundled tokenizer files. Core-internal (LibTorch).

#include <torch/nn/module.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "common/job.h"
#include "models/blip/blip_config.h"
#include "models/clip/clip_config.h"

namespace vlm {

// Weights ~ N(0, 0.02), LayerNorm weights 1 and biases 0, other biases 0, logit_scale log(100),
// deterministic for a seed (in place).
void initRandomWeights(torch::nn::Module& model, uint64_t seed, const JobContext& job = {});

// model.safetensors under the parameters' names (float32, as they are).
void writeWeights(const torch::nn::Module& model, const std::filesystem::path& file);

// preprocessor_config.json of BlipImageProcessor for config.vision.imageSize.
void writeBlipPreprocessor(const models::BlipConfig& config, const std::filesystem::path& out);

// preprocessor_config.json of CLIPImageProcessor for config.vision.imageSize (shortest edge and
// centre crop at that size, openai's mean / std).
void writeClipPreprocessor(const models::ClipConfig& config, const std::filesystem::path& out);

// Copies `files` of resources/tokenizers/NAME into `out`.
void copyTokenizer(const std::string& name, const std::vector<const char*>& files, const std::filesystem::path& out);

}  // namespace vlm
