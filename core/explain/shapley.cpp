// Shapley estimators over a CoalitionCache (see shapley.h). Budgets count new game
// evaluations: before a unit of work (a sampled coalition pair, a permutation pair, an Owen
// node expansion) is planned, the coalitions it needs that are neither cached nor already
// planned are counted against what is left, so repeated draws are free and the budget is
// never exceeded. All randomness comes from std::mt19937_64 through vlm::Rng (common/random.h)
// (the standard distributions are implementation-defined, which would make results depend
// on the standard library).

#include "explain/shapley.h"

#include "common/random.h"

#include <Eigen/Dense>

#include <algorithm>
#include <bit>
#include <cmath>
#include <iterator>
#include <numeric>
#include <queue>
#include <random>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "common/error.h"

namespace vlm::explain {

namespace {

[[noreturn]] void invalid(const std::string& message) { throw Error(ErrorCode::InvalidArgument, message); }

// 8 players per byte: the key stays within std::string's small-buffer for up to 120
// players, so a cache of 2^20 coalitions does not allocate per entry.
std::string keyOf(const Coalition& c) {
  std::string key((c.size() + 7) / 8, '\0');
  for (size_t i = 0; i < c.size(); ++i)
    if (c[i]) key[i >> 3] = char(uint8_t(key[i >> 3]) | uint8_t(1u << (i & 7)));
  return key;
}

int checkedPlayers(const CoalitionCache& v) {
  const int n = v.players();
  if (n < 1) invalid("a Shapley game needs at least one player (got " + std::to_string(n) + ")");
  if (v.outputs() < 1)
    invalid("a Shapley game needs at least one output (got " + std::to_string(v.outputs()) + ")");
  return n;
}

void checkSampling(const SamplingOptions& o, const char* estimator) {
  if (o.maxEvaluations < 2)
    invalid(std::string(estimator) + " needs a budget of at least 2 evaluations (v(empty) and v(N)), got " +
            std::to_string(o.maxEvaluations));
  if (!(o.tolerance >= 0) || !std::isfinite(o.tolerance))
    invalid(std::string(estimator) + ": the tolerance must be a finite number >= 0");
}

double binomial(int n, int k) {
  double c = 1;
  for (int i = 1; i <= k; ++i) c = c * double(n - k + i) / double(i);
  return c;
}

// Calls f(indices) for every s-subset of 0..n-1 (s >= 1), in lexicographic order.
template <class F>
void forEachSubset(int n, int s, F&& f) {
  std::vector<int> idx(static_cast<size_t>(s));
  std::iota(idx.begin(), idx.end(), 0);
  for (;;) {
    f(idx);
    int i = s - 1;
    while (i >= 0 && idx[size_t(i)] == n - s + i) --i;
    if (i < 0) return;
    ++idx[size_t(i)];
    for (int j = i + 1; j < s; ++j) idx[size_t(j)] = idx[size_t(j) - 1] + 1;
  }
}

// Evaluation accounting of one estimator run against its budget.
struct Budget {
  const CoalitionCache& cache;
  int64_t limit;
  int64_t startEvaluations, startHits;
  int64_t requested = 0;  // sampled coalitions asked for, cache hits included
  Budget(const CoalitionCache& v, int64_t maxEvaluations)
      : cache(v), limit(maxEvaluations), startEvaluations(v.evaluations()), startHits(v.hits()) {}
  int64_t used() const { return cache.evaluations() - startEvaluations; }
  int64_t remaining() const { return limit - used(); }
  int64_t hits() const { return cache.hits() - startHits; }
  // Draws that are all cached cost nothing, so sampling also stops after this many requested
  // coalitions; otherwise a nearly saturated cache (few players) would loop for ever.
  bool requestCapReached() const { return requested / 4 >= limit; }
  double fraction() const { return limit > 0 ? std::min(1.0, double(used()) / double(limit)) : 1.0; }
};

// New evaluations per sampling round: about 1/16 of the budget so that the tolerance can
// stop sampling early, rounded up to whole batches so the game sees full batches.
int64_t roundTarget(const CoalitionCache& v, int64_t budget) {
  const int64_t b = std::max(1, v.batchSize());
  const int64_t chunk = std::max<int64_t>(1, budget / 16);
  return (chunk + b - 1) / b * b;
}

// One cache request being planned: a unit (coalitions that belong together) is accepted
// while its new coalitions (not cached, not yet planned) fit in the evaluations left.
class RoundPlan {
 public:
  RoundPlan(const CoalitionCache& v, int64_t remaining) : cache_(v), remaining_(remaining) {}
  bool tryAdd(const Coalition* unit, size_t count) {
    std::unordered_set<std::string> fresh;
    for (size_t i = 0; i < count; ++i) {
      if (cache_.contains(unit[i])) continue;
      std::string key = keyOf(unit[i]);
      if (!planned_.count(key)) fresh.insert(std::move(key));
    }
    if (newCount_ + int64_t(fresh.size()) > remaining_) return false;
    newCount_ += int64_t(fresh.size());
    planned_.merge(fresh);
    coalitions.insert(coalitions.end(), unit, unit + count);
    return true;
  }
  int64_t newCount() const { return newCount_; }
  std::vector<Coalition> coalitions;

