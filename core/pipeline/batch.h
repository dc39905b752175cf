#pragma once
// Many images x tokens x methods in one run (CLI `batch`): resumable (a finished image/method
// pair leaves done.json and is skipped next time), shardable (--shard I/N takes every N-th
// image from the I-th, so Slurm array jobs or Kubernetes indexed jobs split a folder without
// coordination), with a CSV summary per shard. No LibTorch types in this header.

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "common/job.h"
#include "pipeline/faithfulness.h"
#include "pipeline/shap.h"

namespace vlm {

struct BatchOptions {
  std::string model;
  std::filesystem::path images;  // a folder; .png .jpg .jpeg .bmp .webp .tif .tiff, sorted by name
  std::filesystem::path out;
  std::vector<std::string> methods = {"gradcam"};  // gradcam hirescam gradxact xattn ig | exact kernel permutation owen interactions
  bool everyToken = false;   // one map per token; otherwise the whole caption / answer
  bool metrics = false;      // deletion / insertion for every map
  int shard = 0, shards = 1; // this run takes images i with i % shards == shard
  std::string question;      // VQA models
  std::string text;          // CLIP models
  ShapOptions shap;          // features, evaluations, batch, seed, masker for the Shapley methods
  FaithfulnessOptions faithfulness;
  bool applyExifOrientation = true;
  ModelOptions modelOptions;
};

struct BatchSummary {
  int images = 0;     // in this shard
  int done = 0;       // image/method pairs computed now
  int skipped = 0;    // already done by an earlier run
  int failed = 0;
  std::filesystem::path csv;
  std::vector<std::string> errors;  // "image / method: message"
};

// InvalidArgument for an unknown method, a bad shard, an empty folder; per-image failures are
// recorded (error.json, the summary) and the run goes on.
BatchSummary runBatch(const BatchOptions& options, const JobContext& job = {});

}  // namespace vlm
