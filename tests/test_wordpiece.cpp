// VLM_TEST_LABELS: fast
// The BERT WordPiece tokenizer against Hugging Face transformers 4.43's slow BertTokenizer
// (tests/data/tokenizers/bert_vectors.json), the BLIP fixture folder and its generated captions
// (fast and slow decode), tokenizer.json-only folders, errors, and the Unicode helpers against
// values printed by Python 3.11 (unicodedata 14.0).
#include "testing.h"

#include <chrono>
#include <fstream>

#include "common/error.h"
#include "text/unicode.h"
#include "text/wordpiece.h"
#include "tokenizer_testing.h"

using namespace vlm;
using namespace vlm::test;
using namespace vlm::text;
namespace fs = std::filesystem;

namespace {

std::vector<std::string> readLines(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::u32string cps(std::initializer_list<char32_t> l) { return std::u32string(l); }

// Scratch folders: <temp>/vlm_wordpiece_<name>.
constexpr const char* kTempPrefix = "vlm_wordpiece_";

}  // namespace

class TestWordPiece : public QObject {
  Q_OBJECT

  json vectors_;
  json blipReference_;
  std::vector<std::string> vocabLines_;  // bert-base-uncased vocab.txt, read by the test itself
  std::optional<WordPieceTokenizer> bert_;

  // Every field of every bert_vectors.json case; returns the failures (empty when all pass).
  QStringList checkAllCases(const WordPieceTokenizer& tok, int& checked) const {
    QStringList failures;
    auto fail = [&](std::size_t i, const std::string& text, const std::string& field, const std::string& got,
                    const std::string& want) {
      failures << QString::fromStdString("case " + std::to_string(i) + " '" + text + "' " + field + ": got " + got +
                                         ", want " + want);
    };
    const json& cases = vectors_.at("cases");
    for (std::size_t i = 0; i < cases.size(); ++i) {
      const json& c = cases[i];
      const std::string text = c.at("text").get<std::string>();
      const auto tokens = tok.tokenize(text);
      const auto wantTokens = c.at("tokens").get<std::vector<std::string>>();
      if (tokens != wantTokens) fail(i, text, "tokens", show(tokens), show(wantTokens));
      const auto inputIds = tok.encode(text);
      if (inputIds != ids(c.at("input_ids"))) fail(i, text, "input_ids", show(inputIds), show(ids(c.at("input_ids"))));
      const auto wantIds = ids(c.at("input_ids"));
      const std::string skip = tok.decode(wantIds, true);
      if (skip != c.at("decode_skip_special").get<std::string>())
        fail(i, text, "decode_skip_special", "'" + skip + "'", "'" + c.at("decode_skip_special").get<std::string>() + "'");
      const std::string full = tok.decode(wantIds, false);
      if (full != c.at("decode").get<std::string>())
        fail(i, text, "decode", "'" + full + "'", "'" + c.at("decode").get<std::string>() + "'");
      const Encoding e = tok.encodePadded(text, 16);
      if (e.ids != ids(c.at("max_length_16_input_ids")))
        fail(i, text, "max_length_16_input_ids", show(e.ids), show(ids(c.at("max_length_16_input_ids"))));
      if (e.attentionMask != ids(c.at("max_length_16_attention_mask")))
        fail(i, text, "max_length_16_attention_mask", show(e.attentionMask), show(ids(c.at("max_length_16_attention_mask"))));
      checked += 6;
    }
    return failures;
  }

 private Q_SLOTS:
  void initTestCase() {
    vectors_ = readJsonFile(test::dataPath("tokenizers/bert_vectors.json"));
    blipReference_ = readJsonFile(test::dataPath("blip-caption-tiny/reference.json"));
    vocabLines_ = readLines(test::dataPath("tokenizers/bert-base-uncased/vocab.txt"));
    QCOMPARE(vocabLines_.size(), std::size_t(30522));
    bert_.emplace(vocabLines_, BertTokenizerConfig{});
  }

  // ---- the reference vectors -------------------------------------------------------------

