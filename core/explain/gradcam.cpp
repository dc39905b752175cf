#include "explain/gradcam.h"

#include <ATen/ATen.h>
#include <torch/autograd.h>

#include <cmath>
#include <sstream>

#include "common/error.h"

namespace vlm::explain {

namespace {

int64_t gridSide(int64_t patches, const std::string& what) {
  const auto g = int64_t(std::llround(std::sqrt(double(patches))));
  if (patches < 1 || g * g != patches)
    throw Error(ErrorCode::InvalidArgument, what + ": " + std::to_string(patches) + " image tokens (without CLS) are not a square patch grid");
  return g;
}

std::string shapeOf(const at::Tensor& t) {
  std::ostringstream o;
  o << t.sizes();
  return o.str();
}

at::Tensor cpuFloat(const at::Tensor& t) { return t.detach().to(at::kCPU, at::kFloat).contiguous(); }

CamMap makeMap(const TargetOutput& o, at::Tensor raw) {
  CamMap m;
  m.label = o.label;
  m.y = o.y.detach().to(at::kCPU, at::kDouble).item<double>();
  m.raw = std::move(raw);
  m.normalized = normalizeMap(m.raw);
  return m;
}

// Gradients of `y` with respect to `inputs` (zeros where y does not depend on one), keeping
// the graph for the next output.
std::vector<at::Tensor> gradsOf(const at::Tensor& y, const std::vector<at::Tensor>& inputs) {
  auto g = torch::autograd::grad({y}, inputs, {}, /*retain_graph=*/true, /*create_graph=*/false, /*allow_unused=*/true);
  for (size_t i = 0; i < g.size(); ++i)
    if (!g[i].defined()) g[i] = at::zeros_like(inputs[i]);
  return g;
}

}  // namespace

const char* toString(CamMethod m) {
  switch (m) {
    case CamMethod::GradCam: return "gradcam";
    case CamMethod::HiResCam: return "hirescam";
    case CamMethod::GradTimesActivation: return "gradxact";
  }
  return "?";
}

at::Tensor camFromTokens(const at::Tensor& activations, const at::Tensor& gradients, CamMethod method) {
  if (activations.dim() != 2 || activations.sizes() != gradients.sizes())
    throw Error(ErrorCode::InvalidArgument, "Grad-CAM needs activations and gradients of the same shape [1+N, C], got " +
                                                shapeOf(activations) + " and " + shapeOf(gradients));
  const int64_t g = gridSide(activations.size(0) - 1, "Grad-CAM");
  const at::Tensor a = cpuFloat(activations).slice(0, 1);  // [N, C]
  const at::Tensor d = cpuFloat(gradients).slice(0, 1);    // [N, C]
  at::Tensor map;
  switch (method) {
    case CamMethod::GradCam: map = at::relu((a * d.mean(0, /*keepdim=*/true)).sum(1)); break;
    case CamMethod::HiResCam: map = at::relu((a * d).sum(1)); break;
    case CamMethod::GradTimesActivation: map = (a * d).sum(1); break;
  }
  return map.reshape({g, g}).contiguous();
}

at::Tensor crossAttentionCam(const at::Tensor& probs, const at::Tensor& gradients, int64_t queryPosition) {
  if (probs.dim() != 3 || probs.sizes() != gradients.sizes())
    throw Error(ErrorCode::InvalidArgument, "cross-attention Grad-CAM needs probabilities and gradients of the same shape [H, T, 1+N], got " +
                                                shapeOf(probs) + " and " + shapeOf(gradients));
  if (queryPosition < -1 || queryPosition >= probs.size(1))
    throw Error(ErrorCode::InvalidArgument, "cross-attention query position " + std::to_string(queryPosition) + " is outside 0.." +
                                                std::to_string(probs.size(1) - 1));
  const int64_t g = gridSide(probs.size(2) - 1, "cross-attention Grad-CAM");
  if (queryPosition == -1)  // every query row: mean over heads and rows
    return at::relu(cpuFloat(probs).slice(2, 1) * cpuFloat(gradients).slice(2, 1)).mean(at::IntArrayRef{0, 1}).reshape({g, g}).contiguous();
  const at::Tensor p = cpuFloat(probs).select(1, queryPosition).slice(1, 1);      // [H, N]
  const at::Tensor d = cpuFloat(gradients).select(1, queryPosition).slice(1, 1);  // [H, N]
  return at::relu(p * d).mean(0).reshape({g, g}).contiguous();
}

at::Tensor normalizeMap(const at::Tensor& map) {
  const at::Tensor m = cpuFloat(map);
  if (m.numel() == 0) return m;
  const float lo = m.min().item<float>(), hi = m.max().item<float>();
  if (lo >= 0) return hi > 0 ? m / hi : at::zeros_like(m);
  return hi > lo ? (m - lo) / (hi - lo) : at::zeros_like(m);
}

at::Tensor upsampleMap(const at::Tensor& map, int64_t height, int64_t width) {
  if (map.dim() != 2) throw Error(ErrorCode::InvalidArgument, "upsampleMap needs a 2-D map, got " + shapeOf(map));
  if (height < 1 || width < 1)
    throw Error(ErrorCode::InvalidArgument, "upsampleMap: size " + std::to_string(width) + "x" + std::to_string(height) + " is empty");
  const at::Tensor x = cpuFloat(map).unsqueeze(0).unsqueeze(0);
  return at::upsample_bilinear2d(x, {height, width}, /*align_corners=*/false)[0][0].contiguous();
}

std::vector<std::vector<CamMap>> explainVisionLayers(const Target& target, const std::vector<int64_t>& layers, CamMethod method) {
  std::vector<std::string> names;
  for (int64_t l : layers) names.push_back(target.visionLayerName(l));  // validates before running
  models::ActivationRecorder rec(names);
  const TargetPass pass = target.run(rec);
  std::vector<at::Tensor> acts;
  for (const auto& n : names) acts.push_back(rec.get(n));
  std::vector<std::vector<CamMap>> out(layers.size());
  for (const auto& o : pass.outputs) {
    const std::vector<at::Tensor> grads = gradsOf(o.y, acts);
    for (size_t i = 0; i < acts.size(); ++i) out[i].push_back(makeMap(o, camFromTokens(acts[i][0], grads[i][0], method)));
  }
  return out;
}

std::vector<CamMap> explainVision(const Target& target, int64_t layer, CamMethod method) {
  return std::move(explainVisionLayers(target, {layer}, method)[0]);
}

std::vector<CamMap> explainCrossAttention(const Target& target, int64_t textLayer) {
  const std::string name = target.crossAttentionName(textLayer);
  models::ActivationRecorder rec({name});
  const TargetPass pass = target.run(rec);
  const at::Tensor probs = rec.get(name);
  std::vector<CamMap> out;
  for (const auto& o : pass.outputs) {
    const bool perToken = target.crossAttentionPerToken();
    if (perToken && o.queryPosition < 0)
      throw Error(ErrorCode::InvalidArgument, "cross-attention Grad-CAM explains single tokens, not '" + o.label + "'");
    const at::Tensor g = gradsOf(o.y, {probs})[0];
    out.push_back(makeMap(o, crossAttentionCam(probs[0], g[0], perToken ? o.queryPosition : -1)));
  }
  return out;
}

}  // namespace vlm::explain
