// VLM_TEST_LABELS: model
// Integrated gradients (core/explain/integrated_gradients.h): the quadrature rules against
// their closed forms, exact attributions on hand-built models whose integral is known,
// completeness (the convergence delta shrinks with the steps) on the tiny BLIP caption, VQA
// (pixels and question embeddings) and CLIP fixtures, all outputs at once == one at a time,
// the baselines, and bad input.
#include "testing.h"
#include "error_testing.h"
#include "json_testing.h"

#include <nlohmann/json.hpp>

#include <cmath>

#include "explain/integrated_gradients.h"
#include "explain/target.h"
#include "io/safetensors.h"
#include "models/blip/blip_caption.h"
#include "models/blip/blip_vqa.h"
#include "models/clip/clip_model.h"

using namespace vlm;
using namespace vlm::explain;

namespace {

double absDelta(const std::vector<IgAttribution>& r) { return std::abs(r.at(0).delta); }

// The caption ids explained in the Grad-CAM reference (teacher forcing), and the pixels.
struct CaptionCase {
  at::Tensor pixels;
  std::vector<int64_t> ids;
};

}  // namespace

class TestIntegratedGradients : public QObject {
  Q_OBJECT
  models::LoadedBlipCaption blip_;
  CaptionCase chelsea_;

 private Q_SLOTS:
  void initTestCase() {
    const auto dir = test::dataPath("blip-caption-tiny");
    blip_ = models::loadBlipCaption(dir);
    const auto ref = io::SafetensorsFile::open(dir / "reference.safetensors");
    const auto json = test::readJsonFile(dir / "reference.json");
    chelsea_.pixels = ref->tensor("chelsea/pixel_values").unsqueeze(0);
    chelsea_.ids = json["images"]["chelsea.png"]["gradcam"]["ids"].get<std::vector<int64_t>>();
  }

  // Captum's rules. Gauss-Legendre n = 3 on [-1, 1]: nodes 0, +-sqrt(3/5), weights 8/9, 5/9;
  // mapped to [0, 1]: a = (1 + z) / 2, w = v / 2. Trapezoid n = 5: a = 0, .25, .5, .75, 1 and
  // w = 1/8, 1/4, 1/4, 1/4, 1/8.
  void pathPoints() {
    std::vector<double> a, w;
    igPathPoints(IgRule::GaussLegendre, 3, a, w);
    const double r = std::sqrt(0.6);
    const double ea[] = {(1 - r) / 2, 0.5, (1 + r) / 2}, ew[] = {5.0 / 18, 8.0 / 18, 5.0 / 18};
    QCOMPARE(a.size(), size_t(3));
    for (int i = 0; i < 3; ++i) {
      QVERIFY(std::abs(a[i] - ea[i]) < 1e-14);
      QVERIFY(std::abs(w[i] - ew[i]) < 1e-14);
    }
    igPathPoints(IgRule::GaussLegendre, 1, a, w);
    QVERIFY(a.size() == 1 && std::abs(a[0] - 0.5) < 1e-15 && std::abs(w[0] - 1) < 1e-15);
    igPathPoints(IgRule::RiemannTrapezoid, 5, a, w);
    const double ta[] = {0, .25, .5, .75, 1}, tw[] = {.125, .25, .25, .25, .125};
    for (int i = 0; i < 5; ++i) QVERIFY(std::abs(a[i] - ta[i]) < 1e-15 && std::abs(w[i] - tw[i]) < 1e-15);
    // n-point Gauss-Legendre integrates a^(2n-1) exactly: integral_0^1 a^(2n-1) da = 1 / (2n).
    for (int n : {2, 4, 7, 16, 50}) {
      igPathPoints(IgRule::GaussLegendre, n, a, w);
      double s = 0, sw = 0;
      for (int i = 0; i < n; ++i) {
        s += w[i] * std::pow(a[i], 2 * n - 1);
        sw += w[i];
        QVERIFY(a[i] > 0 && a[i] < 1);
        if (i > 0) QVERIFY(a[i] > a[i - 1]);
      }
      QVERIFY2(std::abs(s - 1.0 / (2 * n)) < 1e-12, ("Gauss-Legendre n=" + std::to_string(n)).c_str());
      QVERIFY(std::abs(sw - 1) < 1e-12);
    }
  }

