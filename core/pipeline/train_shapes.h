#pragma once
// `vlmscope train-shapes`: a small BLIP captioning or VQA model, or a CLIP model, trained by
// VLMScope on shapes-world scenes with the same module classes the app runs, saved in the Hugging
// Face layout (config.json, model.safetensors, preprocessor_config.json, the real tokenizer's
// files with the vocabulary trimmed to what the world's words need, and a model card), then
// evaluated on held-out scenes by loading the saved folder like any model.
// No LibTorch types in this header.

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/job.h"
#include "shapes/world.h"

namespace vlm {

struct TrainShapesOptions {
  std::string arch = "blip-caption";  // blip-caption | blip-vqa | clip
  int steps = 1500;
  int batch = 32;
  double learningRate = 1e-3;  // AdamW, linear warm-up then cosine decay to a tenth
  double weightDecay = 0.01;
  int warmupSteps = 50;
  uint64_t seed = 0;           // weights and the training scenes
  // The model: both towers get these sizes.
  int hiddenSize = 64, layers = 2, heads = 4, intermediateSize = 128;
  int imageSize = 64, patchSize = 8;  // the vision input (the processor resizes the scenes)
  shapes::WorldOptions world;         // the scenes
  int evalScenes = 200;               // held out (seeds disjoint from the training scenes); 0: none
  int questionsPerScene = 1;          // VQA: 1 = one question drawn per scene and step; N = its first N; 0 = all of them
};

struct TrainShapesReport {
  std::vector<double> losses;  // mean token cross-entropy per step
  double seconds = 0;          // training
  int64_t parameters = 0;
  int evalScenes = 0;
  int threads = 0;             // LibTorch's intra-op threads while training
  double exactMatch = 0;    // held-out captions equal to the scene's caption (VQA: answers right, every question)
  double meaningMatch = 0;  // captions: exact, or the same two objects in the other order with the inverse relation (shapes::sameMeaning)
  double wordAccuracy = 0;  // held-out caption (VQA: answer) words equal to the true word at that position
  // CLIP: held-out retrieval among the distinct captions of the held-out scenes (top-1, right when
  // the retrieved caption has the same meaning, shapes::sameMeaning): image -> text, text -> image.
  double retrievalImageToText = 0, retrievalTextToImage = 0;
  int distinctCaptions = 0;
  std::vector<std::string> examples;  // a few "truth -> generated" lines
};

// Trains, writes `out` (created; training.json records the options and the scores), evaluates. vlm::Error InvalidArgument for an unknown arch or
// sizes that do not fit (hidden not a multiple of heads, image not a multiple of the patch);
// Cancelled between steps.
TrainShapesReport trainShapes(const TrainShapesOptions& options, const std::filesystem::path& out, const JobContext& job = {});

// The held-out scores of `r` for o.arch, as training.json and `train-shapes --json` name them:
// CLIP retrieval_image_to_text / retrieval_text_to_image / distinct_captions; BLIP exact_match
// (+ meaning_match for captions) and word_accuracy.
nlohmann::ordered_json trainingScores(const TrainShapesOptions& o, const TrainShapesReport& r);

// Evaluates a trained folder again on its held-out scenes (the options and the training figures
// from its training.json) and rewrites its training.json scores and model card; for records
// written before a score existed. vlm::Error as readTrainingRecord and the model loaders.
TrainShapesReport evaluateShapesModel(const std::filesystem::path& dir, const JobContext& job = {});

// The options recorded in a training.json (what reproduces that folder). vlm::Error Corrupt
// naming the file when a field is missing.
TrainShapesOptions readTrainingRecord(const std::filesystem::path& file);

// The seeds of the held-out scenes (disjoint from every training scene of every seed).
uint64_t heldOutSeed(uint64_t trainSeed, int index);

}  // namespace vlm
