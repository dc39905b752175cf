#pragma once
// Checking a model family's hand-written checkpoint key table against its module tree.
#include <torch/nn/module.h>

#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "models/weights.h"

namespace vlm::test {

// Empty when the parameters of `module` are exactly `specs` (names and shapes, each listed
// once); otherwise the first difference.
inline std::string moduleTableMismatch(torch::nn::Module& module, const std::vector<models::TensorSpec>& specs) {
  std::map<std::string, std::vector<int64_t>> want;
  for (const auto& s : specs)
    if (!want.emplace(s.name, s.shape).second) return "listed twice in the table: " + s.name;
  size_t seen = 0;
  for (const auto& p : module.named_parameters(true)) {
    auto it = want.find(p.key());
    if (it == want.end()) return "parameter not in the table: " + p.key();
    if (p.value().sizes().vec() != it->second) {
      std::ostringstream o;
      o << p.key() << ": parameter shape " << p.value().sizes() << " but the table says " << at::IntArrayRef(it->second);
      return o.str();
    }
    ++seen;
  }
  if (seen != want.size()) return "the table lists " + std::to_string(want.size() - seen) + " tensors the module does not have";
  return {};
}

}  // namespace vlm::test
