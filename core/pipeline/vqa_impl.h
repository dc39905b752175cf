#pragma once
// QuestionAnswerer internals for core code that works with tensors (dump, benchmark, explainers).

#include <ATen/core/Tensor.h>

#include "models/blip/blip_vqa.h"
#include "pipeline/blip_pipeline.h"
#include "pipeline/vqa.h"

namespace vlm {

struct QuestionAnswerer::Impl : BlipPipelineBase {
  models::LoadedBlipVqa model;

  // image_embeds [1, 1+N, Cv] (run under the compute dtype)
  at::Tensor encodeImage(const at::Tensor& pixelValues) const;
  // Questions tokenized and right-padded with [PAD]: ids and attention mask [B, Tq] on the device.
  std::pair<at::Tensor, at::Tensor> questionBatch(const std::vector<std::string>& questions) const;
};

}  // namespace vlm
