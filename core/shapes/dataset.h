#pragma once
// Shapes-world scenes on disk: for each seed, scene_SEED.png (the image), scene_SEED_labels.png
// (8-bit grey: 0 background, k + 1 the pixels of object k, in caption order) and a description
// in scenes.json (caption, words and the object each names, objects, questions and answers).

#include <nlohmann/json.hpp>

#include <filesystem>

#include "common/job.h"
#include "shapes/world.h"

namespace vlm::shapes {

// The scene as JSON (no pixels): seed, caption, words, word_object, objects (shape, colour,
// centre, radius, area in pixels), questions (question, answer, kind).
nlohmann::ordered_json describe(const Scene& scene);

// Writes scenes firstSeed .. firstSeed + count - 1 into `dir` (created) and returns the
// scenes.json it writes: {"world": options, "scenes": [describe(...) + file names]}. Progress
// per scene, cancel between scenes; vlm::Error Io naming the file on a write failure.
nlohmann::ordered_json writeScenes(const WorldOptions& options, uint64_t firstSeed, int count, const std::filesystem::path& dir,
                                   const JobContext& job = {});

}  // namespace vlm::shapes
