#include "text/wordpiece.h"

#include <algorithm>
#include <array>
#include <climits>
#include <unordered_map>
#include <unordered_set>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "io/files.h"
#include "text/unicode.h"

namespace vlm::text {

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};
template <class V>
using StringMap = std::unordered_map<std::string, V, StringHash, std::equal_to<>>;
using StringSet = std::unordered_set<std::string, StringHash, std::equal_to<>>;

constexpr std::string_view kContinuationPrefix = "##";

// BasicTokenizer._is_chinese_char: the CJK Unified Ideographs blocks (not Hangul, kana, ...).
bool isChineseChar(char32_t cp) {
  return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0x20000 && cp <= 0x2A6DF) ||
         (cp >= 0x2A700 && cp <= 0x2B73F) || (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B820 && cp <= 0x2CEAF) ||
         (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

// _is_whitespace: ' ', \t, \n, \r or category Zs.
bool isBertWhitespace(char32_t cp) {
  if (cp == ' ' || cp == '\t' || cp == '\n' || cp == '\r') return true;
  return cp >= 0x80 && generalCategory(cp) == GeneralCategory::Zs;
}

// _is_control: category C* except \t, \n, \r.
bool isBertControl(char32_t cp) {
  if (cp == '\t' || cp == '\n' || cp == '\r') return false;
  if (cp < 0x80) return cp < 0x20 || cp == 0x7F;
  return isOtherCategory(generalCategory(cp));
}

// _is_punctuation: all non-alphanumeric printable ASCII, and category P*.
bool isBertPunctuation(char32_t cp) {
  if ((cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126)) return true;
  return cp >= 0x80 && isPunctuationCategory(generalCategory(cp));
}

// str.replace(from, to): every non-overlapping occurrence, left to right.
void replaceAll(std::string& s, std::string_view from, std::string_view to) {
  std::size_t pos = s.find(from);
  if (pos == std::string::npos) return;
  std::string out;
  out.reserve(s.size());
  std::size_t last = 0;
  while (pos != std::string::npos) {
    out.append(s, last, pos - last);
    out.append(to);
    last = pos + from.size();
    pos = s.find(from, last);
  }
  out.append(s, last);
  s.swap(out);
}

// PreTrainedTokenizerBase.clean_up_tokenization.
void cleanUpTokenization(std::string& s) {
  replaceAll(s, " .", ".");
  replaceAll(s, " ?", "?");
  replaceAll(s, " !", "!");
  replaceAll(s, " ,", ",");
  replaceAll(s, " ' ", "'");
  replaceAll(s, " n't", "n't");
  replaceAll(s, " 'm", "'m");
  replaceAll(s, " 's", "'s");
  replaceAll(s, " 've", "'ve");
  replaceAll(s, " 're", "'re");
}

// The Rust tokenizers' WordPiece decoder clean-up (applied per token there).
void rustCleanup(std::string& s) {
  replaceAll(s, " .", ".");
  replaceAll(s, " ?", "?");
  replaceAll(s, " !", "!");
  replaceAll(s, " ,", ",");
  replaceAll(s, " ' ", "'");
  replaceAll(s, " n't", "n't");
  replaceAll(s, " 'm", "'m");
  replaceAll(s, " do not", " don't");
  replaceAll(s, " 's", "'s");
  replaceAll(s, " 've", "'ve");
  replaceAll(s, " 're", "'re");
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

  // Added tokens (_added_tokens_decoder / _added_tokens_encoder).
  std::vector<AddedToken> added;  // by increasing id, one per id
  std::unordered_map<int64_t, std::size_t> addedById;
  StringMap<int64_t> addedIdByContent;
  // Split points: added token contents, by first byte, longest first.
  std::array<std::vector<std::string>, 256> splitCandidates;

  std::vector<std::string> allSpecialTokens;  // bos eos unk sep pad cls mask additional (deduplicated)
  std::unordered_set<int64_t> specialIds;     // all_special_ids
  StringSet legacyAddedTokens;                // decoded on their own by the slow decode
  StringSet fastSpecialContents;              // the fast tokenizer's special added tokens
  std::vector<std::u32string> lowerProtected;  // kept verbatim by the lower-casing pass
  StringSet neverSplitConfig;                  // basic_tokenizer.never_split
  StringSet neverSplitAll;                     // + all special tokens

  int64_t unk = 0, cls = 0, sep = 0, pad = 0, mask = 0;
  bool lowerInTokenize = false;  // hasattr(self, "do_lower_case") and self.do_lower_case

  Impl(std::vector<std::string> vocabLines, BertTokenizerConfig cfg, std::vector<AddedToken> addedTokens);

  int64_t toId(std::string_view token) const {
    if (auto it = addedIdByContent.find(token); it != addedIdByContent.end()) return it->second;
    if (auto it = vocab.find(token); it != vocab.end()) return it->second;
    return unk;
  }
  const AddedToken* addedFor(int64_t id) const {
    auto it = addedById.find(id);
    return it == addedById.end() ? nullptr : &added[it->second];
  }
  const std::string* vocabToken(int64_t id) const {
    if (id < 0 || id >= static_cast<int64_t>(idToToken.size()) || !idHasToken[static_cast<std::size_t>(id)]) return nullptr;
    return &idToToken[static_cast<std::size_t>(id)];
  }
  std::string toToken(int64_t id) const {
    if (const AddedToken* a = addedFor(id)) return a->content;
    if (const std::string* t = vocabToken(id)) return *t;
    return config.unkToken;
  }

  std::u32string lowerOutsideProtected(std::u32string_view text) const;
  std::vector<std::string> splitOnAddedTokens(const std::string& text) const;
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

  // all_special_tokens: SPECIAL_TOKENS_ATTRIBUTES order, deduplicated, empty ones unset.
  auto addSpecial = [&](const std::string& t) {
    if (!t.empty() && std::find(allSpecialTokens.begin(), allSpecialTokens.end(), t) == allSpecialTokens.end())
      allSpecialTokens.push_back(t);
  };
  if (config.bosToken) addSpecial(*config.bosToken);
  if (config.eosToken) addSpecial(*config.eosToken);
  for (const std::string* t : {&config.unkToken, &config.sepToken, &config.padToken, &config.clsToken, &config.maskToken})
    addSpecial(*t);
  for (const std::string& t : config.additionalSpecialTokens) addSpecial(t);

  // _added_tokens_decoder.update(added_tokens_decoder); encoder = {content: id} (last one wins).
  std::unordered_map<int64_t, AddedToken> byId;
  for (const AddedToken& t : addedTokens) {
    if (t.id < 0) throw Error(ErrorCode::InvalidArgument, "WordPiece tokenizer: added token '" + t.content + "' has a negative id");
    if (!isValidUtf8(t.content)) throw Error(ErrorCode::InvalidArgument, "WordPiece tokenizer: an added token is not valid UTF-8");
    if (!t.content.empty()) byId.insert_or_assign(t.id, t);
  }
  for (const AddedToken& t : addedTokens)
    if (!t.content.empty() && byId.at(t.id).content == t.content) addedIdByContent.insert_or_assign(t.content, t.id);
  // Then the special tokens not yet added: with their vocabulary id, else the next free id
  // (len(get_vocab()), get_vocab() = vocab + added tokens).
  StringSet current;
  for (const auto& [tok, id] : vocab) current.insert(tok);
  for (const auto& [content, id] : addedIdByContent) current.insert(content);
  const int64_t newIdx = static_cast<int64_t>(current.size());
  int64_t appended = 0;
  for (const std::string& t : allSpecialTokens) {
    if (addedIdByContent.count(t)) continue;
    const auto it = vocab.find(t);
    const int64_t id = it != vocab.end() ? it->second : newIdx + appended++;
    AddedToken a;
    a.content = t, a.id = id, a.special = true, a.normalized = false;
    byId.insert_or_assign(id, a);
    addedIdByContent.insert_or_assign(t, id);
  }
  for (auto& [id, t] : byId) added.push_back(std::move(t));
  std::sort(added.begin(), added.end(), [](const AddedToken& a, const AddedToken& b) { return a.id < b.id; });
  for (std::size_t i = 0; i < added.size(); ++i) addedById.emplace(added[i].id, i);

  for (const auto& [content, id] : addedIdByContent) {
    splitCandidates[static_cast<unsigned char>(content[0])].push_back(content);
  }
  for (auto& list : splitCandidates)
    std::sort(list.begin(), list.end(), [](const std::string& a, const std::string& b) {
      return a.size() != b.size() ? a.size() > b.size() : a < b;
    });

  unk = toId(config.unkToken);
  cls = toId(config.clsToken);
  sep = toId(config.sepToken);
  pad = toId(config.padToken);
  mask = toId(config.maskToken);

  const StringSet specialSet(allSpecialTokens.begin(), allSpecialTokens.end());
  for (const std::string& t : allSpecialTokens) specialIds.insert(toId(t));
  const int64_t vocabSize = static_cast<int64_t>(vocab.size());
  for (const auto& [content, id] : addedIdByContent)
    if (!specialSet.count(content)) legacyAddedTokens.insert(content);
  for (const std::string& t : config.additionalSpecialTokens)
    if (toId(t) >= vocabSize) legacyAddedTokens.insert(t);
  for (const AddedToken& a : added)
    if (a.special || specialSet.count(a.content)) fastSpecialContents.insert(a.content);

  lowerInTokenize = config.doBasicTokenize && config.doLowerCase;
  for (const std::string& t : allSpecialTokens) lowerProtected.push_back(utf8ToCodePoints(t));
  for (const AddedToken& a : added)
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

// tokens_trie.split(text): cut around added tokens, the leftmost match first, the longest of
// those starting there. Empty pieces are dropped.
std::vector<std::string> WordPieceTokenizer::Impl::splitOnAddedTokens(const std::string& text) const {
  std::vector<std::string> pieces;
  std::size_t last = 0, i = 0;
  while (i < text.size()) {
    const auto& candidates = splitCandidates[static_cast<unsigned char>(text[i])];
    const std::string* match = nullptr;
    for (const std::string& c : candidates) {
      if (text.compare(i, c.size(), c) == 0) {
        match = &c;
        break;
      }
    }
    if (!match) {
      ++i;
      continue;
    }
    if (i > last) pieces.emplace_back(text.substr(last, i - last));
    pieces.push_back(*match);
    i += match->size();
    last = i;
  }
  if (last < text.size()) pieces.emplace_back(text.substr(last));
  return pieces;
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
  // _clean_text and _tokenize_chinese_chars.
  std::u32string text;
  text.reserve(piece.size() + 8);
  for (char32_t cp : utf8ToCodePoints(piece)) {
    if (cp == 0 || cp == kReplacementCharacter || isBertControl(cp)) continue;
    if (isBertWhitespace(cp)) {
      text.push_back(U' ');
    } else if (config.tokenizeChineseChars && isChineseChar(cp)) {
      text.push_back(U' ');
      text.push_back(cp);
      text.push_back(U' ');
    } else {
      text.push_back(cp);
    }
  }
  text = nfc(text);

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

WordPieceTokenizer::WordPieceTokenizer(std::vector<std::string> vocab, BertTokenizerConfig config)
    : WordPieceTokenizer(std::move(vocab), std::move(config), {}) {}

WordPieceTokenizer::WordPieceTokenizer(std::vector<std::string> vocab, BertTokenizerConfig config,
                                       std::vector<AddedToken> addedTokens)
    : impl_(std::make_unique<Impl>(std::move(vocab), std::move(config), std::move(addedTokens))) {}

WordPieceTokenizer::WordPieceTokenizer(const WordPieceTokenizer& other) : impl_(std::make_unique<Impl>(*other.impl_)) {}
WordPieceTokenizer::WordPieceTokenizer(WordPieceTokenizer&&) noexcept = default;
WordPieceTokenizer& WordPieceTokenizer::operator=(const WordPieceTokenizer& other) {
  if (this != &other) impl_ = std::make_unique<Impl>(*other.impl_);
  return *this;
}
WordPieceTokenizer& WordPieceTokenizer::operator=(WordPieceTokenizer&&) noexcept = default;
WordPieceTokenizer::~WordPieceTokenizer() = default;

std::vector<std::string> WordPieceTokenizer::tokenize(std::string_view text) const {
  const Impl& m = *impl_;
  std::string normalized;
  if (m.lowerInTokenize) {
    normalized = codePointsToUtf8(m.lowerOutsideProtected(utf8ToCodePoints(text)));
  } else {
    normalized = codePointsToUtf8(utf8ToCodePoints(text));  // invalid bytes -> U+FFFD
  }

  // Cut around added tokens, then apply their lstrip / rstrip / single_word flags, updating the
  // neighbours in place exactly as PreTrainedTokenizer.tokenize does.
  std::vector<std::string> pieces = m.splitOnAddedTokens(normalized);
  for (std::size_t i = 0; i < pieces.size(); ++i) {
    auto it = m.addedIdByContent.find(pieces[i]);
    if (it == m.addedIdByContent.end()) continue;
    const AddedToken* tok = m.addedFor(it->second);
    if (!tok) continue;
    // `left` / `right` are read before the strips below change the neighbours.
    const std::string left = i > 0 ? pieces[i - 1] : std::string();
    const std::string right = i + 1 < pieces.size() ? pieces[i + 1] : std::string();
    if (tok->rstrip && !right.empty()) pieces[i + 1] = pyLStripUtf8(right);
    if (tok->lstrip && !left.empty()) pieces[i - 1] = pyRStripUtf8(left);
    if (tok->singleWord && !left.empty() && left.back() != ' ') {
      pieces[i - 1] += pieces[i];
      pieces[i].clear();
    } else if (tok->singleWord && !right.empty() && right.front() != ' ') {
      pieces[i + 1] = pieces[i] + pieces[i + 1];
      pieces[i].clear();
    }
  }

  std::vector<std::string> tokens;
  tokens.reserve(normalized.size() / 3 + 4);
  for (const std::string& piece : pieces) {
    if (piece.empty()) continue;
    if (m.addedIdByContent.count(piece)) {
      tokens.push_back(piece);
    } else {
      m.tokenizePiece(piece, tokens);
    }
  }
  return tokens;
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
  // convert_ids_to_tokens(ids, skip_special_tokens), then _decode: runs of ordinary tokens go
  // through convert_tokens_to_string (" ".join, drop " ##", strip); "legacy" added tokens stand
  // alone; the parts are joined with spaces (spaces_between_special_tokens=True).
  std::vector<std::string> parts;
  std::vector<const std::string*> run;
  std::vector<std::string> tokens;
  tokens.reserve(ids.size());
  for (int64_t id : ids) {
    if (skipSpecialTokens && m.specialIds.count(id)) continue;
    tokens.push_back(m.toToken(id));
  }
  auto flush = [&](bool keepEmpty) {
    if (run.empty()) return;
    std::string s;
    for (std::size_t i = 0; i < run.size(); ++i) {
      if (i) s.push_back(' ');
      s += *run[i];
    }
    replaceAll(s, " ##", "");
    s = pyStripUtf8(s);
    if (keepEmpty || !s.empty()) parts.push_back(std::move(s));
    run.clear();
  };
  for (const std::string& t : tokens) {
    if (m.legacyAddedTokens.count(t)) {
      flush(false);
      parts.push_back(t);
    } else {
      run.push_back(&t);
    }
  }
  flush(true);
  std::string text;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (i) text.push_back(' ');
    text += parts[i];
  }
  if (m.config.cleanUpTokenizationSpaces) cleanUpTokenization(text);
  return text;
}

std::string WordPieceTokenizer::decodeForDisplay(const std::vector<int64_t>& ids) const {
  const Impl& m = *impl_;
  // tokenizers' Tokenizer::decode(ids, skip_special_tokens=true): unknown ids are dropped,
  // special tokens skipped; then the WordPiece decoder; then transformers' clean-up.
  std::string text;
  bool first = true;
  for (int64_t id : ids) {
    std::string token;
    if (const AddedToken* a = m.addedFor(id)) {
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
    if (m.config.cleanUpTokenizationSpaces) rustCleanup(token);
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
bool WordPieceTokenizer::isSpecial(int64_t id) const { return impl_->specialIds.count(id) != 0; }
const BertTokenizerConfig& WordPieceTokenizer::config() const { return impl_->config; }
std::vector<AddedToken> WordPieceTokenizer::addedTokens() const { return impl_->added; }

// =============================================================================================
// fromFolder

namespace {

json readJson(const fs::path& path) {
  const std::string text = io::readFile(path);
  try {
    return json::parse(text);
  } catch (const json::exception& e) {
    throw Error(ErrorCode::Corrupt, path.string() + ": not valid JSON (" + e.what() + ")", path.string());
  }
}

[[noreturn]] void badValue(const fs::path& file, const std::string& key, const std::string& expected) {
  throw Error(ErrorCode::Corrupt, file.string() + ": '" + key + "' must be " + expected, file.string());
}

void readBool(const json& j, const char* key, const fs::path& file, bool& out) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return;
  if (!it->is_boolean()) badValue(file, key, "true or false");
  out = it->get<bool>();
}

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

// A token given as "text" or as a serialised AddedToken {"content": "text", ...}.
std::optional<std::string> tokenText(const json& v, const std::string& key, const fs::path& file) {
  if (v.is_null()) return std::nullopt;
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object()) {
    auto c = v.find("content");
    if (c != v.end() && c->is_string()) return c->get<std::string>();
  }
  badValue(file, key, "a string or an object with a string \"content\"");
}

void readToken(const json& j, const char* key, const fs::path& file, std::string& out) {
  auto it = j.find(key);
  if (it == j.end()) return;
  if (auto t = tokenText(*it, key, file)) out = *t;
}

void readOptionalToken(const json& j, const char* key, const fs::path& file, std::optional<std::string>& out) {
  auto it = j.find(key);
  if (it == j.end()) return;
  out = tokenText(*it, key, file);
}

void readInt(const json& j, const char* key, const fs::path& file, int& out) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return;
  if (!it->is_number()) badValue(file, key, "a number");
  // Hub configs write "no limit" as 1e30: clamp to int.
  const double v = it->get<double>();
  out = v >= static_cast<double>(INT_MAX) ? INT_MAX : v <= static_cast<double>(INT_MIN) ? INT_MIN : static_cast<int>(v);
}

std::vector<std::string> tokenList(const json& v, const std::string& key, const fs::path& file) {
  std::vector<std::string> out;
  if (v.is_null()) return out;
  if (!v.is_array()) badValue(file, key, "a list of tokens");
  for (const json& e : v)
    if (auto t = tokenText(e, key, file)) out.push_back(*t);
  return out;
}

AddedToken parseAddedToken(const json& v, int64_t id, const std::string& key, const fs::path& file) {
  if (!v.is_object()) badValue(file, key, "an object");
  AddedToken t;
  t.id = id;
  auto c = v.find("content");
  if (c == v.end() || !c->is_string()) badValue(file, key + ".content", "a string");
  t.content = c->get<std::string>();
  auto flag = [&](const char* name, bool& out) {
    auto it = v.find(name);
    if (it == v.end() || it->is_null()) return;
    if (!it->is_boolean()) badValue(file, key + "." + name, "true or false");
    out = it->get<bool>();
  };
  flag("special", t.special);
  t.normalized = !t.special;  // AddedToken's default
  flag("lstrip", t.lstrip);
  flag("rstrip", t.rstrip);
  flag("single_word", t.singleWord);
  flag("normalized", t.normalized);
  return t;
}

// load_vocab: lines as Python's text-mode readlines() (universal newlines: \n, \r\n, \r), each
// with its newline removed; line i is id i.
std::vector<std::string> readVocabTxt(const fs::path& path) {
  const std::string text = io::readFile(path);
  std::vector<std::string> lines;
  std::size_t start = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\n' && text[i] != '\r') continue;
    lines.emplace_back(text.substr(start, i - start));
    if (text[i] == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
    start = i + 1;
  }
  if (start < text.size()) lines.emplace_back(text.substr(start));
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
  const fs::path configJson = dir / "tokenizer_config.json";
  const fs::path specialJson = dir / "special_tokens_map.json";
  const bool hasVocabTxt = fs::exists(vocabTxt, ec);
  const bool hasTokenizerJson = fs::exists(tokenizerJson, ec);
  if (!hasVocabTxt && !hasTokenizerJson)
    throw Error(ErrorCode::NotFound, dir.string() + ": neither vocab.txt nor tokenizer.json (not a WordPiece tokenizer folder)", dir.string());

  BertTokenizerConfig config;
  std::vector<std::string> vocab;
  std::vector<AddedToken> fileAddedTokens;

  // tokenizer.json: the fast tokenizer's description; its options are the defaults here.
  if (hasTokenizerJson) try {
    const json tj = readJson(tokenizerJson);
    if (!tj.is_object()) throw Error(ErrorCode::Corrupt, tokenizerJson.string() + ": not a JSON object", tokenizerJson.string());
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
    if (auto at = tj.find("added_tokens"); at != tj.end() && !at->is_null()) {
      if (!at->is_array()) badValue(tokenizerJson, "added_tokens", "a list");
      for (const json& e : *at) {
        if (!e.is_object() || !e.contains("id") || !e["id"].is_number_integer()) badValue(tokenizerJson, "added_tokens[].id", "an integer");
        fileAddedTokens.push_back(parseAddedToken(e, e["id"].get<int64_t>(), "added_tokens[]", tokenizerJson));
      }
    }
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

  // tokenizer_config.json: BertTokenizer's init arguments.
  bool configHasAddedTokens = false;
  std::vector<AddedToken> configAddedTokens;
  if (fs::exists(configJson, ec)) {
    const json cj = readJson(configJson);
    if (!cj.is_object()) throw Error(ErrorCode::Corrupt, configJson.string() + ": not a JSON object", configJson.string());
    readBool(cj, "do_lower_case", configJson, config.doLowerCase);
    readOptionalBool(cj, "strip_accents", configJson, config.stripAccents);
    readBool(cj, "tokenize_chinese_chars", configJson, config.tokenizeChineseChars);
    readBool(cj, "do_basic_tokenize", configJson, config.doBasicTokenize);
    readBool(cj, "clean_up_tokenization_spaces", configJson, config.cleanUpTokenizationSpaces);
    readInt(cj, "model_max_length", configJson, config.modelMaxLength);
    if (auto it = cj.find("never_split"); it != cj.end()) config.neverSplit = tokenList(*it, "never_split", configJson);
    readToken(cj, "unk_token", configJson, config.unkToken);
    readToken(cj, "cls_token", configJson, config.clsToken);
    readToken(cj, "sep_token", configJson, config.sepToken);
    readToken(cj, "pad_token", configJson, config.padToken);
    readToken(cj, "mask_token", configJson, config.maskToken);
    readOptionalToken(cj, "bos_token", configJson, config.bosToken);
    readOptionalToken(cj, "eos_token", configJson, config.eosToken);
    if (auto it = cj.find("additional_special_tokens"); it != cj.end())
      config.additionalSpecialTokens = tokenList(*it, "additional_special_tokens", configJson);
    if (auto it = cj.find("added_tokens_decoder"); it != cj.end() && !it->is_null()) {
      if (!it->is_object()) badValue(configJson, "added_tokens_decoder", "an object of id: token");
      configHasAddedTokens = true;
      for (auto e = it->begin(); e != it->end(); ++e) {
        int64_t id = -1;
        try {
          std::size_t used = 0;
          id = std::stoll(e.key(), &used);
          if (used != e.key().size()) id = -1;
        } catch (const std::exception&) {
          id = -1;
        }
        if (id < 0) badValue(configJson, "added_tokens_decoder", "keyed by non-negative integer ids");
        configAddedTokens.push_back(parseAddedToken(*e, id, "added_tokens_decoder." + e.key(), configJson));
      }
    }
  }

  // Without added_tokens_decoder, transformers takes the legacy path: special_tokens_map.json
  // overrides the special tokens and tokenizer.json provides the added tokens.
  if (!configHasAddedTokens && fs::exists(specialJson, ec)) {
    const json sj = readJson(specialJson);
    if (!sj.is_object()) throw Error(ErrorCode::Corrupt, specialJson.string() + ": not a JSON object", specialJson.string());
    readToken(sj, "unk_token", specialJson, config.unkToken);
    readToken(sj, "cls_token", specialJson, config.clsToken);
    readToken(sj, "sep_token", specialJson, config.sepToken);
    readToken(sj, "pad_token", specialJson, config.padToken);
    readToken(sj, "mask_token", specialJson, config.maskToken);
    readOptionalToken(sj, "bos_token", specialJson, config.bosToken);
    readOptionalToken(sj, "eos_token", specialJson, config.eosToken);
    if (auto it = sj.find("additional_special_tokens"); it != sj.end())
      for (std::string& t : tokenList(*it, "additional_special_tokens", specialJson))
        if (std::find(config.additionalSpecialTokens.begin(), config.additionalSpecialTokens.end(), t) == config.additionalSpecialTokens.end())
          config.additionalSpecialTokens.push_back(std::move(t));
  }

  try {
    return WordPieceTokenizer(std::move(vocab), std::move(config),
                              configHasAddedTokens ? std::move(configAddedTokens) : std::move(fileAddedTokens));
  } catch (const Error& e) {
    if (e.code() != ErrorCode::InvalidArgument) throw;
    throw Error(ErrorCode::Corrupt, dir.string() + ": " + e.what(), dir.string());
  }
}

}  // namespace vlm::text
