#include "text/tokenizer_common.h"

#include <algorithm>
#include <climits>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "io/files.h"
#include "text/unicode.h"

namespace vlm::text::detail {

// =============================================================================================
// BasicTokenizer

bool isChineseChar(char32_t cp) {
  return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0x20000 && cp <= 0x2A6DF) ||
         (cp >= 0x2A700 && cp <= 0x2B73F) || (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B820 && cp <= 0x2CEAF) ||
         (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

bool isBertWhitespace(char32_t cp) {
  if (cp == ' ' || cp == '\t' || cp == '\n' || cp == '\r') return true;
  return cp >= 0x80 && generalCategory(cp) == GeneralCategory::Zs;
}

bool isBertControl(char32_t cp) {
  if (cp == '\t' || cp == '\n' || cp == '\r') return false;
  if (cp < 0x80) return cp < 0x20 || cp == 0x7F;
  return isOtherCategory(generalCategory(cp));
}

std::u32string bertCleanText(std::u32string_view text, bool tokenizeChineseChars) {
  std::u32string out;
  out.reserve(text.size() + 8);
  for (char32_t cp : text) {
    if (cp == 0 || cp == kReplacementCharacter || isBertControl(cp)) continue;
    if (isBertWhitespace(cp)) {
      out.push_back(U' ');
    } else if (tokenizeChineseChars && isChineseChar(cp)) {
      out.push_back(U' ');
      out.push_back(cp);
      out.push_back(U' ');
    } else {
      out.push_back(cp);
    }
  }
  return out;
}

// =============================================================================================
// Decoding

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

void cleanUpTokenization(std::string& s, bool rustWordPiece) {
  // In this order; " do not" only in the Rust WordPiece decoder.
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 11> kReplacements = {{
      {" .", "."},
      {" ?", "?"},
      {" !", "!"},
      {" ,", ","},
      {" ' ", "'"},
      {" n't", "n't"},
      {" 'm", "'m"},
      {" do not", " don't"},
      {" 's", "'s"},
      {" 've", "'ve"},
      {" 're", "'re"},
  }};
  for (const auto& [from, to] : kReplacements)
    if (rustWordPiece || from != " do not") replaceAll(s, from, to);
}

// =============================================================================================
// Added and special tokens

void AddedVocabulary::build(std::string_view who, const std::vector<AddedToken>& addedTokens,
                            const std::vector<std::string>& specialTokens,
                            const std::vector<std::string>& additionalSpecialTokens, std::string_view unkToken,
                            const StringMap<int64_t>& vocab) {
  auto addSpecial = [&](const std::string& t) {
    if (!t.empty() && std::find(allSpecialTokens.begin(), allSpecialTokens.end(), t) == allSpecialTokens.end())
      allSpecialTokens.push_back(t);
  };
  for (const std::string& t : specialTokens) addSpecial(t);
  for (const std::string& t : additionalSpecialTokens) addSpecial(t);

  // _added_tokens_decoder.update(added_tokens_decoder); encoder = {content: id} (last one wins).
  std::unordered_map<int64_t, AddedToken> byId;
  for (const AddedToken& t : addedTokens) {
    if (t.id < 0) throw Error(ErrorCode::InvalidArgument, std::string(who) + ": added token '" + t.content + "' has a negative id");
    if (!isValidUtf8(t.content)) throw Error(ErrorCode::InvalidArgument, std::string(who) + ": an added token is not valid UTF-8");
    if (!t.content.empty()) byId.insert_or_assign(t.id, t);
  }
  for (const AddedToken& t : addedTokens)
    if (!t.content.empty() && byId.at(t.id).content == t.content) addedIdByContent.insert_or_assign(t.content, t.id);
  // Then the special tokens not yet added: with their vocabulary id, else the next free id
  // (len(get_vocab()), get_vocab() = vocab + added tokens).
  StringSet current;
  for (const auto& [tok, id] : vocab) current.insert(tok);
  for (const auto& [content, id] : addedIdByContent) current.insert(content);
  const auto newIdx = static_cast<int64_t>(current.size());
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

  for (const auto& [content, id] : addedIdByContent)
    splitCandidates[static_cast<unsigned char>(content[0])].push_back(content);
  for (auto& list : splitCandidates)
    std::sort(list.begin(), list.end(), [](const std::string& a, const std::string& b) {
      return a.size() != b.size() ? a.size() > b.size() : a < b;
    });

  // all_special_ids and the legacy added tokens, as the tokenizer's convert_tokens_to_ids sees
  // them (unk_token's id as the fallback).
  const int64_t unk = toId(unkToken, vocab, 0);
  const StringSet specialSet(allSpecialTokens.begin(), allSpecialTokens.end());
  for (const std::string& t : allSpecialTokens) specialIds.insert(toId(t, vocab, unk));
  for (const auto& [content, id] : addedIdByContent)
    if (!specialSet.count(content)) legacyAddedTokens.insert(content);
  for (const std::string& t : additionalSpecialTokens)
    if (toId(t, vocab, unk) >= static_cast<int64_t>(vocab.size())) legacyAddedTokens.insert(t);
}

int64_t AddedVocabulary::toId(std::string_view token, const StringMap<int64_t>& vocab, int64_t unk) const {
  if (auto it = addedIdByContent.find(token); it != addedIdByContent.end()) return it->second;
  if (auto it = vocab.find(token); it != vocab.end()) return it->second;
  return unk;
}

const AddedToken* AddedVocabulary::addedFor(int64_t id) const {
  auto it = addedById.find(id);
  return it == addedById.end() ? nullptr : &added[it->second];
}

std::vector<std::string> AddedVocabulary::splitOnAddedTokens(const std::string& text) const {
  std::vector<std::string> pieces;
  std::size_t last = 0, i = 0;
  while (i < text.size()) {
    const std::string* match = nullptr;
    for (const std::string& c : splitCandidates[static_cast<unsigned char>(text[i])]) {
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

std::vector<std::string> AddedVocabulary::tokenize(
    const std::string& text,
    const std::function<void(const std::string& piece, std::vector<std::string>& out)>& tokenizePiece) const {
  std::vector<std::string> pieces = splitOnAddedTokens(text);
  for (std::size_t i = 0; i < pieces.size(); ++i) {
    auto it = addedIdByContent.find(pieces[i]);
    if (it == addedIdByContent.end()) continue;
    const AddedToken* tok = addedFor(it->second);
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
  tokens.reserve(text.size() / 3 + 4);
  for (const std::string& piece : pieces) {
    if (piece.empty()) continue;
    if (addedIdByContent.count(piece)) {
      tokens.push_back(piece);
    } else {
      tokenizePiece(piece, tokens);
    }
  }
  return tokens;
}

std::string AddedVocabulary::decode(
    const std::vector<std::string>& tokens,
    const std::function<std::string(const std::vector<const std::string*>& run)>& convertTokensToString,
    bool cleanUp) const {
  std::vector<std::string> parts;
  std::vector<const std::string*> run;
  auto flush = [&](bool keepEmpty) {
    if (run.empty()) return;
    std::string s = pyStripUtf8(convertTokensToString(run));
    if (keepEmpty || !s.empty()) parts.push_back(std::move(s));
    run.clear();
  };
  for (const std::string& t : tokens) {
    if (legacyAddedTokens.count(t)) {
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
  if (cleanUp) cleanUpTokenization(text);
  return text;
}

// =============================================================================================
// Tokenizer files

std::vector<std::string> splitLines(std::string_view text, bool keepEmptyLast) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\n' && text[i] != '\r') continue;
    lines.emplace_back(text.substr(start, i - start));
    if (text[i] == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
    start = i + 1;
  }
  if (keepEmptyLast || start < text.size()) lines.emplace_back(text.substr(start));
  return lines;
}

json readJson(const fs::path& path) {
  const std::string text = io::readFile(path);
  try {
    return json::parse(text);
  } catch (const json::exception& e) {
    throw Error(ErrorCode::Corrupt, path.string() + ": not valid JSON (" + e.what() + ")", path.string());
  }
}

json readJsonObject(const fs::path& path) {
  json j = readJson(path);
  if (!j.is_object()) throw Error(ErrorCode::Corrupt, path.string() + ": not a JSON object", path.string());
  return j;
}

void badValue(const fs::path& file, const std::string& key, const std::string& expected) {
  throw Error(ErrorCode::Corrupt, file.string() + ": '" + key + "' must be " + expected, file.string());
}

void readBool(const json& j, const char* key, const fs::path& file, bool& out) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return;
  if (!it->is_boolean()) badValue(file, key, "true or false");
  out = it->get<bool>();
}

void readInt(const json& j, const char* key, const fs::path& file, int& out) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return;
  if (!it->is_number()) badValue(file, key, "a number");
  const double v = it->get<double>();
  out = v >= static_cast<double>(INT_MAX) ? INT_MAX : v <= static_cast<double>(INT_MIN) ? INT_MIN : static_cast<int>(v);
}

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

std::vector<AddedToken> readTokenizerJsonAddedTokens(const json& tokenizerJson, const fs::path& file) {
  std::vector<AddedToken> out;
  auto at = tokenizerJson.find("added_tokens");
  if (at == tokenizerJson.end() || at->is_null()) return out;
  if (!at->is_array()) badValue(file, "added_tokens", "a list");
  for (const json& e : *at) {
    if (!e.is_object() || !e.contains("id") || !e["id"].is_number_integer()) badValue(file, "added_tokens[].id", "an integer");
    out.push_back(parseAddedToken(e, e["id"].get<int64_t>(), "added_tokens[]", file));
  }
  return out;
}

namespace {

void readSpecialTokens(const json& j, const fs::path& file, const SpecialTokenSlots& slots) {
  for (const auto& [key, out] : slots.tokens) readToken(j, key, file, *out);
  for (const auto& [key, out] : slots.optionalTokens) readOptionalToken(j, key, file, *out);
}

// added_tokens_decoder: {"<id>": AddedToken}.
std::vector<AddedToken> readAddedTokensDecoder(const json& decoder, const fs::path& file) {
  if (!decoder.is_object()) badValue(file, "added_tokens_decoder", "an object of id: token");
  std::vector<AddedToken> out;
  for (auto e = decoder.begin(); e != decoder.end(); ++e) {
    int64_t id = -1;
    try {
      std::size_t used = 0;
      id = std::stoll(e.key(), &used);
      if (used != e.key().size()) id = -1;
    } catch (const std::exception&) {
      id = -1;
    }
    if (id < 0) badValue(file, "added_tokens_decoder", "keyed by non-negative integer ids");
    out.push_back(parseAddedToken(*e, id, "added_tokens_decoder." + e.key(), file));
  }
  return out;
}

}  // namespace

std::optional<std::vector<AddedToken>> readTokenizerConfig(
    const fs::path& dir, const SpecialTokenSlots& slots,
    const std::function<void(const json& config, const fs::path& file)>& readOptions) {
  const fs::path configJson = dir / "tokenizer_config.json";
  const fs::path specialJson = dir / "special_tokens_map.json";
  std::error_code ec;
  std::optional<std::vector<AddedToken>> configAddedTokens;
  if (fs::exists(configJson, ec)) {
    const json cj = readJsonObject(configJson);
    readOptions(cj, configJson);
    readSpecialTokens(cj, configJson, slots);
    if (auto it = cj.find("additional_special_tokens"); it != cj.end())
      *slots.additional = tokenList(*it, "additional_special_tokens", configJson);
    if (auto it = cj.find("added_tokens_decoder"); it != cj.end() && !it->is_null())
      configAddedTokens = readAddedTokensDecoder(*it, configJson);
  }

  // Without added_tokens_decoder, transformers takes the legacy path: special_tokens_map.json
  // overrides the special tokens and tokenizer.json provides the added tokens.
  if (!configAddedTokens && fs::exists(specialJson, ec)) {
    const json sj = readJsonObject(specialJson);
    readSpecialTokens(sj, specialJson, slots);
    if (auto it = sj.find("additional_special_tokens"); it != sj.end())
      for (std::string& t : tokenList(*it, "additional_special_tokens", specialJson))
        if (std::find(slots.additional->begin(), slots.additional->end(), t) == slots.additional->end())
          slots.additional->push_back(std::move(t));
  }
  return configAddedTokens;
}

}  // namespace vlm::text::detail
