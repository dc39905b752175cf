// VLM_TEST_LABELS: fast
// The CLIP tokenizer against Hugging Face transformers 4.43's slow CLIPTokenizer
// (tests/data/tokenizers/clip_vectors.json): every field of every case on the ftfy path and the
// no-ftfy (BasicTokenizer) path, the decode cases, the clip-tiny checkpoint folder and its
// CLIPProcessor ids, tokenizer.json-only folders, configuration, truncation / padding, threads,
// and errors for missing or corrupt files.
#include "testing.h"

#include <climits>
#include <fstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "text/clip_tokenizer.h"
#include "tokenizer_testing.h"

using namespace vlm;
using namespace vlm::test;
using namespace vlm::text;
namespace fs = std::filesystem;

namespace {

std::string readText(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Scratch folders: <temp>/vlm_clip_tok_<name>.
constexpr const char* kTempPrefix = "vlm_clip_tok_";

fs::path clipDir() { return test::dataPath("tokenizers/clip"); }

}  // namespace

class TestClipTokenizer : public QObject {
  Q_OBJECT

  json vectors_;
  std::optional<ClipTokenizer> ftfy_, basic_;

  // Every ftfy-path field of every case; returns the failures.
  QStringList checkFtfyPath(const ClipTokenizer& tok, int& checked, int& passed) const {
    QStringList failures;
    auto check = [&](bool ok, std::size_t i, const std::string& text, const std::string& field, const std::string& got,
                     const std::string& want) {
      ++checked;
      if (ok) {
        ++passed;
        return;
      }
      failures << QString::fromStdString("case " + std::to_string(i) + " '" + text + "' " + field + ": got " + got +
                                         ", want " + want);
    };
    const json& cases = vectors_.at("cases");
    for (std::size_t i = 0; i < cases.size(); ++i) {
      const json& c = cases[i];
      const std::string text = c.at("text");
      const auto tokens = tok.tokenize(text);
      const auto wantTokens = c.at("tokens").get<std::vector<std::string>>();
      check(tokens == wantTokens, i, text, "tokens", show(tokens), show(wantTokens));
      const auto inputIds = tok.encode(text);
      check(inputIds == ids(c.at("input_ids")), i, text, "input_ids", show(inputIds), show(ids(c.at("input_ids"))));
      const ClipBatchEncoding e = tok.encodeBatch({text}, ClipPadding::MaxLength, 77);
      check(e.ids.size() == 1 && e.ids[0] == ids(c.at("max_length_77_input_ids")), i, text, "max_length_77_input_ids",
            show(e.ids.at(0)), show(ids(c.at("max_length_77_input_ids"))));
      check(e.attentionMask.size() == 1 && e.attentionMask[0] == ids(c.at("max_length_77_attention_mask")), i, text,
            "max_length_77_attention_mask", show(e.attentionMask.at(0)), show(ids(c.at("max_length_77_attention_mask"))));
      const auto wantIds = ids(c.at("input_ids"));
      const std::string full = tok.decode(wantIds, false);
      check(full == c.at("decode").get<std::string>(), i, text, "decode", "'" + full + "'", "'" + c.at("decode").get<std::string>() + "'");
      const std::string skip = tok.decode(wantIds, true);
      check(skip == c.at("decode_skip_special").get<std::string>(), i, text, "decode_skip_special", "'" + skip + "'",
            "'" + c.at("decode_skip_special").get<std::string>() + "'");
    }
    return failures;
  }

 private Q_SLOTS:
  void initTestCase() {
    vectors_ = readJsonFile(test::dataPath("tokenizers/clip_vectors.json"));
    QCOMPARE(vectors_.at("cases").size(), std::size_t(194));
    QCOMPARE(vectors_.at("decode_cases").size(), std::size_t(18));
    ftfy_.emplace(ClipTokenizer::fromFolder(clipDir()));
    basic_.emplace(ClipTokenizer::fromFolder(clipDir(), ClipTextCleaning::Basic));
  }

  // ---- the reference vectors -------------------------------------------------------------

