#pragma once
// The intermediates of one CLIP pass (an image against several texts) under the names of the
// reference fixtures (tests/data/clip-tiny, without the image prefix): what `vlmscope dump`
// writes and what the parity tests compare.
//   pixel_values [3,S,S]; vision/hidden_states/K [1+N,C] (K = 0..L); vision/pooler_output [C];
//   image_features [P]; image_embeds [P];
//   text/input_ids, text/attention_mask [n,T] (int64); text/hidden_states/K [n,T,C];
//   text/last_hidden_state [n,T,C]; text/pooler_output [n,C]; text/text_features [n,P];
//   text/text_embeds [n,P]; logit_scale [1]; logits_per_image [n];
//   grad/cos [1]; grad/A/K, grad/dcosdA/K [1+N,C] (K = 0..L-1); grad/dcosd_pixel_values [3,S,S]
// where cos = image_embeds . text_embeds[gradText], differentiated through the vision tower
// only (the text side is a constant, as in the fixture's recipe).

#include <ATen/core/Tensor.h>

#include <string>
#include <utility>
#include <vector>

#include "models/clip/clip_model.h"

namespace vlm::models {

using NamedTensors = std::vector<std::pair<std::string, at::Tensor>>;

// pixelValues [1, 3, S, S]; ids / attentionMask [n, T] int64 (padded to the longest text).
NamedTensors dumpClip(ClipModelImpl& model, const at::Tensor& pixelValues, const at::Tensor& ids,
                      const at::Tensor& attentionMask, int64_t gradText);

}  // namespace vlm::models