  // A linear model F_k(x) = w_k . x + c_k: the gradient is constant, so IG_i = w_ki (x_i - x'_i)
  // for any rule and any number of steps, and the delta is 0.
  void linearModelIsExact() {
    const at::Tensor w = at::tensor({1.5f, -2.f, 0.25f, 3.f, -0.5f, 1.f}).view({2, 3});  // K = 2 outputs, input [3]
    const at::Tensor c = at::tensor({0.7f, -1.f});
    auto f = [&](const at::Tensor& b) { return at::matmul(b, w.t()) + c; };  // [B, 3] -> [B, 2]
    const at::Tensor x = at::tensor({2.f, -1.f, 4.f}), x0 = at::tensor({0.5f, 0.5f, -1.f});
    for (IgRule rule : {IgRule::GaussLegendre, IgRule::RiemannTrapezoid})
      for (int steps : {2, 5, 17}) {
        const auto r = integratedGradients(f, x, x0, {"a", "b"}, {steps, rule, 3});
        QCOMPARE(r.size(), size_t(2));
        for (int k = 0; k < 2; ++k) {
          // by hand: w_k * (x - x') with x - x' = [1.5, -1.5, 5]
          VLM_COMPARE_TENSORS(r[k].attributions, w[k] * at::tensor({1.5f, -1.5f, 5.f}), 1e-6, 0, r[k].label);
          QVERIFY(std::abs(r[k].delta) < 1e-5);
          QVERIFY(std::abs(r[k].fInput - (w[k] * x).sum().item<double>() - c[k].item<double>()) < 1e-5);
        }
        QCOMPARE(r[1].label, std::string("b"));
      }
  }

  // F(x) = sum x_i^2: the integrand 2 (x'_i + a (x_i - x'_i)) is linear in a, so both rules are
  // exact: IG_i = x_i^2 - x'_i^2 (the hand-computed answer).
  // F(x) = sum exp(x_i): IG_i = exp(x_i) - exp(x'_i) exactly; the trapezoid's error falls like
  // 1/n^2, so |delta| shrinks with the steps.
  void nonlinearModels() {
    const at::Tensor x = at::tensor({1.f, -2.f, 0.5f}).to(at::kDouble), x0 = at::tensor({0.f, 1.f, 0.5f}).to(at::kDouble);
    auto sq = [](const at::Tensor& b) { return (b * b).sum(1, true); };
    for (IgRule rule : {IgRule::GaussLegendre, IgRule::RiemannTrapezoid}) {
      const auto r = integratedGradients(sq, x, x0, {"sq"}, {3, rule, 2});
      VLM_COMPARE_TENSORS(r[0].attributions, at::tensor({1.f, 3.f, 0.f}), 1e-6, 0, "sum of squares");
    }
    auto ex = [](const at::Tensor& b) { return b.exp().sum(1, true); };
    double last = 1e9;
    for (int steps : {3, 9, 27, 81}) {
      const auto r = integratedGradients(ex, x, x0, {"exp"}, {steps, IgRule::RiemannTrapezoid, 16});
      QVERIFY2(absDelta(r) < last / 4, ("trapezoid delta must shrink ~1/n^2, steps " + std::to_string(steps)).c_str());
      last = absDelta(r);
    }
    QVERIFY(last < 1e-3);
    const auto gl = integratedGradients(ex, x, x0, {"exp"}, {8, IgRule::GaussLegendre, 16});
    VLM_COMPARE_TENSORS(gl[0].attributions, (x.exp() - x0.exp()).to(at::kFloat), 1e-6, 0, "exp, Gauss-Legendre 8");
  }

