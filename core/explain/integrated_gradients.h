#pragma once
// Integrated gradients (Sundararajan et al. 2017) as Captum computes them (core only: LibTorch
// types).
//
//   IG_i(x) = (x_i - x'_i) * integral_0^1 dF(x' + a (x - x')) / dx_i da
//           ~ (x_i - x'_i) * sum_s w_s dF(x' + a_s (x - x')) / dx_i
// with Captum's two rules for (a_s, w_s):
//   GaussLegendre     a_s = (1 + z_s) / 2, w_s = v_s / 2 with (z_s, v_s) the n-point Gauss-Legendre
//                     nodes and weights on [-1, 1] (numpy.polynomial.legendre.leggauss); exact
//                     for integrands that are polynomials of degree <= 2n - 1 in a.
//   RiemannTrapezoid  a_s = s / (n - 1), w_s = 1 / (n - 1) with the two end weights halved (n >= 2).
// Completeness: sum_i IG_i = F(x) - F(x') exactly for the exact integral; the convergence delta
// sum_i IG_i - (F(x) - F(x')) measures the quadrature error and shrinks as steps grow.
//
// F may have K outputs (every token of a caption at once): one forward pass per batch of path
// points, K gradients.

#include <ATen/core/Tensor.h>

#include <functional>
#include <string>
#include <vector>

#include "common/job.h"
#include "explain/target.h"

namespace vlm::explain {

enum class IgRule { GaussLegendre, RiemannTrapezoid };
const char* toString(IgRule r);

enum class IgBaseline { Black, Blur, Mean };
const char* toString(IgBaseline b);

struct IgOptions {
  int steps = 32;          // n path points
  IgRule rule = IgRule::GaussLegendre;
  int internalBatch = 4;   // path points per forward pass
};

// The rule's n points and weights on [0, 1]. InvalidArgument for n < 1 (n < 2 for the trapezoid).
void igPathPoints(IgRule rule, int steps, std::vector<double>& alphas, std::vector<double>& weights);

struct IgAttribution {
  std::string label;       // the output's label
  at::Tensor attributions; // shaped as the input (without a batch dimension), float32 CPU
  double fInput = 0;       // F(x)
  double fBaseline = 0;    // F(x')
  double delta = 0;        // sum(attributions) - (F(x) - F(x'))
};

// F: a batch [B, ...input shape] -> [B, K]. input and baseline: the same shape (no batch
// dimension). One IgAttribution per output column, labelled by `labels` (K of them).
// Progress per batch of path points; cancellable between batches.
std::vector<IgAttribution> integratedGradients(const std::function<at::Tensor(const at::Tensor&)>& f, const at::Tensor& input,
                                               const at::Tensor& baseline, const std::vector<std::string>& labels,
                                               const IgOptions& options, const JobContext& job = {});

// The baseline image for pixel values [1, 3, S, S] normalised with (mean, std):
//   Black  the pixel values of an all-black image: (0 - mean) / std per channel
//   Mean   the normalisation mean itself: 0 everywhere
//   Blur   the image under a Gaussian blur of `blurSigma` input pixels (reflected borders);
//          the blur is linear, so blurring the normalised values = normalising the blurred image.
at::Tensor igBaseline(IgBaseline kind, const at::Tensor& pixels, const std::array<float, 3>& mean,
                      const std::array<float, 3>& std, double blurSigma);

// Integrated gradients of a target's outputs with respect to its pixel values.
std::vector<IgAttribution> integratedGradientsPixels(const Target& target, const at::Tensor& baseline, const IgOptions& options,
                                                     const JobContext& job = {});
// For VQA: with respect to the question's word embeddings (baseline: [PAD] between [CLS] and
// [SEP]); attributions [Tq, C].
std::vector<IgAttribution> integratedGradientsQuestion(const VqaAnswerTarget& target, const IgOptions& options,
                                                       const JobContext& job = {});

// Pixel attributions [3, S, S] -> the per-pixel map [S, S] (sum over channels, signed).
at::Tensor igPixelMap(const at::Tensor& attributions);
// Question attributions [Tq, C] -> one value per question token [Tq] (sum over the embedding).
at::Tensor igTokenScores(const at::Tensor& attributions);

}  // namespace vlm::explain
