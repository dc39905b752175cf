#include "explain/features.h"

#include <opencv2/imgproc.hpp>
#include <opencv2/ximgproc.hpp>

#include <Eigen/Dense>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <random>
#include <unordered_map>

#include "common/error.h"

namespace vlm::explain {

namespace {

[[noreturn]] void invalid(const std::string& message) { throw Error(ErrorCode::InvalidArgument, message); }

std::string str(int v) { return std::to_string(v); }

std::string significant(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.3g", v);
  return buf;
}

// Sizes every feature set shares: an S x S input cut into P x P patches.
void checkInput(int side, int patchSize) {
  if (side < 1) invalid("the input side must be at least 1 pixel, got " + str(side));
  if (patchSize < 1) invalid("the patch size must be at least 1 pixel, got " + str(patchSize));
  if (side % patchSize != 0)
    invalid("the input side " + str(side) + " is not a multiple of the patch size " + str(patchSize));
}

// The patches `mask` consists of, when it is exactly a union of whole patches; empty when it
// cuts through a patch (or is empty). One pass over the mask, counting pixels per patch.
std::vector<int> wholePatches(const std::vector<uint8_t>& mask, int side, int patchSize) {
  const int g = side / patchSize;
  std::vector<int> count(size_t(g) * g, 0);
  for (int y = 0; y < side; ++y) {
    const uint8_t* row = mask.data() + size_t(y) * side;
    int* counts = count.data() + size_t(y / patchSize) * g;
    for (int x = 0; x < side; ++x)
      if (row[x]) ++counts[x / patchSize];
  }
  std::vector<int> patches;
  const int full = patchSize * patchSize;
  for (int p = 0; p < g * g; ++p) {
    if (count[p] == full) patches.push_back(p);
    else if (count[p] != 0) return {};
  }
  return patches;
}

// Fills the fields derived from the masks: per-feature patches and whether any pixel belongs
// to two features. Computed from the masks rather than asserted by each builder, so they
// cannot disagree with what the masks say.
void finish(FeatureSet& fs) {
  fs.patches.clear();
  fs.patches.reserve(fs.masks.size());
  for (const auto& m : fs.masks) fs.patches.push_back(wholePatches(m, fs.side, fs.patchSize));
  std::vector<uint8_t> covered(size_t(fs.side) * fs.side, 0);
  fs.disjoint = true;
  for (const auto& m : fs.masks)
    for (size_t i = 0; i < m.size(); ++i) {
      if (!m[i]) continue;
      if (covered[i]) fs.disjoint = false;
      covered[i] = 1;
    }
}

void fillRect(std::vector<uint8_t>& mask, int side, int x0, int y0, int x1, int y1) {
  for (int y = y0; y < y1; ++y) {
    const auto row = mask.begin() + size_t(y) * side;
    std::fill(row + x0, row + x1, 1);
  }
}

void checkCoalition(const FeatureSet& features, const Coalition& coalition) {
  if (int(coalition.size()) != features.count())
    invalid("the coalition has " + str(int(coalition.size())) + " players but the feature set has " +
            str(features.count()) + " features");
}

// Borders of `cells` cells along a side of `side` pixels: snapped to patch borders (cell i spans
// patches [floor(i*g/cells), floor((i+1)*g/cells))) when every cell can hold a whole patch,
// otherwise at floor(i*side/cells) pixels.
std::vector<int> cellBorders(int side, int patchSize, int cells, bool snap) {
  const int g = side / patchSize;
  std::vector<int> borders(size_t(cells) + 1);
  for (int i = 0; i <= cells; ++i)
    borders[i] = snap ? int(int64_t(i) * g / cells) * patchSize : int(int64_t(i) * side / cells);
  return borders;
}

void checkGrid(int side, int rows, int cols, const char* what) {
  if (rows < 1 || rows > side)
    invalid(std::string(what) + " rows must be between 1 and the input side " + str(side) + ", got " + str(rows));
  if (cols < 1 || cols > side)
    invalid(std::string(what) + " columns must be between 1 and the input side " + str(side) + ", got " +
            str(cols));
}

// Uniform in (0, 1] from the generator's raw 64-bit outputs (std distributions are
// implementation-defined, so results would differ between standard libraries).
double uniformOpenClosed(std::mt19937_64& rng) { return double((rng() >> 11) + 1) * 0x1.0p-53; }

}  // namespace

bool FeatureSet::patchAligned() const {
  return std::all_of(patches.begin(), patches.end(), [](const std::vector<int>& p) { return !p.empty(); }) &&
         patches.size() == masks.size();
}

std::vector<uint8_t> hiddenPixels(const FeatureSet& features, const Coalition& coalition) {
  checkCoalition(features, coalition);
  std::vector<uint8_t> hidden(size_t(features.side) * features.side, 0);
  for (int f = 0; f < features.count(); ++f) {
    if (coalition[f]) continue;
    const auto& m = features.masks[f];
    for (size_t i = 0; i < hidden.size(); ++i) hidden[i] |= m[i];
  }
  return hidden;
}

std::vector<int> visiblePatches(const FeatureSet& features, const Coalition& coalition) {
  checkCoalition(features, coalition);
  if (!features.patchAligned())
    invalid("patch removal needs features made of whole patches, but these " + features.kind +
            " features cut through patches; use grid (no finer than the patch grid) or dff features, or "
            "another masker");
  const int g = features.side / features.patchSize;
  std::vector<uint8_t> removed(size_t(g) * g, 0);
  for (int f = 0; f < features.count(); ++f)
    if (!coalition[f])
      for (int p : features.patches[f]) removed[p] = 1;
  std::vector<int> visible;
  for (int p = 0; p < g * g; ++p)
    if (!removed[p]) visible.push_back(p);
  return visible;
}

FeatureSet gridFeatures(int side, int patchSize, int rows, int cols) {
  checkInput(side, patchSize);
  checkGrid(side, rows, cols, "grid");
  const int g = side / patchSize;
  const bool snap = g >= rows && g >= cols;
  const auto ys = cellBorders(side, patchSize, rows, snap);
  const auto xs = cellBorders(side, patchSize, cols, snap);
  FeatureSet fs;
  fs.kind = "grid";
  fs.side = side;
  fs.patchSize = patchSize;
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < cols; ++c) {
      std::vector<uint8_t> mask(size_t(side) * side, 0);
      fillRect(mask, side, xs[c], ys[r], xs[c + 1], ys[r + 1]);
      fs.masks.push_back(std::move(mask));
      fs.labels.push_back("r" + str(r) + "c" + str(c));
    }
  finish(fs);
  const std::string grid = str(g) + "x" + str(g) + " patch grid";
  fs.description = "grid " + str(rows) + "x" + str(cols) +
                   (snap ? " over the " + grid + " (cells of whole " + str(patchSize) + "-px patches)"
                         : " over the " + str(side) + "-px input (finer than the " + grid +
                               ": cells cut through patches)");
  return fs;
}

