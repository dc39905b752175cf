// vlmscope explain / mask / video: token-level explanations, mask-and-regenerate and the
// layer-evolution video, headless.
#include <cstdio>
#include <string>

#include <nlohmann/json.hpp>

#include "commands.h"
#include "common/error.h"
#include "common_options.h"
#include "explain/masking.h"
#include "io/image.h"
#include "io/model_location.h"
#include "models/model_kind.h"
#include "pipeline/counterfactual.h"
#include "pipeline/explain_export.h"
#include "pipeline/explainer.h"
#include "pipeline/similarity.h"

namespace vlm::cli {

namespace {

// --layer N | post_layernorm
void layerFrom(const Args& args, ExplainOptions& o) {
  const auto l = args.value("layer");
  if (!l) return;
  if (*l == "post_layernorm") {
    o.postLayernorm = true;
    return;
  }
  try {
    size_t used = 0;
    const long v = std::stol(*l, &used);
    if (used != l->size()) throw std::invalid_argument(*l);
    o.layer = int(v);
  } catch (const std::exception&) {
    throw UsageError("--layer must be a layer number or post_layernorm, got '" + *l + "'");
  }
}

// --token K | --all-tokens | --answer / --whole
void scopeFrom(const Args& args, ExplainOptions& o) {
  const int given = int(args.value("token").has_value()) + int(args.flag("all-tokens")) + int(args.flag("answer") || args.flag("whole"));
  if (given > 1) throw UsageError("give one of --token K, --all-tokens, --answer/--whole");
  if (args.flag("all-tokens")) o.scope = TokenScope::All;
  else if (args.flag("answer") || args.flag("whole")) o.scope = TokenScope::Whole;
  else {
    o.scope = TokenScope::One;
    o.token = args.intValue("token", 1, -1000000, 1000000);
  }
}

ExplainOptions explainOptionsFrom(const Args& args) {
  ExplainOptions o;
  const std::string method = args.value("method").value_or("gradcam");
  const auto m = parseExplainMethod(method);
  if (!m) throw UsageError("--method must be gradcam, hirescam, gradxact, xattn or ig, got '" + method + "'");
  o.method = *m;
  scopeFrom(args, o);
  layerFrom(args, o);
  o.steps = args.intValue("steps", 32, 1, 4096);
  if (auto r = args.value("rule")) {
    if (*r != "gausslegendre" && *r != "trapezoid") throw UsageError("--rule must be gausslegendre or trapezoid, got '" + *r + "'");
    o.trapezoid = *r == "trapezoid";
  }
  o.internalBatch = args.intValue("batch", 4, 1, 1024);
  o.baseline = args.value("baseline").value_or("black");
  if (o.baseline != "black" && o.baseline != "blur" && o.baseline != "mean")
    throw UsageError("--baseline must be black, blur or mean, got '" + o.baseline + "'");
  o.blurSigma = args.doubleValue("blur-sigma", 0, 0, 1e4);
  o.onQuestion = args.flag("on-question");
  if (auto ids = args.value("ids")) o.ids = parseIds(*ids, "ids");
  o.decoding = decodingOptionsFrom(args);
  return o;
}

nlohmann::ordered_json parametersOf(const Args& args, const ExplainOptions& o) {
  nlohmann::ordered_json p{{"method", toString(o.method)}};
  p["scope"] = o.scope == TokenScope::One ? "token" : o.scope == TokenScope::All ? "all-tokens" : "whole";
  if (o.scope == TokenScope::One) p["token"] = o.token;
  if (auto l = args.value("layer")) p["layer"] = *l;
  if (o.method == ExplainMethod::IntegratedGradients) {
    p["steps"] = o.steps;
    p["rule"] = o.trapezoid ? "riemann_trapezoid" : "gausslegendre";
    p["internal_batch"] = o.internalBatch;
    p["baseline"] = o.onQuestion ? "[PAD] question" : o.baseline;
    if (o.baseline == "blur") p["blur_sigma"] = o.blurSigma;
  }
  return p;
}


}  // namespace

int cmdExplain(int argc, char** argv) {
  std::set<std::string> valued = kModelOptionNames;
  valued.insert(kDecodingOptionNames.begin(), kDecodingOptionNames.end());
  valued.insert(kOverlayOptionNames.begin(), kOverlayOptionNames.end());
  valued.insert({"image", "method", "token", "layer", "steps", "rule", "batch", "baseline", "blur-sigma", "question", "text", "ids", "out"});
  Args args(argc, argv, 2, valued, {"all-tokens", "answer", "whole", "on-question", "contour", "ignore-exif", "json"});
  if (!args.positional().empty()) throw UsageError("unexpected argument '" + args.positional()[0] + "' (give the image with --image)");
  const std::string model = args.required("model"), imagePath = args.required("image"), out = args.required("out");
  const ExplainOptions options = explainOptionsFrom(args);
  const models::ModelFamily family = familyOf(model);
  const io::ImageU8 image = io::loadImage(imagePath, imageLoadOptionsFrom(args));
  ExplainResult r;
  switch (family) {
    case models::ModelFamily::BlipCaption: {
      if (args.value("question")) throw UsageError("--question is for BLIP VQA models; " + model + " is a captioning model");
      if (args.value("text")) throw UsageError("--text is for CLIP models; " + model + " is a captioning model");
      r = explainCaption(*Captioner::load(model, modelOptionsFrom(args)), image, options);
      break;
    }
    case models::ModelFamily::BlipVqa: {
      if (!args.value("question")) throw UsageError("a BLIP VQA model needs --question");
      r = explainAnswer(*QuestionAnswerer::load(model, modelOptionsFrom(args)), image, *args.value("question"), options);
      break;
    }
    case models::ModelFamily::Clip: {
      if (!args.value("text")) throw UsageError("a CLIP model explains an image-text similarity: give --text");
      if (options.scope != TokenScope::One || args.value("token"))
        throw UsageError("a CLIP similarity has no tokens to choose (--token, --all-tokens, --answer are for BLIP)");
      r = explainSimilarity(*SimilarityModel::load(model, modelOptionsFrom(args)), image, *args.value("text"), options);
      break;
    }
  }
  ExportOptions eo;
  eo.overlay = overlayFrom(args);
  eo.imagePath = imagePath;
  eo.parameters = parametersOf(args, options);
  const auto sidecar = writeExplanation(out, r, image, eo);
  if (args.flag("json")) {
    printJson(sidecar);
    return 0;
  }
  std::printf("%s: \"%s\"  (%s, %s)\n", r.family.c_str(), r.text.c_str(), r.method.c_str(), r.layer.c_str());
  for (size_t i = 0; i < r.maps.size(); ++i) {
    const auto& m = r.maps[i];
    std::printf("  %-14s %-12s y=%.6g", m.label.c_str(), m.token.c_str(), m.y);
    if (m.delta) std::printf("  delta=%.3g", *m.delta);
    std::printf("  -> %s\n", sidecar["maps"][i].value("png", sidecar["maps"][i].value("npy", std::string())).c_str());
  }
  for (const auto& n : r.notes) std::printf("note: %s\n", n.c_str());
  std::printf("wrote %s/explanation.json (generate %.2f s, explain %.2f s)\n", out.c_str(), r.generateSeconds, r.explainSeconds);
  return 0;
}

int cmdMask(int argc, char** argv) {
  std::set<std::string> valued = kModelOptionNames;
  valued.insert(kDecodingOptionNames.begin(), kDecodingOptionNames.end());
  valued.insert({"image", "rect", "masker", "color", "blur-sigma", "auto-top", "from-method", "token", "layer", "question", "clip",
                 "save-masked", "inpaint-radius"});
  Args args(argc, argv, 2, valued, {"ignore-exif", "json"});
  if (!args.positional().empty()) throw UsageError("unexpected argument '" + args.positional()[0] + "' (give the image with --image)");
  const std::string model = args.required("model"), imagePath = args.required("image");
  const auto rectTexts = args.values("rect");
  const bool autoMask = args.value("auto-top").has_value();
  if (autoMask == !rectTexts.empty()) throw UsageError("give --rect x,y,w,h (one or more) or --auto-top PERCENT");
  const auto [masker, mo] = maskerFrom(args);
  const DecodingOptions decoding = decodingOptionsFrom(args);
  const io::ImageU8 image = io::loadImage(imagePath, imageLoadOptionsFrom(args));
  std::unique_ptr<SimilarityModel> clip;
  if (auto c = args.value("clip")) clip = SimilarityModel::load(*c, modelOptionsFrom(args));
  const models::ModelFamily family = familyOf(model);
  RegenerateResult r;
  if (autoMask) {
    if (family != models::ModelFamily::BlipCaption) throw UsageError("--auto-top works with BLIP captioning models");
    AutoMaskSpec spec;
    spec.percent = args.doubleValue("auto-top", 10, 0, 100);
    const std::string from = args.value("from-method").value_or("gradcam");
    const auto m = parseExplainMethod(from);
    if (!m) throw UsageError("--from-method must be gradcam, hirescam, gradxact, xattn or ig, got '" + from + "'");
    spec.explain.method = *m;
    spec.explain.token = args.intValue("token", 1, -1000000, 1000000);
    layerFrom(args, spec.explain);
    spec.masker = masker;
    spec.options = mo;
    r = autoMaskAndRegenerate(*Captioner::load(model, modelOptionsFrom(args)), image, spec, decoding, clip.get());
  } else {
    MaskSpec spec;
    for (const auto& t : rectTexts) {
      try {
        spec.rects.push_back(explain::parseRect(t));
      } catch (const Error& e) {
        throw UsageError(std::string("--rect: ") + e.what());
      }
    }
    spec.masker = masker;
    spec.options = mo;
    if (family == models::ModelFamily::BlipCaption) {
      if (args.value("question")) throw UsageError("--question is for BLIP VQA models; " + model + " is a captioning model");
      r = maskAndRegenerate(*Captioner::load(model, modelOptionsFrom(args)), image, spec, CaptionOptions{decoding}, clip.get());
    } else if (family == models::ModelFamily::BlipVqa) {
      if (!args.value("question")) throw UsageError("a BLIP VQA model needs --question");
      r = maskAndRegenerate(*QuestionAnswerer::load(model, modelOptionsFrom(args)), image, *args.value("question"), spec, decoding,
                            clip.get());
    } else {
      throw UsageError(model + " is a CLIP model: mask and regenerate needs a BLIP captioning or VQA model (give CLIP with --clip)");
    }
  }
  if (auto s = args.value("save-masked")) render::writePng(*s, r.maskedImage);
  nlohmann::ordered_json j{{"image", imagePath}, {"model", model}};
  j.update(describeRegeneration(r));
  if (args.flag("json")) {
    printJson(j);
    return 0;
  }
  std::printf("original: %s\nmasked:   %s\n", r.original.c_str(), r.masked.c_str());
  std::string diff;
  for (const auto& c : r.diff)
    diff += (c.op == WordChange::Op::Kept ? "" : c.op == WordChange::Op::Removed ? "-" : "+") + c.word + " ";
  std::printf("diff:     %s\n", diff.c_str());
  std::printf("log p(original): %.4f -> %.4f (change %+.4f)\n", r.logProbBefore, r.logProbAfter, r.logProbAfter - r.logProbBefore);
  if (r.clipBefore) std::printf("CLIP cosine(original text): %.4f -> %.4f; masked text: %.4f\n", *r.clipBefore, *r.clipAfter, *r.clipMaskedText);
  if (r.masker == "patch") std::printf("removed %zu patches\n", r.removedPatches.size());
  return 0;
}

int cmdVideo(int argc, char** argv) {
  std::set<std::string> valued = kModelOptionNames;
  valued.insert(kDecodingOptionNames.begin(), kDecodingOptionNames.end());
  valued.insert(kOverlayOptionNames.begin(), kOverlayOptionNames.end());
  valued.insert({"image", "token", "out", "fps", "frames-per-layer", "frames-dir", "method", "ids", "codec"});
  Args args(argc, argv, 2, valued, {"whole", "contour", "ignore-exif", "json"});
  if (!args.positional().empty()) throw UsageError("unexpected argument '" + args.positional()[0] + "' (give the image with --image)");
  const std::string model = args.required("model"), imagePath = args.required("image"), out = args.required("out");
  if (std::filesystem::path(out).extension() != ".mp4") throw UsageError("--out must name an .mp4 file, got '" + out + "'");
  ExplainOptions o;
  const std::string method = args.value("method").value_or("gradcam");
  const auto m = parseExplainMethod(method);
  if (!m || *m == ExplainMethod::CrossAttention || *m == ExplainMethod::IntegratedGradients)
    throw UsageError("--method must be gradcam, hirescam or gradxact for the layer video, got '" + method + "'");
  o.method = *m;
  if (args.flag("whole")) {
    if (args.value("token")) throw UsageError("give --token K or --whole, not both");
    o.scope = TokenScope::Whole;
  } else {
    o.token = args.intValue("token", 1, -1000000, 1000000);
  }
  if (auto ids = args.value("ids")) o.ids = parseIds(*ids, "ids");
  o.decoding = decodingOptionsFrom(args);
  VideoExportOptions vo;
  vo.fps = args.intValue("fps", 2, 1, 240);
  vo.framesPerLayer = args.intValue("frames-per-layer", 1, 1, 1000);
  if (auto d = args.value("frames-dir")) vo.framesDir = *d;
  vo.overlay = overlayFrom(args);
  vo.codec = args.value("codec").value_or("auto");
  const models::ModelFamily family = familyOf(model);
  if (family != models::ModelFamily::BlipCaption)
    throw UsageError(model + " is not a BLIP captioning model: the layer video explains a caption token");
  const io::ImageU8 image = io::loadImage(imagePath, imageLoadOptionsFrom(args));
  const ExplainResult layers = explainCaptionLayers(*Captioner::load(model, modelOptionsFrom(args)), image, o);
  const VideoExportResult v = writeLayerVideo(out, layers, image, vo);
  if (args.flag("json")) {
    printJson({{"out", out}, {"codec", v.codec}, {"frames", v.frames}, {"width", v.width}, {"height", v.height}, {"fps", vo.fps},
               {"layers", layers.maps.size()}, {"caption", layers.text}, {"token", layers.maps[0].token}});
    return 0;
  }
  std::printf("wrote %s: %lld frames %dx%d (%s), %zu layers of \"%s\"\n", out.c_str(), static_cast<long long>(v.frames), v.width, v.height,
              v.codec.c_str(), layers.maps.size(), layers.text.c_str());
  return 0;
}

}  // namespace vlm::cli
