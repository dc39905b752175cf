#include "pipeline/eval_gt.h"

#include <chrono>
#include <cmath>
#include <filesystem>
#include <map>
#include <sstream>

#include "common/error.h"
#include "common/random.h"
#include "explain/metrics.h"
#include "pipeline/captioner_impl.h"
#include "pipeline/counterfactual.h"
#include "pipeline/explainer.h"
#include "pipeline/shap.h"
#include "pipeline/train_shapes.h"
#include "runtime/runtime.h"

namespace vlm {

std::vector<std::string> evalGtMethods() { return {"gradcam", "xattn", "ig", "kernel-grid", "kernel-slic", "kernel-dff", "owen", "random"}; }

uint64_t evalGtSceneSeed(uint64_t seed, int index) { return (uint64_t(1) << 62) + (seed << 32) + uint64_t(index); }

namespace {

// A caption token that names an object: its position in the explained ids and the object.
struct Named {
  int64_t position;
  int object;
};

// Running means of the three scores of one table row.
struct Accumulator {
  EvalGtRow row;
  double sums[3] = {0, 0, 0}, squares[3] = {0, 0, 0};
  void add(double pointing, double mass, double rank) {
    const double v[3] = {pointing, mass, rank};
    for (int i = 0; i < 3; ++i) {
      sums[i] += v[i];
      squares[i] += v[i] * v[i];
    }
    ++row.pairs;
  }
  EvalGtRow finish() const {
    EvalGtRow r = row;
    const double n = std::max(1, r.pairs);
    double mean[3], err[3];
    for (int i = 0; i < 3; ++i) {
      mean[i] = sums[i] / n;
      const double var = r.pairs > 1 ? std::max(0.0, (squares[i] - n * mean[i] * mean[i]) / (n - 1)) : 0.0;
      err[i] = std::sqrt(var / n);
    }
    r.pointing = mean[0], r.mass = mean[1], r.rank = mean[2];
    r.pointingStderr = err[0], r.massStderr = err[1], r.rankStderr = err[2];
    return r;
  }
};

class Table {
 public:
  Accumulator& row(const std::string& method, const std::string& layer) {
    const std::string key = method + "\n" + layer;
    auto it = index_.find(key);
    if (it == index_.end()) {
      it = index_.emplace(key, rows_.size()).first;
      rows_.emplace_back();
      rows_.back().row.method = method;
      rows_.back().row.layer = layer;
    }
    return rows_[it->second];
  }
  std::vector<EvalGtRow> finish() const {
    std::vector<EvalGtRow> out;
    for (const auto& a : rows_) out.push_back(a.finish());
    return out;
  }

