// VLM_TEST_LABELS: fast
// Generation on a toy decoder whose next-token distribution depends only on the last token,
// with outcomes worked out by hand; the logits processors on hand-computed inputs.
#include "testing.h"

#include <cmath>

#include "common/error.h"
#include "models/generation.h"

using namespace vlm;
using namespace vlm::models;

namespace {

// Tokens: 0 = eos, 1 = start, 2..4 words. logits = log p, so log_softmax gives log p back.
class MarkovDecoder : public StepDecoder {
 public:
  MarkovDecoder() {
    const double p[5][5] = {
        {0.2, 0.2, 0.2, 0.2, 0.2},      // after eos (unused)
        {0.06, 0.0, 0.5, 0.4, 0.04},    // after start
        {0.3, 0.0, 0.19, 0.16, 0.35},   // after 2
        {0.9, 0.0, 0.04, 0.03, 0.03},   // after 3
        {0.4, 0.0, 0.3, 0.2, 0.1},      // after 4
    };
    table_ = at::empty({5, 5});
    for (int i = 0; i < 5; ++i)
      for (int j = 0; j < 5; ++j) table_[i][j] = p[i][j] > 0 ? std::log(p[i][j]) : -1e4;
  }
  void reset(int64_t batch) override {
    rows_ = batch;
    ++resets;
  }
  at::Tensor step(const at::Tensor& ids) override {
    steps.push_back(ids.size(1));
    QTEST_ASSERT(ids.size(0) == rows_);
    return table_.index_select(0, ids.flatten()).view({ids.size(0), ids.size(1), 5});
  }
  void reorder(const at::Tensor& rows) override { lastReorder = rows.clone(); }

  std::vector<int64_t> steps;
  int resets = 0;
  at::Tensor lastReorder;

 private:
  at::Tensor table_;
  int64_t rows_ = 0;
};

}  // namespace

class TestGeneration : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void greedyFollowsTheArgmaxAndStopsAtEos() {
    MarkovDecoder d;
    GenerationOptions o;
    o.maxLength = 10;
    const auto r = generate(d, {1}, 0, o);
    QCOMPARE(r.ids, (std::vector<int64_t>{1, 2, 4, 0}));
    QCOMPARE(d.steps, (std::vector<int64_t>{1, 1, 1}));  // one token fed per step (cache)
    QVERIFY(std::isnan(r.sequenceScore));
  }

  void greedyStopsAtMaxLengthCountingThePrompt() {
    MarkovDecoder d;
    GenerationOptions o;
    o.maxLength = 3;
    QCOMPARE(generate(d, {1}, 0, o).ids, (std::vector<int64_t>{1, 2, 4}));
    o.maxLength = 4;
    QCOMPARE(generate(d, {1, 3}, 0, o).ids, (std::vector<int64_t>{1, 3, 0}));
  }

  void minLengthForbidsEarlyEos() {
    MarkovDecoder d;
    GenerationOptions o;
    o.maxLength = 10;
    o.minLength = 4;  // eos banned while fewer than 4 ids: 1 2 4 | 2 (not eos) | 4 | 0
    QCOMPARE(generate(d, {1}, 0, o).ids, (std::vector<int64_t>{1, 2, 4, 2, 4, 0}));
  }

  void beamSearchFindsTheBetterShortHypothesis() {
    // Worked by hand: step 1 keeps [1 2] (-0.693) and [1 3] (-0.916); step 2 finishes [1 3]+eos
    // with score (log .4 + log .9) / 2 = -0.5108; nothing later beats it.
    MarkovDecoder d;
    GenerationOptions o;
    o.maxLength = 10;
    o.numBeams = 2;
    const auto r = generate(d, {1}, 0, o);
    QCOMPARE(r.ids, (std::vector<int64_t>{1, 3, 0}));
    QVERIFY2(std::abs(r.sequenceScore - (std::log(0.4) + std::log(0.9)) / 2) < 1e-5, std::to_string(r.sequenceScore).c_str());
    QCOMPARE(d.steps.front(), int64_t(1));
  }

  void repetitionPenaltyAsTransformers() {
    // negative scores are multiplied by the penalty, positive ones divided; repeated ids once
    const at::Tensor scores = at::tensor({-1.0f, 2.0f, 0.5f, -3.0f}).view({1, 4});
    const at::Tensor ids = at::tensor({0, 1, 1}, at::kLong).view({1, 3});
    const at::Tensor out = applyRepetitionPenalty(ids, scores, 2.0);
    QVERIFY(out.equal(at::tensor({-2.0f, 1.0f, 0.5f, -3.0f}).view({1, 4})));
  }

  void noRepeatNgramBansTheCompletingToken() {
    const at::Tensor scores = at::zeros({1, 8});
    const float inf = std::numeric_limits<float>::infinity();
    at::Tensor out = applyNoRepeatNgram(at::tensor({5, 6, 5}, at::kLong).view({1, 3}), scores, 2);
    at::Tensor want = at::zeros({1, 8});
    want[0][6] = -inf;
    QVERIFY(out.equal(want));
    out = applyNoRepeatNgram(at::tensor({1, 2, 3, 1, 2}, at::kLong).view({1, 5}), scores, 3);
    want = at::zeros({1, 8});
    want[0][3] = -inf;
    QVERIFY(out.equal(want));
    // too short to complete any n-gram: untouched
    QVERIFY(applyNoRepeatNgram(at::tensor({1}, at::kLong).view({1, 1}), scores, 3).equal(scores));
  }

  void minLengthProcessor() {
    const at::Tensor scores = at::zeros({2, 4});
    const at::Tensor ids = at::zeros({2, 2}, at::kLong);
    QVERIFY(applyMinLength(ids, scores, 2, 3).equal(scores));
    const at::Tensor out = applyMinLength(ids, scores, 3, 3);
    QVERIFY(std::isinf(out[0][3].item<float>()) && std::isinf(out[1][3].item<float>()));
    QCOMPARE(out.slice(1, 0, 3).abs().sum().item<float>(), 0.0f);
  }

  void rejectsBadOptions() {
    MarkovDecoder d;
    GenerationOptions o;
    o.maxLength = 1;
    QVERIFY_THROWS_EXCEPTION(Error, generate(d, {1}, 0, o));
    o = {};
    o.numBeams = 0;
    QVERIFY_THROWS_EXCEPTION(Error, generate(d, {1}, 0, o));
    o = {};
    QVERIFY_THROWS_EXCEPTION(Error, generate(d, {}, 0, o));
  }

  void cancelStopsBetweenTokens() {
    MarkovDecoder d;
    std::stop_source stop;
    stop.request_stop();
    try {
      generate(d, {1}, 0, GenerationOptions{}, JobContext(stop.get_token()));
      QFAIL("expected cancellation");
    } catch (const Error& e) {
      QCOMPARE(e.code(), ErrorCode::Cancelled);
    }
    QVERIFY(d.steps.empty());
  }
};

QTEST_GUILESS_MAIN(TestGeneration)
#include "test_generation.moc"
