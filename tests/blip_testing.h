#pragma once
// BLIP configs for tests.
#include <torch/nn/module.h>

#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "models/blip/blip_config.h"
#include "models/weights.h"

namespace vlm::test {

// Sizes no real checkpoint has (text width != vision width, odd head counts, one text layer),
// so that a table or a module that hard-codes a size or mixes up two widths fails.
inline models::BlipConfig oddBlipConfig() {
  models::BlipConfig c;
  c.vision.hiddenSize = 24;
  c.vision.intermediateSize = 40;
  c.vision.numHiddenLayers = 3;
  c.vision.numAttentionHeads = 2;
  c.vision.imageSize = 48;
  c.vision.patchSize = 8;
  c.text.vocabSize = 1000;
  c.text.hiddenSize = 20;
  c.text.encoderHiddenSize = 24;
  c.text.intermediateSize = 33;
  c.text.numHiddenLayers = 1;
  c.text.numAttentionHeads = 5;
  c.text.maxPositionEmbeddings = 30;
  return c;
}

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
