// VLM_TEST_LABELS: model
// Shapley explanations on the tiny BLIP caption / VQA and CLIP fixtures (pipeline/shap.h):
// exact Shapley over a 2x2 grid equals the textbook formula applied to coalitions evaluated one
// by one through an independent path (the processor's own pixel values, cells overwritten in
// the normalised tensor, batch of one); batched = unbatched; the cache is hit; patch removal
// matches a hand-made keep list; v(all) is the unmasked model's value; log-odds; VQA and CLIP.
#include "testing.h"
#include "error_testing.h"

#include <ATen/ATen.h>

#include <cmath>

#include <unistd.h>

#include "explain/features.h"
#include "explain/shap_game.h"
#include "explain/target.h"
#include "io/image.h"
#include "models/nn.h"
#include "pipeline/captioner_impl.h"
#include "pipeline/similarity_impl.h"
#include "pipeline/shap.h"
#include "pipeline/similarity.h"
#include "pipeline/vqa.h"
#include "render/colormap.h"
#include "vision/preprocess.h"

using namespace vlm;

namespace {

double factorial(int n) { return std::tgamma(n + 1.0); }

// phi_i = sum_{S not containing i} |S|! (n - |S| - 1)! / n! (v(S + i) - v(S)), coalitions as bit masks.
std::vector<double> textbookShapley(const std::vector<std::vector<double>>& v, int n, int output) {
  std::vector<double> phi(size_t(n), 0.0);
  for (int i = 0; i < n; ++i)
    for (int s = 0; s < (1 << n); ++s) {
      if (s & (1 << i)) continue;
      const int size = __builtin_popcount(unsigned(s));
      const double w = factorial(size) * factorial(n - size - 1) / factorial(n);
      phi[size_t(i)] += w * (v[size_t(s | (1 << i))][size_t(output)] - v[size_t(s)][size_t(output)]);
    }
  return phi;
}

}  // namespace

class TestShapModel : public QObject {
  Q_OBJECT
  std::unique_ptr<Captioner> cap_;
  io::ImageU8 image_;

  ShapOptions exact2x2() const {
    ShapOptions o;
    o.features = "grid:2x2";
    o.estimator = ShapEstimator::Exact;
    return o;
  }

 private Q_SLOTS:
  void initTestCase() {
    cap_ = Captioner::load(test::dataPath("blip-caption-tiny").string());
    image_ = test::loadFixtureImage("chelsea.png");
  }

  // Acceptance 2.
  void exactMatchesBruteForce() {
    const ShapResult r = shapCaption(*cap_, image_, exact2x2());
    QCOMPARE(r.count(), 4);
    QVERIFY(r.exact);
    QCOMPARE(r.evaluations, int64_t(16));
    const int k = r.outputs();
    QCOMPARE(k, int(r.info.ids.size()) - 1);

    // Independent path: the processor's pixel values; a hidden cell gets the normalised value of
    // the mean colour (round(255 mean) / 255 - mean) / std, written into the tensor directly.
    const Captioner::Impl& m = cap_->impl();
    const at::Tensor pixels = m.pixelValues(image_);
    const explain::CaptionTarget target(m.model.model, pixels, r.info.ids, explain::TokenSelection::each());
    const int s = int(pixels.size(-1)), half = s / 2;
    std::vector<std::vector<double>> v(16);
    for (int c = 0; c < 16; ++c) {
      at::Tensor x = pixels.clone();
      for (int cell = 0; cell < 4; ++cell) {
        if (c & (1 << cell)) continue;
        const int r0 = (cell / 2) * half, c0 = (cell % 2) * half;
        for (int ch = 0; ch < 3; ++ch) {
          const float mean = m.processor.mean[size_t(ch)], sd = m.processor.std[size_t(ch)];
          const float fill = (float(std::lround(255.0 * mean)) / 255.f - mean) / sd;
          x[0][ch].slice(0, r0, r0 + half).slice(1, c0, c0 + half).fill_(fill);
        }
      }
      at::NoGradGuard g;
      const at::Tensor y = target.forward(x, nullptr).to(at::kDouble);
      for (int o = 0; o < k; ++o) v[size_t(c)].push_back(y[0][o].item<double>());
    }
    for (int o = 0; o < k; ++o) {
      const std::vector<double> phi = textbookShapley(v, 4, o);
      for (int i = 0; i < 4; ++i) QVERIFY2(std::abs(r.valueOf(i, o) - phi[size_t(i)]) < 1e-4, qPrintable(QString("output %1 feature %2: %3 vs %4").arg(o).arg(i).arg(r.valueOf(i, o)).arg(phi[size_t(i)])));
      QVERIFY(std::abs(r.fullValue[size_t(o)] - v[15][size_t(o)]) < 1e-4);
      QVERIFY(std::abs(r.emptyValue[size_t(o)] - v[0][size_t(o)]) < 1e-4);
    }
    // The features really matter (the test can fail): some value is clearly non-zero.
    double top = 0;
    for (double x : r.values) top = std::max(top, std::abs(x));
    QVERIFY(top > 1e-3);
  }

