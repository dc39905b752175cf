// VLM_TEST_LABELS: model
// `vlmscope shap` end to end on the tiny fixtures: the files written (values.npy equal to the
// JSON's values and to the core API's, stderrs, feature masks covering the input, PNGs of the
// image's size, bar charts, the interaction network), rectangle features from a JSON file, and
// clean failures for bad input.
#include "testing.h"
#include "cli_helpers.h"
#include "json_testing.h"

#include <nlohmann/json.hpp>

#include <unistd.h>

#include "io/files.h"
#include "io/image.h"
#include "io/npy.h"
#include "pipeline/captioner.h"
#include "pipeline/shap.h"
#include "render/colormap.h"

using namespace vlm;
using namespace vlm::test;
using nlohmann::json;

class TestCliShap : public QObject {
  Q_OBJECT
  std::filesystem::path tmp_;
  const QString caption_ = qs(dataPath("blip-caption-tiny"));
  const QString vqa_ = qs(dataPath("blip-vqa-tiny"));
  const QString clip_ = qs(dataPath("clip-tiny"));
  const QString image_ = qs(dataPath("images/chelsea.png"));

  json shapJson(const QString& model, const QStringList& extra, const std::string& outName) {
    const QStringList args{"shap", "--model", model, "--image", image_, "--ignore-exif", "--out", qs(tmp_ / outName), "--json"};
    return runCliJson(args + extra);
  }

 private Q_SLOTS:
  void initTestCase() {
    tmp_ = std::filesystem::temp_directory_path() / ("vlm_cli_shap_" + std::to_string(::getpid()));
    std::filesystem::create_directories(tmp_);
  }
  void cleanupTestCase() { std::filesystem::remove_all(tmp_); }

  void exactGridFiles() {
    const json j = shapJson(caption_, {"--features", "grid:2x2", "--estimator", "exact"}, "exact");
    const json& s = j["shapley"];
    const int f = s["features"]["count"].get<int>();
    QCOMPARE(f, 4);
    const int k = int(s["outputs"].size());
    QCOMPARE(size_t(k), j["target"]["ids"].size() - 1);
    const std::filesystem::path dir = tmp_ / "exact";
    const io::NpyArray values = io::readNpy(dir / "values.npy");
    QCOMPARE(values.shape, (std::vector<int64_t>{f, k}));
    for (int o = 0; o < k; ++o) {
      const auto v = s["outputs"][size_t(o)]["values"].get<std::vector<double>>();
      double sum = 0;
      for (int i = 0; i < f; ++i) {
        QVERIFY(std::abs(values.data[size_t(i * k + o)] - v[size_t(i)]) < 1e-6);
        sum += v[size_t(i)];
      }
      const auto& out = s["outputs"][size_t(o)];
      QVERIFY(std::abs(sum - (out["v_full"].get<double>() - out["v_empty"].get<double>())) < 1e-6);
      QVERIFY(std::filesystem::exists(dir / s["files"]["bar_charts"][size_t(o)].get<std::string>()));
    }
    // The same values as the core API.
    io::ImageLoadOptions lo;
    lo.applyExifOrientation = false;
    const io::ImageU8 image = io::loadImage(dataPath("images/chelsea.png"), lo);
    ShapOptions so;
    so.features = "grid:2x2";
    so.estimator = ShapEstimator::Exact;
    const ShapResult core = shapCaption(*Captioner::load(dataPath("blip-caption-tiny").string()), image, so);
    for (size_t i = 0; i < core.values.size(); ++i) QVERIFY(std::abs(core.values[i] - values.data[i]) < 1e-5);
    // Feature masks: 4 x S x S, every input pixel in exactly one cell.
    const io::NpyArray masks = io::readNpy(dir / "feature_masks.npy");
    QCOMPARE(masks.shape.size(), size_t(3));
    QCOMPARE(masks.shape[0], int64_t(4));
    const int64_t plane = masks.shape[1] * masks.shape[2];
    for (int64_t px = 0; px < plane; ++px) {
      float n = 0;
      for (int i = 0; i < 4; ++i) n += masks.data[size_t(i * plane + px)];
      QCOMPARE(n, 1.f);
    }
    const io::ImageU8 features = io::loadImage(dir / "features.png");
    QCOMPARE(features.width, image.width);
    QCOMPARE(features.height, image.height);
    QVERIFY(std::filesystem::exists(dir / "explanation.json"));
    QCOMPARE(j["shapley"]["evaluations"].get<int>(), 16);
  }

