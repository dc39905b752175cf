#pragma once
// LibTorch view of preprocessing results (kept apart so preprocess.h stays free of LibTorch).

#include "vision/preprocess.h"

namespace at { class Tensor; }

namespace vlm::vision {

// pixel_values as the model takes them: float32 [1, 3, height, width] on the CPU (a copy).
at::Tensor pixelValuesTensor(const Preprocessed& p);

// An RGB image as uint8 [height, width, 3] on the CPU (a copy).
at::Tensor imageTensor(const io::ImageU8& image);

}  // namespace vlm::vision
