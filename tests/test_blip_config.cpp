// VLM_TEST_LABELS: fast
// BLIP config.json parsing: transformers' defaults for absent keys, values read when present,
// clear errors for configs the model code cannot run.
#include "testing.h"

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "models/blip/blip_config.h"

using namespace vlm;
using namespace vlm::models;
using nlohmann::json;

class TestBlipConfig : public QObject {
  Q_OBJECT

  // The error's code, or Cancelled as a "no error" marker; errors must name the file.
  static ErrorCode errorOf(const json& j) {
    try {
      parseBlipConfig(j, "config.json");
    } catch (const Error& e) {
      if (std::string(e.what()).find("config.json") == std::string::npos) return ErrorCode::Io;
      return e.code();
    }
    return ErrorCode::Cancelled;
  }

 private Q_SLOTS:
  void emptyConfigIsTransformersDefaults() {
    // transformers 4.43 BlipVisionConfig() / BlipTextConfig() defaults, written out by hand
    const BlipConfig c = parseBlipConfig(json::object(), "config.json");
    QCOMPARE(c.vision.hiddenSize, 768);
    QCOMPARE(c.vision.intermediateSize, 3072);
    QCOMPARE(c.vision.numHiddenLayers, 12);
    QCOMPARE(c.vision.numAttentionHeads, 12);
    QCOMPARE(c.vision.imageSize, 384);
    QCOMPARE(c.vision.patchSize, 16);
    QCOMPARE(c.vision.layerNormEps, 1e-5);
    QCOMPARE(c.vision.hiddenAct, std::string("gelu"));
    QCOMPARE(c.text.vocabSize, 30524);
    QCOMPARE(c.text.hiddenSize, 768);
    QCOMPARE(c.text.encoderHiddenSize, 768);
    QCOMPARE(c.text.numAttentionHeads, 8);
    QCOMPARE(c.text.numHiddenLayers, 12);
    QCOMPARE(c.text.maxPositionEmbeddings, 512);
    QCOMPARE(c.text.layerNormEps, 1e-12);
    QCOMPARE(c.text.bosTokenId, 30522);
    QCOMPARE(c.text.sepTokenId, 102);
    QCOMPARE(c.text.padTokenId, 0);
    QCOMPARE(c.text.eosTokenId, 2);
  }

  void fixtureConfigMixesStoredAndDefault() {
    const BlipConfig c = loadBlipConfig(test::dataPath("blip-caption-tiny/config.json"));
    QCOMPARE(c.architecture, std::string("BlipForConditionalGeneration"));
    QCOMPARE(c.vision.hiddenSize, 32);
    QCOMPARE(c.vision.imageSize, 64);
    QCOMPARE(c.vision.patchSize, 16);  // absent from the file: default
    QCOMPARE(c.vision.numPatches(), 16);
    QCOMPARE(c.text.intermediateSize, 37);
    QCOMPARE(c.text.maxPositionEmbeddings, 64);
    QCOMPARE(c.text.vocabSize, 30524);  // absent: default
    QCOMPARE(c.text.layerNormEps, 1e-12);
    QCOMPARE(c.projectionDim, 16);
  }

  void roundTripsThroughJson() {
    BlipConfig c;
    c.vision.hiddenSize = 48;
    c.vision.numAttentionHeads = 3;
    c.vision.imageSize = 96;
    c.vision.patchSize = 32;
    c.text.hiddenSize = 40;
    c.text.numAttentionHeads = 5;
    c.text.hiddenAct = "gelu_new";
    const BlipConfig d = parseBlipConfig(blipConfigToJson(c), "x");
    QCOMPARE(d.vision.hiddenSize, 48);
    QCOMPARE(d.vision.gridSize(), 3);
    QCOMPARE(d.text.headDim(), 8);
    QCOMPARE(d.text.hiddenAct, std::string("gelu_new"));
  }

  void rejectsWhatTheModelCannotRun() {
    QCOMPARE(errorOf({{"model_type", "clip"}}), ErrorCode::Unsupported);
    QCOMPARE(errorOf({{"vision_config", {{"hidden_size", 100}, {"num_attention_heads", 12}}}}), ErrorCode::Corrupt);
    QCOMPARE(errorOf({{"vision_config", {{"image_size", 100}}}}), ErrorCode::Corrupt);  // not a multiple of 16
    QCOMPARE(errorOf({{"text_config", {{"hidden_act", "mish2"}}}}), ErrorCode::Unsupported);
    QCOMPARE(errorOf({{"text_config", {{"num_hidden_layers", "twelve"}}}}), ErrorCode::Corrupt);
    QCOMPARE(errorOf({{"text_config", {{"vocab_size", 0}}}}), ErrorCode::Corrupt);
    QCOMPARE(errorOf({{"text_config", {{"position_embedding_type", "relative_key"}}}}), ErrorCode::Unsupported);
    QCOMPARE(errorOf(json::array()), ErrorCode::Corrupt);
  }
};

QTEST_GUILESS_MAIN(TestBlipConfig)
#include "test_blip_config.moc"
