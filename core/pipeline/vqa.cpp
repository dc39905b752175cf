#include "pipeline/vqa_impl.h"

#include <ATen/ATen.h>

#include <chrono>

#include "common/error.h"
#include "models/blip/blip_dump.h"

namespace vlm {

namespace {

// The image and the questions through the two encoders, timed.
struct Encoded {
  at::Tensor questionEmbeds;  // [B, Tq, C]
  at::Tensor questionMask;    // [B, Tq]
  VqaTimings timings;
};

Encoded encode(const QuestionAnswerer::Impl& m, const io::ImageU8& image, const std::vector<std::string>& questions,
               const JobContext& job) {
  Encoded e;
  auto t0 = std::chrono::steady_clock::now();
  const at::Tensor pixels = m.pixelValues(image);
  e.timings.preprocessSeconds = secondsSince(t0);
  job.throwIfCancelled();
  job.progress(0.05, "vision encoder");
  t0 = std::chrono::steady_clock::now();
  const at::Tensor imageEmbeds = m.encodeImage(pixels);
  e.timings.visionSeconds = secondsSince(t0);
  job.throwIfCancelled();
  job.progress(0.1, "question encoder");
  t0 = std::chrono::steady_clock::now();
  at::Tensor ids;
  std::tie(ids, e.questionMask) = m.questionBatch(questions);
  e.questionEmbeds = m.model.model.ptr()->encodeQuestion(imageEmbeds, ids, e.questionMask);
  e.timings.questionSeconds = secondsSince(t0);
  job.throwIfCancelled();
  return e;
}

}  // namespace

QuestionAnswerer::QuestionAnswerer() : BlipPipeline(std::make_unique<Impl>()) {}
QuestionAnswerer::~QuestionAnswerer() = default;

QuestionAnswerer::Impl& QuestionAnswerer::impl() const { return static_cast<Impl&>(*state_); }

std::unique_ptr<QuestionAnswerer> QuestionAnswerer::load(const std::string& spec, const ModelOptions& options, const JobContext& job) {
  std::unique_ptr<QuestionAnswerer> q(new QuestionAnswerer());
  Impl& m = q->impl();
  m.open(spec, options, models::ModelFamily::BlipVqa, "vqa", job);
  m.model = models::loadBlipVqa(m.location.dir, m.dtype, m.device);
  m.finishLoad(job);
  return q;
}

at::Tensor QuestionAnswerer::Impl::encodeImage(const at::Tensor& pixels) const {
  return model.model.ptr()->encodeImage(pixels.to(dtype));
}

std::pair<at::Tensor, at::Tensor> QuestionAnswerer::Impl::questionBatch(const std::vector<std::string>& questions) const {
  if (questions.empty()) throw Error(ErrorCode::InvalidArgument, "no question given");
  std::vector<std::vector<int64_t>> rows;
  size_t longest = 0;
  for (const auto& q : questions) {
    rows.push_back(tokenizer->encode(q, true));
    longest = std::max(longest, rows.back().size());
  }
  const auto opts = at::TensorOptions().dtype(at::kLong);
  at::Tensor ids = at::full({int64_t(rows.size()), int64_t(longest)}, tokenizer->padId(), opts);
  at::Tensor mask = at::zeros({int64_t(rows.size()), int64_t(longest)}, opts);
  for (size_t r = 0; r < rows.size(); ++r) {
    ids[int64_t(r)].slice(0, 0, int64_t(rows[r].size())).copy_(at::tensor(rows[r], opts));
    mask[int64_t(r)].slice(0, 0, int64_t(rows[r].size())).fill_(1);
  }
  return {ids.to(device), mask.to(device)};
}

std::vector<int64_t> QuestionAnswerer::questionIds(const std::string& question) const { return impl().tokenizer->encode(question, true); }

VqaResult QuestionAnswerer::answer(const io::ImageU8& image, const std::string& question, const VqaOptions& o,
                                   const JobContext& job) const {
  const Impl& m = impl();
  c10::InferenceMode inference;
  const Encoded e = encode(m, image, {question}, job);
  VqaResult r;
  r.timings = e.timings;
  const auto t0 = std::chrono::steady_clock::now();
  models::BlipVqaStepDecoder decoder(m.model.model, e.questionEmbeds);
  const auto& config = m.model.model->config;
  const models::GenerationResult gen = models::generate(decoder, models::blipVqaAnswerPrompt(config), config.text.sepTokenId,
                                                        generationOptions(o), subJob(job, 0.15, 1.0));
  r.timings.decodeSeconds = secondsSince(t0);
  r.ids = gen.ids;
  r.tokens = tokensOf(gen.ids);
  r.answer = decodeForDisplay(gen.ids);
  r.questionIds = questionIds(question);
  if (o.numBeams > 1) r.sequenceScore = gen.sequenceScore;
  return r;
}

std::vector<VqaResult> QuestionAnswerer::answerBatch(const io::ImageU8& image, const std::vector<std::string>& questions,
                                                     const VqaOptions& o, const JobContext& job) const {
  if (o.numBeams != 1) throw Error(ErrorCode::InvalidArgument, "batched answers are greedy only (number of beams 1)");
  const Impl& m = impl();
  c10::InferenceMode inference;
  const Encoded e = encode(m, image, questions, job);
  const auto t0 = std::chrono::steady_clock::now();
  models::BlipVqaStepDecoder decoder(m.model.model, e.questionEmbeds);
  const auto& tc = m.model.model->config.text;
  const auto rows = models::generateGreedyBatch(decoder, models::blipVqaAnswerPrompt(m.model.model->config), int64_t(questions.size()),
                                                tc.sepTokenId, tc.padTokenId, generationOptions(o), subJob(job, 0.15, 1.0));
  const double decodeSeconds = secondsSince(t0);
  std::vector<VqaResult> out;
  for (size_t i = 0; i < rows.size(); ++i) {
    VqaResult r;
    r.timings = e.timings;
    r.timings.decodeSeconds = decodeSeconds;
    r.ids = rows[i];
    r.tokens = tokensOf(rows[i]);
    r.answer = decodeForDisplay(rows[i]);
    r.questionIds = questionIds(questions[i]);
    out.push_back(std::move(r));
  }
  return out;
}

AnswerLogProbs QuestionAnswerer::answerLogProbs(const io::ImageU8& image, const std::string& question,
                                                const std::vector<int64_t>& answerIds) const {
  const Impl& m = impl();
  if (answerIds.size() < 2) throw Error(ErrorCode::InvalidArgument, "teacher forcing needs at least two answer ids ([DEC] and one more)");
  const at::Tensor ids = models::checkedIdsTensor(answerIds, m.model.model->config.text.vocabSize, "answer ids");
  c10::InferenceMode inference;
  const Encoded e = encode(m, image, {question}, {});
  const at::Tensor logits = m.model.model.ptr()->answerLogits(e.questionEmbeds, e.questionMask, ids.unsqueeze(0).to(m.device))[0];
  const at::Tensor logp = at::log_softmax(logits.to(at::kCPU, at::kFloat), -1);
  AnswerLogProbs r;
  r.ids = answerIds;
  for (size_t p = 0; p + 1 < answerIds.size(); ++p) {
    r.logProbs.push_back(logp[int64_t(p)][answerIds[p + 1]].item<double>());
    r.total += r.logProbs.back();
  }
  return r;
}

}  // namespace vlm