  // Rectangles from a file (original-image pixels), the interactions estimator and its network
  // plot, the VQA answer.
  void rectsInteractionsVqa() {
    const std::filesystem::path rects = tmp_ / "rects.json";
    io::writeFileAtomic(rects, R"({"rects": [[0, 0, 200, 150], {"x": 150, "y": 100, "width": 200, "height": 150}, [300, 0, 151, 300]]})");
    const json j = shapJson(vqa_, {"--question", "what is this?", "--features", qs("rects:" + rects.string()), "--estimator", "interactions"}, "rects");
    const json& s = j["shapley"];
    QCOMPARE(s["features"]["count"].get<int>(), 3);
    QCOMPARE(s["value"].get<std::string>(), std::string("answer"));
    QVERIFY(s["exact"].get<bool>());
    const auto m = s["outputs"][0]["interactions"].get<std::vector<std::vector<double>>>();
    QCOMPARE(m.size(), size_t(3));
    QCOMPARE(m[0][1], m[1][0]);
    // 2-SII efficiency: sum of the main terms + sum of the pairs = v(all) - v(none).
    const auto single = s["outputs"][0]["ksii_single"].get<std::vector<double>>();
    const double total = single[0] + single[1] + single[2] + m[0][1] + m[0][2] + m[1][2];
    QVERIFY(std::abs(total - (s["outputs"][0]["v_full"].get<double>() - s["outputs"][0]["v_empty"].get<double>())) < 1e-6);
    QVERIFY(std::filesystem::exists(tmp_ / "rects" / s["files"]["networks"][0].get<std::string>()));
  }

  void kernelClip() {
    const json j = shapJson(clip_, {"--text", "a cat", "--features", "grid", "--evals", "60", "--seed", "3"}, "clip");
    const json& s = j["shapley"];
    QCOMPARE(s["features"]["count"].get<int>(), 4 * 4);  // CLIP fixture: 4x4 patch grid
    QVERIFY(s["evaluations"].get<int>() <= 60);
    const auto se = s["outputs"][0]["stderrs"].get<std::vector<double>>();
    QVERIFY(*std::max_element(se.begin(), se.end()) > 0);  // sampled: a real error estimate
  }

  // metrics on an `explain --all-tokens` folder: one entry per token, the deletion curve starts
  // at the explained log-probability, the ground-truth scores are there, metrics.json written.
  void metricsOnExplanation() {
    const std::filesystem::path dir = tmp_ / "explained";
    const json ej = runCliJson({"explain", "--model", caption_, "--image", image_, "--ignore-exif", "--all-tokens", "--out", qs(dir), "--json"});
    io::ImageLoadOptions lo;
    lo.applyExifOrientation = false;
    const io::ImageU8 image = io::loadImage(dataPath("images/chelsea.png"), lo);
    io::ImageU8 gt = image;
    for (int y = 0; y < gt.height; ++y)
      for (int x = 0; x < gt.width; ++x)
        for (int c = 0; c < 3; ++c) gt.pixel(x, y)[c] = (x < gt.width / 2) ? 255 : 0;
    render::writePng(tmp_ / "gt.png", gt);
    const json mj = runCliJson({"metrics", "--model", caption_, "--image", image_, "--ignore-exif", "--from", qs(dir), "--gt",
                                qs(tmp_ / "gt.png"), "--features", "grid:2x2", "--json"});
    QCOMPARE(mj["maps"].size(), ej["maps"].size());
    for (size_t i = 0; i < ej["maps"].size(); ++i) {
      const auto& mm = mj["maps"][i];
      QVERIFY(std::abs(mm["deletion"]["value"][0].get<double>() - ej["maps"][i]["y"].get<double>()) < 1e-4);
      QCOMPARE(mm["deletion"]["value"].size(), size_t(5));
      QVERIFY(mm.contains("pointing_hit"));
      const double mass = mm["relevance_mass"].get<double>();
      QVERIFY(mass >= 0 && mass <= 1);
    }
    QVERIFY(std::filesystem::exists(dir / "metrics.json"));
    VLM_EXPECT_CLEAN_FAILURE((QStringList{"metrics", "--model", vqa_, "--image", image_, "--from", qs(dir)}), 2, "blip-caption", "VQA");
    VLM_EXPECT_CLEAN_FAILURE((QStringList{"metrics", "--model", caption_, "--image", image_, "--from", qs(tmp_ / "nothing")}), 1, "explanation.json");
  }

