// VLM_TEST_LABELS: model
// train-shapes (acceptance 1, first half): a short run trains the app's own BLIP / CLIP module
// classes on shapes-world scenes and the loss falls clearly within a few dozen steps; the saved
// folder is a checkpoint like any other (the captioner loads it, its tied word embeddings and
// LM head are equal, its config is the one asked for); the same seed gives the same losses;
// bad options are refused.
#include "testing.h"
#include "error_testing.h"

#include <QTemporaryDir>

#include <numeric>

#include "io/safetensors.h"
#include "pipeline/captioner.h"
#include "pipeline/similarity.h"
#include "text/clip_tokenizer.h"
#include "pipeline/vqa.h"
#include "pipeline/train_shapes.h"
#include "shapes/world.h"
#include "io/files.h"

#include <nlohmann/json.hpp>

using namespace vlm;

namespace {

double mean(const std::vector<double>& v, size_t from, size_t to) {
  return std::accumulate(v.begin() + long(from), v.begin() + long(to), 0.0) / double(to - from);
}

TrainShapesOptions quick() {
  TrainShapesOptions o;
  o.steps = 60;
  o.batch = 8;
  o.hiddenSize = 32;
  o.intermediateSize = 64;
  o.layers = 1;
  o.warmupSteps = 5;
  o.learningRate = 3e-3;
  o.evalScenes = 3;
  return o;
}

}  // namespace

class TestTrainShapes : public QObject {
  Q_OBJECT
  QTemporaryDir tmp_;

 private Q_SLOTS:
  void lossFallsAndTheFolderLoads() {
    const auto out = std::filesystem::path(tmp_.filePath(QStringLiteral("a")).toStdString());
    const TrainShapesReport r = trainShapes(quick(), out);
    QCOMPARE(r.losses.size(), size_t(60));
    // The first loss is that of a near-uniform guess over the trimmed vocabulary (+ [DEC], [ENC]).
    const double vocabulary = double(shapes::vocabulary().size() + 5 + 2);
    QVERIFY2(std::abs(r.losses[0] - std::log(vocabulary)) < 0.3, qPrintable(QString::number(r.losses[0])));
    const double first = mean(r.losses, 0, 5), last = mean(r.losses, 55, 60);
    QVERIFY2(last < 0.5 * first, qPrintable(QStringLiteral("%1 -> %2").arg(first).arg(last)));
    QCOMPARE(r.evalScenes, 3);
    // A checkpoint like any other: the captioner loads it and captions.
    const auto captioner = Captioner::load(out.string());
    QCOMPARE(captioner->visionLayers(), 1);
    QVERIFY(!captioner->caption(test::loadFixtureImage("astronaut.png"), CaptionOptions{}).caption.empty());
    // Tied, as transformers ties them: the LM head equals the word embeddings.
    const auto weights = io::SafetensorsFile::open(out / "model.safetensors");
    const at::Tensor emb = weights->tensor("text_decoder.bert.embeddings.word_embeddings.weight");
    const at::Tensor head = weights->tensor("text_decoder.cls.predictions.decoder.weight");
    QVERIFY(at::equal(emb, head));
    QVERIFY(std::filesystem::exists(out / "README.md"));
    QVERIFY(std::filesystem::exists(out / "preprocessor_config.json"));
    QVERIFY(std::filesystem::exists(out / "vocab.txt"));
  }

  // VQA: the question encoder and answer decoder learn (one question per scene and step, or
  // every question of each scene sharing its encoded image); the folder is a BLIP VQA
  // checkpoint the question answerer loads; training.json gives the options back.
  void vqaLossFallsAndTheFolderLoads_data() {
    QTest::addColumn<int>("questions");
    QTest::newRow("one per scene") << 1;
    QTest::newRow("all") << 0;
  }
  void vqaLossFallsAndTheFolderLoads() {
    QFETCH(int, questions);
    TrainShapesOptions o = quick();
    o.arch = "blip-vqa";
    o.evalScenes = 2;
    o.questionsPerScene = questions;
    const auto out = std::filesystem::path(tmp_.filePath(QStringLiteral("vqa%1").arg(questions)).toStdString());
    const TrainShapesReport r = trainShapes(o, out);
    const double first = mean(r.losses, 0, 5), last = mean(r.losses, 55, 60);
    QVERIFY2(last < 0.5 * first, qPrintable(QStringLiteral("%1 -> %2").arg(first).arg(last)));
    const auto vqa = QuestionAnswerer::load(out.string());
    QVERIFY(!vqa->answer(test::loadFixtureImage("astronaut.png"), "how many stars are there?", VqaOptions{}).ids.empty());
    const TrainShapesOptions back = readTrainingRecord(out / "training.json");
    QCOMPARE(back.questionsPerScene, questions);
    QCOMPARE(back.steps, o.steps);
    QCOMPARE(back.arch, o.arch);
  }

