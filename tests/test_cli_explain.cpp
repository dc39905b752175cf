// VLM_TEST_LABELS: model
// `vlmscope explain`, `mask` and `video` end to end on the tiny fixtures: the files written
// (.npy maps equal to the core API's, overlay PNGs of the image's size, the JSON sidecar with
// the image's SHA-256), --all-tokens == --token K, the MP4 read back by ffprobe with the
// expected frame count and size, mask-and-regenerate JSON, and clear errors for bad input.
#include "testing.h"
#include "cli_helpers.h"
#include "json_testing.h"

#include <nlohmann/json.hpp>

#include <unistd.h>

#include "io/files.h"
#include "io/image.h"
#include "io/npy.h"
#include "io/sha256.h"
#include "pipeline/captioner.h"
#include "pipeline/explainer.h"

using namespace vlm;
using namespace vlm::test;
using nlohmann::json;

class TestCliExplain : public QObject {
  Q_OBJECT
  std::filesystem::path tmp_;
  const QString caption_ = qs(dataPath("blip-caption-tiny"));
  const QString vqa_ = qs(dataPath("blip-vqa-tiny"));
  const QString clip_ = qs(dataPath("clip-tiny"));
  const QString image_ = qs(dataPath("images/chelsea.png"));

  json explainJson(const QStringList& extra, const std::string& outName) {
    const QStringList args{"explain", "--model", caption_, "--image", image_, "--ignore-exif", "--out", qs(tmp_ / outName), "--json"};
    return runCliJson(args + extra);
  }

 private Q_SLOTS:
  void initTestCase() {
    tmp_ = std::filesystem::temp_directory_path() / ("vlm_cli_explain_" + std::to_string(::getpid()));
    std::filesystem::create_directories(tmp_);
  }
  void cleanupTestCase() { std::filesystem::remove_all(tmp_); }

  // The .npy of every token from --all-tokens equals the one from --token K (acceptance 5 at the
  // CLI), equals the core API's map, and the PNG overlay has the image's size.
  void allTokensFiles() {
    const json all = explainJson({"--all-tokens", "--layer", "0"}, "all");
    const auto ids = all["target"]["ids"].get<std::vector<int64_t>>();
    QCOMPARE(all["maps"].size(), ids.size() - 1);
    const std::string bytes = io::readFile(dataPath("images/chelsea.png"));
    QCOMPARE(all["image_sha256"].get<std::string>(), io::sha256Hex({reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()}));
    QCOMPARE(all["layer"].get<std::string>(), std::string("vision layer 0"));
    QCOMPARE(all["parameters"]["scope"].get<std::string>(), std::string("all-tokens"));
    io::ImageLoadOptions lo;
    lo.applyExifOrientation = false;
    const io::ImageU8 image = io::loadImage(dataPath("images/chelsea.png"), lo);
    const auto captioner = Captioner::load(dataPath("blip-caption-tiny").string());
    ExplainOptions eo;
    eo.scope = TokenScope::All;
    eo.layer = 0;
    const ExplainResult core = explainCaption(*captioner, image, eo);
    for (int k : {1, 3}) {
      const json one = explainJson({"--token", QString::number(k), "--layer", "0"}, "one" + std::to_string(k));
      const auto& ma = all["maps"][size_t(k - 1)];
      const auto& mo = one["maps"][0];
      QCOMPARE(ma["npy"].get<std::string>(), mo["npy"].get<std::string>());
      const io::NpyArray a = io::readNpy(tmp_ / "all" / ma["npy"].get<std::string>());
      const io::NpyArray o = io::readNpy(tmp_ / ("one" + std::to_string(k)) / mo["npy"].get<std::string>());
      QCOMPARE(a.shape, (std::vector<int64_t>{4, 4}));
      QCOMPARE(a.shape, o.shape);
      for (size_t i = 0; i < a.data.size(); ++i) {
        QVERIFY(std::abs(a.data[i] - o.data[i]) <= 1e-6f);
        QVERIFY(std::abs(a.data[i] - core.maps[size_t(k - 1)].raw[i]) <= 1e-6f);
      }
      QVERIFY(std::abs(ma["y"].get<double>() - mo["y"].get<double>()) < 1e-6);
      const io::ImageU8 png = io::loadImage(tmp_ / "all" / ma["png"].get<std::string>());
      QCOMPARE(png.width, image.width);
      QCOMPARE(png.height, image.height);
    }
  }

