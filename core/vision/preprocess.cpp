#include "vision/preprocess.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <limits>

#include "common/error.h"
#include "io/files.h"
#include "vision/resize.h"

// Bit-exactness with numpy needs plain IEEE arithmetic: no fused multiply-add.
#pragma STDC FP_CONTRACT OFF
#if defined(__clang__)
#pragma clang fp contract(off)
#endif

namespace vlm::vision {

using Kind = ImageProcessorConfig::Kind;
using nlohmann::json;

ImageProcessorConfig ImageProcessorConfig::blipDefaults() {
  ImageProcessorConfig c;
  c.kind = Kind::Blip;
  c.resizeHeight = c.resizeWidth = 384;
  c.doCenterCrop = false;
  return c;
}

ImageProcessorConfig ImageProcessorConfig::clipDefaults() {
  ImageProcessorConfig c;
  c.kind = Kind::Clip;
  c.shortestEdge = 224;
  c.doCenterCrop = true;
  c.cropHeight = c.cropWidth = 224;
  return c;
}

namespace {

[[noreturn]] void invalid(const std::string& name, const std::string& what) {
  throw Error(ErrorCode::InvalidArgument, name + ": " + what, name);
}

// Python truthiness of a JSON value used as a flag (None -> False).
bool flag(const json& j, const char* key, bool fallback, const std::string& name) {
  const auto it = j.find(key);
  if (it == j.end()) return fallback;
  if (it->is_null()) return false;
  if (it->is_boolean()) return it->get<bool>();
  if (it->is_number_integer()) return it->get<int64_t>() != 0;
  if (it->is_number_float()) return it->get<double>() != 0.0;
  invalid(name, std::string("\"") + key + "\" must be true or false");
}

int positiveInt(const json& v, const std::string& what, const std::string& name) {
  if (!v.is_number_integer() || v.get<int64_t>() < 1 || v.get<int64_t>() > 1'000'000)
    invalid(name, what + " must be a positive integer, not " + v.dump());
  return static_cast<int>(v.get<int64_t>());
}

// get_size_dict(): an int, a [height, width] pair, or a dict with one of HF's valid key sets.
// Returns the dict as (key -> value).
std::map<std::string, int> sizeDict(const json& v, bool defaultToSquare, const std::string& key,
                                    const std::string& name) {
  std::map<std::string, int> d;
  if (v.is_number_integer()) {
    const int s = positiveInt(v, "\"" + key + "\"", name);
    if (defaultToSquare) d = {{"height", s}, {"width", s}};
    else d = {{"shortest_edge", s}};
  } else if (v.is_array()) {
    if (v.size() != 2) invalid(name, "\"" + key + "\" must be [height, width]");
    d = {{"height", positiveInt(v[0], "\"" + key + "\"[0]", name)},
         {"width", positiveInt(v[1], "\"" + key + "\"[1]", name)}};
  } else if (v.is_object()) {
    for (const auto& [k, x] : v.items()) d[k] = positiveInt(x, "\"" + key + "\"." + k, name);
    static const std::vector<std::vector<std::string>> valid = {
        {"height", "width"}, {"shortest_edge"}, {"longest_edge", "shortest_edge"}, {"longest_edge"},
        {"max_height", "max_width"}};
    std::vector<std::string> keys;
    for (const auto& [k, x] : d) keys.push_back(k);  // sorted (std::map)
    if (std::find(valid.begin(), valid.end(), keys) == valid.end())
      invalid(name, "\"" + key + "\" has keys " + v.dump() +
                        "; expected {height, width}, {shortest_edge}, {shortest_edge, longest_edge}, "
                        "{longest_edge} or {max_height, max_width}");
  } else {
    invalid(name, "\"" + key + "\" must be an integer, [height, width] or a dict, not " + v.dump());
  }
  return d;
}

std::array<float, 3> meanOrStd(const json& v, const char* key, const std::string& name) {
  std::array<float, 3> out{};
  if (v.is_number()) {
    out.fill(static_cast<float>(v.get<double>()));
  } else if (v.is_array() && v.size() == 3 && v[0].is_number() && v[1].is_number() && v[2].is_number()) {
    for (int c = 0; c < 3; ++c) out[c] = static_cast<float>(v[c].get<double>());  // np.array(.., float32)
  } else {
    invalid(name, std::string("\"") + key + "\" must be 3 numbers (one per RGB channel), not " + v.dump());
  }
  for (int c = 0; c < 3; ++c)
    if (!std::isfinite(out[c])) invalid(name, std::string("\"") + key + "\" must be finite");
  return out;
}

std::optional<Kind> kindFromClassName(std::string cls, const std::string& name) {
  if (const auto p = cls.find("FeatureExtractor"); p != std::string::npos)
    cls.replace(p, std::string("FeatureExtractor").size(), "ImageProcessor");
  if (cls == "BlipImageProcessor") return Kind::Blip;
  if (cls == "CLIPImageProcessor") return Kind::Clip;
  throw Error(ErrorCode::Unsupported,
              name + ": image processor " + cls + " is not supported (BlipImageProcessor, CLIPImageProcessor)", name);
}

int floorDiv2(int a) { return a >= 0 ? a / 2 : -((-a + 1) / 2); }

}  // namespace

ImageProcessorConfig parseImageProcessorConfigJson(const std::string& text, std::optional<Kind> fallbackKind,
                                                   const std::string& name) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    std::string what = e.what();
    if (const auto nl = what.find('\n'); nl != std::string::npos) what.resize(nl);
    throw Error(ErrorCode::Corrupt, name + ": not valid JSON: " + what, name);
  }
  if (!j.is_object()) throw Error(ErrorCode::Corrupt, name + ": expected a JSON object", name);

  // Which processor (AutoImageProcessor: image_processor_type, else feature_extractor_type with
  // FeatureExtractor -> ImageProcessor; processor_class is a hint the hub files also carry).
  std::optional<Kind> kind;
  for (const char* key : {"image_processor_type", "feature_extractor_type"}) {
    const auto it = j.find(key);
    if (it != j.end() && it->is_string()) {
      kind = kindFromClassName(it->get<std::string>(), name);
      break;
    }
  }
  if (!kind) {
    if (const auto it = j.find("processor_class"); it != j.end() && it->is_string()) {
      const std::string pc = it->get<std::string>();
      if (pc == "BlipProcessor") kind = Kind::Blip;
      else if (pc == "CLIPProcessor") kind = Kind::Clip;
    }
  }
  if (!kind) kind = fallbackKind;
  if (!kind)
    throw Error(ErrorCode::InvalidArgument,
                name + ": cannot tell which image processor this is (no image_processor_type)", name);

  ImageProcessorConfig c = *kind == Kind::Blip ? ImageProcessorConfig::blipDefaults() : ImageProcessorConfig::clipDefaults();
  c.doResize = flag(j, "do_resize", true, name);
  c.doRescale = flag(j, "do_rescale", true, name);
  c.doNormalize = flag(j, "do_normalize", true, name);
  c.doConvertRgb = flag(j, "do_convert_rgb", true, name);
  c.doCenterCrop = *kind == Kind::Clip && flag(j, "do_center_crop", true, name);

  // size
  if (const auto it = j.find("size"); it != j.end() && !it->is_null()) {
    const auto d = sizeDict(*it, *kind == Kind::Blip, "size", name);
    c.resizeHeight = c.resizeWidth = c.shortestEdge = 0;
    if (d.count("height")) {
      c.resizeHeight = d.at("height");
      c.resizeWidth = d.at("width");
    } else if (*kind == Kind::Clip && d.count("shortest_edge")) {
      c.shortestEdge = d.at("shortest_edge");
    } else if (c.doResize) {
      invalid(name, *kind == Kind::Blip ? "\"size\" must have height and width for BlipImageProcessor"
                                        : "\"size\" must contain either shortest_edge or height and width");
    }
  }
  if (*kind == Kind::Clip && flag(j, "use_square_size", false, name)) {
    if (c.shortestEdge <= 0) invalid(name, "use_square_size needs \"size\": {\"shortest_edge\": ...}");
    c.resizeHeight = c.resizeWidth = c.shortestEdge;
    c.shortestEdge = 0;
  }

  // crop_size (CLIP only; BlipImageProcessor has no crop step)
  if (*kind == Kind::Clip) {
    if (const auto it = j.find("crop_size"); it != j.end() && !it->is_null()) {
      const auto d = sizeDict(*it, true, "crop_size", name);
      if (!d.count("height")) {
        if (c.doCenterCrop) invalid(name, "\"crop_size\" must have height and width");
      } else {
        c.cropHeight = d.at("height");
        c.cropWidth = d.at("width");
      }
    }
  }

  // resample: a PIL.Image.Resampling value; None makes transformers' resize() use BILINEAR.
  if (const auto it = j.find("resample"); it != j.end()) {
    if (it->is_null()) {
      c.resample = static_cast<int>(Resample::Bilinear);
    } else if (it->is_number_integer()) {
      const int64_t r = it->get<int64_t>();
      if (r < 0 || r > 5 || !resampleName(static_cast<int>(r)))
        throw Error(ErrorCode::Unsupported,
                    name + ": resample " + it->dump() + " is not a Pillow filter (0 nearest, 1 lanczos, 2 bilinear, "
                           "3 bicubic, 4 box, 5 hamming)", name);
      c.resample = static_cast<int>(r);
    } else {
      invalid(name, "\"resample\" must be an integer, not " + it->dump());
    }
  }

  if (const auto it = j.find("rescale_factor"); it != j.end()) {
    if (it->is_number()) {
      c.rescaleFactor = it->get<double>();
      if (!std::isfinite(c.rescaleFactor)) invalid(name, "\"rescale_factor\" must be finite");
    } else if (!it->is_null() || c.doRescale) {
      invalid(name, "\"rescale_factor\" must be a number, not " + it->dump());
    }
  }
  for (const char* key : {"image_mean", "image_std"}) {
    const auto it = j.find(key);
    if (it == j.end()) continue;
    if (it->is_null()) {
      if (c.doNormalize) invalid(name, std::string("\"") + key + "\" is null but do_normalize is true");
      continue;
    }
    (std::string(key) == "image_mean" ? c.mean : c.std) = meanOrStd(*it, key, name);
  }
  return c;
}