  // Acceptance 3: batch 1 and batch 16 agree; sampling over 4 players hits the cache.
  void batchedEqualsUnbatchedAndCacheHits() {
    ShapOptions o = exact2x2();
    o.batch = 1;
    const ShapResult one = shapCaption(*cap_, image_, o);
    o.batch = 16;
    const ShapResult many = shapCaption(*cap_, image_, o);
    QCOMPARE(one.forwardPasses, int64_t(16));
    QCOMPARE(many.forwardPasses, int64_t(1));
    for (size_t i = 0; i < one.values.size(); ++i) QVERIFY(std::abs(one.values[i] - many.values[i]) < 1e-5);

    // KernelSHAP with a budget above the 16 coalitions enumerates them all: exact values.
    ShapOptions k = exact2x2();
    k.estimator = ShapEstimator::Kernel;
    k.evaluations = 200;
    const ShapResult kr = shapCaption(*cap_, image_, k);
    QCOMPARE(kr.evaluations, int64_t(16));
    for (size_t i = 0; i < kr.values.size(); ++i) QVERIFY2(std::abs(kr.values[i] - many.values[i]) < 1e-4, qPrintable(QString::number(i)));
    // Permutation sampling walks chains through coalitions it has seen: only 16 exist, the
    // other requests are cache hits.
    k.estimator = ShapEstimator::Permutation;
    const ShapResult pr = shapCaption(*cap_, image_, k);
    QVERIFY(pr.evaluations <= 16);
    QVERIFY(pr.cacheHits > 0);
    QVERIFY(pr.samples >= 4);
  }

  // Efficiency holds, and v(all) is the unmasked caption's token log-probabilities.
  void efficiencyAndFullValue() {
    const ShapResult r = shapCaption(*cap_, image_, exact2x2());
    const Captioner::Impl& m = cap_->impl();
    const explain::CaptionTarget target(m.model.model, m.pixelValues(image_), r.info.ids, explain::TokenSelection::each());
    at::NoGradGuard g;
    const at::Tensor y = target.forward(target.pixels(), nullptr).to(at::kDouble);
    for (int o = 0; o < r.outputs(); ++o) {
      double sum = 0;
      for (int i = 0; i < r.count(); ++i) sum += r.valueOf(i, o);
      QVERIFY(std::abs(sum - (r.fullValue[size_t(o)] - r.emptyValue[size_t(o)])) < 1e-9);
      QVERIFY(std::abs(r.fullValue[size_t(o)] - y[0][o].item<double>()) < 1e-5);
    }
  }

