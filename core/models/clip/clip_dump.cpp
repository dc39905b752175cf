#include "models/clip/clip_dump.h"

#include <ATen/ATen.h>

#include "common/error.h"
#include "models/nn.h"

namespace vlm::models {

NamedTensors dumpClip(ClipModelImpl& model, const at::Tensor& pixelValues, const at::Tensor& ids, const at::Tensor& attentionMask,
                      int64_t gradText) {
  if (ids.dim() != 2 || ids.size(0) < 1) throw Error(ErrorCode::InvalidArgument, "dump needs at least one text");
  if (gradText < 0 || gradText >= ids.size(0))
    throw Error(ErrorCode::InvalidArgument, "--grad-text " + std::to_string(gradText) + " is outside 0.." + std::to_string(ids.size(0) - 1) +
                                                " (the index of one of the texts)");
  const auto device = model.logit_scale.device();
  const auto dtype = model.logit_scale.scalar_type();
  auto cpu = [](const at::Tensor& x) { return x.detach().to(at::kCPU, at::kFloat).contiguous(); };
  NamedTensors out;

  // Text side: no gradient.
  ActivationRecorder textRec;
  at::Tensor textEmbeds;
  at::Tensor textFeatures;
  {
    torch::NoGradGuard ng;
    textFeatures = model.textFeatures(ids.to(device), attentionMask.to(device), &textRec);
    textEmbeds = l2Normalize(textFeatures);
  }

  // Vision side with gradients of the cosine with text `gradText`.
  torch::AutoGradMode grad(true);
  at::Tensor pixels = pixelValues.detach().to(device, dtype).requires_grad_(true);
  ActivationRecorder rec({"*"}, /*retainGrad=*/true);
  const at::Tensor imageFeatures = model.imageFeatures(pixels, &rec);
  const at::Tensor imageEmbeds = l2Normalize(imageFeatures);
  const at::Tensor cos = (imageEmbeds[0] * textEmbeds[gradText]).sum();
  cos.backward();

  out.emplace_back("pixel_values", cpu(pixelValues[0]));
  const int64_t layers = model.config.vision.numHiddenLayers;
  for (int64_t k = 0; k <= layers; ++k) {
    const std::string name = k == 0 ? "vision.embeddings" : "vision.layers." + std::to_string(k - 1) + ".out";
    out.emplace_back("vision/hidden_states/" + std::to_string(k), cpu(rec.get(name)[0]));
  }
  out.emplace_back("vision/pooler_output", cpu(rec.get("vision.pooler_output")[0]));
  out.emplace_back("image_features", cpu(imageFeatures[0]));
  out.emplace_back("image_embeds", cpu(imageEmbeds[0]));

  out.emplace_back("text/input_ids", ids.to(at::kCPU, at::kLong).contiguous());
  out.emplace_back("text/attention_mask", attentionMask.to(at::kCPU, at::kLong).contiguous());
  for (int64_t k = 0; k <= model.config.text.numHiddenLayers; ++k) {
    const std::string name = k == 0 ? "text.embeddings" : "text.layers." + std::to_string(k - 1) + ".out";
    out.emplace_back("text/hidden_states/" + std::to_string(k), cpu(textRec.get(name)));
  }
  out.emplace_back("text/last_hidden_state", cpu(textRec.get("text.last_hidden_state")));
  out.emplace_back("text/pooler_output", cpu(textRec.get("text.pooler_output")));
  out.emplace_back("text/text_features", cpu(textFeatures));
  out.emplace_back("text/text_embeds", cpu(textEmbeds));
  out.emplace_back("logit_scale", cpu(model.logit_scale.reshape({1})));
  {
    torch::NoGradGuard ng;
    const ClipScores s = clipScores(imageEmbeds.detach(), textEmbeds, model.logitScaleExp());
    out.emplace_back("logits_per_image", cpu(s.logitsPerImage[0]));
  }

  out.emplace_back("grad/cos", cpu(cos.reshape({1})));
  for (int64_t k = 0; k < layers; ++k) {
    const at::Tensor& a = rec.get("vision.layers." + std::to_string(k) + ".out");
    out.emplace_back("grad/A/" + std::to_string(k), cpu(a[0]));
    out.emplace_back("grad/dcosdA/" + std::to_string(k), cpu(a.grad()[0]));
  }
  out.emplace_back("grad/dcosd_pixel_values", cpu(pixels.grad()[0]));
  return out;
}

}  // namespace vlm::models
