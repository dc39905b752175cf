#pragma once
// QuestionAnswerer internals for core code that works with tensors (dump, benchmark, explainers).

#include <ATen/core/Tensor.h>

#include "models/blip/blip_vqa.h"
#include "pipeline/pipeline_impl.h"
#include "pipeline/vqa.h"

namespace vlm {

struct QuestionAnswerer::Impl : BlipPipeline::State {
  models::LoadedBlipVqa model;

  const models::BlipConfig& config() const override { return model.model->config; }
  const models::WeightLoadReport& weightReport() const override { return model.report; }

  // image_embeds [1, 1+N, Cv] (run under the compute dtype)
  at::Tensor encodeImage(const at::Tensor& pixelValues) const;
  // Questions tokenized and right-padded with [PAD]: ids and attention mask [B, Tq] on the device.
  std::pair<at::Tensor, at::Tensor> questionBatch(const std::vector<std::string>& questions) const;
};

}  // namespace vlm
