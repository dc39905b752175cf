// vlmscope metrics: faithfulness of an explanation written by `explain` or `shap` (deletion /
// insertion curves and AUC, pointing game and relevance mass / rank against a ground-truth
// mask) and the cascading randomisation sanity check.
#include <cstdio>
#include <cstring>
#include <string>

#include "commands.h"
#include "common/error.h"
#include "common_options.h"
#include "io/files.h"
#include "io/image.h"
#include "pipeline/faithfulness.h"
#include "pipeline/similarity.h"

namespace vlm::cli {

namespace {

// The explanation's own method, layer and tokens, to recompute it on a randomised model.
ExplainOptions optionsOf(const ExplainResult& e) {
  ExplainOptions o;
  const std::string method = e.method.substr(0, e.method.find(' '));
  const auto m = parseExplainMethod(method);
  if (!m) throw UsageError("--randomization recomputes a gradient explanation (explain --method ...), not '" + e.method + "'");
  o.method = *m;
  o.ids = e.ids;
  if (e.layer == "post_layernorm") o.postLayernorm = true;
  for (const char* prefix : {"vision layer ", "text layer "})
    if (e.layer.rfind(prefix, 0) == 0) o.layer = std::stoi(e.layer.substr(std::strlen(prefix)));
  if (e.maps.size() > 1) o.scope = TokenScope::All;
  else if (!e.maps.empty() && e.maps[0].position >= 1) o.token = int(e.maps[0].position);
  else o.scope = TokenScope::Whole;
  return o;
}

}  // namespace

int cmdMetrics(int argc, char** argv) {
  std::set<std::string> valued = kModelOptionNames;
  valued.insert(kMaskerOptionNames.begin(), kMaskerOptionNames.end());
  valued.insert({"image", "from", "gt", "features", "steps", "batch", "tolerance-px", "seed"});
  Args args(argc, argv, 2, valued, {"randomization", "ignore-exif", "json"});
  if (!args.positional().empty()) throw UsageError("unexpected argument '" + args.positional()[0] + "' (give the image with --image)");
  const std::string model = args.required("model"), imagePath = args.required("image"), from = args.required("from");
  FaithfulnessOptions o;
  o.features = args.value("features").value_or("grid");
  o.steps = args.intValue("steps", 0, 0, 100000);
  o.batch = args.intValue("batch", 16, 1, 4096);
  o.pointingTolerance = args.intValue("tolerance-px", 15, 0, 100000);
  std::tie(o.masker, o.maskerOptions) = maskerFrom(args);
  const ExplainResult explained = readExplanation(from);
  const io::ImageU8 image = io::loadImage(imagePath, imageLoadOptionsFrom(args));
  if (auto gt = args.value("gt")) o.groundTruth = readMaskImage(*gt, image.width, image.height);
  const models::ModelFamily family = familyOf(model);
  FaithfulnessResult r;
  std::vector<RandomizationStep> randomization;
  switch (family) {
    case models::ModelFamily::BlipCaption: {
      if (explained.family != "blip-caption") throw UsageError(from + " explains a " + explained.family + " model, " + model + " is a captioning model");
      const auto captioner = Captioner::load(model, modelOptionsFrom(args));
      r = faithfulnessCaption(*captioner, image, explained, o, terminalProgress());
      if (args.flag("randomization"))
        randomization = cascadingRandomization(*captioner, image, optionsOf(explained), uint64_t(args.intValue("seed", 0, 0, 2147483647)), terminalProgress());
      break;
    }
    case models::ModelFamily::BlipVqa: {
      if (explained.family != "blip-vqa") throw UsageError(from + " explains a " + explained.family + " model, " + model + " is a VQA model");
      if (args.flag("randomization")) throw UsageError("--randomization works with BLIP captioning models");
      const auto vqa = QuestionAnswerer::load(model, modelOptionsFrom(args));
      r = faithfulnessAnswer(*vqa, image, explained, o, terminalProgress());
      break;
    }
    case models::ModelFamily::Clip: {
      if (explained.family != "clip") throw UsageError(from + " explains a " + explained.family + " model, " + model + " is a CLIP model");
      if (args.flag("randomization")) throw UsageError("--randomization works with BLIP captioning models");
      const auto clip = SimilarityModel::load(model, modelOptionsFrom(args));
      r = faithfulnessSimilarity(*clip, image, explained, o, terminalProgress());
      break;
    }
  }
  finishProgress();
  nlohmann::ordered_json j{{"model", model}, {"image", imagePath}, {"from", from}, {"method", explained.method}, {"layer", explained.layer},
                           {"text", explained.text}};
  j.update(describeFaithfulness(r));
  if (!randomization.empty()) {
    nlohmann::ordered_json steps = nlohmann::ordered_json::array();
    for (const auto& s : randomization) steps.push_back({{"randomized", s.randomized}, {"spearman", s.spearman}, {"spearman_abs", s.spearmanAbs}});
    j["cascading_randomization"] = steps;
  }
  io::writeFileAtomic(std::filesystem::path(from) / "metrics.json", j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
  if (args.flag("json")) {
    printJson(j);
    return 0;
  }
  std::printf("%s (%s) of \"%s\": deletion / insertion over %s\n", explained.method.c_str(), explained.layer.c_str(), explained.text.c_str(),
              r.features.c_str());
  for (const auto& m : r.maps) {
    std::printf("  %-10s %-12s deletion AUC %.4f  insertion AUC %.4f  (v(all) %.4f, v(none) %.4f)", m.label.c_str(), m.token.c_str(), m.deletionAuc,
                m.insertionAuc, m.fullValue, m.emptyValue);
    if (m.pointingHit) std::printf("  pointing %s  mass %.3f  rank %.3f", *m.pointingHit ? "hit" : "miss", *m.relevanceMass, *m.relevanceRank);
    std::printf("\n");
  }
  for (const auto& s : randomization) {
    double mean = 0;
    for (double v : s.spearman) mean += v / double(s.spearman.size());
    std::printf("  randomized %-28s mean Spearman %.3f\n", s.randomized.c_str(), mean);
  }
  std::printf("%lld model evaluations in %.2f s; wrote %s/metrics.json\n", static_cast<long long>(r.evaluations), r.seconds, from.c_str());
  return 0;
}

}  // namespace vlm::cli
