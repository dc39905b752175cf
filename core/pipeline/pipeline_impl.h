#pragma once
// What the BLIP pipelines (Captioner, QuestionAnswerer) share, for core code only: locating
// the checkpoint, its tokenizer and image processor, device and dtype, pixel values, token
// strings, generation settings.

#include <ATen/core/Tensor.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "common/job.h"
#include "io/image.h"
#include "io/model_location.h"
#include "models/blip/blip_config.h"
#include "models/generation.h"
#include "models/model_kind.h"
#include "models/weights.h"
#include "pipeline/model_loading.h"
#include "pipeline/options.h"
#include "pipeline/pipeline.h"
#include "text/wordpiece.h"
#include "vision/preprocess.h"

namespace vlm {

models::GenerationOptions generationOptions(const DecodingOptions& options);

struct BlipPipeline::State {
  virtual ~State() = default;
  virtual const models::BlipConfig& config() const = 0;
  virtual const models::WeightLoadReport& weightReport() const = 0;

  std::string spec;
  io::ModelLocation location;
  ModelOptions options;
  at::Device device = at::kCPU;
  at::ScalarType dtype = at::kFloat;
  std::optional<text::WordPieceTokenizer> tokenizer;
  vision::ImageProcessorConfig processor;

  // Resolves `spec` (folder or hub id), checks that the folder holds `family` (the message
  // names what it holds and the commands for it otherwise), reads the tokenizer. Progress 0 .. 0.2.
  void open(const std::string& spec, const ModelOptions& options, models::ModelFamily family, const std::string& command,
            const JobContext& job);
  // After the weights are loaded: preprocessor_config.json, checked against the vision
  // tower's input side (Corrupt naming the file otherwise); progress 1.
  void finishLoad(const JobContext& job);
  // [1, 3, S, S] float32 pixel values on the model's device
  at::Tensor pixelValues(const io::ImageU8& image) const;
};

}  // namespace vlm
