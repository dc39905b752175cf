#pragma once
// Where the pixels of the original image end up in the model's input and on its patch grid
// (no LibTorch, no Qt: the GUI maps mouse positions with it too).
//
// The image processor resizes the W x H image to rw x rh (Pillow's resampling) and, for CLIP,
// center-crops S x S out of that at (cropLeft, cropTop); BLIP resizes straight to S x S. The
// ViT cuts the S x S input into a g x g grid of P x P patches (g = S / P), numbered row-major.
//
// Continuous coordinates: original pixel (x, y) covers [x, x+1) x [y, y+1); it maps to
// input coordinates u = x * rw / W - cropLeft, v = y * rh / H - cropTop.

#include <optional>
#include <vector>

#include "vision/preprocess.h"

namespace vlm::vision {

struct PixelRect {
  int x = 0, y = 0, width = 0, height = 0;
  bool empty() const { return width <= 0 || height <= 0; }
  bool operator==(const PixelRect&) const = default;
};

struct RectF {
  double x = 0, y = 0, width = 0, height = 0;
};

class InputGeometry {
 public:
  // For a W x H image through `processor` into a model with input side `inputSize` and patch
  // side `patchSize`. InvalidArgument when the processor does not produce inputSize x inputSize
  // for this image, or the patch size does not divide the input size.
  InputGeometry(const ImageProcessorConfig& processor, int imageWidth, int imageHeight, int inputSize, int patchSize);

  int imageWidth() const { return w_; }
  int imageHeight() const { return h_; }
  int inputSize() const { return s_; }
  int patchSize() const { return p_; }
  int gridSide() const { return s_ / p_; }
  int numPatches() const { return gridSide() * gridSide(); }

  // The patch holding input pixel (x, y); InvalidArgument outside 0..S-1.
  int patchAtInputPixel(int x, int y) const;
  // The input-pixel rectangle of patch p (0 .. g*g-1); InvalidArgument otherwise.
  PixelRect inputRectOfPatch(int patch) const;
  // The patch that original pixel (x, y)'s centre falls in; none when the crop cut it away.
  // InvalidArgument outside the image.
  std::optional<int> patchAtImagePixel(int x, int y) const;
  // Patch p's area in original-image coordinates (continuous).
  RectF imageRectOfPatch(int patch) const;
  // Original-image coordinates of an input point, and back.
  double toImageX(double u) const;
  double toImageY(double v) const;
  double toInputX(double x) const;
  double toInputY(double y) const;

  // Every input pixel whose value depends on some original pixel inside `rect` (the resize
  // filter's full support, as Pillow computes it), as a half-open input rectangle clipped to the
  // input; empty when the crop removes all of it.
  PixelRect inputPixelsInfluencedBy(const PixelRect& rect) const;
  // The patches any of whose pixels depends on a pixel inside one of `rects`: dropping them makes
  // the model's output independent of those original pixels (patch removal). Sorted, unique.
  std::vector<int> patchesInfluencedBy(const std::vector<PixelRect>& rects) const;

  // A side x side map (row-major) covering the model input (the g x g patch grid, or S x S for
  // pixel attributions) drawn over the original image: W x H values, bilinear (align_corners =
  // false, as upsampleMap) at each pixel centre mapped into the input; pixels the crop cut away
  // get `outside`.
  std::vector<float> mapToImage(const std::vector<float>& map, int side, float outside = 0.f) const;

 private:
  int w_, h_, rw_, rh_, cropLeft_, cropTop_, s_, p_, resample_;
  bool resized_;
};

// Pillow's filter support (in input pixels at scale 1) of a resample value: nearest/box 0.5,
// bilinear/hamming 1, bicubic 2, lanczos 3.
double resampleSupport(int resample);

}  // namespace vlm::vision
