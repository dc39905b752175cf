// VLM_TEST_LABELS: model
// Mask and regenerate (pipeline/counterfactual.h) on the tiny BLIP caption / VQA / CLIP
// fixtures: patch removal provably ignores the masked pixels (noise there changes nothing, to
// the bit; without removal it does change the output), the original caption's log-probability
// agrees with the explainer's whole-caption target, a constant mask over everything equals
// captioning a constant image, auto-mask removes the map's top patches, bad rectangles.
#include "testing.h"
#include "error_testing.h"

#include <random>

#include "io/image.h"
#include "models/nn.h"
#include "pipeline/captioner_impl.h"
#include "pipeline/counterfactual.h"
#include "pipeline/explainer.h"
#include "pipeline/similarity.h"
#include "pipeline/vqa.h"

using namespace vlm;
using vision::PixelRect;

namespace {

io::ImageU8 withNoise(io::ImageU8 img, const PixelRect& r, unsigned seed) {
  std::mt19937 rng(seed);
  for (int y = r.y; y < r.y + r.height; ++y)
    for (int x = r.x; x < r.x + r.width; ++x)
      for (int c = 0; c < 3; ++c) img.pixel(x, y)[c] = uint8_t(rng() & 255);
  return img;
}

}  // namespace

class TestCounterfactual : public QObject {
  Q_OBJECT
  std::unique_ptr<Captioner> cap_;
  std::unique_ptr<SimilarityModel> clip_;
  io::ImageU8 image_;

 private Q_SLOTS:
  void initTestCase() {
    cap_ = Captioner::load(test::dataPath("blip-caption-tiny").string());
    clip_ = SimilarityModel::load(test::dataPath("clip-tiny").string());
    image_ = test::loadFixtureImage("astronaut.png");
  }

  // Acceptance 3. The rectangle's pixels are replaced by noise; with patch removal the masked
  // caption, its log-probabilities and the CLIP score are bit-identical. The pixel values of
  // the two images differ only inside the removed patches (the geometry's claim, checked), and
  // the image embeddings without removal do differ (the test can fail).
  void patchRemovalIgnoresMaskedPixels() {
    const PixelRect rect{image_.width / 4, image_.height / 3, image_.width / 5, image_.height / 4};
    const io::ImageU8 noisy = withNoise(image_, rect, 7);
    MaskSpec mask;
    mask.rects = {rect};
    mask.masker = explain::MaskerKind::PatchRemoval;
    const RegenerateResult a = maskAndRegenerate(*cap_, image_, mask, {}, clip_.get());
    const RegenerateResult b = maskAndRegenerate(*cap_, noisy, mask, {}, clip_.get());
    QVERIFY(!a.removedPatches.empty());
    QCOMPARE(a.removedPatches, b.removedPatches);
    QCOMPARE(a.maskedIds, b.maskedIds);
    QCOMPARE(a.tokenLogProbAfter.size(), a.originalIds.size() - 1);
    // log p(original caption | masked input) compares the same ids: the original caption may
    // differ between the images, so evaluate both on a's ids.
    QCOMPARE(a.clipAfter.value(), b.clipAfter.value());
    QVERIFY(!a.clipRemovedPatches.empty());

    const Captioner::Impl& m = cap_->impl();
    c10::InferenceMode inference;
    const at::Tensor pa = m.pixelValues(image_), pb = m.pixelValues(noisy);
    const auto& vc = m.model.model->config.vision;
    const int g = int(vc.imageSize / vc.patchSize), p = int(vc.patchSize);
    std::vector<char> removed(size_t(g * g), 0);
    for (int r : a.removedPatches) removed[size_t(r)] = 1;
    const at::Tensor changed = (pa != pb).any(1)[0];  // [S, S]
    int changedPixels = 0;
    for (int y = 0; y < g * p; ++y)
      for (int x = 0; x < g * p; ++x)
        if (changed[y][x].item<bool>()) {
          ++changedPixels;
          QVERIFY2(removed[size_t((y / p) * g + x / p)], "a pixel outside the removed patches changed");
        }
    QVERIFY(changedPixels > 0);
    std::vector<int64_t> keep{0};
    for (int i = 0; i < g * g; ++i)
      if (!removed[size_t(i)]) keep.push_back(1 + i);
    const at::Tensor kt = at::tensor(keep);
    auto& model = *m.model.model.ptr();
    const at::Tensor ea = model.encodeImage(pa, nullptr, kt), eb = model.encodeImage(pb, nullptr, kt);
    QCOMPARE(ea.size(1), int64_t(keep.size()));
    QVERIFY(at::equal(ea, eb));
    QVERIFY(!at::equal(model.encodeImage(pa), model.encodeImage(pb)));
    // The same ids teacher-forced on both removed-patch inputs: identical log-probabilities.
    const at::Tensor ids = at::tensor(a.originalIds).unsqueeze(0);
    QVERIFY(at::equal(model.decode(ea, ids), model.decode(eb, ids)));
    VLM_EXPECT_ERROR(models::keepSequenceTokens(ea, at::tensor(std::vector<int64_t>{1, 2})), ErrorCode::InvalidArgument, "CLS");
  }

