// VLM_TEST_LABELS: model
// The command line end to end on the fixture checkpoint: captions (greedy, beam, prompt) and
// the dump equal the Hugging Face references; tokenize equals the tokenizer vectors.
#include "cli_helpers.h"

#include <nlohmann/json.hpp>

#include <fstream>

#include "io/safetensors.h"

using namespace vlm;
using namespace vlm::test;
using nlohmann::json;

class TestCliCaption : public QObject {
  Q_OBJECT
  json ref_;
  QString model_ = qs(dataPath("blip-caption-tiny"));

  json captionJson(const QStringList& extra) {
    const CliResult r = runCli(QStringList{"caption", "--model", model_, "--json"} + extra);
    if (r.exitCode != 0 || r.crashed) {
      qWarning("%s", r.err.c_str());
      return json();
    }
    return json::parse(r.out);
  }

 private Q_SLOTS:
  void initTestCase() {
    std::ifstream in(dataPath("blip-caption-tiny/reference.json"));
    ref_ = json::parse(in);
  }

  void greedyCaptionsOfEveryImage() {
    QStringList images{"--ignore-exif"};  // the references were made from the stored pixels
    std::vector<std::string> names;
    for (auto it = ref_["images"].begin(); it != ref_["images"].end(); ++it) {
      images << qs(dataPath("images/" + it.key()));
      names.push_back(it.key());
    }
    const json out = captionJson(images);
    QCOMPARE(out.size(), names.size());
    for (size_t i = 0; i < names.size(); ++i) {
      const json& want = ref_["images"][names[i]]["generate"]["greedy"];
      QCOMPARE(out[i]["ids"].get<std::vector<int64_t>>(), want["ids"].get<std::vector<int64_t>>());
      QCOMPARE(out[i]["caption"].get<std::string>(), want["text"].get<std::string>());
      QCOMPARE(out[i]["tokens"].size(), out[i]["ids"].size());
      QCOMPARE(out[i]["tokens"][0].get<std::string>(), std::string("[DEC]"));
    }
  }

  void decodingOptions() {
    const QString img = qs(dataPath("images/astronaut.png"));
    const json& gen = ref_["images"]["astronaut.png"]["generate"];
    json out = captionJson({img, "--beams", "3"});
    QCOMPARE(out[0]["ids"], gen["beam3"]["ids"]);
    QVERIFY(std::abs(out[0]["sequence_score"].get<double>() - gen["beam3"]["sequences_score"].get<double>()) < 1e-5);
    out = captionJson({img, "--beams", "3", "--no-repeat-ngram", "3", "--repetition-penalty", "1.5"});
    QCOMPARE(out[0]["ids"], gen["beam3_ngram3_rep1.5"]["ids"]);
    out = captionJson({img, "--min-length", "10"});
    QCOMPARE(out[0]["ids"], gen["greedy_min10"]["ids"]);
    out = captionJson({img, "--repetition-penalty", "1.5", "--no-repeat-ngram", "2"});
    QCOMPARE(out[0]["ids"], gen["greedy_rep1.5_ngram2"]["ids"]);
    out = captionJson({img, "--prompt", QString::fromStdString(ref_["prompt"].get<std::string>())});
    QCOMPARE(out[0]["ids"], gen["greedy_prompt"]["ids"]);
    QCOMPARE(out[0]["caption"], gen["greedy_prompt"]["text"]);
  }

  void exifIsAppliedUnlessIgnored() {
    // exif_rot6.jpg is stored 90x60 with Orientation 6: with EXIF applied the model sees the
    // rotated picture (transformers' load_image), so the caption differs from the stored one.
    const QString img = qs(dataPath("images/exif_rot6.jpg"));
    const json stored = captionJson({img, "--ignore-exif"});
    const json rotated = captionJson({img});
    QCOMPARE(stored[0]["ids"], ref_["images"]["exif_rot6.jpg"]["generate"]["greedy"]["ids"]);
    QVERIFY(rotated[0]["ids"] != stored[0]["ids"]);
  }

