#include "pipeline/shap.h"

#include <ATen/ATen.h>

#include <chrono>
#include <cmath>
#include <functional>
#include <fstream>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "explain/features.h"
#include "explain/shap_game.h"
#include "explain/shapley.h"
#include "explain/target.h"
#include "models/blip/blip_caption.h"
#include "models/generation.h"
#include "pipeline/pipeline_impl.h"
#include "io/json_util.h"
#include "pipeline/captioner_impl.h"
#include "pipeline/faithfulness.h"
#include "pipeline/similarity_impl.h"
#include "pipeline/vqa_impl.h"
#include "vision/preprocess.h"

namespace vlm {

namespace {

using namespace explain;

int64_t layerOf(const std::string& text) {
  if (text == "post_layernorm") return kPostLayernorm;
  try {
    size_t used = 0;
    const long v = std::stol(text, &used);
    if (used == text.size()) return v;
  } catch (const std::exception&) {
  }
  throw Error(ErrorCode::InvalidArgument, "dff: the layer must be a vision layer number or post_layernorm, got '" + text + "'");
}

FeatureSet buildFeatures(const Target& target, const InputPixels& in, const vision::InputGeometry& geo, const ShapOptions& o,
                         const JobContext& job) {
  const FeatureSpec spec = parseFeatureSpec(o.features);
  const int s = geo.inputSize(), p = geo.patchSize(), g = geo.gridSide();
  if (auto f = pixelFeatures(spec, in.image, p)) return std::move(*f);
  if (spec.kind == "dff") {
    const std::string name = target.visionLayerName(layerOf(spec.layer));
    models::ActivationRecorder rec({name});
    at::NoGradGuard noGrad;
    job.progress(0.05, "layer features for DFF");
    target.forward(target.pixels(), &rec);
    const at::Tensor a = rec.get(name)[0].slice(0, 1).to(at::kCPU, at::kFloat).contiguous();  // [N, C] patch tokens
    if (a.size(0) != int64_t(g) * g) throw Error(ErrorCode::InvalidArgument, "dff: layer " + spec.layer + " has no full patch grid");
    return dffFeatures(a.data_ptr<float>(), g, int(a.size(1)), spec.concepts, s, p, o.dffThreshold, o.seed);
  }
  if (spec.kind == "rects") {
    std::vector<vision::PixelRect> rects = o.rects.empty() ? readRectsFile(spec.file) : o.rects;
    rects = validateRects(rects, geo.imageWidth(), geo.imageHeight());
    std::vector<vision::PixelRect> input;
    for (const auto& r : rects) {
      const vision::PixelRect ir = geo.inputPixelsInfluencedBy(r);
      if (ir.empty())
        throw Error(ErrorCode::InvalidArgument, "rectangle (" + std::to_string(r.x) + "," + std::to_string(r.y) + "," + std::to_string(r.width) +
                                                    "," + std::to_string(r.height) + ") lies where the processor's crop removes the image");
      input.push_back(ir);
    }
    return rectFeatures(s, p, input);
  }
  if (spec.kind == "masks") {
    // Each mask image has the original image's size; an input pixel belongs to a mask when the
    // original pixel under its centre does.
    std::vector<std::vector<uint8_t>> masks;
    for (const std::string& file : spec.files) {
      const std::vector<uint8_t> m = readMaskImage(file, geo.imageWidth(), geo.imageHeight());
      std::vector<uint8_t> in(size_t(s) * s, 0);
      for (int v = 0; v < s; ++v) {
        const int y = int(std::floor(geo.toImageY(v + 0.5)));
        for (int u = 0; u < s; ++u) {
          const int x = int(std::floor(geo.toImageX(u + 0.5)));
          if (x >= 0 && y >= 0 && x < geo.imageWidth() && y < geo.imageHeight()) in[size_t(v) * s + u] = m[size_t(y) * geo.imageWidth() + x];
        }
      }
      masks.push_back(std::move(in));
    }
    return maskFeatures(s, p, std::move(masks));
  }
  throw Error(ErrorCode::InvalidArgument, "unknown feature kind '" + spec.kind + "'");
}

void fillFromShapley(ShapResult& r, const ShapleyResult& e) {
  r.values = e.values;
  r.stderrs = e.stderrs;
  r.emptyValue = e.emptyValue;
  r.fullValue = e.fullValue;
  r.samples = e.samples;
  r.converged = e.converged;
}

// Builds another game on top of the masked-image game (caption-similarity).
using GameWrapper = std::function<std::unique_ptr<Game>(ImageGame&)>;

void run(const Target& target, const vision::ImageProcessorConfig& processor, const io::ImageU8& image, const ShapOptions& o,
         ValueTransform transform, ShapResult& r, const JobContext& job, const GameWrapper& wrap = {}) {
  const auto t0 = std::chrono::steady_clock::now();
  const vision::InputGeometry& geo = *r.info.geometry;
  const InputPixels in = inputPixelsOf(image, processor, geo.inputSize());
  const FeatureSet features = buildFeatures(target, in, geo, o, job);
  r.features = features.description;
  r.featureKind = features.kind;
  r.side = features.side;
  r.gridSide = geo.gridSide();
  r.featureMasks = features.masks;
  r.featurePatches = features.patches;
  r.featureLabels = features.labels;
  r.value = toString(o.value);
  r.estimator = toString(o.estimator);
  r.masker = toString(o.masker);
  if (o.batch < 1) throw Error(ErrorCode::InvalidArgument, "the batch size must be at least 1");
  ImageGame game(target, features, in, o.masker, o.maskerOptions, meanColor(processor.mean), transform);
  std::unique_ptr<Game> wrapped = wrap ? wrap(game) : nullptr;
  Game& played = wrapped ? *wrapped : game;
  r.outputLabels = wrapped ? std::vector<std::string>{"caption similarity"} : target.outputLabels();
  CoalitionCache cache(played, o.batch);
  SamplingOptions so;
  so.maxEvaluations = o.evaluations;
  so.seed = o.seed;
  so.tolerance = o.tolerance;
  const JobContext sub = subJob(job, 0.1, 0.98);
  switch (o.estimator) {
    case ShapEstimator::Exact: fillFromShapley(r, exactShapley(cache, sub)); r.exact = true; break;
    case ShapEstimator::Kernel: fillFromShapley(r, kernelShap(cache, so, sub)); break;
    case ShapEstimator::Permutation: fillFromShapley(r, permutationShapley(cache, so, sub)); break;
    case ShapEstimator::Owen:
      if (!features.hierarchy) throw Error(ErrorCode::InvalidArgument, "Owen values need a hierarchy of features: use --features partition[:RxC]");
      fillFromShapley(r, owenValues(cache, *features.hierarchy, o.evaluations, sub));
      break;
    case ShapEstimator::Interactions: {
      const InteractionResult e = shapleyInteractions(cache, so, sub);
      r.values = e.shapley;
      r.stderrs.assign(e.shapley.size(), 0.0);
      r.emptyValue = e.emptyValue;
      r.fullValue = e.fullValue;
      r.interactions = e.sii;
      r.interactionStderrs = e.siiStderr;
      r.ksiiSingle = e.ksiiSingle;
      r.exact = e.exact;
      break;
    }
  }
  r.evaluations = cache.evaluations();
  r.cacheHits = cache.hits();
  r.forwardPasses = game.forwardCalls();
  r.modelSeconds = game.forwardSeconds();
  r.visiblePatchShare = game.visiblePatchShare();
  // One map per output: each input pixel gets the values of the features that contain it.
  const int k = r.outputs(), f = r.count();
  const size_t plane = size_t(r.side) * r.side;
  const auto queries = target.queryPositions();
  for (int out = 0; out < k; ++out) {
    ExplainedMap m;
    m.label = r.outputLabels[size_t(out)];
    m.position = !wrapped && queries[size_t(out)] >= 0 ? queries[size_t(out)] + 1 : -1;
    if (m.position >= 0 && m.position < int64_t(r.info.tokens.size())) m.token = r.info.tokens[size_t(m.position)];
    m.y = r.fullValue[size_t(out)];
    m.side = r.side;
    m.raw.assign(plane, 0.f);
    for (int i = 0; i < f; ++i) {
      const float v = float(r.valueOf(i, out));
      const auto& mask = r.featureMasks[size_t(i)];
      for (size_t px = 0; px < plane; ++px)
        if (mask[px]) m.raw[px] += v;
    }
    float top = 0;
    for (float v : m.raw) top = std::max(top, v);
    m.normalized.resize(plane);
    for (size_t px = 0; px < plane; ++px) m.normalized[px] = top > 0 ? std::max(m.raw[px], 0.f) / top : 0.f;
    r.info.maps.push_back(std::move(m));
  }
  r.info.method = "shap " + r.estimator;
  r.info.layer = "features";
  r.seconds = secondsSince(t0);
  r.info.explainSeconds = r.seconds;
  job.progress(1, "done");
}

// VL-SHAP's sentence-level value: the caption regenerated (greedy, batched) from each masked
// input, compared with the original caption by the cosine of their CLIP text embeddings.
class CaptionSimilarityGame : public Game {
 public:
  CaptionSimilarityGame(ImageGame& images, const Captioner& captioner, const SimilarityModel& clip, const std::string& original,
                        const DecodingOptions& decoding)
      : images_(images), captioner_(captioner), clip_(clip), decoding_(decoding) {
    if (decoding.numBeams != 1)
      throw Error(ErrorCode::InvalidArgument, "caption-similarity regenerates captions in batches, greedily: use --beams 1");
    original_ = textEmbeddings({original});
  }
  int players() const override { return images_.players(); }
  int outputs() const override { return 1; }
  std::vector<double> evaluate(const std::vector<Coalition>& batch, const JobContext& job) override {
    job.throwIfCancelled();
    c10::InferenceMode inference;
    const Captioner::Impl& m = captioner_.impl();
    const at::Tensor embeds = m.encode(images_.maskedPixels(batch));
    models::BlipCaptionStepDecoder decoder(m.model.model, embeds);
    const auto& tc = m.model.model->config.text;
    const auto rows = models::generateGreedyBatch(decoder, m.promptIds(""), int64_t(batch.size()), tc.sepTokenId, tc.padTokenId,
                                                  generationOptions(decoding_));
    std::vector<std::string> texts;
    for (const auto& ids : rows) texts.push_back(captioner_.decodeForDisplay(ids));
    const at::Tensor cos = (textEmbeddings(texts) * original_).sum(1).to(at::kDouble).contiguous();
    return std::vector<double>(cos.data_ptr<double>(), cos.data_ptr<double>() + cos.numel());
  }

