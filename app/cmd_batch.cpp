// vlmscope batch: many images x tokens x methods, resumable and shardable, with a CSV summary.
#include <cstdio>
#include <string>

#include "commands.h"
#include "common/error.h"
#include "common_options.h"
#include "pipeline/batch.h"

namespace vlm::cli {

namespace {

std::vector<std::string> splitList(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    const size_t end = std::min(s.find(',', start), s.size());
    if (end > start) out.push_back(s.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

// "I/N" with 0 <= I < N
std::pair<int, int> parseShard(const std::string& s) {
  const size_t slash = s.find('/');
  try {
    if (slash == std::string::npos) throw std::invalid_argument(s);
    size_t a = 0, b = 0;
    const int i = std::stoi(s.substr(0, slash), &a), n = std::stoi(s.substr(slash + 1), &b);
    if (a != slash || b != s.size() - slash - 1 || n < 1 || i < 0 || i >= n) throw std::invalid_argument(s);
    return {i, n};
  } catch (const std::exception&) {
    throw UsageError("--shard must be I/N with 0 <= I < N (e.g. 0/4 .. 3/4), got '" + s + "'");
  }
}

}  // namespace

int cmdBatch(int argc, char** argv) {
  std::set<std::string> valued = kModelOptionNames;
  valued.insert(kMaskerOptionNames.begin(), kMaskerOptionNames.end());
  valued.insert({"images", "out", "methods", "shard", "question", "text", "features", "evals", "batch", "seed", "metric-features"});
  Args args(argc, argv, 2, valued, {"token-all", "metrics", "ignore-exif", "json"});
  if (!args.positional().empty()) throw UsageError("unexpected argument '" + args.positional()[0] + "'");
  BatchOptions o;
  o.model = args.required("model");
  o.images = args.required("images");
  o.out = args.required("out");
  o.methods = splitList(args.value("methods").value_or("gradcam"));
  o.everyToken = args.flag("token-all");
  o.metrics = args.flag("metrics");
  if (auto s = args.value("shard")) std::tie(o.shard, o.shards) = parseShard(*s);
  o.question = args.value("question").value_or("");
  o.text = args.value("text").value_or("");
  o.shap.features = args.value("features").value_or("grid:4x4");
  o.shap.evaluations = args.intValue("evals", 300, 2, 100000000);
  o.shap.batch = args.intValue("batch", 16, 1, 4096);
  o.shap.seed = uint64_t(args.intValue("seed", 0, 0, 2147483647));
  std::tie(o.shap.masker, o.shap.maskerOptions) = maskerFrom(args);
  o.faithfulness.features = args.value("metric-features").value_or("grid");
  o.faithfulness.batch = o.shap.batch;
  o.faithfulness.masker = o.shap.masker == explain::MaskerKind::PatchRemoval ? explain::MaskerKind::Constant : o.shap.masker;
  o.faithfulness.maskerOptions = o.shap.maskerOptions;
  o.applyExifOrientation = !args.flag("ignore-exif");
  o.modelOptions = modelOptionsFrom(args);
  const BatchSummary s = runBatch(o, terminalProgress());
  finishProgress();
  for (const auto& e : s.errors) std::fprintf(stderr, "failed: %s\n", e.c_str());
  if (args.flag("json")) {
    printJson({{"images", s.images}, {"done", s.done}, {"skipped", s.skipped}, {"failed", s.failed}, {"csv", s.csv.string()}, {"errors", s.errors}});
  } else {
    std::printf("shard %d/%d: %d images, %d runs done, %d already done, %d failed; summary %s\n", o.shard, o.shards, s.images, s.done, s.skipped,
                s.failed, s.csv.c_str());
  }
  return s.failed > 0 ? 1 : 0;
}

}  // namespace vlm::cli
