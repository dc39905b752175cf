#include "vision/tensor.h"

#include <ATen/ATen.h>

#include <cstring>

#include "common/error.h"

namespace vlm::vision {

at::Tensor pixelValuesTensor(const Preprocessed& p) {
  const int64_t n = int64_t(3) * p.height * p.width;
  if (p.height < 1 || p.width < 1 || static_cast<int64_t>(p.pixelValues.size()) != n)
    throw Error(ErrorCode::InvalidArgument, "pixel values: size does not match " + std::to_string(p.height) + " x " +
                                                std::to_string(p.width));
  at::Tensor t = at::empty({1, 3, p.height, p.width}, at::kFloat);
  std::memcpy(t.data_ptr<float>(), p.pixelValues.data(), sizeof(float) * static_cast<size_t>(n));
  return t;
}

at::Tensor imageTensor(const io::ImageU8& image) {
  const size_t n = static_cast<size_t>(image.width) * image.height * 3;
  if (image.empty() || image.rgb.size() != n)
    throw Error(ErrorCode::InvalidArgument, "image: the pixel buffer does not match its size");
  at::Tensor t = at::empty({image.height, image.width, 3}, at::kByte);
  std::memcpy(t.data_ptr<uint8_t>(), image.rgb.data(), n);
  return t;
}

}  // namespace vlm::vision