  void referenceVectorsAllFields() {
    QCOMPARE(vectors_.at("cases").size(), std::size_t(194));
    int checked = 0;
    const QStringList failures = checkAllCases(*bert_, checked);
    for (const QString& f : failures.mid(0, 20)) qWarning("%s", qPrintable(f));
    QVERIFY2(failures.isEmpty(), qPrintable(QString("%1 of %2 checks failed").arg(failures.size()).arg(checked)));
    QCOMPARE(checked, 194 * 6);
  }

  void referenceDecodeCases() {
    const json& cases = vectors_.at("decode_cases");
    QCOMPARE(cases.size(), std::size_t(17));
    for (std::size_t i = 0; i < cases.size(); ++i) {
      const std::string mismatch = decodeCaseMismatch(*bert_, cases[i]);
      QVERIFY2(mismatch.empty(), ("decode case " + std::to_string(i) + " " + mismatch).c_str());
    }
  }

  void specialIdsAndVocab() {
    const json& s = vectors_.at("special_ids");
    QCOMPARE(bert_->padId(), s.at("[PAD]").get<int64_t>());
    QCOMPARE(bert_->unkId(), s.at("[UNK]").get<int64_t>());
    QCOMPARE(bert_->clsId(), s.at("[CLS]").get<int64_t>());
    QCOMPARE(bert_->sepId(), s.at("[SEP]").get<int64_t>());
    QCOMPARE(bert_->maskId(), s.at("[MASK]").get<int64_t>());
    QCOMPARE(bert_->vocabSize(), std::size_t(30522));
    for (int64_t id : {0, 100, 101, 102, 103}) QVERIFY(bert_->isSpecial(id));
    for (int64_t id : {1, 99, 104, 1037, 30521, 30522, -1}) QVERIFY(!bert_->isSpecial(id));
    QCOMPARE(bert_->tokenToId("photo"), int64_t(6302));
    QCOMPARE(bert_->tokenToId("##board"), int64_t(6277));
    QCOMPARE(bert_->tokenToId("no-such-token"), int64_t(100));
    QCOMPARE(bert_->idToToken(30522), std::string("[UNK]"));  // BLIP's [DEC]: outside this vocab
    QCOMPARE(bert_->idToToken(-5), std::string("[UNK]"));
    for (std::size_t i = 0; i < vocabLines_.size(); i += 997) QCOMPARE(bert_->idToToken(int64_t(i)), vocabLines_[i]);
  }

  // ---- the BLIP fixture folder ------------------------------------------------------------

  void blipFolder() {
    const auto tok = WordPieceTokenizer::fromFolder(test::dataPath("blip-caption-tiny"));
    const BertTokenizerConfig& c = tok.config();
    QVERIFY(c.doLowerCase);
    QVERIFY(!c.stripAccents.has_value());  // JSON null: strip because lower-casing
    QVERIFY(c.tokenizeChineseChars);
    QVERIFY(c.neverSplit.empty());
    QCOMPARE(c.modelMaxLength, 512);
    QVERIFY(c.cleanUpTokenizationSpaces);
    QCOMPARE(c.maxInputCharsPerWord, 100);
    QCOMPARE(tok.vocabSize(), std::size_t(30522));
    QCOMPARE(tok.clsId(), int64_t(101));
    QCOMPARE(tok.sepId(), int64_t(102));
    QCOMPARE(tok.padId(), int64_t(0));
    QCOMPARE(tok.unkId(), int64_t(100));
    QCOMPARE(tok.maskId(), int64_t(103));
    const auto added = tok.addedTokens();
    QCOMPARE(added.size(), std::size_t(5));
    for (const AddedToken& a : added) QVERIFY(a.special && !a.normalized && !a.lstrip && !a.rstrip && !a.singleWord);
    int checked = 0;
    const QStringList failures = checkAllCases(tok, checked);
    for (const QString& f : failures.mid(0, 20)) qWarning("%s", qPrintable(f));
    QVERIFY2(failures.isEmpty(), qPrintable(QString("%1 of %2 checks failed").arg(failures.size()).arg(checked)));
  }

