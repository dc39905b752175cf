#include "pipeline/checkpoint_writer.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <cmath>

#include "io/files.h"
#include "io/safetensors.h"
#include "runtime/runtime.h"

namespace vlm {

void initRandomWeights(torch::nn::Module& model, uint64_t seed, const JobContext& job) {
  job.progress(0.0, "initialising weights");
  at::NoGradGuard noGrad;
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  const auto params = model.named_parameters(true);
  size_t i = 0;
  for (const auto& item : params) {
    job.throwIfCancelled();
    const std::string& name = item.key();
    at::Tensor p = item.value();
    const bool isNorm = name.find("LayerNorm") != std::string::npos || name.find("layer_norm") != std::string::npos ||
                        name.find("layernorm") != std::string::npos || name.find("layrnorm") != std::string::npos;
    const bool isBias = name.size() > 5 && name.compare(name.size() - 5, 5, ".bias") == 0;
    if (isNorm) p.fill_(isBias ? 0.0 : 1.0);
    else if (isBias || name == "text_decoder.cls.predictions.bias") p.zero_();
    else if (name == "logit_scale") p.fill_(std::log(100.0));  // what trained CLIP checkpoints converge to
    else p.normal_(0.0, 0.02, gen);
    job.progress(double(++i) / double(params.size()), "initialising weights");
  }
}

void writeWeights(const torch::nn::Module& model, const std::filesystem::path& file) {
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  for (const auto& item : model.named_parameters(true)) tensors.emplace_back(item.key(), item.value().detach().contiguous());
  io::writeSafetensors(file, tensors, {{"format", "pt"}});
}

void writeBlipPreprocessor(const models::BlipConfig& config, const std::filesystem::path& out) {
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
}

void writeClipPreprocessor(const models::ClipConfig& config, const std::filesystem::path& out) {
  const nlohmann::ordered_json pre{
      {"crop_size", {{"height", config.vision.imageSize}, {"width", config.vision.imageSize}}},
      {"do_center_crop", true},
      {"do_convert_rgb", true},
      {"do_normalize", true},
      {"do_rescale", true},
      {"do_resize", true},
      {"image_mean", {0.48145466, 0.4578275, 0.40821073}},
      {"image_processor_type", "CLIPImageProcessor"},
      {"image_std", {0.26862954, 0.26130258, 0.27577711}},
      {"processor_class", "CLIPProcessor"},
      {"resample", 3},
      {"rescale_factor", 0.00392156862745098},
      {"size", {{"shortest_edge", config.vision.imageSize}}},
  };
  io::writeFileAtomic(out / "preprocessor_config.json", pre.dump(2) + "\n");
}

void copyTokenizer(const std::string& name, const std::vector<const char*>& files, const std::filesystem::path& out) {
  const auto dir = runtime::resourceDir() / "tokenizers" / name;
  for (const char* f : files) io::writeFileAtomic(out / f, io::readFile(dir / f));
}

}  // namespace vlm
