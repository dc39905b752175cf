#pragma once
// Building blocks shared by the model families: activations by their Hugging Face names,
// and the recorder through which forward passes expose named intermediates.

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include <map>
#include <string>
#include <vector>

namespace vlm::models {

// transformers' ACT2FN names: gelu (erf), gelu_new / gelu_fast / gelu_pytorch_tanh (tanh
// approximations, each as transformers computes it), quick_gelu, relu, silu / swish, tanh.
bool isSupportedActivation(const std::string& name);
std::string supportedActivations();
at::Tensor activation(const std::string& name, const at::Tensor& x);

// Layers with the parameter names of torch.nn (weight, bias) whose storage is allocated but
// not initialised: a checkpoint or an explicit initialisation fills it. (torch::nn's own
// layers initialise every weight at construction, which costs most of a model's load time.)

// y = x W^T + b; a single row (decoding one token) goes through a matrix-vector product,
// several times faster than a one-row matrix product.
at::Tensor linearForward(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias);

struct LinearImpl : torch::nn::Module {
  LinearImpl(int64_t in, int64_t out, bool withBias = true);
  at::Tensor forward(const at::Tensor& x) { return linearForward(x, weight, bias); }  // [..., in] -> [..., out]
  at::Tensor weight;  // [out, in]
  at::Tensor bias;    // [out] (undefined without bias)
};
TORCH_MODULE(Linear);

struct LayerNormImpl : torch::nn::Module {
  LayerNormImpl(int64_t dim, double eps);
  at::Tensor forward(const at::Tensor& x);
  double eps;
  at::Tensor weight;  // [dim]
  at::Tensor bias;    // [dim]
};
TORCH_MODULE(LayerNorm);

struct EmbeddingImpl : torch::nn::Module {
  EmbeddingImpl(int64_t count, int64_t dim);
  at::Tensor forward(const at::Tensor& ids);
  at::Tensor weight;  // [count, dim]
};
TORCH_MODULE(Embedding);

// Non-overlapping patches: kernel = stride = patch.
struct PatchConvImpl : torch::nn::Module {
  PatchConvImpl(int64_t inChannels, int64_t outChannels, int64_t patch, bool withBias = true);
  at::Tensor forward(const at::Tensor& x);  // [B, Cin, H, W] -> [B, Cout, H/p, W/p]
  int64_t patch;
  at::Tensor weight;  // [Cout, Cin, p, p]
  at::Tensor bias;    // [Cout] (undefined without bias)
};
TORCH_MODULE(PatchConv);

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

// Patch removal: keeps the vision sequence positions `keepTokens` (int64, strictly
// increasing, first = 0 = CLS; position 1 + p is patch p) of x [B, 1+N, C] after the
// embeddings, dropping the others so nothing of their pixels reaches the output: [K] keeps
// the same positions in every row, [B, K] one list per row (Shapley coalitions of equal
// size in one batch). Undefined keepTokens returns x. InvalidArgument for an index list that
// breaks these rules.
at::Tensor keepSequenceTokens(const at::Tensor& x, const at::Tensor& keepTokens);

}  // namespace vlm::models
