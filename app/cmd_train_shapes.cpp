// vlmscope train-shapes: a small BLIP captioner / VQA model or CLIP trained on shapes-world
// scenes, saved in the Hugging Face layout with a model card, evaluated on held-out scenes.
#include <cstdio>

#include "args.h"
#include "commands.h"
#include "common_options.h"
#include "pipeline/train_shapes.h"
#include "runtime/runtime.h"

namespace vlm::cli {

int cmdTrainShapes(int argc, char** argv) {
  Args args(argc, argv, 2,
            {"arch", "out", "steps", "batch", "lr", "weight-decay", "warmup", "seed", "hidden", "layers", "heads", "intermediate", "image-size",
             "patch", "scene-size", "eval", "threads", "questions", "evaluate"},
            {"texture", "distractors", "json"});
  if (auto dir = args.value("evaluate")) {
    runtime::setThreads(args.intValue("threads", 0, 0, 1024));
    const TrainShapesReport r = evaluateShapesModel(*dir, terminalProgress());
    finishProgress();
    std::printf("%s: held-out (%d scenes) exact match %.1f %%, same meaning %.1f %%, word accuracy %.1f %%, retrieval %.1f %% / %.1f %%\n",
                dir->c_str(), r.evalScenes, 100 * r.exactMatch, 100 * r.meaningMatch, 100 * r.wordAccuracy, 100 * r.retrievalImageToText,
                100 * r.retrievalTextToImage);
    return 0;
  }
  TrainShapesOptions o;
  o.arch = args.value("arch").value_or(o.arch);
  const std::string out = args.required("out");
  o.steps = args.intValue("steps", o.steps, 1, 10000000);
  o.batch = args.intValue("batch", o.batch, 1, 4096);
  o.learningRate = args.doubleValue("lr", o.learningRate, 1e-7, 1);
  o.weightDecay = args.doubleValue("weight-decay", o.weightDecay, 0, 1);
  o.warmupSteps = args.intValue("warmup", o.warmupSteps, 1, 1000000);
  o.seed = uint64_t(args.intValue("seed", 0, 0, 2147483647));
  o.hiddenSize = args.intValue("hidden", o.hiddenSize, 8, 4096);
  o.layers = args.intValue("layers", o.layers, 1, 48);
  o.heads = args.intValue("heads", o.heads, 1, 64);
  o.intermediateSize = args.intValue("intermediate", 2 * o.hiddenSize, 8, 16384);
  o.imageSize = args.intValue("image-size", o.imageSize, 16, 1024);
  o.patchSize = args.intValue("patch", o.patchSize, 2, 64);
  o.world.imageSize = args.intValue("scene-size", o.world.imageSize, 32, 4096);
  o.world.texture = args.flag("texture");
  o.world.distractors = args.flag("distractors");
  o.evalScenes = args.intValue("eval", o.evalScenes, 0, 1000000);
  o.questionsPerScene = args.intValue("questions", o.questionsPerScene, 0, 1000);
  runtime::setThreads(args.intValue("threads", 0, 0, 1024));
  const TrainShapesReport r = trainShapes(o, out, terminalProgress());
  finishProgress();
  const bool clip = o.arch == "clip";
  if (args.flag("json")) {
    nlohmann::ordered_json j{{"out", out},        {"steps", o.steps},          {"parameters", r.parameters},   {"seconds", r.seconds},
                             {"first_loss", r.losses.front()}, {"last_loss", r.losses.back()}, {"eval_scenes", r.evalScenes}};
    j.update(trainingScores(o, r));
    j["examples"] = r.examples;
    j["losses"] = r.losses;
    printJson(j);
  } else if (clip) {
    std::printf("trained %s in %.1f s: loss %.3f -> %.3f; held-out (%d scenes, %d distinct captions): image -> text %.1f %%, text -> image %.1f %%\n",
                out.c_str(), r.seconds, r.losses.front(), r.losses.back(), r.evalScenes, r.distinctCaptions, 100 * r.retrievalImageToText,
                100 * r.retrievalTextToImage);
    for (const auto& e : r.examples) std::printf("  %s\n", e.c_str());
  } else {
    std::printf("trained %s in %.1f s: loss %.3f -> %.3f; held-out (%d scenes): exact match %.1f %%, word accuracy %.1f %%\n", out.c_str(),
                r.seconds, r.losses.front(), r.losses.back(), r.evalScenes, 100 * r.exactMatch, 100 * r.wordAccuracy);
    for (const auto& e : r.examples) std::printf("  %s\n", e.c_str());
  }
  return 0;
}

}  // namespace vlm::cli
