// VLM_TEST_LABELS: fast
// Feature sets for Shapley explanations (explain/features.h): grid cells snapped to patches,
// SLIC superpixels, NMF and deep feature factorisation, rectangles, the partition hierarchy,
// the coalition -> hidden pixels / visible patches maps and the --features parser. Expected
// values are derived by hand in the comments.
#include "error_testing.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <set>

#include "explain/features.h"

using namespace vlm;
using namespace vlm::explain;

namespace {

// The S x S mask of the half-open pixel rectangle [x0, x1) x [y0, y1), built independently of
// the code under test.
std::vector<uint8_t> boxMask(int side, int x0, int y0, int x1, int y1) {
  std::vector<uint8_t> m(size_t(side) * side, 0);
  for (int y = y0; y < y1; ++y)
    for (int x = x0; x < x1; ++x) m[size_t(y) * side + x] = 1;
  return m;
}

// How many features cover each pixel.
std::vector<int> coverage(const FeatureSet& fs) {
  std::vector<int> c(size_t(fs.side) * fs.side, 0);
  for (const auto& m : fs.masks)
    for (size_t i = 0; i < m.size(); ++i) c[i] += m[i];
  return c;
}

bool maskAt(const std::vector<uint8_t>& mask, int side, int x, int y) { return mask[size_t(y) * side + x] != 0; }

// 64 x 64 image of four flat colours, one per 32 x 32 quadrant (q = 2 * (y >= 32) + (x >= 32)).
constexpr uint8_t kQuadrantColours[4][3] = {{200, 30, 30}, {30, 180, 40}, {20, 40, 200}, {230, 220, 40}};
int quadrantOf(int x, int y) { return 2 * (y >= 32) + (x >= 32); }
io::ImageU8 quadrantImage() {
  io::ImageU8 img;
  img.width = img.height = 64;
  img.rgb.resize(64 * 64 * 3);
  for (int y = 0; y < 64; ++y)
    for (int x = 0; x < 64; ++x) std::copy_n(kQuadrantColours[quadrantOf(x, y)], 3, img.pixel(x, y));
  return img;
}

// Which quadrants a 64 x 64 mask touches (bit q).
int quadrantsTouched(const std::vector<uint8_t>& mask) {
  int bits = 0;
  for (int y = 0; y < 64; ++y)
    for (int x = 0; x < 64; ++x)
      if (maskAt(mask, 64, x, y)) bits |= 1 << quadrantOf(x, y);
  return bits;
}

// The players of every node, with the structural rules validateHierarchy enforces: a leaf has
// exactly one player, an inner node's two children partition its players.
void checkHierarchyShape(const Hierarchy& h, int players) {
  QVERIFY(h.root >= 0 && h.root < int(h.nodes.size()));
  std::vector<int> all(players);
  std::iota(all.begin(), all.end(), 0);
  QCOMPARE(h.nodes[h.root].players, all);
  int leaves = 0;
  std::set<int> leafPlayers;
  for (const auto& node : h.nodes) {
    QVERIFY((node.left < 0) == (node.right < 0));
    if (node.left < 0) {
      QCOMPARE(int(node.players.size()), 1);
      leafPlayers.insert(node.players[0]);
      ++leaves;
      continue;
    }
    std::vector<int> merged = h.nodes[node.left].players;
    merged.insert(merged.end(), h.nodes[node.right].players.begin(), h.nodes[node.right].players.end());
    std::sort(merged.begin(), merged.end());
    QCOMPARE(merged, node.players);
    QVERIFY(!h.nodes[node.left].players.empty() && !h.nodes[node.right].players.empty());
  }
  QCOMPARE(leaves, players);
  QCOMPARE(int(leafPlayers.size()), players);
  QCOMPARE(int(h.nodes.size()), 2 * players - 1);
}

std::vector<int> childPlayers(const Hierarchy& h, int node, bool left) {
  return h.nodes[left ? h.nodes[node].left : h.nodes[node].right].players;
}

}  // namespace

class TestFeatures : public QObject {
  Q_OBJECT