 private:
  at::Tensor textEmbeddings(const std::vector<std::string>& texts) const {
    const SimilarityModel::Impl& c = clip_.impl();
    const auto t = c.encodeTexts(texts);
    return models::l2Normalize(c.model.model.ptr()->textFeatures(t.ids, t.attentionMask).to(at::kFloat));
  }
  ImageGame& images_;
  const Captioner& captioner_;
  const SimilarityModel& clip_;
  DecodingOptions decoding_;
  at::Tensor original_;
};

void requireValue(const ShapOptions& o, std::initializer_list<ShapValue> allowed, const std::string& family) {
  for (ShapValue v : allowed)
    if (o.value == v) return;
  std::string list;
  for (ShapValue v : allowed) list += (list.empty() ? "" : ", ") + std::string(toString(v));
  throw Error(ErrorCode::InvalidArgument, std::string("value '") + toString(o.value) + "' does not apply to a " + family + " model (use " + list + ")");
}

TokenSelection selectionOf(ShapValue v) {
  return v == ShapValue::TokenLogProb || v == ShapValue::TokenLogOdds ? TokenSelection::each() : TokenSelection::whole();
}

ValueTransform transformOf(ShapValue v) { return v == ShapValue::TokenLogOdds ? ValueTransform::LogOdds : ValueTransform::Identity; }

}  // namespace

const char* toString(ShapValue v) {
  switch (v) {
    case ShapValue::TokenLogProb: return "token-logprob";
    case ShapValue::TokenLogOdds: return "token-logodds";
    case ShapValue::CaptionLogProb: return "caption-logprob";
    case ShapValue::CaptionSimilarity: return "caption-similarity";
    case ShapValue::Answer: return "answer";
    case ShapValue::Clip: return "clip";
  }
  return "?";
}

std::optional<ShapValue> parseShapValue(std::string_view name) {
  for (ShapValue v : {ShapValue::TokenLogProb, ShapValue::TokenLogOdds, ShapValue::CaptionLogProb, ShapValue::CaptionSimilarity, ShapValue::Answer,
                       ShapValue::Clip})
    if (name == toString(v)) return v;
  return std::nullopt;
}

const char* toString(ShapEstimator e) {
  switch (e) {
    case ShapEstimator::Exact: return "exact";
    case ShapEstimator::Kernel: return "kernel";
    case ShapEstimator::Permutation: return "permutation";
    case ShapEstimator::Owen: return "owen";
    case ShapEstimator::Interactions: return "interactions";
  }
  return "?";
}

std::optional<ShapEstimator> parseShapEstimator(std::string_view name) {
  for (ShapEstimator e : {ShapEstimator::Exact, ShapEstimator::Kernel, ShapEstimator::Permutation, ShapEstimator::Owen, ShapEstimator::Interactions})
    if (name == toString(e)) return e;
  return std::nullopt;
}

ShapResult shapCaption(const Captioner& captioner, const io::ImageU8& image, const ShapOptions& o, const JobContext& job) {
  requireValue(o, {ShapValue::TokenLogProb, ShapValue::TokenLogOdds, ShapValue::CaptionLogProb, ShapValue::CaptionSimilarity}, "captioning");
  const Captioner::Impl& m = captioner.impl();
  ShapResult r;
  r.info = captionHeader(captioner, image, o.ids, o.decoding, subJob(job, 0, 0.1));
  const CaptionTarget target(m.model.model, m.pixelValues(image), r.info.ids, selectionOf(o.value));
  if (o.value != ShapValue::CaptionSimilarity) {
    run(target, m.processor, image, o, transformOf(o.value), r, job);
    return r;
  }
  if (!o.clip) throw Error(ErrorCode::InvalidArgument, "caption-similarity compares captions with a CLIP model: give one (--clip)");
  if (o.masker == MaskerKind::PatchRemoval)
    throw Error(ErrorCode::InvalidArgument, "caption-similarity regenerates captions from masked pixels: use a pixel masker, not patch removal");
  const std::string original = r.info.text;
  run(target, m.processor, image, o, ValueTransform::Identity, r, job, [&](ImageGame& images) {
    return std::make_unique<CaptionSimilarityGame>(images, captioner, *o.clip, original, o.decoding);
  });
  return r;
}

ShapResult shapAnswer(const QuestionAnswerer& vqa, const io::ImageU8& image, const std::string& question, const ShapOptions& o,
                      const JobContext& job) {
  requireValue(o, {ShapValue::Answer, ShapValue::TokenLogProb, ShapValue::TokenLogOdds}, "VQA");
  const QuestionAnswerer::Impl& m = vqa.impl();
  ShapResult r;
  r.info = answerHeader(vqa, image, question, o.ids, o.decoding, subJob(job, 0, 0.1));
  const VqaAnswerTarget target(m.model.model, m.pixelValues(image), vqa.questionIds(question), r.info.ids, selectionOf(o.value));
  run(target, m.processor, image, o, transformOf(o.value), r, job);
  return r;
}

ShapResult shapSimilarity(const SimilarityModel& clip, const io::ImageU8& image, const std::string& text, const ShapOptions& o,
                          const JobContext& job) {
  requireValue(o, {ShapValue::Clip}, "CLIP");
  const SimilarityModel::Impl& m = clip.impl();
  ShapResult r;
  r.info = similarityHeader(clip, image, text);
  const ClipSimilarityTarget target(m.model.model, m.pixelValues(image), r.info.ids);
  run(target, m.processor, image, o, ValueTransform::Identity, r, job);
  return r;
}

std::vector<vision::PixelRect> readRectsFile(const std::string& path) {
  const nlohmann::json j = io::readJsonFile(path);
  const nlohmann::json& list = j.is_object() && j.contains("rects") ? j["rects"] : j;
  if (!list.is_array() || list.empty())
    throw Error(ErrorCode::InvalidArgument, "the rectangles file must hold a non-empty list of [x, y, w, h] or {x, y, width, height}", path);
  std::vector<vision::PixelRect> out;
  for (size_t i = 0; i < list.size(); ++i) {
    const nlohmann::json& e = list[i];
    auto num = [&](const nlohmann::json& v) {
      if (!v.is_number_integer()) throw Error(ErrorCode::InvalidArgument, "rectangle " + std::to_string(i + 1) + ": coordinates must be integers", path);
      return v.get<int>();
    };
    if (e.is_array() && e.size() == 4) {
      out.push_back({num(e[0]), num(e[1]), num(e[2]), num(e[3])});
    } else if (e.is_object() && e.contains("x") && e.contains("y") && (e.contains("width") || e.contains("w")) &&
               (e.contains("height") || e.contains("h"))) {
      out.push_back({num(e["x"]), num(e["y"]), num(e.contains("width") ? e["width"] : e["w"]), num(e.contains("height") ? e["height"] : e["h"])});
    } else {
      throw Error(ErrorCode::InvalidArgument, "rectangle " + std::to_string(i + 1) + " is neither [x, y, w, h] nor {x, y, width, height}", path);
    }
  }
  return out;
}

}  // namespace vlm
