#pragma once
// Feature sets (the players of a Shapley game) on the model input: the S x S image the
// vision tower sees. A feature is a pixel mask; a coalition hides the union of the masks of
// its absent features (so overlapping features, e.g. user rectangles, are handled
// explicitly: a pixel is visible only while every feature covering it is present; pixels
// covered by no feature are never hidden). No LibTorch, no Qt.
//
// Every builder throws vlm::Error InvalidArgument, naming the offending value, for bad sizes:
// side or patch size < 1, a side that is not a multiple of the patch size, and the
// builder-specific limits below. `patches` and `disjoint` are always computed from the masks.

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
  bool patchAligned() const;  // every feature is a union of whole patches (true for none)
};

// S*S bytes, 1 = hidden: the union of the masks of the coalition's absent features.
std::vector<uint8_t> hiddenPixels(const FeatureSet& features, const Coalition& coalition);
// The patches a coalition keeps visible for patch removal: every patch that no absent
// feature touches (ascending). Requires patchAligned() (InvalidArgument otherwise).
std::vector<int> visiblePatches(const FeatureSet& features, const Coalition& coalition);

// rows x cols cells over the input (1 <= rows, cols <= side), row-major, labelled "r{row}c{col}".
// With g = S / P patches per side: when g >= rows and g >= cols, cell i spans the patches
// [floor(i*g/rows), floor((i+1)*g/rows)) (cells are unions of whole patches, sizes differ by
// at most one patch); otherwise cell borders lie at floor(i*S/rows) pixels.
FeatureSet gridFeatures(int side, int patchSize, int rows, int cols);
// OpenCV ximgproc SLIC (slico = true: SLICO) on the input image (S x S RGB) converted to CIELAB,
// about `regions` superpixels (region size max(4, round(sqrt(S*S / regions))) px, ruler 10,
// 10 iterations), connectivity enforced (fragments under 25% of a region join a neighbour).
// Labels are renumbered 0..F-1 by first appearance in a raster scan ("region {i}"), so the
// numbering does not depend on OpenCV's seeding order.
//
// SLIC keeps superpixels on one side of strong colour edges. SLICO (OpenCV's port, like
// Achanta's code) ignores the ruler and scales each cluster's colour term by a running maximum
// colour distance, which on large flat-colour areas (diagrams, synthetic images) lets
// superpixels cross edges; on photographs it gives more regular shapes. Deterministic: the
// centroid sums OpenCV parallelises add whole numbers (8-bit values, pixel coordinates), exact
// in float, whatever the order, while a cluster stays under 2^24 / max(255, S) pixels.
FeatureSet slicFeatures(const io::ImageU8& input, int patchSize, int regions, bool slico = true);

// Non-negative matrix factorisation V ~ W H (Lee & Seung multiplicative updates, Frobenius
// loss) with Eigen, in double precision; V is n x c row-major, finite and non-negative
// (InvalidArgument naming the first bad entry otherwise), 1 <= k <= min(n, c). W and H start
// uniform in (0, 1] scaled by sqrt(mean(V) / k), from std::mt19937_64(seed) raw outputs, so the
// result is the same on every platform. Stops after maxIterations (>= 1), or earlier when 10
// iterations improve the relative error by less than 1e-6. V = 0 gives W = 0, H = 0, error 0.
struct NmfResult {
  int n = 0, c = 0, k = 0;
  std::vector<float> w;  // n x k row-major
  std::vector<float> h;  // k x c row-major
  double relativeError = 0;  // ||V - WH||_F / ||V||_F
  int iterations = 0;
};
NmfResult nonNegativeFactorisation(const float* v, int n, int c, int k, int maxIterations, uint64_t seed);

// Deep feature factorisation (Collins et al. 2018): patch features of a vision layer
// (gridSide^2 x channels, row-major, patch tokens only; side == gridSide * patchSize) are made
// non-negative, factorised into k concepts (NMF, at most 400 iterations), each concept's map
// over the patch grid (its column of W) normalised by its maximum to [0, 1] and thresholded
// (>= threshold, in (0, 1]) into a mask of whole patches. Concepts no patch expresses are
// dropped; the rest are labelled "concept 0".."concept F-1" in NMF order.
//
// ViT features are signed (no ReLU follows a transformer block) while DFF factorises post-ReLU
// CNN activations: we take max(x, 0), keeping the positive evidence as additive parts rather
// than shifting the data (which would make every patch share a large offset concept).
// Non-finite activations are refused. Concepts may overlap (disjoint is false then).
FeatureSet dffFeatures(const float* activations, int gridSide, int channels, int k, int side,
                       int patchSize, double threshold = 0.5, uint64_t seed = 0);

// One feature per rectangle (input pixel coordinates, clipped to the S x S input), labelled
// "rect {i}"; may overlap. InvalidArgument for no rectangles, an empty rectangle or one
// entirely outside the input.
FeatureSet rectFeatures(int side, int patchSize, const std::vector<vision::PixelRect>& inputRects);

// One feature per mask (S*S bytes over the input, nonzero = in; non-empty); may overlap.
FeatureSet maskFeatures(int side, int patchSize, std::vector<std::vector<uint8_t>> inputMasks);

// Leaves = a rows x cols grid (as gridFeatures), with a binary hierarchy (SHAP's image
// partition): the root holds every cell; a node over the cells [r0, r1) x [c0, c1) splits its
// longer side (in cells; ties split the rows) at the middle (floor) into its left/top and
// right/bottom children; a single cell is a leaf. Node players are cell indices, ascending;
// nodes are stored in preorder (root = 0).
FeatureSet partitionFeatures(int side, int patchSize, int rows, int cols);

// --features grid[:RxC] | slic:N | slico:N | dff:LAYER:K | rects:FILE.json | masks:A.png[,B.png...] | partition[:RxC]
// Numbers are whole numbers >= 1 (digits only); FILE is everything after "rects:" (it may
// contain ':'); LAYER is kept as text (the caller resolves it against the model).
struct FeatureSpec {
  std::string kind;        // grid | slic | slico | dff | rects | partition
  int rows = 0, cols = 0;  // 0 = the model's patch grid
  int regions = 0;
  std::string layer;       // dff: a vision layer index or "post_layernorm"
  int concepts = 0;
  std::string file;                // rects: the JSON file
  std::vector<std::string> files;  // masks: the mask images
};
// InvalidArgument with the reason and the accepted forms.
FeatureSpec parseFeatureSpec(std::string_view text);

// The feature sets that need nothing but the input image (S x S): grid, partition (rows / cols 0
// = the patch grid), slic, slico. std::nullopt for the kinds that need more (dff, rects, masks).
std::optional<FeatureSet> pixelFeatures(const FeatureSpec& spec, const io::ImageU8& input, int patchSize);

}  // namespace vlm::explain