FeatureSet slicFeatures(const io::ImageU8& input, int patchSize, int regions, bool slico) {
  if (input.empty()) invalid("SLIC needs an image, got an empty one");
  if (input.width != input.height)
    invalid("SLIC runs on the square model input, got " + str(input.width) + " x " + str(input.height));
  if (input.rgb.size() != size_t(input.width) * input.height * 3)
    invalid("the image holds " + std::to_string(input.rgb.size()) + " bytes, not " + str(input.width) + " x " +
            str(input.height) + " x 3");
  const int side = input.width;
  checkInput(side, patchSize);
  if (regions < 1) invalid("SLIC needs at least 1 region, got " + str(regions));
  if (int64_t(regions) > int64_t(side) * side)
    invalid("SLIC cannot make " + str(regions) + " regions out of " + str(side) + " x " + str(side) +
            " pixels");

  // SLIC measures colour distances in CIELAB, where they follow perceived differences.
  const cv::Mat rgb(side, side, CV_8UC3, const_cast<uint8_t*>(input.rgb.data()));
  cv::Mat lab;
  cv::cvtColor(rgb, lab, cv::COLOR_RGB2Lab);
  const int regionSize =
      std::max(4, int(std::lround(std::sqrt(double(side) * side / regions))));
  auto slic = cv::ximgproc::createSuperpixelSLIC(lab, slico ? cv::ximgproc::SLICO : cv::ximgproc::SLIC,
                                                 regionSize, 10.0f);
  slic->iterate(10);
  slic->enforceLabelConnectivity(25);
  cv::Mat labels;
  slic->getLabels(labels);

  // OpenCV's label numbers follow its internal seeding (and have gaps after connectivity
  // enforcement): renumber by first appearance in a raster scan, so feature i is the i-th
  // region met from the top-left and only non-empty regions become features.
  std::unordered_map<int, int> renumber;
  std::vector<int> index(size_t(side) * side);
  for (int y = 0; y < side; ++y) {
    const int* row = labels.ptr<int>(y);
    for (int x = 0; x < side; ++x) {
      auto [it, inserted] = renumber.try_emplace(row[x], int(renumber.size()));
      index[size_t(y) * side + x] = it->second;
    }
  }
  FeatureSet fs;
  fs.kind = "slic";
  fs.side = side;
  fs.patchSize = patchSize;
  fs.masks.assign(renumber.size(), std::vector<uint8_t>(size_t(side) * side, 0));
  for (size_t i = 0; i < index.size(); ++i) fs.masks[index[i]][i] = 1;
  for (int i = 0; i < fs.count(); ++i) fs.labels.push_back("region " + str(i));
  finish(fs);
  fs.description = std::string(slico ? "SLICO" : "SLIC") + " " + str(fs.count()) + " superpixels (about " +
                   str(regions) + " asked, region size " + str(regionSize) + " px)";
  return fs;
}