ImageProcessorConfig parseImageProcessorConfig(const std::filesystem::path& file, std::optional<Kind> fallbackKind) {
  return parseImageProcessorConfigJson(io::readFile(file), fallbackKind, file.string());
}

std::array<int, 2> resizedSize(const ImageProcessorConfig& config, int width, int height) {
  if (config.kind == Kind::Clip && config.shortestEdge > 0 && !(config.resizeHeight > 0 && config.resizeWidth > 0)) {
    // get_resize_output_image_size(default_to_square=False)
    const int s = config.shortestEdge;
    const bool portrait = width <= height;
    const int64_t shortSide = portrait ? width : height, longSide = portrait ? height : width;
    const int newLong = static_cast<int>(static_cast<double>(int64_t(s) * longSide) / static_cast<double>(shortSide));
    return portrait ? std::array<int, 2>{newLong, s} : std::array<int, 2>{s, newLong};
  }
  if (config.resizeHeight > 0 && config.resizeWidth > 0) return {config.resizeHeight, config.resizeWidth};
  throw Error(ErrorCode::InvalidArgument, "image processor config: no resize size (height/width or shortest_edge)");
}

std::array<std::array<float, 256>, 3> valueTable(const ImageProcessorConfig& config) {
  std::array<std::array<float, 256>, 3> t{};
  for (int c = 0; c < 3; ++c) {
    for (int v = 0; v < 256; ++v) {
      // rescale: image.astype(float64) * scale, then .astype(float32)
      float x = config.doRescale ? static_cast<float>(static_cast<double>(v) * config.rescaleFactor)
                                 : static_cast<float>(v);
      // normalize: (image - mean) / std, all float32
      if (config.doNormalize) x = (x - config.mean[c]) / config.std[c];
      t[c][v] = x;
    }
  }
  return t;
}

