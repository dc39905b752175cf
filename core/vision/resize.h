#pragma once
// Pillow's Image.resize((width, height), resample) for 8-bit RGB, reimplemented bit-exactly
// (Pillow 9.4 libImaging/Resample.c; reducing_gap=None, so no reduce() step).
//
// Convolution filters (BOX, BILINEAR, HAMMING, BICUBIC a=-0.5, LANCZOS a=3): per output pixel,
// support = filter support * max(1, in/out) (antialiasing when shrinking); the weights are
// normalised to sum 1 in double precision, then converted to fixed point with 22 fractional
// bits. A horizontal pass over only the rows the vertical pass needs, then a vertical pass,
// each rounding half up and clipping to 0..255; a pass is skipped when its size is unchanged.
// NEAREST follows Pillow's affine nearest-neighbour scaling (sample at the pixel centre).
//
// This is NOT OpenCV's INTER_CUBIC / INTER_LINEAR (no antialiasing, a=-0.75, other rounding).

#include "io/image.h"

namespace vlm::vision {

// PIL.Image.Resampling values, as image processor configs store them ("resample": 3).
enum class Resample : int { Nearest = 0, Lanczos = 1, Bilinear = 2, Bicubic = 3, Box = 4, Hamming = 5 };

// "nearest", "lanczos", "bilinear", "bicubic", "box", "hamming"; nullptr for other values.
const char* resampleName(int resample) noexcept;

// Resizes to width x height (both >= 1) with Pillow's algorithm. Throws vlm::Error
// InvalidArgument for an empty input or target size, Unsupported for a resample value
// that is not one of the six above.
io::ImageU8 resizePillow(const io::ImageU8& in, int width, int height, int resample = 3);

}  // namespace vlm::vision
