#include <chrono>
#include <cmath>

#include "common/error.h"
#include "io/image.h"
#include "pipeline/bench.h"
#include "pipeline/bench_util.h"
#include "pipeline/explainer.h"
#include "pipeline/model_loading.h"
#include "runtime/runtime.h"

namespace vlm {

ExplainBenchResult benchExplain(const ExplainBenchOptions& o, const JobContext& job) {
  const auto method = parseExplainMethod(o.method);
  if (!method || *method == ExplainMethod::IntegratedGradients)
    throw Error(ErrorCode::InvalidArgument, "bench explain: --method must be gradcam, hirescam, gradxact or xattn, got '" + o.method + "'");
  if (o.runs < 1) throw Error(ErrorCode::InvalidArgument, "bench explain: runs must be at least 1");
  const auto captioner = Captioner::load(o.model, o.modelOptions, job);
  const io::ImageU8 image = io::loadImage(o.image);
  ExplainOptions base;
  base.method = *method;
  base.layer = o.layer;
  base.ids = captioner->caption(image, {}).ids;
  ExplainBenchResult r;
  r.tokens = int(base.ids.size()) - 1;
  r.caption = captioner->decodeForDisplay(base.ids);
  r.threads = runtime::threads();
  ExplainOptions all = base;
  all.scope = TokenScope::All;
  explainCaption(*captioner, image, all);  // warm-up
  std::vector<double> allTimes, perTimes;
  for (int run = 0; run < o.runs; ++run) {
    job.throwIfCancelled();
    auto t0 = std::chrono::steady_clock::now();
    const ExplainResult a = explainCaption(*captioner, image, all);
    allTimes.push_back(secondsSince(t0));
    r.layer = a.layer;
    t0 = std::chrono::steady_clock::now();
    std::vector<ExplainedMap> singles;
    for (int t = 1; t <= r.tokens; ++t) {
      ExplainOptions one = base;
      one.scope = TokenScope::One;
      one.token = t;
      singles.push_back(explainCaption(*captioner, image, one).maps.at(0));
    }
    perTimes.push_back(secondsSince(t0));
    for (size_t i = 0; i < singles.size(); ++i)
      for (size_t k = 0; k < singles[i].raw.size(); ++k)
        r.maxAbsDifference = std::max(r.maxAbsDifference, double(std::abs(singles[i].raw[k] - a.maps[i].raw[k])));
    job.progress(double(run + 1) / o.runs, "bench explain");
  }
  r.allTokensSeconds = bench::median(allTimes);
  r.perTokenSeconds = bench::median(perTimes);
  r.speedup = r.perTokenSeconds / r.allTokensSeconds;
  return r;
}

}  // namespace vlm
