// VLM_TEST_LABELS: model
// `vlmscope vqa` and the VQA `dump` end to end on the fixture checkpoint
// (tests/data/blip-vqa-tiny): answers equal the Hugging Face references, the dump equals the
// reference tensors, and wrong folders / missing options fail with one clear line.
#include "cli_helpers.h"

#include <nlohmann/json.hpp>

#include <fstream>

#include "io/safetensors.h"

using namespace vlm;
using namespace vlm::test;
using nlohmann::json;


class TestCliVqa : public QObject {
  Q_OBJECT
  json ref_;
  QString model_ = qs(dataPath("blip-vqa-tiny"));
  std::filesystem::path tmp_;

  QString image(const std::string& file) { return qs(dataPath("images/" + file)); }

  nlohmann::ordered_json vqaJson(const QStringList& extra) {
    const CliResult r = runCli(QStringList{"vqa", "--model", model_, "--json", "--ignore-exif"} + extra);
    if (r.exitCode != 0 || r.crashed) {
      qWarning("%s", r.err.c_str());
      return {};
    }
    return nlohmann::ordered_json::parse(r.out);
  }

  QString dump(const QStringList& extra, const std::string& name) {
    const auto out = tmp_ / name;
    const CliResult r = runCli(QStringList{"dump", "--model", model_, "--ignore-exif", "--out", qs(out)} + extra);
    if (r.exitCode != 0) qWarning("%s", r.err.c_str());
    return r.exitCode == 0 ? qs(out) : QString();
  }

 private Q_SLOTS:
  void initTestCase() {
    std::ifstream in(dataPath("blip-vqa-tiny/reference.json"));
    ref_ = json::parse(in);
    tmp_ = std::filesystem::temp_directory_path() / ("vlm_cli_vqa_" + std::to_string(::getpid()));
    std::filesystem::create_directories(tmp_);
  }
  void cleanupTestCase() { std::filesystem::remove_all(tmp_); }

  void greedyAnswerOfEveryImage() {
    // every image, the two questions in turn (one process each; the parity test covers every pair)
    size_t i = 0;
    for (auto it = ref_["images"].begin(); it != ref_["images"].end(); ++it, ++i) {
      const auto& answers = it.value()["answers"];
      {
        const json& a = answers[i % answers.size()];
        const std::string q = a["question"].get<std::string>();
        const nlohmann::ordered_json out = vqaJson({"--image", image(it.key()), "--question", QString::fromStdString(q)});
        QVERIFY2(out.is_object(), (it.key() + ": " + q).c_str());
        std::vector<std::string> keys;
        for (auto k = out.begin(); k != out.end(); ++k) keys.push_back(k.key());
        QCOMPARE(keys, (std::vector<std::string>{"image", "question", "answer", "ids", "tokens"}));
        QCOMPARE(out["image"].get<std::string>(), image(it.key()).toStdString());
        QCOMPARE(out["question"].get<std::string>(), q);
        QCOMPARE(out["ids"].get<std::vector<int64_t>>(), a["greedy_ids"].get<std::vector<int64_t>>());
        QCOMPARE(out["answer"].get<std::string>(), a["greedy_text"].get<std::string>());
        QCOMPARE(out["tokens"].size(), out["ids"].size());
        QCOMPARE(out["tokens"][0].get<std::string>(), std::string("[DEC]"));
      }
    }
  }

  void beamsAndPlainOutput() {
    // camera / question 1: beam search and greedy differ
    const json& b = ref_["images"]["camera.png"]["answers"][1];
    const auto out = vqaJson({"--image", image("camera.png"), "--question", QString::fromStdString(b["question"].get<std::string>()), "--beams", "3"});
    QCOMPARE(out["ids"].get<std::vector<int64_t>>(), b["beam3_ids"].get<std::vector<int64_t>>());
    QCOMPARE(out["answer"].get<std::string>(), b["beam3_text"].get<std::string>());
    QVERIFY(out["sequence_score"].get<double>() < 0);
    const json& a = ref_["images"]["coffee.png"]["answers"][0];
    const CliResult r = runCli({"vqa", "--model", model_, "--image", image("coffee.png"), "--question",
                                QString::fromStdString(a["question"].get<std::string>())});
    QVERIFY2(r.exitCode == 0, r.err.c_str());
    QCOMPARE(r.out, a["greedy_text"].get<std::string>() + "\n");
    // max_length counts [DEC]: two ids at most
    const auto shortOut = vqaJson({"--image", image("logo.png"), "--question", "what is in the picture?", "--max-length", "2"});
    QCOMPARE(shortOut["ids"].size(), size_t(2));
  }

