#include "text/clip_tokenizer.h"

#include <algorithm>
#include <array>
#include <climits>
#include <mutex>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "io/files.h"
#include "text/ftfy.h"
#include "text/tokenizer_common.h"
#include "text/unicode.h"

namespace vlm::text {

namespace {

using namespace detail;

constexpr std::string_view kEndOfWord = "</w>";
// CLIPTokenizer reads merges.txt lines [1 : 49152 - 256 - 2 + 1].
constexpr std::size_t kMaxMerges = 49152 - 256 - 2;
// The slow tokenizer's BPE cache starts with these two, returned unmerged and without "</w>".
constexpr std::string_view kStartOfText = "<|startoftext|>";
constexpr std::string_view kEndOfText = "<|endoftext|>";
constexpr std::size_t kCacheLimit = 65536;

// The `regex` module's \s: the White_Space property.
bool isRegexSpace(char32_t cp) {
  return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
         (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

// [^\s\p{L}\p{N}] under IGNORECASE: the `regex` module tests a negated set against every case
// variant of the character, while [\p{L}] / [\p{N}] (single properties) test the character
// itself. U+0345 COMBINING GREEK YPOGEGRAMMENI (Mn, a case variant of the letter iota) is the one
// character that this leaves matched by no alternative: findall skips it like whitespace.
bool isRegexPunctuation(char32_t cp) { return !isRegexSpace(cp) && !isLetter(cp) && !isNumber(cp) && cp != 0x345; }

// A pattern letter (ASCII lower case or punctuation) against a text character under IGNORECASE:
// the `regex` module's simple case folding adds only the upper case letter and, for 's', U+017F
// LATIN SMALL LETTER LONG S.
bool equalsIgnoreCase(char32_t c, char32_t lit) {
  if (c == lit) return true;
  if (lit >= 'a' && lit <= 'z') return c == lit - 32 || (lit == 's' && c == 0x17F);
  return false;
}

bool matchesIgnoreCase(std::u32string_view text, std::size_t pos, std::string_view lit) {
  if (text.size() - pos < lit.size()) return false;
  for (std::size_t k = 0; k < lit.size(); ++k)
    if (!equalsIgnoreCase(text[pos + k], static_cast<unsigned char>(lit[k]))) return false;
  return true;
}

// bytes_to_unicode(): printable Latin-1 bytes stand for themselves, the others (controls, space,
// 0x7F..0xA0, 0xAD) for U+0100 onwards, in byte order.
struct ByteAlphabet {
  std::array<std::string, 256> encode;           // byte -> UTF-8 of its character
  std::unordered_map<char32_t, unsigned char> decode;  // character -> byte
  ByteAlphabet() {
    auto printable = [](int b) { return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF); };
    int extra = 0;
    for (int b = 0; b < 256; ++b) {
      const char32_t cp = printable(b) ? static_cast<char32_t>(b) : static_cast<char32_t>(256 + extra++);
      appendUtf8(encode[static_cast<std::size_t>(b)], cp);
      decode.emplace(cp, static_cast<unsigned char>(b));
    }
  }
};

const ByteAlphabet& byteAlphabet() {
  static const ByteAlphabet alphabet;
  return alphabet;
}

// The UTF-8 pieces of each code point of a valid UTF-8 string.
std::vector<std::string> utf8Chars(std::string_view s) {
  std::vector<std::string> out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size();) {
    std::size_t len = 1;
    const auto b = static_cast<unsigned char>(s[i]);
    if (b >= 0xF0) {
      len = 4;
    } else if (b >= 0xE0) {
      len = 3;
    } else if (b >= 0xC0) {
      len = 2;
    }
    len = std::min(len, s.size() - i);
    out.emplace_back(s.substr(i, len));
    i += len;
  }
  return out;
}

}  // namespace

std::optional<ClipTextCleaning> parseClipTextCleaning(std::string_view name) {
  if (name == "ftfy") return ClipTextCleaning::Ftfy;
  if (name == "basic") return ClipTextCleaning::Basic;
  return std::nullopt;
}

const char* toString(ClipTextCleaning cleaning) { return cleaning == ClipTextCleaning::Ftfy ? "ftfy" : "basic"; }

// =============================================================================================

struct ClipTokenizer::Impl {
  ClipTokenizerConfig config;

