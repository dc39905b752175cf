#include "models/blip/blip_dump.h"

#include <ATen/ATen.h>

#include "common/error.h"
#include "models/nn.h"

namespace vlm::models {

at::Tensor dumpTensor(const at::Tensor& t) {
  const at::Tensor d = t.detach().to(at::kCPU);
  return (d.is_floating_point() ? d.to(at::kFloat) : d).contiguous();
}

void appendVisionHiddenStates(NamedTensors& out, const ActivationRecorder& rec, int64_t layers) {
  for (int64_t k = 0; k <= layers; ++k) {
    const std::string name = k == 0 ? "vision.embeddings" : "vision.layers." + std::to_string(k - 1) + ".out";
    out.emplace_back("vision/hidden_states/" + std::to_string(k), dumpTensor(rec.get(name)[0]));
  }
}

at::Tensor checkedIdsTensor(const std::vector<int64_t>& ids, int64_t vocabSize, const std::string& what) {
  for (int64_t id : ids)
    if (id < 0 || id >= vocabSize)
      throw Error(ErrorCode::InvalidArgument, what + ": token id " + std::to_string(id) + " is outside the vocabulary (0.." + std::to_string(vocabSize - 1) + ")");
  return at::tensor(ids, at::TensorOptions().dtype(at::kLong));
}

NamedTensors dumpBlipCaption(BlipForConditionalGenerationImpl& model, const at::Tensor& pixelValues,
                             const std::vector<int64_t>& ids, int64_t t) {
  if (ids.size() < 2) throw Error(ErrorCode::InvalidArgument, "dump needs at least two token ids ([DEC] and one more)");
  if (t < 1 || t >= int64_t(ids.size()))
    throw Error(ErrorCode::InvalidArgument, "target position " + std::to_string(t) + " is outside 1.." + std::to_string(ids.size() - 1));
  const at::Tensor idsCpu = checkedIdsTensor(ids, model.config.text.vocabSize, "decoder ids");

  torch::AutoGradMode grad(true);
  const auto device = model.text_decoder->cls->predictions->bias.device();
  const auto dtype = model.text_decoder->cls->predictions->bias.scalar_type();
  at::Tensor pixels = pixelValues.detach().to(device, dtype).requires_grad_(true);
  at::Tensor idt = idsCpu.unsqueeze(0).to(device);

  ActivationRecorder rec({"*"}, /*retainGrad=*/true);
  at::Tensor embeds = model.encodeImage(pixels, &rec);
  at::Tensor logits = model.decode(embeds, idt, &rec);  // [1, T, V]
  at::Tensor row = logits[0][t - 1];
  at::Tensor y = at::log_softmax(row, -1)[ids[t]];
  y.backward();

  const auto cpu = dumpTensor;
  NamedTensors out;
  out.emplace_back("pixel_values", cpu(pixelValues[0]));
  const int64_t layers = model.config.vision.numHiddenLayers;
  appendVisionHiddenStates(out, rec, layers);
  for (int64_t k = 0; k < layers; ++k)
    out.emplace_back("vision/attentions/" + std::to_string(k), cpu(rec.get("vision.layers." + std::to_string(k) + ".attn.probs")[0]));
  out.emplace_back("vision/post_layernorm", cpu(embeds[0]));
  out.emplace_back("vision/pooler_output", cpu(rec.get("vision.pooler")[0]));
  out.emplace_back("text/logits", cpu(logits[0]));

  out.emplace_back("gradcam/ids", idsCpu);
  out.emplace_back("gradcam/Y", cpu(y.reshape({1})));
  out.emplace_back("gradcam/logits", cpu(row));
  for (int64_t k = 0; k < layers; ++k) {
    const at::Tensor& a = rec.get("vision.layers." + std::to_string(k) + ".out");
    out.emplace_back("gradcam/A/" + std::to_string(k), cpu(a[0]));
    out.emplace_back("gradcam/dYdA/" + std::to_string(k), cpu(a.grad()[0]));
  }
  out.emplace_back("gradcam/dYd_post_layernorm", cpu(rec.get("vision.post_layernorm").grad()[0]));
  out.emplace_back("gradcam/dYd_pixel_values", cpu(pixels.grad()[0]));
  for (int64_t k = 0; k < model.config.text.numHiddenLayers; ++k) {
    const at::Tensor& p = rec.get("text.layers." + std::to_string(k) + ".crossattn.probs");
    out.emplace_back("gradcam/xattn/" + std::to_string(k), cpu(p[0]));
    out.emplace_back("gradcam/xattn_grad/" + std::to_string(k), cpu(p.grad()[0]));
  }
  return out;
}

}  // namespace vlm::models