  void dumpEqualsReference() {
    const json& a = ref_["images"]["chelsea.png"]["answers"][0];
    const QString q = QString::fromStdString(a["question"].get<std::string>());
    const QString file = dump({"--image", image("chelsea.png"), "--question", q}, "chelsea.safetensors");
    QVERIFY(!file.isEmpty());
    auto d = io::SafetensorsFile::open(file.toStdString());
    auto ref = io::SafetensorsFile::open(dataPath("blip-vqa-tiny/reference.safetensors"));
    auto refName = [](const std::string& name) -> std::string {
      if (name == "question/input_ids") return "question/0/input_ids";
      if (name == "answer_ids") return "chelsea/q0/answer_ids_greedy";
      if (name == "pixel_values" || name.rfind("vision/", 0) == 0) return "chelsea/" + name;
      return "chelsea/q0/" + name;
    };
    int compared = 0;
    for (const auto& t : d->tensors()) {
      const std::string r = refName(t.name);
      QVERIFY2(ref->find(r), ("no reference for " + t.name).c_str());
      const at::Tensor x = d->tensor(t), e = ref->tensor(r);
      if (t.name == "pixel_values" || e.scalar_type() == at::kLong) QVERIFY2(x.equal(e), t.name.c_str());
      else VLM_COMPARE_TENSORS(x, e, 1e-4, 0, t.name);
      ++compared;
    }
    // pixel_values, 3 hidden states, post_layernorm, question ids, question_embeds, answer ids,
    // tf_logits, tf_next_token_logprob, tf_top5_ids, tf_top5_logits
    QCOMPARE(compared, 1 + 3 + 1 + 1 + 1 + 1 + 4);
    QVERIFY(d->find("tf_logits"));

    // teacher forcing on given ids (here the greedy answer of the other question)
    const json& other = ref_["images"]["chelsea.png"]["answers"][1];
    QString ids;
    for (const auto& id : other["greedy_ids"]) ids += (ids.isEmpty() ? "" : ",") + QString::number(id.get<int64_t>());
    const QString file2 = dump({"--image", image("chelsea.png"), "--question", QString::fromStdString(other["question"].get<std::string>()),
                                "--answer-ids", ids},
                               "chelsea_q1.safetensors");
    QVERIFY(!file2.isEmpty());
    auto d2 = io::SafetensorsFile::open(file2.toStdString());
    QVERIFY(d2->tensor("answer_ids").equal(ref->tensor("chelsea/q1/answer_ids_greedy")));
    VLM_COMPARE_TENSORS(d2->tensor("tf_logits"), ref->tensor("chelsea/q1/tf_logits"), 1e-4, 0, "q1 tf_logits");
    VLM_COMPARE_TENSORS(d2->tensor("tf_next_token_logprob"), ref->tensor("chelsea/q1/tf_next_token_logprob"), 1e-4, 0, "q1 logprob");
  }

  void benchRuns() {
    const CliResult r = runCli({"bench", "vqa", "--model", model_, "--image", image("coffee.png"), "--runs", "1", "--json"});
    QVERIFY2(r.exitCode == 0, r.err.c_str());
    const json j = json::parse(r.out);
    for (const char* k : {"load_s", "first_answer_s", "vision_s", "question_s", "decode_s", "answer_s", "vision_gflops", "gemm_gflops",
                          "vision_vs_gemm", "answer_vs_vision"})
      QVERIFY2(j[k].get<double>() > 0, k);
    QCOMPARE(j["answer"].get<std::string>(), ref_["images"]["coffee.png"]["answers"][0]["greedy_text"].get<std::string>());
    QVERIFY(j["answer_s"].get<double>() >= j["vision_s"].get<double>() + j["question_s"].get<double>());
  }

  void wrongFoldersAndOptions() {
    const QString img = image("astronaut.png");
    VLM_EXPECT_CLEAN_FAILURE((QStringList{"vqa", "--model", qs(dataPath("clip-tiny")), "--image", img, "--question", "what?"}), 1,
                             "CLIP image-text model", "vlmscope vqa", "similarity");
    VLM_EXPECT_CLEAN_FAILURE((QStringList{"vqa", "--model", qs(dataPath("blip-caption-tiny")), "--image", img, "--question", "what?"}), 1,
                             "BLIP image captioning model", "vlmscope vqa", "caption, dump");
    VLM_EXPECT_CLEAN_FAILURE((QStringList{"vqa", "--model", model_, "--image", img}), 2, "--question");
    VLM_EXPECT_CLEAN_FAILURE((QStringList{"vqa", "--model", model_, "--question", "what?", img}), 2, "--image");
    VLM_EXPECT_CLEAN_FAILURE((QStringList{"vqa", "--model", model_, "--image", qs(tmp_ / "missing.png"), "--question", "what?"}), 1,
                             "missing.png");
    const QString out = qs(tmp_ / "never.safetensors");
    VLM_EXPECT_CLEAN_FAILURE((QStringList{"dump", "--model", model_, "--image", img, "--out", out}), 2, "--question");
    VLM_EXPECT_CLEAN_FAILURE((QStringList{"dump", "--model", model_, "--image", img, "--question", "what?", "--ids", "30522,1", "--out", out}), 2,
                             "--ids", "--answer-ids");
    VLM_EXPECT_CLEAN_FAILURE((QStringList{"dump", "--model", model_, "--image", img, "--question", "what?", "--answer-ids", "30522,99999", "--out", out}),
                             1, "99999", "vocabulary");
    VLM_EXPECT_CLEAN_FAILURE((QStringList{"dump", "--model", qs(dataPath("blip-caption-tiny")), "--image", img, "--question", "what?", "--out", out}), 2,
                             "--question", "captioning");
    VLM_EXPECT_CLEAN_FAILURE((QStringList{"dump", "--model", qs(dataPath("clip-tiny")), "--image", img, "--question", "what?", "--out", out}), 2,
                             "--question", "CLIP model");
    QVERIFY(!std::filesystem::exists(tmp_ / "never.safetensors"));
  }
};

QTEST_GUILESS_MAIN(TestCliVqa)
#include "test_cli_vqa.moc"
