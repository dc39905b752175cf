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

// The masked image as shown to the user and, for patch removal, the BLIP model's dropped
// patches (computed once, used for the display and for the model input).
struct MaskedView {
  io::ImageU8 shown;         // pixel maskers: what the processor gets; patch removal: removed areas darkened
  std::vector<int> removed;  // patch removal only
};

MaskedView maskView(const io::ImageU8& image, const MaskSpec& mask, const std::vector<vision::PixelRect>& rects,
                    const vision::ImageProcessorConfig& processor, int imageSize, int patchSize) {
  if (mask.masker == explain::MaskerKind::PatchRemoval) {
    const vision::InputGeometry geo(processor, image.width, image.height, imageSize, patchSize);
    std::vector<int> removed = mask.exactPatches.empty() ? geo.patchesInfluencedBy(rects) : mask.exactPatches;
    io::ImageU8 shown = explain::shadePatches(image, geo, removed);
    return {std::move(shown), std::move(removed)};
  }
  return {explain::applyPixelMasker(image, rects, mask.masker, mask.options, processor.mean), {}};
}

// What a model sees of the masked image: pixel values [1, 3, S, S] in its dtype and the kept
// sequence positions (undefined unless patches are removed).
struct ModelInput {
  at::Tensor pixels, keep;
};

ModelInput modelInput(const io::ImageU8& image, const MaskedView& view, explain::MaskerKind kind, const vision::ImageProcessorConfig& processor,
                      int imageSize, int patchSize, const at::Device& device, at::ScalarType dtype) {
  if (kind != explain::MaskerKind::PatchRemoval) return {pixelValuesFor(view.shown, processor, imageSize, device).to(dtype), {}};
  const int g = imageSize / patchSize;
  return {pixelValuesFor(image, processor, imageSize, device).to(dtype), keepTokensFor(view.removed, g * g, device)};
}

// CLIP cosines: original text with the image and the masked input, masked text with the masked
// input. Patch removal drops the CLIP patches the rectangles influence (its own geometry).
void clipScores(const SimilarityModel& clip, const io::ImageU8& image, const MaskedView& blipView, explain::MaskerKind kind,
                RegenerateResult& r) {
  const SimilarityModel::Impl& m = clip.impl();
  auto& model = *m.model.model.ptr();
  const int s = int(m.model.model->config.vision.imageSize), p = int(m.model.model->config.vision.patchSize);
  MaskedView view;
  if (kind == explain::MaskerKind::PatchRemoval)
    view.removed = vision::InputGeometry(m.processor, image.width, image.height, s, p).patchesInfluencedBy(r.rects);
  const ModelInput in = modelInput(image, kind == explain::MaskerKind::PatchRemoval ? view : blipView, kind, m.processor, s, p, m.device, m.dtype);
  r.clipRemovedPatches = view.removed;
  const at::Tensor before = models::l2Normalize(model.imageFeatures(m.pixelValues(image).to(m.dtype)).to(at::kFloat));
  const at::Tensor after = models::l2Normalize(model.imageFeatures(in.pixels, nullptr, in.keep).to(at::kFloat));
  const auto batch = m.encodeTexts({r.original.empty() ? " " : r.original, r.masked.empty() ? " " : r.masked});
  const at::Tensor texts = models::l2Normalize(model.textFeatures(batch.ids, batch.attentionMask).to(at::kFloat));
  r.clipBefore = (before[0] * texts[0]).sum().item<double>();
  r.clipAfter = (after[0] * texts[0]).sum().item<double>();
  r.clipMaskedText = (after[0] * texts[1]).sum().item<double>();
}

