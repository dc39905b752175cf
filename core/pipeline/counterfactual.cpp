#include "pipeline/counterfactual.h"

#include <ATen/ATen.h>

#include <chrono>
#include <sstream>

#include "common/error.h"
#include "pipeline/captioner_impl.h"
#include "pipeline/similarity_impl.h"
#include "pipeline/vqa_impl.h"

namespace vlm {

namespace {

std::vector<std::string> splitWords(const std::string& s) {
  std::istringstream in(s);
  std::vector<std::string> w;
  for (std::string x; in >> x;) w.push_back(x);
  return w;
}

// [0, 1 + p for every kept patch] on `device`, or undefined when nothing is removed.
at::Tensor keepTokensFor(const std::vector<int>& removed, int numPatches, const at::Device& device) {
  if (removed.empty()) return {};
  std::vector<int64_t> keep{0};
  size_t j = 0;
  for (int p = 0; p < numPatches; ++p) {
    if (j < removed.size() && removed[j] == p) {
      ++j;
      continue;
    }
    keep.push_back(1 + p);
  }
  return at::tensor(keep, at::TensorOptions().dtype(at::kLong)).to(device);
}

at::Tensor idsTensor(const std::vector<int64_t>& ids, const at::Device& device) {
  return at::tensor(ids, at::TensorOptions().dtype(at::kLong)).unsqueeze(0).to(device);
}

// log_softmax(logits[p])[ids[p+1]] for p = 0 .. T-2, logits [1, T, V].
std::vector<double> tokenLogProbs(const at::Tensor& logits, const std::vector<int64_t>& ids) {
  const at::Tensor logp = at::log_softmax(logits[0].to(at::kFloat), -1);
  std::vector<double> out;
  for (size_t p = 0; p + 1 < ids.size(); ++p) out.push_back(logp[int64_t(p)][ids[p + 1]].item<double>());
  return out;
}

double sum(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return s;
}

// What the model sees: masked pixel values + kept tokens, for one model's geometry.
struct MaskedInput {
  at::Tensor pixels;     // [1, 3, S, S] in the model's dtype
  at::Tensor keep;       // patch removal (undefined otherwise)
  std::vector<int> removed;
};

MaskedInput maskedInput(const io::ImageU8& image, const io::ImageU8& maskedImage, const std::vector<vision::PixelRect>& rects,
                        explain::MaskerKind kind, const vision::ImageProcessorConfig& processor, int imageSize, int patchSize,
                        const at::Device& device, at::ScalarType dtype, const std::vector<int>& exactPatches = {}) {
  MaskedInput in;
  if (kind == explain::MaskerKind::PatchRemoval) {
    const vision::InputGeometry geo(processor, image.width, image.height, imageSize, patchSize);
    in.removed = exactPatches.empty() ? geo.patchesInfluencedBy(rects) : exactPatches;
    in.keep = keepTokensFor(in.removed, geo.numPatches(), device);
    in.pixels = pixelValuesFor(image, processor, imageSize, device).to(dtype);
  } else {
    in.pixels = pixelValuesFor(maskedImage, processor, imageSize, device).to(dtype);
  }
  return in;
}

// CLIP cosines: original text with the image and the masked input, masked text with the masked input.
void clipScores(const SimilarityModel& clip, const io::ImageU8& image, const io::ImageU8& maskedImage,
                const std::vector<vision::PixelRect>& rects, explain::MaskerKind kind, RegenerateResult& r) {
  const SimilarityModel::Impl& m = clip.impl();
  auto& model = *m.model.model.ptr();
  const auto& vc = m.model.model->config.vision;
  const MaskedInput in = maskedInput(image, maskedImage, rects, kind, m.processor, int(vc.imageSize), int(vc.patchSize), m.device, m.dtype);
  r.clipRemovedPatches = in.removed;
  const at::Tensor before = models::l2Normalize(model.imageFeatures(m.pixelValues(image).to(m.dtype)).to(at::kFloat));
  const at::Tensor after = models::l2Normalize(model.imageFeatures(in.pixels, nullptr, in.keep).to(at::kFloat));
  const auto batch = m.encodeTexts({r.original.empty() ? " " : r.original, r.masked.empty() ? " " : r.masked});
  const at::Tensor texts = models::l2Normalize(model.textFeatures(batch.ids, batch.attentionMask).to(at::kFloat));
  r.clipBefore = (before[0] * texts[0]).sum().item<double>();
  r.clipAfter = (after[0] * texts[0]).sum().item<double>();
  r.clipMaskedText = (after[0] * texts[1]).sum().item<double>();
}

io::ImageU8 maskedImageFor(const io::ImageU8& image, const MaskSpec& mask, const std::vector<vision::PixelRect>& rects,
                           const vision::ImageProcessorConfig& processor, int imageSize, int patchSize) {
  if (mask.masker == explain::MaskerKind::PatchRemoval) {
    const vision::InputGeometry geo(processor, image.width, image.height, imageSize, patchSize);
    return explain::shadePatches(image, geo, mask.exactPatches.empty() ? geo.patchesInfluencedBy(rects) : mask.exactPatches);
  }
  return explain::applyPixelMasker(image, rects, mask.masker, mask.options, processor.mean);
}

}  // namespace

const char* toString(WordChange::Op op) {
  switch (op) {
    case WordChange::Op::Kept: return "kept";
    case WordChange::Op::Removed: return "removed";
    case WordChange::Op::Inserted: return "inserted";
  }
  return "?";
}

std::vector<WordChange> wordDiff(const std::string& before, const std::string& after) {
  const auto a = splitWords(before), b = splitWords(after);
  const size_t n = a.size(), m = b.size();
  std::vector<std::vector<int>> lcs(n + 1, std::vector<int>(m + 1, 0));
  for (size_t i = n; i-- > 0;)
    for (size_t j = m; j-- > 0;) lcs[i][j] = a[i] == b[j] ? lcs[i + 1][j + 1] + 1 : std::max(lcs[i + 1][j], lcs[i][j + 1]);
  std::vector<WordChange> out;
  size_t i = 0, j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i] == b[j]) {
      out.push_back({WordChange::Op::Kept, a[i]});
      ++i, ++j;
    } else if (i < n && (j == m || lcs[i + 1][j] >= lcs[i][j + 1])) {
      out.push_back({WordChange::Op::Removed, a[i++]});
    } else {
      out.push_back({WordChange::Op::Inserted, b[j++]});
    }
  }
  return out;
}

