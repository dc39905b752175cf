#pragma once
// Internal to core/text: what the slow (pure Python) tokenizers of Hugging Face transformers 4.43
// share, written once for text/wordpiece.cpp (BertTokenizer) and text/clip_tokenizer.cpp
// (CLIPTokenizer):
//   - BasicTokenizer's character classes and its _clean_text / _tokenize_chinese_chars pass;
//   - PreTrainedTokenizerBase.clean_up_tokenization;
//   - PreTrainedTokenizer's added and special tokens (_added_tokens_decoder / _encoder,
//     tokens_trie, all_special_tokens / all_special_ids), the cutting of tokenize() around them,
//     and _decode's assembly of its parts;
//   - reading a tokenizer folder's JSON files: typed values with errors naming the file and key,
//     serialised AddedTokens, tokenizer.json's added_tokens, and tokenizer_config.json /
//     special_tokens_map.json as transformers applies them.
// Not part of the public API. The functions are thread-safe, and an AddedVocabulary is read-only
// once built; the file readers throw vlm::Error naming the file.

#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "text/wordpiece.h"  // AddedToken

namespace vlm::text::detail {

namespace fs = std::filesystem;
using json = nlohmann::json;

// Hash maps and sets of std::string that can be looked up with a std::string_view.
struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};
template <class V>
using StringMap = std::unordered_map<std::string, V, StringHash, std::equal_to<>>;
using StringSet = std::unordered_set<std::string, StringHash, std::equal_to<>>;

// ---------------------------------------------------------------------------------------------
// BasicTokenizer

// BasicTokenizer._is_chinese_char: the CJK Unified Ideographs blocks (not Hangul, kana, ...).
bool isChineseChar(char32_t cp);
// _is_whitespace: ' ', \t, \n, \r or category Zs.
bool isBertWhitespace(char32_t cp);
// _is_control: category C* except \t, \n, \r.
bool isBertControl(char32_t cp);

// _clean_text, then _tokenize_chinese_chars when `tokenizeChineseChars`: U+0000, U+FFFD and
// control characters dropped, whitespace mapped to ' ', spaces put around CJK ideographs.
std::u32string bertCleanText(std::u32string_view text, bool tokenizeChineseChars);

// ---------------------------------------------------------------------------------------------
// Decoding

// str.replace(from, to): every non-overlapping occurrence, left to right.
void replaceAll(std::string& s, std::string_view from, std::string_view to);

// PreTrainedTokenizerBase.clean_up_tokenization (" ." -> ".", " n't" -> "n't", ...). With
// `rustWordPiece`, the clean-up of the Rust tokenizers' WordPiece decoder instead, which also
// turns " do not" into " don't".
void cleanUpTokenization(std::string& s, bool rustWordPiece = false);

// ---------------------------------------------------------------------------------------------
// Added and special tokens

// The added tokens and special tokens of a slow tokenizer over its model vocabulary (built once,
// then read-only).
struct AddedVocabulary {
  std::vector<AddedToken> added;  // _added_tokens_decoder: by increasing id, one per id
  std::unordered_map<int64_t, std::size_t> addedById;  // id -> index in `added`
  StringMap<int64_t> addedIdByContent;                 // _added_tokens_encoder
  // Split points (tokens_trie): added token contents, by first byte, longest first.
  std::array<std::vector<std::string>, 256> splitCandidates;
  std::vector<std::string> allSpecialTokens;  // all_special_tokens, deduplicated
  std::unordered_set<int64_t> specialIds;     // all_special_ids
  StringSet legacyAddedTokens;                // decoded on their own by the slow decode

  // As transformers at construction: _added_tokens_decoder.update(addedTokens) (a token with
  // empty content is ignored; for an id given twice the last one wins; content -> id: the last
  // token whose id still holds it); then the special tokens not yet added, as special
  // non-normalized added tokens with their `vocab` id, else the next free id (len(get_vocab()):
  // vocab + added tokens); then all_special_ids and the legacy added tokens: those that are not
  // special, and the additional special tokens whose id is outside `vocab` (>= its size).
  // all_special_tokens: `specialTokens` (the special token attributes in SPECIAL_TOKENS_ATTRIBUTES
  // order) then `additionalSpecialTokens`, empty and repeated ones skipped. The id of `unkToken`
  // is convert_tokens_to_ids' fallback. `who` starts the error messages ("CLIP tokenizer").
  // Throws vlm::Error InvalidArgument for an added token with a negative id or invalid UTF-8.
  void build(std::string_view who, const std::vector<AddedToken>& addedTokens,
             const std::vector<std::string>& specialTokens, const std::vector<std::string>& additionalSpecialTokens,
             std::string_view unkToken, const StringMap<int64_t>& vocab);

  // convert_tokens_to_ids(token): the added token's id, else the id in `vocab`, else `unk`.
  int64_t toId(std::string_view token, const StringMap<int64_t>& vocab, int64_t unk) const;
  // The added token of `id`, else nullptr.
  const AddedToken* addedFor(int64_t id) const;

