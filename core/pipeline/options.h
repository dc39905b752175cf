#pragma once
// Options shared by the pipelines (captioning, VQA): how a model is loaded and how text is
// generated. No LibTorch types in this header.

#include <optional>
#include <string>
#include <string_view>

namespace vlm {

enum class ComputeDType { Float32, BFloat16 };
std::optional<ComputeDType> parseComputeDType(std::string_view name);  // "float32" | "bfloat16"
const char* computeDTypeName(ComputeDType d);

struct ModelOptions {
  ComputeDType dtype = ComputeDType::Float32;
  std::string device = "cpu";  // "cpu", "cuda", "cuda:1" (where LibTorch has CUDA)
};

// transformers' generate() settings.
struct DecodingOptions {
  int numBeams = 1;
  int maxLength = 20;  // transformers' max_length: [DEC] (and a caption prompt) count
  int minLength = 0;
  double repetitionPenalty = 1.0;
  int noRepeatNgramSize = 0;
};

}  // namespace vlm
