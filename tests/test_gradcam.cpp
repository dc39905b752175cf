// VLM_TEST_LABELS: model
// Grad-CAM family (core/explain/gradcam.h): the formulas by hand on tiny tensors, the maps
// VLMScope computes from its own forward/backward against the same formulas applied to the
// Hugging Face reference tensors (tests/data/blip-caption-tiny gradcam/*, tests/data/clip-tiny
// grad/*), all tokens at once == one token at a time, and bad input.
#include "testing.h"
#include "error_testing.h"
#include "json_testing.h"

#include <nlohmann/json.hpp>

#include "explain/gradcam.h"
#include "explain/target.h"
#include "io/safetensors.h"
#include "models/blip/blip_caption.h"
#include "models/blip/blip_vqa.h"
#include "models/clip/clip_model.h"

using namespace vlm;
using namespace vlm::explain;

namespace {

at::Tensor t2(std::vector<std::vector<float>> rows) {
  std::vector<at::Tensor> r;
  for (auto& row : rows) r.push_back(at::tensor(row));
  return at::stack(r);
}

const CamMethod kMethods[] = {CamMethod::GradCam, CamMethod::HiResCam, CamMethod::GradTimesActivation};

}  // namespace

class TestGradcam : public QObject {
  Q_OBJECT
  std::filesystem::path dir_ = test::dataPath("blip-caption-tiny");
  models::LoadedBlipCaption blip_;
  std::shared_ptr<io::SafetensorsFile> ref_;
  nlohmann::json json_;

  std::string stem(const std::string& file) const { return test::fileStem(file); }
  std::vector<int64_t> idsOf(const std::string& file) const { return json_["images"][file]["gradcam"]["ids"].get<std::vector<int64_t>>(); }
  at::Tensor pixelsOf(const std::string& file) const { return ref_->tensor(stem(file) + "/pixel_values").unsqueeze(0); }

 private Q_SLOTS:
  void initTestCase() {
    blip_ = models::loadBlipCaption(dir_);
    ref_ = io::SafetensorsFile::open(dir_ / "reference.safetensors");
    json_ = test::readJsonFile(dir_ / "reference.json");
  }

  // (c) The formulas on a hand-computed example: C = 2, a 2x2 grid (+ a CLS row that must be
  // ignored).
  //   A patches: p0 [1,0]  p1 [0,1]  p2 [2,1]  p3 [1,3]
  //   G patches: p0 [1,-1] p1 [1,1]  p2 [2,0]  p3 [0,-2]
  //   weights = mean over patches of G = [(1+1+2+0)/4, (-1+1+0-2)/4] = [1, -0.5]
  //   GradCAM  = ReLU([1, -0.5, 2-0.5, 1-1.5]) = [1, 0, 1.5, 0]
  //   G*A summed over channels = [1+0, 0+1, 4+0, 0-6] = [1, 1, 4, -6]
  //   HiResCAM = ReLU(that) = [1, 1, 4, 0]; Grad x Activation = [1, 1, 4, -6]
  //   normalised: GradCAM / 1.5 = [2/3, 0, 1, 0]; Grad x Act min-max (m+6)/10 = [.7, .7, 1, 0]
  void handComputed() {
    const at::Tensor a = t2({{9, 9}, {1, 0}, {0, 1}, {2, 1}, {1, 3}});
    const at::Tensor g = t2({{100, 100}, {1, -1}, {1, 1}, {2, 0}, {0, -2}});
    const at::Tensor gc = camFromTokens(a, g, CamMethod::GradCam);
    VLM_COMPARE_TENSORS(gc, t2({{1, 0}, {1.5, 0}}), 1e-6, 0, "gradcam");
    VLM_COMPARE_TENSORS(camFromTokens(a, g, CamMethod::HiResCam), t2({{1, 1}, {4, 0}}), 1e-6, 0, "hirescam");
    const at::Tensor gx = camFromTokens(a, g, CamMethod::GradTimesActivation);
    VLM_COMPARE_TENSORS(gx, t2({{1, 1}, {4, -6}}), 1e-6, 0, "gradxact");
    VLM_COMPARE_TENSORS(normalizeMap(gc), t2({{2.f / 3, 0}, {1, 0}}), 1e-6, 0, "normalized gradcam");
    VLM_COMPARE_TENSORS(normalizeMap(gx), t2({{.7f, .7f}, {1, 0}}), 1e-6, 0, "normalized gradxact");
    VLM_COMPARE_TENSORS(normalizeMap(at::zeros({2, 2})), at::zeros({2, 2}), 0, 0, "all-zero stays zero");

    // Cross-attention, H = 2, T = 1, CLS + 4 image tokens, query row 0:
    //   h0: P [.1 .2 .3 .4] * G [1 -1 2 0]  = [.1 -.2 .6 0] -> ReLU [.1 0 .6 0]
    //   h1: P [.4 .3 .2 .1] * G [1  1 -1 1] = [.4 .3 -.2 .1] -> ReLU [.4 .3 0 .1]
    //   mean over heads = [.25 .15 .3 .05]
    const at::Tensor p = t2({{.5f, .1f, .2f, .3f, .4f}, {.5f, .4f, .3f, .2f, .1f}}).unsqueeze(1);
    const at::Tensor pg = t2({{7, 1, -1, 2, 0}, {7, 1, 1, -1, 1}}).unsqueeze(1);
    VLM_COMPARE_TENSORS(crossAttentionCam(p, pg, 0), t2({{.25f, .15f}, {.3f, .05f}}), 1e-6, 0, "cross-attention");
    // The same numbers as one head with two query rows, averaged over the rows (query -1, VQA).
    VLM_COMPARE_TENSORS(crossAttentionCam(p.transpose(0, 1), pg.transpose(0, 1), -1), t2({{.25f, .15f}, {.3f, .05f}}), 1e-6, 0,
                        "cross-attention, every row");

    // Bilinear upsampling: a constant map stays constant; the size is the one asked for.
    const at::Tensor up = upsampleMap(at::full({2, 2}, 3.f), 5, 7);
    VLM_COMPARE_TENSORS(up, at::full({5, 7}, 3.f), 1e-6, 0, "upsampled constant");
    // align_corners = false, 2 -> 4: the first output pixel is the first input value.
    const at::Tensor up2 = upsampleMap(t2({{0, 4}, {0, 4}}), 4, 4);
    VLM_COMPARE_TENSORS(up2[0], at::tensor({0.f, 1.f, 3.f, 4.f}), 1e-6, 0, "upsampled ramp");
  }