  // Patch removal through the game ([B, K] keep lists, rows grouped by size) equals forward
  // passes with hand-made 1-D keep lists: on the 4x4 patch grid, cell 0 of a 2x2 grid is
  // patches 0, 1, 4, 5 (sequence positions 1, 2, 5, 6), cell 1 patches 2, 3, 6, 7, cell 2
  // patches 8, 9, 12, 13, cell 3 patches 10, 11, 14, 15.
  void patchRemovalMatchesHandMadeKeepLists() {
    const Captioner::Impl& m = cap_->impl();
    const auto& vc = m.model.model->config.vision;
    QCOMPARE(int(vc.imageSize / vc.patchSize), 4);
    const std::vector<int64_t> ids = cap_->caption(image_, {}).ids;
    const explain::CaptionTarget target(m.model.model, m.pixelValues(image_), ids, explain::TokenSelection::each());
    const explain::FeatureSet features = explain::gridFeatures(int(vc.imageSize), int(vc.patchSize), 2, 2);
    explain::InputPixels input;
    input.image.width = input.image.height = int(vc.imageSize);
    input.image.rgb.assign(size_t(vc.imageSize * vc.imageSize * 3), 0);
    input.table = vision::valueTable(m.processor);
    explain::ImageGame game(target, features, input, explain::MaskerKind::PatchRemoval, {}, {0, 0, 0}, explain::ValueTransform::Identity);
    const std::vector<double> v = game.evaluate({{1, 0, 0, 1}, {0, 1, 1, 0}, {1, 1, 1, 1}, {0, 0, 0, 0}}, {});
    QCOMPARE(game.forwardCalls(), int64_t(3));  // sizes 8, 16 and 0 visible patches
    at::NoGradGuard g;
    auto direct = [&](std::vector<int64_t> keep) { return target.forward(target.pixels(), nullptr, at::tensor(keep, at::kLong)).to(at::kDouble); };
    const std::vector<at::Tensor> expected = {direct({0, 1, 2, 5, 6, 11, 12, 15, 16}), direct({0, 3, 4, 7, 8, 9, 10, 13, 14}),
                                              target.forward(target.pixels(), nullptr).to(at::kDouble), direct({0})};
    const int k = game.outputs();
    for (int row = 0; row < 4; ++row)
      for (int o = 0; o < k; ++o)
        QVERIFY2(std::abs(v[size_t(row * k + o)] - expected[size_t(row)][0][o].item<double>()) < 1e-5, qPrintable(QString("row %1 output %2").arg(row).arg(o)));
    // Removing patches changes the output (the test can fail).
    QVERIFY(std::abs(v[0] - v[size_t(2 * k)]) > 1e-4);
    // The public path with --masker patch: v(all) and v(none) are the rows above.
    ShapOptions o = exact2x2();
    o.masker = explain::MaskerKind::PatchRemoval;
    o.ids = ids;
    const ShapResult r = shapCaption(*cap_, image_, o);
    for (int out = 0; out < k; ++out) {
      QVERIFY(std::abs(r.fullValue[size_t(out)] - v[size_t(2 * k + out)]) < 1e-5);
      QVERIFY(std::abs(r.emptyValue[size_t(out)] - v[size_t(3 * k + out)]) < 1e-5);
    }
  }

  // token-logodds = log p - log(1 - p) of token-logprob, coalition by coalition (v(all), v(none)).
  void logOddsTransform() {
    ShapOptions o = exact2x2();
    const ShapResult lp = shapCaption(*cap_, image_, o);
    o.value = ShapValue::TokenLogOdds;
    const ShapResult lo = shapCaption(*cap_, image_, o);
    for (int out = 0; out < lp.outputs(); ++out)
      for (auto [a, b] : {std::pair{lp.fullValue[size_t(out)], lo.fullValue[size_t(out)]}, std::pair{lp.emptyValue[size_t(out)], lo.emptyValue[size_t(out)]}})
        QVERIFY(std::abs(b - (a - std::log1p(-std::exp(a)))) < 1e-6);
  }

  // The whole caption's value is the sum of the token values (linearity of Shapley values).
  void captionIsSumOfTokens() {
    ShapOptions o = exact2x2();
    const ShapResult tokens = shapCaption(*cap_, image_, o);
    o.value = ShapValue::CaptionLogProb;
    const ShapResult whole = shapCaption(*cap_, image_, o);
    QCOMPARE(whole.outputs(), 1);
    for (int i = 0; i < 4; ++i) {
      double sum = 0;
      for (int out = 0; out < tokens.outputs(); ++out) sum += tokens.valueOf(i, out);
      QVERIFY(std::abs(whole.valueOf(i, 0) - sum) < 1e-4);
    }
  }