RegenerateResult maskAndRegenerate(const Captioner& captioner, const io::ImageU8& image, const MaskSpec& mask, const DecodingOptions& decoding,
                                   const SimilarityModel* clip, const JobContext& job) {
  const auto t0 = std::chrono::steady_clock::now();
  const Captioner::Impl& m = captioner.impl();
  auto& model = *m.model.model.ptr();
  const auto& vc = m.model.model->config.vision;
  RegenerateResult r;
  r.masker = explain::toString(mask.masker);
  r.rects = explain::validateRects(mask.rects, image.width, image.height);
  r.maskedImage = maskedImageFor(image, mask, r.rects, m.processor, int(vc.imageSize), int(vc.patchSize));
  CaptionOptions co;
  static_cast<DecodingOptions&>(co) = decoding;
  const CaptionResult before = captioner.caption(image, co, subJob(job, 0, 0.4));
  r.original = before.caption;
  r.originalIds = before.ids;
  job.throwIfCancelled();
  {
    c10::InferenceMode inference;
    const MaskedInput in =
        maskedInput(image, r.maskedImage, r.rects, mask.masker, m.processor, int(vc.imageSize), int(vc.patchSize), m.device, m.dtype,
                    mask.exactPatches);
    r.removedPatches = in.removed;
    const at::Tensor embeds = model.encodeImage(in.pixels, nullptr, in.keep);
    models::BlipCaptionStepDecoder decoder(m.model.model, embeds);
    const auto gen = models::generate(decoder, m.promptIds(""), m.model.model->config.text.sepTokenId, generationOptions(decoding),
                                      subJob(job, 0.4, 0.8));
    r.maskedIds = gen.ids;
    r.masked = captioner.decodeForDisplay(gen.ids);
    const at::Tensor ids = idsTensor(r.originalIds, m.device);
    r.tokenLogProbBefore = tokenLogProbs(model.decode(m.encode(m.pixelValues(image)).to(m.dtype), ids), r.originalIds);
    r.tokenLogProbAfter = tokenLogProbs(model.decode(embeds.to(m.dtype), ids), r.originalIds);
    r.logProbBefore = sum(r.tokenLogProbBefore);
    r.logProbAfter = sum(r.tokenLogProbAfter);
    r.diff = wordDiff(r.original, r.masked);
    job.throwIfCancelled();
    job.progress(0.9, "CLIP");
    if (clip) clipScores(*clip, image, r.maskedImage, r.rects, mask.masker, r);
  }
  r.seconds = secondsSince(t0);
  job.progress(1, "done");
  return r;
}