 private Q_SLOTS:
  // S = 64, P = 16: a 4 x 4 patch grid; 2 x 2 cells of 2 x 2 patches = 32 x 32 pixels.
  //   r0c0 = patches {0, 1, 4, 5}, r0c1 = {2, 3, 6, 7}, r1c0 = {8, 9, 12, 13}, r1c1 = {10, 11, 14, 15}
  void gridTwoByTwo() {
    const FeatureSet fs = gridFeatures(64, 16, 2, 2);
    QCOMPARE(fs.kind, std::string("grid"));
    QCOMPARE(fs.count(), 4);
    QCOMPARE(fs.side, 64);
    QCOMPARE(fs.patchSize, 16);
    QCOMPARE(fs.labels, (std::vector<std::string>{"r0c0", "r0c1", "r1c0", "r1c1"}));
    QVERIFY(fs.masks[0] == boxMask(64, 0, 0, 32, 32));
    QVERIFY(fs.masks[1] == boxMask(64, 32, 0, 64, 32));
    QVERIFY(fs.masks[2] == boxMask(64, 0, 32, 32, 64));
    QVERIFY(fs.masks[3] == boxMask(64, 32, 32, 64, 64));
    QCOMPARE(fs.patches[0], (std::vector<int>{0, 1, 4, 5}));
    QCOMPARE(fs.patches[1], (std::vector<int>{2, 3, 6, 7}));
    QCOMPARE(fs.patches[2], (std::vector<int>{8, 9, 12, 13}));
    QCOMPARE(fs.patches[3], (std::vector<int>{10, 11, 14, 15}));
    QVERIFY(fs.patchAligned());
    QVERIFY(fs.disjoint);
    QVERIFY(!fs.hierarchy);
    QVERIFY(fs.description.find("2x2") != std::string::npos);
    QVERIFY(fs.description.find("16-px patches") != std::string::npos);
  }

  // 3 x 3 cells on a 4 x 4 patch grid: cell i spans patches [floor(i*4/3), floor((i+1)*4/3))
  // = [0,1), [1,2), [2,4), i.e. pixels [0,16), [16,32), [32,64) (not floor(i*64/3) = 21, 42).
  void gridSnapsToPatchBorders() {
    const FeatureSet fs = gridFeatures(64, 16, 3, 3);
    QCOMPARE(fs.count(), 9);
    const int border[4] = {0, 16, 32, 64};
    for (int r = 0; r < 3; ++r)
      for (int c = 0; c < 3; ++c)
        QVERIFY(fs.masks[r * 3 + c] == boxMask(64, border[c], border[r], border[c + 1], border[r + 1]));
    QCOMPARE(fs.patches[0], std::vector<int>{0});
    QCOMPARE(fs.patches[2], (std::vector<int>{2, 3}));
    QCOMPARE(fs.patches[6], (std::vector<int>{8, 12}));
    QCOMPARE(fs.patches[8], (std::vector<int>{10, 11, 14, 15}));
    QCOMPARE(fs.labels[5], std::string("r1c2"));
    QVERIFY(fs.patchAligned());
    // Rows and columns snap independently: 1 x 3 on the same grid.
    const FeatureSet wide = gridFeatures(64, 16, 1, 3);
    QCOMPARE(wide.patches[2], (std::vector<int>{2, 3, 6, 7, 10, 11, 14, 15}));
  }

  // 8 x 8 cells on a 4 x 4 patch grid: 8-pixel cells, half a patch each -> no feature is a union
  // of whole patches; patch removal is refused.
  void gridFinerThanPatches() {
    const FeatureSet fs = gridFeatures(64, 16, 8, 8);
    QCOMPARE(fs.count(), 64);
    QVERIFY(fs.masks[9] == boxMask(64, 8, 8, 16, 16));  // r1c1
    for (const auto& p : fs.patches) QVERIFY(p.empty());
    QVERIFY(!fs.patchAligned());
    QVERIFY(fs.disjoint);
    VLM_EXPECT_ERROR(visiblePatches(fs, Coalition(64, 1)), ErrorCode::InvalidArgument, "cut through patches",
                     "dff");
    // One patch of 64 px, 3 rows: borders at floor(i * 64 / 3) = 0, 21, 42, 64.
    const FeatureSet thirds = gridFeatures(64, 64, 3, 1);
    QVERIFY(thirds.masks[0] == boxMask(64, 0, 0, 64, 21));
    QVERIFY(thirds.masks[1] == boxMask(64, 0, 21, 64, 42));
    QVERIFY(thirds.masks[2] == boxMask(64, 0, 42, 64, 64));
    QVERIFY(!thirds.patchAligned());
  }

