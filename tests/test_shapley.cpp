// VLM_TEST_LABELS: fast
// Shapley games (explain/shapley.h): the coalition cache, exact Shapley values, KernelSHAP,
// permutation sampling, Owen values and pairwise interactions, on small games whose values
// are known by hand (additive, symmetric, dummy players, unanimity terms) or from the
// exact estimator, plus the axioms every estimator keeps (efficiency) and bad input.
#include <QtTest/QtTest>

#include "error_testing.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <initializer_list>
#include <numeric>
#include <random>
#include <stop_token>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/error.h"
#include "common/job.h"
#include "explain/shapley.h"

using namespace vlm;
using namespace vlm::explain;

namespace {

// A game given by a function of the coalition; it records the batch sizes it is called with.
class FunctionGame : public Game {
 public:
  using Fn = std::function<double(const Coalition&, int output)>;
  FunctionGame(int players, int outputs, Fn f) : n_(players), k_(outputs), f_(std::move(f)) {}
  int players() const override { return n_; }
  int outputs() const override { return k_; }
  std::vector<double> evaluate(const std::vector<Coalition>& batch, const JobContext&) override {
    batchSizes.push_back(int(batch.size()));
    std::vector<double> out;
    for (const Coalition& c : batch)
      for (int o = 0; o < k_; ++o) out.push_back(f_(c, o));
    if (stopAfterFirstBatch) stopAfterFirstBatch->request_stop();
    return out;
  }
  std::vector<int> batchSizes;
  std::stop_source* stopAfterFirstBatch = nullptr;  // asks the caller to stop once called

 private:
  int n_, k_;
  Fn f_;
};

bool has(const Coalition& c, std::initializer_list<int> players) {
  return std::all_of(players.begin(), players.end(), [&](int p) { return c[size_t(p)] != 0; });
}
int sizeOf(const Coalition& c) { return int(std::count(c.begin(), c.end(), uint8_t(1))); }

// Uniform doubles in [lo, hi) for building test games (any fixed generator will do here).
struct TestRandom {
  explicit TestRandom(uint64_t seed) : engine(seed) {}
  double operator()(double lo, double hi) { return lo + (hi - lo) * double(engine() >> 11) * 0x1.0p-53; }
  std::mt19937_64 engine;
};

// v_k(S) = c_k + sum_i w_ik [i in S]
struct Additive {
  std::vector<double> c;               // [K]
  std::vector<std::vector<double>> w;  // [n][K]
  FunctionGame game() const {
    return FunctionGame(int(w.size()), int(c.size()), [*this](const Coalition& s, int o) {
      double value = c[size_t(o)];
      for (size_t i = 0; i < w.size(); ++i)
        if (s[i]) value += w[i][size_t(o)];
      return value;
    });
  }
};

Additive additiveGame() {
  return Additive{{0.2, -1.0},
                  {{0.5, 3.0}, {-1.25, 0.0}, {2.0, -2.0}, {0.75, 0.4}, {-0.3, 1.5}, {1.1, -0.7}}};
}

// Weights, pairwise products and a few three-way products with random coefficients: a game
// with interactions of every order up to 3, different per output.
FunctionGame randomGame(int n, int k, uint64_t seed) {
  TestRandom rnd(seed);
  std::vector<double> w(size_t(n) * k), a(size_t(n) * n * k);
  for (double& x : w) x = rnd(-1, 1);
  for (double& x : a) x = rnd(-0.5, 0.5);
  struct Triple {
    int p, q, r;
    std::vector<double> b;
  };
  std::vector<Triple> triples;
  for (int t = 0; t < 3; ++t) {
    Triple tr{t % n, (t + n / 3) % n, (t + 2 * n / 3) % n, {}};  // distinct for n >= 6
    for (int o = 0; o < k; ++o) tr.b.push_back(rnd(-1.5, 1.5));
    triples.push_back(tr);
  }
  return FunctionGame(n, k, [=](const Coalition& s, int o) {
    double value = 0;
    for (int i = 0; i < n; ++i) {
      if (!s[size_t(i)]) continue;
      value += w[size_t(i) * k + o];
      for (int j = i + 1; j < n; ++j)
        if (s[size_t(j)]) value += a[(size_t(i) * n + j) * k + o];
    }
    for (const Triple& t : triples)
      if (s[size_t(t.p)] && s[size_t(t.q)] && s[size_t(t.r)]) value += t.b[size_t(o)];
    return value;
  });
}

// A game with arbitrary (random) values on all 2^n coalitions: no structure at all.
FunctionGame tableGame(int n, int k, uint64_t seed) {
  TestRandom rnd(seed);
  std::vector<double> table((size_t(1) << n) * k);
  for (double& x : table) x = rnd(-2, 2);
  return FunctionGame(n, k, [=](const Coalition& s, int o) {
    size_t index = 0;
    for (int i = 0; i < n; ++i)
      if (s[size_t(i)]) index |= size_t(1) << i;
    return table[index * k + o];
  });
}

// Recursive halving of players[lo, hi) (the left half gets the smaller share when odd).
int addHalves(Hierarchy& h, const std::vector<int>& players, size_t lo, size_t hi) {
  HierarchyNode node;
  node.players.assign(players.begin() + std::ptrdiff_t(lo), players.begin() + std::ptrdiff_t(hi));
  const int index = int(h.nodes.size());
  h.nodes.push_back(node);
  if (hi - lo > 1) {
    const size_t mid = lo + (hi - lo) / 2;
    const int left = addHalves(h, players, lo, mid);
    const int right = addHalves(h, players, mid, hi);
    h.nodes[size_t(index)].left = left;
    h.nodes[size_t(index)].right = right;
  }
  return index;
}
Hierarchy halvingHierarchy(int n) {
  std::vector<int> players(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) players[size_t(i)] = i;
  Hierarchy h;
  h.root = addHalves(h, players, 0, players.size());
  return h;
}

double sumOverPlayers(const std::vector<double>& values, int n, int k, int output) {
  double s = 0;
  for (int i = 0; i < n; ++i) s += values[size_t(i) * k + output];
  return s;
}

double maxAbsDiff(const std::vector<double>& a, const std::vector<double>& b) {
  double d = 0;
  for (size_t i = 0; i < a.size(); ++i) d = std::max(d, std::abs(a[i] - b[i]));
  return a.size() == b.size() ? d : double(INFINITY);
}

double rmsDiff(const std::vector<double>& a, const std::vector<double>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += (a[i] - b[i]) * (a[i] - b[i]);
  return std::sqrt(s / double(a.size()));
}

SamplingOptions budgetOf(int64_t maxEvaluations, uint64_t seed = 1, bool paired = true) {
  SamplingOptions o;
  o.maxEvaluations = maxEvaluations;
  o.seed = seed;
  o.paired = paired;
  return o;
}

// Sum of the values equals v(N) - v(empty) for every output.
std::string efficiencyGap(const ShapleyResult& r, double tolerance) {
  for (int o = 0; o < r.outputs; ++o) {
    const double gap = sumOverPlayers(r.values, r.players, r.outputs, o) -
                       (r.fullValue[size_t(o)] - r.emptyValue[size_t(o)]);
    if (!(std::abs(gap) <= tolerance))
      return r.estimator + ": sum of values - (v(N) - v(empty)) = " + std::to_string(gap) + " for output " +
             std::to_string(o);
  }
  return {};
}

ErrorCode errorCodeOf(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.code();
  }
  return ErrorCode::Unsupported;  // marker: nothing thrown
}

}  // namespace

