// vlmscope eval-gt: explanation methods scored against the exact object masks of shapes-world
// scenes (pointing game, relevance mass / rank; a random map as the chance level) and
// mask-and-regenerate rates; a Markdown table or JSON.
#include <cstdio>
#include <sstream>

#include "commands.h"
#include "common/error.h"
#include "common_options.h"
#include "io/files.h"
#include "pipeline/eval_gt.h"

namespace vlm::cli {

namespace {

nlohmann::ordered_json toJson(const EvalGtReport& r) {
  nlohmann::ordered_json rows = nlohmann::ordered_json::array();
  for (const auto& row : r.rows)
    rows.push_back({{"method", row.method},       {"layer", row.layer},     {"pairs", row.pairs},
                    {"pointing", row.pointing},   {"pointing_stderr", row.pointingStderr},
                    {"mass", row.mass},           {"mass_stderr", row.massStderr},
                    {"rank", row.rank},           {"rank_stderr", row.rankStderr},
                    {"seconds", row.seconds}});
  return {{"model", r.model},
          {"scenes", r.scenes},
          {"pairs", r.pairs},
          {"world", {{"image_size", r.world.imageSize}, {"min_objects", r.world.minObjects}, {"max_objects", r.world.maxObjects},
                     {"texture", r.world.texture}, {"distractors", r.world.distractors}}},
          {"tolerance", r.tolerance},
          {"chance", {{"pointing", r.chancePointing}, {"mass", r.chanceMass}, {"rank", r.chanceMass}}},
          {"rows", rows},
          {"regenerate", {{"masked", r.masked}, {"removed", r.removed}, {"control_masked", r.controlMasked}, {"control_removed", r.controlRemoved}}},
          {"seconds", r.seconds}};
}

std::vector<std::string> splitList(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string item; std::getline(in, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}

}  // namespace

int cmdEvalGt(int argc, char** argv) {
  std::set<std::string> valued = kModelOptionNames;
  valued.insert({"n", "seed", "method", "tolerance-px", "ig-steps", "budget", "grid", "slic", "dff-concepts", "out"});
  Args args(argc, argv, 2, valued, {"json", "no-regenerate"});
  if (!args.positional().empty()) throw UsageError("unexpected argument '" + args.positional()[0] + "'");
  const std::string model = args.required("model");
  EvalGtOptions o;
  o.scenes = args.intValue("n", o.scenes, 1, 1000000);
  o.seed = uint64_t(args.intValue("seed", 0, 0, 1 << 29));
  if (auto m = args.value("method")) o.methods = splitList(*m);
  o.tolerance = args.intValue("tolerance-px", o.tolerance, 0, 4096);
  o.igSteps = args.intValue("ig-steps", o.igSteps, 1, 4096);
  o.shapBudget = args.intValue("budget", int(o.shapBudget), 2, 10000000);
  o.grid = args.value("grid").value_or(o.grid);
  o.slicSegments = args.intValue("slic", o.slicSegments, 2, 100000);
  o.dffConcepts = args.intValue("dff-concepts", o.dffConcepts, 1, 1000);
  o.regenerate = !args.flag("no-regenerate");
  if (familyOf(model) != models::ModelFamily::BlipCaption)
    throw UsageError(model + " is not a BLIP captioning model: eval-gt scores the explanations of caption words");
  const auto captioner = Captioner::load(model, modelOptionsFrom(args));
  const EvalGtReport r = evalGroundTruth(*captioner, o, terminalProgress());
  finishProgress();
  const std::string markdown = evalGtMarkdown(r);
  if (auto out = args.value("out")) {
    std::filesystem::create_directories(*out);
    io::writeFileAtomic(std::filesystem::path(*out) / "eval_gt.json", toJson(r).dump(2) + "\n");
    io::writeFileAtomic(std::filesystem::path(*out) / "eval_gt.md", markdown);
  }
  if (args.flag("json")) printJson(toJson(r));
  else std::fputs(markdown.c_str(), stdout);
  return 0;
}

}  // namespace vlm::cli
