#pragma once
// CLIP's byte-level BPE tokenizer, identical to Hugging Face transformers 4.43's slow (pure
// Python) CLIPTokenizer: tokenize / encode / truncation + padding / decode, with its added-token
// handling and clean_up_tokenization.
//
// The pipeline of tokenize(text), step by step as in Python:
//   1. the raw text is cut around added tokens (<|startoftext|>, <|endoftext|>, and any others of
//      the folder), which are kept whole (their lstrip / rstrip / single_word flags are honoured);
//   2. each other piece is cleaned (ClipTextCleaning):
//        Ftfy  : whitespace_clean(ftfy.fix_text(piece)).lower() -- the slow tokenizer's normal
//                path (with the `ftfy` package installed) and what openai's CLIP does; ftfy is
//                re-implemented in text/ftfy.h (ftfy 6.1.1 defaults);
//        Basic : " ".join(BasicTokenizer(strip_accents=False, do_split_on_punc=False)
//                .tokenize(piece)) -- the fallback without ftfy: control characters dropped,
//                whitespace unified, CJK ideographs spaced, NFC, lower-cased;
//      (whitespace_clean = runs of Python whitespace -> one space, then strip; lower = str.lower);
//   3. the cleaned text is split with the `regex` pattern (IGNORECASE)
//        <\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+
//   4. each piece's UTF-8 bytes are mapped to printable characters (bytes_to_unicode), "</w>" is
//      appended to the last one, and BPE merges are applied by rank (lowest first, all occurrences
//      left to right) until none applies. The literal pieces "<|startoftext|>" / "<|endoftext|>"
//      are not merged (the slow tokenizer's pre-filled cache).
// Tokens map to ids through the added tokens, then vocab.json; anything else is the unk token's id.
// Input text is UTF-8; invalid bytes are decoded as U+FFFD first (Python's errors="replace").
// The fast (Rust) CLIPTokenizerFast normalises differently (NFC + whitespace + lowercase, no
// ftfy): for plain ASCII text all paths agree (except ASCII that ftfy changes: HTML entities,
// terminal escapes), for other text the Ftfy path is the reference.
//
// Instances are immutable after construction (a BPE cache is shared behind a mutex); all const
// methods may be called concurrently.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "text/wordpiece.h"  // AddedToken

namespace vlm::text {

enum class ClipTextCleaning {
  Ftfy,   // whitespace_clean(ftfy.fix_text(text)).lower(): transformers with ftfy installed, openai CLIP
  Basic,  // BasicTokenizer(strip_accents=False, do_split_on_punc=False): transformers without ftfy
};

// "ftfy" / "basic" (for the command line); nullopt for anything else.
std::optional<ClipTextCleaning> parseClipTextCleaning(std::string_view name);
const char* toString(ClipTextCleaning cleaning);

struct ClipTokenizerConfig {
  std::string bosToken = "<|startoftext|>";
  std::string eosToken = "<|endoftext|>";
  std::string unkToken = "<|endoftext|>";
  std::string padToken = "<|endoftext|>";
  std::vector<std::string> additionalSpecialTokens;
  int modelMaxLength = 77;
  bool cleanUpTokenizationSpaces = true;
  ClipTextCleaning cleaning = ClipTextCleaning::Ftfy;
};

enum class ClipPadding {
  Longest,    // padding=True / "longest": to the longest sequence of the batch
  MaxLength,  // padding="max_length": to maxLength
};

// Rows of ids and attention mask ([batch][length], every row the same length).
struct ClipBatchEncoding {
  std::vector<std::vector<int64_t>> ids;
  std::vector<std::vector<int64_t>> attentionMask;
};

class ClipTokenizer {
 public:
  // Reads a Hugging Face CLIP tokenizer folder:
  //  - vocab.json (token -> id) + merges.txt ("#version" line, then "a b" per line; as the slow
  //    tokenizer, the first line is always skipped and at most 48894 merges are read), else
  //    tokenizer.json's model (type "BPE", end_of_word_suffix "</w>"; vocab, and merges as
  //    "a b" strings or ["a", "b"] pairs) and added_tokens;
  //  - options and special tokens from tokenizer_config.json (added_tokens_decoder, bos / eos /
  //    unk / pad / additional_special_tokens, model_max_length, clean_up_tokenization_spaces,
  //    errors: only "replace"), overridden by special_tokens_map.json when tokenizer_config.json
  //    has no added_tokens_decoder (transformers' legacy path). Defaults: openai's.
  // Errors (vlm::Error naming the file): NotFound when neither vocab.json + merges.txt nor
  // tokenizer.json is there (or only one of vocab.json / merges.txt); Corrupt for invalid JSON /
  // UTF-8, a vocabulary that is not an object of integer ids, or a merges line that is not two
  // symbols; Unsupported for a tokenizer.json that is not a CLIP BPE or errors != "replace".
  static ClipTokenizer fromFolder(const std::filesystem::path& dir, ClipTextCleaning cleaning = ClipTextCleaning::Ftfy);

