#include "pipeline/dump.h"

#include <ATen/ATen.h>

#include "common/error.h"
#include "io/safetensors.h"
#include "models/blip/blip_dump.h"
#include "models/blip/blip_vqa_dump.h"
#include "pipeline/captioner_impl.h"
#include "pipeline/vqa_impl.h"

namespace vlm {

namespace {

// [1, 3, S, S] float32 on the CPU, a normal tensor (outside inference mode) so autograd can use it
at::Tensor dumpPixels(const BlipPipeline::State& m, const io::ImageU8& image) {
  at::Tensor pixels;
  {
    c10::InferenceMode inference;
    pixels = m.pixelValues(image).to(at::kCPU).clone();
  }
  return pixels.clone();
}

void write(const std::filesystem::path& out, const models::NamedTensors& tensors, const std::string& model) {
  io::writeSafetensors(out, tensors, {{"format", "pt"}, {"producer", "vlmscope dump"}, {"model", model}});
}

}  // namespace

DumpSummary writeCaptionDump(const Captioner& captioner, const io::ImageU8& image, const DumpOptions& options,
                             const std::filesystem::path& out) {
  DumpSummary s;
  s.ids = options.ids ? *options.ids : captioner.caption(image, options.greedy).ids;
  const Captioner::Impl& m = captioner.impl();
  const models::NamedTensors tensors = models::dumpBlipCaption(*m.model.model.ptr(), dumpPixels(m, image), s.ids, options.targetPos);
  write(out, tensors, captioner.modelName());
  s.tensors = tensors.size();
  for (const auto& [name, t] : tensors)
    if (name == "gradcam/Y") s.y = t.item<double>();
  return s;
}

DumpSummary writeVqaDump(const QuestionAnswerer& answerer, const io::ImageU8& image, const VqaDumpOptions& options,
                         const std::filesystem::path& out) {
  DumpSummary s;
  s.ids = options.answerIds ? *options.answerIds : answerer.answer(image, options.question, options.greedy).ids;
  const QuestionAnswerer::Impl& m = answerer.impl();
  const models::NamedTensors tensors =
      models::dumpBlipVqa(*m.model.model.ptr(), dumpPixels(m, image), answerer.questionIds(options.question), s.ids);
  write(out, tensors, answerer.modelName());
  s.tensors = tensors.size();
  for (const auto& [name, t] : tensors)
    if (name == "tf_next_token_logprob") s.y = t.sum().item<double>();
  return s;
}

}  // namespace vlm