  // Whatever the shape, grid cells partition the input: every pixel in exactly one cell.
  void gridCoversEveryPixelOnce() {
    for (auto [side, p, rows, cols] : {std::tuple{64, 16, 2, 2}, {64, 16, 3, 3}, {64, 8, 5, 7}, {48, 16, 7, 5},
                                       {30, 10, 30, 1}, {384, 16, 24, 24}}) {
      const FeatureSet fs = gridFeatures(side, p, rows, cols);
      QCOMPARE(fs.count(), rows * cols);
      const auto c = coverage(fs);
      QVERIFY(std::all_of(c.begin(), c.end(), [](int n) { return n == 1; }));
      QVERIFY(fs.disjoint);
      for (const auto& m : fs.masks) QVERIFY(std::find(m.begin(), m.end(), 1) != m.end());
    }
  }

  void gridRejectsBadSizes() {
    VLM_EXPECT_ERROR(gridFeatures(64, 12, 2, 2), ErrorCode::InvalidArgument, "64", "12");
    VLM_EXPECT_ERROR(gridFeatures(0, 16, 2, 2), ErrorCode::InvalidArgument, "0");
    VLM_EXPECT_ERROR(gridFeatures(64, 0, 2, 2), ErrorCode::InvalidArgument, "patch size");
    VLM_EXPECT_ERROR(gridFeatures(64, 16, 0, 2), ErrorCode::InvalidArgument, "rows", "0");
    VLM_EXPECT_ERROR(gridFeatures(64, 16, 2, 65), ErrorCode::InvalidArgument, "columns", "65");
  }

  // Grid 2 x 2, cells r0c1 and r1c1 absent: their patches {2,3,6,7} and {10,11,14,15} go,
  // the left half's {0,1,4,5,8,9,12,13} stay; the hidden pixels are the right half.
  void coalitionOnGrid() {
    const FeatureSet fs = gridFeatures(64, 16, 2, 2);
    const Coalition c{1, 0, 1, 0};
    QCOMPARE(visiblePatches(fs, c), (std::vector<int>{0, 1, 4, 5, 8, 9, 12, 13}));
    QVERIFY(hiddenPixels(fs, c) == boxMask(64, 32, 0, 64, 64));
    std::vector<int> all(16);
    std::iota(all.begin(), all.end(), 0);
    QCOMPARE(visiblePatches(fs, Coalition(4, 1)), all);
    QVERIFY(visiblePatches(fs, Coalition(4, 0)).empty());
    QVERIFY(hiddenPixels(fs, Coalition(4, 1)) == std::vector<uint8_t>(64 * 64, 0));
    QVERIFY(hiddenPixels(fs, Coalition(4, 0)) == std::vector<uint8_t>(64 * 64, 1));
    VLM_EXPECT_ERROR(hiddenPixels(fs, Coalition(3, 1)), ErrorCode::InvalidArgument, "3", "4");
    VLM_EXPECT_ERROR(visiblePatches(fs, Coalition(5, 1)), ErrorCode::InvalidArgument, "5", "4");
  }

