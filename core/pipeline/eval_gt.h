#pragma once
// `vlmscope eval-gt`: explanations scored against ground truth on shapes-world scenes (in the
// spirit of CLEVR-XAI). For each scene the model explains its own scene's true caption
// (teacher-forced), and for every caption token that names an object (its colour and its shape
// word) each method's map is compared with that object's exact mask: the pointing game (is the
// map's maximum inside the mask?), relevance mass (share of the positive relevance inside it)
// and relevance rank (share of the top-|mask| pixels inside it). A random map gives the chance
// level. Mask-and-regenerate: hiding the object's bounding box and captioning again removes its
// "colour shape" phrase in X % of cases, against a control box of the same size on the empty
// background. No LibTorch types in this header.

#include <cstdint>
#include <string>
#include <vector>

#include "common/job.h"
#include "shapes/world.h"

namespace vlm {

class Captioner;

// gradcam (a row per vision layer, then post_layernorm), xattn (a row per text layer), ig,
// kernel-grid, kernel-slic, kernel-dff, owen, random.
std::vector<std::string> evalGtMethods();

struct EvalGtOptions {
  int scenes = 200;
  uint64_t seed = 0;              // scene i: evalGtSceneSeed(seed, i)
  std::vector<std::string> methods = evalGtMethods();
  int tolerance = 0;              // pointing game, image pixels
  int igSteps = 16;
  int64_t shapBudget = 256;       // model evaluations per Shapley run
  std::string grid = "5x5";       // kernel-grid cells
  int slicSegments = 40;          // kernel-slic superpixels
  int dffConcepts = 6;            // kernel-dff concepts (of the last vision layer)
  bool regenerate = true;         // mask-and-regenerate rates
  // The scenes: the model folder's training.json world when it has one, else these options.
  shapes::WorldOptions world;
  bool worldFromModel = true;
};

struct EvalGtRow {
  std::string method, layer;  // "gradcam", "layer 1" / "post_layernorm" / "" ...
  int pairs = 0;              // (scene, token) pairs scored
  double pointing = 0, mass = 0, rank = 0;        // means over the pairs
  double pointingStderr = 0, massStderr = 0, rankStderr = 0;
  double seconds = 0;
};

struct EvalGtReport {
  std::string model;
  shapes::WorldOptions world;
  int scenes = 0, pairs = 0;
  // The chance level of a uniformly random map: the mean share of the image within `tolerance`
  // of the mask (pointing) and the mean mask share (mass, rank).
  double chancePointing = 0, chanceMass = 0;
  int tolerance = 0;
  std::vector<EvalGtRow> rows;
  // Mask-and-regenerate: objects masked, how many lost their phrase; the control boxes.
  int masked = 0, removed = 0, controlMasked = 0, controlRemoved = 0;
  double seconds = 0;
};

// The seed of scene i (disjoint from train-shapes' training and held-out seeds).
uint64_t evalGtSceneSeed(uint64_t seed, int index);

// vlm::Error InvalidArgument for an unknown method or a scene count < 1; Cancelled.
EvalGtReport evalGroundTruth(const Captioner& captioner, const EvalGtOptions& options, const JobContext& job = {});

// The report as a Markdown table (what the README shows).
std::string evalGtMarkdown(const EvalGtReport& report);

}  // namespace vlm
