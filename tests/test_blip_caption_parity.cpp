// VLM_TEST_LABELS: model
// BLIP captioning against the Hugging Face transformers references of the tiny fixture
// checkpoint (tests/data/blip-caption-tiny): vision hidden states, attentions, image embeds,
// teacher-forced logits, every generation variant, and the Grad-CAM tensors.
#include "testing.h"
#include "json_testing.h"

#include <nlohmann/json.hpp>

#include <fstream>

#include "io/safetensors.h"
#include "models/blip/blip_caption.h"
#include "models/blip/blip_dump.h"
#include "models/nn.h"

using namespace vlm;
using namespace vlm::models;

namespace {



std::vector<int64_t> idsOf(const nlohmann::json& j) { return j.get<std::vector<int64_t>>(); }

at::Tensor idsTensor(const std::vector<int64_t>& ids) {
  return at::tensor(ids, at::TensorOptions().dtype(at::kLong)).unsqueeze(0);
}

}  // namespace

class TestBlipCaptionParity : public QObject {
  Q_OBJECT
  std::filesystem::path dir_ = test::dataPath("blip-caption-tiny");
  LoadedBlipCaption loaded_;
  std::shared_ptr<io::SafetensorsFile> ref_;
  nlohmann::json json_;

 private Q_SLOTS:
  void initTestCase() {
    loaded_ = loadBlipCaption(dir_);
    ref_ = io::SafetensorsFile::open(dir_ / "reference.safetensors");
    json_ = test::readJsonFile(dir_ / "reference.json");
    QVERIFY(loaded_.report.unusedKeys.empty());
  }

  void visionTower_data() {
    QTest::addColumn<QString>("image");
    for (auto it = json_["images"].begin(); it != json_["images"].end(); ++it)
      QTest::newRow(it.key().c_str()) << QString::fromStdString(test::fileStem(it.key()));
  }
  void visionTower() {
    QFETCH(QString, image);
    const std::string img = image.toStdString();
    torch::NoGradGuard ng;
    ActivationRecorder rec;
    const at::Tensor pixels = ref_->tensor(img + "/pixel_values").unsqueeze(0);
    const at::Tensor embeds = loaded_.model->encodeImage(pixels, &rec);
    const int64_t layers = loaded_.model->config.vision.numHiddenLayers;
    for (int64_t k = 0; k <= layers; ++k) {
      const std::string name = k == 0 ? "vision.embeddings" : "vision.layers." + std::to_string(k - 1) + ".out";
      VLM_COMPARE_TENSORS(rec.get(name)[0], ref_->tensor(img + "/vision/hidden_states/" + std::to_string(k)), 1e-4, 0, img + " hidden_states " + std::to_string(k));
    }
    for (int64_t k = 0; k < layers; ++k)
      VLM_COMPARE_TENSORS(rec.get("vision.layers." + std::to_string(k) + ".attn.probs")[0], ref_->tensor(img + "/vision/attentions/" + std::to_string(k)), 1e-4, 0, img + " attentions");
    VLM_COMPARE_TENSORS(embeds[0], ref_->tensor(img + "/vision/post_layernorm"), 1e-4, 0, img + " post_layernorm");
    VLM_COMPARE_TENSORS(rec.get("vision.pooler")[0], ref_->tensor(img + "/vision/pooler_output"), 1e-4, 0, img + " pooler_output");
  }

  void teacherForcing_data() { visionTower_data(); }
  void teacherForcing() {
    QFETCH(QString, image);
    const std::string img = image.toStdString();
    torch::NoGradGuard ng;
    const at::Tensor embeds = loaded_.model->encodeImage(ref_->tensor(img + "/pixel_values").unsqueeze(0));
    const auto& tf = json_["teacher_forcing"];
    for (const std::string variant : {"tf_bos", "tf_bos_prompt", "tf_cls"}) {
      const std::string key = variant == "tf_bos" ? "ids_bos" : variant == "tf_bos_prompt" ? "ids_bos_prompt" : "ids_cls";
      const auto ids = idsOf(tf[key]);
      const at::Tensor logits = loaded_.model->decode(embeds, idsTensor(ids))[0];  // [T, V]
      const std::string p = img + "/" + variant + "/";
      if (ref_->find(p + "logits")) VLM_COMPARE_TENSORS(logits, ref_->tensor(p + "logits"), 1e-4, 0, p + "logits");
      const at::Tensor logp = at::log_softmax(logits, -1);
      std::vector<float> next;
      for (size_t i = 0; i + 1 < ids.size(); ++i) next.push_back(logp[i][ids[i + 1]].item<float>());
      VLM_COMPARE_TENSORS(at::tensor(next), ref_->tensor(p + "next_token_logprob"), 1e-4, 0, p + "next_token_logprob");
      auto [vals, idx] = at::topk(logits, 5, -1);
      VLM_COMPARE_TENSORS(vals, ref_->tensor(p + "top5_logits"), 1e-4, 0, p + "top5_logits");
      QVERIFY2(idx.equal(ref_->tensor(p + "top5_ids")), (p + "top5_ids differ").c_str());
    }
  }

