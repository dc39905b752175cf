#include "common_options.h"

#include <cstdio>
#include <sstream>

#include <unistd.h>

#include "common/error.h"
#include "io/model_location.h"
#include "runtime/runtime.h"

namespace vlm::cli {

ModelOptions modelOptionsFrom(const Args& args) {
  runtime::setThreads(args.intValue("threads", 0, 0, 1024));
  ModelOptions o;
  if (auto d = args.value("dtype")) {
    auto parsed = parseComputeDType(*d);
    if (!parsed) throw UsageError("--dtype must be float32 or bfloat16, got '" + *d + "'");
    o.dtype = *parsed;
  }
  if (auto d = args.value("device")) o.device = *d;
  return o;
}

DecodingOptions decodingOptionsFrom(const Args& args) {
  DecodingOptions o;
  o.numBeams = args.intValue("beams", 1, 1, 64);
  o.maxLength = args.intValue("max-length", 20, 2, 512);
  o.minLength = args.intValue("min-length", 0, 0, 512);
  o.repetitionPenalty = args.doubleValue("repetition-penalty", 1.0, 1e-6, 1e6);
  o.noRepeatNgramSize = args.intValue("no-repeat-ngram", 0, 0, 64);
  return o;
}

CaptionOptions captionOptionsFrom(const Args& args) {
  CaptionOptions o;
  static_cast<DecodingOptions&>(o) = decodingOptionsFrom(args);
  if (auto p = args.value("prompt")) o.prompt = *p;
  return o;
}

VqaOptions vqaOptionsFrom(const Args& args) {
  VqaOptions o;
  static_cast<DecodingOptions&>(o) = decodingOptionsFrom(args);
  return o;
}

std::vector<int64_t> parseIds(const std::string& s, const std::string& option) {
  std::vector<int64_t> ids;
  std::stringstream in(s);
  std::string part;
  while (std::getline(in, part, ',')) {
    try {
      size_t used = 0;
      const long long v = std::stoll(part, &used);
      if (used != part.size() || v < 0) throw std::invalid_argument(part);
      ids.push_back(v);
    } catch (const std::exception&) {
      throw UsageError("--" + option + " expects comma-separated non-negative integers, got '" + part + "'");
    }
  }
  if (ids.size() < 2) throw UsageError("--" + option + " needs at least two ids (the first is normally [DEC])");
  return ids;
}

io::ImageLoadOptions imageLoadOptionsFrom(const Args& args) {
  io::ImageLoadOptions load;
  load.applyExifOrientation = !args.flag("ignore-exif");
  return load;
}

render::OverlayOptions overlayFrom(const Args& args) {
  render::OverlayOptions o;
  if (auto c = args.value("colormap")) {
    auto m = render::parseColormap(*c);
    if (!m) throw UsageError("--colormap must be viridis, inferno, jet or gray, got '" + *c + "'");
    o.colormap = *m;
  }
  o.alpha = float(args.doubleValue("alpha", 0.5, 0, 1));
  o.contour = args.flag("contour");
  return o;
}

std::pair<explain::MaskerKind, explain::MaskerOptions> maskerFrom(const Args& args) {
  const std::string name = args.value("masker").value_or("constant");
  const auto masker = explain::parseMasker(name);
  if (!masker) throw UsageError("--masker must be constant, blur, telea, ns or patch, got '" + name + "'");
  explain::MaskerOptions mo;
  if (auto c = args.value("color")) {
    const vision::PixelRect rgb = [&] {
      try {
        return explain::parseRect(*c + ",0");
      } catch (const Error&) {
        throw UsageError("--color must be R,G,B (0..255), got '" + *c + "'");
      }
    }();
    for (int v : {rgb.x, rgb.y, rgb.width})
      if (v < 0 || v > 255) throw UsageError("--color must be R,G,B (0..255), got '" + *c + "'");
    mo.color = std::array<uint8_t, 3>{uint8_t(rgb.x), uint8_t(rgb.y), uint8_t(rgb.width)};
  }
  mo.blurSigma = args.doubleValue("blur-sigma", 0, 0, 1e4);
  mo.inpaintRadius = args.doubleValue("inpaint-radius", 5, 0.5, 1000);
  return {*masker, mo};
}

models::ModelFamily familyOf(const std::string& model) { return models::detectModelKind(io::resolveModel(model).dir).family; }

JobContext terminalProgress() {
  if (!::isatty(2)) return {};
  return JobContext({}, [](double f, std::string_view stage) {
    std::fprintf(stderr, "\r[%3d%%] %-60.60s", int(f * 100), std::string(stage).c_str());
    std::fflush(stderr);
  });
}

void finishProgress() {
  if (::isatty(2)) std::fprintf(stderr, "\r%70s\r", "");
}

void printJson(const nlohmann::ordered_json& j) {
  std::printf("%s\n", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
}

}  // namespace vlm::cli
