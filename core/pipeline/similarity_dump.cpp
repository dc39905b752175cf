#include "pipeline/similarity_dump.h"

#include <ATen/ATen.h>

#include "io/safetensors.h"
#include "models/clip/clip_dump.h"
#include "pipeline/similarity_impl.h"

namespace vlm {

SimilarityDumpSummary writeSimilarityDump(const SimilarityModel& model, const io::ImageU8& image, const std::vector<std::string>& texts,
                                          int64_t gradText, const std::filesystem::path& out) {
  const SimilarityModel::Impl& m = model.impl();
  at::Tensor pixels;
  SimilarityModel::Impl::TextBatch batch;
  {
    c10::InferenceMode inference;
    pixels = m.pixelValues(image).to(at::kCPU).clone();
    batch = m.encodeTexts(texts);
    batch.ids = batch.ids.clone();
    batch.attentionMask = batch.attentionMask.clone();
  }
  // normal tensors (outside inference mode) so that autograd can use them
  pixels = pixels.clone();
  const models::NamedTensors tensors =
      models::dumpClip(*m.model.model.ptr(), pixels, batch.ids.clone(), batch.attentionMask.clone(), gradText);
  io::writeSafetensors(out, tensors, {{"format", "pt"}, {"producer", "vlmscope dump"}, {"model", model.modelName()}});
  SimilarityDumpSummary s;
  s.tensors = tensors.size();
  for (const auto& [name, t] : tensors)
    if (name == "grad/cos") s.cosine = t.item<double>();
  return s;
}

}  // namespace vlm
