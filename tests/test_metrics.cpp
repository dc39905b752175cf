// VLM_TEST_LABELS: fast
// Faithfulness metrics (explain/metrics.h) and the Shapley charts (render/charts.h):
// deletion / insertion curves of an additive game against hand-computed staircases and a
// brute force over every ranking, the pointing game, relevance mass / rank and Spearman's
// rho on hand-made cases, and the charts checked by locating their bars, nodes and edges.
#include <QtTest/QtTest>

#include <algorithm>
#include <array>
#include <cmath>
#include <numeric>
#include <set>
#include <string>
#include <vector>

#include "common/error.h"
#include "error_testing.h"
#include "explain/metrics.h"
#include "render/charts.h"

using namespace vlm;
using namespace vlm::explain;

namespace {

// v_k(S) = sum of weights[k][i] over the present players i; counts its calls.
class AdditiveGame : public Game {
 public:
  explicit AdditiveGame(std::vector<std::vector<double>> weights) : weights_(std::move(weights)) {}
  int players() const override { return int(weights_[0].size()); }
  int outputs() const override { return int(weights_.size()); }
  std::vector<double> evaluate(const std::vector<Coalition>& batch, const JobContext&) override {
    ++calls;
    evaluated += int64_t(batch.size());
    std::vector<double> out;
    for (const Coalition& c : batch)
      for (const auto& w : weights_) {
        double v = 0;
        for (size_t i = 0; i < c.size(); ++i) v += c[i] ? w[i] : 0.0;
        out.push_back(v);
      }
    return out;
  }
  int calls = 0;
  int64_t evaluated = 0;