  // reference.json: `text` is the fast tokenizer's decode (what BLIP users see), and
  // `text_slow_tokenizer` the slow one, both with skip_special_tokens=True.
  void blipCaptionTexts() {
    const auto tok = WordPieceTokenizer::fromFolder(test::dataPath("blip-caption-tiny"));
    int n = 0;
    for (const auto& [image, entry] : blipReference_.at("images").items()) {
      for (const auto& [variant, g] : entry.at("generate").items()) {
        const auto in = ids(g.at("ids"));
        const std::string where = image + "/" + variant;
        QVERIFY2(tok.decodeForDisplay(in) == g.at("text").get<std::string>(),
                 (where + ": fast '" + tok.decodeForDisplay(in) + "'").c_str());
        QVERIFY2(tok.decode(in, true) == g.at("text_slow_tokenizer").get<std::string>(),
                 (where + ": slow '" + tok.decode(in, true) + "'").c_str());
        if (g.contains("prompt_input_ids")) {
          QCOMPARE(tok.encode(blipReference_.at("prompt").get<std::string>()), ids(g.at("prompt_input_ids")));
        }
        ++n;
      }
    }
    QCOMPARE(n, 7 * 6);
    const json& tf = blipReference_.at("teacher_forcing");
    QCOMPARE(tok.encode(blipReference_.at("caption").get<std::string>()), ids(tf.at("caption_tokenizer_ids")));
    // Hand-computed: the fast decode drops [DEC] then keeps the first token's "##".
    QCOMPARE(tok.decodeForDisplay({30522, 29628, 15318}), std::string("##; economically"));
    QCOMPARE(tok.decode({30522, 29628, 15318}, true), std::string("[UNK]; economically"));
    QCOMPARE(tok.decodeForDisplay({30523, 101, 1037, 6302, 102, 0, 0}), std::string("a photo"));
    QCOMPARE(tok.decodeForDisplay({}), std::string());
  }

  // ---- tokenizer.json -----------------------------------------------------------------------

  void tokenizerJsonOnlyFolder() {
    TempDir dir(kTempPrefix, "json_only");
    json vocab = json::object();
    for (std::size_t i = 0; i < vocabLines_.size(); ++i) vocab[vocabLines_[i]] = i;
    json addedTokens = json::array();
    for (const auto& [content, id] : std::vector<std::pair<std::string, int>>{
             {"[PAD]", 0}, {"[UNK]", 100}, {"[CLS]", 101}, {"[SEP]", 102}, {"[MASK]", 103}})
      addedTokens.push_back({{"id", id}, {"content", content}, {"single_word", false}, {"lstrip", false},
                             {"rstrip", false}, {"normalized", false}, {"special", true}});
    const json tj = {
        {"version", "1.0"},
        {"model", {{"type", "WordPiece"}, {"vocab", vocab}, {"unk_token", "[UNK]"}, {"continuing_subword_prefix", "##"},
                   {"max_input_chars_per_word", 100}}},
        {"normalizer", {{"type", "BertNormalizer"}, {"clean_text", true}, {"handle_chinese_chars", true},
                        {"strip_accents", nullptr}, {"lowercase", true}}},
        {"added_tokens", addedTokens}};
    dir.write("tokenizer.json", tj.dump());
    const auto tok = WordPieceTokenizer::fromFolder(dir.path);
    QVERIFY(tok.config().doLowerCase);
    QVERIFY(!tok.config().stripAccents.has_value());
    QCOMPARE(tok.vocabSize(), std::size_t(30522));
    QCOMPARE(tok.addedTokens().size(), std::size_t(5));
    int checked = 0;
    const QStringList failures = checkAllCases(tok, checked);
    for (const QString& f : failures.mid(0, 20)) qWarning("%s", qPrintable(f));
    QVERIFY2(failures.isEmpty(), qPrintable(QString("%1 of %2 checks failed").arg(failures.size()).arg(checked)));

    // The normalizer's options are used when no tokenizer_config.json says otherwise...
    json cased = tj;
    cased["normalizer"]["lowercase"] = false;
    dir.write("tokenizer.json", cased.dump());
    QVERIFY(!WordPieceTokenizer::fromFolder(dir.path).config().doLowerCase);
    // ... and tokenizer_config.json wins over them.
    dir.write("tokenizer_config.json", R"({"do_lower_case": true, "strip_accents": false})");
    const auto fromConfig = WordPieceTokenizer::fromFolder(dir.path);
    QVERIFY(fromConfig.config().doLowerCase);
    QCOMPARE(fromConfig.config().stripAccents, std::optional<bool>(false));
  }