  // VQA answer and CLIP similarity: efficiency, and CLIP's v(all) is the model's own score.
  void vqaAndClip() {
    const auto vqa = QuestionAnswerer::load(test::dataPath("blip-vqa-tiny").string());
    ShapOptions o = exact2x2();
    o.value = ShapValue::Answer;
    const ShapResult a = shapAnswer(*vqa, image_, "what is this?", o);
    QCOMPARE(a.outputs(), 1);
    double sum = 0;
    for (int i = 0; i < 4; ++i) sum += a.valueOf(i, 0);
    QVERIFY(std::abs(sum - (a.fullValue[0] - a.emptyValue[0])) < 1e-9);

    const auto clip = SimilarityModel::load(test::dataPath("clip-tiny").string());
    o.value = ShapValue::Clip;
    const ShapResult c = shapSimilarity(*clip, image_, "a photo of a cat", o);
    const double score = clip->score(image_, {"a photo of a cat"}).cosine[0];
    QVERIFY2(std::abs(c.fullValue[0] - score) < 1e-5, qPrintable(QString("%1 vs %2").arg(c.fullValue[0]).arg(score)));
    VLM_EXPECT_ERROR(shapSimilarity(*clip, image_, "x", exact2x2()), ErrorCode::InvalidArgument, "does not apply to a CLIP model");
  }

  // caption-similarity (VL-SHAP): v(all) regenerates the original caption (cosine 1); v(none)
  // is the caption of an image of the masker's colour everywhere, compared by CLIP text
  // embeddings computed here; efficiency holds.
  void captionSimilarity() {
    const auto clip = SimilarityModel::load(test::dataPath("clip-tiny").string());
    ShapOptions o = exact2x2();
    o.value = ShapValue::CaptionSimilarity;
    VLM_EXPECT_ERROR(shapCaption(*cap_, image_, o), ErrorCode::InvalidArgument, "CLIP");
    o.clip = clip.get();
    const ShapResult r = shapCaption(*cap_, image_, o);
    QCOMPARE(r.outputs(), 1);
    QVERIFY2(std::abs(r.fullValue[0] - 1.0) < 1e-5, qPrintable(QString::number(r.fullValue[0], 'g', 10)));
    const Captioner::Impl& m = cap_->impl();
    io::ImageU8 flat = image_;
    const auto colour = explain::meanColor(m.processor.mean);
    for (size_t i = 0; i < flat.rgb.size(); i += 3) std::copy(colour.begin(), colour.end(), flat.rgb.begin() + long(i));
    const std::string blank = cap_->caption(flat, {}).caption;
    const SimilarityModel::Impl& c = clip->impl();
    const auto t = c.encodeTexts({r.info.text, blank});
    const at::Tensor e = models::l2Normalize(c.model.model.ptr()->textFeatures(t.ids, t.attentionMask).to(at::kFloat));
    const double expected = (e[0] * e[1]).sum().item<double>();
    QVERIFY2(std::abs(r.emptyValue[0] - expected) < 1e-5, qPrintable(QString("%1 vs %2 ('%3' / '%4')").arg(r.emptyValue[0]).arg(expected).arg(QString::fromStdString(r.info.text), QString::fromStdString(blank))));
    double sum = 0;
    for (int i = 0; i < 4; ++i) sum += r.valueOf(i, 0);
    QVERIFY(std::abs(sum - (r.fullValue[0] - r.emptyValue[0])) < 1e-9);
    o.masker = explain::MaskerKind::PatchRemoval;
    VLM_EXPECT_ERROR(shapCaption(*cap_, image_, o), ErrorCode::InvalidArgument, "pixel masker");
  }