  // (a) Acceptance 1: for every image, VLMScope's maps from its own tensors equal the maps
  // computed with the same formulas from the reference A, dY/dA, cross-attention + gradient.
  void referenceMaps_data() {
    QTest::addColumn<QString>("file");
    for (auto it = json_["images"].begin(); it != json_["images"].end(); ++it)
      QTest::newRow(it.key().c_str()) << QString::fromStdString(it.key());
  }
  void referenceMaps() {
    QFETCH(QString, file);
    const std::string f = file.toStdString(), img = stem(f);
    const int64_t t = json_["images"][f]["gradcam"]["t"].get<int64_t>();
    const CaptionTarget target(blip_.model, pixelsOf(f), idsOf(f), TokenSelection::one(t));
    const int64_t lv = blip_.model->config.vision.numHiddenLayers, lt = blip_.model->config.text.numHiddenLayers;
    for (CamMethod m : kMethods) {
      for (int64_t k = 0; k < lv; ++k) {
        const auto maps = explainVision(target, k, m);
        QCOMPARE(maps.size(), size_t(1));
        const std::string what = img + " " + toString(m) + " layer " + std::to_string(k);
        QVERIFY2(std::abs(maps[0].y - ref_->tensor(img + "/gradcam/Y").item<double>()) < 1e-4, (what + " Y").c_str());
        const at::Tensor want = camFromTokens(ref_->tensor(img + "/gradcam/A/" + std::to_string(k)),
                                              ref_->tensor(img + "/gradcam/dYdA/" + std::to_string(k)), m);
        VLM_COMPARE_TENSORS(maps[0].raw, want, 1e-4, 0, what);
        // The normalised map is what is drawn: within 1e-4 too. Not for HiResCAM and
        // Grad x Activation on the last layer: its output only feeds post_layernorm, and a
        // LayerNorm is invariant to scaling its input, so sum_c dY/dA_c * A_c = 0 (up to eps)
        // for every patch, the raw map is rounding noise (|map| ~ 1e-7) and normalising it
        // draws that noise. Asserted as the identity it is instead.
        const bool lastBeforeLn = k == lv - 1 && m != CamMethod::GradCam;
        if (lastBeforeLn) {
          const double scale = (ref_->tensor(img + "/gradcam/A/" + std::to_string(k)).abs() *
                                ref_->tensor(img + "/gradcam/dYdA/" + std::to_string(k)).abs()).sum(1).max().item<double>();
          QVERIFY2(want.abs().max().item<double>() < 1e-4 * scale, (what + ": LayerNorm scale invariance").c_str());
        } else {
          VLM_COMPARE_TENSORS(maps[0].normalized, normalizeMap(want), 1e-4, 0, what + " normalized");
        }
      }
      const auto post = explainVision(target, kPostLayernorm, m);
      const at::Tensor wantPost = camFromTokens(ref_->tensor(img + "/vision/post_layernorm"), ref_->tensor(img + "/gradcam/dYd_post_layernorm"), m);
      VLM_COMPARE_TENSORS(post[0].raw, wantPost, 1e-4, 0, img + " " + toString(m) + " post_layernorm");
      VLM_COMPARE_TENSORS(post[0].normalized, normalizeMap(wantPost), 1e-4, 0, img + " " + toString(m) + " post_layernorm normalized");
    }
    for (int64_t k = 0; k < lt; ++k) {
      const auto maps = explainCrossAttention(target, k);
      const at::Tensor want = crossAttentionCam(ref_->tensor(img + "/gradcam/xattn/" + std::to_string(k)),
                                                ref_->tensor(img + "/gradcam/xattn_grad/" + std::to_string(k)), t - 1);
      VLM_COMPARE_TENSORS(maps[0].raw, want, 1e-4, 0, img + " cross-attention layer " + std::to_string(k));
    }
  }

