// vlmscope bench gemm | caption | vqa: speed figures as JSON (or readable lines).
#include <cstdio>
#include <string>

#include <nlohmann/json.hpp>

#include "commands.h"
#include "common_options.h"
#include "pipeline/bench.h"
#include "runtime/runtime.h"

namespace vlm::cli {

namespace {

// One line (--json) or indented for reading.
void printBenchJson(const nlohmann::ordered_json& j, bool oneLine) {
  std::printf("%s\n", j.dump(oneLine ? -1 : 1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
}

}  // namespace

int cmdBench(int argc, char** argv) {
  if (argc < 3) throw UsageError("bench what? (gemm, caption, vqa or similarity)");
  const std::string what = argv[2];
  if (what == "gemm") {
    Args args(argc, argv, 3, {"threads", "size", "runs"}, {"json"});
    runtime::setThreads(args.intValue("threads", 0, 0, 1024));
    const GemmBenchResult r = benchGemm(args.intValue("size", 2048, 64, 16384), args.intValue("runs", 5, 1, 1000));
    const nlohmann::ordered_json j{{"fp32_gflops", r.fp32Gflops}, {"bf16_gflops", r.bf16Gflops}, {"size", r.size}, {"threads", r.threads}};
    if (args.flag("json")) std::printf("%s\n", j.dump().c_str());
    else std::printf("GEMM %d^3 on %d threads: fp32 %.1f GFLOP/s, bf16 %.1f GFLOP/s\n", r.size, r.threads, r.fp32Gflops, r.bf16Gflops);
    return 0;
  }
  if (what == "caption") {
    std::set<std::string> valued = kModelOptionNames;
    valued.insert({"image", "runs", "tokens"});
    Args args(argc, argv, 3, valued, {"json"});
    CaptionBenchOptions o;
    o.model = args.required("model");
    o.image = args.required("image");
    o.runs = args.intValue("runs", 5, 1, 1000);
    o.newTokens = args.intValue("tokens", 20, 1, 500);
    o.modelOptions = modelOptionsFrom(args);
    const CaptionBenchResult r = benchCaption(o);
    nlohmann::ordered_json j{{"model", o.model},
                             {"image", o.image.string()},
                             {"runs", o.runs},
                             {"load_s", r.loadSeconds},
                             {"first_caption_s", r.firstCaptionSeconds},
                             {"preprocess_s", r.preprocessSeconds},
                             {"vision_s", r.visionSeconds},
                             {"decode_s", r.decodeSeconds},
                             {"caption_s", r.captionSeconds},
                             {"tokens_generated", r.tokensGenerated},
                             {"vision_gflop", r.visionGflop},
                             {"vision_gflops", r.visionGflops},
                             {"threads", r.threads},
                             {"dtype", r.dtype},
                             {"peak_rss_mb", r.peakRssMb},
                             {"caption", r.caption}};
    if (r.fp32Caption) j["fp32_caption"] = *r.fp32Caption;
    if (r.tokenAgreement) j["token_agreement_with_fp32"] = *r.tokenAgreement;
    printBenchJson(j, args.flag("json"));
    return 0;
  }
  if (what == "similarity") {
    std::set<std::string> valued = kModelOptionNames;
    valued.insert({"image", "runs", "text"});
    Args args(argc, argv, 3, valued, {"json"});
    SimilarityBenchOptions o;
    o.model = args.required("model");
    o.image = args.required("image");
    o.runs = args.intValue("runs", 5, 1, 1000);
    o.texts = args.values("text");
    o.modelOptions = modelOptionsFrom(args);
    const SimilarityBenchResult r = benchSimilarity(o);
    const nlohmann::ordered_json j{{"model", o.model},
                                   {"image", o.image.string()},
                                   {"runs", o.runs},
                                   {"texts", r.texts},
                                   {"gemm_gflops", r.gemmGflops},
                                   {"load_s", r.loadSeconds},
                                   {"first_score_s", r.firstScoreSeconds},
                                   {"preprocess_s", r.preprocessSeconds},
                                   {"vision_s", r.visionSeconds},
                                   {"text_s", r.textSeconds},
                                   {"total_s", r.totalSeconds},
                                   {"vision_gflop", r.visionGflop},
                                   {"vision_gflops", r.visionGflops},
                                   {"vision_vs_gemm", r.visionGflops / r.gemmGflops},
                                   {"load_vs_score", r.loadSeconds / r.totalSeconds},
                                   {"threads", r.threads},
                                   {"dtype", r.dtype},
                                   {"peak_rss_mb", r.peakRssMb}};
    printBenchJson(j, args.flag("json"));
    return 0;
  }
  if (what == "vqa") {
    std::set<std::string> valued = kModelOptionNames;
    valued.insert({"image", "runs", "tokens", "question"});
    Args args(argc, argv, 3, valued, {"json"});
    VqaBenchOptions o;
    o.model = args.required("model");
    o.image = args.required("image");
    if (auto q = args.value("question")) o.question = *q;
    o.runs = args.intValue("runs", 5, 1, 1000);
    o.newTokens = args.intValue("tokens", 0, 0, 500);
    o.modelOptions = modelOptionsFrom(args);
    const VqaBenchResult r = benchVqa(o);
    const nlohmann::ordered_json j{{"model", o.model},
                                   {"image", o.image.string()},
                                   {"question", o.question},
                                   {"runs", o.runs},
                                   {"load_s", r.loadSeconds},
                                   {"first_answer_s", r.firstAnswerSeconds},
                                   {"preprocess_s", r.preprocessSeconds},
                                   {"vision_s", r.visionSeconds},
                                   {"question_s", r.questionSeconds},
                                   {"decode_s", r.decodeSeconds},
                                   {"answer_s", r.answerSeconds},
                                   {"tokens_generated", r.tokensGenerated},
                                   {"vision_gflop", r.visionGflop},
                                   {"vision_gflops", r.visionGflops},
                                   {"gemm_gflops", r.gemmGflops},
                                   {"vision_vs_gemm", r.visionVsGemm},
                                   {"answer_vs_vision", r.answerVsVision},
                                   {"threads", r.threads},
                                   {"dtype", r.dtype},
                                   {"peak_rss_mb", r.peakRssMb},
                                   {"answer", r.answer}};
    printBenchJson(j, args.flag("json"));
    return 0;
  }
  if (what == "explain") {
    std::set<std::string> valued = kModelOptionNames;
    valued.insert({"image", "runs", "method", "layer"});
    Args args(argc, argv, 3, valued, {"json"});
    ExplainBenchOptions o;
    o.model = args.required("model");
    o.image = args.required("image");
    o.method = args.value("method").value_or("gradcam");
    if (args.value("layer")) o.layer = args.intValue("layer", 0, 0, 1000);
    o.runs = args.intValue("runs", 3, 1, 1000);
    o.modelOptions = modelOptionsFrom(args);
    const ExplainBenchResult r = benchExplain(o);
    const nlohmann::ordered_json j{{"model", o.model},
                                   {"image", o.image.string()},
                                   {"method", o.method},
                                   {"layer", r.layer},
                                   {"runs", o.runs},
                                   {"tokens", r.tokens},
                                   {"all_tokens_s", r.allTokensSeconds},
                                   {"per_token_total_s", r.perTokenSeconds},
                                   {"speedup", r.speedup},
                                   {"max_abs_difference", r.maxAbsDifference},
                                   {"threads", r.threads},
                                   {"caption", r.caption}};
    printBenchJson(j, args.flag("json"));
    return 0;
  }
  if (what == "shap") {
    std::set<std::string> valued = kModelOptionNames;
    valued.insert({"image", "runs", "features", "evals", "batch"});
    Args args(argc, argv, 3, valued, {"json"});
    ShapBenchOptions o;
    o.model = args.required("model");
    o.image = args.required("image");
    o.features = args.value("features").value_or("grid:8x8");
    o.evaluations = args.intValue("evals", 300, 2, 1000000);
    o.batch = args.intValue("batch", 16, 1, 4096);
    o.runs = args.intValue("runs", 1, 1, 1000);
    o.modelOptions = modelOptionsFrom(args);
    const ShapBenchResult r = benchShap(o);
    const nlohmann::ordered_json j{{"model", o.model},
                                   {"image", o.image.string()},
                                   {"features", o.features},
                                   {"feature_count", r.features},
                                   {"tokens", r.tokens},
                                   {"budget", o.evaluations},
                                   {"batch", o.batch},
                                   {"runs", o.runs},
                                   {"forward_s", r.forwardSeconds},
                                   {"pixel_masker_s", r.pixelSeconds},
                                   {"pixel_masker_evaluations", r.pixelEvaluations},
                                   {"pixel_masker_evals_per_s", r.pixelEvalsPerSecond},
                                   {"pixel_eval_vs_forward", r.pixelVsForward},
                                   {"patch_removal_s", r.patchSeconds},
                                   {"patch_removal_evaluations", r.patchEvaluations},
                                   {"patch_removal_evals_per_s", r.patchEvalsPerSecond},
                                   {"patch_eval_vs_forward", r.patchVsForward},
                                   {"patch_removal_speedup", r.patchSpeedup},
                                   {"mean_visible_patch_share", r.meanVisibleShare},
                                   {"threads", r.threads},
                                   {"caption", r.caption}};
    printBenchJson(j, args.flag("json"));
    return 0;
  }
  throw UsageError("unknown benchmark '" + what + "' (gemm, caption, vqa, similarity, explain or shap)");
}

}  // namespace vlm::cli
