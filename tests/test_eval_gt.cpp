// VLM_TEST_LABELS: model
// eval-gt (issue 7): explanations of the bundled shapes-world captioner scored against the exact
// object masks. Checked against independent computations: the chance level is the mean mask
// share of the object-naming tokens (recomputed here from the scenes); a row equals the metrics
// of maps computed here token by token through the public explain API, with the ids built here
// from the model's own tokenizer files; a random map scores at chance; the best method is far
// above it; masking a named object removes its phrase far more often than masking empty
// background; the CLI's JSON is the API's report.
#include "testing.h"
#include "cli_helpers.h"
#include "error_testing.h"

#include <nlohmann/json.hpp>

#include "explain/metrics.h"
#include "io/files.h"
#include "pipeline/captioner.h"
#include "pipeline/eval_gt.h"
#include "pipeline/explainer.h"
#include "pipeline/train_shapes.h"
#include "shapes/world.h"
#include "text/wordpiece.h"

using namespace vlm;

namespace {

const std::filesystem::path& modelDir() {
  static const std::filesystem::path dir = std::filesystem::path(VLM_SOURCE_DIR) / "resources" / "models" / "shapes-blip-caption";
  return dir;
}

const EvalGtRow& rowOf(const EvalGtReport& r, const std::string& method, const std::string& layer) {
  for (const auto& row : r.rows)
    if (row.method == method && row.layer == layer) return row;
  throw std::runtime_error("no row " + method + " / " + layer);
}

}  // namespace

class TestEvalGt : public QObject {
  Q_OBJECT
  std::unique_ptr<Captioner> captioner_;

 private Q_SLOTS:
  void initTestCase() { captioner_ = Captioner::load(modelDir().string()); }

  // One scene, cross-attention of the last text layer: the row is the mean of the metrics of
  // the maps of the object-naming tokens, each computed here on its own.
  void rowEqualsTheMetricsOfEachToken() {
    EvalGtOptions o;
    o.scenes = 1;
    o.methods = {"xattn"};
    o.regenerate = false;
    const EvalGtReport r = evalGroundTruth(*captioner_, o);
    const shapes::WorldOptions world = readTrainingRecord(modelDir() / "training.json").world;
    const shapes::Scene s = shapes::generate(world, evalGtSceneSeed(0, 0));
    const auto tokenizer = text::WordPieceTokenizer::fromFolder(modelDir());
    const auto config = nlohmann::json::parse(io::readFile(modelDir() / "config.json")).at("text_config");
    std::vector<int64_t> ids{config.at("bos_token_id").get<int64_t>()};
    std::vector<std::pair<int64_t, int>> named;  // (position, object)
    for (size_t w = 0; w < s.words.size(); ++w) {
      const auto wordIds = tokenizer.encode(s.words[w], false);
      if (s.wordObject[w] >= 0) named.emplace_back(int64_t(ids.size()), s.wordObject[w]);
      ids.insert(ids.end(), wordIds.begin(), wordIds.end());
    }
    ids.push_back(config.at("sep_token_id").get<int64_t>());
    QCOMPARE(r.pairs, int(named.size()));
    QVERIFY(named.size() >= 2);  // colour and shape of at least one object
    double pointing = 0, mass = 0, rank = 0, share = 0;
    const int side = world.imageSize;
    for (const auto& [position, object] : named) {
      ExplainOptions e;
      e.method = ExplainMethod::CrossAttention;
      e.layer = captioner_->textLayers() - 1;
      e.ids = ids;
      e.token = int(position);
      const ExplainResult x = explainCaption(*captioner_, s.image, e);
      // The explained token is the word that names the object.
      const std::string word = x.tokens[size_t(position)];
      const shapes::Object& obj = s.objects[size_t(object)];
      QVERIFY2(word == shapes::nameOf(obj.colour) || word == shapes::nameOf(obj.shape), word.c_str());
      const std::vector<float> map = x.onImage(x.maps.at(0));
      const uint8_t* mask = s.masks[size_t(object)].data();
      pointing += explain::pointingGameHit(map.data(), mask, side, side, 0);
      mass += explain::relevanceMass(map.data(), mask, side, side);
      rank += explain::relevanceRank(map.data(), mask, side, side);
      size_t area = 0;
      for (uint8_t m : s.masks[size_t(object)]) area += m;
      share += double(area) / double(side * side);
    }
    const double n = double(named.size());
    const EvalGtRow& row = rowOf(r, "xattn", "text layer " + std::to_string(captioner_->textLayers() - 1));
    QCOMPARE(row.pairs, int(named.size()));
    QVERIFY(std::abs(row.pointing - pointing / n) < 1e-12);
    QVERIFY(std::abs(row.mass - mass / n) < 1e-9);
    QVERIFY(std::abs(row.rank - rank / n) < 1e-9);
    QVERIFY(std::abs(r.chanceMass - share / n) < 1e-12);
    QCOMPARE(r.chancePointing, r.chanceMass);  // tolerance 0
  }

