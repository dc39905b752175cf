#pragma once
// Text generation exactly as transformers 4.43 `generate()` does it for decoder-only models
// (BLIP's text decoder): greedy search and beam search (BeamSearchScorer, length_penalty,
// early_stopping=False heuristic), with the logits processors in transformers' order:
// repetition_penalty -> no_repeat_ngram_size -> min_length. Lengths count the prompt.

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <limits>
#include <vector>

#include "common/job.h"

namespace vlm::models {

struct GenerationOptions {
  int maxLength = 20;             // total length including the prompt (transformers' max_length)
  int minLength = 0;              // eos is forbidden while shorter than this (prompt included)
  int numBeams = 1;               // 1: greedy
  double repetitionPenalty = 1.0;
  int noRepeatNgramSize = 0;
  double lengthPenalty = 1.0;     // beam search: score = sum logprob / generated_len^length_penalty
};

struct GenerationResult {
  std::vector<int64_t> ids;  // prompt + generated tokens, eos included when produced
  double sequenceScore = std::numeric_limits<double>::quiet_NaN();  // beam search only
};

// What generation drives: a decoder that keeps its own cache. step() receives the tokens not
// seen yet ([B, T]: the whole prompt first, then one token per step) and returns their logits
// [B, T, V]. reset(B) starts over for B rows; reorder() keeps cache rows (beam search).
class StepDecoder {
 public:
  virtual ~StepDecoder() = default;
  virtual void reset(int64_t batch) = 0;
  virtual at::Tensor step(const at::Tensor& ids) = 0;
  virtual void reorder(const at::Tensor& rows) = 0;
};

// Validates options (InvalidArgument with a clear message), then runs greedy or beam search.
// Progress is reported per generated token; cancel is honoured between tokens.
// (One sequence at a time: transformers' padding of finished rows never applies.)
GenerationResult generate(StepDecoder& decoder, const std::vector<int64_t>& prompt, int64_t eosTokenId,
                          const GenerationOptions& options, const JobContext& job = {});

// Greedy search over `rows` sequences at once with the same prompt, as transformers' batched
// generate(): a row that has produced eos continues with padTokenId, and the search stops when
// every row has finished or at maxLength, so all rows have the same length. The decoder is
// reset for `rows` rows (each row its own encoder states). numBeams must be 1.
std::vector<std::vector<int64_t>> generateGreedyBatch(StepDecoder& decoder, const std::vector<int64_t>& prompt, int64_t rows,
                                                      int64_t eosTokenId, int64_t padTokenId, const GenerationOptions& options,
                                                      const JobContext& job = {});

// The logits processors on their own (scores [B, V], ids [B, T]); exposed for tests.
at::Tensor applyRepetitionPenalty(const at::Tensor& ids, const at::Tensor& scores, double penalty);
at::Tensor applyNoRepeatNgram(const at::Tensor& ids, const at::Tensor& scores, int ngramSize);
at::Tensor applyMinLength(const at::Tensor& ids, const at::Tensor& scores, int minLength, int64_t eosTokenId);

}  // namespace vlm::models
