#include "pipeline/dump.h"

#include <ATen/ATen.h>

#include "common/error.h"
#include "io/safetensors.h"
#include "models/blip/blip_dump.h"
#include "pipeline/captioner_impl.h"

namespace vlm {

DumpSummary writeCaptionDump(const Captioner& captioner, const io::ImageU8& image, const DumpOptions& options,
                             const std::filesystem::path& out) {
  DumpSummary s;
  s.ids = options.ids ? *options.ids : captioner.caption(image, options.greedy).ids;
  const Captioner::Impl& m = captioner.impl();
  at::Tensor pixels;
  {
    c10::InferenceMode inference;
    pixels = m.pixelValues(image).to(at::kCPU).clone();
  }
  pixels = pixels.clone();  // a normal tensor (outside inference mode) so autograd can use it
  const models::NamedTensors tensors = models::dumpBlipCaption(*m.model.model.ptr(), pixels, s.ids, options.targetPos);
  io::writeSafetensors(out, tensors, {{"format", "pt"}, {"producer", "vlmscope dump"}, {"model", captioner.modelName()}});
  s.tensors = tensors.size();
  for (const auto& [name, t] : tensors)
    if (name == "gradcam/Y") s.y = t.item<double>();
  return s;
}

}  // namespace vlm