  StringMap<int64_t> encoder;                     // vocab.json
  std::unordered_map<int64_t, std::string> decoder;  // {v: k for k, v in encoder.items()}
  StringMap<int> ranks;                           // "first second" -> rank

  AddedVocabulary addedVocab;  // allSpecialTokens: bos eos unk pad additional

  int64_t bos = 0, eos = 0, unk = 0, pad = 0;

  mutable std::mutex cacheMutex;
  mutable StringMap<std::vector<std::string>> cache;

  Impl(std::vector<std::pair<std::string, int64_t>> vocab, std::vector<std::pair<std::string, std::string>> merges,
       ClipTokenizerConfig cfg, std::vector<AddedToken> addedTokens);
  Impl(const Impl& o)
      : config(o.config), encoder(o.encoder), decoder(o.decoder), ranks(o.ranks), addedVocab(o.addedVocab), bos(o.bos),
        eos(o.eos), unk(o.unk), pad(o.pad) {}

  int64_t toId(std::string_view token) const { return addedVocab.toId(token, encoder, unk); }
  const std::string* tokenFor(int64_t id) const {
    if (const AddedToken* a = addedVocab.addedFor(id)) return &a->content;
    auto it = decoder.find(id);
    return it == decoder.end() ? nullptr : &it->second;
  }