  // A = [0,20)^2 and B = [10,30)^2 overlap on [10,20)^2. A pixel there is hidden when A or B is
  // absent and visible only when both are present; pixels in neither are never hidden.
  void overlappingRects() {
    const FeatureSet fs = rectFeatures(32, 8, {{0, 0, 20, 20}, {10, 10, 20, 20}});
    QCOMPARE(fs.kind, std::string("rects"));
    QCOMPARE(fs.labels, (std::vector<std::string>{"rect 0", "rect 1"}));
    QVERIFY(!fs.disjoint);
    QVERIFY(!fs.patchAligned());  // 20 px edges cut through 8-px patches
    QVERIFY(fs.masks[0] == boxMask(32, 0, 0, 20, 20));
    QVERIFY(fs.masks[1] == boxMask(32, 10, 10, 30, 30));
    struct Probe {
      int x, y;
      bool inA, inB;
    };
    const Probe probes[] = {{15, 15, true, true}, {5, 5, true, false}, {25, 25, false, true}, {31, 0, false, false},
                            {10, 10, true, true}, {19, 19, true, true}, {20, 20, false, true}};
    for (uint8_t a : {0, 1})
      for (uint8_t b : {0, 1}) {
        const auto hidden = hiddenPixels(fs, Coalition{a, b});
        for (const Probe& p : probes) {
          const bool expected = (p.inA && !a) || (p.inB && !b);
          QCOMPARE(maskAt(hidden, 32, p.x, p.y), expected);
        }
        // Whole-image identity: hidden = (A and A absent) or (B and B absent).
        for (int i = 0; i < 32 * 32; ++i)
          QCOMPARE(hidden[i] != 0, (fs.masks[0][i] && !a) || (fs.masks[1][i] && !b));
      }
  }

  // Rects are clipped to the input; a rect on patch borders is a union of whole patches.
  void rectClippingAndPatches() {
    const FeatureSet fs = rectFeatures(32, 8, {{8, 8, 16, 16}, {-5, -5, 10, 10}, {24, 16, 100, 100}});
    QVERIFY(fs.masks[0] == boxMask(32, 8, 8, 24, 24));
    QCOMPARE(fs.patches[0], (std::vector<int>{5, 6, 9, 10}));
    QVERIFY(fs.masks[1] == boxMask(32, 0, 0, 5, 5));
    QVERIFY(fs.patches[1].empty());
    QVERIFY(fs.masks[2] == boxMask(32, 24, 16, 32, 32));
    QCOMPARE(fs.patches[2], (std::vector<int>{11, 15}));
    QVERIFY(fs.disjoint);
    const FeatureSet aligned = rectFeatures(32, 8, {{0, 0, 16, 8}, {8, 0, 8, 16}});
    QVERIFY(aligned.patchAligned());
    QVERIFY(!aligned.disjoint);  // both hold patch 1
    // Absent rect 0 removes patches {0, 1}; rect 1 ({1, 5}) present does not bring 1 back.
    QCOMPARE(visiblePatches(aligned, Coalition{0, 1}),
             (std::vector<int>{2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}));
    VLM_EXPECT_ERROR(rectFeatures(32, 8, {}), ErrorCode::InvalidArgument, "rectangle");
    VLM_EXPECT_ERROR(rectFeatures(32, 8, {{0, 0, 4, 4}, {40, 0, 5, 5}}), ErrorCode::InvalidArgument, "rect 1",
                     "outside", "32");
    VLM_EXPECT_ERROR(rectFeatures(32, 8, {{0, 0, 0, 4}}), ErrorCode::InvalidArgument, "rect 0", "empty");
    VLM_EXPECT_ERROR(rectFeatures(32, 8, {{2147483000, 0, 2000, 4}}), ErrorCode::InvalidArgument, "outside");
  }

  // Four flat 32 x 32 quadrants: SLIC superpixels never cross a colour edge, cover the image
  // exactly once, and are numbered by first appearance in a raster scan.
  void slicRespectsColourEdges() {
    const io::ImageU8 img = quadrantImage();
    for (int regions : {4, 9, 16, 64}) {
      const FeatureSet fs = slicFeatures(img, 16, regions, /*slico=*/false);
      QCOMPARE(fs.kind, std::string("slic"));
      QVERIFY(fs.count() >= 4);
      const auto c = coverage(fs);
      QVERIFY(std::all_of(c.begin(), c.end(), [](int n) { return n == 1; }));
      QVERIFY(fs.disjoint);
      for (const auto& m : fs.masks) {
        const int q = quadrantsTouched(m);
        QVERIFY2(q != 0 && (q & (q - 1)) == 0, ("regions " + std::to_string(regions)).c_str());
      }
      QVERIFY(maskAt(fs.masks[0], 64, 0, 0));
      // Region i+1 first appears after region i's first pixel in raster order.
      std::vector<int> first;
      for (const auto& m : fs.masks) first.push_back(int(std::find(m.begin(), m.end(), 1) - m.begin()));
      QVERIFY(std::is_sorted(first.begin(), first.end()));
      QCOMPARE(fs.labels.back(), "region " + std::to_string(fs.count() - 1));
    }
    // About 4 regions: the seeds sit at the quadrant centres, so the superpixels are the
    // quadrants, i.e. whole patches.
    const FeatureSet four = slicFeatures(img, 16, 4, false);
    QCOMPARE(four.count(), 4);
    QVERIFY(four.masks[0] == boxMask(64, 0, 0, 32, 32));
    QVERIFY(four.masks[3] == boxMask(64, 32, 32, 64, 64));
    QCOMPARE(four.patches[1], (std::vector<int>{2, 3, 6, 7}));
    QVERIFY(four.patchAligned());
  }

