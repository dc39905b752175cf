#include "cli.h"

#include <cstring>
#include <exception>
#include <string>

#include "args.h"
#include "commands.h"
#include "common/error.h"

namespace vlm::cli {

namespace {

struct Command {
  const char* name;
  int (*run)(int, char**);
  const char* usage;
};

const Command kCommands[] = {
    {"caption", cmdCaption,
     "caption --model M IMAGE... [--prompt TEXT] [--beams N] [--max-length N] [--min-length N]\n"
     "          [--repetition-penalty R] [--no-repeat-ngram N] [--ignore-exif] [--json]\n"
     "          [--threads N] [--dtype float32|bfloat16] [--device cpu|cuda]"},
    {"similarity", cmdSimilarity,
     "similarity --model M --image IMAGE --text T [--text T2 ...] [--json] [--ignore-exif]\n"
     "          [--threads N] [--dtype float32|bfloat16] [--device cpu|cuda]"},
    {"vqa", cmdVqa,
     "vqa --model M --image IMAGE --question Q [--beams N] [--max-length N] [--min-length N] [--json]\n"
     "          [--ignore-exif] [--threads N] [--dtype float32|bfloat16] [--device cpu|cuda]"},
    {"explain", cmdExplain,
     "explain --model M --image IMAGE --out DIR [--method gradcam|hirescam|gradxact|xattn|ig]\n"
     "          [--token K | --all-tokens | --answer] [--layer L|post_layernorm] [--question Q] [--text T] [--ids I,J,...]\n"
     "          [--steps N] [--rule gausslegendre|trapezoid] [--batch N] [--baseline black|blur|mean] [--blur-sigma S]\n"
     "          [--on-question] [--colormap viridis|inferno|jet|gray] [--alpha A] [--contour] [--json] [--ignore-exif]\n"
     "    writes STEM.png (overlay), STEM.npy (raw map) per map and explanation.json; token K = K-th generated token"},
    {"mask", cmdMask,
     "mask --model M --image IMAGE (--rect x,y,w,h [--rect ...] | --auto-top PERCENT [--from-method gradcam] [--token K] [--layer L])\n"
     "          [--masker constant|blur|telea|ns|patch] [--color R,G,B] [--blur-sigma S] [--question Q] [--clip M2]\n"
     "          [--save-masked FILE.png] [--json] [--ignore-exif]"},
    {"video", cmdVideo,
     "video --model M --image IMAGE --token K --out FILE.mp4 [--fps N] [--frames-per-layer N] [--frames-dir DIR]\n"
     "          [--method gradcam|hirescam|gradxact] [--colormap C] [--codec auto|libx264|mpeg4] [--json]"},
    {"shap", cmdShap,
     "shap --model M --image IMAGE --out DIR\n"
     "          [--features grid[:RxC]|slic:N|slico:N|dff:LAYER:K|rects:FILE.json|masks:A.png,...|partition[:RxC]]\n"
     "          [--value token-logprob|token-logodds|caption-logprob|caption-similarity --clip M2|answer|clip]\n"
     "          [--estimator exact|kernel|permutation|owen|interactions]\n"
     "          [--evals N] [--batch N] [--seed S] [--tolerance T] [--masker constant|blur|telea|ns|patch] [--dff-threshold T]\n"
     "          [--question Q | --text T] [--ids I,J,...] [--colormap C] [--json] [--ignore-exif]"},
    {"metrics", cmdMetrics,
     "metrics --model M --image IMAGE --from DIR [--gt MASK.png] [--features grid[:RxC]|slic:N] [--steps N] [--batch N]\n"
     "          [--masker constant|blur|telea|ns|patch] [--tolerance-px 15] [--randomization [--seed S]] [--json] [--ignore-exif]"},
    {"batch", cmdBatch,
     "batch --model M --images DIR --out DIR [--methods gradcam,ig,kernel,...] [--token-all] [--metrics] [--shard I/N]\n"
     "          [--question Q | --text T] [--features grid:4x4] [--evals N] [--batch N] [--seed S] [--masker ...] [--json]"},
    {"dump", cmdDump,
     "dump --model M --image IMAGE --out FILE.safetensors [--ids I,J,...] [--target-pos T] [--ignore-exif]   (captioning)\n"
     "  dump --model M --image IMAGE --question Q --out FILE.safetensors [--answer-ids I,J,...] [--ignore-exif]   (VQA)\n"
     "  dump --model M --image IMAGE --text T1 [--text T2 ...] [--grad-text K] --out FILE.safetensors [--ignore-exif]   (CLIP)"},
    {"tokenize", cmdTokenize,
     "tokenize --model M [--text-cleaning ftfy|basic] [TEXT...]   (no TEXT: JSON strings on stdin, one per line;\n"
     "    --text-cleaning: CLIP checkpoints only; ftfy (default) as openai CLIP, basic as transformers without ftfy)"},
    {"make-random-model", cmdMakeRandomModel,
     "make-random-model --like blip-image-captioning-base|blip-image-captioning-large|blip-vqa-base|clip-vit-base-patch32\n"
     "          --out DIR [--seed S]"},
    {"bench", cmdBench,
     "bench gemm [--size N] [--threads N] [--json]\n"
     "  bench caption --model M --image IMAGE [--runs N] [--tokens N] [--threads N] [--dtype D] [--json]\n"
     "  bench vqa --model M --image IMAGE [--question Q] [--runs N] [--tokens N] [--threads N] [--dtype D] [--json]\n"
     "  bench similarity --model M --image IMAGE [--text T ...] [--runs N] [--threads N] [--dtype D] [--json]\n"
     "  bench explain --model M --image IMAGE [--method gradcam|hirescam|gradxact|xattn] [--layer L] [--runs N] [--json]\n"
     "  bench shap --model M --image IMAGE [--features grid:8x8] [--evals 300] [--batch 16] [--runs N] [--json]"},
    {"shapes", cmdShapes,
     "shapes --out DIR [--n 10] [--seed S] [--size 128] [--min-objects 1] [--max-objects 4] [--texture] [--distractors] [--json]\n"
     "    shapes-world scenes: scene_SEED.png, scene_SEED_labels.png (0 background, k+1 object k), scenes.json\n"
     "    (caption, the object each word names, objects, VQA questions and answers)"},
    {"train-shapes", cmdTrainShapes,
     "train-shapes --arch blip-caption|blip-vqa|clip --out DIR [--steps 1500] [--batch 32] [--lr 1e-3] [--weight-decay 0.01] [--warmup 50] [--seed S]\n"
     "          [--hidden 64] [--layers 2] [--heads 4] [--intermediate 128] [--image-size 64] [--patch 8] [--scene-size 128]\n"
     "          [--texture] [--distractors] [--eval 200] [--questions 1 (VQA: per scene and step; 0 = all)] [--threads N] [--json]\n"
     "    trains a small BLIP captioner, BLIP VQA model or CLIP on shapes-world scenes; writes a Hugging Face checkpoint folder with a model card\n"
     "  train-shapes --evaluate DIR   scores a trained folder again on its held-out scenes (rewrites its training.json scores and model card)"},
    {"eval-gt", cmdEvalGt,
     "eval-gt --model M [--n 200] [--seed S] [--method gradcam,xattn,ig,kernel-grid,kernel-slic,kernel-dff,owen,random]\n"
     "          [--tolerance-px 0] [--ig-steps 16] [--budget 256] [--grid 5x5] [--slic 40] [--dff-concepts 6] [--no-regenerate]\n"
     "          [--out DIR] [--json]\n"
     "    explanations of a shapes-world captioner scored against the exact object masks (pointing game, relevance mass and\n"
     "    rank per method and layer, a random map as chance) and mask-and-regenerate rates; a Markdown table"},
    {"report", cmdReport,
     "report --session FILE.vlmscope --out REPORT.html|REPORT.pdf [--colormap viridis|inferno|jet|gray] [--opacity 0.5] [--title T]\n"
     "    a saved session's report: image, models, settings, masks, every run (caption with the explained token, map and colour\n"
     "    bar, Shapley chart, CLIP similarities, word diff, metrics, timings); HTML self-contained (no external request)"},
    {"models", cmdModels,
     "models list [--json]   the bundled demo models, the models in the Hugging Face cache, the known ones to download\n"
     "  models download NAME|ORG/NAME [--revision main] [--cache DIR] [--retries 4] [--timeout 30] [--endpoint URL] [--json]\n"
     "    into the Hugging Face cache (shared with transformers), resuming partial files, verified against the hub's\n"
     "    sizes and checksums; NAME: blip-image-captioning-base, blip-image-captioning-large, blip-vqa-base, clip-vit-base-patch32\n"
     "  models verify [NAME|ORG/NAME ...] [--json]   checks cached files against their checksums"},
    {"inspect", cmdInspect, "inspect FILE.safetensors|FOLDER [--json]   list the tensors of a checkpoint"},
};

}  // namespace

bool isSubcommand(const char* name) {
  for (const auto& c : kCommands)
    if (std::strcmp(c.name, name) == 0) return true;
  return false;
}

void printUsage(std::FILE* out) {
  std::fprintf(out,
               "usage: vlmscope [--model M] [--vqa-model M2 [--question Q]] [--clip-model M3] [IMAGE]   start the workbench (GUI)\n"
               "       vlmscope [--model M] IMAGE [--method gradcam|hirescam|gradxact|xattn|ig|shap] [--explain-token K]\n"
               "                [--mask x,y,w,h ...] --screenshot FILE.png\n"
               "                                             render the window (after the caption / token K's map /\n"
               "                                             the masked regeneration) and quit\n"
               "       vlmscope --version\n"
               "       vlmscope SUBCOMMAND [options]         headless\n\nsubcommands:\n");
  for (const auto& c : kCommands) std::fprintf(out, "  %s\n", c.usage);
}

int run(int argc, char** argv) {
  for (const auto& c : kCommands) {
    if (std::strcmp(c.name, argv[1]) != 0) continue;
    try {
      return c.run(argc, argv);
    } catch (const UsageError& e) {
      std::fprintf(stderr, "vlmscope %s: %s (see vlmscope --help)\n", c.name, e.what());
      return 2;
    } catch (...) {
      std::fprintf(stderr, "vlmscope %s: %s\n", c.name, vlm::describeCurrentException().c_str());
      return 1;
    }
  }
  std::fprintf(stderr, "vlmscope: unknown subcommand '%s'\n", argv[1]);
  return 2;
}

}  // namespace vlm::cli