  std::u32string clean(std::string_view piece) const;
  void tokenizePiece(std::string_view piece, std::vector<std::string>& out) const;
  std::vector<std::string> bpe(const std::string& token) const;
};

ClipTokenizer::Impl::Impl(std::vector<std::pair<std::string, int64_t>> vocab,
                          std::vector<std::pair<std::string, std::string>> merges, ClipTokenizerConfig cfg,
                          std::vector<AddedToken> addedTokens)
    : config(std::move(cfg)) {
  if (vocab.empty()) throw Error(ErrorCode::InvalidArgument, "CLIP tokenizer: the vocabulary is empty");
  encoder.reserve(vocab.size());
  for (const auto& [token, id] : vocab) {
    if (id < 0) throw Error(ErrorCode::InvalidArgument, "CLIP tokenizer: vocabulary token '" + token + "' has a negative id");
    if (!isValidUtf8(token)) throw Error(ErrorCode::InvalidArgument, "CLIP tokenizer: a vocabulary token is not valid UTF-8");
    encoder.insert_or_assign(token, id);
  }
  StringSet seen;
  for (const auto& [token, id] : vocab)
    if (seen.insert(token).second) decoder.insert_or_assign(encoder.at(token), token);

  ranks.reserve(merges.size());
  for (std::size_t r = 0; r < merges.size(); ++r) {
    const auto& [a, b] = merges[r];
    if (a.empty() || b.empty()) throw Error(ErrorCode::InvalidArgument, "CLIP tokenizer: merge " + std::to_string(r) + " has an empty symbol");
    ranks.insert_or_assign(a + " " + b, static_cast<int>(r));
  }

  // all_special_tokens: bos eos unk pad additional (deduplicated).
  addedVocab.build("CLIP tokenizer", addedTokens, {config.bosToken, config.eosToken, config.unkToken, config.padToken},
                   config.additionalSpecialTokens, config.unkToken, encoder);

  bos = toId(config.bosToken);
  eos = toId(config.eosToken);
  unk = toId(config.unkToken);
  pad = toId(config.padToken);
}

std::u32string ClipTokenizer::Impl::clean(std::string_view piece) const {
  const std::u32string text = utf8ToCodePoints(piece);
  std::u32string out;
  out.reserve(text.size());
  if (config.cleaning == ClipTextCleaning::Ftfy) {
    // whitespace_clean(ftfy.fix_text(text)).lower()
    const std::u32string fixed = ftfy::fixText(text);
    bool pendingSpace = false;
    for (char32_t cp : fixed) {
      if (pyIsSpace(cp)) {
        pendingSpace = !out.empty();
        continue;
      }
      if (pendingSpace) out.push_back(U' ');
      pendingSpace = false;
      out.push_back(cp);
    }
    return pyLower(out);
  }
  // " ".join(BasicTokenizer(strip_accents=False, do_split_on_punc=False).tokenize(text)):
  // _clean_text, _tokenize_chinese_chars, NFC, whitespace split, each word lower-cased.
  const std::u32string spaced = bertCleanText(text, /*tokenizeChineseChars=*/true);
  for (const std::u32string& word : pySplit(nfc(spaced))) {
    if (!out.empty()) out.push_back(U' ');
    out += pyLower(word);
  }
  return out;
}

// CLIPTokenizer._tokenize on one piece without added tokens.
void ClipTokenizer::Impl::tokenizePiece(std::string_view piece, std::vector<std::string>& out) const {
  const std::u32string text = clean(piece);
  const ByteAlphabet& alphabet = byteAlphabet();
  static constexpr std::array<std::string_view, 7> kContractions = {"'s", "'t", "'re", "'ve", "'m", "'ll", "'d"};
  const std::size_t n = text.size();
  std::size_t i = 0;
  while (i < n) {
    // re.findall: at each position the first alternative that matches.
    std::size_t end = i;
    if (matchesIgnoreCase(text, i, kStartOfText)) {
      end = i + kStartOfText.size();
    } else if (matchesIgnoreCase(text, i, kEndOfText)) {
      end = i + kEndOfText.size();
    } else if (text[i] == U'\'') {
      for (std::string_view c : kContractions) {
        if (matchesIgnoreCase(text, i, c)) {
          end = i + c.size();
          break;
        }
      }
    }
    if (end == i) {
      const char32_t c = text[i];
      if (isLetter(c)) {
        end = i + 1;
        while (end < n && isLetter(text[end])) ++end;
      } else if (isNumber(c)) {
        end = i + 1;
      } else if (isRegexPunctuation(c)) {
        end = i + 1;
        while (end < n && isRegexPunctuation(text[end])) ++end;
      } else {  // whitespace, U+0345
        ++i;
        continue;
      }
    }
    // "".join(byte_encoder[b] for b in token.encode("utf-8")), then bpe(token).split(" ").
    std::string encoded;
    for (unsigned char b : codePointsToUtf8(text.substr(i, end - i))) encoded += alphabet.encode[b];
    std::vector<std::string> symbols = bpe(encoded);
    for (std::string& s : symbols) out.push_back(std::move(s));
    i = end;
  }
}

std::vector<std::string> ClipTokenizer::Impl::bpe(const std::string& token) const {
  if (token == kStartOfText || token == kEndOfText) return {token};
  {
    std::lock_guard<std::mutex> lock(cacheMutex);
    if (auto it = cache.find(token); it != cache.end()) return it->second;
  }
  std::vector<std::string> word = utf8Chars(token);
  word.back() += kEndOfWord;
  std::string key;
  while (word.size() > 1) {
    // The adjacent pair with the lowest rank.
    int best = INT_MAX;
    std::size_t bestAt = 0;
    for (std::size_t k = 0; k + 1 < word.size(); ++k) {
      key.assign(word[k]).append(" ").append(word[k + 1]);
      if (auto it = ranks.find(key); it != ranks.end() && it->second < best) {
        best = it->second;
        bestAt = k;
      }
    }
    if (best == INT_MAX) break;
    const std::string first = word[bestAt], second = word[bestAt + 1];
    // Merge every occurrence, left to right.
    std::vector<std::string> merged;
    merged.reserve(word.size());
    for (std::size_t k = 0; k < word.size();) {
      if (k + 1 < word.size() && word[k] == first && word[k + 1] == second) {
        merged.push_back(first + second);
        k += 2;
      } else {
        merged.push_back(std::move(word[k]));
        ++k;
      }
    }
    word.swap(merged);
  }
  {
    std::lock_guard<std::mutex> lock(cacheMutex);
    if (cache.size() >= kCacheLimit) cache.clear();
    cache.emplace(token, word);
  }
  return word;
}

// =============================================================================================

ClipTokenizer::ClipTokenizer(const ClipTokenizer& other) : impl_(std::make_unique<Impl>(*other.impl_)) {}
ClipTokenizer::ClipTokenizer(ClipTokenizer&&) noexcept = default;
ClipTokenizer& ClipTokenizer::operator=(const ClipTokenizer& other) { return *this = ClipTokenizer(other); }
ClipTokenizer& ClipTokenizer::operator=(ClipTokenizer&&) noexcept = default;
ClipTokenizer::~ClipTokenizer() = default;

ClipTokenizer::ClipTokenizer(std::vector<std::pair<std::string, int64_t>> vocab,
                             std::vector<std::pair<std::string, std::string>> merges, ClipTokenizerConfig config,
                             std::vector<AddedToken> addedTokens)
    : impl_(std::make_unique<Impl>(std::move(vocab), std::move(merges), std::move(config), std::move(addedTokens))) {}

std::vector<std::string> ClipTokenizer::tokenize(std::string_view text) const {
  const Impl& m = *impl_;
  const std::string normalized = codePointsToUtf8(utf8ToCodePoints(text));  // invalid bytes -> U+FFFD
  // Added tokens are kept whole (their lstrip / rstrip / single_word flags applied), the rest
  // goes through _tokenize.
  return m.addedVocab.tokenize(normalized, [&m](const std::string& piece, std::vector<std::string>& out) {
    m.tokenizePiece(piece, out);
  });
}

std::string ClipTokenizer::cleanText(std::string_view text) const { return codePointsToUtf8(impl_->clean(text)); }

std::vector<int64_t> ClipTokenizer::encode(std::string_view text, bool addSpecialTokens, std::optional<int> maxLength) const {
  if (maxLength && *maxLength < 0)
    throw Error(ErrorCode::InvalidArgument, "CLIP tokenizer: maxLength " + std::to_string(*maxLength) + " is negative");
  const Impl& m = *impl_;
  std::vector<int64_t> ids;
  for (const std::string& t : tokenize(text)) ids.push_back(m.toId(t));
  const int64_t specials = addSpecialTokens ? 2 : 0;
  const auto total = static_cast<int64_t>(ids.size()) + specials;
  if (maxLength && total > *maxLength) {
    // truncate_sequences (longest_first, one sequence): only when the text keeps >= 1 token.
    const int64_t remove = total - *maxLength;
    if (static_cast<int64_t>(ids.size()) > remove) ids.resize(ids.size() - static_cast<std::size_t>(remove));
  }
  if (!addSpecialTokens) return ids;
  std::vector<int64_t> out;
  out.reserve(ids.size() + 2);
  out.push_back(m.bos);
  out.insert(out.end(), ids.begin(), ids.end());
  out.push_back(m.eos);
  return out;
}

ClipBatchEncoding ClipTokenizer::encodeBatch(const std::vector<std::string>& texts, ClipPadding padding,
                                             std::optional<int> maxLength) const {
  const int limit = maxLength.value_or(impl_->config.modelMaxLength);
  if (limit < 0) throw Error(ErrorCode::InvalidArgument, "CLIP tokenizer: maxLength " + std::to_string(limit) + " is negative");
  ClipBatchEncoding batch;
  std::size_t longest = 0;
  for (const std::string& t : texts) {
    batch.ids.push_back(encode(t, true, limit));
    longest = std::max(longest, batch.ids.back().size());
  }
  const std::size_t length = padding == ClipPadding::Longest ? longest : std::max<std::size_t>(static_cast<std::size_t>(limit), 0);
  for (std::vector<int64_t>& row : batch.ids) {
    std::vector<int64_t> mask(row.size(), 1);
    if (row.size() < length) {
      mask.resize(length, 0);
      row.resize(length, impl_->pad);
    }
    batch.attentionMask.push_back(std::move(mask));
  }
  return batch;
}

std::string ClipTokenizer::decode(const std::vector<int64_t>& ids, bool skipSpecialTokens) const {
  const Impl& m = *impl_;
  const ByteAlphabet& alphabet = byteAlphabet();
  // convert_ids_to_tokens(ids, skip_special_tokens), then _decode.
  std::vector<std::string> tokens;
  tokens.reserve(ids.size());
  for (int64_t id : ids) {
    if (skipSpecialTokens && m.addedVocab.specialIds.count(id)) continue;
    const std::string* token = m.tokenFor(id);
    if (!token) throw Error(ErrorCode::InvalidArgument, "CLIP tokenizer: id " + std::to_string(id) + " has no token");
    tokens.push_back(*token);
  }
  // convert_tokens_to_string: characters -> bytes, UTF-8 with errors="replace", "</w>" -> " ". A
  // character outside the byte alphabet (only in unusual added tokens; Python fails there) is
  // kept as its UTF-8.
  auto convertTokensToString = [&alphabet](const std::vector<const std::string*>& run) {
    std::string bytes;
    for (const std::string* t : run) {
      for (char32_t cp : utf8ToCodePoints(*t)) {
        if (auto it = alphabet.decode.find(cp); it != alphabet.decode.end()) {
          bytes.push_back(static_cast<char>(it->second));
        } else {
          appendUtf8(bytes, cp);
        }
      }
    }
    std::string s = codePointsToUtf8(utf8ToCodePoints(bytes));
    replaceAll(s, kEndOfWord, " ");
    return s;
  };
  return m.addedVocab.decode(tokens, convertTokensToString, m.config.cleanUpTokenizationSpaces);
}

std::string ClipTokenizer::idToToken(int64_t id) const {
  const std::string* t = impl_->tokenFor(id);
  return t ? *t : impl_->config.unkToken;
}
int64_t ClipTokenizer::tokenToId(std::string_view token) const { return impl_->toId(token); }
int64_t ClipTokenizer::bosId() const { return impl_->bos; }
int64_t ClipTokenizer::eosId() const { return impl_->eos; }
int64_t ClipTokenizer::padId() const { return impl_->pad; }
int64_t ClipTokenizer::unkId() const { return impl_->unk; }
std::size_t ClipTokenizer::vocabSize() const { return impl_->encoder.size(); }
int ClipTokenizer::modelMaxLength() const { return impl_->config.modelMaxLength; }
bool ClipTokenizer::isSpecial(int64_t id) const { return impl_->addedVocab.specialIds.count(id) != 0; }
ClipTextCleaning ClipTokenizer::textCleaning() const { return impl_->config.cleaning; }
const ClipTokenizerConfig& ClipTokenizer::config() const { return impl_->config; }
std::vector<AddedToken> ClipTokenizer::addedTokens() const { return impl_->addedVocab.added; }

// =============================================================================================
// fromFolder

namespace {

std::vector<std::pair<std::string, int64_t>> vocabFromObject(const json& v, const fs::path& file, const std::string& key) {
  if (!v.is_object()) badValue(file, key, "an object of token: id");
  std::vector<std::pair<std::string, int64_t>> vocab;
  vocab.reserve(v.size());
  for (auto it = v.begin(); it != v.end(); ++it) {
    if (!it->is_number_integer()) badValue(file, key, "an object of token: integer id ('" + it.key() + "' is not)");
    const auto id = it->get<int64_t>();
    if (id < 0) badValue(file, key, "an object of token: non-negative id ('" + it.key() + "' is not)");
    vocab.emplace_back(it.key(), id);
  }
  if (vocab.empty()) throw Error(ErrorCode::Corrupt, file.string() + ": the vocabulary is empty", file.string());
  return vocab;
}

// vocab.json as (token, id) pairs in file order (what Python's json.load keeps), read with a SAX
// parser: a DOM with ordered keys would cost a linear search per entry.
class VocabSax : public nlohmann::json_sax<json> {
 public:
  std::vector<std::pair<std::string, int64_t>> entries;
  std::string problem;  // the first structural problem, empty when none