 private:
  std::map<std::string, size_t> index_;
  std::vector<Accumulator> rows_;
};

// The share of the image within `tolerance` pixels (Euclidean) of a mask pixel.
double dilatedShare(const std::vector<uint8_t>& mask, int side, int tolerance) {
  if (tolerance <= 0) {
    size_t n = 0;
    for (uint8_t m : mask) n += m != 0;
    return double(n) / double(mask.size());
  }
  std::vector<uint8_t> near(mask.size(), 0);
  for (int y = 0; y < side; ++y)
    for (int x = 0; x < side; ++x) {
      if (!mask[size_t(y) * side + x]) continue;
      for (int dy = -tolerance; dy <= tolerance; ++dy)
        for (int dx = -tolerance; dx <= tolerance; ++dx) {
          const int yy = y + dy, xx = x + dx;
          if (yy < 0 || xx < 0 || yy >= side || xx >= side || dx * dx + dy * dy > tolerance * tolerance) continue;
          near[size_t(yy) * side + xx] = 1;
        }
    }
  size_t n = 0;
  for (uint8_t m : near) n += m;
  return double(n) / double(mask.size());
}

// Does `caption` hold the words "colour shape" next to each other (a comma after them allowed)?
bool names(const std::string& caption, const shapes::Object& o) {
  std::vector<std::string> words;
  std::istringstream in(caption);
  for (std::string w; in >> w;) {
    while (!w.empty() && (w.back() == ',' || w.back() == '.')) w.pop_back();
    words.push_back(w);
  }
  for (size_t i = 0; i + 1 < words.size(); ++i)
    if (words[i] == shapes::nameOf(o.colour) && words[i + 1] == shapes::nameOf(o.shape)) return true;
  return false;
}

vision::PixelRect boundingBox(const std::vector<uint8_t>& mask, int side) {
  int x0 = side, y0 = side, x1 = -1, y1 = -1;
  for (int y = 0; y < side; ++y)
    for (int x = 0; x < side; ++x)
      if (mask[size_t(y) * side + x]) {
        x0 = std::min(x0, x), y0 = std::min(y0, y), x1 = std::max(x1, x), y1 = std::max(y1, y);
      }
  return {x0, y0, x1 - x0 + 1, y1 - y0 + 1};
}

const ExplainedMap* mapAt(const ExplainResult& r, int64_t position) {
  for (const auto& m : r.maps)
    if (m.position == position) return &m;
  return nullptr;
}

}  // namespace

EvalGtReport evalGroundTruth(const Captioner& captioner, const EvalGtOptions& o, const JobContext& job) {
  if (o.scenes < 1) throw Error(ErrorCode::InvalidArgument, "eval-gt: --n must be at least 1");
  for (const auto& m : o.methods) {
    const auto all = evalGtMethods();
    if (std::find(all.begin(), all.end(), m) == all.end()) {
      std::string list;
      for (const auto& a : all) list += (list.empty() ? "" : ", ") + a;
      throw Error(ErrorCode::InvalidArgument, "eval-gt: unknown method '" + m + "' (" + list + ")");
    }
  }
  EvalGtReport report;
  report.model = captioner.modelName();
  report.tolerance = o.tolerance;
  report.world = o.world;
  const auto record = captioner.modelDir() / "training.json";
  if (o.worldFromModel && std::filesystem::is_regular_file(record)) report.world = readTrainingRecord(record).world;
  shapes::validate(report.world);
  const int side = report.world.imageSize;

  const Captioner::Impl& impl = captioner.impl();
  const int64_t sep = impl.config().text.sepTokenId;
  const int visionLayers = captioner.visionLayers(), textLayers = captioner.textLayers();
  auto wants = [&](const char* m) { return std::find(o.methods.begin(), o.methods.end(), m) != o.methods.end(); };

  Table table;
  double chancePointing = 0, chanceMass = 0;
  std::map<std::string, double> seconds;
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < o.scenes; ++i) {
    job.throwIfCancelled();
    const double from = double(i) / o.scenes, span = 1.0 / o.scenes;
    job.progress(from, "scene " + std::to_string(i + 1) + " of " + std::to_string(o.scenes));
    const uint64_t sceneSeed = evalGtSceneSeed(o.seed, i);
    const shapes::Scene s = shapes::generate(report.world, sceneSeed);

    // The true caption, teacher-forced: [DEC] words [SEP]; the tokens that name objects.
    std::vector<int64_t> ids = impl.promptIds(s.caption);
    ids.push_back(sep);
    std::vector<Named> named;
    int64_t position = 1;
    for (size_t w = 0; w < s.words.size(); ++w) {
      if (s.wordObject[w] >= 0) named.push_back({position, s.wordObject[w]});
      position += int64_t(impl.tokenizer->encode(s.words[w], false).size());
    }
    for (const auto& n : named) {
      chancePointing += dilatedShare(s.masks[size_t(n.object)], side, o.tolerance);
      chanceMass += dilatedShare(s.masks[size_t(n.object)], side, 0);
    }
    report.pairs += int(named.size());

    auto score = [&](const std::string& method, const std::string& layer, const std::vector<float>& map, int object) {
      const uint8_t* mask = s.masks[size_t(object)].data();
      table.row(method, layer)
          .add(explain::pointingGameHit(map.data(), mask, side, side, o.tolerance) ? 1.0 : 0.0, explain::relevanceMass(map.data(), mask, side, side),
               explain::relevanceRank(map.data(), mask, side, side));
    };
    auto scoreResult = [&](const std::string& method, const std::string& layer, const ExplainResult& r) {
      for (const auto& n : named) {
        const ExplainedMap* m = mapAt(r, n.position);
        if (!m) throw Error(ErrorCode::InvalidArgument, "eval-gt: " + method + " gave no map for token " + std::to_string(n.position));
        score(method, layer, r.onImage(*m), n.object);
      }
    };
    auto timed = [&](const std::string& method, auto&& body) {
      const auto start = std::chrono::steady_clock::now();
      body();
      seconds[method] += secondsSince(start);
    };
    const int steps = int(o.methods.size()) + (o.regenerate ? 1 : 0);
    int done = 0;
    auto sub = [&]() {
      const JobContext j = subJob(job, from + span * done / steps, from + span * (done + 1) / steps);
      ++done;
      return j;
    };

    ExplainOptions base;
    base.scope = TokenScope::All;
    base.ids = ids;
    for (const auto& method : o.methods) {
      const JobContext j = sub();
      if (method == "gradcam") {
        timed(method, [&] {
          for (int l = 0; l <= visionLayers; ++l) {
            ExplainOptions e = base;
            e.method = ExplainMethod::GradCam;
            if (l < visionLayers) e.layer = l;
            else e.postLayernorm = true;
            scoreResult(method, l < visionLayers ? "vision layer " + std::to_string(l) : "post_layernorm", explainCaption(captioner, s.image, e, j));
          }
        });
      } else if (method == "xattn") {
        timed(method, [&] {
          for (int l = 0; l < textLayers; ++l) {
            ExplainOptions e = base;
            e.method = ExplainMethod::CrossAttention;
            e.layer = l;
            scoreResult(method, "text layer " + std::to_string(l), explainCaption(captioner, s.image, e, j));
          }
        });
      } else if (method == "ig") {
        timed(method, [&] {
          ExplainOptions e = base;
          e.method = ExplainMethod::IntegratedGradients;
          e.steps = o.igSteps;
          scoreResult(method, "pixels", explainCaption(captioner, s.image, e, j));
        });
      } else if (method == "random") {
        timed(method, [&] {
          for (const auto& n : named) {
            Rng rng(sceneSeed ^ (uint64_t(n.position) * 0x9e3779b97f4a7c15ULL));
            std::vector<float> map(size_t(side) * side);
            for (auto& v : map) v = float(rng.uniform());
            score(method, "", map, n.object);
          }
        });
      } else {  // the Shapley methods
        ShapOptions so;
        so.ids = ids;
        so.value = ShapValue::TokenLogProb;
        so.evaluations = o.shapBudget;
        so.seed = sceneSeed;
        std::string layer;
        if (method == "kernel-grid") so.features = "grid:" + o.grid, layer = so.features;
        else if (method == "kernel-slic") so.features = "slic:" + std::to_string(o.slicSegments), layer = so.features;
        else if (method == "kernel-dff")
          so.features = "dff:" + std::to_string(visionLayers - 1) + ":" + std::to_string(o.dffConcepts), layer = so.features;
        else so.estimator = ShapEstimator::Owen, so.features = "partition", layer = "partition";
        timed(method, [&] { scoreResult(method, layer, shapCaption(captioner, s.image, so, j).info); });
      }
    }

    if (o.regenerate) {
      const JobContext j = sub();
      timed("regenerate", [&] {
        Rng rng(sceneSeed ^ 0x5bd1e995ULL);
        for (size_t k = 0; k < s.objects.size(); ++k) {
          const vision::PixelRect box = boundingBox(s.masks[k], side);
          MaskSpec spec;
          spec.rects = {box};
          const RegenerateResult r = maskAndRegenerate(captioner, s.image, spec, CaptionOptions{}, nullptr, j);
          if (!names(r.original, s.objects[k])) continue;  // the model did not name it to begin with
          ++report.masked;
          report.removed += !names(r.masked, s.objects[k]);
          // Control: a box of the same size on the empty background (no object pixel under it).
          for (int attempt = 0; attempt < 200; ++attempt) {
            const vision::PixelRect c{int(rng.below(uint64_t(side - box.width + 1))), int(rng.below(uint64_t(side - box.height + 1))), box.width,
                                      box.height};
            bool empty = true;
            for (const auto& m : s.masks)
              for (int y = c.y; y < c.y + c.height && empty; ++y)
                for (int x = c.x; x < c.x + c.width; ++x)
                  if (m[size_t(y) * side + x]) {
                    empty = false;
                    break;
                  }
            if (!empty) continue;
            spec.rects = {c};
            const RegenerateResult control = maskAndRegenerate(captioner, s.image, spec, CaptionOptions{}, nullptr, j);
            ++report.controlMasked;
            report.controlRemoved += !names(control.masked, s.objects[k]);
            break;
          }
        }
      });
    }
    report.scenes = i + 1;
  }
  report.rows = table.finish();
  for (auto& r : report.rows) r.seconds = seconds[r.method];
  report.chancePointing = report.pairs ? chancePointing / report.pairs : 0;
  report.chanceMass = report.pairs ? chanceMass / report.pairs : 0;
  report.seconds = secondsSince(t0);
  job.progress(1, "done");
  return report;
}