#define VERIFY_NEAR(actual, expected, tolerance)                             \
  do {                                                                       \
    const double a_ = (actual), e_ = (expected);                             \
    if (!(std::abs(a_ - e_) <= (tolerance)))                                 \
      QFAIL(qPrintable(QStringLiteral("%1 = %2, expected %3 (tolerance %4)") \
                           .arg(QStringLiteral(#actual))                     \
                           .arg(a_, 0, 'g', 17)                              \
                           .arg(e_, 0, 'g', 17)                              \
                           .arg(double(tolerance))));                        \
  } while (0)

#define VERIFY_EMPTY(message)           \
  do {                                  \
    const std::string m_ = (message);   \
    if (!m_.empty()) QFAIL(m_.c_str()); \
  } while (0)

class TestShapley : public QObject {
  Q_OBJECT

 private Q_SLOTS:
  // v(S) = c + sum w_i: every estimator recovers the weights, per output.
  void additiveGameGivesWeights() {
    const Additive add = additiveGame();
    const int n = 6, k = 2;
    auto expectWeights = [&](const ShapleyResult& r, double tolerance, double stderrTolerance) {
      QCOMPARE(r.players, n);
      QCOMPARE(r.outputs, k);
      for (int i = 0; i < n; ++i)
        for (int o = 0; o < k; ++o) {
          VERIFY_NEAR(r.value(i, o), add.w[size_t(i)][size_t(o)], tolerance);
          VERIFY_NEAR(r.stderrOf(i, o), 0.0, stderrTolerance);
        }
      for (int o = 0; o < k; ++o) {
        double full = add.c[size_t(o)];
        for (int i = 0; i < n; ++i) full += add.w[size_t(i)][size_t(o)];
        VERIFY_NEAR(r.emptyValue[size_t(o)], add.c[size_t(o)], 1e-15);
        VERIFY_NEAR(r.fullValue[size_t(o)], full, 1e-12);
      }
    };
    {
      FunctionGame game = add.game();
      CoalitionCache cache(game, 16);
      const ShapleyResult r = exactShapley(cache, {});
      expectWeights(r, 1e-12, 0);
      QCOMPARE(r.evaluations, int64_t(64));
      QCOMPARE(r.samples, int64_t(0));
    }
    // 14: sizes 1 and 5 enumerated; 20 and 40: some sampled; 64: everything; unpaired too.
    for (const SamplingOptions& o :
         {budgetOf(14), budgetOf(20), budgetOf(40), budgetOf(64), budgetOf(30, 3, false)}) {
      FunctionGame game = add.game();
      CoalitionCache cache(game, 8);
      const ShapleyResult r = kernelShap(cache, o, {});
      expectWeights(r, 1e-9, 1e-9);
      QVERIFY(r.evaluations <= o.maxEvaluations);
    }
    for (const SamplingOptions& o : {budgetOf(12), budgetOf(50), budgetOf(40, 2, false)}) {
      FunctionGame game = add.game();
      CoalitionCache cache(game, 8);
      const ShapleyResult r = permutationShapley(cache, o, {});
      expectWeights(r, 1e-12, 1e-12);
      QVERIFY(r.samples >= (o.paired ? 2 : 1));
      QVERIFY(r.evaluations <= o.maxEvaluations);
    }
    {
      FunctionGame game = add.game();
      CoalitionCache cache(game, 8);
      const ShapleyResult r = owenValues(cache, halvingHierarchy(n), 1000, {});
      expectWeights(r, 1e-12, 0);
      QVERIFY(r.converged);
    }
  }

  // Symmetric players get equal values; a player that never changes v gets 0.
  void symmetricAndDummyPlayers() {
    {
      // v(S) = |S|^2 on 8 players: each gets v(N) / 8 = 8, with Owen on the balanced
      // hierarchy ({{{0,1},{2,3}},{{4,5},{6,7}}}) too.
      FunctionGame game(8, 1, [](const Coalition& s, int) { return double(sizeOf(s) * sizeOf(s)); });
      CoalitionCache cache(game, 32);
      const ShapleyResult exact = exactShapley(cache, {});
      const ShapleyResult owen = owenValues(cache, halvingHierarchy(8), 100000, {});
      for (int i = 0; i < 8; ++i) {
        VERIFY_NEAR(exact.value(i, 0), 8.0, 1e-12);
        VERIFY_NEAR(owen.value(i, 0), 8.0, 1e-12);
      }
    }
    // Players 4, 5, 6 are dummies; 0..3 interact nonlinearly.
    FunctionGame game(7, 2, [](const Coalition& s, int o) {
      const double x = s[0] + 2.0 * s[1] + 3.0 * s[2] * s[3];
      return o == 0 ? x * x : std::sin(x) + s[0] * s[3];
    });
    CoalitionCache cache(game, 16);
    const ShapleyResult exact = exactShapley(cache, {});
    FunctionGame fresh = game;
    CoalitionCache kernelCache(fresh, 16);
    const ShapleyResult kernel = kernelShap(kernelCache, budgetOf(128), {});
    const ShapleyResult permutation = permutationShapley(cache, budgetOf(300, 4), {});
    const ShapleyResult owen = owenValues(cache, halvingHierarchy(7), 100000, {});
    for (int i = 4; i < 7; ++i)
      for (int o = 0; o < 2; ++o) {
        VERIFY_NEAR(exact.value(i, o), 0.0, 1e-12);
        VERIFY_NEAR(kernel.value(i, o), 0.0, 1e-9);
        VERIFY_NEAR(permutation.value(i, o), 0.0, 1e-12);
        VERIFY_NEAR(permutation.stderrOf(i, o), 0.0, 1e-12);
        VERIFY_NEAR(owen.value(i, o), 0.0, 1e-12);
      }
    // The real players do get something (the test would be vacuous otherwise).
    QVERIFY(std::abs(exact.value(1, 0)) > 1);
    QVERIFY(maxAbsDiff(kernel.values, exact.values) < 1e-9);
  }

  // Sum of values = v(N) - v(empty) for every estimator and budget, on a game without any
  // structure (random values on all coalitions).
  void efficiency() {
    const int n = 7, k = 2;
    FunctionGame game = tableGame(n, k, 11);
    {
      CoalitionCache cache(game, 16);
      VERIFY_EMPTY(efficiencyGap(exactShapley(cache, {}), 1e-9));
    }
    // Owen on an unbalanced hierarchy (7 players: 3 + 4, ...), from a budget that explains
    // nothing below the root to one that reaches every leaf.
    // The whole tree needs 2 + 2 (root) + 2 x 2 x 2 (depth 1) + 3 x 2 x 4 (depth 2) = 36.
    for (int64_t budget : {3, 4, 5, 10, 30, 35, 36, 1000}) {
      FunctionGame g = game;
      CoalitionCache cache(g, 4);
      const ShapleyResult r = owenValues(cache, halvingHierarchy(n), budget, {});
      VERIFY_EMPTY(efficiencyGap(r, 1e-9));
      QVERIFY(r.evaluations <= budget);
      QCOMPARE(r.converged, budget >= 36);
    }
    {
      // Budget 3: only v(empty) and v(N) fit, so the root's effect is shared evenly.
      FunctionGame g = game;
      CoalitionCache cache(g, 4);
      const ShapleyResult r = owenValues(cache, halvingHierarchy(n), 3, {});
      for (int i = 0; i < n; ++i)
        for (int o = 0; o < k; ++o)
          VERIFY_NEAR(r.value(i, o), (r.fullValue[size_t(o)] - r.emptyValue[size_t(o)]) / n, 1e-12);
    }
    for (const SamplingOptions& o : {budgetOf(14), budgetOf(100, 2), budgetOf(60, 3, false)}) {
      FunctionGame g = game;
      CoalitionCache cache(g, 16);
      VERIFY_EMPTY(efficiencyGap(permutationShapley(cache, o, {}), 1e-9));
    }
    for (const SamplingOptions& o :
         {budgetOf(2), budgetOf(10), budgetOf(30), budgetOf(100), budgetOf(50, 5, false)}) {
      FunctionGame g = game;
      CoalitionCache cache(g, 16);
      const ShapleyResult r = kernelShap(cache, o, {});
      VERIFY_EMPTY(efficiencyGap(r, 1e-9));
      if (o.maxEvaluations == 2)  // no coalition besides the ends: the constraint alone, d / n each
        for (int i = 0; i < n; ++i) VERIFY_NEAR(r.value(i, 1), (r.fullValue[1] - r.emptyValue[1]) / n, 1e-12);
    }
  }

  // n = 10: the sampling estimators approach the exact values as the budget grows, KernelSHAP
  // reaches them once the budget covers all 2^10 coalitions, and the reported standard errors
  // describe the actual errors.
  void convergenceOnRandomGame() {
    const int n = 10, k = 2;
    FunctionGame game = randomGame(n, k, 42);
    CoalitionCache exactCache(game, 64);
    const ShapleyResult exact = exactShapley(exactCache, {});

    // Errors averaged over a few seeds so that the comparison is about the estimator, not one
    // lucky draw.
    auto meanError = [&](auto estimator, int64_t budget) {
      double sum = 0;
      for (uint64_t seed : {1, 2, 3, 4}) {
        FunctionGame g = game;
        CoalitionCache cache(g, 64);
        const ShapleyResult r = estimator(cache, budgetOf(budget, seed));
        if (r.evaluations > budget) return double(INFINITY);
        sum += rmsDiff(r.values, exact.values);
      }
      return sum / 4;
    };
    auto kernel = [](CoalitionCache& c, const SamplingOptions& o) { return kernelShap(c, o, {}); };
    auto permutation = [](CoalitionCache& c, const SamplingOptions& o) {
      return permutationShapley(c, o, {});
    };
    const double k100 = meanError(kernel, 100), k400 = meanError(kernel, 400),
                 k1024 = meanError(kernel, 1024);
    qInfo("KernelSHAP rms error: %.3g (100) %.3g (400) %.3g (1024)", k100, k400, k1024);
    QVERIFY(k400 < k100);
    QVERIFY(k1024 < 1e-9);
    const double p100 = meanError(permutation, 100), p400 = meanError(permutation, 400),
                 p2000 = meanError(permutation, 2000);
    qInfo("permutation rms error: %.3g (100) %.3g (400) %.3g (2000)", p100, p400, p2000);
    QVERIFY(p400 < p100);
    QVERIFY(p2000 < p400);

    // Over many seeds, the reported standard errors match the actual spread of the errors:
    // the ratio of the root-mean-square error to the root-mean-square stderr is near 1.
    auto spreadRatio = [&](auto estimator, int64_t budget) {
      double err2 = 0, se2 = 0;
      for (uint64_t seed = 100; seed < 130; ++seed) {
        FunctionGame g = game;
        CoalitionCache cache(g, 64);
        const ShapleyResult r = estimator(cache, budgetOf(budget, seed));
        for (size_t i = 0; i < r.values.size(); ++i) {
          err2 += (r.values[i] - exact.values[i]) * (r.values[i] - exact.values[i]);
          se2 += r.stderrs[i] * r.stderrs[i];
        }
      }
      return std::sqrt(err2 / se2);
    };
    const double kernelRatio = spreadRatio(kernel, 400), permutationRatio = spreadRatio(permutation, 400);
    qInfo("rms error / rms stderr: KernelSHAP %.3f, permutation %.3f", kernelRatio, permutationRatio);
    QVERIFY(kernelRatio > 0.75 && kernelRatio < 1.33);
    QVERIFY(permutationRatio > 0.75 && permutationRatio < 1.33);

    // |error| <= 4 standard errors for at least 90% of the (player, output) entries.
    auto calibrated = [&](const ShapleyResult& r) {
      int within = 0;
      for (size_t i = 0; i < r.values.size(); ++i)
        if (std::abs(r.values[i] - exact.values[i]) <= 4 * r.stderrs[i] + 1e-12) ++within;
      qInfo("%s: %d of %d within 4 stderr", r.estimator.c_str(), within, int(r.values.size()));
      return within >= int(std::ceil(0.9 * double(r.values.size())));
    };
    {
      FunctionGame g = game;
      CoalitionCache cache(g, 64);
      const ShapleyResult r = kernelShap(cache, budgetOf(400, 7), {});
      QVERIFY(r.samples > 0);
      QVERIFY(calibrated(r));
    }
    {
      FunctionGame g = game;
      CoalitionCache cache(g, 64);
      const ShapleyResult r = permutationShapley(cache, budgetOf(600, 7), {});
      QVERIFY(calibrated(r));
    }
  }

  // Early stopping: with a tolerance, sampling stops once max stderr <= tolerance * range.
  void toleranceStopsEarly() {
    // 16 players: KernelSHAP enumerates sizes 1..5 and 11..15 (13768 coalitions), then samples.
    const int n = 16;
    FunctionGame game = randomGame(n, 2, 42);
    for (bool kernel : {true, false}) {
      FunctionGame g = game;
      CoalitionCache cache(g, 16);
      SamplingOptions o = budgetOf(20000, 3);
      o.tolerance = 0.05;
      const ShapleyResult r = kernel ? kernelShap(cache, o, {}) : permutationShapley(cache, o, {});
      QVERIFY2(r.converged, r.estimator.c_str());
      QVERIFY(r.evaluations < o.maxEvaluations);
      for (int out = 0; out < 2; ++out) {
        double lo = INFINITY, hi = -INFINITY, worst = 0;
        for (int i = 0; i < n; ++i) {
          lo = std::min(lo, r.value(i, out));
          hi = std::max(hi, r.value(i, out));
          worst = std::max(worst, r.stderrOf(i, out));
        }
        QVERIFY(worst <= o.tolerance * (hi - lo));
      }
    }
  }

  // Pairwise interactions on v = c + sum w_i [i] + sum a_ij [i, j] + b [1, 2, 3]:
  // - SII_ij of a pure pair term a [i, j] is a (its second derivative is a for every T);
  // - for b [1, 2, 3], the second derivative in (1, 2) is b [3 in T], so
  //   SII_12 = b * P(3 in T) under the SII weights (size t uniform in 0..n-2, then a uniform
  //   t-subset of the n-2 others): P = E[t] / (n - 2) = 1/2, so SII_12 = b/2 (the unanimity
  //   game of 3 players has SII 1/(3 - 2 + 1) = 1/2 on its pairs; b/3 would be the
  //   Shapley-Taylor index, which splits b evenly over the 3 pairs);
  // - Shapley: phi_i = w_i + 1/2 sum_j a_ij + b/3 [i in {1, 2, 3}];
  // - 2-SII main terms: phi_i - 1/2 sum_j SII_ij = w_i + b/3 - b/2 = w_i - b/6 in the triple.
  void interactionsExact() {
    const int n = 5, k = 2;
    const std::vector<double> w = {0.3, -1.1, 0.8, 2.0, -0.4};
    std::vector<double> a(n * n, 0.0);
    auto setPair = [&](int i, int j, double x) { a[size_t(i) * n + j] = a[size_t(j) * n + i] = x; };
    setPair(0, 1, 0.7);
    setPair(1, 3, -1.3);
    setPair(2, 4, 0.45);
    setPair(0, 4, 2.2);
    const double b[k] = {0.0, 1.2};  // output 0: pairs only; output 1: plus the triple
    FunctionGame game(n, k, [&](const Coalition& s, int o) {
      double value = 5.0;
      for (int i = 0; i < n; ++i) {
        if (!s[size_t(i)]) continue;
        value += w[size_t(i)];
        for (int j = i + 1; j < n; ++j)
          if (s[size_t(j)]) value += a[size_t(i) * n + j];
      }
      if (has(s, {1, 2, 3})) value += b[o];
      return value;
    });
    CoalitionCache cache(game, 8);
    const InteractionResult r = shapleyInteractions(cache, budgetOf(32), {});
    QVERIFY(r.exact);
    QCOMPARE(r.evaluations, int64_t(32));
    auto inTriple = [](int i) { return i >= 1 && i <= 3; };
    for (int o = 0; o < k; ++o) {
      double pairSum = 0, singleSum = 0;
      for (int i = 0; i < n; ++i) {
        double phi = w[size_t(i)] + (inTriple(i) ? b[o] / 3 : 0.0);
        for (int j = 0; j < n; ++j) phi += a[size_t(i) * n + j] / 2;
        VERIFY_NEAR(r.shapley[size_t(i) * k + o], phi, 1e-12);
        VERIFY_NEAR(r.ksiiSingle[size_t(i) * k + o], w[size_t(i)] - (inTriple(i) ? b[o] / 6 : 0.0), 1e-12);
        singleSum += r.ksiiSingle[size_t(i) * k + o];
        for (int j = 0; j < n; ++j) {
          const double expected =
              i == j ? 0.0 : a[size_t(i) * n + j] + (inTriple(i) && inTriple(j) ? b[o] / 2 : 0.0);
          VERIFY_NEAR(r.pair(i, j, o), expected, 1e-12);
          VERIFY_NEAR(r.siiStderr[(size_t(i) * n + j) * k + o], 0.0, 0.0);
          if (i < j) pairSum += r.pair(i, j, o);
        }
      }
      // The 2-SII decomposition is efficient: mains + pairs = v(N) - v(empty).
      VERIFY_NEAR(singleSum + pairSum, r.fullValue[size_t(o)] - r.emptyValue[size_t(o)], 1e-12);
    }
    // Same Shapley values as the exact estimator, all from the cache now.
    const ShapleyResult exact = exactShapley(cache, {});
    QCOMPARE(exact.evaluations, int64_t(0));
    QCOMPARE(exact.cacheHits, int64_t(32));
    QVERIFY(maxAbsDiff(exact.values, r.shapley) < 1e-12);
  }

  // Below 2^n evaluations the pairs are sampled: estimates within a few standard errors of
  // the exact ones, the 2-SII decomposition still efficient, too small a budget refused.
  void interactionsSampled() {
    const int n = 12, k = 2;
    FunctionGame game = randomGame(n, k, 5);
    CoalitionCache exactCache(game, 256);
    const InteractionResult exact = shapleyInteractions(exactCache, budgetOf(4096), {});
    QVERIFY(exact.exact);

    FunctionGame g = game;
    CoalitionCache cache(g, 64);
    const InteractionResult r = shapleyInteractions(cache, budgetOf(3000, 9), {});
    QVERIFY(!r.exact);
    QVERIFY(r.evaluations <= 3000);
    int within = 0, total = 0, positive = 0;
    for (int o = 0; o < k; ++o) {
      double pairSum = 0, singleSum = 0;
      for (int i = 0; i < n; ++i) {
        singleSum += r.ksiiSingle[size_t(i) * k + o];
        for (int j = 0; j < n; ++j) {
          QCOMPARE(r.pair(i, j, o), r.pair(j, i, o));
          if (i == j) {
            QCOMPARE(r.pair(i, i, o), 0.0);
            continue;
          }
          if (i > j) continue;
          pairSum += r.pair(i, j, o);
          const double se = r.siiStderr[(size_t(i) * n + j) * k + o];
          ++total;
          if (se > 0) ++positive;
          if (std::abs(r.pair(i, j, o) - exact.pair(i, j, o)) <= 4 * se + 1e-12) ++within;
        }
      }
      VERIFY_NEAR(singleSum + pairSum, r.fullValue[size_t(o)] - r.emptyValue[size_t(o)], 1e-9);
    }
    qInfo("sampled SII: %d of %d pairs within 4 stderr, %d with a spread", within, total, positive);
    QVERIFY(positive >= total / 2);  // the game's three-way terms make most pairs vary with T
    QVERIFY(within >= int(std::ceil(0.9 * total)));
    // The Shapley values of the sampled mode are close to the exact ones too.
    QVERIFY(rmsDiff(r.shapley, exact.shapley) < 0.2);

    // 8 players, 2^8 > 100: a pair of permutations (16) and 4 coalitions for each of the 28
    // pairs (112) need 128 evaluations.
    FunctionGame small = randomGame(8, 1, 3);
    CoalitionCache smallCache(small, 16);
    VLM_EXPECT_ERROR(shapleyInteractions(smallCache, budgetOf(100), {}), ErrorCode::InvalidArgument, "128");
    QCOMPARE(smallCache.evaluations(), int64_t(0));
  }

  // The cache: repeats and duplicates are hits, batches of at most batchSize, bad coalitions.
  void coalitionCache() {
    FunctionGame game(3, 2, [](const Coalition& s, int o) {
      const double x = s[0] + 10.0 * s[1] + 100.0 * s[2];
      return o == 0 ? x : -2 * x;
    });
    CoalitionCache cache(game, 2);
    QCOMPARE(cache.players(), 3);
    QCOMPARE(cache.outputs(), 2);
    const Coalition a{1, 0, 0}, b{0, 1, 0}, c{0, 0, 1}, ab{1, 1, 0};
    const std::vector<double> first = cache.values({a, b, a, c, b}, {});
    QCOMPARE(first, (std::vector<double>{1, -2, 10, -20, 1, -2, 100, -200, 10, -20}));
    QCOMPARE(cache.evaluations(), int64_t(3));
    QCOMPARE(cache.hits(), int64_t(2));
    QCOMPARE(cache.batches(), int64_t(2));
    QCOMPARE(game.batchSizes, (std::vector<int>{2, 1}));
    const std::vector<double> second = cache.values({c, ab}, {});
    QCOMPARE(second, (std::vector<double>{100, -200, 11, -22}));
    QCOMPARE(cache.evaluations(), int64_t(4));
    QCOMPARE(cache.hits(), int64_t(3));
    QCOMPARE(cache.batches(), int64_t(3));
    QVERIFY(cache.contains(ab));
    QVERIFY(!cache.contains(Coalition{1, 1, 1}));
    QVERIFY(cache.values({}, {}).empty());

    VLM_EXPECT_ERROR(cache.values({Coalition{1, 0}}, {}), ErrorCode::InvalidArgument, "3 players");
    VLM_EXPECT_ERROR(cache.values({a, Coalition{0, 2, 0}}, {}), ErrorCode::InvalidArgument, "0 or 1");
    QCOMPARE(errorCodeOf([&] { CoalitionCache bad(game, 0); }), ErrorCode::InvalidArgument);
    QCOMPARE(cache.evaluations(), int64_t(4));  // refused requests evaluate nothing

    // A game that returns the wrong number of values is reported, not read past.
    struct Short : Game {
      int players() const override { return 2; }
      int outputs() const override { return 2; }
      std::vector<double> evaluate(const std::vector<Coalition>& batch, const JobContext&) override {
        return std::vector<double>(batch.size());
      }
    } shortGame;
    CoalitionCache shortCache(shortGame, 4);
    QCOMPARE(errorCodeOf([&] { shortCache.values({Coalition{1, 0}}, {}); }), ErrorCode::InvalidArgument);
  }

  // Every estimator sends its coalitions in batches of at most batchSize, counts its own
  // evaluations and hits, and reports progress in [0, 1], non-decreasing, ending at 1.
  void batchingCountsAndProgress() {
    FunctionGame game = randomGame(6, 2, 8);
    CoalitionCache cache(game, 7);
    std::vector<double> progress;
    std::stop_source never;
    const JobContext job(never.get_token(), [&](double f, std::string_view) { progress.push_back(f); });
    auto checkProgress = [&](const char* what) {
      QVERIFY2(!progress.empty(), what);
      QVERIFY2(std::is_sorted(progress.begin(), progress.end()), what);
      QVERIFY2(progress.front() >= 0 && progress.back() == 1.0, what);
      progress.clear();
    };
    const ShapleyResult exact = exactShapley(cache, job);
    checkProgress("exact");
    QCOMPARE(exact.evaluations, int64_t(64));
    QCOMPARE(cache.batches(), int64_t(10));  // ceil(64 / 7)
    const ShapleyResult again = exactShapley(cache, job);
    checkProgress("exact again");
    QCOMPARE(again.evaluations, int64_t(0));
    QCOMPARE(again.cacheHits, int64_t(64));
    QCOMPARE(again.values, exact.values);

    FunctionGame g = game;
    g.batchSizes.clear();
    CoalitionCache fresh(g, 7);
    const int64_t kernelEvaluations = kernelShap(fresh, budgetOf(40), job).evaluations;
    checkProgress("kernel");
    QVERIFY(kernelEvaluations <= 40 && kernelEvaluations >= 38);
    permutationShapley(fresh, budgetOf(40), job);
    checkProgress("permutation");
    owenValues(fresh, halvingHierarchy(6), 30, job);
    checkProgress("owen");
    shapleyInteractions(fresh, budgetOf(64), job);
    checkProgress("interactions");
    QVERIFY(!g.batchSizes.empty());
    for (int size : g.batchSizes) QVERIFY(size >= 1 && size <= 7);
    QCOMPARE(fresh.evaluations(), int64_t(std::accumulate(g.batchSizes.begin(), g.batchSizes.end(), 0)));
  }

  // A game that asks to stop after its first batch: every estimator throws Cancelled.
  void cancellation() {
    using Run = std::function<void(CoalitionCache&, const JobContext&)>;
    const std::vector<std::pair<const char*, Run>> runs = {
        {"exact", [](CoalitionCache& c, const JobContext& j) { exactShapley(c, j); }},
        {"kernel", [](CoalitionCache& c, const JobContext& j) { kernelShap(c, budgetOf(60), j); }},
        {"permutation",
         [](CoalitionCache& c, const JobContext& j) { permutationShapley(c, budgetOf(60), j); }},
        {"owen", [](CoalitionCache& c, const JobContext& j) { owenValues(c, halvingHierarchy(6), 60, j); }},
        {"interactions",
         [](CoalitionCache& c, const JobContext& j) { shapleyInteractions(c, budgetOf(64), j); }},
    };
    for (const auto& entry : runs) {
      const char* name = entry.first;
      const Run& run = entry.second;
      std::stop_source stop;
      FunctionGame game = randomGame(6, 1, 2);
      game.stopAfterFirstBatch = &stop;
      CoalitionCache cache(game, 4);
      const JobContext job(stop.get_token());
      QVERIFY2(errorCodeOf([&] { run(cache, job); }) == ErrorCode::Cancelled, name);
      QCOMPARE(game.batchSizes.size(), size_t(1));
    }
  }

  // Same seed, same result; another seed, another sample.
  void determinism() {
    FunctionGame game = randomGame(9, 2, 13);
    auto runKernel = [&](uint64_t seed) {
      FunctionGame g = game;
      CoalitionCache cache(g, 16);
      return kernelShap(cache, budgetOf(150, seed), {});
    };
    auto runPermutation = [&](uint64_t seed) {
      FunctionGame g = game;
      CoalitionCache cache(g, 16);
      return permutationShapley(cache, budgetOf(150, seed), {});
    };
    auto runInteractions = [&](uint64_t seed) {
      FunctionGame g = game;
      CoalitionCache cache(g, 16);
      return shapleyInteractions(cache, budgetOf(400, seed), {});
    };
    for (auto run : {std::function<ShapleyResult(uint64_t)>(runKernel),
                     std::function<ShapleyResult(uint64_t)>(runPermutation)}) {
      const ShapleyResult a = run(5), b = run(5), c = run(6);
      QCOMPARE(a.values, b.values);
      QCOMPARE(a.stderrs, b.stderrs);
      QCOMPARE(a.samples, b.samples);
      QVERIFY(a.values != c.values);
    }
    const InteractionResult a = runInteractions(5), b = runInteractions(5), c = runInteractions(6);
    QVERIFY(!a.exact);
    QCOMPARE(a.sii, b.sii);
    QCOMPARE(a.siiStderr, b.siiStderr);
    QCOMPARE(a.shapley, b.shapley);
    QVERIFY(a.sii != c.sii);
  }

  void badInput() {
    FunctionGame none(0, 1, [](const Coalition&, int) { return 0.0; });
    CoalitionCache noneCache(none, 4);
    VLM_EXPECT_ERROR(exactShapley(noneCache, {}), ErrorCode::InvalidArgument, "player");
    VLM_EXPECT_ERROR(kernelShap(noneCache, budgetOf(10), {}), ErrorCode::InvalidArgument, "player");
    VLM_EXPECT_ERROR(permutationShapley(noneCache, budgetOf(10), {}), ErrorCode::InvalidArgument, "player");
    VLM_EXPECT_ERROR(shapleyInteractions(noneCache, budgetOf(10), {}), ErrorCode::InvalidArgument, "player");
    FunctionGame noOutputs(3, 0, [](const Coalition&, int) { return 0.0; });
    CoalitionCache noOutputsCache(noOutputs, 4);
    VLM_EXPECT_ERROR(exactShapley(noOutputsCache, {}), ErrorCode::InvalidArgument, "output");

    FunctionGame many(21, 1, [](const Coalition&, int) { return 0.0; });
    CoalitionCache manyCache(many, 4);
    VLM_EXPECT_ERROR(exactShapley(manyCache, {}), ErrorCode::InvalidArgument, "21 players", "KernelSHAP");
    QCOMPARE(manyCache.evaluations(), int64_t(0));

    FunctionGame game = randomGame(5, 1, 1);
    CoalitionCache cache(game, 4);
    VLM_EXPECT_ERROR(kernelShap(cache, budgetOf(1), {}), ErrorCode::InvalidArgument, "at least 2");
    // A permutation and its reverse of 5 players: 2 x 4 coalitions besides the ends.
    VLM_EXPECT_ERROR(permutationShapley(cache, budgetOf(9), {}), ErrorCode::InvalidArgument, "at least 10");
    VLM_EXPECT_ERROR(owenValues(cache, halvingHierarchy(5), 1, {}), ErrorCode::InvalidArgument, "at least 2");
    SamplingOptions negative = budgetOf(100);
    negative.tolerance = -1;
    VLM_EXPECT_ERROR(kernelShap(cache, negative, {}), ErrorCode::InvalidArgument, "tolerance");
    QCOMPARE(cache.evaluations(), int64_t(0));

    // One player: every estimator gives v(N) - v(empty).
    FunctionGame one(1, 1, [](const Coalition& s, int) { return s[0] ? 7.5 : 2.0; });
    CoalitionCache oneCache(one, 4);
    VERIFY_NEAR(exactShapley(oneCache, {}).value(0, 0), 5.5, 0);
    VERIFY_NEAR(kernelShap(oneCache, budgetOf(2), {}).value(0, 0), 5.5, 0);
    VERIFY_NEAR(permutationShapley(oneCache, budgetOf(2), {}).value(0, 0), 5.5, 0);
    VERIFY_NEAR(owenValues(oneCache, halvingHierarchy(1), 2, {}).value(0, 0), 5.5, 0);
    VERIFY_NEAR(shapleyInteractions(oneCache, budgetOf(2), {}).shapley[0], 5.5, 0);
  }

  void hierarchyValidation() {
    auto leaf = [](int p) { return HierarchyNode{{p}, -1, -1}; };
    // A valid one for reference: 0 = {0, 1, 2} -> 1 = {0}, 2 = {1, 2} -> 3 = {1}, 4 = {2}.
    Hierarchy valid{{HierarchyNode{{0, 1, 2}, 1, 2}, leaf(0), HierarchyNode{{2, 1}, 3, 4}, leaf(1), leaf(2)},
                    0};
    validateHierarchy(valid, 3);
    validateHierarchy(halvingHierarchy(9), 9);

    Hierarchy twoInLeaf{{HierarchyNode{{0, 1, 2}, 1, 2}, HierarchyNode{{0, 1}, -1, -1}, leaf(2)}, 0};
    VLM_EXPECT_ERROR(validateHierarchy(twoInLeaf, 3), ErrorCode::InvalidArgument, "leaf", "2 players");
    Hierarchy notCovering{{HierarchyNode{{0, 1, 2}, 1, 2}, leaf(0), leaf(1)}, 0};
    VLM_EXPECT_ERROR(validateHierarchy(notCovering, 3), ErrorCode::InvalidArgument, "do not cover");
    Hierarchy underBoth{{HierarchyNode{{0, 1, 2}, 1, 2}, HierarchyNode{{0, 1}, 3, 4},
                         HierarchyNode{{1, 2}, 5, 6}, leaf(0), leaf(1), leaf(1), leaf(2)},
                        0};
    VLM_EXPECT_ERROR(validateHierarchy(underBoth, 3), ErrorCode::InvalidArgument, "player 1",
                     "both children");
    Hierarchy listedTwice{{HierarchyNode{{0, 1, 1}, 1, 2}, leaf(0), leaf(1)}, 0};
    VLM_EXPECT_ERROR(validateHierarchy(listedTwice, 2), ErrorCode::InvalidArgument, "player 1 twice");
    Hierarchy missing{{HierarchyNode{{0, 1}, 1, 2}, leaf(0), leaf(1)}, 0};
    VLM_EXPECT_ERROR(validateHierarchy(missing, 3), ErrorCode::InvalidArgument, "player 2 is missing");
    Hierarchy outOfRange{{HierarchyNode{{0, 3}, 1, 2}, leaf(0), leaf(3)}, 0};
    VLM_EXPECT_ERROR(validateHierarchy(outOfRange, 2), ErrorCode::InvalidArgument, "player 3");
    Hierarchy oneChild{{HierarchyNode{{0}, 1, -1}, leaf(0)}, 0};
    VLM_EXPECT_ERROR(validateHierarchy(oneChild, 1), ErrorCode::InvalidArgument, "one child");
    Hierarchy badRoot{{leaf(0)}, 3};
    VLM_EXPECT_ERROR(validateHierarchy(badRoot, 1), ErrorCode::InvalidArgument, "root");
    Hierarchy empty{{HierarchyNode{{0}, 1, 2}, leaf(0), HierarchyNode{{}, 3, 4}, leaf(1), leaf(2)}, 0};
    VLM_EXPECT_ERROR(validateHierarchy(empty, 3), ErrorCode::InvalidArgument, "node 2", "no players");
    // owenValues validates too, before evaluating anything.
    FunctionGame game(3, 1, [](const Coalition&, int) { return 1.0; });
    CoalitionCache cache(game, 4);
    VLM_EXPECT_ERROR(owenValues(cache, missing, 100, {}), ErrorCode::InvalidArgument, "missing");
    QCOMPARE(cache.evaluations(), int64_t(0));
  }

  // Owen values by hand on {{0, 1}, {2, 3}}. A player of {0, 1} gets half its Shapley value
  // in the game on {0, 1} with {2, 3} absent plus half with {2, 3} present, and vice versa.
  // Output 0, v = [1, 2 in S] + 2 [3 in S]:
  //   {2, 3} absent: v on {0, 1} is 0;  present: v(S + {2, 3}) = [1 in S] + 2 -> (0, 1);
  //   so Owen_0 = 0, Owen_1 = 1/2.  {0, 1} absent: v(T) = 2 [3 in T] -> (0, 2); present:
  //   [2 in T] + 2 [3 in T] -> (1, 2); so Owen_2 = 1/2, Owen_3 = 2 (here equal to Shapley).
  // Output 1, v = 6 [0, 1, 2 in S] + 2 [3 in S]:
  //   {2, 3} absent: 0;  present: 6 [0, 1 in S] + 2 -> (3, 3); Owen_0 = Owen_1 = 3/2.
  //   {0, 1} absent: 2 [3 in T] -> (0, 2); present: 6 [2 in T] + 2 [3 in T] -> (6, 2);
  //   Owen_2 = 3, Owen_3 = 2, while Shapley gives 2 to each (the triple's 6 split three ways).
  // With a budget of 4 (the ends and the root's two halves) the groups are not explained:
  //   {0, 1} gets 1/2 (v({0,1}) - v()) + 1/2 (v(N) - v({2,3})), {2, 3} the rest, split evenly:
  //   output 0: {0, 1}: 1/2 (0) + 1/2 (3 - 2) = 1/2 -> 1/4 each; {2, 3}: 1/2 (2) + 1/2 (3) -> 5/4 each;
  //   output 1: {0, 1}: 1/2 (0) + 1/2 (8 - 2) = 3 -> 3/2 each; {2, 3}: 1/2 (2) + 1/2 (8) -> 5/2 each.
  void owenHandComputed() {
    FunctionGame game(4, 2, [](const Coalition& s, int o) {
      return o == 0 ? double(has(s, {1, 2})) + 2.0 * s[3] : 6.0 * has(s, {0, 1, 2}) + 2.0 * s[3];
    });
    const Hierarchy h = halvingHierarchy(4);  // {{0, 1}, {2, 3}}
    QCOMPARE(h.nodes[size_t(h.nodes[size_t(h.root)].left)].players, (std::vector<int>{0, 1}));
    CoalitionCache cache(game, 8);
    const ShapleyResult owen = owenValues(cache, h, 1000, {});
    QVERIFY(owen.converged);
    QCOMPARE(owen.evaluations, int64_t(12));  // the ends, the root's halves, 2 contexts x 2 groups x 2 halves
    const double expected[2][4] = {{0, 0.5, 0.5, 2}, {1.5, 1.5, 3, 2}};
    for (int o = 0; o < 2; ++o)
      for (int i = 0; i < 4; ++i) VERIFY_NEAR(owen.value(i, o), expected[o][i], 1e-12);
    const ShapleyResult shapley = exactShapley(cache, {});
    const double expectedShapley[2][4] = {{0, 0.5, 0.5, 2}, {2, 2, 2, 2}};
    for (int o = 0; o < 2; ++o)
      for (int i = 0; i < 4; ++i) VERIFY_NEAR(shapley.value(i, o), expectedShapley[o][i], 1e-12);

    FunctionGame g = game;
    CoalitionCache small(g, 8);
    const ShapleyResult coarse = owenValues(small, h, 4, {});
    QVERIFY(!coarse.converged);
    QCOMPARE(coarse.evaluations, int64_t(4));
    const double expectedCoarse[2][4] = {{0.25, 0.25, 1.25, 1.25}, {1.5, 1.5, 2.5, 2.5}};
    for (int o = 0; o < 2; ++o)
      for (int i = 0; i < 4; ++i) VERIFY_NEAR(coarse.value(i, o), expectedCoarse[o][i], 1e-12);
  }
};

QTEST_GUILESS_MAIN(TestShapley)
#include "test_shapley.moc"