  bool null() override { return value("null"); }
  bool boolean(bool) override { return value("a boolean"); }
  bool number_integer(number_integer_t v) override { return id(static_cast<int64_t>(v)); }
  bool number_unsigned(number_unsigned_t v) override {
    return v > static_cast<number_unsigned_t>(INT64_MAX) ? value("a number out of range") : id(static_cast<int64_t>(v));
  }
  bool number_float(number_float_t, const string_t&) override { return value("not an integer"); }
  bool string(string_t&) override { return value("a string"); }
  bool binary(binary_t&) override { return value("binary data"); }
  bool start_object(std::size_t) override {
    if (depth_++ != 0) return value("an object");
    return true;
  }
  bool key(string_t& k) override {
    key_ = std::move(k);
    return true;
  }
  bool end_object() override {
    --depth_;
    return true;
  }
  bool start_array(std::size_t) override {
    if (depth_ == 0) return fail("the top level must be an object of token: id, not a list");
    return value("a list");
  }
  bool end_array() override { return true; }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) override {
    return fail(std::string("not valid JSON (") + e.what() + ")");
  }

 private:
  int depth_ = 0;
  std::string key_;
  bool fail(const std::string& why) {
    if (problem.empty()) problem = why;
    return false;
  }
  bool value(const char* what) {
    if (depth_ == 0) return fail(std::string("the top level must be an object of token: id, not ") + what);
    return fail("the id of '" + key_ + "' must be a non-negative integer, not " + what);
  }
  bool id(int64_t v) {
    if (depth_ == 0) return fail("the top level must be an object of token: id, not a number");
    if (v < 0) return fail("the id of '" + key_ + "' must be a non-negative integer, not " + std::to_string(v));
    entries.emplace_back(key_, v);
    return true;
  }
};

std::vector<std::pair<std::string, int64_t>> readVocabJson(const fs::path& path) {
  const std::string text = io::readFile(path);
  VocabSax sax;
  bool ok = false;
  try {
    ok = json::sax_parse(text, &sax);
  } catch (const json::exception& e) {
    if (sax.problem.empty()) sax.problem = std::string("not valid JSON (") + e.what() + ")";
  }
  if (!ok || !sax.problem.empty())
    throw Error(ErrorCode::Corrupt, path.string() + ": " + (sax.problem.empty() ? std::string("not valid JSON") : sax.problem),
                path.string());
  if (sax.entries.empty()) throw Error(ErrorCode::Corrupt, path.string() + ": the vocabulary is empty", path.string());
  return std::move(sax.entries);
}

// merges.txt as CLIPTokenizer reads it: read().strip().split("\n")[1:48895], each line split on
// whitespace into the pair. Universal newlines (\r\n, \r) as Python's text mode.
std::vector<std::pair<std::string, std::string>> readMergesTxt(const fs::path& path) {
  const std::string raw = io::readFile(path);
  if (!isValidUtf8(raw)) throw Error(ErrorCode::Corrupt, path.string() + ": not valid UTF-8", path.string());
  const std::vector<std::string> lines = splitLines(pyStripUtf8(raw), /*keepEmptyLast=*/true);
  std::vector<std::pair<std::string, std::string>> merges;
  for (std::size_t i = 1; i < lines.size() && merges.size() < kMaxMerges; ++i) {
    const std::vector<std::u32string> fields = pySplit(utf8ToCodePoints(lines[i]));
    if (fields.size() != 2)
      throw Error(ErrorCode::Corrupt,
                  path.string() + ": line " + std::to_string(i + 1) + " is not a merge of two symbols (\"a b\")", path.string());
    merges.emplace_back(codePointsToUtf8(fields[0]), codePointsToUtf8(fields[1]));
  }
  return merges;
}

struct TokenizerJsonModel {
  std::vector<std::pair<std::string, int64_t>> vocab;
  std::vector<std::pair<std::string, std::string>> merges;
};

TokenizerJsonModel readTokenizerJsonModel(const json& tj, const fs::path& file) {
  auto model = tj.find("model");
  if (model == tj.end() || !model->is_object()) badValue(file, "model", "an object");
  const std::string type = model->value("type", std::string());
  if (type != "BPE") throw Error(ErrorCode::Unsupported, file.string() + ": model type '" + type + "' is not BPE", file.string());
  auto suffix = model->find("end_of_word_suffix");
  if (suffix == model->end() || !suffix->is_string() || suffix->get<std::string>() != kEndOfWord)
    throw Error(ErrorCode::Unsupported, file.string() + ": not a CLIP BPE (end_of_word_suffix is not \"</w>\")", file.string());
  TokenizerJsonModel m;
  auto vocab = model->find("vocab");
  if (vocab == model->end()) badValue(file, "model.vocab", "an object of token: id");
  m.vocab = vocabFromObject(*vocab, file, "model.vocab");
  auto merges = model->find("merges");
  if (merges == model->end() || !merges->is_array()) badValue(file, "model.merges", "a list");
  for (const auto& e : *merges) {
    if (e.is_string()) {
      const std::vector<std::u32string> fields = pySplit(utf8ToCodePoints(e.get<std::string>()));
      if (fields.size() != 2) badValue(file, "model.merges", "a list of \"a b\" strings or [\"a\", \"b\"] pairs");
      m.merges.emplace_back(codePointsToUtf8(fields[0]), codePointsToUtf8(fields[1]));
    } else if (e.is_array() && e.size() == 2 && e[0].is_string() && e[1].is_string() && !e[0].get<std::string>().empty() &&
               !e[1].get<std::string>().empty()) {
      m.merges.emplace_back(e[0].get<std::string>(), e[1].get<std::string>());
    } else {
      badValue(file, "model.merges", "a list of \"a b\" strings or [\"a\", \"b\"] pairs");
    }
  }
  return m;
}

}  // namespace

