#include "session/report.h"

#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "common/error.h"
#include "io/image.h"
#include "pipeline/counterfactual.h"
#include "render/charts.h"
#include "render/colormap.h"

namespace vlm::session {

namespace {

using nlohmann::json;

std::string pngUri(const io::ImageU8& image) { return "data:image/png;base64," + base64(render::encodePng(image)); }

// width="..." for a picture: 256 to 480 px on the page (small images enlarged, large ones
// reduced; browsers keep the aspect ratio).
std::string pictureWidth(int width) { return " width=\"" + std::to_string(std::clamp(width, 256, 480)) + "\""; }

std::string mimeOf(const std::string& bytes) {
  if (bytes.rfind("\x89PNG", 0) == 0) return "image/png";
  if (bytes.rfind("\xff\xd8", 0) == 0) return "image/jpeg";
  if (bytes.rfind("BM", 0) == 0) return "image/bmp";
  if (bytes.size() > 12 && bytes.compare(0, 4, "RIFF") == 0 && bytes.compare(8, 4, "WEBP") == 0) return "image/webp";
  return {};
}

std::string number(double v, int digits = 4) {
  if (!std::isfinite(v)) return std::isnan(v) ? "NaN" : (v > 0 ? "inf" : "-inf");
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*g", digits, v);
  return buf;
}

std::string jsonValueText(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_float()) return number(v.get<double>(), 6);
  return v.dump();
}

std::string keyValueTable(const json& object) {
  if (!object.is_object() || object.empty()) return {};
  std::string out = "<table class=\"kv\">";
  for (const auto& [k, v] : object.items()) out += "<tr><th>" + htmlEscape(k) + "</th><td>" + htmlEscape(jsonValueText(v)) + "</td></tr>";
  return out + "</table>\n";
}

// The tokens with the explained one marked; the special [DEC] / [SEP] / [CLS] pieces dimmed.
std::string tokenLine(const Run& r) {
  std::string out = "<p class=\"tokens\">";
  for (size_t i = 0; i < r.tokens.size(); ++i) {
    const std::string& t = r.tokens[i];
    const bool special = t.size() > 2 && t.front() == '[' && t.back() == ']';
    const std::string cls = int(i) == r.explainedToken ? "tok explained" : (special ? "tok special" : "tok");
    out += "<span class=\"" + cls + "\" title=\"token " + std::to_string(i) + "\">" + htmlEscape(t) + "</span> ";
  }
  return out + "</p>\n";
}

std::string colourBar(const std::string& colormapName, float lo, float hi) {
  const auto cm = render::parseColormap(colormapName).value_or(render::Colormap::Viridis);
  std::vector<float> ramp(256);
  for (int i = 0; i < 256; ++i) ramp[size_t(i)] = float(i) / 255.0f;
  const io::ImageU8 strip = render::heatmapImage(ramp.data(), 256, 1, cm);
  io::ImageU8 bar{256, 14, {}};
  for (int y = 0; y < 14; ++y) bar.rgb.insert(bar.rgb.end(), strip.rgb.begin(), strip.rgb.end());
  return "<div class=\"colourbar\"><span>" + number(lo) + "</span><img alt=\"colour bar\" width=\"256\" height=\"14\" src=\"" + pngUri(bar) + "\"><span>" + number(hi) +
         "</span></div>\n";
}

std::string wordDiffHtml(const std::string& before, const std::string& after) {
  std::string out = "<p class=\"diff\">";
  for (const auto& c : wordDiff(before, after)) {
    const std::string w = htmlEscape(c.word);
    if (c.op == WordChange::Op::Kept) out += w + " ";
    else if (c.op == WordChange::Op::Removed) out += "<del>" + w + "</del> ";
    else out += "<ins>" + w + "</ins> ";
  }
  return out + "</p>\n";
}

io::ImageU8 withMasks(io::ImageU8 image, const std::vector<Rect>& masks) {
  cv::Mat m(image.height, image.width, CV_8UC3, image.rgb.data());
  const int thickness = std::max(2, std::min(image.width, image.height) / 150);
  for (const auto& r : masks) {
    cv::rectangle(m, cv::Rect(r.x, r.y, r.width, r.height), cv::Scalar(0, 0, 0), cv::FILLED);
    cv::rectangle(m, cv::Rect(r.x, r.y, r.width, r.height), cv::Scalar(255, 220, 0), thickness);
  }
  return image;
}

const char* kStyle = R"(
body { font-family: sans-serif; max-width: 1000px; margin: 2em auto; color: #222; line-height: 1.45; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; } h2 { font-size: 1.25em; border-bottom: 1px solid #ccc; margin-top: 2em; }
.meta { color: #666; font-size: 0.9em; } img.picture { max-width: 480px; max-height: 480px; image-rendering: auto; }
.pictures { display: flex; gap: 1em; flex-wrap: wrap; align-items: flex-start; } figure { margin: 0; } figcaption { font-size: 0.85em; color: #555; }
table { border-collapse: collapse; margin: 0.5em 0; } td, th { border: 1px solid #ddd; padding: 2px 8px; text-align: left; font-size: 0.9em; }
table.kv th { background: #f4f4f4; font-weight: normal; } .num { text-align: right; font-family: monospace; }
.tok { padding: 1px 3px; border-radius: 3px; background: #eef; } .tok.special { color: #999; background: #f6f6f6; }
.tok.explained { background: #ffb020; font-weight: bold; } .caption { font-size: 1.15em; }
.colourbar { display: flex; align-items: center; gap: 6px; font-size: 0.8em; } .colourbar img { width: 256px; height: 14px; }
del { background: #fdd; color: #a00; } ins { background: #dfd; color: #060; text-decoration: none; }
.pos { color: #b00; } .neg { color: #00b; } footer { margin-top: 3em; color: #888; font-size: 0.85em; }
)";

}  // namespace

std::string base64(std::string_view in) {
  static const char* table = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const uint32_t v = uint32_t(uint8_t(in[i])) << 16 | uint32_t(uint8_t(in[i + 1])) << 8 | uint8_t(in[i + 2]);
    out += table[v >> 18];
    out += table[(v >> 12) & 63];
    out += table[(v >> 6) & 63];
    out += table[v & 63];
  }
  if (i + 1 == in.size()) {
    const uint32_t v = uint32_t(uint8_t(in[i])) << 16;
    out += table[v >> 18];
    out += table[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == in.size()) {
    const uint32_t v = uint32_t(uint8_t(in[i])) << 16 | uint32_t(uint8_t(in[i + 1])) << 8;
    out += table[v >> 18];
    out += table[(v >> 12) & 63];
    out += table[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

std::string htmlEscape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      switch (c) {
        case '&': out += "&amp;"; break;
        case '<': out += "&lt;"; break;
        case '>': out += "&gt;"; break;
        case '"': out += "&quot;"; break;
        case '\'': out += "&#39;"; break;
        default:
          if (c < 0x20 && c != '\n' && c != '\t') out += "&#xFFFD;";
          else out += char(c);
      }
      ++i;
      continue;
    }
    // A well-formed UTF-8 sequence passes as it is; anything else becomes U+FFFD.
    const int length = c >= 0xf0 ? (c <= 0xf4 ? 4 : 0) : c >= 0xe0 ? 3 : c >= 0xc2 ? 2 : 0;
    bool ok = length > 0 && i + size_t(length) <= s.size();
    for (int k = 1; ok && k < length; ++k) ok = (static_cast<unsigned char>(s[i + size_t(k)]) & 0xc0) == 0x80;
    if (ok) {
      out.append(s.substr(i, size_t(length)));
      i += size_t(length);
    } else {
      out += "&#xFFFD;";
      ++i;
    }
  }
  return out;
}

std::string reportHtml(const Session& s, const ReportOptions& o) {
  const std::string title = o.title.empty() ? "VLMScope report - " + s.imageName : o.title;
  std::string h;
  h += "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
  h += "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src data:; style-src 'unsafe-inline'\">\n";
  h += "<meta name=\"generator\" content=\"VLMScope " VLM_VERSION "\">\n";
  h += "<title>" + htmlEscape(title) + "</title>\n<style>" + kStyle + "</style>\n</head>\n<body>\n";
  h += "<h1>" + htmlEscape(title) + "</h1>\n";
  h += "<p class=\"meta\">Report written by VLMScope " VLM_VERSION " from a session saved by " + htmlEscape(s.createdBy.empty() ? "?" : s.createdBy) +
       " (session format " + std::to_string(s.version) + ").</p>\n";

  // The image, and the image with the masks drawn.
  io::ImageU8 image;
  std::string imageProblem;
  if (!s.imageBytes.empty()) {
    try {
      image = io::decodeImage({reinterpret_cast<const uint8_t*>(s.imageBytes.data()), s.imageBytes.size()});
    } catch (const Error& e) {
      imageProblem = e.what();
    }
  }
  h += "<h2>Image</h2>\n<p>" + htmlEscape(s.imageName) + (image.empty() ? "" : " - " + std::to_string(image.width) + " x " + std::to_string(image.height) + " px") +
       "<br><span class=\"meta\">sha256 " + htmlEscape(s.imageSha256) + "</span></p>\n<div class=\"pictures\">";
  if (!image.empty()) {
    const std::string mime = mimeOf(s.imageBytes);
    const std::string src = mime.empty() ? pngUri(image) : "data:" + mime + ";base64," + base64(s.imageBytes);
    h += "<figure><img class=\"picture\" alt=\"the image\"" + pictureWidth(image.width) + " src=\"" + src + "\"><figcaption>the image</figcaption></figure>";
    if (!s.masks.empty())
      h += "<figure><img class=\"picture\" alt=\"masks\"" + pictureWidth(image.width) + " src=\"" + pngUri(withMasks(image, s.masks)) + "\"><figcaption>" +
           std::to_string(s.masks.size()) + " mask(s) drawn</figcaption></figure>";
  } else {
    h += "<p>The image is not in the session" + (imageProblem.empty() ? std::string() : " in a readable form (" + htmlEscape(imageProblem) + ")") + ".</p>";
  }
  h += "</div>\n";
  if (!s.masks.empty()) {
    h += "<table><tr><th>mask</th><th>x</th><th>y</th><th>width</th><th>height</th></tr>";
    for (size_t i = 0; i < s.masks.size(); ++i)
      h += "<tr><td>" + std::to_string(i + 1) + "</td><td class=\"num\">" + std::to_string(s.masks[i].x) + "</td><td class=\"num\">" +
           std::to_string(s.masks[i].y) + "</td><td class=\"num\">" + std::to_string(s.masks[i].width) + "</td><td class=\"num\">" +
           std::to_string(s.masks[i].height) + "</td></tr>";
    h += "</table>\n";
  }

  h += "<h2>Models and settings</h2>\n<table><tr><th>role</th><th>model</th><th>config.json sha256</th><th>weights fingerprint</th></tr>";
  for (const auto& m : s.models)
    h += "<tr><td>" + htmlEscape(m.role) + "</td><td>" + htmlEscape(m.spec) + "</td><td class=\"num\">" + htmlEscape(m.configSha256.substr(0, 16)) +
         "</td><td class=\"num\">" + htmlEscape(m.weightsFingerprint.substr(0, 16)) + "</td></tr>";
  h += "</table>\n";
  if (!s.decoding.empty()) h += "<p>Decoding:</p>" + keyValueTable(s.decoding);

  double total = 0;
  for (size_t i = 0; i < s.runs.size(); ++i) {
    const Run& r = s.runs[i];
    total += r.seconds;
    h += "<h2>" + std::to_string(i + 1) + ". " + htmlEscape(r.title.empty() ? r.kind : r.title) + "</h2>\n";
    h += "<p class=\"meta\">" + htmlEscape(r.kind) + (r.seconds > 0 ? " - " + number(r.seconds, 3) + " s" : std::string()) + "</p>\n";
    if (!r.question.empty()) h += "<p>Question: <q>" + htmlEscape(r.question) + "</q></p>\n";
    if (!r.text.empty()) h += "<p class=\"caption\">" + htmlEscape(r.text) + "</p>\n";
    if (!r.tokens.empty()) h += tokenLine(r);
    h += keyValueTable(r.parameters);
    if (r.map && !r.map->values.empty()) {
      const auto [lo, hi] = std::minmax_element(r.map->values.begin(), r.map->values.end());
      std::vector<float> normalised(r.map->values.size());
      const float range = *hi - *lo;
      for (size_t k = 0; k < normalised.size(); ++k) normalised[k] = range > 0 ? (r.map->values[k] - *lo) / range : 0.0f;
      const auto cm = render::parseColormap(o.colormap).value_or(render::Colormap::Viridis);
      h += "<div class=\"pictures\">";
      if (!image.empty()) {
        render::OverlayOptions ov;
        ov.colormap = cm;
        ov.alpha = float(std::clamp(o.opacity, 0.0, 1.0));
        h += "<figure><img class=\"picture\" alt=\"map over the image\"" + pictureWidth(image.width) + " src=\"" +
             pngUri(render::overlayHeatmap(image, normalised.data(), r.map->width, r.map->height, ov)) + "\"><figcaption>the map over the image (" +
             std::to_string(r.map->width) + " x " + std::to_string(r.map->height) + " values)</figcaption></figure>";
      } else {
        h += "<figure><img class=\"picture\" alt=\"map\" src=\"" + pngUri(render::heatmapImage(normalised.data(), r.map->width, r.map->height, cm)) +
             "\"><figcaption>the map</figcaption></figure>";
      }
      h += "</div>\n" + colourBar(o.colormap, *lo, *hi);
    }
    if (!r.values.empty()) {
      std::vector<std::string> labels;
      std::vector<double> values;
      bool finite = true;
      for (const auto& v : r.values) {
        labels.push_back(v.name);
        values.push_back(v.value);
        finite = finite && std::isfinite(v.value);
      }
      const bool similarities = r.kind == "clip";
      if (!similarities && finite) {
        render::BarChartOptions bo;
        bo.title = "Shapley values";
        bo.width = 800;
        h += "<figure><img alt=\"Shapley values (bar chart)\" width=\"640\" src=\"" + pngUri(render::barChart(labels, values, {}, bo)) + "\"></figure>\n";
      }
      h += std::string("<table><tr><th>") + (similarities ? "text" : "feature") + "</th><th>" + (similarities ? "similarity" : "value") + "</th></tr>";
      for (const auto& v : r.values)
        h += "<tr><td>" + htmlEscape(v.name) + "</td><td class=\"num " + (v.value >= 0 ? "pos" : "neg") + "\">" + number(v.value, 5) + "</td></tr>";
      h += "</table>\n";
    }
    if (!r.masks.empty() && !image.empty())
      h += "<figure><img class=\"picture\" alt=\"masks of this run\"" + pictureWidth(image.width) + " src=\"" + pngUri(withMasks(image, r.masks)) + "\"><figcaption>hidden for this run</figcaption></figure>\n";
    if (!r.regenerated.empty() || r.kind == "regenerate") {
      h += "<p>Before: " + htmlEscape(r.text) + "<br>After: " + htmlEscape(r.regenerated) + "</p>\n";
      h += wordDiffHtml(r.text, r.regenerated);
    }
    if (!r.metrics.empty()) h += "<p>Faithfulness:</p>" + keyValueTable(r.metrics);
  }
  h += "<footer>" + std::to_string(s.runs.size()) + " run(s), " + number(total, 3) + " s of computation. Made with VLMScope " VLM_VERSION ".</footer>\n";
  h += "</body>\n</html>\n";
  return h;
}

}  // namespace vlm::session