  // Same image, same call: the same superpixels (SLIC and SLICO); SLICO also covers the image.
  void slicIsDeterministic() {
    const io::ImageU8 img = quadrantImage();
    io::ImageU8 textured = img;
    for (size_t i = 0; i < textured.rgb.size(); ++i) textured.rgb[i] = uint8_t(textured.rgb[i] + (i * 7919 % 13));
    for (bool slico : {false, true})
      for (const io::ImageU8* im : {&img, static_cast<const io::ImageU8*>(&textured)}) {
        const FeatureSet a = slicFeatures(*im, 16, 16, slico);
        const FeatureSet b = slicFeatures(*im, 16, 16, slico);
        QCOMPARE(a.count(), b.count());
        QVERIFY(a.masks == b.masks);
        QCOMPARE(a.labels, b.labels);
        const auto c = coverage(a);
        QVERIFY(std::all_of(c.begin(), c.end(), [](int n) { return n == 1; }));
      }
    QVERIFY(slicFeatures(img, 16, 16, true).description.find("SLICO") != std::string::npos);
  }

  void slicRejectsBadInput() {
    const io::ImageU8 img = quadrantImage();
    VLM_EXPECT_ERROR(slicFeatures(img, 16, 0), ErrorCode::InvalidArgument, "0");
    VLM_EXPECT_ERROR(slicFeatures(img, 12, 10), ErrorCode::InvalidArgument, "64", "12");
    io::ImageU8 wide;
    wide.width = 64;
    wide.height = 32;
    wide.rgb.assign(64 * 32 * 3, 0);
    VLM_EXPECT_ERROR(slicFeatures(wide, 16, 4), ErrorCode::InvalidArgument, "64 x 32");
    VLM_EXPECT_ERROR(slicFeatures(io::ImageU8{}, 16, 4), ErrorCode::InvalidArgument, "empty");
  }

  // V = W0 H0 with W0 (6 x 2) and H0 (2 x 5) positive: rank 2, so a rank-2 NMF reconstructs it.
  void nmfReconstructsRankTwo() {
    const double w0[6][2] = {{1, 0.2}, {0.5, 2}, {3, 1}, {0.1, 0.7}, {2, 2}, {0.3, 0.1}};
    const double h0[2][5] = {{1, 0.5, 0.2, 2, 0.1}, {0.3, 1, 2, 0.1, 1.5}};
    std::vector<float> v(6 * 5);
    for (int i = 0; i < 6; ++i)
      for (int j = 0; j < 5; ++j) v[i * 5 + j] = float(w0[i][0] * h0[0][j] + w0[i][1] * h0[1][j]);
    const NmfResult r = nonNegativeFactorisation(v.data(), 6, 5, 2, 5000, 7);
    QCOMPARE(r.n, 6);
    QCOMPARE(r.c, 5);
    QCOMPARE(r.k, 2);
    QCOMPARE(int(r.w.size()), 12);
    QCOMPARE(int(r.h.size()), 10);
    QVERIFY2(r.relativeError < 1e-3, std::to_string(r.relativeError).c_str());
    QVERIFY(r.iterations >= 1 && r.iterations <= 5000);
    double err2 = 0, norm2 = 0, maxDiff = 0;
    for (int i = 0; i < 6; ++i)
      for (int j = 0; j < 5; ++j) {
        const double wh = double(r.w[i * 2]) * r.h[j] + double(r.w[i * 2 + 1]) * r.h[5 + j];
        err2 += (wh - v[i * 5 + j]) * (wh - v[i * 5 + j]);
        norm2 += double(v[i * 5 + j]) * v[i * 5 + j];
        maxDiff = std::max(maxDiff, std::abs(wh - v[i * 5 + j]));
      }
    QVERIFY2(maxDiff < 1e-2, std::to_string(maxDiff).c_str());
    // The reported error is the error of the returned factors (up to float rounding).
    QVERIFY(std::abs(std::sqrt(err2 / norm2) - r.relativeError) < 1e-5);
    for (float x : r.w) QVERIFY(x >= 0);
    for (float x : r.h) QVERIFY(x >= 0);
    // Deterministic given the seed.
    const NmfResult again = nonNegativeFactorisation(v.data(), 6, 5, 2, 5000, 7);
    QVERIFY(again.w == r.w && again.h == r.h && again.iterations == r.iterations);
    // The iteration cap is honoured.
    QCOMPARE(nonNegativeFactorisation(v.data(), 6, 5, 2, 3, 7).iterations, 3);
  }

