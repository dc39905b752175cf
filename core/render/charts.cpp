#include "render/charts.h"
#include "render/colormap.h"

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <numbers>

#include "common/error.h"

namespace vlm::render {

namespace {

constexpr int kFont = cv::FONT_HERSHEY_SIMPLEX;
constexpr double kTextScale = 0.45;
constexpr double kTitleScale = 0.65;
constexpr int kMargin = 10;
// Drawn in (R, G, B) order: the Mat's bytes become the ImageU8's bytes unchanged.
const cv::Scalar kTextColor(30, 30, 30);
const cv::Scalar kMutedColor(110, 110, 110);
const cv::Scalar kGridColor(228, 228, 228);
const cv::Scalar kAxisColor(80, 80, 80);
const cv::Scalar kOutlineColor(60, 60, 60);

cv::Scalar scalar(const std::array<uint8_t, 3>& c) { return cv::Scalar(c[0], c[1], c[2]); }

cv::Scalar signColor(double v) {
  return scalar(v > 0 ? kChartPositiveColor : v < 0 ? kChartNegativeColor : kChartZeroColor);
}


cv::Size textSize(const std::string& s, double scale) {
  int baseline = 0;
  return cv::getTextSize(s, kFont, scale, 1, &baseline);
}

// `s` cut to at most maxWidth pixels, ending in "..." when cut.
std::string fitText(const std::string& s, int maxWidth, double scale) {
  if (textSize(s, scale).width <= maxWidth) return s;
  std::string t = s;
  while (!t.empty() && textSize(t + "...", scale).width > maxWidth) t.pop_back();
  return t + "...";
}

void drawText(cv::Mat& img, const std::string& s, int x, int baseline, double scale, const cv::Scalar& color) {
  cv::putText(img, s, cv::Point(x, baseline), kFont, scale, color, 1, cv::LINE_AA);
}

void drawTitle(cv::Mat& img, const std::string& title) {
  if (title.empty()) return;
  const std::string t = fitText(asciiOnly(title), img.cols - 2 * kMargin, kTitleScale);
  drawText(img, t, (img.cols - textSize(t, kTitleScale).width) / 2, 28, kTitleScale, kTextColor);
}

std::string formatValue(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g", v + 0.0);  // + 0.0: no "-0"
  return buf;
}

// 1, 2 or 5 times a power of ten, about range / target.
double niceStep(double range, int target) {
  const double raw = range / target;
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  const double f = raw / magnitude;
  return (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * magnitude;
}

io::ImageU8 toImage(const cv::Mat& rgb) {
  io::ImageU8 out;
  out.width = rgb.cols;
  out.height = rgb.rows;
  out.rgb.resize(size_t(rgb.cols) * rgb.rows * 3);
  rgb.copyTo(cv::Mat(rgb.rows, rgb.cols, CV_8UC3, out.rgb.data()));
  return out;
}

void requireFinite(const std::vector<double>& v, const char* chart, const char* what) {
  for (size_t i = 0; i < v.size(); ++i)
    if (!std::isfinite(v[i]))
      throw Error(ErrorCode::InvalidArgument,
                  std::string(chart) + ": " + what + " " + std::to_string(i) + " is not finite");
}

// The layout of networkPlot, shared with networkLayout(): the circle between the title band
// and the legend band (40 px each), small enough to leave room for the largest node and a
// label outside it; node radii capped so that neighbouring nodes do not overlap.
struct NetworkGeometry {
  double cx, cy, radius, minNode, maxNode;
  NetworkGeometry(int n, int size) : cx(size / 2.0), cy(size / 2.0) {
    maxNode = 0.05 * size;
    radius = std::min(0.30 * size, size / 2.0 - 40 - maxNode - 24);
    if (n >= 2) maxNode = std::min(maxNode, 0.45 * 2 * radius * std::sin(std::numbers::pi / n));
    minNode = std::min(std::max(4.0, 0.012 * size), maxNode / 2);
  }
  static double angle(int i, int n) { return -std::numbers::pi / 2 + 2 * std::numbers::pi * i / n; }
};

}  // namespace

io::ImageU8 barChart(const std::vector<std::string>& labels, const std::vector<double>& values,
                     const std::vector<double>& stderrs, const BarChartOptions& options) {
  const size_t n = values.size();
  if (n == 0) throw Error(ErrorCode::InvalidArgument, "bar chart: no values");
  if (labels.size() != n)
    throw Error(ErrorCode::InvalidArgument, "bar chart: " + std::to_string(labels.size()) + " labels for " +
                                                std::to_string(n) + " values");
  if (!stderrs.empty() && stderrs.size() != n)
    throw Error(ErrorCode::InvalidArgument, "bar chart: " + std::to_string(stderrs.size()) +
                                                " standard errors for " + std::to_string(n) + " values");
  requireFinite(values, "bar chart", "value");
  requireFinite(stderrs, "bar chart", "standard error");
  if (std::any_of(stderrs.begin(), stderrs.end(), [](double e) { return e < 0; }))
    throw Error(ErrorCode::InvalidArgument, "bar chart: a standard error is negative");
  if (options.width < 400)
    throw Error(ErrorCode::InvalidArgument, "bar chart: width " + std::to_string(options.width) + " is below 400");
  if (options.maxBars < 1)
    throw Error(ErrorCode::InvalidArgument, "bar chart: maxBars " + std::to_string(options.maxBars) + " is below 1");

  struct Bar {
    std::string label;
    double value = 0, err = 0;
    bool others = false;
  };
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), size_t(0));
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return std::abs(values[a]) > std::abs(values[b]); });
  const bool folded = n > size_t(options.maxBars);
  const size_t kept = folded ? size_t(options.maxBars) - 1 : n;
  std::vector<Bar> bars;
  for (size_t r = 0; r < kept; ++r) {
    const size_t i = order[r];
    bars.push_back({asciiOnly(labels[i]), values[i], stderrs.empty() ? 0.0 : stderrs[i], false});
  }
  if (folded) {
    Bar rest{"others (" + std::to_string(n - kept) + ")", 0, 0, true};
    double var = 0;
    for (size_t r = kept; r < n; ++r) {
      rest.value += values[order[r]];
      if (!stderrs.empty()) var += stderrs[order[r]] * stderrs[order[r]];
    }
    rest.err = std::sqrt(var);
    bars.push_back(rest);
  }

  // Layout: title, one row per bar, the axis. Columns: labels (right-aligned, at most 30% of
  // the width), then the plot area with room for the value texts on the side(s) they go.
  const int W = options.width;
  const int rows = int(bars.size());
  const int top = options.title.empty() ? 14 : 46;
  const int rowH = 24, barH = 16, axisH = 36;
  const int H = top + rows * rowH + axisH;
  const int maxLabelW = int(W * 0.3);
  int labelW = 0, valueW = 0;
  bool anyNegative = false, anyNonNegative = false;
  std::vector<std::string> valueText;
  for (auto& b : bars) {
    b.label = fitText(b.label, maxLabelW, kTextScale);
    labelW = std::max(labelW, textSize(b.label, kTextScale).width);
    valueText.push_back(formatValue(b.value));
    valueW = std::max(valueW, textSize(valueText.back(), kTextScale).width + 8);
    (b.value < 0 ? anyNegative : anyNonNegative) = true;
  }
  const int x0 = kMargin + labelW + 10 + (anyNegative ? valueW : 0);
  const int x1 = W - kMargin - (anyNonNegative ? valueW : 0);
  double posExtent = 0, negExtent = 0;
  for (const auto& b : bars) {
    posExtent = std::max(posExtent, b.value + b.err);
    negExtent = std::max(negExtent, b.err - b.value);
  }
  if (posExtent + negExtent == 0) posExtent = 1;  // all zero: an axis from 0 to 1
  const double scale = (x1 - x0) / (posExtent + negExtent);
  const double zeroX = x0 + negExtent * scale;
  auto X = [&](double v) { return int(std::lround(zeroX + v * scale)); };
  const int plotTop = top - 4, plotBottom = top + rows * rowH + 2;

  cv::Mat img(H, W, CV_8UC3, scalar(kChartBackground));
  drawTitle(img, options.title);

  // Grid and axis ticks at round values.
  const double step = niceStep(posExtent + negExtent, std::max(2, (x1 - x0) / 110));
  for (double k = std::ceil(-negExtent / step - 1e-9); k * step <= posExtent + 1e-9 * step; k += 1) {
    const double t = k * step;
    const int x = X(t);
    cv::line(img, {x, plotTop}, {x, plotBottom}, kGridColor, 1);
    cv::line(img, {x, plotBottom}, {x, plotBottom + 4}, kAxisColor, 1);
    const std::string s = formatValue(t);
    drawText(img, s, x - textSize(s, kTextScale).width / 2, plotBottom + 19, kTextScale, kTextColor);
  }
  cv::line(img, {x0, plotBottom}, {x1, plotBottom}, kAxisColor, 1);

  for (int r = 0; r < rows; ++r) {
    const Bar& b = bars[r];
    const int yMid = top + r * rowH + rowH / 2;
    const int zx = int(std::lround(zeroX)), bx = X(b.value);
    if (bx != zx)
      cv::rectangle(img, cv::Rect(std::min(zx, bx), yMid - barH / 2, std::abs(bx - zx), barH), signColor(b.value),
                    cv::FILLED);
    int end = bx;  // the outer end of the bar or its error bar: the value text goes beyond
    if (b.err > 0) {
      const int lo = X(b.value - b.err), hi = X(b.value + b.err);
      cv::line(img, {lo, yMid}, {hi, yMid}, kTextColor, 1);
      cv::line(img, {lo, yMid - 4}, {lo, yMid + 4}, kTextColor, 1);
      cv::line(img, {hi, yMid - 4}, {hi, yMid + 4}, kTextColor, 1);
      end = b.value < 0 ? std::min(bx, lo) : std::max(bx, hi);
    }
    const int valueWidth = textSize(valueText[r], kTextScale).width;
    const int tx = b.value < 0 ? end - 5 - valueWidth : end + 5;
    drawText(img, valueText[r], tx, yMid + 5, kTextScale, kTextColor);
    drawText(img, b.label, kMargin + labelW - textSize(b.label, kTextScale).width, yMid + 5, kTextScale,
             b.others ? kMutedColor : kTextColor);
  }
  // The zero line last, over the bars' inner ends.
  cv::line(img, {int(std::lround(zeroX)), plotTop}, {int(std::lround(zeroX)), plotBottom}, kAxisColor, 1);
  return toImage(img);
}

