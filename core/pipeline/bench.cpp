#include "pipeline/bench.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <chrono>
#include <vector>

#include "common/error.h"
#include "io/image.h"
#include "pipeline/bench_util.h"
#include "pipeline/captioner_impl.h"
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

// FLOPs (multiply-adds x2) of one BLIP vision forward for a batch of one.
double visionFlop(const models::BlipVisionConfig& v) {
  const double c = double(v.hiddenSize), p = double(v.patchSize);
  return bench::encoderFlop(double(v.numPatches() + 1), c, double(v.intermediateSize), double(v.numHiddenLayers)) +
         2 * double(v.numPatches()) * c * 3 * p * p;
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

  std::vector<double> load, pre, vis, dec, total;
  std::unique_ptr<Captioner> captioner;
  // Fresh loads: the cost of opening the checkpoint (config, tokenizer, mapping the weights).
  for (int run = 0; run < o.runs; ++run) {
    job.throwIfCancelled();
    captioner.reset();
    const auto t0 = Clock::now();
    captioner = Captioner::load(o.model, o.modelOptions);
    load.push_back(since(t0));
  }
  // The first caption after the last load pays for paging the weights in.
  {
    const auto t0 = Clock::now();
    captioner->caption(io::loadImage(o.image), copt);
    r.firstCaptionSeconds = since(t0);
  }
  for (int run = 0; run <= o.runs; ++run) {  // run 0 is a warm-up, not counted
    job.throwIfCancelled();
    job.progress(double(run) / double(o.runs + 1), "benchmark run");
    const auto t0 = Clock::now();
    const io::ImageU8 image = io::loadImage(o.image);
    const double decodeFileS = since(t0);
    const CaptionResult c = captioner->caption(image, copt);
    if (run == 0) continue;
    pre.push_back(decodeFileS + c.timings.preprocessSeconds);
    vis.push_back(c.timings.visionSeconds);
    dec.push_back(c.timings.decodeSeconds);
    total.push_back(decodeFileS + c.timings.preprocessSeconds + c.timings.visionSeconds + c.timings.decodeSeconds);
    r.caption = c.caption;
    r.tokensGenerated = int(c.ids.size()) - 1;
  }
  r.loadSeconds = median(load);
  r.preprocessSeconds = median(pre);
  r.visionSeconds = median(vis);
  r.decodeSeconds = median(dec);
  r.captionSeconds = median(total);
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

}  // namespace vlm
