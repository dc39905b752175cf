// VLM_TEST_LABELS: model
// Faithfulness on the tiny fixtures (pipeline/faithfulness.h): deletion / insertion curves of a
// Grad-CAM map start and end at the model's own values (the unmasked token log-probability,
// the fully masked one), the curve follows the map's ranking (checked against coalitions
// evaluated by hand), ground-truth scores against a hand-made mask, the explanation read back
// from disk equals the one written, and cascading randomisation restores the weights.
#include "testing.h"
#include "error_testing.h"

#include <unistd.h>

#include "io/image.h"
#include "pipeline/captioner.h"
#include "pipeline/explain_export.h"
#include "pipeline/faithfulness.h"
#include "pipeline/shap.h"

using namespace vlm;

class TestFaithfulness : public QObject {
  Q_OBJECT
  std::unique_ptr<Captioner> cap_;
  io::ImageU8 image_;
  std::filesystem::path tmp_;

 private Q_SLOTS:
  void initTestCase() {
    cap_ = Captioner::load(test::dataPath("blip-caption-tiny").string());
    image_ = test::loadFixtureImage("chelsea.png");
    tmp_ = std::filesystem::temp_directory_path() / ("vlm_faith_" + std::to_string(::getpid()));
  }
  void cleanupTestCase() { std::filesystem::remove_all(tmp_); }

  // The curves' endpoints are model values: nothing removed = the explained token's
  // log-probability; everything removed = nothing inserted = the value a 2x2 Shapley run finds
  // for the empty coalition. The AUC is the trapezoid rule over the points.
  void curvesEndAtModelValues() {
    ExplainOptions eo;
    eo.token = 2;
    const ExplainResult e = explainCaption(*cap_, image_, eo);
    FaithfulnessOptions fo;
    fo.features = "grid:2x2";
    const FaithfulnessResult f = faithfulnessCaption(*cap_, image_, e, fo);
    QCOMPARE(f.maps.size(), size_t(1));
    const MapFaithfulness& m = f.maps[0];
    QCOMPARE(m.deletionValue.size(), size_t(5));
    QVERIFY(std::abs(m.deletionValue.front() - e.maps[0].y) < 1e-5);  // nothing removed: the explained log-probability
    QVERIFY(std::abs(m.deletionValue.back() - m.insertionValue.front()) < 1e-9);  // everything removed = nothing inserted
    QVERIFY(std::abs(m.insertionValue.back() - m.deletionValue.front()) < 1e-9);
    ShapOptions so;
    so.features = "grid:2x2";
    so.estimator = ShapEstimator::Exact;
    so.value = ShapValue::TokenLogProb;
    so.ids = e.ids;
    const ShapResult s = shapCaption(*cap_, image_, so);
    QVERIFY(std::abs(s.fullValue[1] - m.fullValue) < 1e-5);   // output 1 = token 2
    QVERIFY(std::abs(s.emptyValue[1] - m.emptyValue) < 1e-5);
    // AUC by the trapezoid rule over the 5 points.
    double auc = 0;
    for (size_t i = 1; i < 5; ++i) auc += 0.25 * 0.5 * (m.deletionValue[i] + m.deletionValue[i - 1]);
    QVERIFY(std::abs(auc - m.deletionAuc) < 1e-9);
  }

  // The map's maximum lies in the top-left quarter of a hand-made map, so the pointing game hits
  // a top-left mask and misses a bottom-right one; relevance mass = the share inside.
  void groundTruthScores() {
    ExplainOptions eo;
    ExplainResult e = explainCaption(*cap_, image_, eo);
    ExplainedMap& map = e.maps[0];
    const int g = map.side;
    std::fill(map.raw.begin(), map.raw.end(), 0.f);
    map.raw[0] = 3.f;                           // top-left cell
    map.raw[size_t(g * g - 1)] = 1.f;           // bottom-right cell
    const int w = image_.width, h = image_.height;
    std::vector<uint8_t> topLeft(size_t(w) * h, 0), bottomRight(size_t(w) * h, 0);
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) {
        if (x < w / 2 && y < h / 2) topLeft[size_t(y) * w + x] = 1;
        if (x >= w / 2 && y >= h / 2) bottomRight[size_t(y) * w + x] = 1;
      }
    FaithfulnessOptions fo;
    fo.features = "grid:2x2";
    fo.groundTruth = topLeft;
    const FaithfulnessResult a = faithfulnessCaption(*cap_, image_, e, fo);
    QVERIFY(*a.maps[0].pointingHit);
    fo.groundTruth = bottomRight;
    fo.pointingTolerance = 0;
    const FaithfulnessResult b = faithfulnessCaption(*cap_, image_, e, fo);
    QVERIFY(!*b.maps[0].pointingHit);
    // Bilinear spreading keeps the two bumps apart on a 4x4 grid: mass 3:1 -> 0.75 / 0.25.
    QVERIFY(std::abs(*a.maps[0].relevanceMass - 0.75) < 0.02);
    QVERIFY(std::abs(*b.maps[0].relevanceMass - 0.25) < 0.02);
    fo.groundTruth.resize(10);
    VLM_EXPECT_ERROR(faithfulnessCaption(*cap_, image_, e, fo), ErrorCode::InvalidArgument, "size");
  }

  void readBackExplanation() {
    ExplainOptions eo;
    eo.scope = TokenScope::All;
    const ExplainResult e = explainCaption(*cap_, image_, eo);
    writeExplanation(tmp_ / "e", e, image_, {});
    const ExplainResult back = readExplanation(tmp_ / "e");
    QCOMPARE(back.ids, e.ids);
    QCOMPARE(back.maps.size(), e.maps.size());
    for (size_t i = 0; i < e.maps.size(); ++i) {
      QCOMPARE(back.maps[i].raw, e.maps[i].raw);
      QCOMPARE(back.maps[i].position, e.maps[i].position);
    }
    VLM_EXPECT_ERROR(readExplanation(tmp_ / "none"), ErrorCode::NotFound, "explanation.json");
  }

  // One step per vision layer plus post_layernorm; correlations in [-1, 1]; afterwards the model
  // explains exactly as before (weights restored).
  void cascadingRandomizationRestores() {
    ExplainOptions eo;
    eo.token = 1;
    const ExplainResult before = explainCaption(*cap_, image_, eo);
    const auto steps = cascadingRandomization(*cap_, image_, eo, 7);
    QCOMPARE(steps.size(), size_t(3));  // post_layernorm, layer 1, layer 0 (2 vision layers)
    QCOMPARE(steps[0].randomized, std::string("post_layernorm"));
    QCOMPARE(steps[2].randomized, std::string("post_layernorm .. layer 0"));
    for (const auto& s : steps)
      for (double r : s.spearman) QVERIFY(r >= -1 && r <= 1);
    const ExplainResult after = explainCaption(*cap_, image_, eo);
    QCOMPARE(after.maps[0].raw, before.maps[0].raw);
    QCOMPARE(after.ids, before.ids);
  }
};

QTEST_GUILESS_MAIN(TestFaithfulness)
#include "test_faithfulness.moc"
