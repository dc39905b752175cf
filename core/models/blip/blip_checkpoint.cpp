#include "models/blip/blip_checkpoint.h"

#include "common/error.h"

namespace vlm::models {

void appendBlipVisionTensors(std::vector<TensorSpec>& t, const BlipVisionConfig& v, const std::string& vp) {
  const int64_t C = v.hiddenSize, I = v.intermediateSize, P = v.patchSize, N = v.numPatches();
  t.push_back({vp + "embeddings.class_embedding", {1, 1, C}});
  t.push_back({vp + "embeddings.patch_embedding.weight", {C, 3, P, P}});
  t.push_back({vp + "embeddings.patch_embedding.bias", {C}});
  t.push_back({vp + "embeddings.position_embedding", {1, N + 1, C}});
  for (int64_t i = 0; i < v.numHiddenLayers; ++i) {
    const std::string l = vp + "encoder.layers." + std::to_string(i) + ".";
    t.push_back({l + "self_attn.qkv.weight", {3 * C, C}});
    t.push_back({l + "self_attn.qkv.bias", {3 * C}});
    t.push_back({l + "self_attn.projection.weight", {C, C}});
    t.push_back({l + "self_attn.projection.bias", {C}});
    appendVitLayerNormsAndMlp(t, l, C, I);
  }
  t.push_back({vp + "post_layernorm.weight", {C}});
  t.push_back({vp + "post_layernorm.bias", {C}});
}

void appendBlipTextTensors(std::vector<TensorSpec>& t, const BlipTextConfig& x, const std::string& tp) {
  const int64_t H = x.hiddenSize, E = x.encoderHiddenSize, F = x.intermediateSize, V = x.vocabSize;
  t.push_back({tp + "embeddings.word_embeddings.weight", {V, H}});
  t.push_back({tp + "embeddings.position_embeddings.weight", {x.maxPositionEmbeddings, H}});
  t.push_back({tp + "embeddings.LayerNorm.weight", {H}});
  t.push_back({tp + "embeddings.LayerNorm.bias", {H}});
  for (int64_t i = 0; i < x.numHiddenLayers; ++i) {
    const std::string l = tp + "encoder.layer." + std::to_string(i) + ".";
    for (const char* att : {"attention", "crossattention"}) {
      const int64_t in = std::string(att) == "attention" ? H : E;
      const std::string a = l + att + ".";
      t.push_back({a + "self.query.weight", {H, H}});
      t.push_back({a + "self.query.bias", {H}});
      t.push_back({a + "self.key.weight", {H, in}});
      t.push_back({a + "self.key.bias", {H}});
      t.push_back({a + "self.value.weight", {H, in}});
      t.push_back({a + "self.value.bias", {H}});
      t.push_back({a + "output.dense.weight", {H, H}});
      t.push_back({a + "output.dense.bias", {H}});
      t.push_back({a + "output.LayerNorm.weight", {H}});
      t.push_back({a + "output.LayerNorm.bias", {H}});
    }
    t.push_back({l + "intermediate.dense.weight", {F, H}});
    t.push_back({l + "intermediate.dense.bias", {F}});
    t.push_back({l + "output.dense.weight", {H, F}});
    t.push_back({l + "output.dense.bias", {H}});
    t.push_back({l + "output.LayerNorm.weight", {H}});
    t.push_back({l + "output.LayerNorm.bias", {H}});
  }
}

void appendBlipLmHeadTensors(std::vector<TensorSpec>& t, const BlipTextConfig& x, const std::string& hp) {
  const int64_t H = x.hiddenSize, V = x.vocabSize;
  t.push_back({hp + "bias", {V}});
  t.push_back({hp + "transform.dense.weight", {H, H}});
  t.push_back({hp + "transform.dense.bias", {H}});
  t.push_back({hp + "transform.LayerNorm.weight", {H}});
  t.push_back({hp + "transform.LayerNorm.bias", {H}});
  t.push_back({hp + "decoder.weight", {V, H}});
}

const WeightTable& blipTextDecoderWeightTable() {
  static const WeightTable table{
      {
          // transformers 4.43 stores the LM head's decoder weight; checkpoints that tie it to the
          // word embeddings omit it.
          {"text_decoder.cls.predictions.decoder.weight", {"text_decoder.bert.embeddings.word_embeddings.weight"}},
          // decoder.bias is the same parameter as predictions.bias; either name may be stored.
          {"text_decoder.cls.predictions.bias", {"text_decoder.cls.predictions.decoder.bias"}},
      },
      {"text_decoder.cls.predictions.decoder.bias", "*.position_ids"},
  };
  return table;
}

BlipConfig loadBlipFolderConfig(const std::filesystem::path& dir, ModelFamily family, const std::string& command) {
  requireModelFamily(dir, {family}, command);
  const std::string file = (dir / "config.json").string();
  const BlipConfig config = loadBlipConfig(dir / "config.json");
  if (config.text.encoderHiddenSize != config.vision.hiddenSize)
    throw Error(ErrorCode::Corrupt, file + ": text_config.encoder_hidden_size (" + std::to_string(config.text.encoderHiddenSize) +
                                        ") must equal vision_config.hidden_size (" + std::to_string(config.vision.hiddenSize) +
                                        "): the text model cross-attends to the image tokens",
                file);
  return config;
}

}  // namespace vlm::models
