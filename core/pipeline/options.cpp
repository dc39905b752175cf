#include "pipeline/options.h"

namespace vlm {

std::optional<ComputeDType> parseComputeDType(std::string_view name) {
  if (name == "float32" || name == "fp32") return ComputeDType::Float32;
  if (name == "bfloat16" || name == "bf16") return ComputeDType::BFloat16;
  return std::nullopt;
}

const char* computeDTypeName(ComputeDType d) { return d == ComputeDType::BFloat16 ? "bfloat16" : "float32"; }

}  // namespace vlm