  // The VQA answer under patch removal is bit-identical too.
  void vqaPatchRemoval() {
    const auto vqa = QuestionAnswerer::load(test::dataPath("blip-vqa-tiny").string());
    const PixelRect rect{10, 10, image_.width / 3, image_.height / 3};
    MaskSpec mask;
    mask.rects = {rect};
    mask.masker = explain::MaskerKind::PatchRemoval;
    const auto a = maskAndRegenerate(*vqa, image_, "what is in the picture?", mask, {});
    const auto b = maskAndRegenerate(*vqa, withNoise(image_, rect, 3), "what is in the picture?", mask, {});
    QCOMPARE(a.maskedIds, b.maskedIds);
    if (a.originalIds == b.originalIds) QCOMPARE(a.tokenLogProbAfter, b.tokenLogProbAfter);
    QVERIFY(std::isfinite(a.logProbBefore) && std::isfinite(a.logProbAfter));
  }

  // The original caption's log-probability, here and in the explainer's whole-caption target
  // (two code paths), and the log-prob change's sign convention.
  void logProbMatchesExplainer() {
    MaskSpec mask;
    mask.rects = {{0, 0, image_.width / 2, image_.height}};
    mask.masker = explain::MaskerKind::Blur;
    const RegenerateResult r = maskAndRegenerate(*cap_, image_, mask, {});
    ExplainOptions eo;
    eo.scope = TokenScope::Whole;
    eo.ids = r.originalIds;
    const ExplainResult e = explainCaption(*cap_, image_, eo);
    QVERIFY2(std::abs(e.maps[0].y - r.logProbBefore) < 1e-4, (std::to_string(e.maps[0].y) + " vs " + std::to_string(r.logProbBefore)).c_str());
    double s = 0;
    for (double v : r.tokenLogProbBefore) s += v;
    QCOMPARE(s, r.logProbBefore);
    QCOMPARE(r.original, cap_->caption(image_, {}).caption);
    QCOMPARE(r.masker, std::string("blur"));
  }

  // Conditional captioning: both captions continue the prompt; the caption before masking is the
  // captioner's own caption with that prompt, and the masked one equals captioning the masked
  // image (the result's maskedImage, what the model saw) with the same prompt.
  void promptIsKept() {
    CaptionOptions o;
    o.prompt = "a picture of";
    MaskSpec mask;
    mask.rects = {{0, 0, image_.width, image_.height / 2}};
    mask.masker = explain::MaskerKind::Constant;
    const RegenerateResult r = maskAndRegenerate(*cap_, image_, mask, o);
    const CaptionResult withPrompt = cap_->caption(image_, o);
    QCOMPARE(r.original, withPrompt.caption);
    QCOMPARE(r.originalIds, withPrompt.ids);
    QVERIFY(r.original.rfind("a picture of", 0) == 0);
    QVERIFY(r.masked.rfind("a picture of", 0) == 0);
    QVERIFY(r.original != cap_->caption(image_, {}).caption);  // the prompt does change the output
  }

  // A constant mask over the whole image = captioning an image of that colour.
  void constantEverywhere() {
    MaskSpec mask;
    mask.rects = {{-10, -10, image_.width + 20, image_.height + 20}};
    const RegenerateResult r = maskAndRegenerate(*cap_, image_, mask, {});
    io::ImageU8 flat = image_;
    for (size_t i = 0; i < flat.rgb.size(); i += 3) flat.rgb[i] = 123, flat.rgb[i + 1] = 117, flat.rgb[i + 2] = 104;
    QCOMPARE(r.masked, cap_->caption(flat, {}).caption);
    QCOMPARE(r.rects[0], (PixelRect{0, 0, image_.width, image_.height}));
  }

  // Auto-mask with patch removal drops exactly the top k % patches of the explanation's map.
  void autoMask() {
    AutoMaskSpec spec;
    spec.percent = 25;
    spec.explain.token = 1;
    spec.masker = explain::MaskerKind::PatchRemoval;
    const RegenerateResult r = autoMaskAndRegenerate(*cap_, image_, spec, {}, clip_.get());
    QVERIFY(r.explanation.has_value());
    const auto top = explain::topPercentPatches(r.explanation->maps[0].normalized, 25);
    QCOMPARE(r.removedPatches, top);
    const int n = r.explanation->geometry->numPatches();
    QCOMPARE(int(top.size()), (n + 3) / 4);
    QVERIFY(r.clipBefore.has_value() && r.clipAfter.has_value());
    spec.masker = explain::MaskerKind::Constant;
    const RegenerateResult c = autoMaskAndRegenerate(*cap_, image_, spec, {});
    QCOMPARE(c.rects.size(), top.size());
  }

  void badInput() {
    MaskSpec mask;
    mask.rects = {{image_.width + 5, 0, 10, 10}};
    VLM_EXPECT_ERROR(maskAndRegenerate(*cap_, image_, mask, {}), ErrorCode::InvalidArgument, "outside the");
    mask.rects = {{0, 0, 0, 10}};
    VLM_EXPECT_ERROR(maskAndRegenerate(*cap_, image_, mask, {}), ErrorCode::InvalidArgument, "empty");
    AutoMaskSpec spec;
    spec.percent = 0;
    VLM_EXPECT_ERROR(autoMaskAndRegenerate(*cap_, image_, spec, {}), ErrorCode::InvalidArgument, "(0, 100]");
  }
};

QTEST_GUILESS_MAIN(TestCounterfactual)
#include "test_counterfactual.moc"