NmfResult nonNegativeFactorisation(const float* v, int n, int c, int k, int maxIterations, uint64_t seed) {
  if (n < 1 || c < 1) invalid("NMF needs a non-empty matrix, got " + str(n) + " x " + str(c));
  if (k < 1 || k > std::min(n, c))
    invalid("NMF rank k must be between 1 and min(rows, columns) = " + str(std::min(n, c)) + ", got " + str(k));
  if (maxIterations < 1) invalid("NMF needs at least 1 iteration, got " + str(maxIterations));
  if (!v) invalid("NMF got no matrix data");

  using RowMajorF = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  const Eigen::MatrixXd V = Eigen::Map<const RowMajorF>(v, n, c).cast<double>();
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < c; ++j) {
      const double x = V(i, j);
      if (!std::isfinite(x) || x < 0)
        invalid("NMF needs a finite non-negative matrix, got " + std::to_string(x) + " at row " + str(i) +
                ", column " + str(j));
    }

  NmfResult result;
  result.n = n;
  result.c = c;
  result.k = k;
  const double vNorm = V.norm();
  if (vNorm == 0) {  // V = 0 is exactly W = 0, H = 0; the updates would only divide 0 by eps
    result.w.assign(size_t(n) * k, 0.f);
    result.h.assign(size_t(k) * c, 0.f);
    return result;
  }

  // Random start scaled by sqrt(mean(V) / k), as sklearn's "random" init, so that W H starts at
  // V's order of magnitude whatever the units of the activations.
  std::mt19937_64 rng(seed);
  const double scale = std::sqrt(V.mean() / k);
  Eigen::MatrixXd W(n, k), H(k, c);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < k; ++j) W(i, j) = scale * uniformOpenClosed(rng);
  for (int i = 0; i < k; ++i)
    for (int j = 0; j < c; ++j) H(i, j) = scale * uniformOpenClosed(rng);

  constexpr double kEps = 1e-12;     // keeps the quotients finite when a denominator vanishes
  constexpr double kMinGain = 1e-6;  // stop once 10 iterations improve the error by less
  auto relativeError = [&] { return (V - W * H).norm() / vNorm; };
  double error = relativeError();
  double checked = error;
  int it = 0;
  while (it < maxIterations) {
    // Lee & Seung (2001): these multiplicative updates never increase ||V - WH||_F and keep
    // W, H non-negative without projections.
    const Eigen::MatrixXd WtV = W.transpose() * V;
    const Eigen::MatrixXd WtWH = (W.transpose() * W) * H;
    H.array() *= WtV.array() / (WtWH.array() + kEps);
    const Eigen::MatrixXd VHt = V * H.transpose();
    const Eigen::MatrixXd WHHt = W * (H * H.transpose());
    W.array() *= VHt.array() / (WHHt.array() + kEps);
    ++it;
    // The error costs as much as an update: measured every 10 iterations only.
    if (it % 10 == 0 || it == maxIterations) {
      error = relativeError();
      if (it % 10 == 0) {
        if (checked - error < kMinGain) break;
        checked = error;
      }
    }
  }
  result.relativeError = error;
  result.iterations = it;
  result.w.resize(size_t(n) * k);
  result.h.resize(size_t(k) * c);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < k; ++j) result.w[size_t(i) * k + j] = float(W(i, j));
  for (int i = 0; i < k; ++i)
    for (int j = 0; j < c; ++j) result.h[size_t(i) * c + j] = float(H(i, j));
  return result;
}

