#pragma once
// `vlmscope make-random-model`: a checkpoint with a real architecture and random weights
// (for benchmarks at full size), in the Hugging Face layout that transformers loads.

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "common/job.h"

namespace vlm {

// Names accepted by --like (with or without the "Salesforce/" prefix).
std::vector<std::string> randomModelPresets();

// Writes config.json, model.safetensors (weights ~ N(0, 0.02), LayerNorm 1/0, biases 0,
// deterministic for a seed), preprocessor_config.json, tokenizer files and a README.md.
void makeRandomModel(const std::string& like, const std::filesystem::path& out, uint64_t seed,
                     const JobContext& job = {});

}  // namespace vlm
