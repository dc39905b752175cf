#pragma once
// Building blocks shared by the model families: activations by their Hugging Face names,
// and the recorder through which forward passes expose named intermediates.

#include <ATen/core/Tensor.h>

#include <map>
#include <string>
#include <vector>

namespace vlm::models {

// transformers' ACT2FN names: gelu (erf), gelu_new / gelu_fast / gelu_pytorch_tanh (tanh
// approximations, each as transformers computes it), quick_gelu, relu, silu / swish, tanh.
bool isSupportedActivation(const std::string& name);
std::string supportedActivations();
at::Tensor activation(const std::string& name, const at::Tensor& x);

// Collects intermediates of a forward pass by name ("vision.layers.3.out", ...). Forward
// code calls record() for every named intermediate; only names matching a pattern are kept
// (exact names, or prefixes ending in '*'; "*" keeps everything). With retainGrad, kept
// tensors that require grad keep their .grad() after backward().
class ActivationRecorder {
 public:
  explicit ActivationRecorder(std::vector<std::string> patterns = {"*"}, bool retainGrad = false)
      : patterns_(std::move(patterns)), retainGrad_(retainGrad) {}

  bool wants(const std::string& name) const;
  void record(const std::string& name, const at::Tensor& t);
  bool has(const std::string& name) const { return tensors_.count(name) > 0; }
  const at::Tensor& get(const std::string& name) const;  // throws InvalidArgument when absent
  std::vector<std::string> names() const;
  void clear() { tensors_.clear(); }

 private:
  std::vector<std::string> patterns_;
  bool retainGrad_;
  std::map<std::string, at::Tensor> tensors_;
};

}  // namespace vlm::models
