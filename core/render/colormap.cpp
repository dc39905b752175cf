#include "render/colormap.h"

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>

#include "common/error.h"
#include "io/files.h"

namespace vlm::render {

namespace {

using Table = std::array<std::array<uint8_t, 3>, 256>;

// matplotlib's listed colormaps, through OpenCV's copy of the same 256 floats (BGR order).
Table tableFromOpenCv(int cvColormap) {
  cv::Mat gray(1, 256, CV_8UC1);
  for (int i = 0; i < 256; ++i) gray.at<uint8_t>(0, i) = static_cast<uint8_t>(i);
  cv::Mat bgr;
  cv::applyColorMap(gray, bgr, cvColormap);
  Table t{};
  for (int i = 0; i < 256; ++i) {
    const auto c = bgr.at<cv::Vec3b>(0, i);
    t[i] = {c[2], c[1], c[0]};
  }
  return t;
}

// matplotlib _cm.py `_jet_data`: (x, y) breakpoints of each channel (y0 == y1 everywhere).
struct Segment {
  double x, y;
};
const std::vector<Segment> kJetRed = {{0., 0.}, {0.35, 0.}, {0.66, 1.}, {0.89, 1.}, {1., 0.5}};
const std::vector<Segment> kJetGreen = {{0., 0.}, {0.125, 0.}, {0.375, 1.}, {0.64, 1.}, {0.91, 0.}, {1., 0.}};
const std::vector<Segment> kJetBlue = {{0., 0.5}, {0.11, 1.}, {0.34, 1.}, {0.65, 0.}, {1., 0.}};

double piecewiseLinear(const std::vector<Segment>& s, double x) {
  for (size_t i = 1; i < s.size(); ++i)
    if (x <= s[i].x) return s[i - 1].y + (x - s[i - 1].x) / (s[i].x - s[i - 1].x) * (s[i].y - s[i - 1].y);
  return s.back().y;
}

uint8_t toByte(double v) { return static_cast<uint8_t>(std::lround(std::clamp(v, 0.0, 1.0) * 255.0)); }

// matplotlib's LinearSegmentedColormap._init: the segments sampled at i / (N - 1).
Table jetTable() {
  Table t{};
  for (int i = 0; i < 256; ++i) {
    const double x = i / 255.0;
    t[i] = {toByte(piecewiseLinear(kJetRed, x)), toByte(piecewiseLinear(kJetGreen, x)),
            toByte(piecewiseLinear(kJetBlue, x))};
  }
  return t;
}

const Table& table(Colormap colormap) {
  static const Table viridis = tableFromOpenCv(cv::COLORMAP_VIRIDIS);
  static const Table inferno = tableFromOpenCv(cv::COLORMAP_INFERNO);
  static const Table jet = jetTable();
  switch (colormap) {
    case Colormap::Viridis: return viridis;
    case Colormap::Inferno: return inferno;
    default: return jet;
  }
}

float clamp01(float v) { return std::isnan(v) ? 0.f : std::clamp(v, 0.f, 1.f); }

void requireMap(const float* map, int width, int height, const char* what) {
  if (!map) throw Error(ErrorCode::InvalidArgument, std::string(what) + ": the map is null");
  if (width < 1 || height < 1)
    throw Error(ErrorCode::InvalidArgument, std::string(what) + ": the map is empty (" + std::to_string(width) +
                                                " x " + std::to_string(height) + ")");
}

void requireImage(const io::ImageU8& image, const char* what) {
  if (image.empty())
    throw Error(ErrorCode::InvalidArgument, std::string(what) + ": the image is empty (" +
                                                std::to_string(image.width) + " x " + std::to_string(image.height) + ")");
  if (image.rgb.size() != static_cast<size_t>(image.width) * image.height * 3)
    throw Error(ErrorCode::InvalidArgument, std::string(what) + ": the image holds " + std::to_string(image.rgb.size()) +
                                                " bytes, not width * height * 3 = " +
                                                std::to_string(static_cast<size_t>(image.width) * image.height * 3));
}

// A view of an ImageU8's bytes as an RGB cv::Mat (no copy; const_cast: OpenCV has no const Mat).
cv::Mat asMat(const io::ImageU8& image) {
  return cv::Mat(image.height, image.width, CV_8UC3, const_cast<uint8_t*>(image.rgb.data()));
}

io::ImageU8 fromMat(const cv::Mat& rgb) {
  CV_Assert(rgb.type() == CV_8UC3);
  io::ImageU8 out;
  out.width = rgb.cols;
  out.height = rgb.rows;
  out.rgb.resize(static_cast<size_t>(rgb.cols) * rgb.rows * 3);
  cv::Mat dst(rgb.rows, rgb.cols, CV_8UC3, out.rgb.data());
  rgb.copyTo(dst);
  return out;
}


}  // namespace

const char* toString(Colormap colormap) noexcept {
  switch (colormap) {
    case Colormap::Viridis: return "viridis";
    case Colormap::Inferno: return "inferno";
    case Colormap::Jet: return "jet";
    case Colormap::Gray: return "gray";
  }
  return "?";
}

std::optional<Colormap> parseColormap(std::string_view name) {
  if (name == "viridis") return Colormap::Viridis;
  if (name == "inferno") return Colormap::Inferno;
  if (name == "jet") return Colormap::Jet;
  if (name == "gray" || name == "grey") return Colormap::Gray;
  return std::nullopt;
}

std::array<uint8_t, 3> colormapColor(Colormap colormap, float v) {
  v = clamp01(v);
  if (colormap == Colormap::Gray) {
    const auto g = static_cast<uint8_t>(std::lround(255.0 * v));
    return {g, g, g};
  }
  const int index = std::min(255, static_cast<int>(v * 256.0));
  return table(colormap)[index];
}

io::ImageU8 heatmapImage(const float* map, int width, int height, Colormap colormap) {
  requireMap(map, width, height, "heatmap image");
  io::ImageU8 out;
  out.width = width;
  out.height = height;
  out.rgb.resize(static_cast<size_t>(width) * height * 3);
  for (size_t i = 0, n = static_cast<size_t>(width) * height; i < n; ++i) {
    const auto c = colormapColor(colormap, map[i]);
    std::copy(c.begin(), c.end(), out.rgb.begin() + i * 3);
  }
  return out;
}

io::ImageU8 overlayHeatmap(const io::ImageU8& image, const float* map, int mapWidth, int mapHeight,
                           const OverlayOptions& options) {
  requireImage(image, "heatmap overlay");
  requireMap(map, mapWidth, mapHeight, "heatmap overlay");
  if (!(options.alpha >= 0.f && options.alpha <= 1.f))
    throw Error(ErrorCode::InvalidArgument,
                "heatmap overlay: alpha " + std::to_string(options.alpha) + " is outside [0, 1]");

  const int w = image.width, h = image.height;
  cv::Mat m(mapHeight, mapWidth, CV_32FC1, const_cast<float*>(map));
  cv::Mat resized;
  if (mapWidth != w || mapHeight != h)
    cv::resize(m, resized, cv::Size(w, h), 0, 0, cv::INTER_LINEAR);
  else
    resized = m;

  const double a = options.alpha;
  io::ImageU8 out = image;
  for (int y = 0; y < h; ++y) {
    const float* row = resized.ptr<float>(y);
    for (int x = 0; x < w; ++x) {
      const auto c = colormapColor(options.colormap, row[x]);
      const uint8_t* src = image.pixel(x, y);
      uint8_t* dst = out.pixel(x, y);
      for (int k = 0; k < 3; ++k)
        dst[k] = static_cast<uint8_t>(std::lround((1.0 - a) * src[k] + a * c[k]));
    }
  }

  if (options.contour) {
    const float level = options.contourLevel;
    auto inside = [&](int x, int y) { return resized.ptr<float>(y)[x] >= level; };
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) {
        if (!inside(x, y)) continue;
        const bool edge = (x > 0 && !inside(x - 1, y)) || (x + 1 < w && !inside(x + 1, y)) ||
                          (y > 0 && !inside(x, y - 1)) || (y + 1 < h && !inside(x, y + 1));
        if (edge) std::fill_n(out.pixel(x, y), 3, uint8_t(255));
      }
  }
  return out;
}

