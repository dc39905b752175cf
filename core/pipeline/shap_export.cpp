#include "pipeline/shap_export.h"

#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>

#include "common/error.h"
#include "io/files.h"
#include "io/npy.h"
#include "render/charts.h"
#include "render/colormap.h"

namespace vlm {

namespace {

std::vector<float> toFloat(const std::vector<double>& v) { return std::vector<float>(v.begin(), v.end()); }

// Column k of a row-major [rows x cols] matrix.
std::vector<double> column(const std::vector<double>& m, int rows, int cols, int k) {
  std::vector<double> out(size_t(rows), 0.0);
  if (m.empty()) return out;
  for (int r = 0; r < rows; ++r) out[size_t(r)] = m[size_t(r) * cols + k];
  return out;
}

// A colour per feature, far apart in hue (golden-angle steps).
std::array<uint8_t, 3> featureColour(int i) {
  cv::Mat hsv(1, 1, CV_8UC3, cv::Scalar(double((i * 69) % 180), 200, 230)), rgb;
  cv::cvtColor(hsv, rgb, cv::COLOR_HSV2RGB);
  const cv::Vec3b c = rgb.at<cv::Vec3b>(0, 0);
  return {c[0], c[1], c[2]};
}

}  // namespace

nlohmann::ordered_json describeShapley(const ShapResult& r) {
  const int f = r.count(), k = r.outputs();
  nlohmann::ordered_json j;
  j["features"] = {{"kind", r.featureKind}, {"description", r.features}, {"count", f}, {"labels", r.featureLabels},
                   {"patches", r.featurePatches}, {"input_size", r.side}, {"grid_side", r.gridSide}};
  j["value"] = r.value;
  j["estimator"] = r.estimator;
  j["masker"] = r.masker;
  j["exact"] = r.exact;
  j["converged"] = r.converged;
  j["evaluations"] = r.evaluations;
  j["cache_hits"] = r.cacheHits;
  j["forward_passes"] = r.forwardPasses;
  j["samples"] = r.samples;
  j["seconds"] = r.seconds;
  j["model_seconds"] = r.modelSeconds;
  j["evaluations_per_second"] = r.seconds > 0 ? double(r.evaluations) / r.seconds : 0.0;
  nlohmann::ordered_json outs = nlohmann::ordered_json::array();
  for (int o = 0; o < k; ++o) {
    const std::vector<double> v = column(r.values, f, k, o), se = column(r.stderrs, f, k, o);
    double sum = 0;
    for (double x : v) sum += x;
    nlohmann::ordered_json oj{{"label", r.outputLabels[size_t(o)]}};
    if (size_t(o) < r.info.maps.size()) {
      oj["token"] = r.info.maps[size_t(o)].token;
      oj["position"] = r.info.maps[size_t(o)].position;
    }
    oj["v_empty"] = r.emptyValue[size_t(o)];
    oj["v_full"] = r.fullValue[size_t(o)];
    oj["sum_of_values"] = sum;
    oj["values"] = v;
    oj["stderrs"] = se;
    if (!r.interactions.empty()) {
      std::vector<std::vector<double>> m(size_t(f), std::vector<double>(size_t(f), 0.0));
      for (int a = 0; a < f; ++a)
        for (int b = 0; b < f; ++b) m[size_t(a)][size_t(b)] = r.interactions[(size_t(a) * f + b) * k + o];
      oj["interactions"] = m;
      oj["ksii_single"] = column(r.ksiiSingle, f, k, o);
    }
    outs.push_back(oj);
  }
  j["outputs"] = outs;
  return j;
}

io::ImageU8 featureImage(const ShapResult& r, const io::ImageU8& image) {
  const vision::InputGeometry& geo = *r.info.geometry;
  const int s = r.side, w = image.width, h = image.height;
  // Which feature (lowest index) holds each input pixel; -1 none.
  std::vector<int> label(size_t(s) * s, -1);
  for (int i = r.count() - 1; i >= 0; --i)
    for (size_t px = 0; px < label.size(); ++px)
      if (r.featureMasks[size_t(i)][px]) label[px] = i;
  std::vector<int> onImage(size_t(w) * h, -1);
  for (int y = 0; y < h; ++y) {
    const int v = int(std::floor(geo.toInputY(y + 0.5)));
    for (int x = 0; x < w; ++x) {
      const int u = int(std::floor(geo.toInputX(x + 0.5)));
      if (u >= 0 && v >= 0 && u < s && v < s) onImage[size_t(y) * w + x] = label[size_t(v) * s + u];
    }
  }
  io::ImageU8 out = image;
  std::vector<std::array<uint8_t, 3>> colours;  // one per feature, not one HSV conversion per pixel
  for (int i = 0; i < r.count(); ++i) colours.push_back(featureColour(i));
  std::vector<double> cx(size_t(r.count()), 0), cy(size_t(r.count()), 0), n(size_t(r.count()), 0);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      const int l = onImage[size_t(y) * w + x];
      uint8_t* p = out.pixel(x, y);
      if (l < 0) {
        for (int c = 0; c < 3; ++c) p[c] = uint8_t(p[c] / 3);
        continue;
      }
      const auto& col = colours[size_t(l)];
      const bool border = (x + 1 < w && onImage[size_t(y) * w + x + 1] != l) || (y + 1 < h && onImage[size_t(y + 1) * w + x] != l);
      for (int c = 0; c < 3; ++c) p[c] = border ? 255 : uint8_t(0.55 * p[c] + 0.45 * col[size_t(c)]);
      cx[size_t(l)] += x;
      cy[size_t(l)] += y;
      n[size_t(l)] += 1;
    }
  cv::Mat m(h, w, CV_8UC3, out.rgb.data());
  const double scale = std::clamp(std::min(w, h) / 600.0, 0.35, 1.2);
  for (int i = 0; i < r.count(); ++i) {
    if (n[size_t(i)] == 0) continue;
    const cv::Point at(int(cx[size_t(i)] / n[size_t(i)]) - int(8 * scale), int(cy[size_t(i)] / n[size_t(i)]) + int(6 * scale));
    cv::putText(m, std::to_string(i), at, cv::FONT_HERSHEY_SIMPLEX, scale, cv::Scalar(0, 0, 0), 3, cv::LINE_AA);
    cv::putText(m, std::to_string(i), at, cv::FONT_HERSHEY_SIMPLEX, scale, cv::Scalar(255, 255, 255), 1, cv::LINE_AA);
  }
  return out;
}

