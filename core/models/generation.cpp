#include "models/generation.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <string>

#include "common/error.h"

namespace vlm::models {

at::Tensor applyRepetitionPenalty(const at::Tensor& ids, const at::Tensor& scores, double penalty) {
  if (penalty == 1.0) return scores;
  at::Tensor score = at::gather(scores, 1, ids);
  score = at::where(score < 0, score * penalty, score / penalty);
  return scores.scatter(1, ids, score);
}

at::Tensor applyNoRepeatNgram(const at::Tensor& ids, const at::Tensor& scores, int n) {
  if (n <= 0) return scores;
  const int64_t rows = ids.size(0), len = ids.size(1);
  if (len + 1 < n) return scores;
  at::Tensor out = scores.clone();
  const at::Tensor cpu = ids.to(at::kCPU).contiguous();
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t* t = cpu.data_ptr<int64_t>() + r * len;
    // the last n-1 tokens; every earlier occurrence of them bans the token that followed
    const int64_t start = len + 1 - n;
    std::vector<int64_t> banned;
    for (int64_t i = 0; i + n <= len; ++i) {
      if (std::equal(t + i, t + i + n - 1, t + start)) banned.push_back(t[i + n - 1]);
    }
    for (int64_t b : banned) out[r][b] = -std::numeric_limits<float>::infinity();
  }
  return out;
}

at::Tensor applyMinLength(const at::Tensor& ids, const at::Tensor& scores, int minLength, int64_t eos) {
  if (ids.size(1) >= minLength) return scores;
  at::Tensor out = scores.clone();
  out.select(1, eos).fill_(-std::numeric_limits<float>::infinity());
  return out;
}

namespace {

at::Tensor processLogits(const at::Tensor& ids, at::Tensor scores, const GenerationOptions& o, int64_t eos) {
  scores = applyRepetitionPenalty(ids, scores, o.repetitionPenalty);
  scores = applyNoRepeatNgram(ids, scores, o.noRepeatNgramSize);
  if (o.minLength > 0) scores = applyMinLength(ids, scores, o.minLength, eos);
  return scores;
}

std::vector<int64_t> toVector(const at::Tensor& row) {
  const at::Tensor c = row.to(at::kCPU).contiguous();
  return std::vector<int64_t>(c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel());
}

// Greedy search of prompt.size(0) rows; finished rows continue with `pad`.
at::Tensor greedy(StepDecoder& dec, const at::Tensor& prompt, int64_t eos, int64_t pad, const GenerationOptions& o,
                  const JobContext& job) {
  const int64_t rows = prompt.size(0);
  dec.reset(rows);
  at::Tensor ids = prompt;  // [B, P]
  at::Tensor feed = ids;
  at::Tensor unfinished = at::ones({rows}, at::TensorOptions().dtype(at::kLong));
  const int64_t p = ids.size(1);
  while (true) {
    job.throwIfCancelled();
    at::Tensor logits = dec.step(feed).select(1, -1).to(at::kCPU, at::kFloat);  // [B, V]
    at::Tensor scores = processLogits(ids, logits, o, eos);
    at::Tensor next = scores.argmax(-1);  // [B]
    if (rows > 1) next = next * unfinished + pad * (1 - unfinished);
    ids = at::cat({ids, next.unsqueeze(1)}, 1);
    feed = next.unsqueeze(1);
    const int64_t len = ids.size(1);
    job.progress(double(len - p) / double(std::max<int64_t>(1, o.maxLength - p)), "generating");
    if (rows == 1) {
      if (next.item<int64_t>() == eos) break;
    } else {
      unfinished = unfinished * next.ne(eos).to(at::kLong);
      if (unfinished.max().item<int64_t>() == 0) break;
    }
    if (len >= o.maxLength) break;
  }
  return ids;
}

// transformers' BeamHypotheses (one batch row).
struct Hypotheses {
  int numBeams;
  double lengthPenalty;
  double worst = 1e9;
  std::vector<std::pair<double, std::vector<int64_t>>> beams;