  // IG through the CLI reports F(x), F(x'), and a delta that is their completeness gap.
  void integratedGradients() {
    const json j = explainJson({"--method", "ig", "--token", "2", "--steps", "64", "--baseline", "mean"}, "ig");
    const auto& m = j["maps"][0];
    QCOMPARE(m["side"].get<int>(), 64);
    const io::NpyArray a = io::readNpy(tmp_ / "ig" / m["npy"].get<std::string>());
    double sum = 0;
    for (float v : a.data) sum += v;
    const double gap = m["f_input"].get<double>() - m["f_baseline"].get<double>();
    QVERIFY(std::abs(sum - gap - m["convergence_delta"].get<double>()) < 1e-4);
    QVERIFY(std::abs(m["convergence_delta"].get<double>()) < 0.05 * std::abs(gap) + 1e-4);
    QCOMPARE(j["parameters"]["baseline"].get<std::string>(), std::string("mean"));

    // VQA on the question tokens: one score per question token, [CLS] and [SEP] 0.
    const CliResult r = runCli({"explain", "--model", vqa_, "--image", image_, "--question", "what is in the picture?", "--method", "ig",
                                "--on-question", "--answer", "--out", qs(tmp_ / "igq"), "--json"});
    QCOMPARE(r.exitCode, 0);
    const json q = json::parse(r.out);
    const auto scores = q["maps"][0]["question_scores"].get<std::vector<float>>();
    QCOMPARE(scores.size(), q["target"]["question_tokens"].size());
    QCOMPARE(scores.front(), 0.f);
    QCOMPARE(scores.back(), 0.f);
    QCOMPARE(io::readNpy(tmp_ / "igq" / q["maps"][0]["npy"].get<std::string>()).shape, (std::vector<int64_t>{int64_t(scores.size())}));

    // CLIP similarity with cross-attention is refused; Grad-CAM works.
    const CliResult c = runCli({"explain", "--model", clip_, "--image", image_, "--text", "a cat", "--out", qs(tmp_ / "clip"), "--json"});
    QCOMPARE(c.exitCode, 0);
    QCOMPARE(json::parse(c.out)["maps"][0]["label"].get<std::string>(), std::string("cosine"));
  }

  // Acceptance 4: the MP4 has (L + 1) * frames-per-layer frames of the reported size.
  void video() {
    const auto out = tmp_ / "layers.mp4";
    const CliResult r = runCli({"video", "--model", caption_, "--image", image_, "--token", "2", "--out", qs(out), "--frames-per-layer", "3",
                                "--frames-dir", qs(tmp_ / "frames"), "--json"});
    QVERIFY2(r.exitCode == 0, r.err.c_str());
    const json j = json::parse(r.out);
    const int layers = test::readJsonFile(dataPath("blip-caption-tiny/config.json"))["vision_config"]["num_hidden_layers"].get<int>() + 1;
    QCOMPARE(j["frames"].get<int>(), layers * 3);
    QProcess probe;
    probe.start("ffprobe", {"-v", "error", "-count_frames", "-select_streams", "v:0", "-show_entries", "stream=codec_name,width,height,nb_read_frames",
                            "-of", "json", qs(out)});
    if (!probe.waitForStarted()) QSKIP("ffprobe is not installed (packaging/deps.sh installs ffmpeg)");
    probe.waitForFinished();
    const json p = json::parse(probe.readAllStandardOutput().toStdString())["streams"][0];
    QCOMPARE(std::stoi(p["nb_read_frames"].get<std::string>()), layers * 3);
    QCOMPARE(p["width"].get<int>(), j["width"].get<int>());
    QCOMPARE(p["height"].get<int>(), j["height"].get<int>());
    QCOMPARE(p["codec_name"].get<std::string>(), std::string(j["codec"] == "libx264" ? "h264" : "mpeg4"));
    int pngs = 0;
    for (const auto& e : std::filesystem::directory_iterator(tmp_ / "frames")) pngs += e.path().extension() == ".png";
    QCOMPARE(pngs, layers * 3);
    // No partial file is left when the output folder does not exist.
    VLM_EXPECT_CLEAN_FAILURE((QStringList{"video", "--model", caption_, "--image", image_, "--token", "2", "--out", qs(tmp_ / "no" / "v.mp4")}), 1,
                             "cannot create", "no");
  }