  void referenceVectorsFtfyPath() {
    int checked = 0, passed = 0;
    const QStringList failures = checkFtfyPath(*ftfy_, checked, passed);
    for (const QString& f : failures.mid(0, 20)) qWarning("%s", qPrintable(f));
    qInfo("clip_vectors.json, ftfy path: %d of %d checks pass (194 cases x tokens, input_ids, max_length_77 ids + mask, "
          "decode, decode_skip_special)", passed, checked);
    QCOMPARE(checked, 194 * 6);
    QCOMPARE(passed, checked);
  }

  void referenceVectorsBasicPath() {
    int checked = 0, passed = 0;
    QStringList failures;
    for (const json& c : vectors_.at("cases")) {
      const std::string text = c.at("text");
      const auto tokens = basic_->tokenize(text);
      const auto want = c.at("noftfy_tokens").get<std::vector<std::string>>();
      ++checked;
      if (tokens == want) {
        ++passed;
      } else {
        failures << QString::fromStdString("'" + text + "' noftfy_tokens: got " + show(tokens) + ", want " + show(want));
      }
      const auto got = basic_->encode(text);
      ++checked;
      if (got == ids(c.at("noftfy_input_ids"))) {
        ++passed;
      } else {
        failures << QString::fromStdString("'" + text + "' noftfy_input_ids: got " + show(got));
      }
    }
    for (const QString& f : failures.mid(0, 20)) qWarning("%s", qPrintable(f));
    qInfo("clip_vectors.json, basic (no ftfy) path: %d of %d checks pass (noftfy_tokens, noftfy_input_ids)", passed, checked);
    QCOMPARE(checked, 194 * 2);
    QCOMPARE(passed, checked);
  }

  void referenceDecodeCases() {
    int checked = 0, passed = 0;
    const json& cases = vectors_.at("decode_cases");
    for (std::size_t i = 0; i < cases.size(); ++i) {
      checked += 3;
      const std::string mismatch = decodeCaseMismatch(*ftfy_, cases[i]);
      QVERIFY2(mismatch.empty(), ("decode case " + std::to_string(i) + " " + mismatch).c_str());
      passed += 3;
    }
    qInfo("clip_vectors.json decode_cases: %d of %d checks pass (tokens, decode, decode_skip_special)", passed, checked);
    QCOMPARE(checked, 18 * 3);
  }

  // ---- the checkpoint folder -----------------------------------------------------------------

  void clipTinyFolderAndProcessorIds() {
    const fs::path dir = test::dataPath("clip-tiny");
    QVERIFY(ClipTokenizer::isClipTokenizerFolder(dir));
    QVERIFY(!ClipTokenizer::isClipTokenizerFolder(test::dataPath("blip-caption-tiny")));
    QVERIFY(!ClipTokenizer::isClipTokenizerFolder(test::dataPath("no-such-folder")));
    const ClipTokenizer tok = ClipTokenizer::fromFolder(dir);
    QCOMPARE(tok.bosId(), int64_t(49406));
    QCOMPARE(tok.eosId(), int64_t(49407));
    QCOMPARE(tok.padId(), int64_t(49407));
    QCOMPARE(tok.unkId(), int64_t(49407));
    QCOMPARE(tok.vocabSize(), std::size_t(49408));
    QCOMPARE(tok.modelMaxLength(), 77);
    QCOMPARE(tok.textCleaning(), ClipTextCleaning::Ftfy);
    QCOMPARE(tok.tokenToId("<|startoftext|>"), int64_t(49406));
    QCOMPARE(tok.tokenToId("cat</w>"), int64_t(2368));
    QCOMPARE(tok.tokenToId("no-such-token"), tok.unkId());
    QVERIFY(tok.isSpecial(49406) && tok.isSpecial(49407) && !tok.isSpecial(320));
    QCOMPARE(tok.addedTokens().size(), std::size_t(2));

    // CLIPProcessor(text=texts, padding=True): padded to the longest with the pad id.
    const json ref = readJsonFile(dir / "reference.json");
    const auto texts = ref.at("texts").get<std::vector<std::string>>();
    const ClipBatchEncoding e = tok.encodeBatch(texts);
    QCOMPARE(e.ids, ref.at("input_ids").get<std::vector<std::vector<int64_t>>>());
    QCOMPARE(e.attentionMask, ref.at("attention_mask").get<std::vector<std::vector<int64_t>>>());
  }

