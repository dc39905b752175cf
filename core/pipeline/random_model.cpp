#include "pipeline/random_model.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <fstream>

#include "common/error.h"
#include "io/files.h"
#include "io/safetensors.h"
#include "models/blip/blip_caption.h"
#include "models/blip/blip_vqa.h"
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

}  // namespace

std::vector<std::string> randomModelPresets() { return {"blip-image-captioning-base", "blip-image-captioning-large", "blip-vqa-base"}; }

void makeRandomModel(const std::string& like, const std::filesystem::path& out, uint64_t seed, const JobContext& job) {
  const models::BlipConfig config = presetConfig(like);
  std::error_code ec;
  std::filesystem::create_directories(out, ec);
  if (!std::filesystem::is_directory(out)) throw Error(ErrorCode::Io, "cannot create the folder " + out.string(), out.string());

  job.progress(0.0, "initialising weights");
  at::NoGradGuard noGrad;
  const std::shared_ptr<torch::nn::Module> model = buildModel(config);
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  const auto params = model->named_parameters(true);
  size_t i = 0;
  for (const auto& item : params) {
    job.throwIfCancelled();
    const std::string& name = item.key();
    at::Tensor p = item.value();
    const bool isNorm = name.find("LayerNorm") != std::string::npos || name.find("layer_norm") != std::string::npos ||
                        name.find("post_layernorm") != std::string::npos;
    const bool isBias = name.size() > 5 && name.compare(name.size() - 5, 5, ".bias") == 0;
    if (isNorm) p.fill_(isBias ? 0.0 : 1.0);
    else if (isBias || name == "text_decoder.cls.predictions.bias") p.zero_();
    else p.normal_(0.0, 0.02, gen);
    tensors.emplace_back(name, p);
    job.progress(0.5 * double(++i) / double(params.size()), "initialising weights");
  }
  job.progress(0.5, "writing model.safetensors");
  io::writeSafetensors(out / "model.safetensors", tensors, {{"format", "pt"}});

  io::writeFileAtomic(out / "config.json", models::blipConfigToJson(config).dump(2) + "\n");
  const nlohmann::ordered_json pre{
      {"do_convert_rgb", true},
      {"do_normalize", true},
      {"do_rescale", true},
      {"do_resize", true},
      {"image_mean", {0.48145466, 0.4578275, 0.40821073}},
      {"image_processor_type", "BlipImageProcessor"},
      {"image_std", {0.26862954, 0.26130258, 0.27577711}},
      {"processor_class", "BlipProcessor"},
      {"resample", 3},
      {"rescale_factor", 0.00392156862745098},
      {"size", {{"height", config.vision.imageSize}, {"width", config.vision.imageSize}}},
  };
  io::writeFileAtomic(out / "preprocessor_config.json", pre.dump(2) + "\n");
  const auto tokDir = runtime::resourceDir() / "tokenizers" / "bert-base-uncased";
  for (const char* f : {"vocab.txt", "tokenizer_config.json", "special_tokens_map.json"})
    io::writeFileAtomic(out / f, io::readFile(tokDir / f));
  io::writeFileAtomic(out / "README.md",
                      "# Random " + like + "\n\nWritten by `vlmscope make-random-model --like " + like + " --seed " + std::to_string(seed) +
                          "`: the architecture of " + like +
                          " with RANDOM weights (normal, std 0.02; LayerNorm 1/0; biases 0). For benchmarks and tests only: its outputs are meaningless.\n");
  job.progress(1.0, "done");
}

}  // namespace vlm