Preprocessed preprocess(const io::ImageU8& rgb, const ImageProcessorConfig& config) {
  if (rgb.empty() || rgb.rgb.size() != static_cast<size_t>(rgb.width) * rgb.height * 3)
    throw Error(ErrorCode::InvalidArgument, "preprocess: the input image is empty or malformed");
  Preprocessed r;
  if (config.doResize) {
    const auto [h, w] = resizedSize(config, rgb.width, rgb.height);
    if (h < 1 || w < 1)
      throw Error(ErrorCode::InvalidArgument, "preprocess: a " + std::to_string(rgb.width) + " x " +
                                                  std::to_string(rgb.height) + " image resizes to an empty size");
    r.resized = resizePillow(rgb, w, h, config.resample);
  } else {
    r.resized = rgb;
  }
  const io::ImageU8& src = r.resized;
  int H = src.height, W = src.width, top = 0, left = 0;
  if (config.kind == Kind::Clip && config.doCenterCrop) {
    if (config.cropHeight < 1 || config.cropWidth < 1)
      throw Error(ErrorCode::InvalidArgument, "preprocess: center crop without a crop size");
    H = config.cropHeight;
    W = config.cropWidth;
    top = floorDiv2(src.height - H);
    left = floorDiv2(src.width - W);
  }
  r.cropTop = top;
  r.cropLeft = left;
  r.height = H;
  r.width = W;
  const auto table = valueTable(config);
  const size_t plane = static_cast<size_t>(H) * W;
  r.pixelValues.resize(3 * plane);
  // Columns of the output that fall inside `src` (the rest is zero padding).
  const int x0 = std::clamp(-left, 0, W), x1 = std::clamp(src.width - left, 0, W);
  for (int y = 0; y < H; ++y) {
    const int sy = y + top;
    float* out[3];
    for (int c = 0; c < 3; ++c) out[c] = r.pixelValues.data() + c * plane + static_cast<size_t>(y) * W;
    if (sy < 0 || sy >= src.height) {
      for (int c = 0; c < 3; ++c) std::fill(out[c], out[c] + W, table[c][0]);
      continue;
    }
    for (int c = 0; c < 3; ++c) {
      std::fill(out[c], out[c] + x0, table[c][0]);
      std::fill(out[c] + x1, out[c] + W, table[c][0]);
    }
    if (x1 <= x0) continue;
    const uint8_t* p = src.pixel(x0 + left, sy);
    for (int x = x0; x < x1; ++x, p += 3) {
      out[0][x] = table[0][p[0]];
      out[1][x] = table[1][p[1]];
      out[2][x] = table[2][p[2]];
    }
  }
  return r;
}

}  // namespace vlm::vision