  // (b) All tokens from one forward pass == each token separately.
  void allTokensEqualsPerToken() {
    for (const std::string f : {"chelsea.png", "astronaut.png"}) {
      const auto ids = idsOf(f);
      const CaptionTarget all(blip_.model, pixelsOf(f), ids, TokenSelection::each());
      const auto layers = explainVisionLayers(all, {0, 1, kPostLayernorm}, CamMethod::GradCam);
      const auto xattn = explainCrossAttention(all, 1);
      QCOMPARE(xattn.size(), ids.size() - 1);
      for (int64_t t = 1; t < int64_t(ids.size()); ++t) {
        const CaptionTarget one(blip_.model, pixelsOf(f), ids, TokenSelection::one(t));
        const std::string what = f + " token " + std::to_string(t);
        const int64_t ls[] = {0, 1, kPostLayernorm};
        for (size_t i = 0; i < 3; ++i) {
          const auto single = explainVision(one, ls[i], CamMethod::GradCam);
          QCOMPARE(layers[i][t - 1].label, single[0].label);
          VLM_COMPARE_TENSORS(layers[i][t - 1].raw, single[0].raw, 1e-6, 0, what + " layer " + std::to_string(ls[i]));
        }
        VLM_COMPARE_TENSORS(xattn[t - 1].raw, explainCrossAttention(one, 1)[0].raw, 1e-6, 0, what + " cross-attention");
      }
      // The whole caption's log-probability is the sum of the token log-probabilities.
      const CaptionTarget whole(blip_.model, pixelsOf(f), ids, TokenSelection::whole());
      double sum = 0;
      for (const auto& m : layers[0]) sum += m.y;
      QVERIFY(std::abs(explainVision(whole, 0)[0].y - sum) < 1e-4);
    }
  }

  // (d) Bad input: one-line InvalidArgument errors naming the problem.
  void badInput() {
    const std::string f = "astronaut.png";
    const auto ids = idsOf(f);
    const int64_t n = int64_t(ids.size());
    const CaptionTarget target(blip_.model, pixelsOf(f), ids, TokenSelection::one(1));
    VLM_EXPECT_ERROR(explainVision(target, 2), ErrorCode::InvalidArgument, "vision layer 2", "0..1");
    VLM_EXPECT_ERROR(explainVision(target, -5), ErrorCode::InvalidArgument, "vision layer -5");
    VLM_EXPECT_ERROR(explainCrossAttention(target, 7), ErrorCode::InvalidArgument, "text layer 7", "0..1");
    VLM_EXPECT_ERROR(CaptionTarget(blip_.model, pixelsOf(f), ids, TokenSelection::one(0)), ErrorCode::InvalidArgument, "token 0", "1.." + std::to_string(n - 1));
    VLM_EXPECT_ERROR(CaptionTarget(blip_.model, pixelsOf(f), ids, TokenSelection::one(n)), ErrorCode::InvalidArgument, "token " + std::to_string(n));
    VLM_EXPECT_ERROR(CaptionTarget(blip_.model, pixelsOf(f), {30522, 99999999}, TokenSelection::one(1)), ErrorCode::InvalidArgument, "99999999", "vocabulary");
    const CaptionTarget whole(blip_.model, pixelsOf(f), ids, TokenSelection::whole());
    VLM_EXPECT_ERROR(explainCrossAttention(whole, 0), ErrorCode::InvalidArgument, "single tokens");
    VLM_EXPECT_ERROR(camFromTokens(at::zeros({4, 2}), at::zeros({4, 2}), CamMethod::GradCam), ErrorCode::InvalidArgument, "square");
  }