  // batch: shards split the folder, a second run skips what is done, a broken image fails
  // alone (exit 1, error.json) and the CSV has a row per token and method of the good ones.
  void batchShardsResume() {
    const std::filesystem::path images = tmp_ / "images", out = tmp_ / "batch";
    std::filesystem::create_directories(images);
    for (const char* n : {"astronaut.png", "chelsea.png", "coffee.png"}) std::filesystem::copy_file(dataPath(std::string("images/") + n), images / n);
    const QStringList base{"batch", "--model", caption_, "--images", qs(images), "--out", qs(out), "--methods", "gradcam,kernel",
                           "--features", "grid:2x2", "--evals", "20", "--metrics", "--json"};
    CliResult r = runCli(base + QStringList{"--shard", "0/2"});
    if (r.exitCode != 0) qWarning("%s", r.err.c_str());
    QCOMPARE(r.exitCode, 0);
    json j = json::parse(r.out);
    QCOMPARE(j["images"].get<int>(), 2);  // astronaut, coffee
    QCOMPARE(j["done"].get<int>(), 4);
    QVERIFY(std::filesystem::exists(out / "astronaut" / "kernel" / "done.json"));
    QVERIFY(std::filesystem::exists(out / "coffee" / "gradcam" / "metrics.json"));
    QVERIFY(!std::filesystem::exists(out / "chelsea"));
    const std::string csv = io::readFile(out / "summary-0-of-2.csv");
    QVERIFY(csv.rfind("image,method,label,token,position,y,deletion_auc,insertion_auc,seconds\n", 0) == 0);
    QVERIFY(csv.find("coffee.png,kernel,") != std::string::npos);
    r = runCli(base + QStringList{"--shard", "0/2"});
    j = json::parse(r.out);
    QCOMPARE(j["done"].get<int>(), 0);
    QCOMPARE(j["skipped"].get<int>(), 4);
    QCOMPARE(io::readFile(out / "summary-0-of-2.csv"), csv);  // the same summary from the done files
    io::writeFileAtomic(images / "broken.png", "not a png");
    // Sorted: astronaut, broken, chelsea, coffee; shard 1/2 = broken (fails) and coffee (done).
    r = runCli(base + QStringList{"--shard", "1/2"});
    QCOMPARE(r.exitCode, 1);
    j = json::parse(r.out);
    QCOMPARE(j["failed"].get<int>(), 2);  // broken.png x 2 methods
    QCOMPARE(j["skipped"].get<int>(), 2);
    QVERIFY(std::filesystem::exists(out / "broken" / "gradcam" / "error.json"));
    QVERIFY(std::filesystem::exists(out / "coffee" / "kernel" / "done.json"));
    VLM_EXPECT_CLEAN_FAILURE((QStringList{"batch", "--model", caption_, "--images", qs(images), "--out", qs(out), "--shard", "2/2"}), 2, "--shard");
    VLM_EXPECT_CLEAN_FAILURE((QStringList{"batch", "--model", caption_, "--images", qs(images), "--out", qs(out), "--methods", "gradcam,nope"}), 1, "nope");
  }

  void badInput() {
    const QStringList base{"shap", "--model", caption_, "--image", image_, "--out", qs(tmp_ / "bad")};
    VLM_EXPECT_CLEAN_FAILURE((base + QStringList{"--features", "hexagons:4"}), 1, "hexagons");
    VLM_EXPECT_CLEAN_FAILURE((base + QStringList{"--estimator", "magic"}), 2, "--estimator");
    VLM_EXPECT_CLEAN_FAILURE((base + QStringList{"--estimator", "owen", "--features", "grid:2x2"}), 1, "partition");
    VLM_EXPECT_CLEAN_FAILURE((base + QStringList{"--features", "slic:5", "--masker", "patch"}), 1, "cut through patches");
    VLM_EXPECT_CLEAN_FAILURE((base + QStringList{"--estimator", "exact", "--features", "grid:5x5"}), 1, "25");
    VLM_EXPECT_CLEAN_FAILURE((base + QStringList{"--value", "clip"}), 1, "clip");
    VLM_EXPECT_CLEAN_FAILURE((base + QStringList{"--features", qs("rects:" + (tmp_ / "missing.json").string())}), 1, "missing.json");
  }
};

QTEST_GUILESS_MAIN(TestCliShap)
#include "test_cli_shap.moc"