FeatureSet dffFeatures(const float* activations, int gridSide, int channels, int k, int side, int patchSize,
                       double threshold, uint64_t seed) {
  checkInput(side, patchSize);
  if (gridSide < 1) invalid("DFF needs a patch grid of at least 1 x 1, got side " + str(gridSide));
  if (channels < 1) invalid("DFF needs at least 1 channel, got " + str(channels));
  if (int64_t(gridSide) * patchSize != side)
    invalid("DFF: a " + str(gridSide) + "x" + str(gridSide) + " grid of " + str(patchSize) +
            "-px patches does not cover the " + str(side) + "-px input");
  if (!(threshold > 0 && threshold <= 1))
    invalid("the DFF threshold must be in (0, 1], got " + significant(threshold));
  if (!activations) invalid("DFF got no activations");
  const int n = gridSide * gridSide;
  if (k < 1 || k > std::min(n, channels))
    invalid("DFF concepts must be between 1 and min(patches, channels) = " + str(std::min(n, channels)) +
            ", got " + str(k));

  // ViT patch features are signed (no ReLU follows a transformer block) while Collins et al.
  // factorise post-ReLU CNN activations: keep the positive part, so the factorisation stays an
  // additive decomposition of the evidence present in each patch (see the header).
  std::vector<float> relu(size_t(n) * channels);
  for (size_t i = 0; i < relu.size(); ++i) {
    if (!std::isfinite(activations[i]))
      invalid("DFF activations must be finite, got " + std::to_string(activations[i]) + " at patch " +
              std::to_string(i / channels) + ", channel " + std::to_string(i % channels));
    relu[i] = std::max(activations[i], 0.f);
  }
  constexpr int kIterations = 400;
  const NmfResult nmf = nonNegativeFactorisation(relu.data(), n, channels, k, kIterations, seed);

  FeatureSet fs;
  fs.kind = "dff";
  fs.side = side;
  fs.patchSize = patchSize;
  for (int j = 0; j < k; ++j) {
    float peak = 0;
    for (int p = 0; p < n; ++p) peak = std::max(peak, nmf.w[size_t(p) * k + j]);
    if (!(peak > 0)) continue;  // a concept no patch expresses: nothing to mask
    std::vector<uint8_t> mask(size_t(side) * side, 0);
    for (int p = 0; p < n; ++p)
      if (double(nmf.w[size_t(p) * k + j]) / peak >= threshold) {
        const int x0 = (p % gridSide) * patchSize, y0 = (p / gridSide) * patchSize;
        fillRect(mask, side, x0, y0, x0 + patchSize, y0 + patchSize);
      }
    fs.labels.push_back("concept " + str(fs.count()));
    fs.masks.push_back(std::move(mask));
  }
  finish(fs);
  fs.description = "DFF " + str(fs.count()) + " concepts of k = " + str(k) + " (patches >= " +
                   significant(threshold) + " of the concept's peak; NMF relative error " +
                   significant(nmf.relativeError) + ")";
  return fs;
}

