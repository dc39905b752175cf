#pragma once
// What the BLIP and CLIP shapes trainers share (core-internal): the scene seeds, the learning-rate
// schedule, the words of a text, the model card's description of the world, training.json.

#include <torch/optim/adamw.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "pipeline/train_shapes.h"

namespace vlm::train_detail {

// The seed of scene i of training step `step` (disjoint from heldOutSeed's).
inline uint64_t trainSeed(uint64_t seed, int step, int i, int batch) { return (seed << 32) + uint64_t(step) * uint64_t(batch) + uint64_t(i); }

// Linear warm-up to the rate, then cosine decay to a tenth of it.
double learningRateAt(const TrainShapesOptions& o, int step);

// `out` created (vlm::Error Io naming it otherwise).
void createOutputFolder(const std::filesystem::path& out);

// One optimiser step after backward(): gradient norm clipped at 1, the step's learning rate.
void optimizerStep(torch::optim::AdamW& optimizer, const std::vector<at::Tensor>& parameters, const TrainShapesOptions& o, int step);

// Split on whitespace.
std::vector<std::string> splitWords(const std::string& s);

// "1-4 flat-coloured shapes (...) on a light background, 128 x 128 px" for the model cards.
std::string worldDescription(const TrainShapesOptions& o);

// The command that reproduces a run: "vlmscope train-shapes --arch ... --eval N" with every option.
std::string recipeCommand(const TrainShapesOptions& o, int threads);

// A share as a percentage with one decimal ("68.5").
std::string percent(double share);

// training.json: the options that reproduce the folder and what it scored.
void writeTrainingRecord(const TrainShapesOptions& o, const TrainShapesReport& r, const std::filesystem::path& out);

// The CLIP trainer (arch "clip").
TrainShapesReport trainShapesClip(const TrainShapesOptions& o, const std::filesystem::path& out, const JobContext& job);
// Its held-out evaluation of the CLIP folder `out` into `report`, then the model card and training.json.
void evaluateClip(const TrainShapesOptions& o, const std::filesystem::path& out, TrainShapesReport& report, const JobContext& job);

}  // namespace vlm::train_detail
