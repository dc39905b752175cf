#include "pipeline/random_model.h"

#include "pipeline/checkpoint_writer.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <cmath>
#include <fstream>

#include "common/error.h"
#include "io/files.h"
#include "io/safetensors.h"
#include "models/blip/blip_caption.h"
#include "models/blip/blip_vqa.h"
#include "models/clip/clip_model.h"
#include "runtime/runtime.h"

namespace vlm {

namespace {

models::BlipConfig presetConfig(std::string like) {
  if (like.rfind("Salesforce/", 0) == 0) like = like.substr(11);
  models::BlipConfig c;  // transformers' defaults are BLIP-base's vision tower
  c.architecture = "BlipForConditionalGeneration";
  c.text.numAttentionHeads = 12;  // what the hub config.json of the real checkpoints says
  if (like == "blip-image-captioning-base") return c;
  if (like == "blip-vqa-base") {  // BLIP-base sizes; text encoder and answer decoder share text_config
    c.architecture = "BlipForQuestionAnswering";
    return c;
  }
  if (like == "blip-image-captioning-large") {
    c.vision.hiddenSize = 1024;
    c.vision.intermediateSize = 4096;
    c.vision.numHiddenLayers = 24;
    c.vision.numAttentionHeads = 16;
    c.text.encoderHiddenSize = 1024;
    return c;
  }
  std::string names;
  for (const auto& p : randomModelPresets()) names += (names.empty() ? "" : ", ") + p;
  throw Error(ErrorCode::InvalidArgument, "unknown model '" + like + "' for --like (known: " + names + ")");
}


// The module tree of `config`'s architecture (its named parameters are the checkpoint keys).
std::shared_ptr<torch::nn::Module> buildModel(const models::BlipConfig& config) {
  if (config.architecture == "BlipForQuestionAnswering") return models::BlipForQuestionAnswering(config).ptr();
  return models::BlipForConditionalGeneration(config).ptr();
}

void writeRandomWeights(torch::nn::Module& model, const std::filesystem::path& out, uint64_t seed, const JobContext& job) {
  initRandomWeights(model, seed, subJob(job, 0, 0.5));
  job.progress(0.5, "writing model.safetensors");
  writeWeights(model, out / "model.safetensors");
}

void writeReadme(const std::string& like, const std::filesystem::path& out, uint64_t seed, const std::string& what) {
  io::writeFileAtomic(out / "README.md",
                      "# Random " + like + "\n\nWritten by `vlmscope make-random-model --like " + like + " --seed " + std::to_string(seed) +
                          "`: the architecture of " + like +
                          " with RANDOM weights (normal, std 0.02; LayerNorm 1/0; biases 0). For benchmarks and tests only: its " + what +
                          " are meaningless.\n");
}

bool isClipPreset(std::string like) {
  if (like.rfind("openai/", 0) == 0) like = like.substr(7);
  return like == "clip-vit-base-patch32";
}

// openai/clip-vit-base-patch32 as its hub config.json describes it (transformers' CLIP defaults
// plus the legacy eos_token_id 2 of the openai configs).
void makeRandomClip(const std::string& like, const std::filesystem::path& out, uint64_t seed, const JobContext& job) {
  models::ClipConfig config;
  config.architecture = "CLIPModel";
  config.text.bosTokenId = 0;
  config.text.eosTokenId = 2;
  writeRandomWeights(*models::ClipModel(config), out, seed, job);
  io::writeFileAtomic(out / "config.json", models::clipConfigToJson(config).dump(2) + "\n");
  writeClipPreprocessor(config, out);
  copyTokenizer("clip-vit-base-patch32", {"vocab.json", "merges.txt", "tokenizer_config.json", "special_tokens_map.json"}, out);
  writeReadme(like, out, seed, "similarities");
  job.progress(1.0, "done");
}

}  // namespace

std::vector<std::string> randomModelPresets() {
  return {"blip-image-captioning-base", "blip-image-captioning-large", "blip-vqa-base", "clip-vit-base-patch32"};
}

void makeRandomModel(const std::string& like, const std::filesystem::path& out, uint64_t seed, const JobContext& job) {
  const bool clip = isClipPreset(like);
  const models::BlipConfig config = clip ? models::BlipConfig{} : presetConfig(like);  // unknown names fail first
  std::error_code ec;
  std::filesystem::create_directories(out, ec);
  if (!std::filesystem::is_directory(out)) throw Error(ErrorCode::Io, "cannot create the folder " + out.string(), out.string());
  if (clip) return makeRandomClip(like, out, seed, job);

  writeRandomWeights(*buildModel(config), out, seed, job);
  io::writeFileAtomic(out / "config.json", models::blipConfigToJson(config).dump(2) + "\n");
  writeBlipPreprocessor(config, out);
  copyTokenizer("bert-base-uncased", {"vocab.txt", "tokenizer_config.json", "special_tokens_map.json"}, out);
  writeReadme(like, out, seed, config.architecture == "BlipForQuestionAnswering" ? "answers" : "captions");
  job.progress(1.0, "done");
}

}  // namespace vlm