  // Added tokens from tokenizer.json: a special one listed in additional_special_tokens, and a
  // non-special one, with BLIP-like ids after the vocabulary. Expected values computed by hand
  // from transformers' PreTrainedTokenizer.tokenize / _decode.
  void addedTokensFromTokenizerJson() {
    TempDir dir(kTempPrefix, "added");
    std::string vocabTxt;
    for (const std::string& l : vocabLines_) vocabTxt += l + "\n";
    dir.write("vocab.txt", vocabTxt);
    json added = json::array();
    for (const auto& [content, id] : std::vector<std::pair<std::string, int>>{
             {"[PAD]", 0}, {"[UNK]", 100}, {"[CLS]", 101}, {"[SEP]", 102}, {"[MASK]", 103}, {"[DEC]", 30522}})
      added.push_back({{"id", id}, {"content", content}, {"normalized", false}, {"special", true}});
    added.push_back({{"id", 30523}, {"content", "vlmscope"}, {"normalized", true}, {"special", false}});
    dir.write("tokenizer.json", json{{"model", {{"type", "WordPiece"}, {"vocab", json::object()}}}, {"added_tokens", added}}.dump());
    dir.write("special_tokens_map.json", R"({"unk_token": "[UNK]", "additional_special_tokens": ["[DEC]"]})");
    const auto tok = WordPieceTokenizer::fromFolder(dir.path);
    QCOMPARE(tok.vocabSize(), std::size_t(30522));
    QCOMPARE(tok.tokenToId("[DEC]"), int64_t(30522));
    QCOMPARE(tok.idToToken(30522), std::string("[DEC]"));
    QVERIFY(tok.isSpecial(30522));
    QVERIFY(!tok.isSpecial(30523));
    // "[DEC]" is protected from lower-casing and split out whole; "VLMScope" is lowered first,
    // then matches the added token "vlmscope".
    QCOMPARE(tok.tokenize("[DEC] VLMScope rocks"), (std::vector<std::string>{"[DEC]", "vlmscope", "rocks"}));
    QCOMPARE(tok.encode("[DEC]a photo"), (std::vector<int64_t>{101, 30522, 1037, 6302, 102}));
    QCOMPARE(tok.encode("vlmscopes"), (std::vector<int64_t>{101, 30523, 1055, 102}));
    QCOMPARE(tok.decode({101, 30522, 1037, 6302, 102}), std::string("[CLS] [DEC] a photo [SEP]"));
    QCOMPARE(tok.decode({101, 30522, 1037, 6302, 102}, true), std::string("a photo"));
    // A non-special added token is decoded on its own ("legacy" added token): no "##" joining.
    QCOMPARE(tok.decode({30523, 1055, 5749}, true), std::string("vlmscope s rocks"));
    QCOMPARE(tok.decodeForDisplay({30522, 30523, 5749}), std::string("vlmscope rocks"));
  }

  // ---- options -------------------------------------------------------------------------------

  // Expected tokens computed with transformers' algorithm by hand / Python 3.11.
  void configurationOptions() {
    BertTokenizerConfig never;
    never.neverSplit = {"[dec]"};
    const WordPieceTokenizer withNeverSplit(vocabLines_, never);
    QCOMPARE(withNeverSplit.tokenize("a [DEC] b"), (std::vector<std::string>{"a", "[dec]", "b"}));
    QCOMPARE(withNeverSplit.encode("a [DEC] b"), (std::vector<int64_t>{101, 1037, 100, 1038, 102}));

    BertTokenizerConfig noChinese;
    noChinese.tokenizeChineseChars = false;
    QCOMPARE(WordPieceTokenizer(vocabLines_, noChinese).tokenize("中文和English"),
             (std::vector<std::string>{"中", "##文", "##和", "##eng", "##lish"}));

    BertTokenizerConfig keepAccents;
    keepAccents.stripAccents = false;
    QCOMPARE(WordPieceTokenizer(vocabLines_, keepAccents).encode("Café naïve"), (std::vector<int64_t>{101, 100, 100, 102}));

    BertTokenizerConfig casedConfig;
    casedConfig.doLowerCase = false;
    QCOMPARE(WordPieceTokenizer(vocabLines_, casedConfig).tokenize("Hello world"), (std::vector<std::string>{"[UNK]", "world"}));

    BertTokenizerConfig noCleanUp;
    noCleanUp.cleanUpTokenizationSpaces = false;
    QCOMPARE(WordPieceTokenizer(vocabLines_, noCleanUp).decode({2009, 1005, 1055, 1037, 4937, 999}), std::string("it ' s a cat !"));
    QCOMPARE(bert_->decode({2009, 1005, 1055, 1037, 4937, 999}), std::string("it's a cat!"));

    // Copies are independent and equal.
    WordPieceTokenizer copy = *bert_;
    QCOMPARE(copy.encode("a photo of a cat"), (std::vector<int64_t>{101, 1037, 6302, 1997, 1037, 4937, 102}));
    WordPieceTokenizer moved = std::move(copy);
    QCOMPARE(moved.vocabSize(), std::size_t(30522));
  }

