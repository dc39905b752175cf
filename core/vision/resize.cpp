#include "vision/resize.h"

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "common/error.h"

// Bit-exactness with Pillow needs plain IEEE double arithmetic: no fused multiply-add.
#pragma STDC FP_CONTRACT OFF
#if defined(__clang__)
#pragma clang fp contract(off)
#endif

namespace vlm::vision {
namespace {

// ---------------------------------------------------------------------------------------------
// Pillow's filters (libImaging/Resample.c).

double boxFilter(double x) { return x > -0.5 && x <= 0.5 ? 1.0 : 0.0; }

double bilinearFilter(double x) {
  if (x < 0.0) x = -x;
  return x < 1.0 ? 1.0 - x : 0.0;
}

double hammingFilter(double x) {
  if (x < 0.0) x = -x;
  if (x == 0.0) return 1.0;
  if (x >= 1.0) return 0.0;
  x = x * M_PI;
  return std::sin(x) / x * (0.54f + 0.46f * std::cos(x));  // float constants, as in Pillow
}

double bicubicFilter(double x) {
  constexpr double a = -0.5;
  if (x < 0.0) x = -x;
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
  if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
  return 0.0;
}

double sincFilter(double x) {
  if (x == 0.0) return 1.0;
  x = x * M_PI;
  return std::sin(x) / x;
}

double lanczosFilter(double x) {
  if (-3.0 <= x && x < 3.0) return sincFilter(x) * sincFilter(x / 3);
  return 0.0;
}

struct Filter {
  double (*fn)(double);
  double support;
};

constexpr int kPrecisionBits = 32 - 8 - 2;

// Fixed-point weights of one pass: output pixel i reads `count[i]` input pixels starting at
// `first[i]`, weighted by k[i * ksize ...].
struct Coefficients {
  int ksize = 0;
  std::vector<int> first, count;
  std::vector<int32_t> k;
};

// precompute_coeffs() followed by normalize_coeffs_8bpc(), for the box (0, inSize).
Coefficients precompute(int inSize, int outSize, const Filter& filter) {
  // Pillow's box is float[4]: the input size goes through float, the scale through double.
  const float in0 = 0.0f, in1 = static_cast<float>(inSize);
  double scale = static_cast<double>(in1 - in0) / outSize;
  double filterscale = scale;
  if (filterscale < 1.0) filterscale = 1.0;
  const double support = filter.support * filterscale;
  Coefficients c;
  c.ksize = static_cast<int>(std::ceil(support)) * 2 + 1;
  c.first.resize(outSize);
  c.count.resize(outSize);
  c.k.assign(static_cast<size_t>(outSize) * c.ksize, 0);
  std::vector<double> w(c.ksize);
  for (int xx = 0; xx < outSize; ++xx) {
    const double center = in0 + (xx + 0.5) * scale;
    double ww = 0.0;
    const double ss = 1.0 / filterscale;
    int xmin = static_cast<int>(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    int xmax = static_cast<int>(center + support + 0.5);
    if (xmax > inSize) xmax = inSize;
    xmax -= xmin;
    for (int x = 0; x < xmax; ++x) {
      const double v = filter.fn((x + xmin - center + 0.5) * ss);
      w[x] = v;
      ww += v;
    }
    int32_t* k = c.k.data() + static_cast<size_t>(xx) * c.ksize;
    for (int x = 0; x < xmax; ++x) {
      double v = w[x];
      if (ww != 0.0) v /= ww;
      k[x] = v < 0 ? static_cast<int32_t>(-0.5 + v * (1 << kPrecisionBits))
                   : static_cast<int32_t>(0.5 + v * (1 << kPrecisionBits));
    }
    c.first[xx] = xmin;
    c.count[xx] = xmax;
  }
  return c;
}

// Pillow accumulates in int; sums are done here in uint32 (same bits, no signed overflow)
// and read back as int32, then clip8: (v >> 22) clamped to 0..255.
inline uint8_t clip8(uint32_t acc) {
  const int32_t v = static_cast<int32_t>(acc) >> kPrecisionBits;
  return static_cast<uint8_t>(v < 0 ? 0 : (v > 255 ? 255 : v));
}

constexpr uint32_t kHalf = uint32_t(1) << (kPrecisionBits - 1);

// Horizontal pass: rows [rowBegin, rowBegin + rows) of `in` into `out` (width c.first.size()).
void resampleHorizontal(const uint8_t* in, int inWidth, int rowBegin, int rows, const Coefficients& c,
                        uint8_t* out) {
  const int outWidth = static_cast<int>(c.first.size());
  for (int y = 0; y < rows; ++y) {
    const uint8_t* src = in + static_cast<size_t>(rowBegin + y) * inWidth * 3;
    uint8_t* dst = out + static_cast<size_t>(y) * outWidth * 3;
    for (int xx = 0; xx < outWidth; ++xx) {
      const int32_t* k = c.k.data() + static_cast<size_t>(xx) * c.ksize;
      const uint8_t* p = src + static_cast<size_t>(c.first[xx]) * 3;
      uint32_t s0 = kHalf, s1 = kHalf, s2 = kHalf;
      const int n = c.count[xx];
      for (int x = 0; x < n; ++x, p += 3) {
        const uint32_t kx = static_cast<uint32_t>(k[x]);
        s0 += p[0] * kx;
        s1 += p[1] * kx;
        s2 += p[2] * kx;
      }
      dst[xx * 3 + 0] = clip8(s0);
      dst[xx * 3 + 1] = clip8(s1);
      dst[xx * 3 + 2] = clip8(s2);
    }
  }
}

// Vertical pass: every output row is a weighted sum of whole input rows (the same weight for
// all channels), accumulated row by row. `rowOffset` is subtracted from the coefficients' first
// rows (the horizontal pass kept only the rows needed).
void resampleVertical(const uint8_t* in, int width, int rowOffset, const Coefficients& c, uint8_t* out) {
  const int outHeight = static_cast<int>(c.first.size());
  const size_t rowBytes = static_cast<size_t>(width) * 3;
  std::vector<uint32_t> acc(rowBytes);
  for (int yy = 0; yy < outHeight; ++yy) {
    std::fill(acc.begin(), acc.end(), kHalf);
    const int32_t* k = c.k.data() + static_cast<size_t>(yy) * c.ksize;
    const int first = c.first[yy] - rowOffset;
    for (int y = 0; y < c.count[yy]; ++y) {
      const uint8_t* src = in + static_cast<size_t>(first + y) * rowBytes;
      const uint32_t ky = static_cast<uint32_t>(k[y]);
      uint32_t* a = acc.data();
      for (size_t i = 0; i < rowBytes; ++i) a[i] += src[i] * ky;
    }
    uint8_t* dst = out + static_cast<size_t>(yy) * rowBytes;
    for (size_t i = 0; i < rowBytes; ++i) dst[i] = clip8(acc[i]);
  }
}

// Pillow's nearest neighbour (ImagingScaleAffine): sample positions start at half a step and
// advance by (in/out) in double precision; COORD() truncates.
io::ImageU8 resizeNearest(const io::ImageU8& in, int width, int height) {
  const double ax = static_cast<double>(static_cast<float>(in.width)) / width;
  const double ay = static_cast<double>(static_cast<float>(in.height)) / height;
  auto coord = [](double v) { return v < 0.0 ? -1 : static_cast<int>(v); };
  std::vector<int> xs(width);
  double xo = ax * 0.5;
  for (int x = 0; x < width; ++x) {
    xs[x] = std::min(std::max(coord(xo), 0), in.width - 1);
    xo += ax;
  }
  io::ImageU8 out;
  out.width = width;
  out.height = height;
  out.rgb.resize(static_cast<size_t>(width) * height * 3);
  double yo = ay * 0.5;
  for (int y = 0; y < height; ++y) {
    const int sy = std::min(std::max(coord(yo), 0), in.height - 1);
    yo += ay;
    uint8_t* dst = out.pixel(0, y);
    for (int x = 0; x < width; ++x, dst += 3) std::memcpy(dst, in.pixel(xs[x], sy), 3);
  }
  return out;
}

}  // namespace

const char* resampleName(int resample) noexcept {
  switch (resample) {
    case 0: return "nearest";
    case 1: return "lanczos";
    case 2: return "bilinear";
    case 3: return "bicubic";
    case 4: return "box";
    case 5: return "hamming";
    default: return nullptr;
  }
}

io::ImageU8 resizePillow(const io::ImageU8& in, int width, int height, int resample) {
  if (in.empty() || in.rgb.size() != static_cast<size_t>(in.width) * in.height * 3)
    throw Error(ErrorCode::InvalidArgument, "resize: the input image is empty or malformed");
  if (width < 1 || height < 1)
    throw Error(ErrorCode::InvalidArgument,
                "resize: invalid target size " + std::to_string(width) + " x " + std::to_string(height));
  Filter filter{};
  switch (static_cast<Resample>(resample)) {
    case Resample::Nearest: break;
    case Resample::Lanczos: filter = {lanczosFilter, 3.0}; break;
    case Resample::Bilinear: filter = {bilinearFilter, 1.0}; break;
    case Resample::Bicubic: filter = {bicubicFilter, 2.0}; break;
    case Resample::Box: filter = {boxFilter, 0.5}; break;
    case Resample::Hamming: filter = {hammingFilter, 1.0}; break;
    default:
      throw Error(ErrorCode::Unsupported,
                  "resize: unsupported resample value " + std::to_string(resample) +
                      " (0 nearest, 1 lanczos, 2 bilinear, 3 bicubic, 4 box, 5 hamming)");
  }
  if (width == in.width && height == in.height) return in;  // Pillow returns a copy
  if (resample == static_cast<int>(Resample::Nearest)) return resizeNearest(in, width, height);

  const bool needHorizontal = width != in.width;
  const bool needVertical = height != in.height;
  const Coefficients vert = precompute(in.height, height, filter);
  // Rows of the input the vertical pass reads.
  const int rowFirst = vert.first.front();
  const int rowLast = vert.first.back() + vert.count.back();

  io::ImageU8 out;
  out.width = width;
  out.height = height;
  out.rgb.resize(static_cast<size_t>(width) * height * 3);
  if (needHorizontal) {
    const Coefficients horiz = precompute(in.width, width, filter);
    if (!needVertical) {
      resampleHorizontal(in.rgb.data(), in.width, 0, in.height, horiz, out.rgb.data());
      return out;
    }
    std::vector<uint8_t> temp(static_cast<size_t>(width) * (rowLast - rowFirst) * 3);
    resampleHorizontal(in.rgb.data(), in.width, rowFirst, rowLast - rowFirst, horiz, temp.data());
    resampleVertical(temp.data(), width, rowFirst, vert, out.rgb.data());
  } else {
    resampleVertical(in.rgb.data(), in.width, 0, vert, out.rgb.data());
  }
  return out;
}

}  // namespace vlm::vision
