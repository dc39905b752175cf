// VLM_TEST_LABELS: model
// The bundled shapes-world models (resources/models/shapes-blip-caption, shapes-blip-vqa,
// shapes-clip, trained by `vlmscope train-shapes`): the captioner captions the bundled demo
// scene right, and on held-out scenes each model scores what its training record
// (training.json, also in its model card) says, to the scene: the same held-out seeds,
// captioned / answered / retrieved here through the app's own loading path, scored here.
#include "testing.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>
#include <map>
#include <sstream>

#include "io/files.h"
#include "pipeline/captioner.h"
#include "pipeline/similarity.h"
#include "pipeline/vqa.h"
#include "pipeline/train_shapes.h"
#include "runtime/runtime.h"
#include "shapes/world.h"

using namespace vlm;

class TestBundledShapesModel : public QObject {
  Q_OBJECT
  std::filesystem::path dir_ = std::filesystem::path(VLM_SOURCE_DIR) / "resources" / "models" / "shapes-blip-caption";

 private Q_SLOTS:
  void captionsTheDemoSceneRight() {
    const auto captioner = Captioner::load(dir_.string());
    const auto demo = nlohmann::json::parse(io::readFile(std::filesystem::path(VLM_SOURCE_DIR) / "resources" / "images" / "demo.json"));
    const io::ImageU8 image = io::loadImage((std::filesystem::path(VLM_SOURCE_DIR) / "resources" / "images" / "demo.png").string());
    QCOMPARE(captioner->caption(image, CaptionOptions{}).caption, demo.at("caption").get<std::string>());
    // The picture is the scene of the recorded seed (the caption is the world's, not a guess).
    shapes::WorldOptions w;
    const shapes::Scene s = shapes::generate(w, demo.at("seed").get<uint64_t>());
    QVERIFY(s.image.rgb == image.rgb);
    QCOMPARE(s.caption, demo.at("caption").get<std::string>());
  }

  void heldOutAccuracyIsAsRecorded() {
    const TrainShapesOptions o = readTrainingRecord(dir_ / "training.json");
    const auto record = nlohmann::json::parse(io::readFile(dir_ / "training.json"));
    const auto captioner = Captioner::load(dir_.string());
    int exact = 0, meaning = 0;
    for (int i = 0; i < o.evalScenes; ++i) {
      const shapes::Scene s = shapes::generate(o.world, heldOutSeed(o.seed, i));
      const std::string caption = captioner->caption(s.image, CaptionOptions{}).caption;
      exact += caption == s.caption;
      meaning += shapes::sameMeaning(caption, s.caption);
    }
    const double accuracy = double(exact) / o.evalScenes;
    QCOMPARE(accuracy, record.at("exact_match").get<double>());
    QCOMPARE(double(meaning) / o.evalScenes, record.at("meaning_match").get<double>());
    QVERIFY2(accuracy > 0.5, qPrintable(QString::number(accuracy)));  // far above chance (1 in thousands of captions)
  }

  // Every question of every held-out scene (colour, count, exists, shape), answered right as
  // often as recorded; above 90 %, far more often than the most frequent answer of each kind
  // would be, and every kind of question at least 85 % right.
  void vqaHeldOutAccuracyIsAsRecorded() {
    const auto dir = dir_.parent_path() / "shapes-blip-vqa";
    const TrainShapesOptions o = readTrainingRecord(dir / "training.json");
    const auto record = nlohmann::json::parse(io::readFile(dir / "training.json"));
    const auto vqa = QuestionAnswerer::load(dir.string());
    int right = 0, asked = 0;
    std::map<std::string, std::map<std::string, int>> answersByKind;
    std::map<std::string, int> rightByKind;
    for (int i = 0; i < o.evalScenes; ++i) {
      const shapes::Scene s = shapes::generate(o.world, heldOutSeed(o.seed, i));
      for (const auto& qa : s.questions) {
        const bool ok = vqa->answer(s.image, qa.question, VqaOptions{}).answer == qa.answer;
        right += ok;
        rightByKind[qa.kind] += ok;
        ++asked;
        ++answersByKind[qa.kind][qa.answer];
      }
    }
    const double accuracy = double(right) / asked;
    QCOMPARE(accuracy, record.at("exact_match").get<double>());
    int majority = 0;
    for (const auto& [kind, answers] : answersByKind) {
      int most = 0;
      for (const auto& [answer, n] : answers) most = std::max(most, n);
      majority += most;
    }
    const double baseline = double(majority) / asked;  // always the most frequent answer of the question's kind
    QVERIFY2(accuracy > 0.9 && accuracy > baseline + 0.20, qPrintable(QStringLiteral("%1 vs majority %2").arg(accuracy).arg(baseline)));
    for (const auto& [kind, answers] : answersByKind) {
      int n = 0;
      for (const auto& [answer, count] : answers) n += count;
      const double kindAccuracy = double(rightByKind[kind]) / n;
      qInfo("%s questions: %d, answered right %.1f %%", kind.c_str(), n, 100.0 * kindAccuracy);
      QVERIFY2(kindAccuracy >= 0.85, kind.c_str());
    }
  }

  // Top-1 retrieval among the distinct captions of the held-out scenes (right when the retrieved
  // caption means the same), as recorded; chance is about one in the number of distinct captions.
  void clipHeldOutRetrievalIsAsRecorded() {
    const auto dir = dir_.parent_path() / "shapes-clip";
    const TrainShapesOptions o = readTrainingRecord(dir / "training.json");
    const auto record = nlohmann::json::parse(io::readFile(dir / "training.json"));
    const auto clip = SimilarityModel::load(dir.string());
    std::vector<shapes::Scene> scenes;
    std::vector<std::string> distinct;
    for (int i = 0; i < o.evalScenes; ++i) {
      scenes.push_back(shapes::generate(o.world, heldOutSeed(o.seed, i)));
      if (std::find(distinct.begin(), distinct.end(), scenes.back().caption) == distinct.end()) distinct.push_back(scenes.back().caption);
    }
    int right = 0;
    for (const auto& s : scenes) {
      const auto cosine = clip->score(s.image, distinct).cosine;
      right += shapes::sameMeaning(distinct[size_t(std::max_element(cosine.begin(), cosine.end()) - cosine.begin())], s.caption);
    }
    const double accuracy = double(right) / double(scenes.size());
    QCOMPARE(accuracy, record.at("retrieval_image_to_text").get<double>());
    QCOMPARE(record.at("distinct_captions").get<int>(), int(distinct.size()));
    QVERIFY2(accuracy > 20.0 / double(distinct.size()), qPrintable(QString::number(accuracy)));  // 20x chance
  }
};

QTEST_GUILESS_MAIN(TestBundledShapesModel)
#include "test_bundled_shapes_model.moc"