bool ClipTokenizer::isClipTokenizerFolder(const fs::path& dir) {
  try {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) return false;
    bool hasBpe = fs::exists(dir / "vocab.json", ec) && fs::exists(dir / "merges.txt", ec);
    if (!hasBpe && fs::exists(dir / "tokenizer.json", ec)) {
      const json tj = readJson(dir / "tokenizer.json");
      hasBpe = tj.is_object() && tj.contains("model") && tj["model"].is_object() && tj["model"].value("type", "") == "BPE";
    }
    if (!hasBpe) return false;
    if (fs::exists(dir / "config.json", ec)) {
      const json cj = readJson(dir / "config.json");
      if (cj.is_object() && cj.contains("model_type") && cj["model_type"].is_string()) {
        const std::string type = cj["model_type"].get<std::string>();
        if (type == "clip" || type == "clip_text_model") return true;
      }
    }
    if (fs::exists(dir / "tokenizer_config.json", ec)) {
      const json tc = readJson(dir / "tokenizer_config.json");
      if (tc.is_object() && tc.contains("tokenizer_class") && tc["tokenizer_class"].is_string()) {
        const std::string cls = tc["tokenizer_class"].get<std::string>();
        if (cls == "CLIPTokenizer" || cls == "CLIPTokenizerFast") return true;
      }
    }
  } catch (const std::exception&) {
  }
  return false;
}

