#include "explain/metrics.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <string>

#include "common/error.h"

namespace vlm::explain {

namespace {

// Feature indices by descending score; ties keep the lower index first so that the ranking
// (and therefore the curve) does not depend on the sort implementation.
std::vector<int> descendingOrder(const std::vector<double>& scores, int features, int outputs, int k) {
  std::vector<int> order(features);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
    return scores[size_t(a) * outputs + k] > scores[size_t(b) * outputs + k];
  });
  return order;
}

// The numbers of removed / inserted features at which the curves are sampled: round(j F / steps)
// for j = 0..steps (half away from zero, in integers so that no floating-point rounding can
// drop an endpoint), or every count when steps is 0 or covers every feature anyway.
std::vector<int> sampleCounts(int features, int steps) {
  std::vector<int> counts;
  if (steps == 0 || steps >= features) {
    counts.resize(size_t(features) + 1);
    std::iota(counts.begin(), counts.end(), 0);
    return counts;
  }
  for (int j = 0; j <= steps; ++j) {
    const int c = int((2 * int64_t(j) * features + steps) / (2 * int64_t(steps)));
    if (counts.empty() || counts.back() != c) counts.push_back(c);
  }
  return counts;
}

double trapezoid(const std::vector<double>& x, const std::vector<double>& y) {
  double area = 0;
  for (size_t i = 1; i < x.size(); ++i) area += (x[i] - x[i - 1]) * (y[i] + y[i - 1]) / 2;
  return area;
}

void requireMapAndMask(const float* map, const uint8_t* mask, int width, int height, const char* what) {
  if (map == nullptr || mask == nullptr)
    throw Error(ErrorCode::InvalidArgument, std::string(what) + ": the map or the mask is null");
  if (width < 1 || height < 1)
    throw Error(ErrorCode::InvalidArgument, std::string(what) + ": the size " + std::to_string(width) + " x " +
                                                std::to_string(height) + " is empty");
}

size_t maskCount(const uint8_t* mask, size_t n) {
  return size_t(std::count_if(mask, mask + n, [](uint8_t m) { return m != 0; }));
}

// The metrics compare where relevance falls with where the object is: without an object
// there is nothing to compare, and returning 0 (or 1) would silently bias an average.
size_t requireObject(const uint8_t* mask, size_t n, const char* what) {
  const size_t m = maskCount(mask, n);
  if (m == 0) throw Error(ErrorCode::InvalidArgument, std::string(what) + ": the mask is empty (nothing to point at)");
  return m;
}

// NaN sorts below every number, so that a damaged pixel never counts as the most relevant.
double orderable(float v) { return std::isnan(v) ? -std::numeric_limits<double>::infinity() : double(v); }

// 1-based ranks, ties sharing the average of the ranks they span.
std::vector<double> averageRanks(const std::vector<double>& x) {
  const size_t n = x.size();
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), size_t(0));
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return x[a] < x[b]; });
  std::vector<double> rank(n);
  for (size_t i = 0; i < n;) {
    size_t j = i;
    while (j + 1 < n && x[order[j + 1]] == x[order[i]]) ++j;
    const double r = (double(i) + double(j)) / 2 + 1;
    for (size_t t = i; t <= j; ++t) rank[order[t]] = r;
    i = j + 1;
  }
  return rank;
}

}  // namespace

DeletionInsertion deletionInsertion(CoalitionCache& v, const std::vector<double>& scores, int steps,
                                    const JobContext& job) {
  const int F = v.players(), K = v.outputs();
  if (F < 1 || K < 1)
    throw Error(ErrorCode::InvalidArgument, "deletion/insertion: the game has " + std::to_string(F) + " players and " +
                                                std::to_string(K) + " outputs (at least one of each needed)");
  if (scores.size() != size_t(F) * K)
    throw Error(ErrorCode::InvalidArgument, "deletion/insertion: " + std::to_string(scores.size()) +
                                                " scores for " + std::to_string(F) + " features x " +
                                                std::to_string(K) + " outputs");
  if (steps < 0)
    throw Error(ErrorCode::InvalidArgument, "deletion/insertion: steps " + std::to_string(steps) + " is negative");
  if (!std::all_of(scores.begin(), scores.end(), [](double s) { return std::isfinite(s); }))
    throw Error(ErrorCode::InvalidArgument, "deletion/insertion: a score is not finite");

  job.progress(0, "deletion/insertion curves");
  const std::vector<int> counts = sampleCounts(F, steps);
  const size_t P = counts.size();

  // Every coalition of every curve in one request: the cache evaluates them in full batches
  // and evaluates the ones the curves share (the full and empty coalitions, and every point
  // of outputs ranked alike) once. Layout: [output][deletion points, insertion points].
  std::vector<Coalition> coalitions;
  coalitions.reserve(size_t(K) * 2 * P);
  for (int k = 0; k < K; ++k) {
    const std::vector<int> order = descendingOrder(scores, F, K, k);
    for (int c : counts) {
      Coalition del(size_t(F), 1);
      for (int r = 0; r < c; ++r) del[order[r]] = 0;
      coalitions.push_back(std::move(del));
    }
    for (int c : counts) {
      Coalition ins(size_t(F), 0);
      for (int r = 0; r < c; ++r) ins[order[r]] = 1;
      coalitions.push_back(std::move(ins));
    }
  }
  const std::vector<double> values = v.values(coalitions, job);
  if (values.size() != coalitions.size() * K)
    throw Error(ErrorCode::InvalidArgument, "deletion/insertion: the game returned " + std::to_string(values.size()) +
                                                " values for " + std::to_string(coalitions.size()) + " coalitions x " +
                                                std::to_string(K) + " outputs");

  std::vector<double> fraction(P);
  for (size_t p = 0; p < P; ++p) fraction[p] = double(counts[p]) / F;
  DeletionInsertion out;
  out.deletion.resize(K);
  out.insertion.resize(K);
  // Column k of the P rows starting at `first`.
  auto curveAt = [&](size_t first, int k) {
    Curve curve;
    curve.fraction = fraction;
    curve.value.resize(P);
    for (size_t p = 0; p < P; ++p) curve.value[p] = values[(first + p) * K + k];
    curve.auc = trapezoid(curve.fraction, curve.value);
    return curve;
  };
  for (int k = 0; k < K; ++k) {
    out.deletion[k] = curveAt(size_t(k) * 2 * P, k);
    out.insertion[k] = curveAt(size_t(k) * 2 * P + P, k);
  }
  job.progress(1, "deletion/insertion curves");
  return out;
}