nlohmann::ordered_json writeShap(const std::filesystem::path& dir, const ShapResult& r, const io::ImageU8& image,
                                 const ExportOptions& options) {
  nlohmann::ordered_json j = writeExplanation(dir, r.info, image, options);
  const int f = r.count(), k = r.outputs();
  j["shapley"] = describeShapley(r);
  io::writeNpy(dir / "values.npy", toFloat(r.values).data(), {f, k});
  io::writeNpy(dir / "stderrs.npy", toFloat(r.stderrs).data(), {f, k});
  std::vector<float> masks;
  masks.reserve(size_t(f) * r.side * r.side);
  for (const auto& m : r.featureMasks) masks.insert(masks.end(), m.begin(), m.end());
  io::writeNpy(dir / "feature_masks.npy", masks.data(), {f, r.side, r.side});
  render::writePng(dir / "features.png", featureImage(r, image));
  nlohmann::ordered_json files{{"values", "values.npy"}, {"stderrs", "stderrs.npy"}, {"feature_masks", "feature_masks.npy"},
                               {"features_png", "features.png"}};
  nlohmann::ordered_json bars = nlohmann::ordered_json::array(), networks = nlohmann::ordered_json::array();
  for (int o = 0; o < k; ++o) {
    const ExplainedMap& map = r.info.maps[size_t(o)];
    const std::string stem = mapFileStem(map);
    render::BarChartOptions bo;
    bo.title = r.estimator + " Shapley values, " + r.value + ": " + (map.token.empty() ? map.label : map.label + " '" + map.token + "'");
    std::vector<std::string> labels;
    for (int i = 0; i < f; ++i) labels.push_back(std::to_string(i) + " " + r.featureLabels[size_t(i)]);
    render::writePng(dir / ("bars_" + stem + ".png"), render::barChart(labels, column(r.values, f, k, o), column(r.stderrs, f, k, o), bo));
    bars.push_back("bars_" + stem + ".png");
    if (!r.interactions.empty()) {
      std::vector<double> m(size_t(f) * f);
      for (size_t a = 0; a < size_t(f) * f; ++a) m[a] = r.interactions[a * k + o];
      render::NetworkOptions no;
      no.title = "pairwise Shapley interactions, " + (map.token.empty() ? map.label : map.label + " '" + map.token + "'");
      render::writePng(dir / ("network_" + stem + ".png"), render::networkPlot(labels, column(r.values, f, k, o), m, no));
      networks.push_back("network_" + stem + ".png");
    }
  }
  files["bar_charts"] = bars;
  if (!networks.empty()) files["networks"] = networks;
  j["shapley"]["files"] = files;
  io::writeFileAtomic(dir / "shap.json", j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
  return j;
}

}  // namespace vlm
