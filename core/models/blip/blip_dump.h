#pragma once
// The intermediates of one BLIP captioning forward pass, under the names the reference
// fixtures use (without the image prefix): what `vlmscope dump` writes, what the parity tests
// compare, and what researchers take to Python.
//   pixel_values [3,S,S]; vision/hidden_states/K [T,C] (K = 0..L); vision/attentions/K [H,T,T];
//   vision/post_layernorm [T,C]; vision/pooler_output [C]; text/logits [Tt,V];
//   gradcam/ids [Tt]; gradcam/Y [1]; gradcam/logits [V]; gradcam/A/K and gradcam/dYdA/K [T,C];
//   gradcam/dYd_post_layernorm [T,C]; gradcam/dYd_pixel_values [3,S,S];
//   gradcam/xattn/K and gradcam/xattn_grad/K [H,Tt,T]
// with Y = log_softmax(logits[t-1])[ids[t]] for the target position t.

#include <ATen/core/Tensor.h>

#include <string>
#include <utility>
#include <vector>

#include "models/blip/blip_caption.h"

namespace vlm::models {

using NamedTensors = std::vector<std::pair<std::string, at::Tensor>>;

// What dumps write: detached, float32 (integer tensors keep their type), CPU, contiguous.
at::Tensor dumpTensor(const at::Tensor& t);
// "vision/hidden_states/K" [T, C] for K = 0..layers (batch row 0) from a recorder that kept
// vision.embeddings and vision.layers.K.out.
void appendVisionHiddenStates(NamedTensors& out, const ActivationRecorder& rec, int64_t layers);
// Token ids as the int64 CPU tensor dumps write, after checking each is inside the vocabulary
// (InvalidArgument naming `what` and the id otherwise).
at::Tensor checkedIdsTensor(const std::vector<int64_t>& ids, int64_t vocabSize, const std::string& what);

// pixelValues [1, 3, S, S]; ids start with [DEC]; 1 <= targetPos < ids.size().
// All outputs float32 on the CPU (ids int64), no batch dimension.
NamedTensors dumpBlipCaption(BlipForConditionalGenerationImpl& model, const at::Tensor& pixelValues,
                             const std::vector<int64_t>& ids, int64_t targetPos);

}  // namespace vlm::models
