#include "pipeline/captioner_impl.h"

#include <ATen/ATen.h>

#include <chrono>

#include "common/error.h"

namespace vlm {

Captioner::Captioner() : impl_(std::make_unique<Impl>()) {}
Captioner::~Captioner() = default;

std::unique_ptr<Captioner> Captioner::load(const std::string& spec, const ModelOptions& options, const JobContext& job) {
  std::unique_ptr<Captioner> c(new Captioner());
  Impl& m = *c->impl_;
  m.open(spec, options, models::ModelFamily::BlipCaption, "caption", job);
  m.model = models::loadBlipCaption(m.location.dir, m.dtype, m.device);
  m.checkImageSize(m.model.model->config.vision.imageSize);
  job.progress(1.0, "model loaded");
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
  const Impl& m = *impl_;
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

std::string Captioner::modelName() const { return impl_->spec; }
std::filesystem::path Captioner::modelDir() const { return impl_->location.dir; }
int Captioner::imageSize() const { return static_cast<int>(impl_->model.model->config.vision.imageSize); }

std::vector<std::string> Captioner::tokensOf(const std::vector<int64_t>& ids) const {
  return impl_->tokensOf(ids, impl_->model.model->config.text.bosTokenId);
}

std::string Captioner::decodeForDisplay(const std::vector<int64_t>& ids) const { return impl_->tokenizer->decodeForDisplay(ids); }

std::vector<std::string> Captioner::loadNotes() const { return vlm::loadNotes(impl_->model.report); }

}  // namespace vlm
