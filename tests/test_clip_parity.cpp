// VLM_TEST_LABELS: model
// CLIP against the Hugging Face transformers references of the tiny fixture checkpoint
// (tests/data/clip-tiny): preprocessing, vision and text towers layer by layer, projections,
// embeddings, logits_per_image, and the gradients of a cosine similarity.
#include "testing.h"
#include "json_testing.h"
#include "model_table_testing.h"

#include <nlohmann/json.hpp>

#include <fstream>

#include "io/image.h"
#include "io/safetensors.h"
#include "io/state_dict.h"
#include "models/clip/clip_dump.h"
#include "models/clip/clip_model.h"
#include "vision/preprocess.h"
#include "vision/tensor.h"

using namespace vlm;
using namespace vlm::models;

namespace {



std::map<std::string, std::vector<int64_t>> specShapes(const std::vector<TensorSpec>& specs) {
  std::map<std::string, std::vector<int64_t>> out;
  for (const auto& s : specs) out[s.name] = s.shape;
  return out;
}

}  // namespace

class TestClipParity : public QObject {
  Q_OBJECT
  std::filesystem::path dir_ = test::dataPath("clip-tiny");
  LoadedClip loaded_;
  std::shared_ptr<io::SafetensorsFile> ref_;
  nlohmann::json json_;

 private Q_SLOTS:
  void initTestCase() {
    loaded_ = loadClip(dir_);
    ref_ = io::SafetensorsFile::open(dir_ / "reference.safetensors");
    json_ = test::readJsonFile(dir_ / "reference.json");
    QVERIFY(loaded_.report.unusedKeys.empty());
    QVERIFY(loaded_.report.substitutions.empty());
  }

  // The hand-written key table is exactly the checkpoint's keys and shapes, and exactly the
  // module tree's parameters, here and for other configurations.
  void keyTable() {
    const auto table = specShapes(clipCheckpointTensors(loaded_.model->config));
    std::map<std::string, std::vector<int64_t>> stored;
    const io::StateDict weights = io::StateDict::loadFolder(dir_);
    for (const auto& name : weights.names()) stored[name] = weights.get(name).sizes().vec();
    QCOMPARE(table, stored);
    QCOMPARE(test::moduleTableMismatch(*loaded_.model, clipCheckpointTensors(loaded_.model->config)), std::string());
    ClipConfig other;  // transformers defaults = clip-vit-base-patch32's architecture
    other.vision.numHiddenLayers = 3;
    other.text.numHiddenLayers = 1;
    other.vision.patchSize = 16;
    other.projectionDim = 64;
    QCOMPARE(test::moduleTableMismatch(*ClipModel(other), clipCheckpointTensors(other)), std::string());
    QCOMPARE(int(specShapes(clipCheckpointTensors(other)).size()), 2 + 3 * 16 + 1 * 16 + 2 + 5 + 2 + 3);
  }

  void pixelValues_data() {
    QTest::addColumn<QString>("image");
    for (auto it = json_["images"].begin(); it != json_["images"].end(); ++it)
      QTest::newRow(it.key().c_str()) << QString::fromStdString(it.key());
  }
  void pixelValues() {
    QFETCH(QString, image);
    const auto processor = vision::parseImageProcessorConfig(dir_ / "preprocessor_config.json");
    QVERIFY(processor.kind == vision::ImageProcessorConfig::Kind::Clip);
    io::ImageLoadOptions load;
    load.applyExifOrientation = false;  // the fixtures open images with PIL.Image.open (no EXIF transpose)
    const at::Tensor pixels = vision::pixelValuesTensor(
        vision::preprocess(io::loadImage(test::dataPath("images") / image.toStdString(), load), processor));
    VLM_COMPARE_TENSORS(pixels[0], ref_->tensor(test::fileStem(image.toStdString()) + "/pixel_values"), 0, 0, "pixel_values");
  }

