// VLM_TEST_LABELS: model
// make-random-model writes a full-size BLIP-base checkpoint in the Hugging Face layout that
// the whole tool chain accepts: caption, dump and bench run on it.
#include "cli_helpers.h"

#include <nlohmann/json.hpp>

#include "io/safetensors.h"
#include "models/blip/blip_caption.h"
#include "models/clip/clip_config.h"
#include "models/clip/clip_model.h"

using namespace vlm;
using namespace vlm::test;
namespace fs = std::filesystem;

class TestRandomModel : public QObject {
  Q_OBJECT
  fs::path dir_;
  QString image_ = qs(dataPath("images/coffee.png"));

 private Q_SLOTS:
  void initTestCase() {
    dir_ = fs::temp_directory_path() / ("vlm_random_base_" + std::to_string(::getpid()));
    const CliResult r = runCli({"make-random-model", "--like", "Salesforce/blip-image-captioning-base", "--out", qs(dir_), "--seed", "7"});
    QVERIFY2(r.exitCode == 0, r.err.c_str());
  }
  void cleanupTestCase() { fs::remove_all(dir_); }

  void checkpointHasTheRealLayout() {
    for (const char* f : {"config.json", "model.safetensors", "preprocessor_config.json", "vocab.txt", "tokenizer_config.json",
                          "special_tokens_map.json", "README.md"})
      QVERIFY2(fs::exists(dir_ / f), f);
    // BLIP-base sizes, as the hub config.json describes them (written out by hand)
    const models::BlipConfig c = models::loadBlipConfig(dir_ / "config.json");
    QCOMPARE(c.vision.hiddenSize, 768);
    QCOMPARE(c.vision.numHiddenLayers, 12);
    QCOMPARE(c.vision.imageSize, 384);
    QCOMPARE(c.text.numAttentionHeads, 12);
    QCOMPARE(c.text.vocabSize, 30524);
    auto f = io::SafetensorsFile::open(dir_ / "model.safetensors");
    const auto specs = models::blipCaptionCheckpointTensors(c);
    QCOMPARE(f->tensors().size(), specs.size());
    int64_t params = 0;
    for (const auto& s : specs) {
      const auto* t = f->find(s.name);
      QVERIFY2(t && t->shape == s.shape, s.name.c_str());
      params += t->numel();
    }
    QVERIFY2(params > 220'000'000 && params < 260'000'000, std::to_string(params).c_str());  // ~247 M incl. LM head
    // random but not degenerate: a weight matrix has std ~0.02, a LayerNorm weight is 1
    QVERIFY(std::abs(f->tensor("vision_model.encoder.layers.3.mlp.fc1.weight").std().item<double>() - 0.02) < 1e-3);
    QVERIFY(f->tensor("text_decoder.bert.embeddings.LayerNorm.weight").eq(1).all().item<bool>());
  }

  void sameSeedSameWeights() {
    const fs::path other = dir_.string() + "_again";
    QVERIFY(runCli({"make-random-model", "--like", "blip-image-captioning-base", "--out", qs(other), "--seed", "7"}).exitCode == 0);
    auto a = io::SafetensorsFile::open(dir_ / "model.safetensors");
    auto b = io::SafetensorsFile::open(other / "model.safetensors");
    QVERIFY(a->tensor("text_decoder.cls.predictions.decoder.weight").equal(b->tensor("text_decoder.cls.predictions.decoder.weight")));
    a.reset();
    b.reset();
    fs::remove_all(other);
  }

