#pragma once
// BERT WordPiece tokenizer, identical to Hugging Face transformers 4.43's slow (pure Python)
// BertTokenizer as BLIP checkpoints configure it: tokenize / encode / padding + truncation /
// decode, including its added-token handling and clean_up_tokenization. decodeForDisplay gives
// what the fast (Rust) tokenizer's decode returns for generated ids.
//
// The pipeline of tokenize(text), step by step as in Python:
//   1. do_lower_case: every character outside special / added tokens is lower-cased on its own
//      (PreTrainedTokenizer.tokenize's regex), so a capital sigma always becomes U+03C3.
//   2. the text is cut around added tokens (longest match first, leftmost first); added tokens
//      are kept whole (their lstrip/rstrip/single_word flags are honoured).
//   3. each other piece goes through BasicTokenizer: drop U+0000, U+FFFD and category C* (except
//      \t \n \r), map whitespace to ' ', put spaces around CJK ideographs, NFC, split on Python
//      whitespace, lower-case (str.lower) and strip accents (NFD, drop Mn), split punctuation.
//   4. WordPiece: greedy longest-match-first with "##" continuations; a word longer than
//      maxInputCharsPerWord code points, or one that cannot be covered, is unkToken.
// Input text is UTF-8; invalid bytes are decoded as U+FFFD (Python's errors="replace"), which the
// cleaner of step 3 then drops: invalid bytes vanish, they never split or join words.
//
// Instances are immutable after construction; all const methods may be called concurrently.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace vlm::text {

struct BertTokenizerConfig {
  bool doLowerCase = true;
  // nullopt (JSON null): strip accents exactly when doLowerCase (BLIP's setting).
  std::optional<bool> stripAccents;
  bool tokenizeChineseChars = true;
  int maxInputCharsPerWord = 100;
  std::string unkToken = "[UNK]", clsToken = "[CLS]", sepToken = "[SEP]", padToken = "[PAD]",
              maskToken = "[MASK]";
  // Whole words (after whitespace splitting) that are neither lower-cased nor split.
  std::vector<std::string> neverSplit;
  int modelMaxLength = 512;
  bool cleanUpTokenizationSpaces = true;
  // Also part of the slow tokenizer's state; rarely set for BERT/BLIP.
  bool doBasicTokenize = true;
  std::optional<std::string> bosToken, eosToken;  // special tokens when set (BertTokenizer never emits them)
  std::vector<std::string> additionalSpecialTokens;
};

// A token outside the WordPiece vocabulary's normal processing (Hugging Face's AddedToken):
// matched verbatim in the raw text before any normalisation, never split.
struct AddedToken {
  std::string content;
  int64_t id = -1;
  // Skipped by decodeForDisplay (the fast tokenizer). The slow decode(ids, true) skips only the
  // config's special tokens (named ones + additionalSpecialTokens), exactly as transformers: a
  // special added token missing from additional_special_tokens is decoded there.
  bool special = false;
  bool lstrip = false;      // swallows the whitespace on its left
  bool rstrip = false;      // swallows the whitespace on its right
  bool singleWord = false;  // not split out when glued to a neighbouring word
  bool normalized = true;   // a non-special normalized token is kept out of the lower-casing pass
};

struct Encoding {
  std::vector<int64_t> ids;
  std::vector<int64_t> attentionMask;
};

class WordPieceTokenizer {
 public:
  // Reads a Hugging Face tokenizer folder:
  //  - the vocabulary from vocab.txt (line i = id i), else from tokenizer.json's model.vocab
  //    (model.type must be "WordPiece"); neither -> vlm::Error NotFound naming the folder;
  //  - options: defaults, overridden by tokenizer.json's normalizer (BertNormalizer) and model
  //    (unk_token, max_input_chars_per_word), overridden by tokenizer_config.json, whose special
  //    tokens are overridden by special_tokens_map.json (the order transformers applies);
  //  - added tokens from tokenizer_config.json's added_tokens_decoder and tokenizer.json's
  //    added_tokens (the former wins for an id present in both).
  // A file that is present but unreadable, not valid JSON / UTF-8, or with a value of the wrong
  // type -> vlm::Error (Io / Corrupt / Unsupported) naming the file.
  static WordPieceTokenizer fromFolder(const std::filesystem::path& dir);

  // vocab[i] is the token of id i (vocab.txt order). The special tokens of `config` that are not
  // among `addedTokens` are added as special added tokens, with their vocabulary id, or with the
  // next free id when the vocabulary lacks them (as transformers does at construction).
  // Throws vlm::Error InvalidArgument for an empty vocabulary or invalid UTF-8 in a token.
  WordPieceTokenizer(std::vector<std::string> vocab, BertTokenizerConfig config);
  WordPieceTokenizer(std::vector<std::string> vocab, BertTokenizerConfig config,
                     std::vector<AddedToken> addedTokens);

  WordPieceTokenizer(const WordPieceTokenizer&);
  WordPieceTokenizer(WordPieceTokenizer&&) noexcept;
  WordPieceTokenizer& operator=(const WordPieceTokenizer&);
  WordPieceTokenizer& operator=(WordPieceTokenizer&&) noexcept;
  ~WordPieceTokenizer();

  // tokenizer.tokenize(text)
  std::vector<std::string> tokenize(std::string_view text) const;
  // tokenizer.encode(text, add_special_tokens=...): [CLS] ids [SEP], no truncation.
  std::vector<int64_t> encode(std::string_view text, bool addSpecialTokens = true) const;
  // tokenizer(text, padding="max_length", truncation=truncation, max_length=maxLength): ids
  // truncated (from the end, before [SEP]) and right-padded with [PAD] to maxLength, mask 1/0.
  // As in transformers, when maxLength leaves no room for any text token (maxLength <= 2 with a
  // non-empty text) nothing is truncated and the result is longer than maxLength; maxLength 0
  // means no truncation and no padding. maxLength < 0 -> vlm::Error InvalidArgument.
  Encoding encodePadded(std::string_view text, int maxLength, bool truncation = true) const;

  // tokenizer.decode(ids, skip_special_tokens=...) of the slow tokenizer: ids outside the
  // vocabulary print as unkToken (and are not special, so they stay with skipSpecialTokens),
  // "##" pieces join the previous token, then clean_up_tokenization when configured.
  std::string decode(const std::vector<int64_t>& ids, bool skipSpecialTokens = false) const;
  // What the fast tokenizer's decode(ids, skip_special_tokens=True) returns, as BLIP users see
  // their captions: ids without a token (BLIP's [DEC]=30522, [ENC]=30523) are dropped, special
  // tokens skipped, "##" removed from every token but the first, then clean-up.
  std::string decodeForDisplay(const std::vector<int64_t>& ids) const;

  // convert_ids_to_tokens(id): the added token, the vocabulary token, else unkToken.
  std::string idToToken(int64_t id) const;
  // convert_tokens_to_ids(token): added tokens first, then the vocabulary, else unkId().
  int64_t tokenToId(std::string_view token) const;

  int64_t clsId() const;
  int64_t sepId() const;
  int64_t padId() const;
  int64_t unkId() const;
  int64_t maskId() const;
  // len(tokenizer.vocab): distinct tokens of the WordPiece vocabulary, added tokens excluded.
  std::size_t vocabSize() const;
  // all_special_ids membership.
  bool isSpecial(int64_t id) const;
  const BertTokenizerConfig& config() const;
  // The added tokens (special ones included), by increasing id.
  std::vector<AddedToken> addedTokens() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace vlm::text