  // VQA: the question encoder's cross-attention to the image, averaged over the question
  // tokens, against the formula applied to the probabilities and their gradients taken by a
  // separate Y.backward() with retained gradients; every answer token at once == one at a time.
  void vqaCrossAttention() {
    const auto dir = test::dataPath("blip-vqa-tiny");
    const auto vqa = models::loadBlipVqa(dir);
    const auto ref = io::SafetensorsFile::open(dir / "reference.safetensors");
    const auto j = test::readJsonFile(dir / "reference.json");
    const at::Tensor pixels = ref->tensor("astronaut/pixel_values").unsqueeze(0);
    const auto q = j["question_ids"][0].get<std::vector<int64_t>>();
    const std::vector<int64_t> a{30522, 12639, 2003, 102};
    const int64_t layers = vqa.model->config.text.numHiddenLayers;
    const VqaAnswerTarget each(vqa.model, pixels, q, a, TokenSelection::each());
    for (int64_t k = 0; k < layers; ++k) {
      const auto maps = explainCrossAttention(each, k);
      QCOMPARE(maps.size(), a.size() - 1);
      for (int64_t t = 1; t < int64_t(a.size()); ++t) {
        const VqaAnswerTarget one(vqa.model, pixels, q, a, TokenSelection::one(t));
        const std::string name = "question.layers." + std::to_string(k) + ".crossattn.probs";
        models::ActivationRecorder rec({name}, /*retainGrad=*/true);
        const TargetPass pass = one.run(rec);
        pass.outputs[0].y.backward();
        const at::Tensor probs = rec.get(name)[0], grad = rec.get(name).grad()[0];
        QCOMPARE(probs.size(1), int64_t(q.size()));
        at::Tensor want = at::zeros({probs.size(2) - 1});
        for (int64_t h = 0; h < probs.size(0); ++h)
          for (int64_t r = 0; r < probs.size(1); ++r) want += at::relu(probs[h][r].slice(0, 1) * grad[h][r].slice(0, 1));
        want /= double(probs.size(0) * probs.size(1));
        const int64_t g = int64_t(std::llround(std::sqrt(double(want.size(0)))));
        VLM_COMPARE_TENSORS(maps[t - 1].raw, want.reshape({g, g}), 1e-6, 1e-5, "VQA layer " + std::to_string(k) + " token " + std::to_string(t));
        VLM_COMPARE_TENSORS(maps[t - 1].raw, explainCrossAttention(one, k)[0].raw, 1e-6, 0, "VQA all == one");
      }
    }
    const VqaAnswerTarget whole(vqa.model, pixels, q, a, TokenSelection::whole());
    QCOMPARE(explainCrossAttention(whole, 0).size(), size_t(1));
    VLM_EXPECT_ERROR(explainCrossAttention(whole, layers), ErrorCode::InvalidArgument, "text layer");
  }

  // CLIP: Grad-CAM of the image-text cosine against grad/A/K and grad/dcosdA/K.
  void clipSimilarity() {
    const auto cdir = test::dataPath("clip-tiny");
    const models::LoadedClip clip = models::loadClip(cdir);
    const auto cref = io::SafetensorsFile::open(cdir / "reference.safetensors");
    const nlohmann::json cj = test::readJsonFile(cdir / "reference.json");
    const int64_t gt = cj["grad_text"].get<int64_t>();
    const std::vector<int64_t> text = test::clipTextIds(cj, size_t(gt));
    const int64_t layers = clip.model->config.vision.numHiddenLayers;
    int compared = 0;
    for (auto it = cj["images"].begin(); it != cj["images"].end(); ++it) {
      const std::string img = test::fileStem(it.key());
      if (!cref->find(img + "/grad/A/0")) continue;
      const ClipSimilarityTarget target(clip.model, cref->tensor(img + "/pixel_values").unsqueeze(0), text);
      for (CamMethod m : kMethods)
        for (int64_t k = 0; k < layers; ++k) {
          const auto maps = explainVision(target, k, m);
          QVERIFY(std::abs(maps[0].y - cref->tensor(img + "/grad/cos").item<double>()) < 1e-4);
          const at::Tensor want = camFromTokens(cref->tensor(img + "/grad/A/" + std::to_string(k)),
                                                cref->tensor(img + "/grad/dcosdA/" + std::to_string(k)), m);
          VLM_COMPARE_TENSORS(maps[0].raw, want, 1e-4, 0, img + " CLIP " + toString(m) + " layer " + std::to_string(k));
          ++compared;
        }
      VLM_EXPECT_ERROR(explainVision(target, kPostLayernorm), ErrorCode::InvalidArgument, "post_layernorm");
    }
    QVERIFY(compared > 0);
  }
};

QTEST_GUILESS_MAIN(TestGradcam)
#include "test_gradcam.moc"
