#include "pipeline/similarity_impl.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <chrono>

#include "common/error.h"
#include "models/model_kind.h"
#include "pipeline/model_loading.h"

namespace vlm {

namespace {

std::vector<double> toVector(const at::Tensor& t) {
  const at::Tensor c = t.detach().to(at::kCPU, at::kDouble).contiguous().view({-1});
  return std::vector<double>(c.data_ptr<double>(), c.data_ptr<double>() + c.numel());
}

}  // namespace

SimilarityModel::SimilarityModel() : impl_(std::make_unique<Impl>()) {}
SimilarityModel::~SimilarityModel() = default;

std::unique_ptr<SimilarityModel> SimilarityModel::load(const std::string& spec, const ModelOptions& options, const JobContext& job) {
  std::unique_ptr<SimilarityModel> s(new SimilarityModel());
  Impl& m = *s->impl_;
  m.spec = spec;
  m.options = options;
  m.device = parseDevice(options.device);
  m.dtype = scalarTypeOf(options.dtype);
  job.progress(0.0, "locating model");
  m.location = io::resolveModel(spec);
  const auto& dir = m.location.dir;
  models::requireModelFamily(dir, {models::ModelFamily::Clip}, "similarity");
  job.throwIfCancelled();
  job.progress(0.1, "reading the tokenizer");
  m.tokenizer.emplace(text::ClipTokenizer::fromFolder(dir));
  job.throwIfCancelled();
  job.progress(0.2, "loading weights");
  m.model = models::loadClip(dir, m.dtype, m.device);
  m.processor = loadImageProcessor(dir, vision::ImageProcessorConfig::Kind::Clip, m.model.model->config.vision.imageSize);
  job.progress(1.0, "model loaded");
  return s;
}

at::Tensor SimilarityModel::Impl::pixelValues(const io::ImageU8& image) const {
  return pixelValuesFor(image, processor, model.model->config.vision.imageSize, device);
}

int64_t SimilarityModel::Impl::maxTokens() const {
  return std::min<int64_t>(model.model->config.text.maxPositionEmbeddings, tokenizer->modelMaxLength());
}

SimilarityModel::Impl::TextBatch SimilarityModel::Impl::encodeTexts(const std::vector<std::string>& texts) const {
  if (texts.empty()) throw Error(ErrorCode::InvalidArgument, "no text to compare the image with");
  TextBatch b;
  const int64_t limit = maxTokens();
  size_t longest = 0;
  for (const auto& t : texts) {
    std::vector<int64_t> full = tokenizer->encode(t, true);
    b.truncated.push_back(int64_t(full.size()) > limit);
    b.rows.push_back(int64_t(full.size()) > limit ? tokenizer->encode(t, true, int(limit)) : std::move(full));
    longest = std::max(longest, b.rows.back().size());
  }
  const int64_t n = int64_t(texts.size()), T = int64_t(longest);
  b.ids = at::full({n, T}, tokenizer->padId(), at::kLong);
  b.attentionMask = at::zeros({n, T}, at::kLong);
  for (int64_t i = 0; i < n; ++i) {
    const auto& r = b.rows[size_t(i)];
    b.ids[i].slice(0, 0, int64_t(r.size())).copy_(at::tensor(r, at::kLong));
    b.attentionMask[i].slice(0, 0, int64_t(r.size())).fill_(1);
  }
  b.ids = b.ids.to(device);
  b.attentionMask = b.attentionMask.to(device);
  return b;
}

SimilarityResult SimilarityModel::score(const io::ImageU8& image, const std::vector<std::string>& texts, const JobContext& job) const {
  const Impl& m = *impl_;
  c10::InferenceMode inference;
  SimilarityResult r;
  r.texts = texts;
  auto t0 = std::chrono::steady_clock::now();
  const at::Tensor pixels = m.pixelValues(image);
  r.timings.preprocessSeconds = secondsSince(t0);
  job.throwIfCancelled();
  job.progress(0.1, "vision tower");
  t0 = std::chrono::steady_clock::now();
  auto& model = *m.model.model.ptr();
  const at::Tensor imageEmbeds = models::l2Normalize(model.imageFeatures(pixels.to(m.dtype)).to(at::kFloat));
  r.timings.visionSeconds = secondsSince(t0);
  job.throwIfCancelled();
  job.progress(0.6, "text tower");
  t0 = std::chrono::steady_clock::now();
  Impl::TextBatch batch = m.encodeTexts(texts);
  const at::Tensor textEmbeds = models::l2Normalize(model.textFeatures(batch.ids, batch.attentionMask).to(at::kFloat));
  r.timings.textSeconds = secondsSince(t0);
  const at::Tensor scale = model.logitScaleExp().to(at::kFloat);
  const models::ClipScores s = models::clipScores(imageEmbeds, textEmbeds, scale);
  r.ids = std::move(batch.rows);
  r.truncated = std::move(batch.truncated);
  r.cosine = toVector(s.cosine[0]);
  r.logitsPerImage = toVector(s.logitsPerImage[0]);
  r.probs = toVector(at::softmax(s.logitsPerImage[0], -1));
  r.logitScale = scale.item<double>();
  job.progress(1.0, "done");
  return r;
}

std::string SimilarityModel::modelName() const { return impl_->spec; }
std::filesystem::path SimilarityModel::modelDir() const { return impl_->location.dir; }
int SimilarityModel::imageSize() const { return static_cast<int>(impl_->model.model->config.vision.imageSize); }

std::vector<std::string> SimilarityModel::tokensOf(const std::vector<int64_t>& ids) const {
  std::vector<std::string> out;
  for (int64_t id : ids) out.push_back(impl_->tokenizer->idToToken(id));
  return out;
}

}  // namespace vlm