bool pointingGameHit(const float* map, const uint8_t* mask, int width, int height, int tolerance) {
  requireMapAndMask(map, mask, width, height, "pointing game");
  if (tolerance < 0)
    throw Error(ErrorCode::InvalidArgument, "pointing game: tolerance " + std::to_string(tolerance) + " is negative");
  const size_t n = size_t(width) * height;
  requireObject(mask, n, "pointing game");

  // The first maximum in raster order (NaN never wins).
  size_t best = n;
  for (size_t i = 0; i < n; ++i)
    if (!std::isnan(map[i]) && (best == n || map[i] > map[best])) best = i;
  if (best == n) throw Error(ErrorCode::InvalidArgument, "pointing game: the map holds only NaN");

  // Brute force over the (2t+1)^2 window: exact Euclidean distances, and cheap for the
  // tolerances in use (Zhang et al. use 15 px).
  const int bx = int(best % width), by = int(best / width);
  const int64_t t2 = int64_t(tolerance) * tolerance;
  for (int y = std::max(0, by - tolerance); y <= std::min(height - 1, by + tolerance); ++y)
    for (int x = std::max(0, bx - tolerance); x <= std::min(width - 1, bx + tolerance); ++x) {
      const int64_t dx = x - bx, dy = y - by;
      if (dx * dx + dy * dy <= t2 && mask[size_t(y) * width + x] != 0) return true;
    }
  return false;
}

double relevanceMass(const float* map, const uint8_t* mask, int width, int height) {
  requireMapAndMask(map, mask, width, height, "relevance mass");
  const size_t n = size_t(width) * height;
  requireObject(mask, n, "relevance mass");
  double inside = 0, total = 0;
  for (size_t i = 0; i < n; ++i) {
    const double r = map[i] > 0 ? double(map[i]) : 0.0;  // NaN and negative relevance count as 0
    total += r;
    if (mask[i] != 0) inside += r;
  }
  return total > 0 ? inside / total : 0.0;
}

double relevanceRank(const float* map, const uint8_t* mask, int width, int height) {
  requireMapAndMask(map, mask, width, height, "relevance rank");
  const size_t n = size_t(width) * height;
  const size_t m = requireObject(mask, n, "relevance rank");
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), size_t(0));
  // A strict total order (value descending, then index): the top m is unique, ties included.
  std::nth_element(order.begin(), order.begin() + (m - 1), order.end(), [&](size_t a, size_t b) {
    const double va = orderable(map[a]), vb = orderable(map[b]);
    return va != vb ? va > vb : a < b;
  });
  size_t inside = 0;
  for (size_t r = 0; r < m; ++r) inside += mask[order[r]] != 0;
  return double(inside) / double(m);
}

double spearman(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.size() != b.size())
    throw Error(ErrorCode::InvalidArgument, "spearman: the sides have " + std::to_string(a.size()) + " and " +
                                                std::to_string(b.size()) + " values");
  if (a.size() < 2)
    throw Error(ErrorCode::InvalidArgument, "spearman: " + std::to_string(a.size()) + " values (at least 2 needed)");
  auto finite = [](const std::vector<double>& x) {
    return std::all_of(x.begin(), x.end(), [](double d) { return std::isfinite(d); });
  };
  if (!finite(a) || !finite(b)) throw Error(ErrorCode::InvalidArgument, "spearman: a value is not finite");

  const std::vector<double> ra = averageRanks(a), rb = averageRanks(b);
  const double mean = (double(a.size()) + 1) / 2;  // the mean of any average ranking
  double cov = 0, va = 0, vb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    const double da = ra[i] - mean, db = rb[i] - mean;
    cov += da * db;
    va += da * da;
    vb += db * db;
  }
  // Ranks are multiples of 1/2, so a constant side has exactly zero variance.
  if (va == 0 || vb == 0) return 0.0;
  return std::clamp(cov / std::sqrt(va * vb), -1.0, 1.0);
}

}  // namespace vlm::explain
