// VLM_TEST_LABELS: model
// `vlmscope tokenize` on a CLIP checkpoint folder (tests/data/clip-tiny): the JSON-lines contract
// of the BLIP tokenizer ({"text", "ids", "tokens"}) with the CLIP tokenizer's ids, both text
// cleaning paths against the slow CLIPTokenizer vectors, and usage errors for --text-cleaning.
#include "cli_helpers.h"
#include "json_testing.h"

#include <nlohmann/json.hpp>

#include <fstream>
#include <sstream>

using namespace vlm;
using namespace vlm::test;
using nlohmann::json;

namespace {


std::vector<json> jsonLines(const std::string& out) {
  std::vector<json> lines;
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);) lines.push_back(json::parse(line));
  return lines;
}

}  // namespace

class TestCliTokenizeClip : public QObject {
  Q_OBJECT
  QString model_ = qs(dataPath("clip-tiny"));

 private Q_SLOTS:
  void argumentsGiveTheProcessorIds() {
    const json ref = test::readJsonFile(dataPath("clip-tiny/reference.json"));
    QStringList args{"tokenize", "--model", model_};
    for (const json& t : ref.at("texts")) args << QString::fromStdString(t.get<std::string>());
    const CliResult r = runCli(args);
    QVERIFY2(r.exitCode == 0 && !r.crashed, r.err.c_str());
    const std::vector<json> lines = jsonLines(r.out);
    QCOMPARE(lines.size(), ref.at("texts").size());
    for (std::size_t i = 0; i < lines.size(); ++i) {
      QCOMPARE(lines[i].at("text"), ref.at("texts")[i]);
      // CLIPProcessor(padding=True) ids without the padding (its attention mask says where).
      std::vector<int64_t> want;
      const json& mask = ref.at("attention_mask")[i];
      for (std::size_t k = 0; k < mask.size(); ++k)
        if (mask[k] == 1) want.push_back(ref.at("input_ids")[i][k].get<int64_t>());
      QCOMPARE(lines[i].at("ids").get<std::vector<int64_t>>(), want);
      QCOMPARE(lines[i].at("tokens").size(), want.size());
      QCOMPARE(lines[i].at("tokens").front().get<std::string>(), std::string("<|startoftext|>"));
      QCOMPARE(lines[i].at("tokens").back().get<std::string>(), std::string("<|endoftext|>"));
    }
    QCOMPARE(lines[0].at("tokens"), json::parse(R"(["<|startoftext|>", "a</w>", "photo</w>", "of</w>", "a</w>", "cat</w>", "<|endoftext|>"])"));
  }

  void stdinMatchesTheTokenizerVectorsOnBothCleaningPaths() {
    const json vectors = test::readJsonFile(dataPath("tokenizers/clip_vectors.json"));
    QByteArray input;
    for (const json& c : vectors.at("cases")) input += QByteArray::fromStdString(json(c.at("text")).dump()) + "\n";
    for (const char* cleaning : {"", "ftfy", "basic"}) {
      QStringList args{"tokenize", "--model", model_};
      if (*cleaning) args << "--text-cleaning" << cleaning;
      const CliResult r = runCli(args, input);
      QVERIFY2(r.exitCode == 0 && !r.crashed, r.err.c_str());
      const std::vector<json> lines = jsonLines(r.out);
      QCOMPARE(lines.size(), vectors.at("cases").size());
      const char* field = std::string(cleaning) == "basic" ? "noftfy_input_ids" : "input_ids";
      for (std::size_t i = 0; i < lines.size(); ++i) {
        const json& c = vectors.at("cases")[i];
        QVERIFY2(lines[i].at("ids") == c.at(field), (std::string(cleaning) + ": " + c.at("text").get<std::string>()).c_str());
        QCOMPARE(lines[i].at("text"), c.at("text"));
      }
    }
  }

  void textCleaningUsageErrors() {
    CliResult r = runCli({"tokenize", "--model", model_, "--text-cleaning", "nfc", "a cat"});
    QCOMPARE(r.exitCode, 2);
    QVERIFY2(r.err.find("--text-cleaning must be ftfy or basic") != std::string::npos, r.err.c_str());
    r = runCli({"tokenize", "--model", qs(dataPath("blip-caption-tiny")), "--text-cleaning", "basic", "a cat"});
    QCOMPARE(r.exitCode, 2);
    QVERIFY2(r.err.find("CLIP tokenizers only") != std::string::npos, r.err.c_str());
    QVERIFY(r.out.empty());
    // Without the option a BLIP folder still gets its WordPiece tokenizer.
    r = runCli({"tokenize", "--model", qs(dataPath("blip-caption-tiny")), "a cat"});
    QCOMPARE(r.exitCode, 0);
    QCOMPARE(json::parse(r.out).at("ids"), json::parse("[101, 1037, 4937, 102]"));
  }
};

QTEST_GUILESS_MAIN(TestCliTokenizeClip)
#include "test_cli_tokenize_clip.moc"
