#include "explain/masking.h"

#include <opencv2/imgproc.hpp>
#include <opencv2/photo.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <numeric>

#include "common/error.h"

namespace vlm::explain {

namespace {

std::string describe(const vision::PixelRect& r) {
  return "(" + std::to_string(r.x) + "," + std::to_string(r.y) + "," + std::to_string(r.width) + "," + std::to_string(r.height) + ")";
}

cv::Mat wrap(io::ImageU8& img) { return cv::Mat(img.height, img.width, CV_8UC3, img.rgb.data()); }
cv::Mat wrap(const io::ImageU8& img) { return cv::Mat(img.height, img.width, CV_8UC3, const_cast<uint8_t*>(img.rgb.data())); }

cv::Mat rectMask(const io::ImageU8& image, const std::vector<vision::PixelRect>& rects) {
  cv::Mat mask(image.height, image.width, CV_8UC1, cv::Scalar(0));
  for (const auto& r : rects) mask(cv::Rect(r.x, r.y, r.width, r.height)).setTo(255);
  return mask;
}

}  // namespace

const char* toString(MaskerKind m) {
  switch (m) {
    case MaskerKind::Constant: return "constant";
    case MaskerKind::Blur: return "blur";
    case MaskerKind::Telea: return "telea";
    case MaskerKind::NavierStokes: return "ns";
    case MaskerKind::PatchRemoval: return "patch";
  }
  return "?";
}

std::optional<MaskerKind> parseMasker(std::string_view name) {
  for (MaskerKind m : {MaskerKind::Constant, MaskerKind::Blur, MaskerKind::Telea, MaskerKind::NavierStokes, MaskerKind::PatchRemoval})
    if (name == toString(m)) return m;
  return std::nullopt;
}

vision::PixelRect parseRect(std::string_view text) {
  int v[4];
  const char* p = text.data();
  const char* end = text.data() + text.size();
  for (int i = 0; i < 4; ++i) {
    auto [q, ec] = std::from_chars(p, end, v[i]);
    const bool sepOk = i < 3 ? (q < end && *q == ',') : q == end;
    if (ec != std::errc() || !sepOk)
      throw Error(ErrorCode::InvalidArgument, "rectangle '" + std::string(text) + "' is not x,y,w,h (four integers in image pixels)");
    p = q + 1;
  }
  return {v[0], v[1], v[2], v[3]};
}

std::vector<vision::PixelRect> validateRects(const std::vector<vision::PixelRect>& rects, int width, int height) {
  if (rects.empty()) throw Error(ErrorCode::InvalidArgument, "no rectangle to mask");
  std::vector<vision::PixelRect> out;
  for (size_t i = 0; i < rects.size(); ++i) {
    const auto& r = rects[i];
    const std::string name = "rectangle " + std::to_string(i + 1) + " " + describe(r);
    if (r.empty()) throw Error(ErrorCode::InvalidArgument, name + " is empty (width and height must be positive)");
    const int64_t x0 = std::max<int64_t>(0, r.x), y0 = std::max<int64_t>(0, r.y);
    const int64_t x1 = std::min<int64_t>(width, int64_t(r.x) + r.width), y1 = std::min<int64_t>(height, int64_t(r.y) + r.height);
    if (x1 <= x0 || y1 <= y0)
      throw Error(ErrorCode::InvalidArgument, name + " is outside the " + std::to_string(width) + " x " + std::to_string(height) + " image");
    out.push_back({int(x0), int(y0), int(x1 - x0), int(y1 - y0)});
  }
  return out;
}

std::array<uint8_t, 3> meanColor(const std::array<float, 3>& mean) {
  std::array<uint8_t, 3> c{};
  for (int i = 0; i < 3; ++i) c[i] = uint8_t(std::clamp(std::lround(255.0 * mean[i]), 0L, 255L));
  return c;
}

io::ImageU8 applyPixelMasker(const io::ImageU8& image, const std::vector<vision::PixelRect>& rectsIn, MaskerKind kind,
                             const MaskerOptions& options, const std::array<float, 3>& normalisationMean) {
  if (image.empty()) throw Error(ErrorCode::InvalidArgument, "masking: the image is empty");
  const auto rects = validateRects(rectsIn, image.width, image.height);
  io::ImageU8 out = image;
  cv::Mat dst = wrap(out);
  switch (kind) {
    case MaskerKind::Constant: {
      const auto c = options.color.value_or(meanColor(normalisationMean));
      for (const auto& r : rects) dst(cv::Rect(r.x, r.y, r.width, r.height)).setTo(cv::Scalar(c[0], c[1], c[2]));
      break;
    }
    case MaskerKind::Blur: {
      const double sigma = options.blurSigma > 0 ? options.blurSigma : std::max(image.width, image.height) / 20.0;
      cv::Mat blurred;
      cv::GaussianBlur(wrap(image), blurred, cv::Size(0, 0), sigma, sigma, cv::BORDER_REFLECT_101);
      blurred.copyTo(dst, rectMask(image, rects));
      break;
    }
    case MaskerKind::Telea:
    case MaskerKind::NavierStokes: {
      if (!(options.inpaintRadius > 0)) throw Error(ErrorCode::InvalidArgument, "masking: the inpainting radius must be positive");
      cv::Mat result;
      cv::inpaint(wrap(image), rectMask(image, rects), result, options.inpaintRadius,
                  kind == MaskerKind::Telea ? cv::INPAINT_TELEA : cv::INPAINT_NS);
      result.copyTo(dst);
      break;
    }
    case MaskerKind::PatchRemoval:
      throw Error(ErrorCode::InvalidArgument, "patch removal does not change pixels (it drops patches from the model's sequence)");
  }
  return out;
}

std::vector<int> topPercentPatches(const std::vector<float>& gridMap, double percent) {
  if (!(percent > 0 && percent <= 100))
    throw Error(ErrorCode::InvalidArgument, "auto-mask: the percentage must be in (0, 100], got " + std::to_string(percent));
  if (gridMap.empty()) throw Error(ErrorCode::InvalidArgument, "auto-mask: the map is empty");
  const size_t k = std::max<size_t>(1, size_t(std::ceil(percent / 100.0 * double(gridMap.size()) - 1e-9)));
  std::vector<int> idx(gridMap.size());
  std::iota(idx.begin(), idx.end(), 0);
  std::stable_sort(idx.begin(), idx.end(), [&](int a, int b) {
    const float va = std::isnan(gridMap[size_t(a)]) ? -INFINITY : gridMap[size_t(a)];
    const float vb = std::isnan(gridMap[size_t(b)]) ? -INFINITY : gridMap[size_t(b)];
    return va > vb;
  });
  idx.resize(std::min(k, idx.size()));
  std::sort(idx.begin(), idx.end());
  return idx;
}

std::vector<vision::PixelRect> patchRects(const vision::InputGeometry& geometry, const std::vector<int>& patches) {
  std::vector<vision::PixelRect> out;
  for (int p : patches) {
    const vision::RectF r = geometry.imageRectOfPatch(p);
    const int x0 = std::max(0, int(std::floor(r.x + 1e-9))), y0 = std::max(0, int(std::floor(r.y + 1e-9)));
    const int x1 = std::min(geometry.imageWidth(), int(std::ceil(r.x + r.width - 1e-9)));
    const int y1 = std::min(geometry.imageHeight(), int(std::ceil(r.y + r.height - 1e-9)));
    if (x1 > x0 && y1 > y0) out.push_back({x0, y0, x1 - x0, y1 - y0});
  }
  return out;
}

io::ImageU8 shadePatches(const io::ImageU8& image, const vision::InputGeometry& geometry, const std::vector<int>& patches) {
  io::ImageU8 out = image;
  cv::Mat dst = wrap(out);
  for (const auto& r : patchRects(geometry, patches)) {
    cv::Mat roi = dst(cv::Rect(r.x, r.y, r.width, r.height));
    roi.convertTo(roi, -1, 0.25, 0);
  }
  return out;
}

}  // namespace vlm::explain