FeatureSet rectFeatures(int side, int patchSize, const std::vector<vision::PixelRect>& inputRects) {
  checkInput(side, patchSize);
  if (inputRects.empty()) invalid("rectangle features need at least one rectangle, got none");
  FeatureSet fs;
  fs.kind = "rects";
  fs.side = side;
  fs.patchSize = patchSize;
  for (size_t i = 0; i < inputRects.size(); ++i) {
    const auto& r = inputRects[i];
    const std::string name = "rect " + std::to_string(i) + " (" + str(r.x) + "," + str(r.y) + "," +
                             str(r.width) + "," + str(r.height) + ")";
    if (r.empty()) invalid(name + " is empty");
    // 64-bit: x + width may overflow int for absurd user input.
    auto clip = [side](int64_t v) { return int(std::clamp<int64_t>(v, 0, side)); };
    const int x0 = clip(r.x), x1 = clip(int64_t(r.x) + r.width);
    const int y0 = clip(r.y), y1 = clip(int64_t(r.y) + r.height);
    if (x0 >= x1 || y0 >= y1)
      invalid(name + " lies entirely outside the " + str(side) + " x " + str(side) + " input");
    std::vector<uint8_t> mask(size_t(side) * side, 0);
    fillRect(mask, side, x0, y0, x1, y1);
    fs.masks.push_back(std::move(mask));
    fs.labels.push_back("rect " + std::to_string(i));
  }
  finish(fs);
  fs.description = str(fs.count()) + (fs.count() == 1 ? " rectangle" : " rectangles") +
                   (fs.disjoint ? "" : " (overlapping)");
  return fs;
}

namespace {

// Node for the cells [r0, r1) x [c0, c1) of a `cols`-wide grid, then its subtree (preorder).
int addPartitionNode(Hierarchy& h, int cols, int r0, int r1, int c0, int c1) {
  const int id = int(h.nodes.size());
  h.nodes.emplace_back();
  for (int r = r0; r < r1; ++r)
    for (int c = c0; c < c1; ++c) h.nodes[id].players.push_back(r * cols + c);
  const int rows = r1 - r0, width = c1 - c0;
  if (rows == 1 && width == 1) return id;
  int left, right;
  if (rows >= width) {  // ties split the rows
    const int mid = r0 + rows / 2;
    left = addPartitionNode(h, cols, r0, mid, c0, c1);
    right = addPartitionNode(h, cols, mid, r1, c0, c1);
  } else {
    const int mid = c0 + width / 2;
    left = addPartitionNode(h, cols, r0, r1, c0, mid);
    right = addPartitionNode(h, cols, r0, r1, mid, c1);
  }
  h.nodes[id].left = left;  // not through a reference: the recursion grows h.nodes
  h.nodes[id].right = right;
  return id;
}

}  // namespace

FeatureSet partitionFeatures(int side, int patchSize, int rows, int cols) {
  checkInput(side, patchSize);
  checkGrid(side, rows, cols, "partition");
  FeatureSet fs = gridFeatures(side, patchSize, rows, cols);
  fs.kind = "partition";
  Hierarchy h;
  h.nodes.reserve(size_t(2) * rows * cols - 1);  // a binary tree with rows*cols leaves
  h.root = addPartitionNode(h, cols, 0, rows, 0, cols);
  fs.hierarchy = std::move(h);
  // "grid RxC over ..." -> "partition RxC over ... ; halves split recursively".
  fs.description = "partition" + fs.description.substr(4) + ", split in halves recursively";
  return fs;
}

FeatureSet maskFeatures(int side, int patchSize, std::vector<std::vector<uint8_t>> inputMasks) {
  checkInput(side, patchSize);
  if (inputMasks.empty()) invalid("mask features need at least one mask, got none");
  FeatureSet fs;
  fs.kind = "masks";
  fs.side = side;
  fs.patchSize = patchSize;
  for (size_t i = 0; i < inputMasks.size(); ++i) {
    auto& m = inputMasks[i];
    if (m.size() != size_t(side) * side) invalid("mask " + std::to_string(i) + " is not " + str(side) + " x " + str(side));
    for (auto& v : m) v = v != 0;
    if (std::find(m.begin(), m.end(), uint8_t(1)) == m.end()) invalid("mask " + std::to_string(i) + " covers no pixel of the model input");
    fs.labels.push_back("mask " + std::to_string(i));
    fs.masks.push_back(std::move(m));
  }
  finish(fs);
  fs.description = str(fs.count()) + " masks" + (fs.disjoint ? "" : " (overlapping)");
  return fs;
}

