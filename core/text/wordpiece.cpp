#include "text/wordpiece.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "io/files.h"
#include "text/tokenizer_common.h"
#include "text/unicode.h"

namespace vlm::text {

namespace {

using namespace detail;

constexpr std::string_view kContinuationPrefix = "##";

// _is_punctuation: all non-alphanumeric printable ASCII, and category P*.
bool isBertPunctuation(char32_t cp) {
  if ((cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126)) return true;
  return cp >= 0x80 && isPunctuationCategory(generalCategory(cp));
}

bool startsWith(std::u32string_view s, std::size_t pos, std::u32string_view prefix) {
  return s.size() - pos >= prefix.size() && s.compare(pos, prefix.size(), prefix) == 0;
}

}  // namespace

// =============================================================================================

struct WordPieceTokenizer::Impl {
  BertTokenizerConfig config;

  // WordPiece vocabulary (vocab.txt): token -> id, as Python's dict (a repeated line keeps the
  // last id), and id -> token for the ids that dict still maps to.
  StringMap<int64_t> vocab;
  std::vector<std::string> idToToken;
  std::vector<bool> idHasToken;

  // Added and special tokens; allSpecialTokens: bos eos unk sep pad cls mask additional.
  AddedVocabulary addedVocab;
  StringSet fastSpecialContents;               // the fast tokenizer's special added tokens
  std::vector<std::u32string> lowerProtected;  // kept verbatim by the lower-casing pass
  StringSet neverSplitConfig;                  // basic_tokenizer.never_split
  StringSet neverSplitAll;                     // + all special tokens

  int64_t unk = 0, cls = 0, sep = 0, pad = 0, mask = 0;
  bool lowerInTokenize = false;  // hasattr(self, "do_lower_case") and self.do_lower_case

  Impl(std::vector<std::string> vocabLines, BertTokenizerConfig cfg, std::vector<AddedToken> addedTokens);

  int64_t toId(std::string_view token) const { return addedVocab.toId(token, vocab, unk); }
  const std::string* vocabToken(int64_t id) const {
    if (id < 0 || id >= static_cast<int64_t>(idToToken.size()) || !idHasToken[static_cast<std::size_t>(id)]) return nullptr;
    return &idToToken[static_cast<std::size_t>(id)];
  }
  std::string toToken(int64_t id) const {
    if (const AddedToken* a = addedVocab.addedFor(id)) return a->content;
    if (const std::string* t = vocabToken(id)) return *t;
    return config.unkToken;
  }

