#include "pipeline/faithfulness.h"

#include <ATen/ATen.h>

#include <chrono>

#include "common/error.h"
#include "explain/features.h"
#include "explain/metrics.h"
#include "explain/shap_game.h"
#include "explain/target.h"
#include "io/files.h"
#include "io/json_util.h"
#include "io/npy.h"
#include "pipeline/captioner_impl.h"
#include "pipeline/similarity_impl.h"
#include "pipeline/vqa_impl.h"
#include "vision/preprocess.h"

namespace vlm {

namespace {

using namespace explain;

// The mean of the map over each feature's pixels (the map, side x side over the input, sampled
// at the nearest cell of each input pixel).
std::vector<double> featureScores(const ExplainedMap& map, const FeatureSet& features) {
  const int s = features.side;
  std::vector<double> scores;
  for (const auto& mask : features.masks) {
    double sum = 0, n = 0;
    for (int y = 0; y < s; ++y)
      for (int x = 0; x < s; ++x)
        if (mask[size_t(y) * s + x]) {
          sum += map.raw[size_t(y * map.side / s) * map.side + size_t(x * map.side / s)];
          n += 1;
        }
    scores.push_back(n > 0 ? sum / n : 0.0);
  }
  return scores;
}

FeatureSet featuresFor(const std::string& spec, const vision::InputGeometry& geo, const InputPixels& in) {
  const FeatureSpec f = parseFeatureSpec(spec);
  if (f.kind != "grid" && f.kind != "slic" && f.kind != "slico")
    throw Error(ErrorCode::InvalidArgument, "deletion / insertion ranks grid cells or superpixels (grid[:RxC], slic:N), not '" + spec + "'");
  return *pixelFeatures(f, in.image, geo.patchSize());
}

// `makeTarget(map)` builds the target of one map's unit. An explanation read from disk has no
// geometry: it is the model's (input side S, patch P) for this image.
template <class MakeTarget>
FaithfulnessResult evaluate(const ExplainResult& explained, const io::ImageU8& image, const vision::ImageProcessorConfig& processor, int64_t side,
                            int64_t patch, const FaithfulnessOptions& o, MakeTarget makeTarget, const JobContext& job) {
  const auto t0 = std::chrono::steady_clock::now();
  const vision::InputGeometry geo =
      explained.geometry ? *explained.geometry : vision::InputGeometry(processor, image.width, image.height, int(side), int(patch));
  if (geo.imageWidth() != image.width || geo.imageHeight() != image.height)
    throw Error(ErrorCode::InvalidArgument, "the explanation was made for a " + std::to_string(geo.imageWidth()) + "x" +
                                                std::to_string(geo.imageHeight()) + " image, this one is " + std::to_string(image.width) + "x" +
                                                std::to_string(image.height));
  if (!o.groundTruth.empty() && o.groundTruth.size() != size_t(image.width) * image.height)
    throw Error(ErrorCode::InvalidArgument, "the ground-truth mask must have the image's size");
  const InputPixels in = inputPixelsOf(image, processor, geo.inputSize());
  const FeatureSet features = featuresFor(o.features, geo, in);
  FaithfulnessResult r;
  r.features = features.description;
  std::vector<const ExplainedMap*> maps;
  for (const auto& m : explained.maps)
    if (m.side > 0) maps.push_back(&m);
  for (size_t i = 0; i < maps.size(); ++i) {
    const ExplainedMap& map = *maps[i];
    job.throwIfCancelled();
    job.progress(double(i) / double(maps.size()), "deletion / insertion of " + map.label);
    const auto target = makeTarget(map);
    ImageGame game(*target, features, in, o.masker, o.maskerOptions, meanColor(processor.mean), ValueTransform::Identity);
    CoalitionCache cache(game, o.batch);
    const DeletionInsertion di = deletionInsertion(cache, featureScores(map, features), o.steps, job);
    MapFaithfulness mf;
    mf.label = map.label;
    mf.token = map.token;
    mf.position = map.position;
    mf.deletionFraction = di.deletion[0].fraction;
    mf.deletionValue = di.deletion[0].value;
    mf.insertionFraction = di.insertion[0].fraction;
    mf.insertionValue = di.insertion[0].value;
    mf.deletionAuc = di.deletion[0].auc;
    mf.insertionAuc = di.insertion[0].auc;
    mf.fullValue = mf.deletionValue.front();
    mf.emptyValue = mf.insertionValue.front();
    if (!o.groundTruth.empty()) {
      const std::vector<float> onImage = geo.mapToImage(map.raw, map.side);
      mf.pointingHit = pointingGameHit(onImage.data(), o.groundTruth.data(), image.width, image.height, o.pointingTolerance);
      mf.relevanceMass = relevanceMass(onImage.data(), o.groundTruth.data(), image.width, image.height);
      mf.relevanceRank = relevanceRank(onImage.data(), o.groundTruth.data(), image.width, image.height);
    }
    r.evaluations += cache.evaluations();
    r.cacheHits += cache.hits();
    r.maps.push_back(std::move(mf));
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  job.progress(1, "done");
  return r;
}

TokenSelection selectionOfMap(const ExplainedMap& m) {
  return m.position >= 1 ? TokenSelection::one(m.position) : TokenSelection::whole();
}

}  // namespace

FaithfulnessResult faithfulnessCaption(const Captioner& captioner, const io::ImageU8& image, const ExplainResult& e,
                                       const FaithfulnessOptions& o, const JobContext& job) {
  const Captioner::Impl& m = captioner.impl();
  const at::Tensor pixels = m.pixelValues(image);
  const auto& vc = m.model.model->config.vision;
  return evaluate(e, image, m.processor, vc.imageSize, vc.patchSize, o, [&](const ExplainedMap& map) {
    return std::make_unique<CaptionTarget>(m.model.model, pixels, e.ids, selectionOfMap(map));
  }, job);
}

FaithfulnessResult faithfulnessAnswer(const QuestionAnswerer& vqa, const io::ImageU8& image, const ExplainResult& e,
                                      const FaithfulnessOptions& o, const JobContext& job) {
  const QuestionAnswerer::Impl& m = vqa.impl();
  if (e.question.empty()) throw Error(ErrorCode::InvalidArgument, "the explanation has no question (is it a VQA explanation?)");
  const at::Tensor pixels = m.pixelValues(image);
  const std::vector<int64_t> q = vqa.questionIds(e.question);
  const auto& vc = m.model.model->config.vision;
  return evaluate(e, image, m.processor, vc.imageSize, vc.patchSize, o, [&](const ExplainedMap& map) {
    return std::make_unique<VqaAnswerTarget>(m.model.model, pixels, q, e.ids, selectionOfMap(map));
  }, job);
}

FaithfulnessResult faithfulnessSimilarity(const SimilarityModel& clip, const io::ImageU8& image, const ExplainResult& e,
                                          const FaithfulnessOptions& o, const JobContext& job) {
  const SimilarityModel::Impl& m = clip.impl();
  const at::Tensor pixels = m.pixelValues(image);
  const auto& vc = m.model.model->config.vision;
  return evaluate(e, image, m.processor, vc.imageSize, vc.patchSize, o, [&](const ExplainedMap&) {
    return std::make_unique<ClipSimilarityTarget>(m.model.model, pixels, e.ids);
  }, job);
}

nlohmann::ordered_json describeFaithfulness(const FaithfulnessResult& r) {
  nlohmann::ordered_json j{{"features", r.features}, {"evaluations", r.evaluations}, {"cache_hits", r.cacheHits}, {"seconds", r.seconds}};
  nlohmann::ordered_json maps = nlohmann::ordered_json::array();
  for (const auto& m : r.maps) {
    nlohmann::ordered_json mj{{"label", m.label}, {"token", m.token}, {"position", m.position}, {"v_full", m.fullValue}, {"v_empty", m.emptyValue},
                              {"deletion_auc", m.deletionAuc}, {"insertion_auc", m.insertionAuc},
                              {"deletion", {{"fraction", m.deletionFraction}, {"value", m.deletionValue}}},
                              {"insertion", {{"fraction", m.insertionFraction}, {"value", m.insertionValue}}}};
    if (m.pointingHit) {
      mj["pointing_hit"] = *m.pointingHit;
      mj["relevance_mass"] = *m.relevanceMass;
      mj["relevance_rank"] = *m.relevanceRank;
    }
    maps.push_back(mj);
  }
  j["maps"] = maps;
  return j;
}

ExplainResult readExplanation(const std::filesystem::path& dir) {
  const std::filesystem::path file = dir / "explanation.json";
  const nlohmann::json j = io::readJsonFile(file);
  ExplainResult r;
  try {
    r.model = j.at("model").get<std::string>();
    r.family = j.at("family").get<std::string>();
    const auto& t = j.at("target");
    r.text = t.at("text").get<std::string>();
    r.ids = t.at("ids").get<std::vector<int64_t>>();
    r.tokens = t.at("tokens").get<std::vector<std::string>>();
    if (t.contains("question")) r.question = t["question"].get<std::string>();
    r.method = j.at("method").get<std::string>();
    r.layer = j.at("layer").get<std::string>();
    for (const auto& mj : j.at("maps")) {
      ExplainedMap m;
      m.label = mj.at("label").get<std::string>();
      m.token = mj.at("token").get<std::string>();
      m.position = mj.at("position").get<int64_t>();
      m.y = mj.at("y").get<double>();
      m.side = mj.at("side").get<int>();
      if (m.side > 0) {
        const io::NpyArray a = io::readNpy(dir / mj.at("npy").get<std::string>());
        if (a.shape != std::vector<int64_t>{m.side, m.side})
          throw Error(ErrorCode::Corrupt, "map " + m.label + ": the .npy is not " + std::to_string(m.side) + "x" + std::to_string(m.side), file.string());
        m.raw = a.data;
      }
      r.maps.push_back(std::move(m));
    }
  } catch (const nlohmann::json::exception& e) {
    throw Error(ErrorCode::Corrupt, std::string("not an explanation sidecar: ") + e.what(), file.string());
  }
  return r;
}

std::vector<uint8_t> readMaskImage(const std::filesystem::path& path, int width, int height) {
  io::ImageLoadOptions lo;
  lo.applyExifOrientation = false;
  const io::ImageU8 img = io::loadImage(path, lo);
  if (img.width != width || img.height != height)
    throw Error(ErrorCode::InvalidArgument, "the mask is " + std::to_string(img.width) + "x" + std::to_string(img.height) +
                                                ", the image " + std::to_string(width) + "x" + std::to_string(height), path.string());
  std::vector<uint8_t> mask(size_t(width) * height);
  for (size_t i = 0; i < mask.size(); ++i) mask[i] = (img.rgb[3 * i] | img.rgb[3 * i + 1] | img.rgb[3 * i + 2]) != 0;
  return mask;
}

std::vector<RandomizationStep> cascadingRandomization(const Captioner& captioner, const io::ImageU8& image, const ExplainOptions& options,
                                                      uint64_t seed, const JobContext& job) {
  const Captioner::Impl& m = captioner.impl();
  auto& model = *m.model.model;
  const int64_t layers = model.config.vision.numHiddenLayers;
  ExplainOptions o = options;
  const ExplainResult original = explainCaption(captioner, image, o, subJob(job, 0, 1.0 / double(layers + 2)));
  o.ids = original.ids;  // the same text at every step
  // Keep a copy of every vision parameter; put them back however this ends.
  std::vector<std::pair<at::Tensor, at::Tensor>> saved;
  for (const auto& p : model.named_parameters())
    if (p.key().rfind("vision_model.", 0) == 0) saved.emplace_back(p.value(), p.value().detach().clone());
  struct Restore {
    std::vector<std::pair<at::Tensor, at::Tensor>>& saved;
    ~Restore() {
      at::NoGradGuard g;
      for (auto& [live, copy] : saved) live.copy_(copy);
    }
  } restore{saved};
  at::Generator gen = at::detail::createCPUGenerator(seed);
  std::vector<RandomizationStep> steps;
  std::vector<std::pair<std::string, std::string>> stages = {{"vision_model.post_layernorm.", "post_layernorm"}};
  for (int64_t l = layers - 1; l >= 0; --l) stages.push_back({"vision_model.encoder.layers." + std::to_string(l) + ".", "layer " + std::to_string(l)});
  for (size_t i = 0; i < stages.size(); ++i) {
    {
      at::NoGradGuard g;
      for (const auto& p : model.named_parameters()) {
        const std::string& name = p.key();
        if (name.rfind(stages[i].first, 0) != 0) continue;
        at::Tensor t = p.value();
        const bool norm = name.find("layer_norm") != std::string::npos || name.find("post_layernorm") != std::string::npos;
        if (name.size() >= 4 && name.compare(name.size() - 4, 4, "bias") == 0) t.zero_();
        else if (norm) t.fill_(1.0);
        else t.copy_(at::normal(0.0, 0.02, t.sizes(), gen, t.options()));
      }
    }
    const double from = double(i + 1) / double(stages.size() + 1);
    const ExplainResult now = explainCaption(captioner, image, o, subJob(job, from, from + 1.0 / double(stages.size() + 1)));
    RandomizationStep s;
    s.randomized = i == 0 ? stages[0].second : stages[0].second + " .. " + stages[i].second;
    for (size_t k = 0; k < original.maps.size(); ++k) {
      std::vector<double> a(original.maps[k].raw.begin(), original.maps[k].raw.end()), b(now.maps[k].raw.begin(), now.maps[k].raw.end());
      s.spearman.push_back(spearman(a, b));
      for (double& x : a) x = std::abs(x);
      for (double& x : b) x = std::abs(x);
      s.spearmanAbs.push_back(spearman(a, b));
    }
    steps.push_back(std::move(s));
  }
  job.progress(1, "done");
  return steps;
}

}  // namespace vlm
