#pragma once
// Captioner internals for core code that works with tensors (dump, benchmark, explainers).

#include <ATen/core/Tensor.h>

#include "io/model_location.h"
#include "models/blip/blip_caption.h"
#include "pipeline/captioner.h"
#include "text/wordpiece.h"
#include "vision/preprocess.h"

namespace vlm {

struct Captioner::Impl {
  std::string spec;
  io::ModelLocation location;
  ModelOptions options;
  at::Device device = at::kCPU;
  at::ScalarType dtype = at::kFloat;
  models::LoadedBlipCaption model;
  std::optional<text::WordPieceTokenizer> tokenizer;
  vision::ImageProcessorConfig processor;

  // [1, 3, S, S] float32 pixel values on the model's device
  at::Tensor pixelValues(const io::ImageU8& image) const;
  // generate() start ids for a prompt ("" = [DEC] alone)
  std::vector<int64_t> promptIds(const std::string& prompt) const;
  // image_embeds [1, 1+N, C] in float32 (run under the compute dtype)
  at::Tensor encode(const at::Tensor& pixelValues) const;
};

}  // namespace vlm