  void generation_data() {
    QTest::addColumn<QString>("image");
    QTest::addColumn<QString>("variant");
    for (auto it = json_["images"].begin(); it != json_["images"].end(); ++it)
      for (auto v = it.value()["generate"].begin(); v != it.value()["generate"].end(); ++v)
        QTest::newRow((it.key() + " " + v.key()).c_str()) << QString::fromStdString(it.key()) << QString::fromStdString(v.key());
  }
  void generation() {
    QFETCH(QString, image);
    QFETCH(QString, variant);
    const std::string file = image.toStdString(), var = variant.toStdString();
    const auto& expected = json_["images"][file]["generate"][var];
    torch::NoGradGuard ng;
    const at::Tensor embeds = loaded_.model->encodeImage(ref_->tensor(test::fileStem(file) + "/pixel_values").unsqueeze(0));
    const auto& kw = var == "greedy_prompt" ? nlohmann::json{{"max_length", 20}} : json_["generation_variants"][var];
    GenerationOptions o;
    o.maxLength = kw.value("max_length", 20);
    o.minLength = kw.value("min_length", 0);
    o.numBeams = kw.value("num_beams", 1);
    o.repetitionPenalty = kw.value("repetition_penalty", 1.0);
    o.noRepeatNgramSize = kw.value("no_repeat_ngram_size", 0);
    std::vector<int64_t> prompt = blipCaptionPrompt(loaded_.model->config, {});
    if (var == "greedy_prompt") prompt = blipCaptionPrompt(loaded_.model->config, idsOf(expected["prompt_input_ids"]));
    BlipCaptionStepDecoder dec(loaded_.model, embeds);
    const auto& tc = loaded_.model->config.text;
    const GenerationResult r = generate(dec, prompt, tc.sepTokenId, o);
    const auto want = idsOf(expected["ids"]);
    QCOMPARE(r.ids, want);
    QVERIFY2(at::tensor(r.ids).equal(ref_->tensor(test::fileStem(file) + "/generate/" + var)), "reference.safetensors ids");
    if (expected.contains("sequences_score")) {
      const double s = expected["sequences_score"].get<double>();
      QVERIFY2(std::abs(r.sequenceScore - s) < 1e-5, (std::to_string(r.sequenceScore) + " vs " + std::to_string(s)).c_str());
    }
  }

  void gradcam_data() { visionTower_data(); }
  void gradcam() {
    QFETCH(QString, image);
    const std::string img = image.toStdString();
    const auto& g = json_["images"][img == "exif_rot6" ? "exif_rot6.jpg" : img + ".png"]["gradcam"];
    const auto ids = idsOf(g["ids"]);
    const int64_t t = g["t"].get<int64_t>();
    const NamedTensors dump = dumpBlipCaption(*loaded_.model, ref_->tensor(img + "/pixel_values").unsqueeze(0), ids, t);
    int compared = 0;
    for (const auto& [name, tensor] : dump) {
      const std::string refName = img + "/" + name;
      if (name.rfind("gradcam/", 0) != 0 || !ref_->find(refName)) continue;
      if (name == "gradcam/ids") {
        QVERIFY(tensor.equal(ref_->tensor(refName)));
      } else {
        VLM_COMPARE_TENSORS(tensor, ref_->tensor(refName), 1e-4, 1e-3, refName);
      }
      ++compared;
    }
    const int64_t lv = loaded_.model->config.vision.numHiddenLayers, lt = loaded_.model->config.text.numHiddenLayers;
    QCOMPARE(compared, int(5 + 2 * lv + 2 * lt));  // ids, Y, logits, dYd_post_layernorm, dYd_pixel_values + per layer
    QVERIFY(std::abs(dump[0].second.numel()) > 0);
  }
};

QTEST_GUILESS_MAIN(TestBlipCaptionParity)
#include "test_blip_caption_parity.moc"
