#include "pipeline/captioner_impl.h"

#include <ATen/ATen.h>

#include <chrono>

#include "common/error.h"

namespace vlm {

Captioner::Captioner() : BlipPipeline(std::make_unique<Impl>()) {}
Captioner::~Captioner() = default;

Captioner::Impl& Captioner::impl() const { return static_cast<Impl&>(*state_); }

std::unique_ptr<Captioner> Captioner::load(const std::string& spec, const ModelOptions& options, const JobContext& job) {
  std::unique_ptr<Captioner> c(new Captioner());
  Impl& m = c->impl();
  m.open(spec, options, models::ModelFamily::BlipCaption, "caption", job);
  m.model = models::loadBlipCaption(m.location.dir, m.dtype, m.device);
  m.finishLoad(job);
  return c;
}

std::vector<int64_t> Captioner::Impl::promptIds(const std::string& prompt) const {
  std::vector<int64_t> withSpecials;
  if (!prompt.empty()) withSpecials = tokenizer->encode(prompt, true);
  return models::blipCaptionPrompt(model.model->config, withSpecials);
}

at::Tensor Captioner::Impl::encode(const at::Tensor& pixels) const {
  return model.model.ptr()->encodeImage(pixels.to(dtype));
}

CaptionResult Captioner::caption(const io::ImageU8& image, const CaptionOptions& o, const JobContext& job) const {
  const Impl& m = impl();
  c10::InferenceMode inference;
  CaptionResult r;
  auto t0 = std::chrono::steady_clock::now();
  const at::Tensor pixels = m.pixelValues(image);
  r.timings.preprocessSeconds = secondsSince(t0);
  job.throwIfCancelled();
  job.progress(0.05, "vision encoder");
  t0 = std::chrono::steady_clock::now();
  const at::Tensor embeds = m.encode(pixels);
  r.timings.visionSeconds = secondsSince(t0);
  job.throwIfCancelled();
  t0 = std::chrono::steady_clock::now();
  models::BlipCaptionStepDecoder decoder(m.model.model, embeds);
  const auto& tc = m.model.model->config.text;
  const models::GenerationResult gen =
      models::generate(decoder, m.promptIds(o.prompt), tc.sepTokenId, generationOptions(o), subJob(job, 0.1, 1.0));
  r.timings.decodeSeconds = secondsSince(t0);
  r.ids = gen.ids;
  r.tokens = tokensOf(gen.ids);
  r.caption = decodeForDisplay(gen.ids);
  if (o.numBeams > 1) r.sequenceScore = gen.sequenceScore;
  return r;
}

}  // namespace vlm
