#include "models/nn.h"

#include <ATen/ATen.h>

#include <cmath>

#include "common/error.h"
#include "runtime/decode_threads.h"

namespace vlm::models {

namespace {
const char* const kActivations[] = {"gelu", "gelu_new", "gelu_fast", "gelu_pytorch_tanh", "quick_gelu",
                                    "relu", "silu", "swish", "tanh"};
}

bool isSupportedActivation(const std::string& name) {
  for (const char* a : kActivations)
    if (name == a) return true;
  return false;
}

std::string supportedActivations() {
  std::string s;
  for (const char* a : kActivations) s += (s.empty() ? "" : ", ") + std::string(a);
  return s;
}

at::Tensor activation(const std::string& name, const at::Tensor& x) {
  if (name == "gelu") return at::gelu(x);
  if (name == "gelu_pytorch_tanh") return at::gelu(x, "tanh");
  if (name == "gelu_new")  // NewGELUActivation
    return 0.5 * x * (1.0 + at::tanh(std::sqrt(2.0 / M_PI) * (x + 0.044715 * at::pow(x, 3.0))));
  if (name == "gelu_fast")  // FastGELUActivation
    return 0.5 * x * (1.0 + at::tanh(x * 0.7978845608 * (1.0 + 0.044715 * x * x)));
  if (name == "quick_gelu") return x * at::sigmoid(1.702 * x);
  if (name == "relu") return at::relu(x);
  if (name == "silu" || name == "swish") return at::silu(x);
  if (name == "tanh") return at::tanh(x);
  throw Error(ErrorCode::Unsupported, "activation '" + name + "' is not supported (" + supportedActivations() + ")");
}

LinearImpl::LinearImpl(int64_t in, int64_t out, bool withBias) {
  weight = register_parameter("weight", at::empty({out, in}));
  if (withBias) bias = register_parameter("bias", at::empty({out}));
}

at::Tensor linearForward(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias) {
  const int64_t in = weight.size(1);
  if (x.numel() == in && x.device().is_cpu() && x.scalar_type() == at::kFloat && !x.requires_grad() && !weight.requires_grad()) {
    const at::Tensor v = x.reshape({in}).contiguous();
    at::Tensor y;
    if (runtime::TokenDecodingScope::active() && weight.scalar_type() == at::kFloat && weight.is_contiguous() &&
        (!bias.defined() || (bias.is_contiguous() && bias.scalar_type() == at::kFloat))) {
      y = at::empty({weight.size(0)}, v.options());
      if (!runtime::splitGemv(weight.data_ptr<float>(), v.data_ptr<float>(), bias.defined() ? bias.data_ptr<float>() : nullptr,
                              y.data_ptr<float>(), weight.size(0), in))
        y = at::Tensor();
    }
    if (!y.defined()) y = bias.defined() ? at::addmv(bias, weight, v) : at::mv(weight, v);
    std::vector<int64_t> shape = x.sizes().vec();
    shape.back() = weight.size(0);
    return y.view(shape);
  }
  return at::linear(x, weight, bias);
}

LayerNormImpl::LayerNormImpl(int64_t dim, double eps_) : eps(eps_) {
  weight = register_parameter("weight", at::empty({dim}));
  bias = register_parameter("bias", at::empty({dim}));
}

at::Tensor LayerNormImpl::forward(const at::Tensor& x) { return at::layer_norm(x, {weight.size(0)}, weight, bias, eps); }

EmbeddingImpl::EmbeddingImpl(int64_t count, int64_t dim) { weight = register_parameter("weight", at::empty({count, dim})); }

at::Tensor EmbeddingImpl::forward(const at::Tensor& ids) { return at::embedding(weight, ids); }

PatchConvImpl::PatchConvImpl(int64_t inChannels, int64_t outChannels, int64_t p, bool withBias) : patch(p) {
  weight = register_parameter("weight", at::empty({outChannels, inChannels, p, p}));
  if (withBias) bias = register_parameter("bias", at::empty({outChannels}));
}

at::Tensor PatchConvImpl::forward(const at::Tensor& x) { return at::conv2d(x, weight, bias, {patch, patch}); }

bool ActivationRecorder::wants(const std::string& name) const {
  for (const auto& p : patterns_) {
    if (p == "*" || p == name) return true;
    if (!p.empty() && p.back() == '*' && name.compare(0, p.size() - 1, p, 0, p.size() - 1) == 0) return true;
  }
  return false;
}

void ActivationRecorder::record(const std::string& name, const at::Tensor& t) {
  if (!wants(name)) return;
  if (retainGrad_ && t.requires_grad() && !t.is_leaf()) const_cast<at::Tensor&>(t).retain_grad();
  tensors_[name] = t;
}

const at::Tensor& ActivationRecorder::get(const std::string& name) const {
  auto it = tensors_.find(name);
  if (it == tensors_.end()) throw Error(ErrorCode::InvalidArgument, "no intermediate named '" + name + "' was recorded");
  return it->second;
}

std::vector<std::string> ActivationRecorder::names() const {
  std::vector<std::string> out;
  for (const auto& [k, v] : tensors_) out.push_back(k);
  return out;
}

at::Tensor keepSequenceTokens(const at::Tensor& x, const at::Tensor& keepTokens) {
  if (!keepTokens.defined()) return x;
  if ((keepTokens.dim() != 1 && keepTokens.dim() != 2) || keepTokens.scalar_type() != at::kLong || keepTokens.size(-1) < 1)
    throw Error(ErrorCode::InvalidArgument, "patch removal: the kept positions must be a non-empty int64 list [K] or [B, K]");
  if (keepTokens.dim() == 2 && keepTokens.size(0) != x.size(0))
    throw Error(ErrorCode::InvalidArgument, "patch removal: " + std::to_string(keepTokens.size(0)) + " rows of kept positions for a batch of " +
                                                std::to_string(x.size(0)));
  const at::Tensor k = keepTokens.to(at::kCPU).contiguous();
  const int64_t rows = keepTokens.dim() == 2 ? k.size(0) : 1, n = k.size(-1);
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t* p = k.data_ptr<int64_t>() + r * n;
    if (p[0] != 0) throw Error(ErrorCode::InvalidArgument, "patch removal: the CLS token (position 0) must be kept");
    for (int64_t i = 1; i < n; ++i)
      if (p[i] <= p[i - 1] || p[i] >= x.size(1))
        throw Error(ErrorCode::InvalidArgument, "patch removal: kept positions must be increasing and below " + std::to_string(x.size(1)));
  }
  if (keepTokens.dim() == 1) return x.index_select(1, keepTokens.to(x.device()));
  // One list per row (same length): gather along the sequence.
  const at::Tensor index = keepTokens.to(x.device()).unsqueeze(-1).expand({x.size(0), n, x.size(2)});
  return x.gather(1, index);
}

}  // namespace vlm::models