// Both texts' token log-probabilities (teacher-forced on the original ids), their sums, the diff.
void compare(RegenerateResult& r, const at::Tensor& logitsBefore, const at::Tensor& logitsAfter) {
  r.tokenLogProbBefore = tokenLogProbs(logitsBefore, r.originalIds);
  r.tokenLogProbAfter = tokenLogProbs(logitsAfter, r.originalIds);
  r.logProbBefore = sum(r.tokenLogProbBefore);
  r.logProbAfter = sum(r.tokenLogProbAfter);
  r.diff = wordDiff(r.original, r.masked);
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

RegenerateResult maskAndRegenerate(const Captioner& captioner, const io::ImageU8& image, const MaskSpec& mask, const CaptionOptions& decoding,
                                   const SimilarityModel* clip, const JobContext& job) {
  const auto t0 = std::chrono::steady_clock::now();
  const Captioner::Impl& m = captioner.impl();
  auto& model = *m.model.model.ptr();
  const auto& vc = m.model.model->config.vision;
  RegenerateResult r;
  r.masker = explain::toString(mask.masker);
  r.rects = explain::validateRects(mask.rects, image.width, image.height);
  MaskedView view = maskView(image, mask, r.rects, m.processor, int(vc.imageSize), int(vc.patchSize));
  {
    c10::InferenceMode inference;
    // The original and the masked caption, each from one vision pass that also gives the logits.
    auto caption = [&](const at::Tensor& embeds, const JobContext& sub) {
      models::BlipCaptionStepDecoder decoder(m.model.model, embeds);
      return models::generate(decoder, m.promptIds(decoding.prompt), m.model.model->config.text.sepTokenId, generationOptions(decoding), sub).ids;
    };
    const at::Tensor before = m.encode(m.pixelValues(image));
    r.originalIds = caption(before, subJob(job, 0, 0.4));
    r.original = captioner.decodeForDisplay(r.originalIds);
    job.throwIfCancelled();
    const ModelInput in = modelInput(image, view, mask.masker, m.processor, int(vc.imageSize), int(vc.patchSize), m.device, m.dtype);
    const at::Tensor after = model.encodeImage(in.pixels, nullptr, in.keep);
    r.maskedIds = caption(after, subJob(job, 0.4, 0.8));
    r.masked = captioner.decodeForDisplay(r.maskedIds);
    const at::Tensor ids = idsTensor(r.originalIds, m.device);
    compare(r, model.decode(before.to(m.dtype), ids), model.decode(after.to(m.dtype), ids));
    job.throwIfCancelled();
    job.progress(0.9, "CLIP");
    if (clip) clipScores(*clip, image, view, mask.masker, r);
  }
  r.removedPatches = view.removed;
  r.maskedImage = std::move(view.shown);
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
  const int size = int(config.vision.imageSize), patch = int(config.vision.patchSize);
  MaskedView view = maskView(image, mask, r.rects, m.processor, size, patch);
  {
    c10::InferenceMode inference;
    // The original and the masked answer, each from one image + question pass that also gives the logits.
    auto answer = [&](const at::Tensor& questionEmbeds, const JobContext& sub) {
      models::BlipVqaStepDecoder decoder(m.model.model, questionEmbeds);
      return models::generate(decoder, models::blipVqaAnswerPrompt(config), config.text.sepTokenId, generationOptions(decoding), sub).ids;
    };
    const at::Tensor q = idsTensor(vqa.questionIds(question), m.device);
    const at::Tensor before = model.encodeQuestion(m.encodeImage(m.pixelValues(image)), q);
    r.originalIds = answer(before, subJob(job, 0, 0.4));
    r.original = vqa.decodeForDisplay(r.originalIds);
    job.throwIfCancelled();
    const ModelInput in = modelInput(image, view, mask.masker, m.processor, size, patch, m.device, m.dtype);
    const at::Tensor after = model.encodeQuestion(model.encodeImage(in.pixels, nullptr, in.keep), q);
    r.maskedIds = answer(after, subJob(job, 0.4, 0.8));
    r.masked = vqa.decodeForDisplay(r.maskedIds);
    const at::Tensor ids = idsTensor(r.originalIds, m.device);
    compare(r, model.answerLogits(before, {}, ids), model.answerLogits(after, {}, ids));
    job.throwIfCancelled();
    if (clip) clipScores(*clip, image, view, mask.masker, r);
  }
  r.removedPatches = view.removed;
  r.maskedImage = std::move(view.shown);
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
  RegenerateResult r = maskAndRegenerate(captioner, image, mask, CaptionOptions{decoding}, clip, subJob(job, 0.5, 1.0));
  r.explanation = std::move(e);
  return r;
}

}  // namespace vlm