  void tokenizerJsonOnlyFolder() {
    // tokenizer.json with the model's vocab and merges, in both merge spellings.
    const json vocab = json::parse(readText(clipDir() / "vocab.json"));
    std::vector<std::string> mergeLines;
    {
      std::istringstream in(readText(clipDir() / "merges.txt"));
      std::string line;
      std::getline(in, line);  // #version
      while (std::getline(in, line))
        if (!line.empty()) mergeLines.push_back(line);
    }
    QCOMPARE(mergeLines.size(), std::size_t(48894));
    for (bool pairs : {false, true}) {
      json merges = json::array();
      for (const std::string& m : mergeLines) {
        if (pairs) {
          const auto space = m.find(' ');
          merges.push_back(json::array({m.substr(0, space), m.substr(space + 1)}));
        } else {
          merges.push_back(m);
        }
      }
      json tj = {{"version", "1.0"},
                 {"added_tokens",
                  json::array({{{"id", 49406}, {"content", "<|startoftext|>"}, {"special", true}},
                               {{"id", 49407}, {"content", "<|endoftext|>"}, {"special", true}}})},
                 {"model",
                  {{"type", "BPE"}, {"vocab", vocab}, {"merges", merges}, {"end_of_word_suffix", "</w>"},
                   {"continuing_subword_prefix", ""}}}};
      TempDir dir(kTempPrefix, pairs ? "tj_pairs" : "tj_strings");
      dir.write("tokenizer.json", tj.dump());
      dir.write("config.json", R"({"model_type": "clip"})");
      QVERIFY(ClipTokenizer::isClipTokenizerFolder(dir.path));
      const ClipTokenizer tok = ClipTokenizer::fromFolder(dir.path);
      QCOMPARE(tok.vocabSize(), std::size_t(49408));
      for (const json& c : vectors_.at("cases")) {
        const std::string text = c.at("text");
        QVERIFY2(tok.encode(text) == ids(c.at("input_ids")), text.c_str());
      }
    }
  }

  void specialTokensComeFromTheFolderNotFromConstants() {
    // A vocabulary where the special tokens have other ids, and a config that renames them.
    std::vector<std::pair<std::string, int64_t>> vocab = {
        {"<s>", 0}, {"</s>", 1}, {"<pad>", 2}, {"a</w>", 3}, {"c", 4}, {"a", 5}, {"t</w>", 6}, {"ca", 7}, {"cat</w>", 8}};
    std::vector<std::pair<std::string, std::string>> merges = {{"c", "a"}, {"ca", "t</w>"}};
    ClipTokenizerConfig cfg;
    cfg.bosToken = "<s>", cfg.eosToken = "</s>", cfg.unkToken = "</s>", cfg.padToken = "<pad>";
    cfg.modelMaxLength = 5;
    const ClipTokenizer tok(vocab, merges, cfg);
    QCOMPARE(tok.bosId(), int64_t(0));
    QCOMPARE(tok.eosId(), int64_t(1));
    QCOMPARE(tok.padId(), int64_t(2));
    QCOMPARE(tok.tokenize("A cat"), (std::vector<std::string>{"a</w>", "cat</w>"}));
    QCOMPARE(tok.encode("A cat"), (std::vector<int64_t>{0, 3, 8, 1}));
    QCOMPARE(tok.encode("dog"), (std::vector<int64_t>{0, 1, 1, 1, 1}));  // unknown symbols -> unk id
    const ClipBatchEncoding e = tok.encodeBatch({"a", "a cat cat cat"});
    QCOMPARE(e.ids, (std::vector<std::vector<int64_t>>{{0, 3, 1, 2, 2}, {0, 3, 8, 8, 1}}));
    QCOMPARE(e.attentionMask, (std::vector<std::vector<int64_t>>{{1, 1, 1, 0, 0}, {1, 1, 1, 1, 1}}));
    QCOMPARE(tok.decode({0, 3, 8, 1}), std::string("<s>a cat </s>"));
    QCOMPARE(tok.decode({0, 3, 8, 1, 2}, true), std::string("a cat"));
    // The openai "<|endoftext|>" is an ordinary piece here: split by the pattern, then BPE'd.
    QCOMPARE(tok.tokenize("<s>a</s>"), (std::vector<std::string>{"<s>", "a</w>", "</s>"}));

    // From a folder: tokenizer_config.json's special tokens, special_tokens_map.json overriding
    // them when there is no added_tokens_decoder.
    TempDir dir(kTempPrefix, "special");
    dir.write("vocab.json", R"({"<s>": 0, "</s>": 1, "<pad>": 2, "a</w>": 3, "c": 4, "a": 5, "t</w>": 6, "ca": 7, "cat</w>": 8})");
    dir.write("merges.txt", "#version: 0.2\nc a\nca t</w>\n");
    dir.write("tokenizer_config.json", R"({"bos_token": "<pad>", "eos_token": "</s>", "unk_token": "</s>", "pad_token": "<pad>",
                                           "model_max_length": 1e30, "tokenizer_class": "CLIPTokenizer"})");
    dir.write("special_tokens_map.json", R"({"bos_token": {"content": "<s>", "lstrip": false}})");
    QVERIFY(ClipTokenizer::isClipTokenizerFolder(dir.path));
    const ClipTokenizer fromFolder = ClipTokenizer::fromFolder(dir.path);
    QCOMPARE(fromFolder.bosId(), int64_t(0));
    QCOMPARE(fromFolder.padId(), int64_t(2));
    QCOMPARE(fromFolder.modelMaxLength(), INT_MAX);
    QCOMPARE(fromFolder.encode("a cat"), (std::vector<int64_t>{0, 3, 8, 1}));
  }