RegenerateResult maskAndRegenerate(const QuestionAnswerer& vqa, const io::ImageU8& image, const std::string& question, const MaskSpec& mask,
                                   const DecodingOptions& decoding, const SimilarityModel* clip, const JobContext& job) {
  const auto t0 = std::chrono::steady_clock::now();
  const QuestionAnswerer::Impl& m = vqa.impl();
  auto& model = *m.model.model.ptr();
  const auto& config = m.model.model->config;
  RegenerateResult r;
  r.masker = explain::toString(mask.masker);
  r.rects = explain::validateRects(mask.rects, image.width, image.height);
  r.maskedImage = maskedImageFor(image, mask, r.rects, m.processor, int(config.vision.imageSize), int(config.vision.patchSize));
  VqaOptions vo;
  static_cast<DecodingOptions&>(vo) = decoding;
  const VqaResult before = vqa.answer(image, question, vo, subJob(job, 0, 0.4));
  r.original = before.answer;
  r.originalIds = before.ids;
  job.throwIfCancelled();
  {
    c10::InferenceMode inference;
    const MaskedInput in = maskedInput(image, r.maskedImage, r.rects, mask.masker, m.processor, int(config.vision.imageSize),
                                       int(config.vision.patchSize), m.device, m.dtype, mask.exactPatches);
    r.removedPatches = in.removed;
    const at::Tensor q = idsTensor(before.questionIds, m.device);
    const at::Tensor qAfter = model.encodeQuestion(model.encodeImage(in.pixels, nullptr, in.keep), q);
    const at::Tensor qBefore = model.encodeQuestion(m.encodeImage(m.pixelValues(image)), q);
    models::BlipVqaStepDecoder decoder(m.model.model, qAfter);
    const auto gen = models::generate(decoder, models::blipVqaAnswerPrompt(config), config.text.sepTokenId, generationOptions(decoding),
                                      subJob(job, 0.4, 0.8));
    r.maskedIds = gen.ids;
    r.masked = vqa.decodeForDisplay(gen.ids);
    const at::Tensor ids = idsTensor(r.originalIds, m.device);
    r.tokenLogProbBefore = tokenLogProbs(model.answerLogits(qBefore, {}, ids), r.originalIds);
    r.tokenLogProbAfter = tokenLogProbs(model.answerLogits(qAfter, {}, ids), r.originalIds);
    r.logProbBefore = sum(r.tokenLogProbBefore);
    r.logProbAfter = sum(r.tokenLogProbAfter);
    r.diff = wordDiff(r.original, r.masked);
    if (clip) clipScores(*clip, image, r.maskedImage, r.rects, mask.masker, r);
  }
  r.seconds = secondsSince(t0);
  job.progress(1, "done");
  return r;
}

RegenerateResult autoMaskAndRegenerate(const Captioner& captioner, const io::ImageU8& image, const AutoMaskSpec& spec,
                                       const DecodingOptions& decoding, const SimilarityModel* clip, const JobContext& job) {
  ExplainOptions eo = spec.explain;
  eo.decoding = decoding;
  if (eo.scope == TokenScope::All) throw Error(ErrorCode::InvalidArgument, "auto-mask needs one token (or the whole caption), not all tokens");
  ExplainResult e = explainCaption(captioner, image, eo, subJob(job, 0, 0.5));
  const ExplainedMap& map = e.maps.at(0);
  const vision::InputGeometry& geo = *e.geometry;
  // The map on the patch grid: Grad-CAM maps already are; pixel maps (IG) are averaged per patch.
  std::vector<float> grid(size_t(geo.numPatches()), 0.f);
  if (map.side == geo.gridSide()) {
    grid = map.normalized;
  } else {
    const int g = geo.gridSide(), cell = map.side / g;
    for (int y = 0; y < map.side; ++y)
      for (int x = 0; x < map.side; ++x) grid[size_t((y / cell) * g + x / cell)] += map.normalized[size_t(y) * map.side + x];
  }
  const std::vector<int> top = explain::topPercentPatches(grid, spec.percent);
  MaskSpec mask;
  mask.masker = spec.masker;
  mask.options = spec.options;
  mask.rects = explain::patchRects(geo, top);
  if (spec.masker == explain::MaskerKind::PatchRemoval) mask.exactPatches = top;
  if (mask.rects.empty()) throw Error(ErrorCode::InvalidArgument, "auto-mask: the top patches lie outside the image (cropped away)");
  RegenerateResult r = maskAndRegenerate(captioner, image, mask, decoding, clip, subJob(job, 0.5, 1.0));
  r.explanation = std::move(e);
  return r;
}

}  // namespace vlm