  // CLIP: the contrastive loss falls; the folder is a CLIP checkpoint the similarity model
  // loads; its trimmed tokenizer (byte symbols + the merges the world's words need) splits every
  // caption exactly as openai's full tokenizer does, and is far smaller.
  void clipLossFallsAndTheFolderLoads() {
    TrainShapesOptions o = quick();
    o.arch = "clip";
    o.batch = 16;
    o.steps = 100;
    o.learningRate = 1e-2;
    o.evalScenes = 20;
    const auto out = std::filesystem::path(tmp_.filePath(QStringLiteral("clip")).toStdString());
    const TrainShapesReport r = trainShapes(o, out);
    // First loss: near-uniform over the batch (ln 16 = 2.77), less the shared captions' share.
    QVERIFY2(r.losses[0] > 2.0 && r.losses[0] < std::log(16.0) + 0.3, qPrintable(QString::number(r.losses[0])));
    const double first = mean(r.losses, 0, 5), last = mean(r.losses, 95, 100);
    QVERIFY2(last < 0.75 * first, qPrintable(QStringLiteral("%1 -> %2").arg(first).arg(last)));
    QCOMPARE(r.evalScenes, 20);
    QVERIFY(r.distinctCaptions >= 10 && r.distinctCaptions <= 20);
    const auto clip = SimilarityModel::load(out.string());
    const shapes::Scene s = shapes::generate(o.world, 5);
    const auto scores = clip->score(s.image, {s.caption, "a green star"});
    QCOMPARE(scores.cosine.size(), size_t(2));
    const auto trimmed = text::ClipTokenizer::fromFolder(out);
    const auto full = text::ClipTokenizer::fromFolder(std::filesystem::path(VLM_SOURCE_DIR) / "resources" / "tokenizers" / "clip-vit-base-patch32");
    QVERIFY2(trimmed.vocabSize() < 1000, qPrintable(QString::number(trimmed.vocabSize())));
    for (uint64_t seed = 1000; seed < 1300; ++seed) {
      const std::string caption = shapes::generate(o.world, seed).caption;
      QCOMPARE(trimmed.tokenize(caption), full.tokenize(caption));
      // The same tokens, renumbered: decoding the trimmed ids gives the caption back.
      QCOMPARE(trimmed.decode(trimmed.encode(caption), true), caption);
    }
    // Any text still tokenizes (byte symbols), with no unknown token.
    for (int64_t id : trimmed.encode("a cat on a mat!", false)) QVERIFY(id != trimmed.unkId());
    const auto record = nlohmann::json::parse(io::readFile(out / "training.json"));
    QCOMPARE(record.at("arch").get<std::string>(), std::string("clip"));
    QCOMPARE(record.at("retrieval_image_to_text").get<double>(), r.retrievalImageToText);
  }

  void sameSeedSameLosses() {
    TrainShapesOptions o = quick();
    o.steps = 3;
    o.evalScenes = 0;
    const auto a = trainShapes(o, tmp_.filePath(QStringLiteral("b")).toStdString());
    const auto b = trainShapes(o, tmp_.filePath(QStringLiteral("c")).toStdString());
    QCOMPARE(a.losses, b.losses);
    o.seed = 1;
    const auto c = trainShapes(o, tmp_.filePath(QStringLiteral("d")).toStdString());
    QVERIFY(c.losses != a.losses);
  }

  void badOptions() {
    TrainShapesOptions o = quick();
    o.arch = "gpt";
    VLM_EXPECT_ERROR(trainShapes(o, tmp_.filePath(QStringLiteral("e")).toStdString()), ErrorCode::InvalidArgument, "--arch 'gpt'");
    o = quick();
    o.heads = 3;
    VLM_EXPECT_ERROR(trainShapes(o, tmp_.filePath(QStringLiteral("e")).toStdString()), ErrorCode::InvalidArgument, "multiple of the heads");
  }
};

QTEST_GUILESS_MAIN(TestTrainShapes)
#include "test_train_shapes.moc"