  // ---- edge cases ----------------------------------------------------------------------------

  void emptyInput() {
    QVERIFY(bert_->tokenize("").empty());
    QCOMPARE(bert_->encode(""), (std::vector<int64_t>{101, 102}));
    QVERIFY(bert_->encode("", false).empty());
    const Encoding e = bert_->encodePadded("", 4);
    QCOMPARE(e.ids, (std::vector<int64_t>{101, 102, 0, 0}));
    QCOMPARE(e.attentionMask, (std::vector<int64_t>{1, 1, 0, 0}));
    QCOMPARE(bert_->decode({}), std::string());
    QCOMPARE(bert_->decode({}, true), std::string());
    QCOMPARE(bert_->decode({0, 0, 101}, true), std::string());
  }

  // Invalid bytes decode to U+FFFD as Python's errors="replace", which BERT's cleaner drops.
  void invalidUtf8() {
    QCOMPARE(bert_->tokenize("nul\xff" "byte"), (std::vector<std::string>{"nu", "##lby", "##te"}));
    QCOMPARE(bert_->tokenize("caf\xc3"), (std::vector<std::string>{"caf"}));
    QCOMPARE(bert_->tokenize("\xed\xa0\x80" "abc"), (std::vector<std::string>{"abc"}));
    QCOMPARE(bert_->tokenize("a\xe2\x82" "b"), (std::vector<std::string>{"ab"}));
    QCOMPARE(bert_->tokenize("x\xf0\x80\x80\x80y"), (std::vector<std::string>{"x", "##y"}));
    QCOMPARE(bert_->encode("\xff\xfe\xfd"), (std::vector<int64_t>{101, 102}));
    // Every single byte value, alone and inside a word, never crashes.
    for (int b = 0; b < 256; ++b) {
      const std::string s(1, static_cast<char>(b));
      (void)bert_->tokenize(s);
      (void)bert_->tokenize("ab" + s + "cd" + s);
    }
  }

  void longWords() {
    // 100 code points is the limit (reference cases 138-141 cover ASCII); it counts code points,
    // not bytes, after accent stripping.
    std::string e100, o60;
    for (int i = 0; i < 100; ++i) e100 += "é";
    for (int i = 0; i < 60; ++i) o60 += "ø";
    auto tokens = bert_->tokenize(e100);
    QCOMPARE(tokens.size(), std::size_t(50));
    QCOMPARE(tokens.front(), std::string("ee"));
    QCOMPARE(tokens.back(), std::string("##ee"));
    QCOMPARE(bert_->tokenize(e100 + "é"), (std::vector<std::string>{"[UNK]"}));
    tokens = bert_->tokenize(o60);  // 120 bytes, 60 code points
    QCOMPARE(tokens.size(), std::size_t(60));
    QCOMPARE(tokens.front(), std::string("ø"));
    QCOMPARE(tokens.back(), std::string("##ø"));
    QCOMPARE(bert_->tokenize(std::string(101, 'a') + " cat"), (std::vector<std::string>{"[UNK]", "cat"}));
    BertTokenizerConfig small;
    small.maxInputCharsPerWord = 3;
    QCOMPARE(WordPieceTokenizer(vocabLines_, small).tokenize("cat cats"), (std::vector<std::string>{"cat", "[UNK]"}));
  }