  void captionDumpAndBenchRun() {
    CliResult r = runCli({"caption", "--model", qs(dir_), image_, "--json"});
    QVERIFY2(r.exitCode == 0, r.err.c_str());
    const auto cap = nlohmann::json::parse(r.out)[0];
    QCOMPARE(cap["ids"][0].get<int64_t>(), int64_t(30522));
    QVERIFY(cap["ids"].size() >= 2 && cap["ids"].size() <= 20);

    const fs::path dump = dir_ / "dump.safetensors";
    r = runCli({"dump", "--model", qs(dir_), "--image", image_, "--out", qs(dump), "--target-pos", "1"});
    QVERIFY2(r.exitCode == 0, r.err.c_str());
    auto d = io::SafetensorsFile::open(dump);
    QCOMPARE(d->find("vision/hidden_states/12")->shape, (std::vector<int64_t>{577, 768}));
    QCOMPARE(d->find("gradcam/dYd_pixel_values")->shape, (std::vector<int64_t>{3, 384, 384}));
    QCOMPARE(d->find("gradcam/xattn_grad/11")->shape[0], int64_t(12));
    QVERIFY(d->tensor("gradcam/dYd_pixel_values").abs().sum().item<double>() > 0);  // gradients reached the pixels

    r = runCli({"bench", "caption", "--model", qs(dir_), "--image", image_, "--runs", "1", "--tokens", "5", "--json"});
    QVERIFY2(r.exitCode == 0, r.err.c_str());
    const auto b = nlohmann::json::parse(r.out);
    for (const char* k : {"load_s", "preprocess_s", "vision_s", "caption_s", "tokens_generated", "vision_gflops", "threads", "dtype", "peak_rss_mb"})
      QVERIFY2(b.contains(k), k);
    QCOMPARE(b["tokens_generated"].get<int>(), 5);
    QVERIFY(b["caption_s"].get<double>() >= b["vision_s"].get<double>());
  }

  // openai/clip-vit-base-patch32's architecture: the checkpoint has exactly the CLIPModel keys,
  // and similarity, dump and bench run on it.
  void clipPreset() {
    const fs::path dir = dir_.string() + "_clip";
    CliResult r = runCli({"make-random-model", "--like", "openai/clip-vit-base-patch32", "--out", qs(dir), "--seed", "3"});
    QVERIFY2(r.exitCode == 0, r.err.c_str());
    const models::ClipConfig c = models::loadClipConfig(dir / "config.json");
    // the hub config.json's values, written out by hand
    QCOMPARE(c.vision.hiddenSize, 768);
    QCOMPARE(c.vision.patchSize, 32);
    QCOMPARE(c.vision.imageSize, 224);
    QCOMPARE(c.text.hiddenSize, 512);
    QCOMPARE(c.text.numAttentionHeads, 8);
    QCOMPARE(c.text.eosTokenId, 2);
    QCOMPARE(c.projectionDim, 512);
    QCOMPARE(c.vision.hiddenAct, std::string("quick_gelu"));
    {
      auto f = io::SafetensorsFile::open(dir / "model.safetensors");
      const auto specs = models::clipCheckpointTensors(c);
      QCOMPARE(f->tensors().size(), specs.size());
      int64_t params = 0;
      for (const auto& s : specs) {
        const auto* t = f->find(s.name);
        QVERIFY2(t && t->shape == s.shape, s.name.c_str());
        params += t->numel();
      }
      QVERIFY2(params > 150'000'000 && params < 152'000'000, std::to_string(params).c_str());  // 151.3 M
      QVERIFY(std::abs(f->tensor("logit_scale").item<double>() - std::log(100.0)) < 1e-6);
    }
    r = runCli({"similarity", "--model", qs(dir), "--image", image_, "--text", "a cup of coffee", "--text", "a dog", "--json"});
    QVERIFY2(r.exitCode == 0, r.err.c_str());
    const auto s = nlohmann::json::parse(r.out);
    for (size_t i = 0; i < 2; ++i) {
      const double cosv = s["cosine"][i].get<double>();
      QVERIFY(cosv >= -1 && cosv <= 1);
      QVERIFY(std::abs(s["logits_per_image"][i].get<double>() - 100.0 * cosv) < 1e-3);
    }
    r = runCli({"bench", "similarity", "--model", qs(dir), "--image", image_, "--runs", "1", "--json"});
    QVERIFY2(r.exitCode == 0, r.err.c_str());
    const auto b = nlohmann::json::parse(r.out);
    for (const char* k : {"gemm_gflops", "load_s", "vision_s", "text_s", "total_s", "vision_gflops", "vision_vs_gemm"}) QVERIFY2(b.contains(k), k);
    QVERIFY(b["total_s"].get<double>() >= b["vision_s"].get<double>());
    fs::remove_all(dir);
  }
};

QTEST_GUILESS_MAIN(TestRandomModel)
#include "test_random_model.moc"