  void add(std::vector<int64_t> hyp, double sumLogprobs, int64_t generatedLen) {
    const double score = sumLogprobs / std::pow(double(generatedLen), lengthPenalty);
    if (int(beams.size()) < numBeams || score > worst) {
      beams.emplace_back(score, std::move(hyp));
      if (int(beams.size()) > numBeams) {
        std::vector<std::pair<double, size_t>> sorted;
        for (size_t i = 0; i < beams.size(); ++i) sorted.emplace_back(beams[i].first, i);
        std::sort(sorted.begin(), sorted.end());
        beams.erase(beams.begin() + static_cast<std::ptrdiff_t>(sorted[0].second));
        worst = sorted[1].first;
      } else {
        worst = std::min(score, worst);
      }
    }
  }
  bool isDone(double bestSumLogprobs, int64_t curLen, int64_t promptLen) const {
    if (int(beams.size()) < numBeams) return false;
    const double highest = bestSumLogprobs / std::pow(double(curLen - promptLen), lengthPenalty);
    return worst >= highest;
  }
};

GenerationResult beamSearch(StepDecoder& dec, const at::Tensor& prompt, int64_t eos, const GenerationOptions& o,
                            const JobContext& job) {
  const int64_t nb = o.numBeams;
  dec.reset(nb);
  at::Tensor ids = prompt.expand({nb, -1}).contiguous();  // [nb, P]
  at::Tensor feed = ids;
  const int64_t p = ids.size(1);
  at::Tensor beamScores = at::zeros({nb}, at::TensorOptions().dtype(at::kFloat));
  beamScores.slice(0, 1).fill_(-1e9);
  Hypotheses hyps{int(nb), o.lengthPenalty};
  bool done = false;
  while (true) {
    job.throwIfCancelled();
    // transformers' BeamSearchScorer.process: "cur_len = input_ids.shape[-1] + 1", the length
    // the scores are computed on, eos included
    const int64_t curLen = ids.size(1) + 1;
    at::Tensor logits = dec.step(feed).select(1, -1).to(at::kCPU, at::kFloat);  // [nb, V]
    at::Tensor scores = at::log_softmax(logits, -1);
    scores = processLogits(ids, scores, o, eos);
    scores = scores + beamScores.to(scores.device()).unsqueeze(1);
    const int64_t vocab = scores.size(1);
    auto [topScores, topIdx] = at::topk(scores.view({1, nb * vocab}), 2 * nb, 1, true, true);
    const at::Tensor ts = topScores[0].to(at::kCPU).contiguous();
    const at::Tensor ti = topIdx[0].to(at::kCPU).contiguous();
    const at::Tensor idsCpu = ids.to(at::kCPU).contiguous();

    std::vector<float> nextScores;
    std::vector<int64_t> nextTokens, nextRows;
    for (int64_t rank = 0; rank < 2 * nb; ++rank) {
      const int64_t flat = ti.data_ptr<int64_t>()[rank];
      const int64_t row = flat / vocab, token = flat % vocab;
      const float sc = ts.data_ptr<float>()[rank];
      if (token == eos) {
        if (rank >= nb) continue;
        hyps.add(toVector(idsCpu[row]), double(sc), curLen - p);
      } else {
        nextScores.push_back(sc);
        nextTokens.push_back(token);
        nextRows.push_back(row);
      }
      if (int64_t(nextTokens.size()) == nb) break;
    }
    done = done || hyps.isDone(double(ts.data_ptr<float>()[0]), curLen, p);

    const at::Tensor rows = at::tensor(nextRows, at::TensorOptions().dtype(at::kLong)).to(ids.device());
    const at::Tensor toks = at::tensor(nextTokens, at::TensorOptions().dtype(at::kLong)).to(ids.device());
    beamScores = at::tensor(nextScores, at::TensorOptions().dtype(at::kFloat));
    ids = at::cat({ids.index_select(0, rows), toks.unsqueeze(1)}, 1);
    feed = toks.unsqueeze(1);
    dec.reorder(rows);
    job.progress(double(ids.size(1) - p) / double(std::max<int64_t>(1, o.maxLength - p)), "beam search");
    if (done || ids.size(1) >= o.maxLength) break;
  }
  if (!done) {
    const at::Tensor idsCpu = ids.to(at::kCPU).contiguous();
    for (int64_t b = 0; b < nb; ++b)
      hyps.add(toVector(idsCpu[b]), double(beamScores[b].item<float>()), ids.size(1) - p);
  }
  // best: the last of the stable ascending sort by score
  size_t best = 0;
  for (size_t i = 1; i < hyps.beams.size(); ++i)
    if (hyps.beams[i].first >= hyps.beams[best].first) best = i;
  GenerationResult r;
  r.ids = hyps.beams[best].second;
  if (int64_t(r.ids.size()) < o.maxLength) r.ids.push_back(eos);
  r.sequenceScore = double(float(hyps.beams[best].first));
  return r;
}

void validate(const std::vector<int64_t>& prompt, const GenerationOptions& o) {
  if (prompt.empty()) throw Error(ErrorCode::InvalidArgument, "generation needs at least one start token");
  if (o.numBeams < 1) throw Error(ErrorCode::InvalidArgument, "number of beams must be at least 1");
  if (o.maxLength <= int(prompt.size()))
    throw Error(ErrorCode::InvalidArgument, "max length " + std::to_string(o.maxLength) + " leaves no room after the " +
                                                std::to_string(prompt.size()) + " start/prompt tokens; raise the max length");
  if (o.repetitionPenalty <= 0) throw Error(ErrorCode::InvalidArgument, "repetition penalty must be positive");
  if (o.noRepeatNgramSize < 0) throw Error(ErrorCode::InvalidArgument, "no-repeat n-gram size must be >= 0");
}

at::Tensor promptTensor(const std::vector<int64_t>& prompt) {
  return at::tensor(prompt, at::TensorOptions().dtype(at::kLong)).unsqueeze(0);
}

}  // namespace

GenerationResult generate(StepDecoder& decoder, const std::vector<int64_t>& prompt, int64_t eos,
                          const GenerationOptions& o, const JobContext& job) {
  validate(prompt, o);
  const at::Tensor p = promptTensor(prompt);
  if (o.numBeams > 1) return beamSearch(decoder, p, eos, o, job);
  return GenerationResult{toVector(greedy(decoder, p, eos, /*pad, unused for one row*/ 0, o, job)[0]),
                          std::numeric_limits<double>::quiet_NaN()};
}

std::vector<std::vector<int64_t>> generateGreedyBatch(StepDecoder& decoder, const std::vector<int64_t>& prompt, int64_t rows,
                                                      int64_t eos, int64_t pad, const GenerationOptions& o, const JobContext& job) {
  validate(prompt, o);
  if (o.numBeams != 1) throw Error(ErrorCode::InvalidArgument, "batched generation is greedy only (number of beams 1)");
  if (rows < 1) throw Error(ErrorCode::InvalidArgument, "batched generation needs at least one row");
  const at::Tensor ids = greedy(decoder, promptTensor(prompt).expand({rows, -1}).contiguous(), eos, pad, o, job);
  std::vector<std::vector<int64_t>> out;
  for (int64_t r = 0; r < rows; ++r) out.push_back(toVector(ids[r]));
  return out;
}

}  // namespace vlm::models