  void unicodeVersionAndCase() {
    // Python 3.11 (Unicode 14): U+31350 (CJK Ext. H, Unicode 15) is unassigned, so dropped.
    QCOMPARE(bert_->encode("a\U00031350b"), (std::vector<int64_t>{101, 11113, 102}));
    // The per-character lower-casing pass never produces a final sigma.
    QCOMPARE(bert_->tokenize("ΟΔΟΣ ΣΟΦΟΣ"),
             (std::vector<std::string>{"ο", "##δ", "##ο", "##σ", "σ", "##ο", "##φ", "##ο", "##σ"}));
    QCOMPARE(bert_->tokenize("İstanbul"), (std::vector<std::string>{"istanbul"}));
  }

  void truncationAndPadding() {
    const std::string text = "a photo of a cat";  // 5 tokens
    Encoding e = bert_->encodePadded(text, 5);
    QCOMPARE(e.ids, (std::vector<int64_t>{101, 1037, 6302, 1997, 102}));
    QCOMPARE(e.attentionMask, (std::vector<int64_t>{1, 1, 1, 1, 1}));
    e = bert_->encodePadded(text, 3);
    QCOMPARE(e.ids, (std::vector<int64_t>{101, 1037, 102}));
    // transformers: with no room for any text token, nothing is truncated (it logs an error).
    e = bert_->encodePadded(text, 2);
    QCOMPARE(e.ids, (std::vector<int64_t>{101, 1037, 6302, 1997, 1037, 4937, 102}));
    e = bert_->encodePadded(text, 9, false);
    QCOMPARE(e.ids, (std::vector<int64_t>{101, 1037, 6302, 1997, 1037, 4937, 102, 0, 0}));
    QCOMPARE(e.attentionMask, (std::vector<int64_t>{1, 1, 1, 1, 1, 1, 1, 0, 0}));
    e = bert_->encodePadded(text, 4, false);
    QCOMPARE(e.ids.size(), std::size_t(7));
    e = bert_->encodePadded(text, 0);
    QCOMPARE(e.ids.size(), std::size_t(7));
    QCOMPARE(expectError([&] { bert_->encodePadded(text, -1); }).code(), ErrorCode::InvalidArgument);
  }

  // ---- errors --------------------------------------------------------------------------------

  void folderErrors() {
    TempDir dir(kTempPrefix, "errors");
    Error e = expectError([&] { WordPieceTokenizer::fromFolder(dir.path); });
    QCOMPARE(e.code(), ErrorCode::NotFound);
    QCOMPARE(e.file(), dir.path.string());
    QVERIFY(std::string(e.what()).find(dir.path.string()) != std::string::npos);

    e = expectError([&] { WordPieceTokenizer::fromFolder(dir.path / "missing"); });
    QCOMPARE(e.code(), ErrorCode::NotFound);

    dir.write("vocab.txt", "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\na\n");
    dir.write("tokenizer_config.json", R"({"do_lower_case": true,)");
    e = expectError([&] { WordPieceTokenizer::fromFolder(dir.path); });
    QCOMPARE(e.code(), ErrorCode::Corrupt);
    QCOMPARE(e.file(), (dir.path / "tokenizer_config.json").string());
    QVERIFY(std::string(e.what()).find("tokenizer_config.json") != std::string::npos);

    dir.write("tokenizer_config.json", R"({"do_lower_case": "yes"})");
    e = expectError([&] { WordPieceTokenizer::fromFolder(dir.path); });
    QCOMPARE(e.code(), ErrorCode::Corrupt);
    QVERIFY(std::string(e.what()).find("do_lower_case") != std::string::npos);

    dir.write("tokenizer_config.json", R"({"do_lower_case": true})");
    const auto tiny = WordPieceTokenizer::fromFolder(dir.path);
    QCOMPARE(tiny.vocabSize(), std::size_t(6));
    QCOMPARE(tiny.encode("A b"), (std::vector<int64_t>{2, 5, 1, 3}));

    dir.write("vocab.txt", "[PAD]\n\xff\xfe\n");
    e = expectError([&] { WordPieceTokenizer::fromFolder(dir.path); });
    QCOMPARE(e.code(), ErrorCode::Corrupt);
    QCOMPARE(e.file(), (dir.path / "vocab.txt").string());

    fs::remove(dir.path / "vocab.txt");
    dir.write("tokenizer.json", R"({"model": {"type": "BPE", "vocab": {}}})");
    e = expectError([&] { WordPieceTokenizer::fromFolder(dir.path); });
    QCOMPARE(e.code(), ErrorCode::Unsupported);
    QCOMPARE(e.file(), (dir.path / "tokenizer.json").string());

    dir.write("tokenizer.json", R"({"model": {"type": "WordPiece", "vocab": {"a": 0, "b": 5}}})");
    QCOMPARE(expectError([&] { WordPieceTokenizer::fromFolder(dir.path); }).code(), ErrorCode::Corrupt);

    QCOMPARE(expectError([&] { WordPieceTokenizer({}, BertTokenizerConfig{}); }).code(), ErrorCode::InvalidArgument);
  }

