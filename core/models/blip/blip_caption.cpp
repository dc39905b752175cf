#include "models/blip/blip_caption.h"

#include "common/error.h"
#include "io/state_dict.h"
#include "models/model_kind.h"
#include "models/nn.h"
#include "runtime/decode_threads.h"

namespace vlm::models {

BlipForConditionalGenerationImpl::BlipForConditionalGenerationImpl(const BlipConfig& c) : config(c) {
  vision_model = register_module("vision_model", BlipVisionModel(c.vision));
  text_decoder = register_module("text_decoder", BlipTextLMHeadModel(c.text));
}

at::Tensor BlipForConditionalGenerationImpl::encodeImage(const at::Tensor& pixelValues, ActivationRecorder* rec) {
  return vision_model->forward(pixelValues, rec, "vision");
}

at::Tensor BlipForConditionalGenerationImpl::decode(const at::Tensor& imageEmbeds, const at::Tensor& ids, ActivationRecorder* rec) {
  TextForwardInputs in;
  in.ids = ids;
  in.causal = true;
  in.encoderStates = imageEmbeds;
  return text_decoder->forward(in, nullptr, rec, "text");
}

std::vector<TensorSpec> blipCaptionCheckpointTensors(const BlipConfig& c) {
  std::vector<TensorSpec> t;
  const auto& v = c.vision;
  const int64_t C = v.hiddenSize, I = v.intermediateSize, P = v.patchSize, N = v.numPatches();
  const std::string vp = "vision_model.";
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
    t.push_back({l + "layer_norm1.weight", {C}});
    t.push_back({l + "layer_norm1.bias", {C}});
    t.push_back({l + "mlp.fc1.weight", {I, C}});
    t.push_back({l + "mlp.fc1.bias", {I}});
    t.push_back({l + "mlp.fc2.weight", {C, I}});
    t.push_back({l + "mlp.fc2.bias", {C}});
    t.push_back({l + "layer_norm2.weight", {C}});
    t.push_back({l + "layer_norm2.bias", {C}});
  }
  t.push_back({vp + "post_layernorm.weight", {C}});
  t.push_back({vp + "post_layernorm.bias", {C}});

  const auto& x = c.text;
  const int64_t H = x.hiddenSize, E = x.encoderHiddenSize, F = x.intermediateSize, V = x.vocabSize;
  const std::string tp = "text_decoder.bert.";
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
  const std::string hp = "text_decoder.cls.predictions.";
  t.push_back({hp + "bias", {V}});
  t.push_back({hp + "transform.dense.weight", {H, H}});
  t.push_back({hp + "transform.dense.bias", {H}});
  t.push_back({hp + "transform.LayerNorm.weight", {H}});
  t.push_back({hp + "transform.LayerNorm.bias", {H}});
  t.push_back({hp + "decoder.weight", {V, H}});
  return t;
}

const WeightTable& blipCaptionWeightTable() {
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

LoadedBlipCaption loadBlipCaption(const std::filesystem::path& dir, at::ScalarType dtype, const at::Device& device) {
  requireModelFamily(dir, {ModelFamily::BlipCaption}, "caption");
  const BlipConfig config = loadBlipConfig(dir / "config.json");
  if (config.text.encoderHiddenSize != config.vision.hiddenSize)
    throw Error(ErrorCode::Corrupt, (dir / "config.json").string() + ": text_config.encoder_hidden_size (" + std::to_string(config.text.encoderHiddenSize) +
                                        ") must equal vision_config.hidden_size (" + std::to_string(config.vision.hiddenSize) +
                                        "): the decoder cross-attends to the image tokens",
                (dir / "config.json").string());
  const io::StateDict weights = io::StateDict::loadFolder(dir);
  LoadedBlipCaption out;
  out.model = BlipForConditionalGeneration(config);
  out.report = loadWeights(*out.model, weights, blipCaptionWeightTable(), dtype, device);
  out.model->eval();
  return out;
}

BlipCaptionStepDecoder::BlipCaptionStepDecoder(BlipForConditionalGeneration model, at::Tensor imageEmbeds)
    : model_(std::move(model)), imageEmbeds_(std::move(imageEmbeds)) {}

void BlipCaptionStepDecoder::reset(int64_t batch) {
  cache_.clear();
  // contiguous copies, as transformers expands image_embeds for beams (same kernels, same numbers)
  batchEmbeds_ = imageEmbeds_.size(0) == batch ? imageEmbeds_ : imageEmbeds_.expand({batch, -1, -1}).contiguous();
  // The image's cross-attention keys/values, once, with every thread (large matrix products).
  model_->text_decoder->bert->precomputeCrossAttention(batchEmbeds_, cache_);
}

at::Tensor BlipCaptionStepDecoder::step(const at::Tensor& ids) {
  TextForwardInputs in;
  in.ids = ids.to(imageEmbeds_.device());
  in.causal = true;
  in.encoderStates = batchEmbeds_;
  if (ids.size(0) == 1 && ids.size(1) == 1) {  // one token: memory-bound, see runtime/decode_threads.h
    runtime::TokenDecodingScope scope;
    return model_->text_decoder->forward(in, &cache_, nullptr, "text");
  }
  return model_->text_decoder->forward(in, &cache_, nullptr, "text");
}

void BlipCaptionStepDecoder::reorder(const at::Tensor& rows) { cache_.reorder(rows.to(imageEmbeds_.device())); }

std::vector<int64_t> blipCaptionPrompt(const BlipConfig& config, const std::vector<int64_t>& promptIds) {
  // generate(): input_ids[:, 0] = bos; input_ids[:, :-1] (drops the trailing [SEP]).
  std::vector<int64_t> ids{config.text.bosTokenId};
  if (promptIds.size() > 2) ids.insert(ids.end(), promptIds.begin() + 1, promptIds.end() - 1);
  return ids;
}

}  // namespace vlm::models
