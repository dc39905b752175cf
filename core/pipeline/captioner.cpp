#include "pipeline/captioner_impl.h"

#include <ATen/ATen.h>

#include <chrono>

#include "common/error.h"
#include "models/model_kind.h"
#include "vision/tensor.h"

namespace vlm {

namespace {

double secondsSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

at::Device parseDevice(const std::string& name) {
  try {
    at::Device d(name);
    if (d.is_cuda() && !at::hasCUDA())
      throw Error(ErrorCode::Unsupported, "device '" + name + "': this LibTorch build has no CUDA support");
    return d;
  } catch (const c10::Error&) {
    throw Error(ErrorCode::InvalidArgument, "unknown device '" + name + "' (use cpu or cuda[:N])");
  }
}

}  // namespace

std::optional<ComputeDType> parseComputeDType(std::string_view name) {
  if (name == "float32" || name == "fp32") return ComputeDType::Float32;
  if (name == "bfloat16" || name == "bf16") return ComputeDType::BFloat16;
  return std::nullopt;
}

const char* computeDTypeName(ComputeDType d) { return d == ComputeDType::BFloat16 ? "bfloat16" : "float32"; }

Captioner::Captioner() : impl_(std::make_unique<Impl>()) {}
Captioner::~Captioner() = default;

std::unique_ptr<Captioner> Captioner::load(const std::string& spec, const ModelOptions& options, const JobContext& job) {
  std::unique_ptr<Captioner> c(new Captioner());
  Impl& m = *c->impl_;
  m.spec = spec;
  m.options = options;
  m.device = parseDevice(options.device);
  m.dtype = options.dtype == ComputeDType::BFloat16 ? at::kBFloat16 : at::kFloat;
  job.progress(0.0, "locating model");
  m.location = io::resolveModel(spec);
  const auto& dir = m.location.dir;
  models::requireModelFamily(dir, {models::ModelFamily::BlipCaption}, "caption");
  job.throwIfCancelled();
  job.progress(0.1, "reading tokenizer and image processor");
  m.tokenizer.emplace(text::WordPieceTokenizer::fromFolder(dir));
  if (std::filesystem::exists(dir / "preprocessor_config.json"))
    m.processor = vision::parseImageProcessorConfig(dir / "preprocessor_config.json", vision::ImageProcessorConfig::Kind::Blip);
  else
    throw Error(ErrorCode::NotFound, dir.string() + ": no preprocessor_config.json (the image processor settings)", dir.string());
  job.throwIfCancelled();
  job.progress(0.2, "loading weights");
  m.model = models::loadBlipCaption(dir, m.dtype, m.device);
  const auto& vc = m.model.model->config.vision;
  if (m.processor.kind != vision::ImageProcessorConfig::Kind::Blip || m.processor.resizeHeight != vc.imageSize ||
      m.processor.resizeWidth != vc.imageSize)
    throw Error(ErrorCode::Corrupt, (dir / "preprocessor_config.json").string() + ": the processor resizes to " +
                                        std::to_string(m.processor.resizeWidth) + "x" + std::to_string(m.processor.resizeHeight) +
                                        " but the vision model expects " + std::to_string(vc.imageSize) + "x" + std::to_string(vc.imageSize),
                (dir / "preprocessor_config.json").string());
  job.progress(1.0, "model loaded");
  return c;
}

at::Tensor Captioner::Impl::pixelValues(const io::ImageU8& image) const {
  return vision::pixelValuesTensor(vision::preprocess(image, processor)).to(device);  // [1, 3, S, S]
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
  models::GenerationOptions g;
  g.maxLength = o.maxLength;
  g.minLength = o.minLength;
  g.numBeams = o.numBeams;
  g.repetitionPenalty = o.repetitionPenalty;
  g.noRepeatNgramSize = o.noRepeatNgramSize;
  models::BlipCaptionStepDecoder decoder(m.model.model, embeds);
  const auto& tc = m.model.model->config.text;
  JobContext sub(job.stopToken(), [&job](double f, std::string_view s) { job.progress(0.1 + 0.9 * f, s); });
  const models::GenerationResult gen = models::generate(decoder, m.promptIds(o.prompt), tc.sepTokenId, g, sub);
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
  std::vector<std::string> out;
  const int64_t bos = impl_->model.model->config.text.bosTokenId;
  for (int64_t id : ids) out.push_back(id == bos && id >= int64_t(impl_->tokenizer->vocabSize()) ? "[DEC]" : impl_->tokenizer->idToToken(id));
  return out;
}

std::string Captioner::decodeForDisplay(const std::vector<int64_t>& ids) const { return impl_->tokenizer->decodeForDisplay(ids); }

std::vector<std::string> Captioner::loadNotes() const {
  std::vector<std::string> notes;
  for (const auto& s : impl_->model.report.substitutions) notes.push_back("tied weight: " + s);
  for (const auto& k : impl_->model.report.unusedKeys) notes.push_back("unused checkpoint tensor: " + k);
  return notes;
}

}  // namespace vlm
