#include <ATen/ATen.h>

#include <chrono>

#include "common/error.h"
#include "explain/target.h"
#include "io/image.h"
#include "pipeline/bench.h"
#include "pipeline/bench_util.h"
#include "pipeline/captioner_impl.h"
#include "pipeline/model_loading.h"
#include "pipeline/shap.h"
#include "runtime/runtime.h"

namespace vlm {

ShapBenchResult benchShap(const ShapBenchOptions& o, const JobContext& job) {
  if (o.runs < 1) throw Error(ErrorCode::InvalidArgument, "bench shap: runs must be at least 1");
  const auto captioner = Captioner::load(o.model, o.modelOptions, job);
  const io::ImageU8 image = io::loadImage(o.image);
  ShapBenchResult r;
  ShapOptions so;
  so.features = o.features;
  so.estimator = ShapEstimator::Kernel;
  so.value = ShapValue::TokenLogProb;
  so.evaluations = o.evaluations;
  so.batch = o.batch;
  so.ids = captioner->caption(image, {}).ids;
  r.tokens = int(so.ids.size()) - 1;
  r.caption = captioner->decodeForDisplay(so.ids);
  r.threads = runtime::threads();
  // Baseline: one unmasked forward pass of the same target (median of 5 after a warm-up).
  const Captioner::Impl& m = captioner->impl();
  const explain::CaptionTarget target(m.model.model, m.pixelValues(image), so.ids, explain::TokenSelection::each());
  {
    at::NoGradGuard g;
    target.forward(target.pixels(), nullptr);
    std::vector<double> t;
    for (int i = 0; i < 5; ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      target.forward(target.pixels(), nullptr);
      t.push_back(secondsSince(t0));
    }
    r.forwardSeconds = bench::median(t);
  }
  auto timed = [&](explain::MaskerKind masker, int64_t& evaluations) {
    so.masker = masker;
    std::vector<double> t;
    for (int run = 0; run < o.runs; ++run) {
      job.throwIfCancelled();
      const auto t0 = std::chrono::steady_clock::now();
      const ShapResult res = shapCaption(*captioner, image, so);
      t.push_back(secondsSince(t0));
      evaluations = res.evaluations;
      r.features = res.count();
      if (masker == explain::MaskerKind::PatchRemoval) r.meanVisibleShare = res.visiblePatchShare;
    }
    return bench::median(t);
  };
  so.evaluations = std::min<int64_t>(o.evaluations, 40);  // warm-up: both paths once
  timed(explain::MaskerKind::Constant, r.pixelEvaluations);
  timed(explain::MaskerKind::PatchRemoval, r.patchEvaluations);
  so.evaluations = o.evaluations;
  r.pixelSeconds = timed(explain::MaskerKind::Constant, r.pixelEvaluations);
  r.patchSeconds = timed(explain::MaskerKind::PatchRemoval, r.patchEvaluations);
  r.pixelEvalsPerSecond = double(r.pixelEvaluations) / r.pixelSeconds;
  r.patchEvalsPerSecond = double(r.patchEvaluations) / r.patchSeconds;
  r.pixelVsForward = r.pixelSeconds / (double(r.pixelEvaluations) * r.forwardSeconds);
  r.patchVsForward = r.patchSeconds / (double(r.patchEvaluations) * r.forwardSeconds);
  r.patchSpeedup = r.pixelSeconds / r.patchSeconds;
  return r;
}

}  // namespace vlm
