#include "pipeline/bench.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <vector>

#include "common/error.h"
#include "io/image.h"
#include "pipeline/bench_util.h"
#include "pipeline/captioner_impl.h"
#include "pipeline/similarity_impl.h"
#include "pipeline/vqa_impl.h"
#include "runtime/runtime.h"

namespace vlm {

namespace {

using bench::Clock;
using bench::median;
using bench::since;

double gemmRate(int n, int runs, at::ScalarType dtype) {
  c10::InferenceMode inference;
  const at::Tensor a = at::randn({n, n}).to(dtype), b = at::randn({n, n}).to(dtype);
  at::Tensor c = at::mm(a, b);  // warm-up
  std::vector<double> rates;
  for (int i = 0; i < runs; ++i) {
    const auto t0 = Clock::now();
    c = at::mm(a, b);
    rates.push_back(2.0 * n * double(n) * n / since(t0) / 1e9);
  }
  return median(rates);
}

// FLOPs (multiply-adds x2) of one ViT forward (BLIP or CLIP vision config) for a batch of one.
template <class VisionConfig>
double visionFlop(const VisionConfig& v) {
  const double c = double(v.hiddenSize), p = double(v.patchSize);
  return bench::encoderFlop(double(v.numPatches() + 1), c, double(v.intermediateSize), double(v.numHiddenLayers)) +
         2 * double(v.numPatches()) * c * 3 * p * p;
}

double timed(const std::function<void()>& f) {
  const auto t0 = Clock::now();
  f();
  return since(t0);
}

// Fresh loads (`runs` of them, median time in `seconds`): the cost of opening the checkpoint
// (config, tokenizer, mapping the weights). Returns the last one.
template <class Loaded>
std::unique_ptr<Loaded> timedLoads(int runs, const std::function<std::unique_ptr<Loaded>()>& load, double& seconds,
                                   const JobContext& job) {
  std::vector<double> times;
  std::unique_ptr<Loaded> loaded;
  for (int run = 0; run < runs; ++run) {
    job.throwIfCancelled();
    loaded.reset();
    times.push_back(timed([&] { loaded = load(); }));
  }
  seconds = median(times);
  return loaded;
}

// Steady state: one warm-up then `runs` passes over the image file. `pass(image)` runs the
// pipeline once and returns its stage times (preprocessing first). Returns the median of each
// stage (decoding the file counted in preprocessing), then the median total.
std::vector<double> stageMedians(int runs, const std::filesystem::path& imageFile, const JobContext& job,
                                 const std::function<std::vector<double>(const io::ImageU8&)>& pass) {
  std::vector<std::vector<double>> stages;
  std::vector<double> totals;
  for (int run = 0; run <= runs; ++run) {
    job.throwIfCancelled();
    job.progress(double(run) / double(runs + 1), "benchmark run");
    const auto t0 = Clock::now();
    const io::ImageU8 image = io::loadImage(imageFile);
    const double decodeFile = since(t0);
    std::vector<double> t = pass(image);
    if (run == 0) continue;
    t[0] += decodeFile;
    stages.resize(t.size());
    double total = 0;
    for (size_t i = 0; i < t.size(); ++i) {
      stages[i].push_back(t[i]);
      total += t[i];
    }
    totals.push_back(total);
  }
  std::vector<double> out;
  for (const auto& s : stages) out.push_back(median(s));
  out.push_back(median(totals));
  return out;
}

}  // namespace

GemmBenchResult benchGemm(int n, int runs) {
  GemmBenchResult r;
  r.size = n;
  r.threads = runtime::threads();
  r.fp32Gflops = gemmRate(n, runs, at::kFloat);
  r.bf16Gflops = gemmRate(n, runs, at::kBFloat16);
  return r;
}

CaptionBenchResult benchCaption(const CaptionBenchOptions& o, const JobContext& job) {
  if (o.runs < 1) throw Error(ErrorCode::InvalidArgument, "bench needs at least one run");
  CaptionBenchResult r;
  r.threads = runtime::threads();
  r.dtype = computeDTypeName(o.modelOptions.dtype);
  CaptionOptions copt;
  copt.maxLength = o.newTokens + 1;  // [DEC] + newTokens
  copt.minLength = o.newTokens + 1;  // no early [SEP]: every run decodes the same number of tokens

  std::unique_ptr<Captioner> captioner = timedLoads<Captioner>(
      o.runs, [&] { return Captioner::load(o.model, o.modelOptions); }, r.loadSeconds, job);
  // The first caption after the last load pays for paging the weights in.
  r.firstCaptionSeconds = timed([&] { captioner->caption(io::loadImage(o.image), copt); });
  const std::vector<double> m = stageMedians(o.runs, o.image, job, [&](const io::ImageU8& image) {
    const CaptionResult c = captioner->caption(image, copt);
    r.caption = c.caption;
    r.tokensGenerated = int(c.ids.size()) - 1;
    return std::vector<double>{c.timings.preprocessSeconds, c.timings.visionSeconds, c.timings.decodeSeconds};
  });
  r.preprocessSeconds = m[0];
  r.visionSeconds = m[1];
  r.decodeSeconds = m[2];
  r.captionSeconds = m[3];
  r.visionGflop = visionFlop(captioner->impl().model.model->config.vision) / 1e9;
  r.visionGflops = r.visionGflop / r.visionSeconds;

  if (o.modelOptions.dtype != ComputeDType::Float32) {
    ModelOptions fp32 = o.modelOptions;
    fp32.dtype = ComputeDType::Float32;
    const auto ref = Captioner::load(o.model, fp32);
    const io::ImageU8 image = io::loadImage(o.image);
    const CaptionResult a = captioner->caption(image, copt), b = ref->caption(image, copt);
    r.fp32Caption = b.caption;
    const size_t n = std::max(a.ids.size(), b.ids.size());
    size_t same = 0;
    for (size_t i = 0; i < std::min(a.ids.size(), b.ids.size()); ++i) same += a.ids[i] == b.ids[i];
    r.tokenAgreement = n ? double(same) / double(n) : 1.0;
  }
  r.peakRssMb = runtime::peakRssMb();
  return r;
}

VqaBenchResult benchVqa(const VqaBenchOptions& o, const JobContext& job) {
  if (o.runs < 1) throw Error(ErrorCode::InvalidArgument, "bench needs at least one run");
  VqaBenchResult r;
  r.threads = runtime::threads();
  r.dtype = computeDTypeName(o.modelOptions.dtype);
  VqaOptions vopt;
  if (o.newTokens > 0) {
    vopt.maxLength = o.newTokens + 1;  // [DEC] + newTokens
    vopt.minLength = o.newTokens + 1;  // no early [SEP]: every run decodes the same number of tokens
  }
  std::unique_ptr<QuestionAnswerer> answerer = timedLoads<QuestionAnswerer>(
      o.runs, [&] { return QuestionAnswerer::load(o.model, o.modelOptions); }, r.loadSeconds, job);
  r.firstAnswerSeconds = timed([&] { answerer->answer(io::loadImage(o.image), o.question, vopt); });
  const std::vector<double> m = stageMedians(o.runs, o.image, job, [&](const io::ImageU8& image) {
    const VqaResult a = answerer->answer(image, o.question, vopt);
    r.answer = a.answer;
    r.tokensGenerated = int(a.ids.size()) - 1;
    const VqaTimings& t = a.timings;
    return std::vector<double>{t.preprocessSeconds, t.visionSeconds, t.questionSeconds, t.decodeSeconds};
  });
  r.preprocessSeconds = m[0];
  r.visionSeconds = m[1];
  r.questionSeconds = m[2];
  r.decodeSeconds = m[3];
  r.answerSeconds = m[4];
  r.visionGflop = visionFlop(answerer->impl().model.model->config.vision) / 1e9;
  r.visionGflops = r.visionGflop / r.visionSeconds;
  r.gemmGflops = gemmRate(2048, 3, answerer->impl().dtype);
  r.visionVsGemm = r.visionGflops / r.gemmGflops;
  r.answerVsVision = r.answerSeconds / r.visionSeconds;
  r.peakRssMb = runtime::peakRssMb();
  return r;
}

SimilarityBenchResult benchSimilarity(const SimilarityBenchOptions& o, const JobContext& job) {
  if (o.runs < 1) throw Error(ErrorCode::InvalidArgument, "bench needs at least one run");
  const std::vector<std::string> texts =
      o.texts.empty() ? std::vector<std::string>{"a photo of a cat", "a photo of a dog", "an astronaut on the moon",
                                                 "a cup of coffee on a wooden table"}
                      : o.texts;
  SimilarityBenchResult r;
  r.threads = runtime::threads();
  r.dtype = computeDTypeName(o.modelOptions.dtype);
  r.texts = int(texts.size());
  std::unique_ptr<SimilarityModel> model = timedLoads<SimilarityModel>(
      o.runs, [&] { return SimilarityModel::load(o.model, o.modelOptions); }, r.loadSeconds, job);
  r.firstScoreSeconds = timed([&] { model->score(io::loadImage(o.image), texts); });
  const std::vector<double> m = stageMedians(o.runs, o.image, job, [&](const io::ImageU8& image) {
    const SimilarityTimings t = model->score(image, texts).timings;
    return std::vector<double>{t.preprocessSeconds, t.visionSeconds, t.textSeconds};
  });
  r.preprocessSeconds = m[0];
  r.visionSeconds = m[1];
  r.textSeconds = m[2];
  r.totalSeconds = m[3];
  r.visionGflop = visionFlop(model->impl().model.model->config.vision) / 1e9;
  r.visionGflops = r.visionGflop / r.visionSeconds;
  r.gemmGflops = gemmRate(2048, 3, model->impl().dtype);
  r.peakRssMb = runtime::peakRssMb();
  return r;
}

}  // namespace vlm