  // Baselines: black = (0 - mean) / std, mean = 0, blur of a constant image = the constant,
  // blur of an impulse = the outer product of the normalised 1-D Gaussian (centre k0^2).
  void baselines() {
    const std::array<float, 3> mean{0.5f, 0.25f, 0.125f}, std{0.5f, 0.25f, 0.5f};
    const at::Tensor p = at::rand({1, 3, 8, 8});
    const at::Tensor black = igBaseline(IgBaseline::Black, p, mean, std, 1);
    VLM_COMPARE_TENSORS(black[0].select(1, 3).select(1, 5), at::tensor({-1.f, -1.f, -0.25f}), 1e-7, 0, "black");
    VLM_COMPARE_TENSORS(igBaseline(IgBaseline::Mean, p, mean, std, 1), at::zeros_like(p), 0, 0, "mean");
    VLM_COMPARE_TENSORS(igBaseline(IgBaseline::Blur, at::full({1, 3, 8, 8}, 0.3f), mean, std, 1.5), at::full({1, 3, 8, 8}, 0.3f), 1e-6, 0,
                        "blurred constant");
    at::Tensor imp = at::zeros({1, 3, 9, 9});
    imp[0][1][4][4] = 1;
    const at::Tensor b = igBaseline(IgBaseline::Blur, imp, mean, std, 1.0);
    double z = 0;
    for (int i = -3; i <= 3; ++i) z += std::exp(-0.5 * i * i);
    const double k0 = 1 / z, k1 = std::exp(-0.5) / z;
    QVERIFY(std::abs(b[0][1][4][4].item<double>() - k0 * k0) < 1e-6);
    QVERIFY(std::abs(b[0][1][4][5].item<double>() - k0 * k1) < 1e-6);
    QVERIFY(std::abs(b.sum().item<double>() - 1) < 1e-5);
    QCOMPARE(b[0][0].abs().sum().item<double>(), 0.0);
  }

  // Completeness on the tiny BLIP caption: |delta| shrinks as the steps grow (Gauss-Legendre
  // and trapezoid), for a token and for the whole caption; every token at once == each token.
  void captionCompleteness() {
    const at::Tensor black = igBaseline(IgBaseline::Black, chelsea_.pixels, {0.48145466f, 0.4578275f, 0.40821073f},
                                        {0.26862954f, 0.26130258f, 0.27577711f}, 1);
    for (IgRule rule : {IgRule::GaussLegendre, IgRule::RiemannTrapezoid}) {
      for (TokenSelection sel : {TokenSelection::one(2), TokenSelection::whole()}) {
        const CaptionTarget target(blip_.model, chelsea_.pixels, chelsea_.ids, sel);
        std::vector<double> deltas;
        double gap = 0;
        for (int steps : {4, 16, 64}) {
          const auto r = integratedGradientsPixels(target, black, {steps, rule, 16});
          deltas.push_back(absDelta(r));
          gap = std::abs(r[0].fInput - r[0].fBaseline);
          QCOMPARE(r[0].attributions.sizes(), chelsea_.pixels[0].sizes());
        }
        const std::string what = std::string(toString(rule)) + " " + (sel.kind == TokenSelection::Kind::Whole ? "caption" : "token 2") +
                                 ": deltas " + std::to_string(deltas[0]) + " " + std::to_string(deltas[1]) + " " + std::to_string(deltas[2]);
        qInfo("%s gap %g", what.c_str(), gap);
        QVERIFY2(deltas[2] < deltas[0], what.c_str());
        QVERIFY2(deltas[2] < 0.05 * gap + 1e-4, (what + " vs F(x)-F(x') " + std::to_string(gap)).c_str());
      }
    }
    const CaptionTarget all(blip_.model, chelsea_.pixels, chelsea_.ids, TokenSelection::each());
    const auto each = integratedGradientsPixels(all, black, {8, IgRule::GaussLegendre, 8});
    QCOMPARE(each.size(), chelsea_.ids.size() - 1);
    for (int64_t t = 1; t < int64_t(chelsea_.ids.size()); ++t) {
      const CaptionTarget one(blip_.model, chelsea_.pixels, chelsea_.ids, TokenSelection::one(t));
      const auto single = integratedGradientsPixels(one, black, {8, IgRule::GaussLegendre, 3});
      QCOMPARE(each[t - 1].label, single[0].label);
      VLM_COMPARE_TENSORS(each[t - 1].attributions, single[0].attributions, 1e-6, 1e-4, "token " + std::to_string(t));
      QVERIFY(std::abs(each[t - 1].delta - single[0].delta) < 1e-5);
    }
    // The map sums the channels: its total is the attributions' total.
    const at::Tensor map = igPixelMap(each[0].attributions);
    QCOMPARE(map.sizes(), chelsea_.pixels[0][0].sizes());
    QVERIFY(std::abs(map.sum().item<double>() - each[0].attributions.sum().item<double>()) < 1e-4);
  }

