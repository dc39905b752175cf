// VLM_TEST_LABELS: model
// `vlmscope similarity` and the CLIP `dump` end to end on the fixture checkpoint: scores and
// every dumped tensor equal the Hugging Face references (texts tokenized by VLMScope itself).
#include "cli_helpers.h"
#include "json_testing.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <fstream>

#include "io/safetensors.h"

using namespace vlm;
using namespace vlm::test;
using nlohmann::json;

class TestCliSimilarity : public QObject {
  Q_OBJECT
  json ref_;
  std::shared_ptr<io::SafetensorsFile> tensors_;
  QString model_ = qs(dataPath("clip-tiny"));
  QStringList texts_;
  std::filesystem::path tmp_;


 private Q_SLOTS:
  void initTestCase() {
    std::ifstream in(dataPath("clip-tiny/reference.json"));
    ref_ = json::parse(in);
    tensors_ = io::SafetensorsFile::open(dataPath("clip-tiny/reference.safetensors"));
    for (const auto& t : ref_["texts"]) texts_ << "--text" << QString::fromStdString(t.get<std::string>());
    tmp_ = std::filesystem::temp_directory_path() / ("vlm_cli_similarity_" + std::to_string(::getpid()));
    std::filesystem::create_directories(tmp_);
  }
  void cleanupTestCase() { std::filesystem::remove_all(tmp_); }

  void scoresOfEveryImage_data() {
    QTest::addColumn<QString>("image");
    for (auto it = ref_["images"].begin(); it != ref_["images"].end(); ++it) QTest::newRow(it.key().c_str()) << QString::fromStdString(it.key());
  }
  void scoresOfEveryImage() {
    QFETCH(QString, image);
    const std::string name = image.toStdString();
    const CliResult r = runCli(QStringList{"similarity", "--model", model_, "--image", qs(dataPath("images/" + name)), "--json", "--ignore-exif"} + texts_);
    QVERIFY2(r.exitCode == 0 && !r.crashed, r.err.c_str());
    const json out = json::parse(r.out);
    QCOMPARE(out["texts"], ref_["texts"]);
    QCOMPARE(out["image"].get<std::string>(), dataPath("images/" + name).string());
    const auto logits = out["logits_per_image"].get<std::vector<double>>();
    const auto want = ref_["images"][name]["logits_per_image"].get<std::vector<double>>();
    const auto cosine = out["cosine"].get<std::vector<double>>();
    const auto probs = out["probs"].get<std::vector<double>>();
    QCOMPARE(logits.size(), want.size());
    // cosine against the reference embeddings' dot products; probs = softmax(logits)
    const at::Tensor img = tensors_->tensor(test::fileStem(name) + "/image_embeds"), txt = tensors_->tensor("text/text_embeds");
    double z = 0, sum = 0;
    for (double l : logits) z += std::exp(l - logits[0]);
    for (size_t i = 0; i < want.size(); ++i) {
      QVERIFY2(std::abs(logits[i] - want[i]) < 1e-4, (std::to_string(logits[i]) + " vs " + std::to_string(want[i])).c_str());
      QVERIFY(std::abs(cosine[i] - (img * txt[i]).sum().item<double>()) < 1e-5);
      QVERIFY(std::abs(probs[i] - std::exp(logits[i] - logits[0]) / z) < 1e-6);
      sum += probs[i];
    }
    QVERIFY(std::abs(sum - 1) < 1e-6);  // softmax in float32
    QVERIFY(std::abs(cosine[0] - ref_["images"][name]["cos"].get<double>()) < 1e-5);
  }

  void readableOutput() {
    const CliResult r = runCli({"similarity", "--model", model_, "--image", qs(dataPath("images/coffee.png")), "--text", "a cup", "--text", "a cat"});
    QVERIFY2(r.exitCode == 0, r.err.c_str());
    QCOMPARE(std::count(r.out.begin(), r.out.end(), '\n'), 3);  // header + one line per text
    QVERIFY(r.out.find("a cup") != std::string::npos);
  }