std::vector<std::array<double, 2>> networkLayout(int n, int size) {
  const NetworkGeometry g(n, size);
  std::vector<std::array<double, 2>> centres;
  for (int i = 0; i < n; ++i)
    centres.push_back({g.cx + g.radius * std::cos(g.angle(i, n)), g.cy + g.radius * std::sin(g.angle(i, n))});
  return centres;
}

io::ImageU8 networkPlot(const std::vector<std::string>& labels, const std::vector<double>& values,
                        const std::vector<double>& interactions, const NetworkOptions& options) {
  const size_t n = values.size();
  if (n == 0) throw Error(ErrorCode::InvalidArgument, "network plot: no players");
  if (labels.size() != n)
    throw Error(ErrorCode::InvalidArgument, "network plot: " + std::to_string(labels.size()) + " labels for " +
                                                std::to_string(n) + " values");
  if (interactions.size() != n * n)
    throw Error(ErrorCode::InvalidArgument, "network plot: " + std::to_string(interactions.size()) +
                                                " interactions for " + std::to_string(n) + " x " +
                                                std::to_string(n) + " pairs");
  requireFinite(values, "network plot", "value");
  requireFinite(interactions, "network plot", "interaction");
  if (options.size < 400)
    throw Error(ErrorCode::InvalidArgument, "network plot: size " + std::to_string(options.size) + " is below 400");
  if (options.maxEdges < 0)
    throw Error(ErrorCode::InvalidArgument,
                "network plot: maxEdges " + std::to_string(options.maxEdges) + " is negative");

  const int S = options.size;
  const NetworkGeometry g(int(n), S);
  const auto centres = networkLayout(int(n), S);
  auto point = [&](size_t i) { return cv::Point(int(std::lround(centres[i][0])), int(std::lround(centres[i][1]))); };
  cv::Mat img(S, S, CV_8UC3, scalar(kChartBackground));
  drawTitle(img, options.title);

  // Edges: the strongest maxEdges nonzero pairs (ties by pair order), drawn weakest first so
  // that a strong edge is never hidden under a weak one.
  struct Edge {
    size_t i, j;
    double value;
  };
  std::vector<Edge> edges;
  for (size_t i = 0; i < n; ++i)
    for (size_t j = i + 1; j < n; ++j) {
      const double v = (interactions[i * n + j] + interactions[j * n + i]) / 2;
      if (v != 0) edges.push_back({i, j, v});
    }
  const size_t pairs = edges.size();
  std::stable_sort(edges.begin(), edges.end(),
                   [](const Edge& a, const Edge& b) { return std::abs(a.value) > std::abs(b.value); });
  if (edges.size() > size_t(options.maxEdges)) edges.resize(size_t(options.maxEdges));
  const double maxEdge = edges.empty() ? 0.0 : std::abs(edges.front().value);
  for (auto it = edges.rbegin(); it != edges.rend(); ++it) {
    const int width = std::clamp(int(std::lround(12 * std::abs(it->value) / maxEdge)), 1, 12);
    cv::line(img, point(it->i), point(it->j), signColor(it->value), width, cv::LINE_AA);
  }

  // Nodes: area ~ |phi|.
  double maxValue = 0;
  for (double v : values) maxValue = std::max(maxValue, std::abs(v));
  std::vector<int> nodeRadius(n);
  for (size_t i = 0; i < n; ++i) {
    const double share = maxValue > 0 ? std::sqrt(std::abs(values[i]) / maxValue) : 0.0;
    nodeRadius[i] = int(std::lround(g.minNode + (g.maxNode - g.minNode) * share));
    cv::circle(img, point(i), nodeRadius[i], signColor(values[i]), cv::FILLED, cv::LINE_AA);
    cv::circle(img, point(i), nodeRadius[i], kOutlineColor, 1, cv::LINE_AA);
  }

  // Labels just outside their node, on the side away from the centre (left-aligned on the
  // right, right-aligned on the left, centred at the top and bottom); smaller text when many
  // players share the circumference.
  const double labelScale = n > 24 ? 0.38 : kTextScale;
  for (size_t i = 0; i < n; ++i) {
    const double c = std::cos(g.angle(int(i), int(n))), s = std::sin(g.angle(int(i), int(n)));
    const double labelRadius = g.radius + nodeRadius[i] + 6;
    const int ax = int(std::lround(g.cx + labelRadius * c)), ay = int(std::lround(g.cy + labelRadius * s));
    const int room = c > 0.3    ? S - kMargin - ax
                     : c < -0.3 ? ax - kMargin
                                : 2 * std::min(ax - kMargin, S - kMargin - ax);
    const std::string t = fitText(asciiOnly(labels[i]), std::max(room, 0), labelScale);
    const cv::Size ts = textSize(t, labelScale);
    const int x = c > 0.3 ? ax : c < -0.3 ? ax - ts.width : ax - ts.width / 2;
    const int y = s > 0.3 ? ay + ts.height : s < -0.3 ? ay : ay + ts.height / 2;
    drawText(img, t, x, y, labelScale, kTextColor);
  }

  // Legend, two lines at the bottom: the sign colours, then what the sizes mean.
  int lx = kMargin + 6;
  for (const auto& [color, name] :
       {std::pair{kChartPositiveColor, "positive"}, std::pair{kChartNegativeColor, "negative"}}) {
    cv::circle(img, {lx, S - 36}, 6, scalar(color), cv::FILLED, cv::LINE_AA);
    drawText(img, name, lx + 11, S - 32, kTextScale, kTextColor);
    lx += 11 + textSize(name, kTextScale).width + 18;
  }
  const std::string legend = "node area ~ |value|, edge width ~ |interaction|; " + std::to_string(edges.size()) +
                             " of " + std::to_string(pairs) + " nonzero pairs drawn";
  drawText(img, fitText(legend, S - 2 * kMargin, kTextScale), kMargin, S - 12, kTextScale, kMutedColor);
  return toImage(img);
}

}  // namespace vlm::render