io::ImageU8 composeFrame(const std::vector<io::ImageU8>& panels, const std::string& title,
                         const std::string& subtitle) {
  if (panels.empty()) throw Error(ErrorCode::InvalidArgument, "video frame: no panels to compose");
  for (const auto& p : panels) requireImage(p, "video frame panel");

  const int panelHeight = panels.front().height;
  std::vector<cv::Mat> scaled;
  int panelsWidth = 0;
  for (const auto& p : panels) {
    cv::Mat src = asMat(p);
    if (p.height == panelHeight) {
      scaled.push_back(src);
    } else {
      const int w = std::max(1, static_cast<int>(std::lround(double(p.width) * panelHeight / p.height)));
      cv::Mat dst;
      cv::resize(src, dst, cv::Size(w, panelHeight), 0, 0, p.height > panelHeight ? cv::INTER_AREA : cv::INTER_LINEAR);
      scaled.push_back(dst);
    }
    panelsWidth += scaled.back().cols;
  }

  const int font = cv::FONT_HERSHEY_SIMPLEX;
  const double scale = std::clamp(panelsWidth / 1200.0, 0.35, 1.0);
  const int thickness = scale >= 0.8 ? 2 : 1;
  int baseline = 0;
  const cv::Size glyph = cv::getTextSize("Ag", font, scale, thickness, &baseline);
  const int lineHeight = glyph.height + baseline;
  const int pad = std::max(2, lineHeight / 2);
  const int barHeight = pad + lineHeight + pad / 2 + lineHeight + pad;

  const int width = (panelsWidth + 1) / 2 * 2;
  const int height = (panelHeight + barHeight + 1) / 2 * 2;
  const cv::Scalar bar(kFrameBarColor[0], kFrameBarColor[1], kFrameBarColor[2]);
  cv::Mat frame(height, width, CV_8UC3, bar);
  int x = 0;
  for (const auto& s : scaled) {
    s.copyTo(frame(cv::Rect(x, 0, s.cols, s.rows)));
    x += s.cols;
  }

  const int maxTextWidth = width - 2 * pad;
  auto fit = [&](std::string text) {
    text = asciiOnly(text);
    auto widthOf = [&](const std::string& t) { return cv::getTextSize(t, font, scale, thickness, nullptr).width; };
    if (widthOf(text) <= maxTextWidth) return text;
    while (!text.empty() && widthOf(text + "...") > maxTextWidth) text.pop_back();
    return text + "...";
  };
  const int firstBaseline = panelHeight + pad + glyph.height;
  const int secondBaseline = firstBaseline + baseline + pad / 2 + glyph.height;
  cv::putText(frame, fit(title), cv::Point(pad, firstBaseline), font, scale, cv::Scalar(255, 255, 255), thickness,
              cv::LINE_AA);
  cv::putText(frame, fit(subtitle), cv::Point(pad, secondBaseline), font, scale, cv::Scalar(190, 190, 190),
              thickness, cv::LINE_AA);
  return fromMat(frame);
}

std::string encodePng(const io::ImageU8& image) {
  if (image.empty() || image.rgb.size() != static_cast<size_t>(image.width) * image.height * 3)
    throw Error(ErrorCode::InvalidArgument, "cannot encode an empty or malformed image as PNG");
  cv::Mat bgr;
  cv::cvtColor(asMat(image), bgr, cv::COLOR_RGB2BGR);
  std::vector<uint8_t> png;
  if (!cv::imencode(".png", bgr, png)) throw Error(ErrorCode::Io, "PNG encoding failed");
  return std::string(reinterpret_cast<const char*>(png.data()), png.size());
}

void writePng(const std::filesystem::path& path, const io::ImageU8& image) {
  if (image.empty() || image.rgb.size() != static_cast<size_t>(image.width) * image.height * 3)
    throw Error(ErrorCode::InvalidArgument, path.string() + ": cannot write an empty or malformed image", path.string());
  io::writeFileAtomic(path, encodePng(image));
}

std::string asciiOnly(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      out += '?';
      if (c >= 0xc0)
        while (i + 1 < s.size() && (static_cast<unsigned char>(s[i + 1]) & 0xc0) == 0x80) ++i;
    }
  }
  return out;
}

}  // namespace vlm::render