  void nmfRejectsBadInput() {
    std::vector<float> v(12, 1.f);
    v[7] = -0.5f;
    VLM_EXPECT_ERROR(nonNegativeFactorisation(v.data(), 3, 4, 2, 10, 0), ErrorCode::InvalidArgument,
                     "non-negative", "-0.5", "row 1", "column 3");
    v[7] = std::nanf("");
    VLM_EXPECT_ERROR(nonNegativeFactorisation(v.data(), 3, 4, 2, 10, 0), ErrorCode::InvalidArgument,
                     "non-negative");
    v[7] = 1.f;
    VLM_EXPECT_ERROR(nonNegativeFactorisation(v.data(), 3, 4, 0, 10, 0), ErrorCode::InvalidArgument, "0");
    VLM_EXPECT_ERROR(nonNegativeFactorisation(v.data(), 3, 4, 4, 10, 0), ErrorCode::InvalidArgument, "3", "4");
    VLM_EXPECT_ERROR(nonNegativeFactorisation(v.data(), 0, 4, 1, 10, 0), ErrorCode::InvalidArgument, "0 x 4");
    // All zeros is exactly W = 0, H = 0.
    const std::vector<float> zero(12, 0.f);
    const NmfResult z = nonNegativeFactorisation(zero.data(), 3, 4, 2, 10, 0);
    QCOMPARE(z.relativeError, 0.0);
    QVERIFY(std::all_of(z.w.begin(), z.w.end(), [](float x) { return x == 0; }));
  }

  // A 4 x 4 patch grid (P = 8, S = 32), 6 channels. Patches in the left half carry feature a,
  // the right half b, a and b non-negative with disjoint supports (orthogonal); a's zero
  // channels are negative in the input, which the ReLU removes. With k = 2 the concepts are
  // exactly the two halves.
  void dffSeparatesHalves() {
    const float a[6] = {1, 2, -1, -3, 3, -2};  // ReLU -> (1, 2, 0, 0, 3, 0)
    const float b[6] = {0, 0, 2, 1, 0, 1};
    std::vector<float> act(16 * 6);
    for (int p = 0; p < 16; ++p) std::copy_n(p % 4 < 2 ? a : b, 6, act.data() + p * 6);
    const FeatureSet fs = dffFeatures(act.data(), 4, 6, 2, 32, 8, 0.5, 3);
    QCOMPARE(fs.kind, std::string("dff"));
    QCOMPARE(fs.count(), 2);
    QCOMPARE(fs.labels, (std::vector<std::string>{"concept 0", "concept 1"}));
    const auto left = boxMask(32, 0, 0, 16, 32), right = boxMask(32, 16, 0, 32, 32);
    const bool leftFirst = fs.masks[0] == left;
    QVERIFY(fs.masks[leftFirst ? 0 : 1] == left);
    QVERIFY(fs.masks[leftFirst ? 1 : 0] == right);
    QCOMPARE(fs.patches[leftFirst ? 0 : 1], (std::vector<int>{0, 1, 4, 5, 8, 9, 12, 13}));
    QVERIFY(fs.patchAligned());
    QVERIFY(fs.disjoint);
    QVERIFY(fs.description.find("k = 2") != std::string::npos);
    QVERIFY(fs.description.find(">= 0.5 ") != std::string::npos);
    // Same seed, same concepts.
    QVERIFY(dffFeatures(act.data(), 4, 6, 2, 32, 8, 0.5, 3).masks == fs.masks);
    QCOMPARE(visiblePatches(fs, leftFirst ? Coalition{1, 0} : Coalition{0, 1}),
             (std::vector<int>{0, 1, 4, 5, 8, 9, 12, 13}));
  }