  // vocab.txt is read as Python's text-mode readlines(): \r\n and \r end lines too.
  void vocabLineEndings() {
    TempDir dir(kTempPrefix, "crlf");
    dir.write("vocab.txt", "[PAD]\r\n[UNK]\r[CLS]\n[SEP]\r\n[MASK]\ncat\r\nsat");
    const auto tok = WordPieceTokenizer::fromFolder(dir.path);
    QCOMPARE(tok.vocabSize(), std::size_t(7));
    QCOMPARE(tok.encode("Cat sat dog"), (std::vector<int64_t>{2, 5, 6, 1, 3}));
  }

  // ---- Unicode helpers (expected values printed by Python 3.11.7, unicodedata 14.0.0) -------

  void utf8Codec() {
    QCOMPARE(utf8ToCodePoints("a\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80"), cps({U'a', 0xE9, 0x4E2D, 0x1F600}));
    QCOMPARE(utf8ToCodePoints("\xed\xa0\x80"), cps({0xFFFD, 0xFFFD, 0xFFFD}));
    QCOMPARE(utf8ToCodePoints("a\xe2\x82" "b"), cps({U'a', 0xFFFD, U'b'}));
    QCOMPARE(utf8ToCodePoints("x\xf0\x80\x80\x80y"), cps({U'x', 0xFFFD, 0xFFFD, 0xFFFD, 0xFFFD, U'y'}));
    QCOMPARE(utf8ToCodePoints("\xc0\xaf"), cps({0xFFFD, 0xFFFD}));
    QCOMPARE(utf8ToCodePoints("\xf4\x90\x80\x80"), cps({0xFFFD, 0xFFFD, 0xFFFD, 0xFFFD}));
    QCOMPARE(utf8ToCodePoints("\xf4\x8f\xbf\xbf"), cps({0x10FFFF}));
    QCOMPARE(utf8ToCodePoints("\x80z"), cps({0xFFFD, U'z'}));
    QCOMPARE(codePointsToUtf8(cps({U'a', 0xE9, 0x1F600})), std::string("a\xc3\xa9\xf0\x9f\x98\x80"));
    QCOMPARE(codePointsToUtf8(cps({0xD800, 0x110000})), std::string("\xef\xbf\xbd\xef\xbf\xbd"));
    QVERIFY(isValidUtf8("héllo \xef\xbf\xbd"));
    QVERIFY(!isValidUtf8("h\xe9llo"));
    QCOMPARE(codePointCount("h\xc3\xa9llo"), std::size_t(5));
  }