  void truncationKeepsBosAndEos() {
    std::string longText;
    for (int i = 0; i < 100; ++i) longText += "cat ";
    const auto full = ftfy_->encode(longText);
    QCOMPARE(full.size(), std::size_t(102));
    const auto cut = ftfy_->encode(longText, true, 77);
    QCOMPARE(cut.size(), std::size_t(77));
    QCOMPARE(cut.front(), ftfy_->bosId());
    QCOMPARE(cut.back(), ftfy_->eosId());
    QCOMPARE(std::vector<int64_t>(cut.begin(), cut.end() - 1), std::vector<int64_t>(full.begin(), full.begin() + 76));
    QCOMPARE(ftfy_->encode(longText, false, 10).size(), std::size_t(10));
    // No room for any text token: transformers does not truncate.
    QCOMPARE(ftfy_->encode("a cat", true, 2), (std::vector<int64_t>{49406, 320, 2368, 49407}));
    QCOMPARE(ftfy_->encode("a cat", true, 3), (std::vector<int64_t>{49406, 320, 49407}));
    QCOMPARE(expectError([&] { ftfy_->encode("a", true, -1); }).code(), ErrorCode::InvalidArgument);
    // Batch: rows truncated to maxLength (default model_max_length), padded to the longest.
    const ClipBatchEncoding e = ftfy_->encodeBatch({longText, "a cat"});
    QCOMPARE(e.ids[0].size(), std::size_t(77));
    QCOMPARE(e.ids[1].size(), std::size_t(77));
    QCOMPARE(e.attentionMask[1][3], int64_t(1));
    QCOMPARE(e.attentionMask[1][4], int64_t(0));
    QCOMPARE(e.ids[1][4], ftfy_->padId());
    QCOMPARE(ftfy_->encodeBatch({"a cat"}, ClipPadding::MaxLength, 8).ids[0],
             (std::vector<int64_t>{49406, 320, 2368, 49407, 49407, 49407, 49407, 49407}));
    QVERIFY(ftfy_->encodeBatch({}).ids.empty());
  }