  // VQA: on the pixels and on the question's word embeddings. The question baseline keeps
  // [CLS] and [SEP], so their attributions are exactly 0.
  void vqaCompleteness() {
    const auto dir = test::dataPath("blip-vqa-tiny");
    const auto vqa = models::loadBlipVqa(dir);
    const auto ref = io::SafetensorsFile::open(dir / "reference.safetensors");
    const auto json = test::readJsonFile(dir / "reference.json");
    const at::Tensor pixels = ref->tensor("astronaut/pixel_values").unsqueeze(0);
    const auto q = json["question_ids"][0].get<std::vector<int64_t>>();
    const auto a = json["images"]["astronaut.png"]["answers"][0]["greedy_ids"].get<std::vector<int64_t>>();
    const VqaAnswerTarget target(vqa.model, pixels, q, a, TokenSelection::whole());
    std::vector<double> dq, dp;
    for (int steps : {4, 16, 64}) {
      const auto rq = integratedGradientsQuestion(target, {steps, IgRule::GaussLegendre, 16});
      dq.push_back(absDelta(rq));
      QCOMPARE(rq[0].attributions.sizes(), (at::IntArrayRef{int64_t(q.size()), vqa.model->config.text.hiddenSize}));
      const at::Tensor scores = igTokenScores(rq[0].attributions);
      QCOMPARE(scores[0].item<float>(), 0.f);
      QCOMPARE(scores[int64_t(q.size()) - 1].item<float>(), 0.f);
      const auto rp = integratedGradientsPixels(target, at::zeros_like(pixels), {steps, IgRule::GaussLegendre, 16});
      dp.push_back(absDelta(rp));
    }
    QVERIFY2(dq[2] < dq[0] && dp[2] < dp[0], ("VQA deltas: question " + std::to_string(dq[0]) + " -> " + std::to_string(dq[2]) +
                                              ", pixels " + std::to_string(dp[0]) + " -> " + std::to_string(dp[2])).c_str());
  }

  // CLIP cosine with a blurred baseline.
  void clipCompleteness() {
    const auto dir = test::dataPath("clip-tiny");
    const auto clip = models::loadClip(dir);
    const auto ref = io::SafetensorsFile::open(dir / "reference.safetensors");
    const at::Tensor pixels = ref->tensor("astronaut/pixel_values").unsqueeze(0);
    const auto json = test::readJsonFile(dir / "reference.json");
    const ClipSimilarityTarget target(clip.model, pixels, test::clipTextIds(json, 0));
    const at::Tensor blur = igBaseline(IgBaseline::Blur, pixels, {0.48145466f, 0.4578275f, 0.40821073f}, {0.26862954f, 0.26130258f, 0.27577711f}, 4);
    const auto r4 = integratedGradientsPixels(target, blur, {4, IgRule::RiemannTrapezoid, 8});
    const auto r64 = integratedGradientsPixels(target, blur, {64, IgRule::RiemannTrapezoid, 16});
    QVERIFY2(absDelta(r64) < absDelta(r4), (std::to_string(absDelta(r4)) + " -> " + std::to_string(absDelta(r64))).c_str());
    QCOMPARE(r64[0].label, std::string("cosine"));
  }

  void badInput() {
    std::vector<double> a, w;
    VLM_EXPECT_ERROR(igPathPoints(IgRule::GaussLegendre, 0, a, w), ErrorCode::InvalidArgument, "steps", "at least 1");
    VLM_EXPECT_ERROR(igPathPoints(IgRule::RiemannTrapezoid, 1, a, w), ErrorCode::InvalidArgument, "trapezoid", "at least 2");
    auto f = [](const at::Tensor& b) { return b.sum(1, true); };
    VLM_EXPECT_ERROR(integratedGradients(f, at::zeros({3}), at::zeros({3}), {"y"}, {4, IgRule::GaussLegendre, 0}), ErrorCode::InvalidArgument,
                     "batch");
    VLM_EXPECT_ERROR(integratedGradients(f, at::zeros({3}), at::zeros({4}), {"y"}, {}), ErrorCode::InvalidArgument, "baseline");
    VLM_EXPECT_ERROR(igBaseline(IgBaseline::Blur, at::zeros({1, 3, 4, 4}), {}, {1, 1, 1}, 0), ErrorCode::InvalidArgument, "sigma");
  }
};

QTEST_GUILESS_MAIN(TestIntegratedGradients)
#include "test_integrated_gradients.moc"