ClipTokenizer ClipTokenizer::fromFolder(const fs::path& dir, ClipTextCleaning cleaning) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw Error(ErrorCode::NotFound, dir.string() + ": no such tokenizer folder", dir.string());
  const fs::path vocabJson = dir / "vocab.json";
  const fs::path mergesTxt = dir / "merges.txt";
  const fs::path tokenizerJson = dir / "tokenizer.json";
  const bool hasVocab = fs::exists(vocabJson, ec);
  const bool hasMerges = fs::exists(mergesTxt, ec);
  const bool hasTokenizerJson = fs::exists(tokenizerJson, ec);
  if (!hasTokenizerJson) {
    if (!hasVocab && !hasMerges)
      throw Error(ErrorCode::NotFound, dir.string() + ": neither vocab.json + merges.txt nor tokenizer.json (not a CLIP tokenizer folder)",
                  dir.string());
    if (!hasVocab) throw Error(ErrorCode::NotFound, vocabJson.string() + ": missing (merges.txt is there)", vocabJson.string());
    if (!hasMerges) throw Error(ErrorCode::NotFound, mergesTxt.string() + ": missing (vocab.json is there)", mergesTxt.string());
  }

  ClipTokenizerConfig config;
  config.cleaning = cleaning;
  std::vector<std::pair<std::string, int64_t>> vocab;
  std::vector<std::pair<std::string, std::string>> merges;
  std::vector<AddedToken> fileAddedTokens;

  const bool useFiles = hasVocab && hasMerges;
  if (hasTokenizerJson) try {
      const json tj = readJsonObject(tokenizerJson);
      if (!useFiles) {
        TokenizerJsonModel m = readTokenizerJsonModel(tj, tokenizerJson);
        vocab = std::move(m.vocab);
        merges = std::move(m.merges);
      }
      fileAddedTokens = readTokenizerJsonAddedTokens(tj, tokenizerJson);
    } catch (const json::exception& e) {
      throw Error(ErrorCode::Corrupt, tokenizerJson.string() + ": unexpected content (" + e.what() + ")", tokenizerJson.string());
    }
  if (useFiles) {
    vocab = readVocabJson(vocabJson);
    merges = readMergesTxt(mergesTxt);
  }

  // tokenizer_config.json: CLIPTokenizer's init arguments; then special_tokens_map.json.
  const SpecialTokenSlots slots{{{"bos_token", &config.bosToken},
                                         {"eos_token", &config.eosToken},
                                         {"unk_token", &config.unkToken},
                                         {"pad_token", &config.padToken}},
                                        {},
                                        &config.additionalSpecialTokens};
  std::optional<std::vector<AddedToken>> configAddedTokens =
      readTokenizerConfig(dir, slots, [&config](const json& cj, const fs::path& configJson) {
        readBool(cj, "clean_up_tokenization_spaces", configJson, config.cleanUpTokenizationSpaces);
        readInt(cj, "model_max_length", configJson, config.modelMaxLength);
        if (auto it = cj.find("errors"); it != cj.end() && !it->is_null()) {
          if (!it->is_string()) badValue(configJson, "errors", "a string");
          if (it->get<std::string>() != "replace")
            throw Error(ErrorCode::Unsupported,
                        configJson.string() + ": errors '" + it->get<std::string>() + "' (only \"replace\" is supported)",
                        configJson.string());
        }
      });

  try {
    return ClipTokenizer(std::move(vocab), std::move(merges), std::move(config),
                         configAddedTokens ? std::move(*configAddedTokens) : std::move(fileAddedTokens));
  } catch (const Error& e) {
    if (e.code() != ErrorCode::InvalidArgument) throw;
    throw Error(ErrorCode::Corrupt, dir.string() + ": " + e.what(), dir.string());
  }
}

}  // namespace vlm::text