std::string evalGtMarkdown(const EvalGtReport& r) {
  std::ostringstream md;
  auto pct = [](double v, double err) {
    char b[64];
    std::snprintf(b, sizeof b, "%.1f ± %.1f", 100 * v, 100 * err);
    return std::string(b);
  };
  md << "Model `" << r.model << "`, " << r.scenes << " scenes, " << r.pairs << " (scene, object-naming token) pairs; scores in % "
     << "(mean ± standard error); pointing game tolerance " << r.tolerance << " px.\n\n"
     << "| method | features / layer | pointing game | relevance mass | relevance rank | seconds |\n"
     << "|---|---|---|---|---|---|\n";
  char chance[128];
  std::snprintf(chance, sizeof chance, "| *chance (uniform random map, expected)* | | %.1f | %.1f | %.1f | |\n", 100 * r.chancePointing, 100 * r.chanceMass,
                100 * r.chanceMass);
  md << chance;
  for (const auto& row : r.rows) {
    char secs[32];
    std::snprintf(secs, sizeof secs, "%.1f", row.seconds);
    md << "| " << row.method << " | " << row.layer << " | " << pct(row.pointing, row.pointingStderr) << " | " << pct(row.mass, row.massStderr)
       << " | " << pct(row.rank, row.rankStderr) << " | " << secs << " |\n";
  }
  if (r.masked > 0) {
    char b[400];
    std::snprintf(b, sizeof b,
                  "\nMask and regenerate: hiding a named object's bounding box removes its \"colour shape\" phrase from the new caption in "
                  "%.1f %% of %d cases; a box of the same size on the empty background removes it in %.1f %% of %d cases.\n",
                  100.0 * r.removed / r.masked, r.masked, r.controlMasked ? 100.0 * r.controlRemoved / r.controlMasked : 0.0, r.controlMasked);
    md << b;
  }
  return md.str();
}

}  // namespace vlm
