// vlmscope caption: captions of one or more images with a BLIP captioning checkpoint.
#include <cstdio>
#include <string>

#include <nlohmann/json.hpp>

#include "commands.h"
#include "common/error.h"
#include "common_options.h"
#include "io/image.h"

namespace vlm::cli {

int cmdCaption(int argc, char** argv) {
  std::set<std::string> valued = kModelOptionNames;
  valued.insert(kDecodingOptionNames.begin(), kDecodingOptionNames.end());
  valued.insert("prompt");
  Args args(argc, argv, 2, valued, {"ignore-exif", "json"});
  if (args.positional().empty()) throw UsageError("no image given");
  const CaptionOptions options = captionOptionsFrom(args);
  const auto captioner = Captioner::load(args.required("model"), modelOptionsFrom(args));
  const io::ImageLoadOptions load = imageLoadOptionsFrom(args);
  const bool json = args.flag("json");
  nlohmann::ordered_json out = nlohmann::ordered_json::array();
  int failures = 0;
  const bool many = args.positional().size() > 1;
  for (const auto& path : args.positional()) {
    try {
      const CaptionResult r = captioner->caption(io::loadImage(path, load), options);
      if (json) {
        nlohmann::ordered_json o{{"image", path}, {"caption", r.caption}, {"ids", r.ids}, {"tokens", r.tokens}};
        if (r.sequenceScore) o["sequence_score"] = *r.sequenceScore;
        out.push_back(o);
      } else if (many) {
        std::printf("%s\t%s\n", path.c_str(), r.caption.c_str());
      } else {
        std::printf("%s\n", r.caption.c_str());
      }
    } catch (const Error& e) {
      if (e.code() == ErrorCode::Cancelled) throw;
      ++failures;
      std::fprintf(stderr, "vlmscope caption: %s\n", e.what());
      if (json) out.push_back({{"image", path}, {"error", e.what()}});
    }
  }
  if (json) {  // one object per line, inside a JSON array
    std::printf("[");
    for (size_t i = 0; i < out.size(); ++i)
      std::printf("%s\n%s", i ? "," : "", out[i].dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    std::printf("%s]\n", out.empty() ? "" : "\n");
  }
  return failures ? 1 : 0;
}

}  // namespace vlm::cli
