#include "vision/geometry.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "common/error.h"

namespace vlm::vision {

namespace {

int floorDiv2(int v) { return v >= 0 ? v / 2 : -((-v + 1) / 2); }

// Output pixels [lo, hi) of a Pillow resize from `in` to `out` pixels along one axis whose
// filter window touches input pixels [a, b). Mirrors precompute_coeffs: output xx reads
// [int(center - support + 0.5), int(center + support + 0.5)) clipped to [0, in).
// Pillow's nearest filter reads the one pixel int(center): covered by support 0.5.
std::pair<int, int> influencedRange(int in, int out, double filterSupport, int a, int b) {
  if (in == out) return {a, b};  // Pillow skips a pass whose size does not change (a copy)
  const double scale = double(float(in)) / out;
  const double support = filterSupport * std::max(1.0, scale);
  int lo = out, hi = 0;
  for (int xx = 0; xx < out; ++xx) {
    const double center = (xx + 0.5) * scale;
    const int xmin = std::max(0, int(center - support + 0.5));
    const int xmax = std::min(in, int(center + support + 0.5));
    if (xmin < b && a < xmax) {
      lo = std::min(lo, xx);
      hi = std::max(hi, xx + 1);
    }
  }
  return {lo, hi};
}

}  // namespace

double resampleSupport(int resample) {
  switch (resample) {
    case 0: return 0.5;  // nearest (Pillow's nearest reads one pixel; 0.5 covers it)
    case 4: return 0.5;  // box
    case 2: return 1.0;  // bilinear
    case 5: return 1.0;  // hamming
    case 3: return 2.0;  // bicubic
    case 1: return 3.0;  // lanczos
  }
  throw Error(ErrorCode::Unsupported, "unknown resample value " + std::to_string(resample));
}

InputGeometry::InputGeometry(const ImageProcessorConfig& processor, int imageWidth, int imageHeight, int inputSize, int patchSize)
    : w_(imageWidth), h_(imageHeight), s_(inputSize), p_(patchSize), resample_(processor.resample), resized_(processor.doResize) {
  if (w_ < 1 || h_ < 1) throw Error(ErrorCode::InvalidArgument, "image geometry: the image is empty");
  if (p_ < 1 || s_ < p_ || s_ % p_ != 0)
    throw Error(ErrorCode::InvalidArgument, "image geometry: patch size " + std::to_string(p_) + " does not divide the input size " +
                                                std::to_string(s_));
  if (processor.doResize) {
    const auto [rh, rw] = resizedSize(processor, w_, h_);
    rh_ = rh;
    rw_ = rw;
  } else {
    rh_ = h_;
    rw_ = w_;
  }
  cropLeft_ = cropTop_ = 0;
  int outW = rw_, outH = rh_;
  if (processor.kind == ImageProcessorConfig::Kind::Clip && processor.doCenterCrop) {
    outW = processor.cropWidth;
    outH = processor.cropHeight;
    cropTop_ = floorDiv2(rh_ - outH);
    cropLeft_ = floorDiv2(rw_ - outW);
  }
  if (outW != s_ || outH != s_)
    throw Error(ErrorCode::InvalidArgument, "image geometry: the processor makes " + std::to_string(outW) + " x " + std::to_string(outH) +
                                                " model inputs from this image, the model takes " + std::to_string(s_) + " x " +
                                                std::to_string(s_));
  resampleSupport(resample_);  // validates
}

int InputGeometry::patchAtInputPixel(int x, int y) const {
  if (x < 0 || y < 0 || x >= s_ || y >= s_)
    throw Error(ErrorCode::InvalidArgument, "input pixel (" + std::to_string(x) + ", " + std::to_string(y) + ") is outside 0.." +
                                                std::to_string(s_ - 1));
  return (y / p_) * gridSide() + x / p_;
}

PixelRect InputGeometry::inputRectOfPatch(int patch) const {
  if (patch < 0 || patch >= numPatches())
    throw Error(ErrorCode::InvalidArgument, "patch " + std::to_string(patch) + " is outside 0.." + std::to_string(numPatches() - 1));
  const int g = gridSide();
  return {(patch % g) * p_, (patch / g) * p_, p_, p_};
}

double InputGeometry::toInputX(double x) const { return x * rw_ / w_ - cropLeft_; }
double InputGeometry::toInputY(double y) const { return y * rh_ / h_ - cropTop_; }
double InputGeometry::toImageX(double u) const { return (u + cropLeft_) * w_ / rw_; }
double InputGeometry::toImageY(double v) const { return (v + cropTop_) * h_ / rh_; }

std::optional<int> InputGeometry::patchAtImagePixel(int x, int y) const {
  if (x < 0 || y < 0 || x >= w_ || y >= h_)
    throw Error(ErrorCode::InvalidArgument, "pixel (" + std::to_string(x) + ", " + std::to_string(y) + ") is outside the " +
                                                std::to_string(w_) + " x " + std::to_string(h_) + " image");
  const double u = toInputX(x + 0.5), v = toInputY(y + 0.5);
  if (u < 0 || v < 0 || u >= s_ || v >= s_) return std::nullopt;
  return patchAtInputPixel(int(std::floor(u)), int(std::floor(v)));
}

RectF InputGeometry::imageRectOfPatch(int patch) const {
  const PixelRect r = inputRectOfPatch(patch);
  const double x0 = toImageX(r.x), y0 = toImageY(r.y), x1 = toImageX(r.x + r.width), y1 = toImageY(r.y + r.height);
  return {x0, y0, x1 - x0, y1 - y0};
}

PixelRect InputGeometry::inputPixelsInfluencedBy(const PixelRect& rect) const {
  const int x0 = std::max(0, rect.x), y0 = std::max(0, rect.y);
  const int x1 = std::min(w_, rect.x + rect.width), y1 = std::min(h_, rect.y + rect.height);
  if (x1 <= x0 || y1 <= y0) return {};
  int u0 = x0, u1 = x1, v0 = y0, v1 = y1;
  if (resized_) {
    const double support = resampleSupport(resample_);
    std::tie(u0, u1) = influencedRange(w_, rw_, support, x0, x1);
    std::tie(v0, v1) = influencedRange(h_, rh_, support, y0, y1);
  }
  u0 = std::max(0, u0 - cropLeft_);
  u1 = std::min(s_, u1 - cropLeft_);
  v0 = std::max(0, v0 - cropTop_);
  v1 = std::min(s_, v1 - cropTop_);
  if (u1 <= u0 || v1 <= v0) return {};
  return {u0, v0, u1 - u0, v1 - v0};
}

std::vector<int> InputGeometry::patchesInfluencedBy(const std::vector<PixelRect>& rects) const {
  std::vector<char> hit(size_t(numPatches()), 0);
  const int g = gridSide();
  for (const PixelRect& r : rects) {
    const PixelRect in = inputPixelsInfluencedBy(r);
    if (in.empty()) continue;
    for (int row = in.y / p_; row <= (in.y + in.height - 1) / p_; ++row)
      for (int col = in.x / p_; col <= (in.x + in.width - 1) / p_; ++col) hit[size_t(row * g + col)] = 1;
  }
  std::vector<int> out;
  for (int p = 0; p < numPatches(); ++p)
    if (hit[size_t(p)]) out.push_back(p);
  return out;
}

std::vector<float> InputGeometry::mapToImage(const std::vector<float>& gridMap, int side, float outside) const {
  const int g = side;
  if (g < 1 || gridMap.size() != size_t(g) * g)
    throw Error(ErrorCode::InvalidArgument, "a " + std::to_string(side) + " x " + std::to_string(side) + " map must have " +
                                                std::to_string(int64_t(g) * g) + " values, got " + std::to_string(gridMap.size()));
  const double cell = double(s_) / g;
  std::vector<float> out(size_t(w_) * h_, outside);
  auto sample = [&](double gx, double gy) {
    // bilinear with align_corners = false: grid cell centres at (i + 0.5)
    gx = std::clamp(gx - 0.5, 0.0, double(g - 1));
    gy = std::clamp(gy - 0.5, 0.0, double(g - 1));
    const int x0 = int(std::floor(gx)), y0 = int(std::floor(gy));
    const int x1 = std::min(x0 + 1, g - 1), y1 = std::min(y0 + 1, g - 1);
    const double fx = gx - x0, fy = gy - y0;
    auto at = [&](int x, int y) { return double(gridMap[size_t(y) * g + x]); };
    return float((1 - fy) * ((1 - fx) * at(x0, y0) + fx * at(x1, y0)) + fy * ((1 - fx) * at(x0, y1) + fx * at(x1, y1)));
  };
  for (int y = 0; y < h_; ++y) {
    const double v = toInputY(y + 0.5);
    if (v < 0 || v >= s_) continue;
    for (int x = 0; x < w_; ++x) {
      const double u = toInputX(x + 0.5);
      if (u < 0 || u >= s_) continue;
      out[size_t(y) * w_ + x] = sample(u / cell, v / cell);
    }
  }
  return out;
}

}  // namespace vlm::vision