 private:
  std::vector<std::vector<double>> weights_;
};

// Two outputs ranking the five players differently:
//   output 0: w = 3 1 4 2 5, order by weight 4 2 0 3 1 (total 15)
//   output 1: u = 2 7 1 3 6, order by weight 1 4 3 0 2 (total 19)
const std::vector<double> kW = {3, 1, 4, 2, 5};
const std::vector<double> kU = {2, 7, 1, 3, 6};

// [F x 2] scores: column 0 = a, column 1 = b.
std::vector<double> interleave(const std::vector<double>& a, const std::vector<double>& b) {
  std::vector<double> s;
  for (size_t i = 0; i < a.size(); ++i) {
    s.push_back(a[i]);
    s.push_back(b[i]);
  }
  return s;
}

void compareVectors(const std::vector<double>& actual, const std::vector<double>& expected, double tol = 1e-12) {
  QCOMPARE(actual.size(), expected.size());
  for (size_t i = 0; i < actual.size(); ++i)
    if (std::abs(actual[i] - expected[i]) > tol)
      QFAIL(qPrintable(QString("element %1: %2 != expected %3").arg(i).arg(actual[i]).arg(expected[i])));
}

#define COMPARE_VECTORS(actual, expected)                \
  do {                                                   \
    compareVectors((actual), (expected));                \
    if (QTest::currentTestFailed()) return;              \
  } while (0)

#define COMPARE_NEAR(actual, expected, tol)                                                              \
  do {                                                                                                   \
    const double a_ = (actual), e_ = (expected);                                                         \
    if (!(std::abs(a_ - e_) <= (tol)))                                                                   \
      QFAIL(qPrintable(QString("%1 = %2, expected %3 (+- %4)")                                           \
                           .arg(#actual).arg(a_, 0, 'g', 15).arg(e_, 0, 'g', 15).arg(tol)));           \
  } while (0)

// ---- charts: locating what was drawn ----

using Rgb = std::array<uint8_t, 3>;

Rgb pixelAt(const io::ImageU8& im, int x, int y) {
  const uint8_t* p = im.pixel(x, y);
  return {p[0], p[1], p[2]};
}

QString rgbText(const Rgb& c) { return QString("(%1,%2,%3)").arg(c[0]).arg(c[1]).arg(c[2]); }

// A horizontal bar: its rows [top, bottom], its colour, and the number of pixels of that
// colour in its top row (its length: the zero line and the error bar do not reach the top row).
struct FoundBar {
  int top = 0, bottom = 0;
  Rgb color{};
  int length = 0;
};

int countInRow(const io::ImageU8& im, int y, const Rgb& c) {
  int n = 0;
  for (int x = 0; x < im.width; ++x) n += pixelAt(im, x, y) == c;
  return n;
}

// Runs of rows that hold pixels of exactly the positive or the negative colour, top to bottom.
std::vector<FoundBar> findBars(const io::ImageU8& im) {
  std::vector<FoundBar> bars;
  bool inBar = false;
  for (int y = 0; y < im.height; ++y) {
    const int pos = countInRow(im, y, render::kChartPositiveColor);
    const int neg = countInRow(im, y, render::kChartNegativeColor);
    if (pos + neg > 0 && !inBar) {
      bars.push_back({y, y, pos > 0 ? render::kChartPositiveColor : render::kChartNegativeColor, std::max(pos, neg)});
      inBar = true;
    } else if (pos + neg > 0) {
      bars.back().bottom = y;
    } else {
      inBar = false;
    }
  }
  return bars;
}

// Pixels of exactly colour c on the segment of length 2 * half through (x, y) along (dx, dy).
int countAlong(const io::ImageU8& im, double x, double y, double dx, double dy, int half, const Rgb& c) {
  const double len = std::hypot(dx, dy);
  int n = 0;
  for (int t = -half; t <= half; ++t) {
    const int px = int(std::lround(x + t * dx / len)), py = int(std::lround(y + t * dy / len));
    n += pixelAt(im, px, py) == c;
  }
  return n;
}

}  // namespace

class TestMetrics : public QObject {
  Q_OBJECT

 private Q_SLOTS:
  // True order (scores = weights): deletion removes 5, 4, 3, 2, 1 from 15, insertion adds them:
  //   output 0 deletion 15 10 6 3 1 0, AUC = 0.2 * (25 + 16 + 9 + 4 + 1) / 2 = 5.5
  //            insertion 0 5 9 12 14 15, AUC = 0.2 * (5 + 14 + 21 + 26 + 29) / 2 = 9.5
  //   output 1 (u, its own order 7 6 3 2 1 of 19): deletion 19 12 6 3 1 0, AUC = 0.2 * 63 / 2 = 6.3
  //            insertion 0 7 13 16 18 19, AUC = 0.2 * 127 / 2 = 12.7
  void deletionInsertionTrueOrder() {
    AdditiveGame game({kW, kU});
    CoalitionCache cache(game, 1000);
    const auto r = deletionInsertion(cache, interleave(kW, kU), 0, JobContext());
    QCOMPARE(r.deletion.size(), size_t(2));
    QCOMPARE(r.insertion.size(), size_t(2));
    const std::vector<double> fraction = {0, 0.2, 0.4, 0.6, 0.8, 1};
    for (int k = 0; k < 2; ++k) {
      COMPARE_VECTORS(r.deletion[k].fraction, fraction);
      COMPARE_VECTORS(r.insertion[k].fraction, fraction);
    }
    COMPARE_VECTORS(r.deletion[0].value, (std::vector<double>{15, 10, 6, 3, 1, 0}));
    COMPARE_VECTORS(r.insertion[0].value, (std::vector<double>{0, 5, 9, 12, 14, 15}));
    COMPARE_VECTORS(r.deletion[1].value, (std::vector<double>{19, 12, 6, 3, 1, 0}));
    COMPARE_VECTORS(r.insertion[1].value, (std::vector<double>{0, 7, 13, 16, 18, 19}));
    COMPARE_NEAR(r.deletion[0].auc, 5.5, 1e-12);
    COMPARE_NEAR(r.insertion[0].auc, 9.5, 1e-12);
    COMPARE_NEAR(r.deletion[1].auc, 6.3, 1e-12);
    COMPARE_NEAR(r.insertion[1].auc, 12.7, 1e-12);
  }

  // Reversed order (scores = -w): deletion removes 1, 2, 3, 4, 5 -> 15 14 12 9 5 0, AUC 9.5;
  // insertion 0 1 3 6 10 15, AUC 5.5.
  void deletionInsertionReversedOrder() {
    AdditiveGame game({kW, kU});
    CoalitionCache cache(game, 1000);
    std::vector<double> negW(kW.size()), negU(kU.size());
    std::transform(kW.begin(), kW.end(), negW.begin(), [](double x) { return -x; });
    std::transform(kU.begin(), kU.end(), negU.begin(), [](double x) { return -x; });
    const auto r = deletionInsertion(cache, interleave(negW, negU), 0, JobContext());
    COMPARE_VECTORS(r.deletion[0].value, (std::vector<double>{15, 14, 12, 9, 5, 0}));
    COMPARE_VECTORS(r.insertion[0].value, (std::vector<double>{0, 1, 3, 6, 10, 15}));
    COMPARE_NEAR(r.deletion[0].auc, 9.5, 1e-12);
    COMPARE_NEAR(r.insertion[0].auc, 5.5, 1e-12);
    QVERIFY(r.deletion[1].auc > 6.3);
    QVERIFY(r.insertion[1].auc < 12.7);
  }

  // Among all 120 rankings of 5 players, the true one (weights distinct) is the only one with
  // the smallest deletion AUC and the only one with the largest insertion AUC.
  void trueOrderIsOptimal() {
    AdditiveGame game({kW});
    CoalitionCache cache(game, 1000);
    const double bestDeletion = deletionInsertion(cache, kW, 0, JobContext()).deletion[0].auc;
    const double bestInsertion = deletionInsertion(cache, kW, 0, JobContext()).insertion[0].auc;
    std::vector<double> scores = {0, 1, 2, 3, 4};
    int permutations = 0, reachDeletion = 0, reachInsertion = 0;
    do {
      ++permutations;
      const auto r = deletionInsertion(cache, scores, 0, JobContext());
      QVERIFY(r.deletion[0].auc >= bestDeletion - 1e-12);
      QVERIFY(r.insertion[0].auc <= bestInsertion + 1e-12);
      reachDeletion += std::abs(r.deletion[0].auc - bestDeletion) < 1e-12;
      reachInsertion += std::abs(r.insertion[0].auc - bestInsertion) < 1e-12;
    } while (std::next_permutation(scores.begin(), scores.end()));
    QCOMPARE(permutations, 120);
    QCOMPARE(reachDeletion, 1);
    QCOMPARE(reachInsertion, 1);
    // Every one of the 2^5 coalitions is a prefix set of some ranking: all evaluated, once each.
    QCOMPARE(game.evaluated, int64_t(32));
  }

  // Ties keep the lower index first: all-equal scores remove players 0, 1, 2, ... in turn.
  void tiesByIndex() {
    AdditiveGame game({kW});
    CoalitionCache cache(game, 1000);
    const auto r = deletionInsertion(cache, std::vector<double>(5, 1.0), 0, JobContext());
    COMPARE_VECTORS(r.deletion[0].value, (std::vector<double>{15, 12, 11, 7, 5, 0}));
    COMPARE_VECTORS(r.insertion[0].value, (std::vector<double>{0, 3, 4, 8, 10, 15}));
  }

  // F = 10, w = 1..10 (total 55), scores = w. steps = 3: c = round(10 j / 3) = 0, 3, 7, 10;
  // deletion 55, 55 - 27 = 28, 55 - 49 = 6, 0; AUC = (0.3 (55 + 28) + 0.4 (28 + 6) + 0.3 (6 + 0)) / 2
  // = 20.15. steps = 4: c = 0, 2.5 -> 3, 5, 7.5 -> 8, 10. steps = 20 (> F): every count.
  void stepsSubsample() {
    std::vector<double> w(10);
    std::iota(w.begin(), w.end(), 1.0);
    AdditiveGame game({w});
    CoalitionCache cache(game, 1000);
    const auto r3 = deletionInsertion(cache, w, 3, JobContext());
    COMPARE_VECTORS(r3.deletion[0].fraction, (std::vector<double>{0, 0.3, 0.7, 1}));
    COMPARE_VECTORS(r3.deletion[0].value, (std::vector<double>{55, 28, 6, 0}));
    COMPARE_VECTORS(r3.insertion[0].value, (std::vector<double>{0, 27, 49, 55}));
    COMPARE_NEAR(r3.deletion[0].auc, 20.15, 1e-12);
    const auto r4 = deletionInsertion(cache, w, 4, JobContext());
    COMPARE_VECTORS(r4.insertion[0].fraction, (std::vector<double>{0, 0.3, 0.5, 0.8, 1}));
    COMPARE_VECTORS(r4.insertion[0].value, (std::vector<double>{0, 27, 40, 52, 55}));
    const auto r20 = deletionInsertion(cache, w, 20, JobContext());
    QCOMPARE(r20.deletion[0].fraction.size(), size_t(11));
    QCOMPARE(r20.deletion[0].fraction.front(), 0.0);
    QCOMPARE(r20.deletion[0].fraction.back(), 1.0);
    const auto r1 = deletionInsertion(cache, w, 1, JobContext());
    COMPARE_VECTORS(r1.deletion[0].value, (std::vector<double>{55, 0}));
    COMPARE_NEAR(r1.deletion[0].auc, 27.5, 1e-12);
  }

  // All coalitions go to the cache in one request: with a large batch the game is called
  // once and evaluates exactly the distinct coalitions of the four curves (worked out here
  // from the two rankings); asking again evaluates nothing new.
  void oneRequestToTheCache() {
    AdditiveGame game({kW, kU});
    CoalitionCache cache(game, 1000);
    std::vector<double> fractions;
    const JobContext job(std::stop_token(), [&](double f, std::string_view) { fractions.push_back(f); });
    deletionInsertion(cache, interleave(kW, kU), 0, job);
    std::set<Coalition> distinct;
    for (const std::vector<int>& order : {std::vector<int>{4, 2, 0, 3, 1}, std::vector<int>{1, 4, 3, 0, 2}})
      for (int c = 0; c <= 5; ++c) {
        Coalition del(5, 1), ins(5, 0);
        for (int r = 0; r < c; ++r) del[order[r]] = 0, ins[order[r]] = 1;
        distinct.insert(del);
        distinct.insert(ins);
      }
    // 10 distinct per output (full and empty on both curves), 18 for both (full and empty
    // shared), 16 because output 0's last player is output 1's first and vice versa:
    // deleting 4 leaves {1} / {2}, which the other output's first insertion point also is.
    QCOMPARE(distinct.size(), size_t(16));
    QCOMPARE(game.calls, 1);
    QCOMPARE(game.evaluated, int64_t(distinct.size()));
    QCOMPARE(cache.evaluations(), int64_t(distinct.size()));
    deletionInsertion(cache, interleave(kW, kU), 0, JobContext());
    QCOMPARE(game.calls, 1);
    QVERIFY(fractions.size() >= 2);
    QCOMPARE(fractions.front(), 0.0);
    QCOMPARE(fractions.back(), 1.0);
  }

  void deletionInsertionErrors() {
    AdditiveGame game({kW, kU});
    CoalitionCache cache(game, 1000);
    VLM_EXPECT_ERROR(deletionInsertion(cache, kW, 0, JobContext()), ErrorCode::InvalidArgument, "5 scores",
                     "5 features x 2 outputs");
    VLM_EXPECT_ERROR(deletionInsertion(cache, interleave(kW, kU), -1, JobContext()), ErrorCode::InvalidArgument,
                     "steps -1");
    std::vector<double> scores = interleave(kW, kU);
    scores[3] = std::nan("");
    VLM_EXPECT_ERROR(deletionInsertion(cache, scores, 0, JobContext()), ErrorCode::InvalidArgument, "not finite");
    QCOMPARE(game.calls, 0);
  }

  // 10 x 10 maps, one hot pixel; mask pixels listed as (x, y).
  void pointingGame() {
    auto mapWithMax = [](int x, int y) {
      std::vector<float> m(100, 0.f);
      m[size_t(y) * 10 + x] = 1.f;
      return m;
    };
    auto maskOf = [](std::initializer_list<std::array<int, 2>> pixels) {
      std::vector<uint8_t> m(100, 0);
      for (const auto& p : pixels) m[size_t(p[1]) * 10 + p[0]] = 1;
      return m;
    };
    // Max at (2, 2); object x 5..7, y 2..4: nearest object pixel (5, 2) at distance 3.
    const auto map = mapWithMax(2, 2);
    std::vector<uint8_t> block(100, 0);
    for (int y = 2; y <= 4; ++y)
      for (int x = 5; x <= 7; ++x) block[size_t(y) * 10 + x] = 1;
    QVERIFY(!pointingGameHit(map.data(), block.data(), 10, 10, 0));
    QVERIFY(!pointingGameHit(map.data(), block.data(), 10, 10, 2));
    QVERIFY(pointingGameHit(map.data(), block.data(), 10, 10, 3));
    QVERIFY(pointingGameHit(map.data(), block.data(), 10, 10));  // default 15
    // Max inside the object: a hit at tolerance 0.
    const auto inside = mapWithMax(6, 3);
    QVERIFY(pointingGameHit(inside.data(), block.data(), 10, 10, 0));
    // Euclidean, not chessboard: (0, 0) to (2, 2) is 2.83 -> miss at 2, hit at 3.
    const auto corner = mapWithMax(0, 0);
    const auto diag = maskOf({{2, 2}});
    QVERIFY(!pointingGameHit(corner.data(), diag.data(), 10, 10, 2));
    QVERIFY(pointingGameHit(corner.data(), diag.data(), 10, 10, 3));
    // Near the image border: the window is clipped, not wrapped around.
    const auto edge = mapWithMax(9, 0);
    QVERIFY(!pointingGameHit(edge.data(), maskOf({{0, 1}}).data(), 10, 10, 2));
    QVERIFY(pointingGameHit(edge.data(), maskOf({{9, 2}}).data(), 10, 10, 2));
    // Two equal maxima: the first in raster order, (1, 0) before (5, 5), is the one that points.
    std::vector<float> twoMax(100, 0.f);
    twoMax[1] = twoMax[55] = 1.f;
    QVERIFY(!pointingGameHit(twoMax.data(), maskOf({{5, 5}}).data(), 10, 10, 0));
    QVERIFY(pointingGameHit(twoMax.data(), maskOf({{1, 0}}).data(), 10, 10, 0));
    // NaN never wins.
    std::vector<float> withNan = mapWithMax(4, 4);
    withNan[0] = std::nanf("");
    QVERIFY(pointingGameHit(withNan.data(), maskOf({{4, 4}}).data(), 10, 10, 0));

    const std::vector<uint8_t> empty(100, 0);
    VLM_EXPECT_ERROR(pointingGameHit(map.data(), empty.data(), 10, 10), ErrorCode::InvalidArgument, "mask is empty",
                     "nothing to point at");
    VLM_EXPECT_ERROR(pointingGameHit(nullptr, block.data(), 10, 10), ErrorCode::InvalidArgument, "null");
    VLM_EXPECT_ERROR(pointingGameHit(map.data(), block.data(), 0, 10), ErrorCode::InvalidArgument, "0 x 10");
    VLM_EXPECT_ERROR(pointingGameHit(map.data(), block.data(), 10, 10, -1), ErrorCode::InvalidArgument, "tolerance -1");
  }

  // 3 x 3:   1  -2   3        mask  1 0 1
  //        0.5   0  -1              0 0 0
  //          2   4  -3              0 1 0
  // positive mass 1 + 3 + 0.5 + 2 + 4 = 10.5, inside 1 + 3 + 4 = 8 -> 8 / 10.5.
  // rank: m = 3, top 3 = 4 (in), 3 (in), 2 (out) -> 2 / 3.
  void relevanceMassAndRank() {
    const std::vector<float> map = {1, -2, 3, 0.5f, 0, -1, 2, 4, -3};
    const std::vector<uint8_t> mask = {1, 0, 1, 0, 0, 0, 0, 1, 0};
    COMPARE_NEAR(relevanceMass(map.data(), mask.data(), 3, 3), 8.0 / 10.5, 1e-12);
    COMPARE_NEAR(relevanceRank(map.data(), mask.data(), 3, 3), 2.0 / 3.0, 1e-12);
    // No positive relevance: mass 0.
    const std::vector<float> negative = {-1, -2, -3, -1, -1, -1, -5, -1, -1};
    QCOMPARE(relevanceMass(negative.data(), mask.data(), 3, 3), 0.0);
    // Ties go to the lower raster index: a constant map's top 2 are pixels 0 and 1.
    const std::vector<float> flat(9, 0.5f);
    const std::vector<uint8_t> mask05 = {1, 0, 0, 0, 0, 1, 0, 0, 0};
    QCOMPARE(relevanceRank(flat.data(), mask05.data(), 3, 3), 0.5);
    const std::vector<uint8_t> mask01 = {1, 1, 0, 0, 0, 0, 0, 0, 0};
    QCOMPARE(relevanceRank(flat.data(), mask01.data(), 3, 3), 1.0);
    // NaN is neither relevant mass nor a top pixel: 2 x 2 {NaN, 1, 0, 2}, object = the NaN pixel.
    const std::vector<float> nanMap = {std::nanf(""), 1, 0, 2};
    const std::vector<uint8_t> nanMask = {1, 0, 0, 0};
    QCOMPARE(relevanceMass(nanMap.data(), nanMask.data(), 2, 2), 0.0);
    QCOMPARE(relevanceRank(nanMap.data(), nanMask.data(), 2, 2), 0.0);
    // Mask values are nonzero = object, not just 1.
    const std::vector<uint8_t> mask255 = {255, 0, 7, 0, 0, 0, 0, 1, 0};
    COMPARE_NEAR(relevanceMass(map.data(), mask255.data(), 3, 3), 8.0 / 10.5, 1e-12);

    const std::vector<uint8_t> empty(9, 0);
    VLM_EXPECT_ERROR(relevanceMass(map.data(), empty.data(), 3, 3), ErrorCode::InvalidArgument, "mask is empty");
    VLM_EXPECT_ERROR(relevanceRank(map.data(), empty.data(), 3, 3), ErrorCode::InvalidArgument, "mask is empty");
    VLM_EXPECT_ERROR(relevanceRank(map.data(), nullptr, 3, 3), ErrorCode::InvalidArgument, "null");
    VLM_EXPECT_ERROR(relevanceMass(map.data(), mask.data(), 3, -1), ErrorCode::InvalidArgument, "3 x -1");
  }

  // With ties: a = 1 2 2 3 -> ranks 1 2.5 2.5 4; b = 1 3 2 4 -> ranks 1 3 2 4. Deviations from
  // 2.5: (-1.5 0 0 1.5), (-1.5 0.5 -0.5 1.5): cov 4.5, var 4.5 and 5 -> rho = sqrt(0.9).
  void spearmanRho() {
    QCOMPARE(spearman({1, 2, 3, 4, 5}, {1, 8, 27, 64, 125}), 1.0);  // monotone, not linear
    QCOMPARE(spearman({1, 2, 3, 4, 5}, {5, 3, 2, 1, -10}), -1.0);
    COMPARE_NEAR(spearman({1, 2, 2, 3}, {1, 3, 2, 4}), std::sqrt(0.9), 1e-12);
    COMPARE_NEAR(spearman({1, 3, 2, 4}, {1, 2, 2, 3}), std::sqrt(0.9), 1e-12);  // symmetric
    QCOMPARE(spearman({2, 2, 2}, {1, 2, 3}), 0.0);
    QCOMPARE(spearman({1, 2, 3}, {7, 7, 7}), 0.0);
    VLM_EXPECT_ERROR(spearman({1, 2, 3}, {1, 2}), ErrorCode::InvalidArgument, "3 and 2 values");
    VLM_EXPECT_ERROR(spearman({1}, {1}), ErrorCode::InvalidArgument, "at least 2");
    VLM_EXPECT_ERROR(spearman({1, std::nan("")}, {1, 2}), ErrorCode::InvalidArgument, "not finite");
  }

  // Five values given out of order: sorted by |value| the bars read 0.5, -0.3, 0.2, -0.1, 0.05
  // (red, blue, red, blue, red), their lengths proportional to |value|.
  void barChartBars() {
    render::BarChartOptions options;
    options.title = "Shapley values";
    options.width = 600;
    const std::vector<double> values = {0.2, -0.1, 0.5, 0.05, -0.3};
    const auto im = render::barChart({"c", "d", "a", "e", "b"}, values, {}, options);
    QCOMPARE(im.width, 600);
    QCOMPARE(im.rgb.size(), size_t(im.width) * im.height * 3);
    const auto bars = findBars(im);
    QCOMPARE(bars.size(), size_t(5));
    const std::vector<double> sorted = {0.5, -0.3, 0.2, -0.1, 0.05};
    for (size_t i = 0; i < bars.size(); ++i) {
      const Rgb want = sorted[i] > 0 ? render::kChartPositiveColor : render::kChartNegativeColor;
      QCOMPARE(rgbText(bars[i].color), rgbText(want));
      QVERIFY(bars[i].bottom - bars[i].top >= 8);
      if (i > 0) QVERIFY(bars[i].top > bars[i - 1].bottom);
      // One scale for all bars (one pixel of a positive bar is under the zero line).
      COMPARE_NEAR(double(bars[i].length), bars[0].length * std::abs(sorted[i]) / 0.5, 2.0);
    }
    QVERIFY(bars[0].length > 150);  // the longest bar uses a good part of the width
    // Red bars and blue bars lie on either side of one zero line: red starts right of where blue ends.
    auto span = [&](const FoundBar& b) {
      int lo = im.width, hi = -1;
      for (int x = 0; x < im.width; ++x)
        if (pixelAt(im, x, b.top) == b.color) lo = std::min(lo, x), hi = std::max(hi, x);
      return std::pair{lo, hi};
    };
    QVERIFY(span(bars[1]).second < span(bars[0]).first);
    QVERIFY(std::abs(span(bars[1]).second - span(bars[3]).second) <= 1);
    QVERIFY(std::abs(span(bars[0]).first - span(bars[2]).first) <= 1);
    // White background.
    QCOMPARE(rgbText(pixelAt(im, 0, im.height - 1)), rgbText(render::kChartBackground));
  }

  // Error bars: in the middle row of a bar, the error bar (dark) covers value +- stderr, so the
  // dark run right after the coloured part is 2 stderr long on the bar's scale.
  void barChartErrorBars() {
    render::BarChartOptions options;
    options.width = 700;
    const auto im = render::barChart({"a", "b"}, {0.4, -0.2}, {0.1, 0.05}, options);
    const auto bars = findBars(im);
    QCOMPARE(bars.size(), size_t(2));
    const double pxPerUnit = bars[0].length / 0.4;
    // Positive bar: scan right from the bar's last coloured pixel in the middle row.
    const int mid = (bars[0].top + bars[0].bottom + 1) / 2;
    int last = -1;
    for (int x = 0; x < im.width; ++x)
      if (pixelAt(im, x, mid) == bars[0].color) last = x;
    QVERIFY(last > 0);
    const Rgb dark = pixelAt(im, last + 1, mid);
    QVERIFY(dark[0] < 80 && dark[0] == dark[1] && dark[1] == dark[2]);
    int run = 0;
    while (pixelAt(im, last + 1 + run, mid) == dark) ++run;
    COMPARE_NEAR(double(run), 2 * 0.1 * pxPerUnit, 2.0);
    // Without standard errors nothing dark touches the bar's end (a light grid line may).
    const auto plain = render::barChart({"a", "b"}, {0.4, -0.2}, {}, options);
    const auto plainBars = findBars(plain);
    const int plainMid = (plainBars[0].top + plainBars[0].bottom + 1) / 2;
    int plainLast = -1;
    for (int x = 0; x < plain.width; ++x)
      if (pixelAt(plain, x, plainMid) == plainBars[0].color) plainLast = x;
    QVERIFY(pixelAt(plain, plainLast + 1, plainMid)[0] > 200);
  }

  // More values than maxBars: maxBars - 1 bars and one "others" bar holding the sum of the
  // rest, so the image is as tall as with exactly maxBars values; one bar fewer, one row less.
  void barChartOthers() {
    render::BarChartOptions options;
    options.maxBars = 5;
    // By |value|: 1, -0.9, 0.8, 0.7 get bars; the rest 0.3, -0.25, -0.2, -0.15 sum to -0.3 (a
    // negative "others" bar although the largest of them is positive).
    const std::vector<double> values = {0.3, 1, -0.25, -0.9, 0.8, -0.2, 0.7, -0.15};
    std::vector<std::string> labels;
    for (size_t i = 0; i < values.size(); ++i) labels.push_back("f" + std::to_string(i));
    const auto folded = render::barChart(labels, values, {}, options);
    const auto bars = findBars(folded);
    QCOMPARE(bars.size(), size_t(5));
    QCOMPARE(rgbText(bars[4].color), rgbText(render::kChartNegativeColor));
    COMPARE_NEAR(double(bars[4].length), bars[0].length * 0.3, 2.0);
    COMPARE_NEAR(double(bars[1].length), bars[0].length * 0.9, 2.0);

    auto heightWith = [&](size_t n) {
      return render::barChart(std::vector<std::string>(labels.begin(), labels.begin() + n),
                              std::vector<double>(values.begin(), values.begin() + n), {}, options)
          .height;
    };
    const int h3 = heightWith(3), h4 = heightWith(4), h5 = heightWith(5);
    QCOMPARE(findBars(render::barChart(std::vector<std::string>(labels.begin(), labels.begin() + 4),
                                       std::vector<double>(values.begin(), values.begin() + 4), {}, options))
                 .size(),
             size_t(4));
    QVERIFY(h4 > h3);
    QCOMPARE(h5 - h4, h4 - h3);       // one row per bar
    QCOMPARE(folded.height, h5);      // 8 values, maxBars 5: 5 rows
    options.maxBars = 1;              // everything in the others bar
    const auto all = findBars(render::barChart(labels, values, {}, options));
    QCOMPARE(all.size(), size_t(1));
    QCOMPARE(rgbText(all[0].color), rgbText(render::kChartPositiveColor));  // sum = 1.3
  }

  void barChartErrors() {
    render::BarChartOptions options;
    VLM_EXPECT_ERROR(render::barChart({}, {}, {}, options), ErrorCode::InvalidArgument, "no values");
    VLM_EXPECT_ERROR(render::barChart({"a"}, {1, 2}, {}, options), ErrorCode::InvalidArgument,
                     "1 labels for 2 values");
    VLM_EXPECT_ERROR(render::barChart({"a", "b"}, {1, 2}, {0.1}, options), ErrorCode::InvalidArgument,
                     "1 standard errors for 2 values");
    VLM_EXPECT_ERROR(render::barChart({"a", "b"}, {1, 2}, {0.1, -0.1}, options), ErrorCode::InvalidArgument,
                     "negative");
    VLM_EXPECT_ERROR(render::barChart({"a", "b"}, {1, std::nan("")}, {}, options), ErrorCode::InvalidArgument,
                     "value 1 is not finite");
    options.width = 399;
    VLM_EXPECT_ERROR(render::barChart({"a"}, {1}, {}, options), ErrorCode::InvalidArgument, "width 399");
    options.width = 900;
    options.maxBars = 0;
    VLM_EXPECT_ERROR(render::barChart({"a"}, {1}, {}, options), ErrorCode::InvalidArgument, "maxBars 0");
  }

  // Five players: values +3, -1, 0, +0.5, -2; interactions (0, 2) = +2 (the strongest),
  // (1, 3) = -1, (0, 1) = 0, the rest 0. Node centres from networkLayout carry the sign
  // colours; the edges' midpoints the edge colours, with widths 12 and 6 px; no edge 0-1.
  void networkNodesAndEdges() {
    render::NetworkOptions options;
    options.title = "interactions";
    const int n = 5, S = options.size;
    const std::vector<double> values = {3, -1, 0, 0.5, -2};
    std::vector<double> I(n * n, 0.0);
    I[0 * n + 2] = I[2 * n + 0] = 2;
    I[1 * n + 3] = I[3 * n + 1] = -1;
    const auto im = render::networkPlot({"p0", "p1", "p2", "p3", "p4"}, values, I, options);
    QCOMPARE(im.width, S);
    QCOMPARE(im.height, S);
    const auto centres = render::networkLayout(n, S);
    QCOMPARE(centres.size(), size_t(n));
    // The layout: evenly spaced on a circle around the image centre, player 0 at the top.
    const double cx = (centres[0][0] + centres[1][0] + centres[2][0] + centres[3][0] + centres[4][0]) / 5;
    const double cy = (centres[0][1] + centres[1][1] + centres[2][1] + centres[3][1] + centres[4][1]) / 5;
    COMPARE_NEAR(cx, S / 2.0, 1e-9);
    COMPARE_NEAR(centres[0][0], cx, 1e-9);
    QVERIFY(centres[0][1] < cy);
    QVERIFY(centres[1][0] > cx);  // clockwise: player 1 on the right
    const double radius = std::hypot(centres[0][0] - cx, centres[0][1] - cy);
    QVERIFY(radius > S / 5.0);
    for (int i = 0; i < n; ++i) COMPARE_NEAR(std::hypot(centres[i][0] - cx, centres[i][1] - cy), radius, 1e-9);

    auto at = [&](double x, double y) { return pixelAt(im, int(std::lround(x)), int(std::lround(y))); };
    const Rgb nodeColor[5] = {render::kChartPositiveColor, render::kChartNegativeColor, render::kChartZeroColor,
                              render::kChartPositiveColor, render::kChartNegativeColor};
    for (int i = 0; i < n; ++i) QCOMPARE(rgbText(at(centres[i][0], centres[i][1])), rgbText(nodeColor[i]));
    // Node area ~ |value|: the +3 node is wider than the +0.5 node.
    auto nodeWidth = [&](int i) {
      return countAlong(im, centres[i][0], centres[i][1], 1, 0, 60, nodeColor[i]);
    };
    QVERIFY(nodeWidth(0) > nodeWidth(3) + 10);
    QVERIFY(nodeWidth(4) > nodeWidth(1));

    auto midpoint = [&](int i, int j) {
      return std::array<double, 2>{(centres[i][0] + centres[j][0]) / 2, (centres[i][1] + centres[j][1]) / 2};
    };
    const auto m02 = midpoint(0, 2), m13 = midpoint(1, 3), m01 = midpoint(0, 1);
    QCOMPARE(rgbText(at(m02[0], m02[1])), rgbText(render::kChartPositiveColor));
    QCOMPARE(rgbText(at(m13[0], m13[1])), rgbText(render::kChartNegativeColor));
    QCOMPARE(rgbText(at(m01[0], m01[1])), rgbText(render::kChartBackground));
    // Widths across the edges (perpendicular to them): 12 px for the strongest, 6 for half of it.
    const double d02x = centres[2][0] - centres[0][0], d02y = centres[2][1] - centres[0][1];
    const double d13x = centres[3][0] - centres[1][0], d13y = centres[3][1] - centres[1][1];
    const int w02 = countAlong(im, m02[0], m02[1], -d02y, d02x, 20, render::kChartPositiveColor);
    const int w13 = countAlong(im, m13[0], m13[1], -d13y, d13x, 20, render::kChartNegativeColor);
    COMPARE_NEAR(double(w02), 12.0, 2.0);
    COMPARE_NEAR(double(w13), 6.0, 2.0);

    // maxEdges = 1 keeps only the strongest edge.
    options.maxEdges = 1;
    const auto one = render::networkPlot({"p0", "p1", "p2", "p3", "p4"}, values, I, options);
    QCOMPARE(rgbText(pixelAt(one, int(std::lround(m02[0])), int(std::lround(m02[1])))),
             rgbText(render::kChartPositiveColor));
    QCOMPARE(rgbText(pixelAt(one, int(std::lround(m13[0])), int(std::lround(m13[1])))),
             rgbText(render::kChartBackground));
  }

  void networkErrors() {
    render::NetworkOptions options;
    VLM_EXPECT_ERROR(render::networkPlot({}, {}, {}, options), ErrorCode::InvalidArgument, "no players");
    VLM_EXPECT_ERROR(render::networkPlot({"a", "b"}, {1, 2}, {0, 1, 1}, options), ErrorCode::InvalidArgument,
                     "3 interactions for 2 x 2");
    VLM_EXPECT_ERROR(render::networkPlot({"a"}, {1, 2}, {0, 0, 0, 0}, options), ErrorCode::InvalidArgument,
                     "1 labels for 2 values");
    VLM_EXPECT_ERROR(render::networkPlot({"a", "b"}, {1, 2}, {0, INFINITY, INFINITY, 0}, options),
                     ErrorCode::InvalidArgument, "interaction 1 is not finite");
    options.size = 300;
    VLM_EXPECT_ERROR(render::networkPlot({"a"}, {1}, {0}, options), ErrorCode::InvalidArgument, "size 300");
  }
};

QTEST_GUILESS_MAIN(TestMetrics)
#include "test_metrics.moc"
