#include <ATen/ATen.h>

#include "common/error.h"
#include "io/image.h"
#include "pipeline/bench.h"
#include "pipeline/bench_util.h"
#include "pipeline/similarity_impl.h"
#include "runtime/runtime.h"

namespace vlm {

SimilarityBenchResult benchSimilarity(const SimilarityBenchOptions& o, const JobContext& job) {
  using bench::Clock;
  using bench::since;
  if (o.runs < 1) throw Error(ErrorCode::InvalidArgument, "bench needs at least one run");
  const std::vector<std::string> texts =
      o.texts.empty() ? std::vector<std::string>{"a photo of a cat", "a photo of a dog", "an astronaut on the moon",
                                                 "a cup of coffee on a wooden table"}
                      : o.texts;
  SimilarityBenchResult r;
  r.threads = runtime::threads();
  r.dtype = computeDTypeName(o.modelOptions.dtype);
  r.texts = int(texts.size());
  job.progress(0.0, "GEMM baseline");
  r.gemmGflops = benchGemm(2048, 3).fp32Gflops;

  std::vector<double> load, pre, vis, txt, total;
  std::unique_ptr<SimilarityModel> model;
  for (int run = 0; run < o.runs; ++run) {
    job.throwIfCancelled();
    model.reset();
    const auto t0 = Clock::now();
    model = SimilarityModel::load(o.model, o.modelOptions);
    load.push_back(since(t0));
  }
  {
    const auto t0 = Clock::now();
    model->score(io::loadImage(o.image), texts);
    r.firstScoreSeconds = since(t0);
  }
  for (int run = 0; run <= o.runs; ++run) {  // run 0 is a warm-up
    job.throwIfCancelled();
    job.progress(double(run) / double(o.runs + 1), "benchmark run");
    const auto t0 = Clock::now();
    const io::ImageU8 image = io::loadImage(o.image);
    const double decodeFileS = since(t0);
    const SimilarityResult s = model->score(image, texts);
    if (run == 0) continue;
    pre.push_back(decodeFileS + s.timings.preprocessSeconds);
    vis.push_back(s.timings.visionSeconds);
    txt.push_back(s.timings.textSeconds);
    total.push_back(decodeFileS + s.timings.preprocessSeconds + s.timings.visionSeconds + s.timings.textSeconds);
  }
  r.loadSeconds = bench::median(load);
  r.preprocessSeconds = bench::median(pre);
  r.visionSeconds = bench::median(vis);
  r.textSeconds = bench::median(txt);
  r.totalSeconds = bench::median(total);
  const auto& v = model->impl().model.model->config.vision;
  const double c = double(v.hiddenSize), p = double(v.patchSize);
  r.visionGflop = (bench::encoderFlop(double(v.numPatches() + 1), c, double(v.intermediateSize), double(v.numHiddenLayers)) +
                   2 * double(v.numPatches()) * c * 3 * p * p) / 1e9;
  r.visionGflops = r.visionGflop / r.visionSeconds;
  r.peakRssMb = runtime::peakRssMb();
  return r;
}

}  // namespace vlm