namespace {

constexpr const char* kAcceptedSpecs =
    "grid, grid:RxC, slic:N, slico:N, dff:LAYER:K, rects:FILE.json, masks:A.png[,B.png...], partition or partition:RxC";

[[noreturn]] void badSpec(std::string_view text, const std::string& reason) {
  invalid("feature set '" + std::string(text) + "': " + reason + "; accepted: " + kAcceptedSpecs);
}

// A whole number >= 1, digits only (no sign, spaces or trailing characters).
std::optional<int> positive(std::string_view s) {
  if (s.empty() || !std::all_of(s.begin(), s.end(), [](char ch) { return ch >= '0' && ch <= '9'; }))
    return std::nullopt;
  int v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || v < 1) return std::nullopt;
  return v;
}

void parseShape(std::string_view text, std::string_view shape, FeatureSpec& spec) {
  const size_t x = shape.find('x');
  const auto rows = x == std::string_view::npos ? std::nullopt : positive(shape.substr(0, x));
  const auto cols = x == std::string_view::npos ? std::nullopt : positive(shape.substr(x + 1));
  if (!rows || !cols) badSpec(text, "'" + std::string(shape) + "' is not RxC with whole numbers >= 1");
  spec.rows = *rows;
  spec.cols = *cols;
}

}  // namespace

FeatureSpec parseFeatureSpec(std::string_view text) {
  FeatureSpec spec;
  const size_t colon = text.find(':');
  const std::string_view kind = text.substr(0, colon);
  const bool hasArg = colon != std::string_view::npos;
  const std::string_view arg = hasArg ? text.substr(colon + 1) : std::string_view();
  spec.kind = std::string(kind);
  if (kind == "grid" || kind == "partition") {
    if (hasArg) parseShape(text, arg, spec);
  } else if (kind == "slic" || kind == "slico") {
    const auto n = positive(arg);
    if (!n) badSpec(text, "the number of regions must be a whole number >= 1");
    spec.regions = *n;
  } else if (kind == "dff") {
    const size_t second = arg.find(':');
    if (!hasArg || second == std::string_view::npos) badSpec(text, "dff needs a layer and a number of concepts");
    spec.layer = std::string(arg.substr(0, second));
    if (spec.layer.empty()) badSpec(text, "the dff layer is missing");
    const auto k = positive(arg.substr(second + 1));
    if (!k) badSpec(text, "the number of dff concepts must be a whole number >= 1");
    spec.concepts = *k;
  } else if (kind == "masks") {
    if (arg.empty()) badSpec(text, "masks needs one or more mask images, separated by commas");
    for (size_t start = 0; start <= arg.size();) {  // comma-separated; empty pieces dropped
      const size_t end = std::min(arg.find(',', start), arg.size());
      if (end > start) spec.files.emplace_back(arg.substr(start, end - start));
      start = end + 1;
    }
  } else if (kind == "rects") {
    if (arg.empty()) badSpec(text, "rects needs a JSON file");
    spec.file = std::string(arg);  // everything after "rects:", so paths may contain ':'
  } else {
    badSpec(text, "unknown kind '" + std::string(kind) + "'");
  }
  return spec;
}

std::optional<FeatureSet> pixelFeatures(const FeatureSpec& spec, const io::ImageU8& input, int patchSize) {
  const int side = input.width;
  checkInput(side, patchSize);
  const int g = side / patchSize;
  const int rows = spec.rows > 0 ? spec.rows : g, cols = spec.cols > 0 ? spec.cols : g;
  if (spec.kind == "grid") return gridFeatures(side, patchSize, rows, cols);
  if (spec.kind == "partition") return partitionFeatures(side, patchSize, rows, cols);
  if (spec.kind == "slic" || spec.kind == "slico") return slicFeatures(input, patchSize, spec.regions, spec.kind == "slico");
  return std::nullopt;
}

}  // namespace vlm::explain