  // Every tensor `dump` writes equals the reference (texts and pixels computed by VLMScope).
  void dumpEqualsReference_data() { scoresOfEveryImage_data(); }
  void dumpEqualsReference() {
    QFETCH(QString, image);
    const std::string name = image.toStdString(), img = test::fileStem(name);
    const auto out = tmp_ / (img + ".safetensors");
    const CliResult r = runCli(QStringList{"dump", "--model", model_, "--image", qs(dataPath("images/" + name)), "--ignore-exif", "--out",
                                           qs(out), "--grad-text", QString::number(ref_["grad_text"].get<int>())} + texts_);
    QVERIFY2(r.exitCode == 0 && !r.crashed, r.err.c_str());
    const auto dump = io::SafetensorsFile::open(out);
    int compared = 0;
    for (const auto& info : dump->tensors()) {
      const std::string shared = info.name.rfind("text/", 0) == 0 || info.name == "logit_scale" ? info.name : img + "/" + info.name;
      QVERIFY2(tensors_->find(shared), ("no reference for " + shared).c_str());
      const at::Tensor expected = tensors_->tensor(shared), actual = dump->tensor(info.name);
      QCOMPARE(actual.scalar_type(), expected.scalar_type());
      const bool grad = info.name.rfind("grad/", 0) == 0 && info.name != "grad/cos";
      VLM_COMPARE_TENSORS(actual, expected, 1e-4, grad ? 1e-3 : 0, shared);
      ++compared;
    }
    // every reference tensor of this image and of the texts has its counterpart
    int expected = 0;
    for (const auto& info : tensors_->tensors())
      expected += info.name.rfind(img + "/", 0) == 0 || info.name.rfind("text/", 0) == 0 || info.name == "logit_scale";
    QCOMPARE(compared, expected);
  }

  void mistakes() {
    const QString image = qs(dataPath("images/coffee.png"));
    CliResult r = runCli({"similarity", "--model", qs(dataPath("blip-caption-tiny")), "--image", image, "--text", "x"});
    QCOMPARE(r.exitCode, 1);
    QVERIFY2(r.err.find("BLIP image captioning model") != std::string::npos && r.err.find("caption, dump") != std::string::npos, r.err.c_str());
    r = runCli({"similarity", "--model", model_, "--image", image});
    QCOMPARE(r.exitCode, 2);
    QVERIFY2(r.err.find("--text") != std::string::npos, r.err.c_str());
    r = runCli({"dump", "--model", model_, "--image", image, "--text", "x", "--grad-text", "1", "--out", qs(tmp_ / "x.safetensors")});
    QCOMPARE(r.exitCode, 2);
    QVERIFY2(r.err.find("grad-text") != std::string::npos, r.err.c_str());
    r = runCli({"similarity", "--model", model_, "--image", qs(tmp_ / "missing.png"), "--text", "x"});
    QCOMPARE(r.exitCode, 1);
    QVERIFY2(r.err.find("missing.png") != std::string::npos && std::count(r.err.begin(), r.err.end(), '\n') == 1, r.err.c_str());
  }

  // A text longer than the 77 positions is truncated as CLIPProcessor(truncation=True) does
  // (its score equals that of the truncated text) and the user is told.
  void longTextTruncated() {
    QString longText;
    for (int i = 0; i < 100; ++i) longText += "cat ";
    const QString image = qs(dataPath("images/coffee.png"));
    const CliResult a = runCli({"similarity", "--model", model_, "--image", image, "--json", "--text", longText});
    QVERIFY2(a.exitCode == 0, a.err.c_str());
    QVERIFY2(a.err.find("truncated") != std::string::npos, a.err.c_str());
    QString cut;
    for (int i = 0; i < 75; ++i) cut += "cat ";
    const CliResult b = runCli({"similarity", "--model", model_, "--image", image, "--json", "--text", cut});
    QCOMPARE(json::parse(a.out)["cosine"], json::parse(b.out)["cosine"]);
  }
};

QTEST_GUILESS_MAIN(TestCliSimilarity)
#include "test_cli_similarity.moc"