  void categories() {
    const std::vector<std::pair<char32_t, const char*>> expected = {
        {U'A', "Lu"}, {0xE9, "Ll"}, {0x301, "Mn"}, {0x3002, "Po"}, {0x3000, "Zs"}, {0x200B, "Cf"},
        {0xE000, "Co"}, {0x378, "Cn"}, {0x1F600, "So"}, {0xBD, "No"}, {U'_', "Pc"}, {0x2028, "Zl"},
        {0xD800, "Cs"}, {0x31350, "Cn"}, {0x10EFD, "Cn"}, {0xCF3, "Cn"}};  // last three: new in Unicode 15
    for (const auto& [cp, name] : expected)
      QVERIFY2(categoryName(generalCategory(cp)) == name, qPrintable(QString::number(cp, 16)));
    QVERIFY(isNewerThanPythonUnicode(0x31350));
    QVERIFY(!isNewerThanPythonUnicode(0x4E2D));
    const std::vector<char32_t> spaces = {0x9, 0xA, 0xB, 0xC, 0xD, 0x1C, 0x1D, 0x1E, 0x1F, 0x20, 0x85, 0xA0, 0x1680,
                                          0x2000, 0x2001, 0x2002, 0x2003, 0x2004, 0x2005, 0x2006, 0x2007, 0x2008,
                                          0x2009, 0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000};
    std::vector<char32_t> found;
    for (char32_t cp = 0; cp <= 0x10FFFF; ++cp)
      if (pyIsSpace(cp)) found.push_back(cp);
    QVERIFY(found == spaces);
    QVERIFY(isLetter(U'a') && isLetter(0x4E2D) && isLetter(0x31350) && !isLetter(U'1') && !isLetter(U'_'));
    QVERIFY(isNumber(U'7') && isNumber(0x663) && isNumber(0xBD) && !isNumber(U'a'));
  }

  void normalisationAndCase() {
    QCOMPARE(nfc(cps({U'e', 0x301})), cps({0xE9}));
    QCOMPARE(nfd(cps({0xE9})), cps({U'e', 0x301}));
    QCOMPARE(nfd(cps({0xD55C})), cps({0x1112, 0x1161, 0x11AB}));
    QCOMPARE(nfc(cps({0x2126})), cps({0x3A9}));
    QCOMPARE(nfcUtf8("Cafe\xcc\x81"), std::string("Caf\xc3\xa9"));
    // U+10EFD (Mn, combining class 220 since Unicode 15) is unassigned for Python 3.11: it is not
    // reordered, and blocks reordering across it.
    QCOMPARE(nfd(cps({U'a', 0x301, 0x10EFD, 0x323})), cps({U'a', 0x301, 0x10EFD, 0x323}));
    QCOMPARE(nfc(cps({U'a', 0x301, 0x10EFD, 0x323})), cps({0xE1, 0x10EFD, 0x323}));
    QCOMPARE(pyLower(cps({0x130})), cps({U'i', 0x307}));
    QCOMPARE(pyLower(cps({0x39F, 0x394, 0x39F, 0x3A3})), cps({0x3BF, 0x3B4, 0x3BF, 0x3C2}));
    QCOMPARE(pyLower(cps({0x391, 0x3A3, U'\'', 0x391})), cps({0x3B1, 0x3C3, U'\'', 0x3B1}));
    QCOMPARE(pyLower(cps({0x391, 0x3A3, U'\''})), cps({0x3B1, 0x3C2, U'\''}));
    QCOMPARE(pyLower(cps({0x3A3})), cps({0x3C3}));
    QCOMPARE(pyLowerUtf8("ÀÉÎ Straße ǅ"), std::string("àéî straße ǆ"));
    std::u32string one;
    appendPyLowerChar(one, 0x3A3);
    QCOMPARE(one, cps({0x3C3}));
    QCOMPARE(pySplit(cps({U' ', U'a', 0x2028, U'b', 0x3000, 0x3000})), (std::vector<std::u32string>{cps({U'a'}), cps({U'b'})}));
    QCOMPARE(pyStripUtf8("\xe3\x80\x80 a b\n"), std::string("a b"));
  }

  // ---- speed ---------------------------------------------------------------------------------

  void captionTakesMicroseconds() {
    const std::string caption =
        "A man in a red jacket riding a horse on a beach next to the ocean with a dog running.";
    const int reps = 2000;
    std::size_t total = 0;
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < reps; ++i) total += bert_->encode(caption).size();
    const double us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count() / reps;
    qInfo("encode of a 20-word caption: %.2f us", us);
    QCOMPARE(total, std::size_t(reps) * 23);  // [CLS] + 20 words + '.' + [SEP]
    QVERIFY2(us < 200.0, qPrintable(QString("%1 us per caption").arg(us)));
  }
};

QTEST_GUILESS_MAIN(TestWordPiece)
#include "test_wordpiece.moc"