  void mask() {
    const CliResult r = runCli({"mask", "--model", caption_, "--image", image_, "--rect", "100,50,150,120", "--masker", "patch", "--clip", clip_,
                                "--save-masked", qs(tmp_ / "masked.png"), "--json"});
    QVERIFY2(r.exitCode == 0, r.err.c_str());
    const json j = json::parse(r.out);
    QVERIFY(!j["removed_patches"].empty());
    QVERIFY(j.contains("clip"));
    QVERIFY(std::abs(j["log_prob_change"].get<double>() - (j["log_prob_masked"].get<double>() - j["log_prob_original"].get<double>())) < 1e-9);
    QCOMPARE(j["rects"][0], json({100, 50, 150, 120}));
    QVERIFY(std::filesystem::exists(tmp_ / "masked.png"));
    // Auto-mask: the top 25 % of 16 patches = 4 rectangles.
    const CliResult a = runCli({"mask", "--model", caption_, "--image", image_, "--auto-top", "25", "--token", "2", "--json"});
    QVERIFY2(a.exitCode == 0, a.err.c_str());
    QCOMPARE(json::parse(a.out)["rects"].size(), size_t(4));
    // VQA
    const CliResult v = runCli({"mask", "--model", vqa_, "--image", image_, "--question", "what is this?", "--rect", "0,0,200,200", "--masker", "blur", "--json"});
    QVERIFY2(v.exitCode == 0, v.err.c_str());
    QVERIFY(json::parse(v.out).contains("masked"));
  }

  // Acceptance 6: each a one-line error, exit code 1 (bad values) or 2 (usage).
  void badInput() {
    const QStringList base{"explain", "--model", caption_, "--image", image_, "--out", qs(tmp_ / "bad")};
    VLM_EXPECT_CLEAN_FAILURE((base + QStringList{"--layer", "7"}), 1, "vision layer 7", "0..1");
    VLM_EXPECT_CLEAN_FAILURE((base + QStringList{"--method", "xattn", "--layer", "9"}), 1, "text layer 9");
    VLM_EXPECT_CLEAN_FAILURE((base + QStringList{"--token", "99"}), 1, "token 99", "outside");
    VLM_EXPECT_CLEAN_FAILURE((base + QStringList{"--token", "0"}), 1, "token 0");
    VLM_EXPECT_CLEAN_FAILURE((base + QStringList{"--method", "magic"}), 2, "--method");
    VLM_EXPECT_CLEAN_FAILURE((base + QStringList{"--layer", "top"}), 2, "--layer");
    VLM_EXPECT_CLEAN_FAILURE((base + QStringList{"--token", "2", "--all-tokens"}), 2, "one of");
    // An output path that cannot be a folder (a file is in the way).
    io::writeFileAtomic(tmp_ / "afile", "x");
    VLM_EXPECT_CLEAN_FAILURE((QStringList{"explain", "--model", caption_, "--image", image_, "--out", qs(tmp_ / "afile" / "sub")}), 1,
                             "cannot create the output folder");
    const QStringList m{"mask", "--model", caption_, "--image", image_};
    VLM_EXPECT_CLEAN_FAILURE((m + QStringList{"--rect", "10,10,0,5"}), 1, "rectangle 1", "empty");
    VLM_EXPECT_CLEAN_FAILURE((m + QStringList{"--rect", "5000,10,20,20"}), 1, "outside the 451 x 300 image");
    VLM_EXPECT_CLEAN_FAILURE((m + QStringList{"--rect", "1,2,3"}), 2, "x,y,w,h");
    VLM_EXPECT_CLEAN_FAILURE(m, 2, "--rect");
    VLM_EXPECT_CLEAN_FAILURE((m + QStringList{"--rect", "1,2,3,4", "--masker", "smudge"}), 2, "--masker");
    VLM_EXPECT_CLEAN_FAILURE((QStringList{"video", "--model", caption_, "--image", image_, "--token", "2", "--out", qs(tmp_ / "v.avi")}), 2, ".mp4");
    VLM_EXPECT_CLEAN_FAILURE((QStringList{"video", "--model", caption_, "--image", image_, "--token", "50", "--out", qs(tmp_ / "v.mp4")}), 1, "token 50");
    QVERIFY(!std::filesystem::exists(tmp_ / "v.mp4"));
    VLM_EXPECT_CLEAN_FAILURE((QStringList{"explain", "--model", clip_, "--image", image_, "--method", "xattn", "--text", "a cat", "--out",
                                          qs(tmp_ / "x")}),
                             1, "cross-attention");
  }
};

QTEST_GUILESS_MAIN(TestCliExplain)
#include "test_cli_explain.moc"
