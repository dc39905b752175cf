#pragma once
// What every model facade (Captioner, QuestionAnswerer, SimilarityModel) does the same way: the
// device and dtype options, the image processor settings checked against the model's input
// size, pixel values, timing and progress of sub-steps. Core-internal (LibTorch types).

#include <ATen/core/Tensor.h>

#include <chrono>
#include <filesystem>
#include <string>

#include "common/job.h"
#include "io/image.h"
#include "pipeline/options.h"
#include "vision/preprocess.h"

namespace vlm {

double secondsSince(std::chrono::steady_clock::time_point t0);


// "cpu", "cuda", "cuda:1"; Unsupported when LibTorch has no CUDA, InvalidArgument otherwise.
at::Device parseDevice(const std::string& name);
at::ScalarType scalarTypeOf(ComputeDType dtype);

// dir/preprocessor_config.json (NotFound when absent), parsed with `fallbackKind` where the file
// does not say which processor it is; Corrupt when the processor's output is not
// imageSize x imageSize (what the vision tower's position embeddings expect).
vision::ImageProcessorConfig loadImageProcessor(const std::filesystem::path& dir, vision::ImageProcessorConfig::Kind fallbackKind,
                                                int64_t imageSize);

// [1, 3, S, S] float32 pixel values on `device`; InvalidArgument when the processor's output is
// not S x S for this image (a processor without center crop keeps the aspect ratio).
at::Tensor pixelValuesFor(const io::ImageU8& image, const vision::ImageProcessorConfig& processor, int64_t imageSize,
                          const at::Device& device);

}  // namespace vlm