  // Every reference tensor of every image through dumpClip (which runs the model the way the
  // CLI and the explainers do), the texts being the reference's input ids.
  void everyTensor_data() { pixelValues_data(); }
  void everyTensor() {
    QFETCH(QString, image);
    const std::string img = test::fileStem(image.toStdString());
    const int64_t gradText = json_["grad_text"].get<int64_t>();
    const NamedTensors dump = dumpClip(*loaded_.model, ref_->tensor(img + "/pixel_values").unsqueeze(0),
                                       ref_->tensor("text/input_ids"), ref_->tensor("text/attention_mask"), gradText);
    int compared = 0;
    for (const auto& [name, t] : dump) {
      const std::string shared = name.rfind("text/", 0) == 0 || name == "logit_scale" ? name : img + "/" + name;
      QVERIFY2(ref_->find(shared) != nullptr, ("no reference for " + shared).c_str());
      const at::Tensor expected = ref_->tensor(shared);
      if (name.rfind("grad/", 0) == 0 && name != "grad/cos")
        VLM_COMPARE_TENSORS(t, expected, 1e-4, 1e-3, shared);
      else
        VLM_COMPARE_TENSORS(t, expected, 1e-4, 0, shared);
      ++compared;
    }
    const int64_t lv = loaded_.model->config.vision.numHiddenLayers, lt = loaded_.model->config.text.numHiddenLayers;
    // pixels, vision hidden states, pooler, features, embeds; text ids, mask, hidden states,
    // last, pooler, features, embeds; logit scale, logits; cos, A/dcosdA per layer, d pixels
    QCOMPARE(compared, int(1 + (lv + 1) + 3 + 2 + (lt + 1) + 4 + 2 + 1 + 2 * lv + 1));
    // and the scalars of reference.json
    const auto& j = json_["images"][image.toStdString()];
    for (const auto& [name, t] : dump) {
      if (name == "grad/cos") QVERIFY(std::abs(t.item<double>() - j["cos"].get<double>()) < 1e-5);
      if (name == "logits_per_image")
        VLM_COMPARE_TENSORS(t, at::tensor(j["logits_per_image"].get<std::vector<float>>()), 1e-4, 0, "reference.json logits");
    }
  }

  // softmax over the texts sums to one and follows the logits' order; cosine = logits / scale.
  void scoresIdentities() {
    torch::NoGradGuard ng;
    auto& m = *loaded_.model;
    const at::Tensor img = l2Normalize(m.imageFeatures(ref_->tensor("astronaut/pixel_values").unsqueeze(0)));
    const at::Tensor txt = l2Normalize(m.textFeatures(ref_->tensor("text/input_ids"), ref_->tensor("text/attention_mask")));
    const ClipScores s = clipScores(img, txt, m.logitScaleExp());
    VLM_COMPARE_TENSORS(s.logitsPerImage / m.logitScaleExp(), s.cosine, 1e-6, 1e-6, "logits / scale");
    VLM_COMPARE_TENSORS(s.cosine, at::cosine_similarity(img, txt, -1).unsqueeze(0), 1e-6, 0, "cosine");
    QCOMPARE(s.logitsPerImage.sizes().vec(), (std::vector<int64_t>{1, 4}));
  }

  // The pooled token: argmax(ids) for the legacy eos_token_id 2, the first eos otherwise.
  void poolingRule() {
    ClipTextConfig c;
    c.hiddenSize = 8;
    c.numAttentionHeads = 2;
    c.intermediateSize = 8;
    c.numHiddenLayers = 1;
    const at::Tensor ids = at::tensor({49406, 7, 49407, 49407, 5, 5, 320, 49406, 9, 9}, at::kLong).view({2, 5});
    c.eosTokenId = 2;
    VLM_COMPARE_TENSORS(ClipTextTransformer(c)->pooledPositions(ids).to(at::kLong), at::tensor({2, 2}, at::kLong), 0, 0, "legacy argmax");
    c.eosTokenId = 49407;
    VLM_COMPARE_TENSORS(ClipTextTransformer(c)->pooledPositions(ids).to(at::kLong), at::tensor({2, 0}, at::kLong), 0, 0, "first eos");
    c.eosTokenId = 9;
    VLM_COMPARE_TENSORS(ClipTextTransformer(c)->pooledPositions(ids).to(at::kLong), at::tensor({0, 3}, at::kLong), 0, 0, "first eos 9");
  }

  // Padding does not change a text's features (the causal and padding masks hide it).
  void paddingInvariance() {
    torch::NoGradGuard ng;
    auto& m = *loaded_.model;
    const at::Tensor ids = ref_->tensor("text/input_ids"), mask = ref_->tensor("text/attention_mask");
    const int64_t len = mask[0].sum().item<int64_t>();
    const at::Tensor alone = m.textFeatures(ids[0].slice(0, 0, len).unsqueeze(0), at::Tensor());
    VLM_COMPARE_TENSORS(alone[0], ref_->tensor("text/text_features")[0], 1e-5, 0, "unpadded text 0");
  }
};

QTEST_GUILESS_MAIN(TestClipParity)
#include "test_clip_parity.moc"