  void cleaningPathsAndPatternDetails() {
    // Values checked with transformers' slow tokenizer code on Python 3.11 + ftfy 6.1.1 + regex.
    QCOMPARE(ftfy_->cleanText("  A  cafÃ©\tnaïve  &amp; ﬁne  "), std::string("a café naïve & fine"));
    QCOMPARE(basic_->cleanText("  A  cafÃ©\tnaïve  &amp; ﬁne  "), std::string("a cafã© naïve &amp; ﬁne"));
    QCOMPARE(basic_->cleanText("一只猫"), std::string("一 只 猫"));
    // Added tokens are cut out of the raw text; a spelled-out one reaches the pattern, whose first
    // alternatives keep it whole (the slow tokenizer's BPE cache maps it to itself).
    QCOMPARE(ftfy_->tokenize("a<|endoftext|>b"), (std::vector<std::string>{"a</w>", "<|endoftext|>", "b</w>"}));
    QCOMPARE(ftfy_->encode("<|STARTOFTEXT|>"), (std::vector<int64_t>{49406, 49406, 49407}));
    QCOMPARE(ftfy_->encode("&lt;|endoftext|&gt;"), (std::vector<int64_t>{49406, 49407, 49407}));
    // IGNORECASE: U+017F LONG S matches the 's of "'s"; U+0345 matches no alternative at all.
    QCOMPARE(ftfy_->tokenize("it'ſ"), (std::vector<std::string>{"it</w>", "'", "Å", "¿</w>"}));
    QCOMPARE(ftfy_->tokenize("\u0345is"), (std::vector<std::string>{"is</w>"}));
    QCOMPARE(ftfy_->tokenize("don't"), (std::vector<std::string>{"don</w>", "'t</w>"}));
    // Invalid UTF-8 is decoded as U+FFFD, which ftfy keeps and BasicTokenizer drops.
    QCOMPARE(ftfy_->tokenize("a\xff"), (std::vector<std::string>{"a</w>", "ï¿½</w>"}));
    QCOMPARE(basic_->tokenize("a\xff"), (std::vector<std::string>{"a</w>"}));
    QCOMPARE(parseClipTextCleaning("ftfy"), std::optional<ClipTextCleaning>(ClipTextCleaning::Ftfy));
    QCOMPARE(parseClipTextCleaning("basic"), std::optional<ClipTextCleaning>(ClipTextCleaning::Basic));
    QVERIFY(!parseClipTextCleaning("nfc"));
  }

  void decodeEdgeCases() {
    QCOMPARE(ftfy_->decode({}), std::string());
    QCOMPARE(ftfy_->idToToken(123456789), std::string("<|endoftext|>"));
    const Error e = expectError([&] { ftfy_->decode({320, 123456789}); });
    QCOMPARE(e.code(), ErrorCode::InvalidArgument);
    QVERIFY(std::string(e.what()).find("123456789") != std::string::npos);
    // Round trip of ordinary text through the ftfy path.
    QCOMPARE(ftfy_->decode(ftfy_->encode("Two dogs, playing in the snow!"), true), std::string("two dogs, playing in the snow!"));
  }

  void copiesAndThreads() {
    const ClipTokenizer copy = *ftfy_;  // NOLINT(performance-unnecessary-copy-initialization)
    std::vector<std::string> texts;
    for (const json& c : vectors_.at("cases")) texts.push_back(c.at("text"));
    std::vector<std::vector<int64_t>> serial;
    for (const std::string& t : texts) serial.push_back(copy.encode(t));
    std::vector<std::vector<std::vector<int64_t>>> results(4);
    std::vector<std::thread> threads;
    for (std::size_t k = 0; k < results.size(); ++k)
      threads.emplace_back([&, k] {
        for (const std::string& t : texts) results[k].push_back(copy.encode(t));
      });
    for (std::thread& t : threads) t.join();
    for (const auto& r : results) QCOMPARE(r, serial);
  }

  // ---- errors --------------------------------------------------------------------------------

  void missingFilesNameTheFile() {
    {
      TempDir dir(kTempPrefix, "empty");
      const Error e = expectError([&] { ClipTokenizer::fromFolder(dir.path); });
      QCOMPARE(e.code(), ErrorCode::NotFound);
      QVERIFY(std::string(e.what()).find("vocab.json") != std::string::npos);
    }
    {
      TempDir dir(kTempPrefix, "no_merges");
      dir.copy(clipDir() / "vocab.json", "vocab.json");
      const Error e = expectError([&] { ClipTokenizer::fromFolder(dir.path); });
      QCOMPARE(e.code(), ErrorCode::NotFound);
      QCOMPARE(fs::path(e.file()).filename().string(), std::string("merges.txt"));
    }
    {
      TempDir dir(kTempPrefix, "no_vocab");
      dir.copy(clipDir() / "merges.txt", "merges.txt");
      const Error e = expectError([&] { ClipTokenizer::fromFolder(dir.path); });
      QCOMPARE(e.code(), ErrorCode::NotFound);
      QCOMPARE(fs::path(e.file()).filename().string(), std::string("vocab.json"));
    }
    QCOMPARE(expectError([&] { ClipTokenizer::fromFolder(test::dataPath("no-such-folder")); }).code(), ErrorCode::NotFound);
  }