  std::u32string lowerOutsideProtected(std::u32string_view text) const;
  void tokenizePiece(const std::string& piece, std::vector<std::string>& out) const;
  void basicTokenize(std::string_view piece, std::vector<std::string>& out) const;
  void wordPiece(const std::string& word, std::vector<std::string>& out) const;
};

WordPieceTokenizer::Impl::Impl(std::vector<std::string> vocabLines, BertTokenizerConfig cfg,
                               std::vector<AddedToken> addedTokens)
    : config(std::move(cfg)), idToToken(std::move(vocabLines)) {
  if (idToToken.empty()) throw Error(ErrorCode::InvalidArgument, "WordPiece tokenizer: the vocabulary is empty");
  if (config.maxInputCharsPerWord < 0) throw Error(ErrorCode::InvalidArgument, "WordPiece tokenizer: maxInputCharsPerWord is negative");
  vocab.reserve(idToToken.size());
  for (std::size_t i = 0; i < idToToken.size(); ++i) {
    if (!isValidUtf8(idToToken[i]))
      throw Error(ErrorCode::InvalidArgument, "WordPiece tokenizer: vocabulary token " + std::to_string(i) + " is not valid UTF-8");
    vocab.insert_or_assign(idToToken[i], static_cast<int64_t>(i));
  }
  idHasToken.resize(idToToken.size());
  for (std::size_t i = 0; i < idToToken.size(); ++i) idHasToken[i] = vocab.find(idToToken[i])->second == static_cast<int64_t>(i);

  // all_special_tokens: SPECIAL_TOKENS_ATTRIBUTES order (bos and eos when set), then the additional ones.
  std::vector<std::string> specialTokens;
  if (config.bosToken) specialTokens.push_back(*config.bosToken);
  if (config.eosToken) specialTokens.push_back(*config.eosToken);
  for (const std::string* t : {&config.unkToken, &config.sepToken, &config.padToken, &config.clsToken, &config.maskToken})
    specialTokens.push_back(*t);
  addedVocab.build("WordPiece tokenizer", addedTokens, specialTokens, config.additionalSpecialTokens, config.unkToken,
                   vocab);

  unk = toId(config.unkToken);
  cls = toId(config.clsToken);
  sep = toId(config.sepToken);
  pad = toId(config.padToken);
  mask = toId(config.maskToken);

  const std::vector<std::string>& allSpecialTokens = addedVocab.allSpecialTokens;
  const StringSet specialSet(allSpecialTokens.begin(), allSpecialTokens.end());
  for (const AddedToken& a : addedVocab.added)
    if (a.special || specialSet.count(a.content)) fastSpecialContents.insert(a.content);

  lowerInTokenize = config.doBasicTokenize && config.doLowerCase;
  for (const std::string& t : allSpecialTokens) lowerProtected.push_back(utf8ToCodePoints(t));
  for (const AddedToken& a : addedVocab.added)
    if (!a.special && a.normalized) lowerProtected.push_back(utf8ToCodePoints(a.content));

  neverSplitConfig.insert(config.neverSplit.begin(), config.neverSplit.end());
  neverSplitAll = neverSplitConfig;
  neverSplitAll.insert(allSpecialTokens.begin(), allSpecialTokens.end());
}

// re.sub(r"(special|...)|(.+?)", lambda m: m.groups()[0] or m.groups()[1].lower(), text): the
// first alternative matching at a position is kept verbatim, otherwise one character is lowered on
// its own ('.' does not match '\n', which stays as it is).
std::u32string WordPieceTokenizer::Impl::lowerOutsideProtected(std::u32string_view text) const {
  std::u32string out;
  out.reserve(text.size() + 4);
  std::size_t i = 0;
  while (i < text.size()) {
    bool matched = false;
    for (const std::u32string& p : lowerProtected) {
      if (startsWith(text, i, p)) {
        out.append(p);
        i += p.size();
        matched = true;
        break;
      }
    }
    if (matched) continue;
    appendPyLowerChar(out, text[i]);
    ++i;
  }
  return out;
}

// BertTokenizer._tokenize on one piece of text without added tokens.
void WordPieceTokenizer::Impl::tokenizePiece(const std::string& piece, std::vector<std::string>& out) const {
  if (!config.doBasicTokenize) {
    for (const std::u32string& w : pySplit(utf8ToCodePoints(piece))) wordPiece(codePointsToUtf8(w), out);
    return;
  }
  std::vector<std::string> words;
  basicTokenize(piece, words);
  for (std::string& w : words) {
    if (neverSplitConfig.count(w)) {
      out.push_back(std::move(w));
    } else {
      wordPiece(w, out);
    }
  }
}

// BasicTokenizer.tokenize(text, never_split=all_special_tokens).
void WordPieceTokenizer::Impl::basicTokenize(std::string_view piece, std::vector<std::string>& out) const {
  // _clean_text and _tokenize_chinese_chars, then NFC.
  const std::u32string text = nfc(bertCleanText(utf8ToCodePoints(piece), config.tokenizeChineseChars));

  const bool strip = config.doLowerCase ? config.stripAccents.value_or(true) : config.stripAccents.value_or(false);
  for (std::u32string& word : pySplit(text)) {
    std::string utf8 = codePointsToUtf8(word);
    if (neverSplitAll.count(utf8)) {
      out.push_back(std::move(utf8));
      continue;
    }
    if (config.doLowerCase) word = pyLower(word);
    if (strip) {  // _run_strip_accents: NFD, drop Mn
      std::u32string decomposed = nfd(word);
      word.clear();
      for (char32_t cp : decomposed)
        if (cp < 0x300 || generalCategory(cp) != GeneralCategory::Mn) word.push_back(cp);
    }
    utf8 = codePointsToUtf8(word);
    if (neverSplitAll.count(utf8)) {  // _run_split_on_punc leaves never_split text whole
      out.push_back(std::move(utf8));
      continue;
    }
    // _run_split_on_punc, then whitespace_tokenize(" ".join(...)), which drops empty pieces.
    std::u32string current;
    auto flush = [&] {
      if (current.empty()) return;
      for (const std::u32string& w : pySplit(current)) out.push_back(codePointsToUtf8(w));
      current.clear();
    };
    for (char32_t cp : word) {
      if (isBertPunctuation(cp)) {
        flush();
        out.push_back(codePointsToUtf8(std::u32string(1, cp)));
      } else {
        current.push_back(cp);
      }
    }
    flush();
  }
}

// WordpieceTokenizer.tokenize on one word (no whitespace inside).
void WordPieceTokenizer::Impl::wordPiece(const std::string& word, std::vector<std::string>& out) const {
  // Byte offset of each code point, plus the end.
  std::vector<std::size_t> offsets;
  offsets.reserve(word.size() + 1);
  for (std::size_t i = 0; i < word.size(); ++i)
    if ((static_cast<unsigned char>(word[i]) & 0xC0) != 0x80) offsets.push_back(i);
  offsets.push_back(word.size());
  const std::size_t chars = offsets.size() - 1;
  if (chars == 0) return;
  if (chars > static_cast<std::size_t>(config.maxInputCharsPerWord)) {
    out.push_back(config.unkToken);
    return;
  }
  const std::size_t before = out.size();
  std::string candidate;
  candidate.reserve(word.size() + kContinuationPrefix.size());
  std::size_t start = 0;
  while (start < chars) {
    std::size_t end = chars;
    bool found = false;
    while (start < end) {
      const std::string_view sub(word.data() + offsets[start], offsets[end] - offsets[start]);
      bool inVocab;
      if (start == 0) {
        inVocab = vocab.find(sub) != vocab.end();
      } else {
        candidate.assign(kContinuationPrefix);
        candidate.append(sub);
        inVocab = vocab.find(candidate) != vocab.end();
      }
      if (inVocab) {
        out.emplace_back(start == 0 ? std::string(sub) : candidate);
        found = true;
        break;
      }
      --end;
    }
    if (!found) {
      out.resize(before);
      out.push_back(config.unkToken);
      return;
    }
    start = end;
  }
}

// =============================================================================================

WordPieceTokenizer::WordPieceTokenizer(const WordPieceTokenizer& other) : impl_(std::make_unique<Impl>(*other.impl_)) {}
WordPieceTokenizer::WordPieceTokenizer(WordPieceTokenizer&&) noexcept = default;
WordPieceTokenizer& WordPieceTokenizer::operator=(const WordPieceTokenizer& other) { return *this = WordPieceTokenizer(other); }
WordPieceTokenizer& WordPieceTokenizer::operator=(WordPieceTokenizer&&) noexcept = default;
WordPieceTokenizer::~WordPieceTokenizer() = default;

WordPieceTokenizer::WordPieceTokenizer(std::vector<std::string> vocab, BertTokenizerConfig config)
    : WordPieceTokenizer(std::move(vocab), std::move(config), {}) {}

WordPieceTokenizer::WordPieceTokenizer(std::vector<std::string> vocab, BertTokenizerConfig config,
                                       std::vector<AddedToken> addedTokens)
    : impl_(std::make_unique<Impl>(std::move(vocab), std::move(config), std::move(addedTokens))) {}

std::vector<std::string> WordPieceTokenizer::tokenize(std::string_view text) const {
  const Impl& m = *impl_;
  std::string normalized;
  if (m.lowerInTokenize) {
    normalized = codePointsToUtf8(m.lowerOutsideProtected(utf8ToCodePoints(text)));
  } else {
    normalized = codePointsToUtf8(utf8ToCodePoints(text));  // invalid bytes -> U+FFFD
  }
  // Added tokens are kept whole (their lstrip / rstrip / single_word flags applied), the rest
  // goes through _tokenize.
  return m.addedVocab.tokenize(normalized, [&m](const std::string& piece, std::vector<std::string>& out) {
    m.tokenizePiece(piece, out);
  });
}

std::vector<int64_t> WordPieceTokenizer::encode(std::string_view text, bool addSpecialTokens) const {
  const std::vector<std::string> tokens = tokenize(text);
  std::vector<int64_t> ids;
  ids.reserve(tokens.size() + 2);
  if (addSpecialTokens) ids.push_back(impl_->cls);
  for (const std::string& t : tokens) ids.push_back(impl_->toId(t));
  if (addSpecialTokens) ids.push_back(impl_->sep);
  return ids;
}

Encoding WordPieceTokenizer::encodePadded(std::string_view text, int maxLength, bool truncation) const {
  if (maxLength < 0) throw Error(ErrorCode::InvalidArgument, "WordPiece tokenizer: maxLength " + std::to_string(maxLength) + " is negative");
  std::vector<int64_t> ids = encode(text, false);
  const auto total = static_cast<int64_t>(ids.size()) + 2;
  if (truncation && maxLength > 0 && total > maxLength) {
    // truncate_sequences (longest_first, one sequence): only when the text keeps >= 1 token.
    const int64_t remove = total - maxLength;
    if (static_cast<int64_t>(ids.size()) > remove) ids.resize(ids.size() - static_cast<std::size_t>(remove));
  }
  Encoding e;
  e.ids.reserve(std::max<std::size_t>(ids.size() + 2, static_cast<std::size_t>(maxLength)));
  e.ids.push_back(impl_->cls);
  e.ids.insert(e.ids.end(), ids.begin(), ids.end());
  e.ids.push_back(impl_->sep);
  e.attentionMask.assign(e.ids.size(), 1);
  if (static_cast<int64_t>(e.ids.size()) < maxLength) {
    e.attentionMask.resize(static_cast<std::size_t>(maxLength), 0);
    e.ids.resize(static_cast<std::size_t>(maxLength), impl_->pad);
  }
  return e;
}

std::string WordPieceTokenizer::decode(const std::vector<int64_t>& ids, bool skipSpecialTokens) const {
  const Impl& m = *impl_;
  // convert_ids_to_tokens(ids, skip_special_tokens), then _decode, whose convert_tokens_to_string
  // is " ".join, drop " ##".
  std::vector<std::string> tokens;
  tokens.reserve(ids.size());
  for (int64_t id : ids) {
    if (skipSpecialTokens && m.addedVocab.specialIds.count(id)) continue;
    tokens.push_back(m.toToken(id));
  }
  auto convertTokensToString = [](const std::vector<const std::string*>& run) {
    std::string s;
    for (std::size_t i = 0; i < run.size(); ++i) {
      if (i) s.push_back(' ');
      s += *run[i];
    }
    replaceAll(s, " ##", "");
    return s;
  };
  return m.addedVocab.decode(tokens, convertTokensToString, m.config.cleanUpTokenizationSpaces);
}

std::string WordPieceTokenizer::decodeForDisplay(const std::vector<int64_t>& ids) const {
  const Impl& m = *impl_;
  // tokenizers' Tokenizer::decode(ids, skip_special_tokens=true): unknown ids are dropped,
  // special tokens skipped; then the WordPiece decoder; then transformers' clean-up.
  std::string text;
  bool first = true;
  for (int64_t id : ids) {
    std::string token;
    if (const AddedToken* a = m.addedVocab.addedFor(id)) {
      token = a->content;
    } else if (const std::string* t = m.vocabToken(id)) {
      token = *t;
    } else {
      continue;
    }
    if (m.fastSpecialContents.count(token)) continue;
    if (!first) {
      if (token.compare(0, kContinuationPrefix.size(), kContinuationPrefix) == 0) {
        token.erase(0, kContinuationPrefix.size());
      } else {
        token.insert(token.begin(), ' ');
      }
    }
    first = false;
    if (m.config.cleanUpTokenizationSpaces) cleanUpTokenization(token, /*rustWordPiece=*/true);
    text += token;
  }
  if (m.config.cleanUpTokenizationSpaces) cleanUpTokenization(text);
  return text;
}

std::string WordPieceTokenizer::idToToken(int64_t id) const { return impl_->toToken(id); }
int64_t WordPieceTokenizer::tokenToId(std::string_view token) const { return impl_->toId(token); }
int64_t WordPieceTokenizer::clsId() const { return impl_->cls; }
int64_t WordPieceTokenizer::sepId() const { return impl_->sep; }
int64_t WordPieceTokenizer::padId() const { return impl_->pad; }
int64_t WordPieceTokenizer::unkId() const { return impl_->unk; }
int64_t WordPieceTokenizer::maskId() const { return impl_->mask; }
std::size_t WordPieceTokenizer::vocabSize() const { return impl_->vocab.size(); }
bool WordPieceTokenizer::isSpecial(int64_t id) const { return impl_->addedVocab.specialIds.count(id) != 0; }
const BertTokenizerConfig& WordPieceTokenizer::config() const { return impl_->config; }
std::vector<AddedToken> WordPieceTokenizer::addedTokens() const { return impl_->addedVocab.added; }

// =============================================================================================
// fromFolder

namespace {

void readOptionalBool(const json& j, const char* key, const fs::path& file, std::optional<bool>& out) {
  auto it = j.find(key);
  if (it == j.end()) return;
  if (it->is_null()) {
    out.reset();
    return;
  }
  if (!it->is_boolean()) badValue(file, key, "true, false or null");
  out = it->get<bool>();
}

// load_vocab: lines as Python's text-mode readlines() (universal newlines: \n, \r\n, \r), each
// with its newline removed; line i is id i.
std::vector<std::string> readVocabTxt(const fs::path& path) {
  std::vector<std::string> lines = splitLines(io::readFile(path), /*keepEmptyLast=*/false);
  for (std::size_t i = 0; i < lines.size(); ++i)
    if (!isValidUtf8(lines[i]))
      throw Error(ErrorCode::Corrupt, path.string() + ": line " + std::to_string(i + 1) + " is not valid UTF-8", path.string());
  if (lines.empty()) throw Error(ErrorCode::Corrupt, path.string() + ": the vocabulary is empty", path.string());
  return lines;
}

}  // namespace

WordPieceTokenizer WordPieceTokenizer::fromFolder(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    throw Error(ErrorCode::NotFound, dir.string() + ": no such tokenizer folder", dir.string());
  const fs::path vocabTxt = dir / "vocab.txt";
  const fs::path tokenizerJson = dir / "tokenizer.json";
  const bool hasVocabTxt = fs::exists(vocabTxt, ec);
  const bool hasTokenizerJson = fs::exists(tokenizerJson, ec);
  if (!hasVocabTxt && !hasTokenizerJson)
    throw Error(ErrorCode::NotFound, dir.string() + ": neither vocab.txt nor tokenizer.json (not a WordPiece tokenizer folder)", dir.string());

  BertTokenizerConfig config;
  std::vector<std::string> vocab;
  std::vector<AddedToken> fileAddedTokens;

  // tokenizer.json: the fast tokenizer's description; its options are the defaults here.
  if (hasTokenizerJson) try {
    const json tj = readJsonObject(tokenizerJson);
    auto model = tj.find("model");
    if (model == tj.end() || !model->is_object()) badValue(tokenizerJson, "model", "an object");
    const std::string type = model->value("type", std::string());
    if (type != "WordPiece")
      throw Error(ErrorCode::Unsupported, tokenizerJson.string() + ": model type '" + type + "' is not WordPiece", tokenizerJson.string());
    if (auto p = model->find("continuing_subword_prefix"); p != model->end() && !p->is_null() && *p != "##")
      throw Error(ErrorCode::Unsupported, tokenizerJson.string() + ": continuing_subword_prefix other than \"##\"", tokenizerJson.string());
    readToken(*model, "unk_token", tokenizerJson, config.unkToken);
    readInt(*model, "max_input_chars_per_word", tokenizerJson, config.maxInputCharsPerWord);
    if (auto norm = tj.find("normalizer"); norm != tj.end() && !norm->is_null()) {
      if (!norm->is_object()) badValue(tokenizerJson, "normalizer", "an object or null");
      const std::string ntype = norm->value("type", std::string());
      if (ntype != "BertNormalizer")
        throw Error(ErrorCode::Unsupported, tokenizerJson.string() + ": normalizer '" + ntype + "' is not BertNormalizer", tokenizerJson.string());
      readBool(*norm, "lowercase", tokenizerJson, config.doLowerCase);
      readOptionalBool(*norm, "strip_accents", tokenizerJson, config.stripAccents);
      readBool(*norm, "handle_chinese_chars", tokenizerJson, config.tokenizeChineseChars);
    }
    fileAddedTokens = readTokenizerJsonAddedTokens(tj, tokenizerJson);
    if (!hasVocabTxt) {
      auto v = model->find("vocab");
      if (v == model->end() || !v->is_object()) badValue(tokenizerJson, "model.vocab", "an object of token: id");
      vocab.assign(v->size(), std::string());
      std::vector<bool> seen(v->size(), false);
      for (auto it = v->begin(); it != v->end(); ++it) {
        if (!it->is_number_integer()) badValue(tokenizerJson, "model.vocab", "an object of token: integer id");
        const auto id = it->get<int64_t>();
        if (id < 0 || id >= static_cast<int64_t>(vocab.size()) || seen[static_cast<std::size_t>(id)])
          throw Error(ErrorCode::Corrupt, tokenizerJson.string() + ": model.vocab ids are not 0.." + std::to_string(vocab.size() - 1) + " each used once", tokenizerJson.string());
        seen[static_cast<std::size_t>(id)] = true;
        vocab[static_cast<std::size_t>(id)] = it.key();
      }
      if (vocab.empty()) throw Error(ErrorCode::Corrupt, tokenizerJson.string() + ": model.vocab is empty", tokenizerJson.string());
    }
  } catch (const json::exception& e) {
    throw Error(ErrorCode::Corrupt, tokenizerJson.string() + ": unexpected content (" + e.what() + ")", tokenizerJson.string());
  }
  if (hasVocabTxt) vocab = readVocabTxt(vocabTxt);

  // tokenizer_config.json: BertTokenizer's init arguments; then special_tokens_map.json.
  const SpecialTokenSlots slots{
      {{"unk_token", &config.unkToken},
       {"cls_token", &config.clsToken},
       {"sep_token", &config.sepToken},
       {"pad_token", &config.padToken},
       {"mask_token", &config.maskToken}},
      {{"bos_token", &config.bosToken}, {"eos_token", &config.eosToken}},
      &config.additionalSpecialTokens};
  std::optional<std::vector<AddedToken>> configAddedTokens =
      readTokenizerConfig(dir, slots, [&config](const json& cj, const fs::path& configJson) {
        readBool(cj, "do_lower_case", configJson, config.doLowerCase);
        readOptionalBool(cj, "strip_accents", configJson, config.stripAccents);
        readBool(cj, "tokenize_chinese_chars", configJson, config.tokenizeChineseChars);
        readBool(cj, "do_basic_tokenize", configJson, config.doBasicTokenize);
        readBool(cj, "clean_up_tokenization_spaces", configJson, config.cleanUpTokenizationSpaces);
        readInt(cj, "model_max_length", configJson, config.modelMaxLength);
        if (auto it = cj.find("never_split"); it != cj.end())
          config.neverSplit = tokenList(*it, "never_split", configJson);
      });

  try {
    return WordPieceTokenizer(std::move(vocab), std::move(config),
                              configAddedTokens ? std::move(*configAddedTokens) : std::move(fileAddedTokens));
  } catch (const Error& e) {
    if (e.code() != ErrorCode::InvalidArgument) throw;
    throw Error(ErrorCode::Corrupt, dir.string() + ": " + e.what(), dir.string());
  }
}

}  // namespace vlm::text
