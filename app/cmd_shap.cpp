// vlmscope shap: Shapley explanations of a caption, its tokens, a VQA answer or a CLIP
// similarity over image regions (grid cells, superpixels, DFF concepts, rectangles, a
// hierarchical partition), headless.
#include <cstdio>
#include <string>

#include "commands.h"
#include "common/error.h"
#include "common_options.h"
#include "io/image.h"
#include "pipeline/shap.h"
#include "pipeline/shap_export.h"
#include "pipeline/similarity.h"

namespace vlm::cli {

namespace {

ShapOptions shapOptionsFrom(const Args& args) {
  ShapOptions o;
  o.features = args.value("features").value_or("grid:4x4");
  const std::string value = args.value("value").value_or("token-logprob");
  const auto v = parseShapValue(value);
  if (!v)
    throw UsageError("--value must be token-logprob, token-logodds, caption-logprob, caption-similarity, answer or clip, got '" + value + "'");
  o.value = *v;
  const std::string estimator = args.value("estimator").value_or("kernel");
  const auto e = parseShapEstimator(estimator);
  if (!e) throw UsageError("--estimator must be exact, kernel, permutation, owen or interactions, got '" + estimator + "'");
  o.estimator = *e;
  o.evaluations = args.intValue("evals", 300, 2, 100000000);
  o.batch = args.intValue("batch", 16, 1, 4096);
  o.seed = uint64_t(args.intValue("seed", 0, 0, 2147483647));
  o.tolerance = args.doubleValue("tolerance", 0, 0, 10);
  o.dffThreshold = args.doubleValue("dff-threshold", 0.5, 0, 1);
  std::tie(o.masker, o.maskerOptions) = maskerFrom(args);
  if (auto ids = args.value("ids")) o.ids = parseIds(*ids, "ids");
  o.decoding = decodingOptionsFrom(args);
  return o;
}

nlohmann::ordered_json parametersOf(const ShapOptions& o) {
  return {{"features", o.features}, {"value", toString(o.value)}, {"estimator", toString(o.estimator)}, {"evals", o.evaluations},
          {"batch", o.batch},       {"seed", o.seed},             {"tolerance", o.tolerance},           {"masker", explain::toString(o.masker)}};
}

}  // namespace

int cmdShap(int argc, char** argv) {
  std::set<std::string> valued = kModelOptionNames;
  valued.insert(kDecodingOptionNames.begin(), kDecodingOptionNames.end());
  valued.insert(kOverlayOptionNames.begin(), kOverlayOptionNames.end());
  valued.insert(kMaskerOptionNames.begin(), kMaskerOptionNames.end());
  valued.insert({"image", "features", "value", "estimator", "evals", "batch", "seed", "tolerance", "dff-threshold", "question", "text", "ids",
                 "out", "clip"});
  Args args(argc, argv, 2, valued, {"contour", "ignore-exif", "json"});
  if (!args.positional().empty()) throw UsageError("unexpected argument '" + args.positional()[0] + "' (give the image with --image)");
  const std::string model = args.required("model"), imagePath = args.required("image"), out = args.required("out");
  ShapOptions options = shapOptionsFrom(args);
  const models::ModelFamily family = familyOf(model);
  const io::ImageU8 image = io::loadImage(imagePath, imageLoadOptionsFrom(args));
  std::unique_ptr<SimilarityModel> clip;
  if (auto c = args.value("clip")) {
    if (options.value != ShapValue::CaptionSimilarity) throw UsageError("--clip is for --value caption-similarity");
    clip = SimilarityModel::load(*c, modelOptionsFrom(args));
    options.clip = clip.get();
  }
  ShapResult r;
  switch (family) {
    case models::ModelFamily::BlipCaption:
      if (args.value("question")) throw UsageError("--question is for BLIP VQA models; " + model + " is a captioning model");
      if (args.value("text")) throw UsageError("--text is for CLIP models; " + model + " is a captioning model");
      r = shapCaption(*Captioner::load(model, modelOptionsFrom(args)), image, options, terminalProgress());
      break;
    case models::ModelFamily::BlipVqa:
      if (!args.value("question")) throw UsageError("a BLIP VQA model needs --question");
      if (!args.value("value")) options.value = ShapValue::Answer;
      r = shapAnswer(*QuestionAnswerer::load(model, modelOptionsFrom(args)), image, *args.value("question"), options, terminalProgress());
      break;
    case models::ModelFamily::Clip:
      if (!args.value("text")) throw UsageError("a CLIP model explains an image-text similarity: give --text");
      if (!args.value("value")) options.value = ShapValue::Clip;
      r = shapSimilarity(*SimilarityModel::load(model, modelOptionsFrom(args)), image, *args.value("text"), options, terminalProgress());
      break;
  }
  finishProgress();
  ExportOptions eo;
  eo.overlay = overlayFrom(args);
  eo.imagePath = imagePath;
  eo.parameters = parametersOf(options);
  const auto sidecar = writeShap(out, r, image, eo);
  if (args.flag("json")) {
    printJson(sidecar);
    return 0;
  }
  std::printf("%s: \"%s\"  (%s Shapley values of %s over %d features: %s)\n", r.info.family.c_str(), r.info.text.c_str(), r.estimator.c_str(),
              r.value.c_str(), r.count(), r.features.c_str());
  for (int o = 0; o < r.outputs(); ++o) {
    const auto& m = r.info.maps[size_t(o)];
    int best = 0;
    for (int i = 1; i < r.count(); ++i)
      if (r.valueOf(i, o) > r.valueOf(best, o)) best = i;
    std::printf("  %-10s %-12s v(all)=%.4f v(none)=%.4f  top feature %d (%s) %+.4f\n", m.label.c_str(), m.token.c_str(), r.fullValue[size_t(o)],
                r.emptyValue[size_t(o)], best, r.featureLabels[size_t(best)].c_str(), r.valueOf(best, o));
  }
  std::printf("%lld model evaluations (%lld cache hits, %lld forward passes) in %.2f s (%.1f evaluations/s)%s\n",
              static_cast<long long>(r.evaluations), static_cast<long long>(r.cacheHits), static_cast<long long>(r.forwardPasses), r.seconds,
              r.seconds > 0 ? double(r.evaluations) / r.seconds : 0.0, r.converged ? ", converged" : "");
  for (const auto& n : r.info.notes) std::printf("note: %s\n", n.c_str());
  std::printf("wrote %s/shap.json\n", out.c_str());
  return 0;
}

}  // namespace vlm::cli
