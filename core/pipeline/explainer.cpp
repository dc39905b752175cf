#include "pipeline/explainer.h"

#include <ATen/ATen.h>

#include <chrono>

#include "common/error.h"
#include "explain/gradcam.h"
#include "explain/integrated_gradients.h"
#include "explain/target.h"
#include "pipeline/captioner_impl.h"
#include "pipeline/similarity_impl.h"
#include "pipeline/vqa_impl.h"

namespace vlm {

namespace {

using namespace explain;

std::vector<float> toVector(const at::Tensor& t) {
  const at::Tensor c = t.detach().to(at::kCPU, at::kFloat).contiguous();
  return std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
}

TokenSelection selectionOf(const ExplainOptions& o) {
  switch (o.scope) {
    case TokenScope::One: return TokenSelection::one(o.token);
    case TokenScope::All: return TokenSelection::each();
    case TokenScope::Whole: return TokenSelection::whole();
  }
  return TokenSelection::one(o.token);
}

std::optional<CamMethod> camMethodOf(ExplainMethod m) {
  switch (m) {
    case ExplainMethod::GradCam: return CamMethod::GradCam;
    case ExplainMethod::HiResCam: return CamMethod::HiResCam;
    case ExplainMethod::GradTimesActivation: return CamMethod::GradTimesActivation;
    default: return std::nullopt;
  }
}

IgBaseline baselineOf(const std::string& name) {
  if (name == "black") return IgBaseline::Black;
  if (name == "blur") return IgBaseline::Blur;
  if (name == "mean") return IgBaseline::Mean;
  throw Error(ErrorCode::InvalidArgument, "unknown integrated-gradients baseline '" + name + "' (black, blur, mean)");
}

// The token text of each output (tokens[position]) and its position.
void labelToken(ExplainedMap& m, const std::vector<std::string>& tokens, int64_t position) {
  m.position = position;
  if (position >= 0 && position < int64_t(tokens.size())) m.token = tokens[size_t(position)];
}

ExplainedMap fromCam(const CamMap& c, const std::vector<std::string>& tokens, int64_t position) {
  ExplainedMap m;
  m.label = c.label;
  m.y = c.y;
  m.side = int(c.raw.size(0));
  m.raw = toVector(c.raw);
  m.normalized = toVector(c.normalized);
  labelToken(m, tokens, position);
  return m;
}

// Which vision layer a Grad-CAM-family request means, and the notes a user should read.
int64_t resolveVisionLayer(const Target& target, const ExplainOptions& o, bool clip, ExplainResult& r) {
  const int64_t n = target.numVisionLayers();
  int64_t layer;
  if (o.postLayernorm) layer = kPostLayernorm;
  else if (o.layer) layer = *o.layer;
  else layer = clip ? std::max<int64_t>(0, n - 2) : kPostLayernorm;
  target.visionLayerName(layer);  // validates (InvalidArgument with the range)
  r.layer = layer == kPostLayernorm ? "post_layernorm" : "vision layer " + std::to_string(layer);
  if (layer == n - 1 && clip)
    r.notes.push_back("CLIP pools only the CLS token of the last vision layer: its patch tokens get no gradient and the map is all zero; use layer " +
                      std::to_string(std::max<int64_t>(0, n - 2)) + " or lower");
  if (layer == n - 1 && !clip && o.method != ExplainMethod::GradCam)
    r.notes.push_back("the last vision layer only feeds post_layernorm, which is invariant to scaling each token, so sum_c dY/dA_c * A_c is 0 "
                      "for every patch: HiResCAM / Grad x Activation maps here are rounding noise; use post_layernorm or an earlier layer");
  return layer;
}

void runMethod(const Target& target, const ExplainOptions& o, bool clip, const vision::ImageProcessorConfig& processor,
               ExplainResult& r, const JobContext& job) {
  const auto queries = target.queryPositions();
  auto positionOf = [&](size_t i) { return queries[i] >= 0 ? queries[i] + 1 : int64_t(-1); };
  if (auto cam = camMethodOf(o.method)) {
    const int64_t layer = resolveVisionLayer(target, o, clip, r);
    job.progress(0.3, "Grad-CAM");
    const auto maps = explainVision(target, layer, *cam);
    for (size_t i = 0; i < maps.size(); ++i) r.maps.push_back(fromCam(maps[i], r.tokens, positionOf(i)));
    return;
  }
  if (o.method == ExplainMethod::CrossAttention) {
    if (target.numCrossAttentionLayers() == 0)
      throw Error(ErrorCode::InvalidArgument, "cross-attention maps need a BLIP model (CLIP has no cross-attention between text and image)");
    const int64_t n = target.numCrossAttentionLayers();
    const int64_t layer = o.layer ? *o.layer : n - 1;
    target.crossAttentionName(layer);  // validates
    r.layer = "text layer " + std::to_string(layer);
    job.progress(0.3, "cross-attention");
    const auto maps = explainCrossAttention(target, layer);
    for (size_t i = 0; i < maps.size(); ++i) r.maps.push_back(fromCam(maps[i], r.tokens, positionOf(i)));
    return;
  }
  // Integrated gradients on the pixels.
  IgOptions ig;
  ig.steps = o.steps;
  ig.rule = o.trapezoid ? IgRule::RiemannTrapezoid : IgRule::GaussLegendre;
  ig.internalBatch = o.internalBatch;
  const double sigma = o.blurSigma > 0 ? o.blurSigma : target.pixels().size(-1) / 16.0;
  const at::Tensor baseline = igBaseline(baselineOf(o.baseline), target.pixels().to(at::kFloat), processor.mean, processor.std, sigma);
  r.layer = "pixels";
  r.method += std::string(" (") + toString(ig.rule) + ", " + std::to_string(o.steps) + " steps, " + o.baseline + " baseline)";
  const auto attrs = integratedGradientsPixels(target, baseline, ig, subJob(job, 0.2, 1.0));
  for (size_t i = 0; i < attrs.size(); ++i) {
    ExplainedMap m;
    m.label = attrs[i].label;
    m.y = attrs[i].fInput;
    const at::Tensor map = igPixelMap(attrs[i].attributions);
    m.side = int(map.size(0));
    m.raw = toVector(map);
    m.normalized = toVector(normalizeMap(at::relu(map)));
    m.fInput = attrs[i].fInput;
    m.fBaseline = attrs[i].fBaseline;
    m.delta = attrs[i].delta;
    labelToken(m, r.tokens, positionOf(i));
    r.maps.push_back(std::move(m));
  }
}

std::vector<int64_t> checkedIds(const std::vector<int64_t>& ids, const std::string& what) {
  if (ids.size() < 2) throw Error(ErrorCode::InvalidArgument, what + " to explain has no token after [DEC]");
  return ids;
}

}  // namespace

namespace {

// What a caption header and an answer header share: model, family, geometry, then the ids
// (given, or made by `generate(job)`), their tokens and text.
template <class Generate>
ExplainResult blipHeader(const BlipPipeline& pipeline, const vision::ImageProcessorConfig& processor, const char* family,
                         const io::ImageU8& image, const std::vector<int64_t>& ids, const std::string& what, Generate generate,
                         const JobContext& job) {
  ExplainResult r;
  r.model = pipeline.modelName();
  r.family = family;
  r.geometry.emplace(processor, image.width, image.height, pipeline.imageSize(), pipeline.patchSize());
  const auto t0 = std::chrono::steady_clock::now();
  r.ids = ids.empty() ? generate(subJob(job, 0, 0.2)) : ids;
  checkedIds(r.ids, what);
  r.tokens = pipeline.tokensOf(r.ids);
  r.text = pipeline.decodeForDisplay(r.ids);
  r.generateSeconds = secondsSince(t0);
  job.throwIfCancelled();
  return r;
}

}  // namespace

ExplainResult captionHeader(const Captioner& captioner, const io::ImageU8& image, const std::vector<int64_t>& ids,
                            const DecodingOptions& decoding, const JobContext& job) {
  return blipHeader(captioner, captioner.impl().processor, "blip-caption", image, ids, "the caption", [&](const JobContext& sub) {
    CaptionOptions co;
    static_cast<DecodingOptions&>(co) = decoding;
    return captioner.caption(image, co, sub).ids;
  }, job);
}

ExplainResult answerHeader(const QuestionAnswerer& vqa, const io::ImageU8& image, const std::string& question,
                           const std::vector<int64_t>& ids, const DecodingOptions& decoding, const JobContext& job) {
  if (question.empty()) throw Error(ErrorCode::InvalidArgument, "a VQA explanation needs a question");
  ExplainResult r = blipHeader(vqa, vqa.impl().processor, "blip-vqa", image, ids, "the answer", [&](const JobContext& sub) {
    VqaOptions vo;
    static_cast<DecodingOptions&>(vo) = decoding;
    return vqa.answer(image, question, vo, sub).ids;
  }, job);
  r.question = question;
  r.questionTokens = vqa.tokensOf(vqa.questionIds(question));
  return r;
}

ExplainResult similarityHeader(const SimilarityModel& clip, const io::ImageU8& image, const std::string& text) {
  const SimilarityModel::Impl& m = clip.impl();
  ExplainResult r;
  r.model = clip.modelName();
  r.family = "clip";
  r.text = text;
  const auto& vc = m.model.model->config.vision;
  r.geometry.emplace(m.processor, image.width, image.height, int(vc.imageSize), int(vc.patchSize));
  const auto batch = m.encodeTexts({text});
  r.ids = batch.rows[0];
  r.tokens = clip.tokensOf(r.ids);
  if (batch.truncated[0]) r.notes.push_back("the text was truncated to " + std::to_string(r.ids.size()) + " tokens, as CLIPProcessor does");
  return r;
}

const char* toString(ExplainMethod m) {
  switch (m) {
    case ExplainMethod::GradCam: return "gradcam";
    case ExplainMethod::HiResCam: return "hirescam";
    case ExplainMethod::GradTimesActivation: return "gradxact";
    case ExplainMethod::CrossAttention: return "xattn";
    case ExplainMethod::IntegratedGradients: return "ig";
  }
  return "?";
}

std::optional<ExplainMethod> parseExplainMethod(std::string_view name) {
  for (ExplainMethod m : {ExplainMethod::GradCam, ExplainMethod::HiResCam, ExplainMethod::GradTimesActivation, ExplainMethod::CrossAttention,
                          ExplainMethod::IntegratedGradients})
    if (name == toString(m)) return m;
  return std::nullopt;
}

std::vector<float> ExplainResult::onImage(const ExplainedMap& map) const {
  if (!geometry) throw Error(ErrorCode::InvalidArgument, "explanation without image geometry");
  return geometry->mapToImage(map.normalized, map.side);
}

ExplainResult explainCaption(const Captioner& captioner, const io::ImageU8& image, const ExplainOptions& o, const JobContext& job) {
  const Captioner::Impl& m = captioner.impl();
  ExplainResult r = captionHeader(captioner, image, o.ids, o.decoding, job);
  r.method = toString(o.method);
  const auto t0 = std::chrono::steady_clock::now();
  const CaptionTarget target(m.model.model, m.pixelValues(image), r.ids, selectionOf(o));
  if (o.onQuestion) throw Error(ErrorCode::InvalidArgument, "integrated gradients on the question need a BLIP VQA model and a question");
  runMethod(target, o, false, m.processor, r, job);
  r.explainSeconds = secondsSince(t0);
  job.progress(1, "done");
  return r;
}

ExplainResult explainCaptionLayers(const Captioner& captioner, const io::ImageU8& image, const ExplainOptions& o, const JobContext& job) {
  const auto cam = camMethodOf(o.method);
  if (!cam) throw Error(ErrorCode::InvalidArgument, std::string("the layer evolution is a Grad-CAM-family view, not ") + toString(o.method));
  if (o.scope == TokenScope::All) throw Error(ErrorCode::InvalidArgument, "the layer evolution explains one token (or the whole caption)");
  const Captioner::Impl& m = captioner.impl();
  ExplainResult r = captionHeader(captioner, image, o.ids, o.decoding, job);
  r.method = toString(o.method);
  r.layer = "every vision layer";
  const auto t0 = std::chrono::steady_clock::now();
  const CaptionTarget target(m.model.model, m.pixelValues(image), r.ids, selectionOf(o));
  std::vector<int64_t> layers;
  for (int64_t l = 0; l < target.numVisionLayers(); ++l) layers.push_back(l);
  layers.push_back(kPostLayernorm);
  job.progress(0.3, "Grad-CAM on every layer");
  const auto maps = explainVisionLayers(target, layers, *cam);
  const int64_t position = o.scope == TokenScope::One ? o.token : -1;
  for (size_t i = 0; i < layers.size(); ++i) {
    ExplainedMap em = fromCam(maps[i][0], r.tokens, position);
    em.label = layers[i] == kPostLayernorm ? "post_layernorm" : "layer " + std::to_string(layers[i]);
    r.maps.push_back(std::move(em));
  }
  r.explainSeconds = secondsSince(t0);
  job.progress(1, "done");
  return r;
}

ExplainResult explainAnswer(const QuestionAnswerer& vqa, const io::ImageU8& image, const std::string& question, const ExplainOptions& o,
                            const JobContext& job) {
  const QuestionAnswerer::Impl& m = vqa.impl();
  ExplainResult r = answerHeader(vqa, image, question, o.ids, o.decoding, job);
  r.method = toString(o.method);
  const std::vector<int64_t> qIds = vqa.questionIds(question);
  const auto t0 = std::chrono::steady_clock::now();
  const VqaAnswerTarget target(m.model.model, m.pixelValues(image), qIds, r.ids, selectionOf(o));
  if (o.onQuestion) {
    if (o.method != ExplainMethod::IntegratedGradients)
      throw Error(ErrorCode::InvalidArgument, "attributions to the question are computed with integrated gradients (--method ig)");
    IgOptions ig{o.steps, o.trapezoid ? IgRule::RiemannTrapezoid : IgRule::GaussLegendre, o.internalBatch};
    r.layer = "question";
    r.method += std::string(" (") + toString(ig.rule) + ", " + std::to_string(o.steps) + " steps, [PAD] baseline)";
    const auto attrs = integratedGradientsQuestion(target, ig, subJob(job, 0.2, 1.0));
    const auto queries = target.queryPositions();
    for (size_t i = 0; i < attrs.size(); ++i) {
      ExplainedMap em;
      em.label = attrs[i].label;
      em.y = attrs[i].fInput;
      em.fInput = attrs[i].fInput;
      em.fBaseline = attrs[i].fBaseline;
      em.delta = attrs[i].delta;
      em.questionScores = toVector(igTokenScores(attrs[i].attributions));
      labelToken(em, r.tokens, queries[i] >= 0 ? queries[i] + 1 : -1);
      r.maps.push_back(std::move(em));
    }
  } else {
    runMethod(target, o, false, m.processor, r, job);
  }
  r.explainSeconds = secondsSince(t0);
  job.progress(1, "done");
  return r;
}

ExplainResult explainSimilarity(const SimilarityModel& clip, const io::ImageU8& image, const std::string& text, const ExplainOptions& o,
                                const JobContext& job) {
  const SimilarityModel::Impl& m = clip.impl();
  if (o.onQuestion) throw Error(ErrorCode::InvalidArgument, "integrated gradients on the question need a BLIP VQA model");
  ExplainResult r = similarityHeader(clip, image, text);
  r.method = toString(o.method);
  const auto t0 = std::chrono::steady_clock::now();
  const ClipSimilarityTarget target(m.model.model, m.pixelValues(image), r.ids);
  runMethod(target, o, true, m.processor, r, job);
  r.explainSeconds = secondsSince(t0);
  job.progress(1, "done");
  return r;
}

}  // namespace vlm
