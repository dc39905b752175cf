#pragma once
// Captioner internals for core code that works with tensors (dump, benchmark, explainers).

#include <ATen/core/Tensor.h>

#include "models/blip/blip_caption.h"
#include "pipeline/pipeline_impl.h"
#include "pipeline/captioner.h"

namespace vlm {

struct Captioner::Impl : BlipPipeline::State {
  models::LoadedBlipCaption model;

  const models::BlipConfig& config() const override { return model.model->config; }
  const models::WeightLoadReport& weightReport() const override { return model.report; }

  // generate() start ids for a prompt ("" = [DEC] alone)
  std::vector<int64_t> promptIds(const std::string& prompt) const;
  // image_embeds [1, 1+N, C] in float32 (run under the compute dtype)
  at::Tensor encode(const at::Tensor& pixelValues) const;
};

}  // namespace vlm
