#pragma once
// The Grad-CAM family on vision-language models (core only: LibTorch types; the app and the
// UI do not include this header).
//
// Vision-layer maps, from A = the output of a vision layer [1+N, C] (CLS first, dropped) and
// G = dY/dA, both reshaped to the patch grid g x g (N = g*g):
//   GradCam             map = ReLU( sum_c w_c A_c ),  w_c = mean over patches of G_c
//   HiResCam            map = ReLU( sum_c G_c * A_c )            (element-wise, per patch)
//   GradTimesActivation map = sum_c G_c * A_c                    (signed, no ReLU)
// Cross-attention Grad-CAM (BLIP paper): P = cross-attention probabilities of text layer K
// [H, T, 1+N] and G = dY/dP; for the query row q = t-1 that predicts token t,
//   map = mean over heads h of ReLU( P[h, q, 1:] * G[h, q, 1:] ),  on the patch grid.
// Raw maps are [g, g] float32 on the CPU; normalizeMap() brings them to [0, 1] and
// upsampleMap() to an image size.
//
// explainVision()/explainCrossAttention() run the target's forward pass once and take one
// gradient per target output (retain_graph), so a TokenSelection::each() target gives every
// token's map for the cost of one forward pass; each map equals the one of the single-token
// target.

#include <ATen/core/Tensor.h>

#include <string>
#include <vector>

#include "explain/target.h"

namespace vlm::explain {

enum class CamMethod { GradCam, HiResCam, GradTimesActivation };
const char* toString(CamMethod m);

// --- the formulas on plain tensors --------------------------------------------------------

// activations, gradients: [1+N, C] (CLS first) -> raw map [g, g]. InvalidArgument when the
// shapes differ or N is not a square.
at::Tensor camFromTokens(const at::Tensor& activations, const at::Tensor& gradients, CamMethod method);
// probs, gradients: [H, T, 1+N]; 0 <= queryPosition < T -> raw map [g, g]. queryPosition -1:
// the mean over every query row too (VQA: the question tokens' cross-attention to the image).
at::Tensor crossAttentionCam(const at::Tensor& probs, const at::Tensor& gradients, int64_t queryPosition);
// A map with no negative value is divided by its maximum; a map with negative values is
// min-max scaled. A constant map (e.g. all zero) becomes all zero. [g, g] -> [g, g]
at::Tensor normalizeMap(const at::Tensor& map);
// Bilinear (align_corners = false, as torch.nn.functional.interpolate) [h, w] -> [height, width].
at::Tensor upsampleMap(const at::Tensor& map, int64_t height, int64_t width);

// --- on a model --------------------------------------------------------------------------

struct CamMap {
  std::string label;   // the target output's label ("token 3", "caption", "cosine", ...)
  double y = 0;        // the explained scalar's value
  at::Tensor raw;      // [g, g]
  at::Tensor normalized;  // [g, g] in [0, 1]
};

// Grad-CAM on vision layer `layer` (0..L-1, or kPostLayernorm where the target has it): one
// map per target output. InvalidArgument for an out-of-range layer.
std::vector<CamMap> explainVision(const Target& target, int64_t layer, CamMethod method = CamMethod::GradCam);
// The same for several layers with one forward pass (layer-evolution views).
std::vector<std::vector<CamMap>> explainVisionLayers(const Target& target, const std::vector<int64_t>& layers,
                                                     CamMethod method = CamMethod::GradCam);
// Cross-attention Grad-CAM on text layer `textLayer`. Captioning: the query row that predicts
// each token (a whole-caption output is InvalidArgument); VQA: the question encoder's
// cross-attention to the image, averaged over the question tokens (any output). InvalidArgument
// for a target without cross-attention to the image (CLIP).
std::vector<CamMap> explainCrossAttention(const Target& target, int64_t textLayer);

}  // namespace vlm::explain
