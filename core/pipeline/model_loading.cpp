#include "pipeline/model_loading.h"

#include <ATen/ATen.h>

#include "common/error.h"
#include "vision/tensor.h"

namespace vlm {

double secondsSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

at::Device parseDevice(const std::string& name) {
  try {
    at::Device d(name);
    if (d.is_cuda() && !at::hasCUDA())
      throw Error(ErrorCode::Unsupported, "device '" + name + "': this LibTorch build has no CUDA support");
    return d;
  } catch (const c10::Error&) {
    throw Error(ErrorCode::InvalidArgument, "unknown device '" + name + "' (use cpu or cuda[:N])");
  }
}

at::ScalarType scalarTypeOf(ComputeDType dtype) { return dtype == ComputeDType::BFloat16 ? at::kBFloat16 : at::kFloat; }

namespace {

// The output size when it does not depend on the image: {height, width}, or {0, 0}.
std::pair<int, int> fixedOutputSize(const vision::ImageProcessorConfig& p) {
  if (p.doCenterCrop) return {p.cropHeight, p.cropWidth};
  if (p.doResize && p.resizeHeight > 0) return {p.resizeHeight, p.resizeWidth};
  return {0, 0};
}

}  // namespace

vision::ImageProcessorConfig loadImageProcessor(const std::filesystem::path& dir, vision::ImageProcessorConfig::Kind fallbackKind,
                                                int64_t imageSize) {
  const auto file = dir / "preprocessor_config.json";
  if (!std::filesystem::exists(file))
    throw Error(ErrorCode::NotFound, dir.string() + ": no preprocessor_config.json (the image processor settings)", dir.string());
  vision::ImageProcessorConfig p = vision::parseImageProcessorConfig(file, fallbackKind);
  const auto [h, w] = fixedOutputSize(p);
  if (h != 0 && (h != imageSize || w != imageSize))
    throw Error(ErrorCode::Corrupt, file.string() + ": the processor produces " + std::to_string(w) + "x" + std::to_string(h) +
                                        " images but the vision model expects " + std::to_string(imageSize) + "x" + std::to_string(imageSize),
                file.string());
  return p;
}

at::Tensor pixelValuesFor(const io::ImageU8& image, const vision::ImageProcessorConfig& processor, int64_t imageSize,
                          const at::Device& device) {
  const vision::Preprocessed p = vision::preprocess(image, processor);
  if (p.height != imageSize || p.width != imageSize)
    throw Error(ErrorCode::InvalidArgument, "the image processor made a " + std::to_string(p.width) + "x" + std::to_string(p.height) +
                                                " input from this image, but the vision model takes " + std::to_string(imageSize) + "x" +
                                                std::to_string(imageSize) + " (enable center crop in preprocessor_config.json)");
  return vision::pixelValuesTensor(p).to(device);
}

}  // namespace vlm
