#include "explain/integrated_gradients.h"

#include <ATen/ATen.h>
#include <torch/autograd.h>

#include <cmath>
#include <numbers>

#include "common/error.h"

namespace vlm::explain {

const char* toString(IgRule r) {
  switch (r) {
    case IgRule::GaussLegendre: return "gausslegendre";
    case IgRule::RiemannTrapezoid: return "riemann_trapezoid";
  }
  return "?";
}

const char* toString(IgBaseline b) {
  switch (b) {
    case IgBaseline::Black: return "black";
    case IgBaseline::Blur: return "blur";
    case IgBaseline::Mean: return "mean";
  }
  return "?";
}

void igPathPoints(IgRule rule, int steps, std::vector<double>& alphas, std::vector<double>& weights) {
  alphas.clear();
  weights.clear();
  if (rule == IgRule::RiemannTrapezoid) {
    if (steps < 2) throw Error(ErrorCode::InvalidArgument, "integrated gradients: the trapezoid rule needs at least 2 steps, got " + std::to_string(steps));
    const double h = 1.0 / (steps - 1);
    for (int s = 0; s < steps; ++s) {
      alphas.push_back(s * h);
      weights.push_back((s == 0 || s == steps - 1) ? h / 2 : h);
    }
    return;
  }
  if (steps < 1) throw Error(ErrorCode::InvalidArgument, "integrated gradients: steps must be at least 1, got " + std::to_string(steps));
  // Gauss-Legendre nodes: the roots of P_n, by Newton's method from cos(pi (i + 3/4) / (n + 1/2)).
  const int n = steps;
  // P_n(x) and P_n'(x) by the three-term recurrence.
  auto legendre = [n](double x) {
    double p0 = 1, p1 = x;
    for (int k = 2; k <= n; ++k) {
      const double p2 = ((2.0 * k - 1) * x * p1 - (k - 1.0) * p0) / k;
      p0 = p1;
      p1 = p2;
    }
    return std::pair<double, double>{p1, n * (x * p1 - p0) / (x * x - 1)};
  };
  std::vector<double> z(n), v(n);
  for (int i = 0; i < (n + 1) / 2; ++i) {
    double x = std::cos(std::numbers::pi * (i + 0.75) / (n + 0.5));
    for (int it = 0; it < 100; ++it) {
      const auto [p, dp] = legendre(x);
      const double dx = p / dp;
      x -= dx;
      if (std::abs(dx) < 1e-16) break;
    }
    const double dp = legendre(x).second;
    z[i] = -x;
    z[n - 1 - i] = x;
    v[i] = v[n - 1 - i] = 2 / ((1 - x * x) * dp * dp);
  }
  for (int i = 0; i < n; ++i) {
    alphas.push_back(0.5 * (1 + z[i]));
    weights.push_back(0.5 * v[i]);
  }
}

std::vector<IgAttribution> integratedGradients(const std::function<at::Tensor(const at::Tensor&)>& f, const at::Tensor& input,
                                               const at::Tensor& baseline, const std::vector<std::string>& labels,
                                               const IgOptions& options, const JobContext& job) {
  if (input.sizes() != baseline.sizes())
    throw Error(ErrorCode::InvalidArgument, "integrated gradients: the baseline's shape differs from the input's");
  if (options.internalBatch < 1)
    throw Error(ErrorCode::InvalidArgument, "integrated gradients: the internal batch size must be at least 1, got " + std::to_string(options.internalBatch));
  std::vector<double> alphas, weights;
  igPathPoints(options.rule, options.steps, alphas, weights);
  const int64_t k = int64_t(labels.size());
  const at::Tensor x = input.detach(), x0 = baseline.detach().to(x.options());
  const at::Tensor diff = x - x0;

  // F at both ends (one forward pass).
  at::Tensor ends;
  {
    torch::AutoGradMode grad(false);
    ends = f(at::stack({x, x0})).detach().to(at::kCPU, at::kDouble);  // [2, K]
  }
  if (ends.dim() != 2 || ends.size(1) != k)
    throw Error(ErrorCode::InvalidArgument, "integrated gradients: the model gives " + std::to_string(ends.size(-1)) + " outputs for " +
                                                std::to_string(k) + " labels");

  std::vector<int64_t> viewShape{-1};
  for (int64_t d = 0; d < x.dim(); ++d) viewShape.push_back(1);
  std::vector<at::Tensor> sums(k);
  for (auto& s : sums) s = at::zeros(x.sizes(), x.options().dtype(at::kDouble));
  const int64_t n = int64_t(alphas.size());
  for (int64_t i0 = 0; i0 < n; i0 += options.internalBatch) {
    job.throwIfCancelled();
    const int64_t i1 = std::min<int64_t>(n, i0 + options.internalBatch);
    const std::vector<double> a(alphas.begin() + i0, alphas.begin() + i1), w(weights.begin() + i0, weights.begin() + i1);
    const at::Tensor at_ = at::tensor(a, at::TensorOptions().dtype(at::kDouble)).to(x.options()).view(viewShape);
    const at::Tensor wt = at::tensor(w, at::TensorOptions().dtype(at::kDouble)).to(x.device()).view(viewShape);
    torch::AutoGradMode grad(true);
    const at::Tensor points = (x0.unsqueeze(0) + at_ * diff.unsqueeze(0)).detach().requires_grad_(true);
    const at::Tensor out = f(points);  // [b, K]
    for (int64_t c = 0; c < k; ++c) {
      const auto g = torch::autograd::grad({out.select(1, c).sum()}, {points}, {}, /*retain_graph=*/c + 1 < k, false, /*allow_unused=*/true);
      if (g[0].defined()) sums[c] += (g[0].to(at::kDouble) * wt).sum(0);
    }
    job.progress(double(i1) / double(n), "integrated gradients");
  }
  std::vector<IgAttribution> result;
  for (int64_t c = 0; c < k; ++c) {
    IgAttribution r;
    r.label = labels[c];
    const at::Tensor attr = diff.to(at::kDouble) * sums[c];
    r.fInput = ends[0][c].item<double>();
    r.fBaseline = ends[1][c].item<double>();
    r.delta = attr.sum().item<double>() - (r.fInput - r.fBaseline);
    r.attributions = attr.to(at::kCPU, at::kFloat).contiguous();
    result.push_back(std::move(r));
  }
  return result;
}

at::Tensor igBaseline(IgBaseline kind, const at::Tensor& pixels, const std::array<float, 3>& mean, const std::array<float, 3>& std,
                      double blurSigma) {
  if (pixels.dim() != 4 || pixels.size(0) != 1 || pixels.size(1) != 3)
    throw Error(ErrorCode::InvalidArgument, "integrated gradients: pixel values must be [1, 3, S, S]");
  const at::Tensor p = pixels.detach();
  switch (kind) {
    case IgBaseline::Mean: return at::zeros_like(p);
    case IgBaseline::Black: {
      std::vector<float> v;
      for (int c = 0; c < 3; ++c) v.push_back((0.f - mean[c]) / std[c]);
      return at::tensor(v).to(p.options()).view({1, 3, 1, 1}).expand_as(p).contiguous();
    }
    case IgBaseline::Blur: {
      if (!(blurSigma > 0)) throw Error(ErrorCode::InvalidArgument, "integrated gradients: the blur sigma must be positive");
      const int64_t side = std::min(p.size(2), p.size(3));
      const int64_t radius = std::min<int64_t>(int64_t(std::ceil(3 * blurSigma)), side - 1);
      std::vector<float> k;
      double total = 0;
      for (int64_t i = -radius; i <= radius; ++i) total += std::exp(-0.5 * i * i / (blurSigma * blurSigma));
      for (int64_t i = -radius; i <= radius; ++i) k.push_back(float(std::exp(-0.5 * i * i / (blurSigma * blurSigma)) / total));
      const at::Tensor kern = at::tensor(k).to(p.options());
      const int64_t len = 2 * radius + 1;
      at::Tensor x = at::reflection_pad2d(p, {radius, radius, 0, 0});
      x = at::conv2d(x, kern.view({1, 1, 1, len}).expand({3, 1, 1, len}).contiguous(), at::Tensor(), at::IntArrayRef{1, 1}, at::IntArrayRef{0, 0}, at::IntArrayRef{1, 1}, 3);
      x = at::reflection_pad2d(x, {0, 0, radius, radius});
      x = at::conv2d(x, kern.view({1, 1, len, 1}).expand({3, 1, len, 1}).contiguous(), at::Tensor(), at::IntArrayRef{1, 1}, at::IntArrayRef{0, 0}, at::IntArrayRef{1, 1}, 3);
      return x.contiguous();
    }
  }
  return at::zeros_like(p);
}

std::vector<IgAttribution> integratedGradientsPixels(const Target& target, const at::Tensor& baseline, const IgOptions& options,
                                                     const JobContext& job) {
  const at::Tensor x = target.pixels()[0];
  if (baseline.numel() != x.numel())
    throw Error(ErrorCode::InvalidArgument, "integrated gradients: the baseline must have the image's shape [1, 3, S, S]");
  auto f = [&](const at::Tensor& batch) { return target.forward(batch, nullptr); };
  return integratedGradients(f, x, baseline.reshape(x.sizes()).to(x.options()), target.outputLabels(), options, job);
}

std::vector<IgAttribution> integratedGradientsQuestion(const VqaAnswerTarget& target, const IgOptions& options, const JobContext& job) {
  const at::Tensor x = target.questionWordEmbeddings()[0];
  const at::Tensor x0 = target.questionBaselineEmbeddings()[0];
  auto f = [&](const at::Tensor& batch) { return target.forwardQuestionEmbeddings(batch); };
  return integratedGradients(f, x, x0, target.outputLabels(), options, job);
}

at::Tensor igPixelMap(const at::Tensor& attributions) {
  if (attributions.dim() != 3 || attributions.size(0) != 3)
    throw Error(ErrorCode::InvalidArgument, "integrated gradients: pixel attributions must be [3, S, S]");
  return attributions.detach().to(at::kCPU, at::kFloat).sum(0).contiguous();
}

at::Tensor igTokenScores(const at::Tensor& attributions) {
  if (attributions.dim() != 2)
    throw Error(ErrorCode::InvalidArgument, "integrated gradients: question attributions must be [Tq, C]");
  return attributions.detach().to(at::kCPU, at::kFloat).sum(1).contiguous();
}

}  // namespace vlm::explain
