#include "common_options.h"

#include <sstream>

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

}  // namespace vlm::cli
