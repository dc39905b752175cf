// VLM_TEST_LABELS: model
// The bundled shapes-world captioner (resources/models/shapes-blip-caption, trained by
// `vlmscope train-shapes`): it captions the bundled demo scene right, and on held-out scenes it
// scores what its training record (training.json, also in its model card) says, to the scene:
// the same 200 held-out seeds, captioned here through the app's own loading path.
#include "testing.h"

#include <nlohmann/json.hpp>

#include <fstream>
#include <sstream>

#include "io/files.h"
#include "pipeline/captioner.h"
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
    int exact = 0;
    for (int i = 0; i < o.evalScenes; ++i) {
      const shapes::Scene s = shapes::generate(o.world, heldOutSeed(o.seed, i));
      exact += captioner->caption(s.image, CaptionOptions{}).caption == s.caption;
    }
    const double accuracy = double(exact) / o.evalScenes;
    QCOMPARE(accuracy, record.at("exact_match").get<double>());
    QVERIFY2(accuracy > 0.5, qPrintable(QString::number(accuracy)));  // far above chance (1 in thousands of captions)
  }
};

QTEST_GUILESS_MAIN(TestBundledShapesModel)
#include "test_bundled_shapes_model.moc"