  void dffRejectsBadInput() {
    const std::vector<float> act(16 * 6, 1.f);
    VLM_EXPECT_ERROR(dffFeatures(act.data(), 4, 6, 2, 64, 8), ErrorCode::InvalidArgument, "4x4", "64");
    VLM_EXPECT_ERROR(dffFeatures(act.data(), 4, 6, 0, 32, 8), ErrorCode::InvalidArgument, "0");
    VLM_EXPECT_ERROR(dffFeatures(act.data(), 4, 6, 7, 32, 8), ErrorCode::InvalidArgument, "6", "7");
    VLM_EXPECT_ERROR(dffFeatures(act.data(), 4, 6, 2, 32, 8, 0.0), ErrorCode::InvalidArgument, "threshold");
    VLM_EXPECT_ERROR(dffFeatures(act.data(), 4, 6, 2, 32, 8, 1.5), ErrorCode::InvalidArgument, "1.5");
    std::vector<float> bad = act;
    bad[6 * 5 + 2] = -std::numeric_limits<float>::infinity();  // patch 5, channel 2
    VLM_EXPECT_ERROR(dffFeatures(bad.data(), 4, 6, 2, 32, 8), ErrorCode::InvalidArgument, "finite", "patch 5",
                     "channel 2");
  }

  // 4 x 4 cells: rows tie with columns -> split rows: top {0..7}, bottom {8..15}; a 2 x 4 half
  // splits its columns: {0,1,4,5} | {2,3,6,7}; a 2 x 2 quarter ties -> rows: {0,1} | {4,5};
  // a 1 x 2 pair -> {0} | {1}.
  void partitionFourByFour() {
    const FeatureSet fs = partitionFeatures(64, 16, 4, 4);
    QCOMPARE(fs.kind, std::string("partition"));
    QCOMPARE(fs.count(), 16);
    QVERIFY(fs.hierarchy.has_value());
    const Hierarchy& h = *fs.hierarchy;
    checkHierarchyShape(h, 16);
    const int root = h.root;
    QCOMPARE(childPlayers(h, root, true), (std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7}));
    QCOMPARE(childPlayers(h, root, false), (std::vector<int>{8, 9, 10, 11, 12, 13, 14, 15}));
    const int top = h.nodes[root].left;
    QCOMPARE(childPlayers(h, top, true), (std::vector<int>{0, 1, 4, 5}));
    QCOMPARE(childPlayers(h, top, false), (std::vector<int>{2, 3, 6, 7}));
    const int quarter = h.nodes[top].left;
    QCOMPARE(childPlayers(h, quarter, true), (std::vector<int>{0, 1}));
    QCOMPARE(childPlayers(h, quarter, false), (std::vector<int>{4, 5}));
    const int pair = h.nodes[quarter].left;
    QCOMPARE(childPlayers(h, pair, true), std::vector<int>{0});
    QCOMPARE(childPlayers(h, pair, false), std::vector<int>{1});
    // The leaves are the grid's cells, whole patches here (one patch per cell).
    const FeatureSet grid = gridFeatures(64, 16, 4, 4);
    QVERIFY(fs.masks == grid.masks);
    QCOMPARE(fs.labels, grid.labels);
    QVERIFY(fs.patchAligned());
  }

  // 3 x 5 cells: 5 columns > 3 rows -> columns [0,2) | [2,5); the 3 x 2 left part -> rows [0,1) |
  // [1,3): {0,1} | {5,6,10,11}; the 3 x 3 right part ties -> rows: {2,3,4} | {7,8,9,12,13,14}.
  void partitionThreeByFive() {
    const FeatureSet fs = partitionFeatures(60, 4, 3, 5);
    QCOMPARE(fs.count(), 15);
    const Hierarchy& h = *fs.hierarchy;
    checkHierarchyShape(h, 15);
    const int root = h.root;
    QCOMPARE(childPlayers(h, root, true), (std::vector<int>{0, 1, 5, 6, 10, 11}));
    QCOMPARE(childPlayers(h, root, false), (std::vector<int>{2, 3, 4, 7, 8, 9, 12, 13, 14}));
    const int left = h.nodes[root].left, right = h.nodes[root].right;
    QCOMPARE(childPlayers(h, left, true), (std::vector<int>{0, 1}));
    QCOMPARE(childPlayers(h, left, false), (std::vector<int>{5, 6, 10, 11}));
    QCOMPARE(childPlayers(h, right, true), (std::vector<int>{2, 3, 4}));
    QCOMPARE(childPlayers(h, right, false), (std::vector<int>{7, 8, 9, 12, 13, 14}));
    // Other shapes keep the structural rules.
    for (auto [rows, cols] : {std::pair{1, 1}, {1, 7}, {5, 3}, {8, 8}, {6, 10}})
      checkHierarchyShape(*partitionFeatures(80, 8, rows, cols).hierarchy, rows * cols);
    VLM_EXPECT_ERROR(partitionFeatures(64, 16, 0, 4), ErrorCode::InvalidArgument, "0");
  }

  void parseSpecs() {
    FeatureSpec s = parseFeatureSpec("grid");
    QCOMPARE(s.kind, std::string("grid"));
    QCOMPARE(s.rows, 0);
    QCOMPARE(s.cols, 0);
    s = parseFeatureSpec("grid:4x4");
    QCOMPARE(s.rows, 4);
    QCOMPARE(s.cols, 4);
    s = parseFeatureSpec("grid:3x5");
    QCOMPARE(s.rows, 3);
    QCOMPARE(s.cols, 5);
    s = parseFeatureSpec("slic:50");
    QCOMPARE(s.kind, std::string("slic"));
    QCOMPARE(s.regions, 50);
    s = parseFeatureSpec("slico:50");
    QCOMPARE(s.kind, std::string("slico"));
    QCOMPARE(s.regions, 50);
    s = parseFeatureSpec("dff:3:4");
    QCOMPARE(s.kind, std::string("dff"));
    QCOMPARE(s.layer, std::string("3"));
    QCOMPARE(s.concepts, 4);
    s = parseFeatureSpec("dff:post_layernorm:6");
    QCOMPARE(s.layer, std::string("post_layernorm"));
    QCOMPARE(s.concepts, 6);
    s = parseFeatureSpec("rects:C:/data/boxes:v2.json");
    QCOMPARE(s.kind, std::string("rects"));
    QCOMPARE(s.file, std::string("C:/data/boxes:v2.json"));
    s = parseFeatureSpec("partition");
    QCOMPARE(s.kind, std::string("partition"));
    QCOMPARE(s.rows, 0);
    s = parseFeatureSpec("partition:8x8");
    QCOMPARE(s.rows, 8);
    QCOMPARE(s.cols, 8);

    for (const char* bad : {"", "grid:", "grid:4", "grid:0x4", "grid:4x", "grid:x4", "grid:4x4x4", "grid:-2x3",
                            "grid:4 x4", "slic", "slic:", "slic:0", "slic:ten", "slic:1e3", "slico:-5",
                            "dff", "dff:3", "dff::4", "dff:3:0", "dff:3:", "dff:3:4:5", "rects", "rects:",
                            "partition:3", "superpixels:5", "GRID", "grid:99999999999x2"}) {
      VLM_EXPECT_ERROR(parseFeatureSpec(bad), ErrorCode::InvalidArgument, "'" + std::string(bad) + "'",
                       "grid:RxC", "slic:N", "dff:LAYER:K", "rects:FILE.json", "partition:RxC");
    }
  }
};

QTEST_GUILESS_MAIN(TestFeatures)
#include "test_features.moc"
