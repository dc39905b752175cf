#pragma once
// Loading a module's parameters from a checkpoint: parameter names are checkpoint keys
// (modules mirror the Hugging Face module tree); what does not map one to one is given by
// the model family's table of alternatives.

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace torch::nn { class Module; }
namespace vlm::io { class StateDict; }

namespace vlm::models {

// A tensor the checkpoint of a model family holds for a given config.
struct TensorSpec {
  std::string name;
  std::vector<int64_t> shape;
};

struct WeightTable {
  // The checkpoint keys to try, in order, when a parameter's own name is absent
  // (tied weights, keys renamed across checkpoint versions).
  std::map<std::string, std::vector<std::string>> alternatives;
  // Checkpoint keys that are expected but not parameters (buffers, aliases); exact names or
  // suffix patterns starting with '*'.
  std::vector<std::string> ignored;
};

struct WeightLoadReport {
  std::string source;                     // the checkpoint, for messages
  std::vector<std::string> substitutions;  // "param <- key" where an alternative was used
  std::vector<std::string> unusedKeys;     // checkpoint keys no parameter took (not ignored)
};

// A model (a torch module holder) with the report of its weight load.
template <class Holder>
struct LoadedModel {
  Holder model{nullptr};
  WeightLoadReport report;
};

// Points every parameter of `module` at its checkpoint tensor (zero-copy when the stored
// dtype is `dtype` and the device is the CPU), converted to `dtype` and moved to `device`;
// parameters stop requiring grad. Errors name the checkpoint file and the tensor:
// MissingTensor, ShapeMismatch (with both shapes), Unsupported (non-float weights).
WeightLoadReport loadWeights(torch::nn::Module& module, const io::StateDict& weights, const WeightTable& table,
                             at::ScalarType dtype, const at::Device& device);

// loadWeights from the checkpoint folder `dir` (safetensors / .bin, see StateDict::loadFolder),
// then eval mode.
WeightLoadReport loadFolderWeights(torch::nn::Module& module, const std::filesystem::path& dir, const WeightTable& table,
                                   at::ScalarType dtype, const at::Device& device);

// Builds Holder(config) and loads the weights of `dir` into it (any model family).
template <class Holder, class Config>
LoadedModel<Holder> loadModel(const std::filesystem::path& dir, const Config& config, const WeightTable& table,
                              at::ScalarType dtype, const at::Device& device) {
  LoadedModel<Holder> out;
  out.model = Holder(config);
  out.report = loadFolderWeights(*out.model, dir, table, dtype, device);
  return out;
}

// The rows every pre-LN ViT layer of BLIP's and CLIP's checkpoints holds besides its attention:
// "<layer>layer_norm1.*", "<layer>mlp.fc1.*", "<layer>mlp.fc2.*", "<layer>layer_norm2.*" for
// width `hidden` and MLP width `intermediate`.
void appendVitLayerNormsAndMlp(std::vector<TensorSpec>& out, const std::string& layer, int64_t hidden, int64_t intermediate);

}  // namespace vlm::models