 private:
  const CoalitionCache& cache_;
  int64_t remaining_;
  int64_t newCount_ = 0;
  std::unordered_set<std::string> planned_;
};

ShapleyResult blankResult(const char* estimator, int n, int k) {
  ShapleyResult r;
  r.estimator = estimator;
  r.players = n;
  r.outputs = k;
  r.values.assign(size_t(n) * k, 0.0);
  r.stderrs.assign(size_t(n) * k, 0.0);
  return r;
}

// v(empty) and v(N) into the result.
void evaluateEnds(CoalitionCache& v, ShapleyResult& r, const JobContext& job) {
  const int n = r.players, k = r.outputs;
  const std::vector<double> ends = v.values({Coalition(size_t(n), 0), Coalition(size_t(n), 1)}, job);
  r.emptyValue.assign(ends.begin(), ends.begin() + k);
  r.fullValue.assign(ends.begin() + k, ends.end());
}

// Sampling stops early once, for every output, the largest standard error is within
// tolerance times the spread of the values.
bool withinTolerance(const ShapleyResult& r, double tolerance) {
  if (tolerance <= 0) return false;
  for (int k = 0; k < r.outputs; ++k) {
    double lo = r.value(0, k), hi = lo, worst = 0;
    for (int i = 0; i < r.players; ++i) {
      lo = std::min(lo, r.value(i, k));
      hi = std::max(hi, r.value(i, k));
      worst = std::max(worst, r.stderrOf(i, k));
    }
    if (!(worst <= tolerance * (hi - lo))) return false;
  }
  return true;
}

// Below this many sampled units (pairs, or single draws when unpaired) the spread is too
// noisy to trust for stopping early.
int minUnitsForTolerance(bool paired) { return paired ? 8 : 16; }

// Running mean and sum of squared deviations (Welford), per entry.
struct RunningMoments {
  explicit RunningMoments(size_t size) : mean(size, 0.0), m2(size, 0.0) {}
  void add(const std::vector<double>& x) {
    ++count;
    for (size_t i = 0; i < x.size(); ++i) {
      const double delta = x[i] - mean[i];
      mean[i] += delta / double(count);
      m2[i] += delta * (x[i] - mean[i]);
    }
  }
  // Standard error of the mean; 0 with fewer than two samples (no spread to measure).
  double stderrOf(size_t i) const {
    return count < 2 ? 0.0 : std::sqrt(m2[i] / double(count - 1) / double(count));
  }
  int64_t count = 0;
  std::vector<double> mean, m2;
};

// All 2^n coalitions (bit i of the index = player i), row-major [2^n x K]. Requested in
// slices of whole batches so that progress can be reported along the way.
std::vector<double> allCoalitionValues(CoalitionCache& v, const JobContext& job, std::string_view stage) {
  const int n = v.players(), k = v.outputs();
  const size_t total = size_t(1) << n;
  const size_t batch = size_t(std::max(1, v.batchSize()));
  const size_t slice = std::max(batch, (total / 32 + batch - 1) / batch * batch);
  std::vector<double> table(total * size_t(k));
  std::vector<Coalition> request;
  for (size_t start = 0; start < total; start += slice) {
    const size_t end = std::min(total, start + slice);
    request.assign(end - start, Coalition(size_t(n), 0));
    for (size_t m = start; m < end; ++m)
      for (int i = 0; i < n; ++i) request[m - start][size_t(i)] = uint8_t((m >> i) & 1u);
    const std::vector<double> values = v.values(request, job);
    std::copy(values.begin(), values.end(), table.begin() + std::ptrdiff_t(start * size_t(k)));
    job.progress(double(end) / double(total), stage);
  }
  return table;
}

// Exact Shapley values from the table of all coalitions: the weight of v(S + i) - v(S) is
// |S|! (n - |S| - 1)! / n! = 1 / (n C(n-1, |S|)) (exact in double up to n = 20).
std::vector<double> shapleyFromTable(const std::vector<double>& table, int n, int k) {
  std::vector<double> weight(size_t(n) + 1, 0.0);  // [n]: the full set, which has no i to add
  for (int s = 0; s < n; ++s) weight[size_t(s)] = 1.0 / (double(n) * binomial(n - 1, s));
  std::vector<double> phi(size_t(n) * k, 0.0);
  const size_t total = size_t(1) << n;
  for (size_t m = 0; m < total; ++m) {
    const double w = weight[size_t(std::popcount(m))];
    const double* base = &table[m * size_t(k)];
    for (int i = 0; i < n; ++i) {
      if (m & (size_t(1) << i)) continue;
      const double* with = &table[(m | (size_t(1) << i)) * size_t(k)];
      for (int o = 0; o < k; ++o) phi[size_t(i) * k + o] += w * (with[o] - base[o]);
    }
  }
  return phi;
}

// ---- KernelSHAP -------------------------------------------------------------------------

// The efficiency-constrained weighted least squares min sum w (y - z^T phi)^2 subject to
// 1^T phi = d, through the KKT system [A 1; 1^T 0] [phi; lambda] = [B; d] and its
// pseudo-inverse (symmetric eigendecomposition; eigenvalues below 1e-12 of the largest are
// treated as zero). With A = sum w z z^T invertible this is the Lagrange solution
// phi = A^-1 (B - 1 (1^T A^-1 B - d) / (1^T A^-1 1)) and the top-left block of the inverse is
// C = A^-1 - A^-1 1 1^T A^-1 / (1^T A^-1 1), the bread of the sandwich estimate. When too few
// coalitions were sampled to determine every player (A singular) it gives the KKT system's
// minimum-norm solution instead of failing (with no data at all: d shared evenly).
struct ConstrainedFit {
  Eigen::MatrixXd phi;  // n x K
  Eigen::MatrixXd c;    // n x n
};

ConstrainedFit solveConstrained(const Eigen::MatrixXd& a, const Eigen::MatrixXd& b,
                                const Eigen::RowVectorXd& d) {
  const Eigen::Index n = a.rows();
  Eigen::MatrixXd kkt = Eigen::MatrixXd::Zero(n + 1, n + 1);
  kkt.topLeftCorner(n, n) = a;
  kkt.topRightCorner(n, 1).setOnes();
  kkt.bottomLeftCorner(1, n).setOnes();
  const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(kkt);
  const Eigen::VectorXd& lambda = eig.eigenvalues();
  const double cutoff = 1e-12 * lambda.cwiseAbs().maxCoeff();
  Eigen::VectorXd inv(n + 1);
  for (Eigen::Index i = 0; i <= n; ++i) inv[i] = std::abs(lambda[i]) > cutoff ? 1.0 / lambda[i] : 0.0;
  const Eigen::MatrixXd pinv = eig.eigenvectors() * inv.asDiagonal() * eig.eigenvectors().transpose();
  ConstrainedFit fit;
  fit.c = pinv.topLeftCorner(n, n);
  fit.phi = fit.c * b + pinv.topRightCorner(n, 1) * d;
  return fit;
}

// A = sum w z z^T and B = sum w z y^T over coalitions, using only the present players.
void accumulate(const Coalition& z, const double* y, double w, Eigen::MatrixXd& a, Eigen::MatrixXd& b) {
  std::vector<int> present;
  for (size_t i = 0; i < z.size(); ++i)
    if (z[i]) present.push_back(int(i));
  for (int p : present) {
    for (int q : present) a(p, q) += w;
    for (Eigen::Index o = 0; o < b.cols(); ++o) b(p, o) += w * y[o];
  }
}

}  // namespace

// ---- CoalitionCache ---------------------------------------------------------------------

struct CoalitionCache::Impl {
  std::unordered_map<std::string, size_t> row;  // packed coalition -> row of `values`
  std::vector<double> values;                   // [evaluated x K]
};

CoalitionCache::CoalitionCache(Game& game, int batchSize)
    : game_(game), batchSize_(batchSize), impl_(std::make_shared<Impl>()) {
  if (batchSize < 1)
    invalid("the coalition batch size must be at least 1 (got " + std::to_string(batchSize) + ")");
}

int CoalitionCache::players() const { return game_.players(); }
int CoalitionCache::outputs() const { return game_.outputs(); }

bool CoalitionCache::contains(const Coalition& c) const { return impl_->row.count(keyOf(c)) > 0; }

std::vector<double> CoalitionCache::values(const std::vector<Coalition>& coalitions, const JobContext& job) {
  const int n = players(), k = outputs();
  std::vector<std::string> keys(coalitions.size());
  std::vector<size_t> pending;  // positions in `coalitions` of the first occurrence of each new coalition
  std::unordered_set<std::string> pendingKeys;
  for (size_t i = 0; i < coalitions.size(); ++i) {
    const Coalition& c = coalitions[i];
    if (c.size() != size_t(n))
      invalid("coalition " + std::to_string(i) + " has " + std::to_string(c.size()) +
              " entries for a game of " + std::to_string(n) + " players");
    for (uint8_t b : c)
      if (b > 1) invalid("coalition " + std::to_string(i) + " has an entry other than 0 or 1");
    keys[i] = keyOf(c);
    if (impl_->row.count(keys[i]) || !pendingKeys.insert(keys[i]).second) {
      ++hits_;
    } else {
      pending.push_back(i);
    }
  }

  std::vector<Coalition> batch;
  for (size_t start = 0; start < pending.size(); start += size_t(batchSize_)) {
    job.throwIfCancelled();
    const size_t end = std::min(pending.size(), start + size_t(batchSize_));
    batch.clear();
    for (size_t p = start; p < end; ++p) batch.push_back(coalitions[pending[p]]);
    const std::vector<double> out = game_.evaluate(batch, job);
    if (out.size() != batch.size() * size_t(k))
      invalid("the game returned " + std::to_string(out.size()) + " values for " +
              std::to_string(batch.size()) + " coalitions of " + std::to_string(k) + " outputs");
    ++batches_;
    evaluations_ += int64_t(batch.size());
    for (size_t p = start; p < end; ++p) {
      impl_->row.emplace(keys[pending[p]], impl_->values.size() / size_t(k));
      impl_->values.insert(impl_->values.end(), out.begin() + std::ptrdiff_t((p - start) * size_t(k)),
                           out.begin() + std::ptrdiff_t((p - start + 1) * size_t(k)));
    }
  }

  std::vector<double> result(coalitions.size() * size_t(k));
  for (size_t i = 0; i < coalitions.size(); ++i) {
    const size_t r = impl_->row.at(keys[i]);
    std::copy_n(impl_->values.begin() + std::ptrdiff_t(r * size_t(k)), k,
                result.begin() + std::ptrdiff_t(i * size_t(k)));
  }
  return result;
}

// ---- exact ------------------------------------------------------------------------------

ShapleyResult exactShapley(CoalitionCache& v, const JobContext& job) {
  const int n = checkedPlayers(v), k = v.outputs();
  if (n > kMaxExactPlayers)
    invalid("exact Shapley values of " + std::to_string(n) + " players would need 2^" + std::to_string(n) +
            " evaluations (at most " + std::to_string(kMaxExactPlayers) +
            " players); use KernelSHAP or permutation sampling");
  Budget budget(v, int64_t(1) << n);
  ShapleyResult r = blankResult("exact", n, k);
  const std::vector<double> table = allCoalitionValues(v, job, "exact Shapley values");
  r.values = shapleyFromTable(table, n, k);
  r.emptyValue.assign(table.begin(), table.begin() + k);
  r.fullValue.assign(table.end() - k, table.end());
  r.evaluations = budget.used();
  r.cacheHits = budget.hits();
  return r;
}

// ---- KernelSHAP -------------------------------------------------------------------------

ShapleyResult kernelShap(CoalitionCache& v, const SamplingOptions& options, const JobContext& job) {
  const int n = checkedPlayers(v), k = v.outputs();
  checkSampling(options, "KernelSHAP");
  Budget budget(v, options.maxEvaluations);
  ShapleyResult r = blankResult("kernel", n, k);
  evaluateEnds(v, r, job);
  const Eigen::Map<const Eigen::RowVectorXd> v0(r.emptyValue.data(), k);
  const Eigen::RowVectorXd d = Eigen::Map<const Eigen::RowVectorXd>(r.fullValue.data(), k) - v0;
  auto finish = [&] {
    r.evaluations = budget.used();
    r.cacheHits = budget.hits();
    job.progress(1.0, "KernelSHAP");
    return r;
  };
  if (n == 1) {
    for (int o = 0; o < k; ++o) r.values[size_t(o)] = d[o];
    return finish();
  }

  // Shapley kernel mass of subset size s: (n-1) / (s (n-s)), spread evenly over its C(n, s)
  // subsets; weights are normalised by the total mass so that A stays O(1).
  std::vector<double> mass(size_t(n), 0.0);
  double totalMass = 0;
  for (int s = 1; s < n; ++s) totalMass += mass[size_t(s)] = double(n - 1) / (double(s) * double(n - s));

  Eigen::MatrixXd aEnum = Eigen::MatrixXd::Zero(n, n), bEnum = Eigen::MatrixXd::Zero(n, k);
  std::vector<double> y;
  // Sizes s and n - s, outside in, are enumerated completely while the budget covers them:
  // their part of the regression is then exact, and the sizes with the most weight per
  // coalition go first.
  int lo = 1;
  for (; lo <= n - lo; ++lo) {
    const int hi = n - lo;
    const double count = binomial(n, lo) * (lo == hi ? 1 : 2);
    // Cached coalitions are free, so only a level that could fit with all of the cache's
    // coalitions among it is generated and counted exactly.
    if (count > double(budget.remaining()) + double(v.evaluations())) break;
    std::vector<Coalition> level;
    level.reserve(size_t(count));
    forEachSubset(n, lo, [&](const std::vector<int>& idx) {
      Coalition c(size_t(n), 0);
      for (int i : idx) c[size_t(i)] = 1;
      if (hi != lo) {
        Coalition complement(static_cast<size_t>(n));
        for (int i = 0; i < n; ++i) complement[size_t(i)] = uint8_t(1 - c[size_t(i)]);
        level.push_back(std::move(complement));
      }
      level.push_back(std::move(c));
    });
    RoundPlan plan(v, budget.remaining());
    if (!plan.tryAdd(level.data(), level.size())) break;
    job.throwIfCancelled();
    y = v.values(level, job);
    const double w = mass[size_t(lo)] / (binomial(n, lo) * totalMass);
    for (size_t c = 0; c < level.size(); ++c) {
      for (int o = 0; o < k; ++o) y[c * size_t(k) + size_t(o)] -= v0[o];
      accumulate(level[c], &y[c * size_t(k)], w, aEnum, bEnum);
    }
    job.progress(budget.fraction(), "KernelSHAP");
  }

  // The sizes lo..n-lo left are sampled: a size with probability proportional to its kernel
  // mass, then a uniform subset of it, so each coalition is drawn with probability
  // proportional to its kernel weight; each draw then carries massLeft / draws of weight.
  std::vector<int> sizes;
  std::vector<double> cumulative;
  double massLeft = 0;
  for (int s = lo; s <= n - lo; ++s) {
    sizes.push_back(s);
    cumulative.push_back(massLeft += mass[size_t(s)]);
  }
  const int unitSize = options.paired ? 2 : 1;
  std::vector<Coalition> drawn;  // sampled coalitions, unit after unit
  std::vector<double> drawnY;    // their v(z) - v(empty), [drawn x K]
  Eigen::MatrixXd aDrawn = Eigen::MatrixXd::Zero(n, n), bDrawn = Eigen::MatrixXd::Zero(n, k);

  auto fit = [&] {
    Eigen::MatrixXd a = aEnum, b = bEnum;
    const double w = drawn.empty() ? 0.0 : massLeft / totalMass / double(drawn.size());
    if (!drawn.empty()) {
      a += w * aDrawn;
      b += w * bDrawn;
    }
    const ConstrainedFit f = solveConstrained(a, b, d);
    for (int i = 0; i < n; ++i)
      for (int o = 0; o < k; ++o) {
        r.values[size_t(i) * k + o] = f.phi(i, o);
        r.stderrs[size_t(i) * k + o] = 0.0;
      }
    // Sandwich over the sampled units (the enumerated part has no sampling noise):
    // u_p = sum over the unit's coalitions of w z (y - z^T phi), and
    // Cov(phi) ~ C (m / (m - 1) sum_p (u_p - mean u)(u_p - mean u)^T) C^T.
    const Eigen::Index m = Eigen::Index(drawn.size()) / unitSize;
    if (m < 2) return;
    Eigen::MatrixXd z(Eigen::Index(drawn.size()), n);
    for (size_t c = 0; c < drawn.size(); ++c)
      for (int i = 0; i < n; ++i) z(Eigen::Index(c), i) = drawn[c][size_t(i)];
    const Eigen::Map<const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>> ys(
        drawnY.data(), Eigen::Index(drawn.size()), k);
    const Eigen::MatrixXd residual = ys - z * f.phi;
    Eigen::MatrixXd u(n, m);
    for (int o = 0; o < k; ++o) {
      u.setZero();
      for (Eigen::Index c = 0; c < z.rows(); ++c)
        u.col(c / unitSize) += (w * residual(c, o)) * z.row(c).transpose();
      u.colwise() -= u.rowwise().mean();
      const Eigen::VectorXd var = (f.c * u).rowwise().squaredNorm() * (double(m) / double(m - 1));
      for (int i = 0; i < n; ++i) r.stderrs[size_t(i) * k + o] = std::sqrt(std::max(0.0, var[i]));
    }
  };

  if (!sizes.empty()) {
    Rng rng(options.seed);
    std::vector<int> order(static_cast<size_t>(n));
    std::iota(order.begin(), order.end(), 0);
    const int64_t target = roundTarget(v, budget.remaining());
    bool exhausted = false;
    while (!exhausted && !budget.requestCapReached()) {
      job.throwIfCancelled();
      RoundPlan plan(v, budget.remaining());
      // Units whose coalitions are all cached cost nothing; the nominal bound keeps a round
      // (and the loop) finite when nearly every draw is a repeat.
      while (plan.newCount() < target && int64_t(plan.coalitions.size()) < 4 * target) {
        const double u = rng.uniform() * massLeft;
        const size_t at =
            size_t(std::upper_bound(cumulative.begin(), cumulative.end(), u) - cumulative.begin());
        const int s = sizes[std::min(at, sizes.size() - 1)];
        rng.choose(order, s);
        Coalition unit[2] = {Coalition(size_t(n), 0), Coalition(size_t(n), 1)};
        for (int j = 0; j < s; ++j) {
          unit[0][size_t(order[size_t(j)])] = 1;
          unit[1][size_t(order[size_t(j)])] = 0;
        }
        if (!plan.tryAdd(unit, size_t(unitSize))) {
          exhausted = true;
          break;
        }
      }
      if (plan.coalitions.empty()) break;
      const std::vector<double> values = v.values(plan.coalitions, job);
      budget.requested += int64_t(plan.coalitions.size());
      for (size_t c = 0; c < plan.coalitions.size(); ++c) {
        const double* row = &values[c * size_t(k)];
        const size_t at = drawnY.size();
        for (int o = 0; o < k; ++o) drawnY.push_back(row[o] - v0[o]);
        accumulate(plan.coalitions[c], &drawnY[at], 1.0, aDrawn, bDrawn);
        drawn.push_back(std::move(plan.coalitions[c]));
      }
      job.progress(budget.fraction(), "KernelSHAP");
      if (options.tolerance > 0 && int64_t(drawn.size()) / unitSize >= minUnitsForTolerance(options.paired)) {
        fit();
        if (withinTolerance(r, options.tolerance)) {
          r.converged = true;
          break;
        }
      }
    }
  }
  if (!r.converged) fit();
  r.samples = int64_t(drawn.size());
  return finish();
}

// ---- permutation sampling ---------------------------------------------------------------

ShapleyResult permutationShapley(CoalitionCache& v, const SamplingOptions& options, const JobContext& job) {
  const int n = checkedPlayers(v), k = v.outputs();
  checkSampling(options, "permutation sampling");
  const int perUnit = options.paired ? 2 : 1;  // permutations per unit
  const int64_t unitCost = int64_t(perUnit) * (n - 1);
  if (n > 1 && options.maxEvaluations < 2 + unitCost)
    invalid("permutation sampling of " + std::to_string(n) + " players needs a budget of at least " +
            std::to_string(2 + unitCost) + " evaluations (v(empty), v(N) and " +
            (options.paired ? "a permutation and its reverse" : "one permutation") + "), got " +
            std::to_string(options.maxEvaluations));
  Budget budget(v, options.maxEvaluations);
  ShapleyResult r = blankResult("permutation", n, k);
  evaluateEnds(v, r, job);
  if (n == 1) {
    for (int o = 0; o < k; ++o) r.values[size_t(o)] = r.fullValue[size_t(o)] - r.emptyValue[size_t(o)];
  } else {
    Rng rng(options.seed);
    std::vector<int> order(static_cast<size_t>(n));
    std::iota(order.begin(), order.end(), 0);
    RunningMoments moments(size_t(n) * k);  // over units: a permutation, or the mean of a pair
    std::vector<double> estimate(size_t(n) * k);
    const int64_t target = std::max(unitCost, roundTarget(v, budget.remaining()));
    bool exhausted = false;
    while (!exhausted && !budget.requestCapReached()) {
      job.throwIfCancelled();
      RoundPlan plan(v, budget.remaining());
      std::vector<std::vector<int>> perms;
      std::vector<Coalition> unit(static_cast<size_t>(unitCost));
      while (plan.newCount() < target && int64_t(plan.coalitions.size()) < 4 * target) {
        rng.shuffle(order);
        std::vector<int> reversed(order.rbegin(), order.rend());
        // The chain of each permutation: its first 1, 2, ..., n-1 players present.
        for (int p = 0; p < perUnit; ++p) {
          const std::vector<int>& perm = p == 0 ? order : reversed;
          Coalition c(size_t(n), 0);
          for (int j = 0; j + 1 < n; ++j) {
            c[size_t(perm[size_t(j)])] = 1;
            unit[size_t(p) * size_t(n - 1) + size_t(j)] = c;
          }
        }
        if (!plan.tryAdd(unit.data(), unit.size())) {
          exhausted = true;
          break;
        }
        perms.push_back(order);
        if (options.paired) perms.push_back(std::move(reversed));
      }
      if (perms.empty()) break;
      const std::vector<double> values = v.values(plan.coalitions, job);
      budget.requested += int64_t(plan.coalitions.size());
      for (size_t u = 0; u < perms.size(); u += size_t(perUnit)) {
        std::fill(estimate.begin(), estimate.end(), 0.0);
        for (int p = 0; p < perUnit; ++p) {
          const std::vector<int>& perm = perms[u + size_t(p)];
          // Marginal contributions along the chain; they telescope to v(N) - v(empty).
          const double* previous = r.emptyValue.data();
          for (int j = 0; j < n; ++j) {
            const double* current = j + 1 < n
                                        ? &values[((u + size_t(p)) * size_t(n - 1) + size_t(j)) * size_t(k)]
                                        : r.fullValue.data();
            for (int o = 0; o < k; ++o)
              estimate[size_t(perm[size_t(j)]) * k + o] += (current[o] - previous[o]) / perUnit;
            previous = current;
          }
        }
        moments.add(estimate);
      }
      r.samples += int64_t(perms.size());
      r.values = moments.mean;
      for (size_t i = 0; i < r.stderrs.size(); ++i) r.stderrs[i] = moments.stderrOf(i);
      job.progress(budget.fraction(), "permutation sampling");
      if (moments.count >= minUnitsForTolerance(options.paired) && withinTolerance(r, options.tolerance)) {
        r.converged = true;
        break;
      }
    }
  }
  r.evaluations = budget.used();
  r.cacheHits = budget.hits();
  job.progress(1.0, "permutation sampling");
  return r;
}

// ---- hierarchy and Owen values ----------------------------------------------------------

void validateHierarchy(const Hierarchy& h, int players) {
  if (players < 1) invalid("a hierarchy needs at least one player (got " + std::to_string(players) + ")");
  const int count = int(h.nodes.size());
  auto name = [](int i) { return "hierarchy node " + std::to_string(i); };
  if (h.root < 0 || h.root >= count)
    invalid("the hierarchy's root " + std::to_string(h.root) + " is not one of its " + std::to_string(count) +
            " nodes");
  std::vector<uint8_t> visited(size_t(count), 0);
  std::vector<int> stack{h.root};
  while (!stack.empty()) {
    const int i = stack.back();
    stack.pop_back();
    if (visited[size_t(i)]) invalid(name(i) + " is reached twice (a node may have one parent only)");
    visited[size_t(i)] = 1;
    const HierarchyNode& node = h.nodes[size_t(i)];
    if (node.players.empty()) invalid(name(i) + " has no players");
    std::vector<int> sorted = node.players;
    std::sort(sorted.begin(), sorted.end());
    for (int p : sorted)
      if (p < 0 || p >= players)
        invalid(name(i) + " has player " + std::to_string(p) + ", outside 0.." + std::to_string(players - 1));
    if (const auto twice = std::adjacent_find(sorted.begin(), sorted.end()); twice != sorted.end())
      invalid(name(i) + " lists player " + std::to_string(*twice) + " twice");
    if (node.left < 0 && node.right < 0) {
      if (node.players.size() != 1)
        invalid(name(i) + " is a leaf with " + std::to_string(node.players.size()) +
                " players (a leaf has exactly one)");
      continue;
    }
    if (node.left < 0 || node.right < 0) invalid(name(i) + " has only one child (the hierarchy is binary)");
    if (node.left >= count || node.right >= count)
      invalid(name(i) + " has a child outside the " + std::to_string(count) + " nodes");
    if (node.left == node.right) invalid(name(i) + " has the same node as both children");
    std::vector<int> l = h.nodes[size_t(node.left)].players, rr = h.nodes[size_t(node.right)].players;
    std::sort(l.begin(), l.end());
    std::sort(rr.begin(), rr.end());
    std::vector<int> both, merged;
    std::set_intersection(l.begin(), l.end(), rr.begin(), rr.end(), std::back_inserter(both));
    if (!both.empty())
      invalid("player " + std::to_string(both.front()) + " is under both children of " + name(i));
    std::merge(l.begin(), l.end(), rr.begin(), rr.end(), std::back_inserter(merged));
    if (merged != sorted) invalid("the children of " + name(i) + " do not cover exactly its players");
    stack.push_back(node.left);
    stack.push_back(node.right);
  }
  // The root's players are checked last: below it every node is the disjoint union of its
  // children, so the root covering 0..n-1 once means every level does.
  std::vector<int> all = h.nodes[size_t(h.root)].players;
  std::sort(all.begin(), all.end());
  for (int p = 0, at = 0; p < players; ++p) {
    if (at < int(all.size()) && all[size_t(at)] == p)
      ++at;
    else
      invalid("player " + std::to_string(p) + " is missing from the hierarchy");
  }
}

ShapleyResult owenValues(CoalitionCache& v, const Hierarchy& hierarchy, int64_t maxEvaluations,
                         const JobContext& job) {
  const int n = checkedPlayers(v), k = v.outputs();
  validateHierarchy(hierarchy, n);
  if (maxEvaluations < 2)
    invalid("Owen values need a budget of at least 2 evaluations (v(empty) and v(N)), got " +
            std::to_string(maxEvaluations));
  Budget budget(v, maxEvaluations);
  ShapleyResult r = blankResult("owen", n, k);
  evaluateEnds(v, r, job);

  // Evaluations for the whole tree: a node at depth d is expanded in 2^d contexts, two
  // coalitions each (only for progress; doubles, as deep trees overflow any integer).
  double needed = 2;
  {
    std::vector<std::pair<int, int>> stack{{hierarchy.root, 0}};
    while (!stack.empty()) {
      const auto [i, depth] = stack.back();
      stack.pop_back();
      const HierarchyNode& node = hierarchy.nodes[size_t(i)];
      if (node.left < 0) continue;
      needed += 2 * std::ldexp(1.0, depth);
      stack.push_back({node.left, depth + 1});
      stack.push_back({node.right, depth + 1});
    }
  }
  const double progressScale = std::min(double(maxEvaluations), needed);

  struct Item {
    Coalition on;                  // m00: the players outside the node that are present in its context
    std::vector<double> f00, f11;  // v(on), v(on + node's players)
    int node;
    double weight;
    double priority;  // max_k |f11 - f00| * weight
    uint64_t order;   // ties: first queued, first explored
  };
  auto later = [](const Item& a, const Item& b) {
    return a.priority < b.priority || (a.priority == b.priority && a.order > b.order);
  };
  std::priority_queue<Item, std::vector<Item>, decltype(later)> queue(later);
  uint64_t pushed = 0;
  auto push = [&](Coalition on, std::vector<double> f00, std::vector<double> f11, int node, double weight) {
    double effect = 0;
    for (int o = 0; o < k; ++o) effect = std::max(effect, std::abs(f11[size_t(o)] - f00[size_t(o)]));
    const double priority = std::isnan(effect) ? 0.0 : effect * weight;
    queue.push(Item{std::move(on), std::move(f00), std::move(f11), node, weight, priority, pushed++});
  };
  // A leaf's player, or every player of an unexplored node evenly, gets (f11 - f00) * weight:
  // the node's whole effect stays in the node, so efficiency holds at any budget.
  auto share = [&](const Item& item) {
    const std::vector<int>& players = hierarchy.nodes[size_t(item.node)].players;
    for (int p : players)
      for (int o = 0; o < k; ++o)
        r.values[size_t(p) * k + o] +=
            (item.f11[size_t(o)] - item.f00[size_t(o)]) * item.weight / double(players.size());
  };
  push(Coalition(size_t(n), 0), r.emptyValue, r.fullValue, hierarchy.root, 1.0);

  // A round pops the largest effects that fit in one batch (two coalitions per internal node).
  const size_t roundCoalitions = size_t(std::max(2, v.batchSize() / 2 * 2));
  bool exhausted = false;
  while (!queue.empty() && !exhausted) {
    job.throwIfCancelled();
    std::vector<Item> expanding;
    RoundPlan plan(v, budget.remaining());
    while (!queue.empty() && plan.coalitions.size() < roundCoalitions) {
      const HierarchyNode& node = hierarchy.nodes[size_t(queue.top().node)];
      if (node.left < 0) {
        share(queue.top());
        queue.pop();
        continue;
      }
      Coalition halves[2] = {queue.top().on, queue.top().on};  // m10 = m00 + L, m01 = m00 + R
      for (int p : hierarchy.nodes[size_t(node.left)].players) halves[0][size_t(p)] = 1;
      for (int p : hierarchy.nodes[size_t(node.right)].players) halves[1][size_t(p)] = 1;
      if (!plan.tryAdd(halves, 2)) {
        exhausted = true;
        break;
      }
      expanding.push_back(queue.top());
      queue.pop();
    }
    if (expanding.empty()) break;
    const std::vector<double> values = v.values(plan.coalitions, job);
    for (size_t e = 0; e < expanding.size(); ++e) {
      const Item& item = expanding[e];
      const HierarchyNode& node = hierarchy.nodes[size_t(item.node)];
      const std::vector<double> f10(values.begin() + std::ptrdiff_t(2 * e * size_t(k)),
                                    values.begin() + std::ptrdiff_t((2 * e + 1) * size_t(k)));
      const std::vector<double> f01(values.begin() + std::ptrdiff_t((2 * e + 1) * size_t(k)),
                                    values.begin() + std::ptrdiff_t((2 * e + 2) * size_t(k)));
      const double half = item.weight / 2;
      // Each child is explained with its sibling absent and present, half the weight each.
      push(item.on, item.f00, f10, node.left, half);
      push(item.on, item.f00, f01, node.right, half);
      push(plan.coalitions[2 * e + 1], f01, item.f11, node.left, half);
      push(plan.coalitions[2 * e], f10, item.f11, node.right, half);
    }
    job.progress(std::min(1.0, double(budget.used()) / progressScale), "Owen values");
  }
  // Out of budget: what is still queued keeps its effect, shared evenly among its players.
  r.converged = queue.empty();
  while (!queue.empty()) {
    share(queue.top());
    queue.pop();
  }
  r.evaluations = budget.used();
  r.cacheHits = budget.hits();
  job.progress(1.0, "Owen values");
  return r;
}

// ---- pairwise interactions --------------------------------------------------------------

InteractionResult shapleyInteractions(CoalitionCache& v, const SamplingOptions& options,
                                      const JobContext& job) {
  const int n = checkedPlayers(v), k = v.outputs();
  checkSampling(options, "Shapley interactions");
  InteractionResult r;
  r.players = n;
  r.outputs = k;
  r.sii.assign(size_t(n) * n * k, 0.0);
  r.siiStderr.assign(size_t(n) * n * k, 0.0);
  r.ksiiSingle.assign(size_t(n) * k, 0.0);
  const int64_t startEvaluations = v.evaluations(), startHits = v.hits();
  auto index = [&](int i, int j, int o) { return (size_t(i) * n + size_t(j)) * k + size_t(o); };

  if (n <= kMaxExactPlayers && (int64_t(1) << n) <= options.maxEvaluations) {
    r.exact = true;
    const std::vector<double> table = allCoalitionValues(v, job, "Shapley interactions");
    r.shapley = shapleyFromTable(table, n, k);
    r.emptyValue.assign(table.begin(), table.begin() + k);
    r.fullValue.assign(table.end() - k, table.end());
    // SII_ij = sum over T without i, j of |T|! (n - |T| - 2)! / (n - 1)! times the discrete
    // second derivative v(T+i+j) - v(T+i) - v(T+j) + v(T); the weight is
    // 1 / ((n - 1) C(n - 2, |T|)).
    std::vector<double> weight(size_t(std::max(1, n - 1)), 0.0);
    for (int t = 0; t + 2 <= n; ++t) weight[size_t(t)] = 1.0 / (double(n - 1) * binomial(n - 2, t));
    const size_t total = size_t(1) << n;
    for (size_t m = 0; m < total; ++m) {
      const int t = std::popcount(m);
      if (t + 2 > n) continue;
      const double w = weight[size_t(t)];
      const double* f = &table[m * size_t(k)];
      for (int i = 0; i < n; ++i) {
        if (m & (size_t(1) << i)) continue;
        const double* fi = &table[(m | (size_t(1) << i)) * size_t(k)];
        for (int j = i + 1; j < n; ++j) {
          if (m & (size_t(1) << j)) continue;
          const double* fj = &table[(m | (size_t(1) << j)) * size_t(k)];
          const double* fij = &table[(m | (size_t(1) << i) | (size_t(1) << j)) * size_t(k)];
          for (int o = 0; o < k; ++o) r.sii[index(i, j, o)] += w * (fij[o] - fi[o] - fj[o] + f[o]);
        }
      }
    }
  } else {
    const int64_t pairs = int64_t(n) * (n - 1) / 2;
    const int64_t permutationMinimum = 2 + (options.paired ? 2 : 1) * int64_t(n - 1);
    const int64_t needed = permutationMinimum + 4 * pairs;
    if (options.maxEvaluations < needed)
      invalid("sampled Shapley interactions of " + std::to_string(n) + " players need a budget of at least " +
              std::to_string(needed) +
              " evaluations (one sample of 4 coalitions per pair and a pair of "
              "permutations), got " +
              std::to_string(options.maxEvaluations));
    // A third of the budget for the Shapley values, the rest for the pairs.
    SamplingOptions permutation = options;
    permutation.maxEvaluations = std::min(std::max(options.maxEvaluations / 3, permutationMinimum),
                                          options.maxEvaluations - 4 * pairs);
    const double permutationShare = double(permutation.maxEvaluations) / double(options.maxEvaluations);
    const JobContext inner(job.stopToken(), [&](double fraction, std::string_view stage) {
      job.progress(fraction * permutationShare, stage);
    });
    const ShapleyResult phi = permutationShapley(v, permutation, inner);
    r.shapley = phi.values;
    r.emptyValue = phi.emptyValue;
    r.fullValue = phi.fullValue;

    // Each pair: T drawn from its SII distribution (size uniform in 0..n-2, then a uniform
    // subset of that size of the other players: each size carries total weight 1/(n-1)),
    // so SII_ij is the mean of the second derivative. A separate stream from the
    // permutations' (same seed, fixed offset).
    Budget budget(v, options.maxEvaluations - (v.evaluations() - startEvaluations));
    Rng rng(options.seed ^ 0x9e3779b97f4a7c15ull);
    std::vector<std::pair<int, int>> pairList;
    for (int i = 0; i < n; ++i)
      for (int j = i + 1; j < n; ++j) pairList.push_back({i, j});
    std::vector<RunningMoments> moments(pairList.size(), RunningMoments(size_t(k)));
    std::vector<int> others(static_cast<size_t>(n - 2));
    std::vector<double> delta(static_cast<size_t>(k));
    const int64_t target = std::max(4 * pairs, roundTarget(v, budget.limit));
    bool exhausted = false;
    while (!exhausted && !budget.requestCapReached()) {
      job.throwIfCancelled();
      RoundPlan plan(v, budget.remaining());
      std::vector<size_t> owner;  // pair of each planned sample
      // Round robin over the pairs so that their sample counts differ by one at most.
      while (!exhausted && plan.newCount() < target && int64_t(plan.coalitions.size()) < 4 * target) {
        for (size_t p = 0; p < pairList.size(); ++p) {
          const auto [i, j] = pairList[p];
          others.clear();
          for (int q = 0; q < n; ++q)
            if (q != i && q != j) others.push_back(q);
          const int t = int(rng.below(uint64_t(n - 1)));
          rng.choose(others, t);
          Coalition sample[4] = {Coalition(size_t(n), 0)};
          for (int q = 0; q < t; ++q) sample[0][size_t(others[size_t(q)])] = 1;
          sample[1] = sample[0];
          sample[1][size_t(i)] = 1;
          sample[2] = sample[0];
          sample[2][size_t(j)] = 1;
          sample[3] = sample[1];
          sample[3][size_t(j)] = 1;
          if (!plan.tryAdd(sample, 4)) {
            exhausted = true;
            break;
          }
          owner.push_back(p);
        }
      }
      if (owner.empty()) break;
      const std::vector<double> values = v.values(plan.coalitions, job);
      budget.requested += int64_t(plan.coalitions.size());
      for (size_t s = 0; s < owner.size(); ++s) {
        const double* f = &values[4 * s * size_t(k)];
        for (int o = 0; o < k; ++o) delta[size_t(o)] = f[3 * k + o] - f[k + o] - f[2 * k + o] + f[o];
        moments[owner[s]].add(delta);
      }
      job.progress(permutationShare + (1 - permutationShare) * budget.fraction(), "Shapley interactions");
    }
    for (size_t p = 0; p < pairList.size(); ++p)
      for (int o = 0; o < k; ++o) {
        r.sii[index(pairList[p].first, pairList[p].second, o)] = moments[p].mean[size_t(o)];
        r.siiStderr[index(pairList[p].first, pairList[p].second, o)] = moments[p].stderrOf(size_t(o));
      }
  }

  // Mirror the upper triangle; the 2-SII main terms follow from the Shapley values.
  for (int i = 0; i < n; ++i)
    for (int j = i + 1; j < n; ++j)
      for (int o = 0; o < k; ++o) {
        r.sii[index(j, i, o)] = r.sii[index(i, j, o)];
        r.siiStderr[index(j, i, o)] = r.siiStderr[index(i, j, o)];
      }
  for (int i = 0; i < n; ++i)
    for (int o = 0; o < k; ++o) {
      double pairSum = 0;
      for (int j = 0; j < n; ++j) pairSum += r.sii[index(i, j, o)];
      r.ksiiSingle[size_t(i) * k + o] = r.shapley[size_t(i) * k + o] - pairSum / 2;
    }
  r.evaluations = v.evaluations() - startEvaluations;
  r.cacheHits = v.hits() - startHits;
  job.progress(1.0, "Shapley interactions");
  return r;
}

}  // namespace vlm::explain
