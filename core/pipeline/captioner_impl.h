#pragma once
// Captioner internals for core code that works with tensors (dump, benchmark, explainers).

#include <ATen/core/Tensor.h>

#include "models/blip/blip_caption.h"
#include "pipeline/blip_pipeline.h"
#include "pipeline/captioner.h"

namespace vlm {

struct Captioner::Impl : BlipPipelineBase {
  models::LoadedBlipCaption model;

  // generate() start ids for a prompt ("" = [DEC] alone)
  std::vector<int64_t> promptIds(const std::string& prompt) const;
  // image_embeds [1, 1+N, C] in float32 (run under the compute dtype)
  at::Tensor encode(const at::Tensor& pixelValues) const;
};

}  // namespace vlm