  void corruptFilesNameTheFile() {
    const std::string goodMerges = "#version: 0.2\nc a\n";
    struct Case {
      const char* name;
      std::string vocab, merges;
      const char* badFile;
    };
    const std::vector<Case> cases = {
        {"vocab_not_json", "{\"a\": 1,", goodMerges, "vocab.json"},
        {"vocab_not_object", "[1, 2]", goodMerges, "vocab.json"},
        {"vocab_string_id", R"({"a": "1"})", goodMerges, "vocab.json"},
        {"vocab_negative_id", R"({"a": -1})", goodMerges, "vocab.json"},
        {"vocab_empty", "{}", goodMerges, "vocab.json"},
        {"vocab_bad_utf8", "{\"a\xff\": 1}", goodMerges, "vocab.json"},
        {"vocab_empty_file", "", goodMerges, "vocab.json"},
        {"merges_three_fields", R"({"a": 0})", "#version: 0.2\na b c\n", "merges.txt"},
        {"merges_one_field", R"({"a": 0})", "#version: 0.2\nc a\nab\n", "merges.txt"},
        {"merges_bad_utf8", R"({"a": 0})", "#version: 0.2\nc \xff\n", "merges.txt"},
    };
    for (const Case& c : cases) {
      TempDir dir(kTempPrefix, c.name);
      dir.write("vocab.json", c.vocab);
      dir.write("merges.txt", c.merges);
      const Error e = expectError([&] { ClipTokenizer::fromFolder(dir.path); });
      QVERIFY2(e.code() == ErrorCode::Corrupt, (std::string(c.name) + ": " + e.what()).c_str());
      QVERIFY2(fs::path(e.file()).filename() == c.badFile, (std::string(c.name) + ": file '" + e.file() + "'").c_str());
      QVERIFY2(std::string(e.what()).find(c.badFile) != std::string::npos, c.name);
    }
    {
      TempDir dir(kTempPrefix, "tj_wordpiece");
      dir.write("tokenizer.json", R"({"model": {"type": "WordPiece", "vocab": {"a": 0}}})");
      const Error e = expectError([&] { ClipTokenizer::fromFolder(dir.path); });
      QCOMPARE(e.code(), ErrorCode::Unsupported);
      QCOMPARE(fs::path(e.file()).filename().string(), std::string("tokenizer.json"));
    }
    {
      TempDir dir(kTempPrefix, "tj_bad_merge");
      dir.write("tokenizer.json", R"({"model": {"type": "BPE", "end_of_word_suffix": "</w>", "vocab": {"a": 0}, "merges": [["a"]]}})");
      const Error e = expectError([&] { ClipTokenizer::fromFolder(dir.path); });
      QCOMPARE(e.code(), ErrorCode::Corrupt);
      QCOMPARE(fs::path(e.file()).filename().string(), std::string("tokenizer.json"));
    }
    {
      TempDir dir(kTempPrefix, "config_errors");
      dir.copy(clipDir() / "vocab.json", "vocab.json");
      dir.copy(clipDir() / "merges.txt", "merges.txt");
      dir.write("tokenizer_config.json", R"({"errors": "strict"})");
      const Error e = expectError([&] { ClipTokenizer::fromFolder(dir.path); });
      QCOMPARE(e.code(), ErrorCode::Unsupported);
      QCOMPARE(fs::path(e.file()).filename().string(), std::string("tokenizer_config.json"));
      dir.write("tokenizer_config.json", "{not json");
      QCOMPARE(expectError([&] { ClipTokenizer::fromFolder(dir.path); }).code(), ErrorCode::Corrupt);
    }
  }
};

QTEST_GUILESS_MAIN(TestClipTokenizer)
#include "test_clip_tokenizer.moc"