  // Twelve scenes: a random map scores at chance, cross-attention far above it; masking the
  // named object removes its phrase more often than masking the background.
  void randomIsChanceAndTheBestIsFarAbove() {
    EvalGtOptions o;
    o.scenes = 12;
    o.methods = {"xattn", "random", "kernel-slic"};
    o.shapBudget = 64;
    const EvalGtReport r = evalGroundTruth(*captioner_, o);
    QCOMPARE(r.scenes, 12);
    QVERIFY(r.pairs >= 24);
    const EvalGtRow& random = rowOf(r, "random", "");
    QVERIFY2(std::abs(random.mass - r.chanceMass) < 0.01, qPrintable(QStringLiteral("%1 vs %2").arg(random.mass).arg(r.chanceMass)));
    QVERIFY2(std::abs(random.rank - r.chanceMass) < 0.03, qPrintable(QStringLiteral("%1 vs %2").arg(random.rank).arg(r.chanceMass)));
    QVERIFY(random.pointing < r.chancePointing + 4 * std::sqrt(r.chancePointing / r.pairs) + 0.02);
    const EvalGtRow& best = rowOf(r, "xattn", "text layer " + std::to_string(captioner_->textLayers() - 1));
    QVERIFY2(best.pointing > r.chancePointing + 0.3, qPrintable(QString::number(best.pointing)));
    QVERIFY2(best.mass > 3 * r.chanceMass, qPrintable(QString::number(best.mass)));
    QVERIFY(rowOf(r, "kernel-slic", "slic:40").rank > 3 * r.chanceMass);
    QVERIFY(r.masked >= 12 && r.controlMasked >= 1);
    const double removed = double(r.removed) / r.masked, control = double(r.controlRemoved) / r.controlMasked;
    QVERIFY2(removed > control + 0.3, qPrintable(QStringLiteral("%1 vs %2").arg(removed).arg(control)));
    // The Markdown table has the chance row and a row per layer.
    const std::string md = evalGtMarkdown(r);
    QVERIFY(md.find("chance") != std::string::npos);
    QVERIFY(md.find("| xattn | text layer 0 |") != std::string::npos);
  }

  void cliJsonIsTheReport() {
    const auto j = test::runCliJson({QStringLiteral("eval-gt"), QStringLiteral("--model"), test::qs(modelDir()), QStringLiteral("--n"), QStringLiteral("2"),
                                     QStringLiteral("--method"), QStringLiteral("random,gradcam"), QStringLiteral("--no-regenerate"), QStringLiteral("--json")});
    EvalGtOptions o;
    o.scenes = 2;
    o.methods = {"random", "gradcam"};
    o.regenerate = false;
    const EvalGtReport r = evalGroundTruth(*captioner_, o);
    QCOMPARE(j.at("pairs").get<int>(), r.pairs);
    QCOMPARE(j.at("rows").size(), r.rows.size());
    QCOMPARE(r.rows.size(), size_t(1 + captioner_->visionLayers() + 1));
    for (size_t i = 0; i < r.rows.size(); ++i) {
      QCOMPARE(j["rows"][i].at("layer").get<std::string>(), r.rows[i].layer);
      QVERIFY(std::abs(j["rows"][i].at("mass").get<double>() - r.rows[i].mass) < 1e-6);  // another process, maybe other thread counts
      QVERIFY(std::abs(j["rows"][i].at("pointing").get<double>() - r.rows[i].pointing) < 1e-12);
    }
  }

  void refusals() {
    EvalGtOptions o;
    o.methods = {"lime"};
    VLM_EXPECT_ERROR(evalGroundTruth(*captioner_, o), ErrorCode::InvalidArgument, "unknown method 'lime'");
    o = EvalGtOptions{};
    o.scenes = 0;
    VLM_EXPECT_ERROR(evalGroundTruth(*captioner_, o), ErrorCode::InvalidArgument, "at least 1");
    VLM_EXPECT_CLEAN_FAILURE(QStringList({QStringLiteral("eval-gt"), QStringLiteral("--model"), test::qs(test::dataPath("clip-tiny"))}), 0,
                             "not a BLIP captioning model");
    VLM_EXPECT_CLEAN_FAILURE(QStringList({QStringLiteral("eval-gt"), QStringLiteral("--model"), test::qs(modelDir()), QStringLiteral("--method"),
                                          QStringLiteral("gradcam,lime")}),
                             0, "unknown method 'lime'");
  }
};

QTEST_GUILESS_MAIN(TestEvalGt)
#include "test_eval_gt.moc"