  // Mask images as features (original-image size): an input pixel belongs to a mask when the
  // original pixel under its centre does. The left half of the 451-wide image covers input
  // columns 0..31 of 64 ((31.5 * 451 / 64) = 222 < 225 <= (32.5 * 451 / 64) = 229), which are
  // exactly the two left patch columns; the top half overlaps it.
  void maskImageFeatures() {
    const int w = image_.width, h = image_.height;
    io::ImageU8 left = image_, top = image_;
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x)
        for (int c = 0; c < 3; ++c) {
          left.pixel(x, y)[c] = x < w / 2 ? 255 : 0;
          top.pixel(x, y)[c] = y < h / 2 ? 255 : 0;
        }
    const auto dir = std::filesystem::temp_directory_path() / ("vlm_masks_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    render::writePng(dir / "left.png", left);
    render::writePng(dir / "top.png", top);
    ShapOptions o = exact2x2();
    o.features = "masks:" + (dir / "left.png").string() + "," + (dir / "top.png").string();
    const ShapResult r = shapCaption(*cap_, image_, o);
    std::filesystem::remove_all(dir);
    QCOMPARE(r.count(), 2);
    QCOMPARE(r.featurePatches[0], (std::vector<int>{0, 1, 4, 5, 8, 9, 12, 13}));
    QCOMPARE(r.featurePatches[1], (std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7}));
    QCOMPARE(r.evaluations, int64_t(4));
    for (int out = 0; out < r.outputs(); ++out)
      QVERIFY(std::abs(r.valueOf(0, out) + r.valueOf(1, out) - (r.fullValue[size_t(out)] - r.emptyValue[size_t(out)])) < 1e-9);
    o.features = "masks:";
    VLM_EXPECT_ERROR(shapCaption(*cap_, image_, o), ErrorCode::InvalidArgument, "masks needs");
  }

  // Feature kinds on a real model: DFF concepts are whole patches (patch removal works), SLIC
  // cuts through patches (patch removal refused), Owen needs a partition, exact refuses > 20.
  void featureKindsAndRefusals() {
    ShapOptions o;
    o.features = "dff:1:3";
    o.estimator = ShapEstimator::Exact;
    o.masker = explain::MaskerKind::PatchRemoval;
    const ShapResult d = shapCaption(*cap_, image_, o);
    QVERIFY(d.count() >= 1 && d.count() <= 3);
    for (const auto& p : d.featurePatches) QVERIFY(!p.empty());
    o.features = "slic:6";
    VLM_EXPECT_ERROR(shapCaption(*cap_, image_, o), ErrorCode::InvalidArgument, "cut through patches");
    o.masker = explain::MaskerKind::Blur;
    const ShapResult sl = shapCaption(*cap_, image_, o);
    QVERIFY(sl.count() >= 2);
    o.features = "grid:2x2";
    o.estimator = ShapEstimator::Owen;
    VLM_EXPECT_ERROR(shapCaption(*cap_, image_, o), ErrorCode::InvalidArgument, "partition");
    o.features = "partition:2x2";
    const ShapResult ow = shapCaption(*cap_, image_, o);
    o.features = "grid:2x2";
    o.estimator = ShapEstimator::Exact;
    const ShapResult ex = shapCaption(*cap_, image_, o);
    // Owen values (two levels of two cells) and Shapley values differ in general; both are
    // efficient, and both runs see the same v(all) and v(none) (up to float32 batch effects).
    for (int out = 0; out < ex.outputs(); ++out) {
      double a = 0, b = 0;
      for (int i = 0; i < 4; ++i) a += ow.valueOf(i, out), b += ex.valueOf(i, out);
      QVERIFY(std::abs(a - (ow.fullValue[size_t(out)] - ow.emptyValue[size_t(out)])) < 1e-9);
      QVERIFY(std::abs(b - (ex.fullValue[size_t(out)] - ex.emptyValue[size_t(out)])) < 1e-9);
      QVERIFY(std::abs(ow.fullValue[size_t(out)] - ex.fullValue[size_t(out)]) < 1e-5);
      QVERIFY(std::abs(ow.emptyValue[size_t(out)] - ex.emptyValue[size_t(out)]) < 1e-5);
    }
    o.features = "grid:5x5";
    VLM_EXPECT_ERROR(shapCaption(*cap_, image_, o), ErrorCode::InvalidArgument, "");
  }
};

QTEST_GUILESS_MAIN(TestShapModel)
#include "test_shap_model.moc"
