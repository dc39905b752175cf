#pragma once
// Feature sets (the players of a Shapley game) on the model input: the S x S image the
// vision tower sees. A feature is a pixel mask; a coalition hides the union of the masks of
// its absent features (so overlapping features, e.g. user rectangles, are handled
// explicitly: a pixel is visible only while every feature covering it is present; pixels
// covered by no feature are never hidden). No LibTorch, no Qt.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "explain/shapley.h"
#include "io/image.h"
#include "vision/geometry.h"

namespace vlm::explain {

struct FeatureSet {
  std::string kind;         // grid | slic | dff | rects | partition
  std::string description;  // one line, e.g. "grid 4x4 over the 24x24 patch grid"
  int side = 0;             // S: masks are S x S, row-major
  int patchSize = 0;        // P of the model (S / P patches per side)
  std::vector<std::vector<uint8_t>> masks;  // F masks, S*S each, 1 = pixel belongs to the feature
  // Per feature, the model patches (row-major over the (S/P)^2 grid) it consists of, when
  // the mask is exactly a union of whole patches (grid aligned to patches, DFF); empty
  // vector for a feature that cuts through patches.
  std::vector<std::vector<int>> patches;
  std::vector<std::string> labels;          // per feature: "r0c1", "region 3", "concept 2", "rect 1"
  bool disjoint = true;                     // no pixel belongs to two features
  std::optional<Hierarchy> hierarchy;       // binary hierarchy over the features (partition)
  int count() const { return int(masks.size()); }
  bool patchAligned() const;  // every feature is a union of whole patches
};

// S*S bytes, 1 = hidden: the union of the masks of the coalition's absent features.
std::vector<uint8_t> hiddenPixels(const FeatureSet& features, const Coalition& coalition);
// The patches a coalition keeps visible for patch removal: every patch that no absent
// feature touches (ascending). Requires patchAligned() (InvalidArgument otherwise).
std::vector<int> visiblePatches(const FeatureSet& features, const Coalition& coalition);

// rows x cols cells over the input; cell borders are snapped to patch borders when the
// patch grid has at least rows x cols patches (then cells are unions of whole patches).
FeatureSet gridFeatures(int side, int patchSize, int rows, int cols);
// OpenCV ximgproc SLIC (slico = true: SLICO) on the input image (S x S RGB), about
// `regions` superpixels, connectivity enforced; labels renumbered 0..F-1.
FeatureSet slicFeatures(const io::ImageU8& input, int patchSize, int regions, bool slico = true);

// Non-negative matrix factorisation V ~ W H (Lee & Seung multiplicative updates, Frobenius
// loss) with Eigen; V is n x c row-major and non-negative. Deterministic given seed.
struct NmfResult {
  int n = 0, c = 0, k = 0;
  std::vector<float> w;  // n x k row-major
  std::vector<float> h;  // k x c row-major
  double relativeError = 0;  // ||V - WH||_F / ||V||_F
  int iterations = 0;
};
NmfResult nonNegativeFactorisation(const float* v, int n, int c, int k, int maxIterations, uint64_t seed);

// Deep feature factorisation: patch features of a vision layer (gridSide^2 x channels,
// row-major, patch tokens only) are made non-negative (ReLU), factorised into k concepts,
// each concept's map over the patch grid normalised to [0, 1] and thresholded
// (>= threshold) into a mask of whole patches. Empty concepts are dropped.
FeatureSet dffFeatures(const float* activations, int gridSide, int channels, int k, int side,
                       int patchSize, double threshold = 0.5, uint64_t seed = 0);

// One feature per rectangle (input pixel coordinates, clipped); may overlap.
FeatureSet rectFeatures(int side, int patchSize, const std::vector<vision::PixelRect>& inputRects);

// Leaves = a rows x cols grid (as gridFeatures), with a binary hierarchy that splits the
// longer side in half recursively (SHAP's image partition).
FeatureSet partitionFeatures(int side, int patchSize, int rows, int cols);

// --features grid[:RxC] | slic:N | slico:N | dff:LAYER:K | rects:FILE.json | partition[:RxC]
struct FeatureSpec {
  std::string kind;
  int rows = 0, cols = 0;  // 0 = the model's patch grid
  int regions = 0;
  std::string layer;       // dff: a vision layer index or "post_layernorm"
  int concepts = 0;
  std::string file;
};
FeatureSpec parseFeatureSpec(std::string_view text);  // InvalidArgument with the reason

}  // namespace vlm::explain