  // tokens_trie.split(text): cut around added tokens, the leftmost match first, the longest of
  // those starting there. Empty pieces are dropped.
  std::vector<std::string> splitOnAddedTokens(const std::string& text) const;

  // PreTrainedTokenizer.tokenize once the text is normalised: cut around added tokens, apply
  // their lstrip / rstrip / single_word flags to the neighbouring pieces in place exactly as
  // Python does, then keep the added tokens whole and pass every other non-empty piece to
  // `tokenizePiece` (the tokenizer's _tokenize, appending to its second argument).
  std::vector<std::string> tokenize(
      const std::string& text,
      const std::function<void(const std::string& piece, std::vector<std::string>& out)>& tokenizePiece) const;

  // PreTrainedTokenizer._decode after convert_ids_to_tokens: runs of ordinary tokens become
  // pyStrip(convertTokensToString(run)) (an empty one is dropped, except the last), legacy added
  // tokens stand alone, the parts are joined with spaces (spaces_between_special_tokens), then
  // clean_up_tokenization when `cleanUp`.
  std::string decode(const std::vector<std::string>& tokens,
                     const std::function<std::string(const std::vector<const std::string*>& run)>& convertTokensToString,
                     bool cleanUp) const;
};

// ---------------------------------------------------------------------------------------------
// Tokenizer files

// Python's text-mode lines (universal newlines: \n, \r\n, \r), each without its newline. An
// empty last line (after a final newline, or of an empty text) is kept only with `keepEmptyLast`
// (str.split semantics; readlines() drops it).
std::vector<std::string> splitLines(std::string_view text, bool keepEmptyLast);

// The parsed file; not valid JSON -> vlm::Error Corrupt. readJsonObject also requires an object.
json readJson(const fs::path& path);
json readJsonObject(const fs::path& path);

// vlm::Error Corrupt "<file>: '<key>' must be <expected>".
[[noreturn]] void badValue(const fs::path& file, const std::string& key, const std::string& expected);

// The value of j[key] into `out`, which is left as it is when the key is absent or null; a value of
// another type -> badValue. readInt clamps to int (hub configs write "no limit" as 1e30).
void readBool(const json& j, const char* key, const fs::path& file, bool& out);
void readInt(const json& j, const char* key, const fs::path& file, int& out);

// A token given as "text" or as a serialised AddedToken {"content": "text", ...}; null -> nullopt.
std::optional<std::string> tokenText(const json& v, const std::string& key, const fs::path& file);
// j[key] as a token into `out`: left as it is when absent or null (readToken); absent leaves it,
// null resets it (readOptionalToken).
void readToken(const json& j, const char* key, const fs::path& file, std::string& out);
void readOptionalToken(const json& j, const char* key, const fs::path& file, std::optional<std::string>& out);
// A list of tokens (null ones skipped); null -> empty.
std::vector<std::string> tokenList(const json& v, const std::string& key, const fs::path& file);

// A serialised AddedToken {"content": ..., "special": ..., "lstrip": ..., ...} with id `id`;
// "normalized" defaults to !special, as AddedToken's constructor.
AddedToken parseAddedToken(const json& v, int64_t id, const std::string& key, const fs::path& file);

// tokenizer.json's "added_tokens" (a list of AddedTokens with an integer "id"); absent or null ->
// none.
std::vector<AddedToken> readTokenizerJsonAddedTokens(const json& tokenizerJson, const fs::path& file);

// Where the special tokens of tokenizer_config.json / special_tokens_map.json go, in the order
// they are read: each of `tokens` ("unk_token" -> its config field) is set unless absent or null,
// each of `optionalTokens` is set, or reset by null; additional_special_tokens goes to
// `additional`.
struct SpecialTokenSlots {
  std::vector<std::pair<const char*, std::string*>> tokens;
  std::vector<std::pair<const char*, std::optional<std::string>*>> optionalTokens;
  std::vector<std::string>* additional = nullptr;
};

// tokenizer_config.json then special_tokens_map.json of `dir`, as transformers applies them:
//   - tokenizer_config.json (when present): `readOptions` reads the tokenizer's own init
//     arguments from it, then the special tokens (additional_special_tokens replaces `additional`),
//     then added_tokens_decoder ({"id": AddedToken});
//   - without added_tokens_decoder, transformers' legacy path: special_tokens_map.json (when
//     present) overrides the special tokens, its additional_special_tokens appended to
//     `additional` where missing.
// Returns the tokens of added_tokens_decoder, nullopt without one (then tokenizer.json's
// added_tokens apply).
std::optional<std::vector<AddedToken>> readTokenizerConfig(
    const fs::path& dir, const SpecialTokenSlots& slots,
    const std::function<void(const json& config, const fs::path& file)>& readOptions);

}  // namespace vlm::text::detail