  void dumpEqualsReference() {
    const auto tmp = std::filesystem::temp_directory_path() / "vlm_dump_test.safetensors";
    const json& g = ref_["images"]["chelsea.png"]["gradcam"];
    QString ids;
    for (auto id : g["ids"]) ids += (ids.isEmpty() ? "" : ",") + QString::number(id.get<int64_t>());
    const CliResult r = runCli({"dump", "--model", model_, "--image", qs(dataPath("images/chelsea.png")), "--ids", ids,
                                "--target-pos", QString::number(g["t"].get<int>()), "--out", qs(tmp)});
    QVERIFY2(r.exitCode == 0, r.err.c_str());
    auto dump = io::SafetensorsFile::open(tmp);
    auto ref = io::SafetensorsFile::open(dataPath("blip-caption-tiny/reference.safetensors"));
    int compared = 0;
    for (const auto& t : dump->tensors()) {
      const std::string refName = "chelsea/" + t.name;
      if (!ref->find(refName)) continue;
      const at::Tensor a = dump->tensor(t), e = ref->tensor(refName);
      if (t.name == "pixel_values" || t.name == "gradcam/ids") QVERIFY2(a.equal(e), t.name.c_str());
      else if (t.name.rfind("gradcam/", 0) == 0) VLM_COMPARE_TENSORS(a, e, 1e-4, 1e-3, t.name);
      else VLM_COMPARE_TENSORS(a, e, 1e-4, 0, t.name);
      ++compared;
    }
    // pixel_values, 3 hidden states, 2 attentions, post_layernorm, pooler, ids/Y/logits,
    // A and dYdA x2, dYd_post_layernorm, dYd_pixel_values, xattn and xattn_grad x2
    QCOMPARE(compared, 1 + 3 + 2 + 1 + 1 + 3 + 4 + 1 + 1 + 4);
    QVERIFY(dump->find("text/logits"));
    std::filesystem::remove(tmp);
  }

  void binCheckpointGivesIdenticalResults() {
    // the same weights as pytorch_model.bin (what the real captioning-base ships)
    QStringList args{"--ignore-exif", "--beams", "3"};
    for (auto it = ref_["images"].begin(); it != ref_["images"].end(); ++it) args << qs(dataPath("images/" + it.key()));
    const CliResult a = runCli(QStringList{"caption", "--json", "--model", model_} + args);
    const CliResult b = runCli(QStringList{"caption", "--json", "--model", qs(dataPath("blip-caption-tiny-bin"))} + args);
    QVERIFY2(a.exitCode == 0 && b.exitCode == 0, (a.err + b.err).c_str());
    QCOMPARE(b.out, a.out);
    const auto tmp = std::filesystem::temp_directory_path();
    for (const auto& [m, f] : {std::pair{model_, tmp / "vlm_dump_st.safetensors"}, std::pair{qs(dataPath("blip-caption-tiny-bin")), tmp / "vlm_dump_bin.safetensors"}}) {
      const CliResult r = runCli({"dump", "--model", m, "--image", qs(dataPath("images/logo.png")), "--target-pos", "2", "--out", qs(f)});
      QVERIFY2(r.exitCode == 0, r.err.c_str());
    }
    auto st = io::SafetensorsFile::open(tmp / "vlm_dump_st.safetensors");
    auto bin = io::SafetensorsFile::open(tmp / "vlm_dump_bin.safetensors");
    QCOMPARE(bin->tensors().size(), st->tensors().size());
    for (const auto& t : st->tensors()) QVERIFY2(bin->tensor(t.name).equal(st->tensor(t)), t.name.c_str());
  }

  void tokenizeMatchesTheTokenizerVectors() {
    std::ifstream in(dataPath("tokenizers/bert_vectors.json"));
    const json vectors = json::parse(in);
    QByteArray input;
    std::vector<std::vector<int64_t>> want;
    for (const auto& c : vectors["cases"]) {
      input += QByteArray::fromStdString(json(c["text"]).dump()) + "\n";
      want.push_back(c["input_ids"].get<std::vector<int64_t>>());
    }
    const CliResult r = runCli({"tokenize", "--model", model_}, input);
    QVERIFY2(r.exitCode == 0, r.err.c_str());
    std::istringstream lines(r.out);
    std::string line;
    size_t i = 0;
    while (std::getline(lines, line)) {
      QVERIFY(i < want.size());
      QCOMPARE(json::parse(line)["ids"].get<std::vector<int64_t>>(), want[i]);
      ++i;
    }
    QCOMPARE(i, want.size());
  }
};

QTEST_GUILESS_MAIN(TestCliCaption)
#include "test_cli_caption.moc"