  // Whether `dir` holds a CLIP tokenizer: vocab.json + merges.txt or a tokenizer.json with a BPE
  // model, and config.json's model_type "clip" / "clip_text_model" or tokenizer_config.json's
  // tokenizer_class "CLIPTokenizer" / "CLIPTokenizerFast". Never throws (unreadable -> false).
  static bool isClipTokenizerFolder(const std::filesystem::path& dir);

  // `vocab`: (token, id) in file order (a repeated token keeps its last id, as a Python dict; from
  // tokenizer.json the order is by token);
  // `merges`: in rank order (a repeated pair keeps its last rank). The special tokens of `config`
  // missing from `addedTokens` are added as special added tokens with their vocabulary id, or the
  // next free id (as transformers does). Throws vlm::Error InvalidArgument for an empty
  // vocabulary, a negative id, invalid UTF-8 or an empty merge symbol.
  ClipTokenizer(std::vector<std::pair<std::string, int64_t>> vocab,
                std::vector<std::pair<std::string, std::string>> merges, ClipTokenizerConfig config = {},
                std::vector<AddedToken> addedTokens = {});

  ClipTokenizer(const ClipTokenizer&);
  ClipTokenizer(ClipTokenizer&&) noexcept;
  ClipTokenizer& operator=(const ClipTokenizer&);
  ClipTokenizer& operator=(ClipTokenizer&&) noexcept;
  ~ClipTokenizer();

  // tokenizer.tokenize(text): BPE tokens ("a</w>", "photo</w>") and added tokens.
  std::vector<std::string> tokenize(std::string_view text) const;
  // The cleaned text of step 2 for one piece without added tokens (what the regex sees).
  std::string cleanText(std::string_view text) const;

  // tokenizer.encode(text, add_special_tokens=addSpecialTokens, truncation=maxLength.has_value(),
  // max_length=maxLength): [bos] ids [eos]; with maxLength the content is cut from the end so that
  // the whole fits, bos and eos kept. As in transformers, a maxLength that leaves no room for any
  // text token does not truncate. maxLength < 0 -> vlm::Error InvalidArgument.
  std::vector<int64_t> encode(std::string_view text, bool addSpecialTokens = true,
                              std::optional<int> maxLength = std::nullopt) const;

  // tokenizer(texts, padding=..., truncation=True, max_length=maxLength) with special tokens: each
  // row as encode(text, true, maxLength), then right-padded with padId() (mask 0) to the longest
  // row (Longest; CLIPProcessor(text=texts, padding=True)) or to maxLength (MaxLength; rows longer
  // than that stay longer, as in transformers). maxLength defaults to modelMaxLength(). Note that
  // transformers' padding=True alone does not truncate: rows over 77 tokens differ from it here.
  ClipBatchEncoding encodeBatch(const std::vector<std::string>& texts, ClipPadding padding = ClipPadding::Longest,
                                std::optional<int> maxLength = std::nullopt) const;

  // tokenizer.decode(ids, skip_special_tokens=...) of the slow tokenizer: the tokens' characters
  // back to bytes, decoded as UTF-8 with errors="replace", "</w>" -> " ", stripped; special tokens
  // stay where they are ("<|startoftext|>a photo of a cat <|endoftext|>") unless skipped; then
  // clean_up_tokenization when configured. An id with no token -> vlm::Error InvalidArgument
  // (Python fails there too).
  std::string decode(const std::vector<int64_t>& ids, bool skipSpecialTokens = false) const;

  // convert_ids_to_tokens(id): the added token, else the vocabulary token; an id with neither
  // gives the unk token.
  std::string idToToken(int64_t id) const;
  // convert_tokens_to_ids(token): added tokens first, then the vocabulary, else unkId().
  int64_t tokenToId(std::string_view token) const;

  int64_t bosId() const;
  int64_t eosId() const;
  int64_t padId() const;
  int64_t unkId() const;
  // len(tokenizer.encoder): the entries of vocab.json (added tokens outside it excluded).
  std::size_t vocabSize() const;
  int modelMaxLength() const;
  bool isSpecial(int64_t id) const;
  ClipTextCleaning textCleaning() const;
  const ClipTokenizerConfig& config() const;
  // The added tokens (special ones included), by increasing id.
  std::vector<AddedToken> addedTokens() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace vlm::text
