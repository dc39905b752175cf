// vlmscope similarity: how well texts describe an image, with a CLIP checkpoint.
#include <cstdio>
#include <string>

#include <nlohmann/json.hpp>

#include "commands.h"
#include "common_options.h"
#include "io/image.h"
#include "pipeline/similarity.h"

namespace vlm::cli {

int cmdSimilarity(int argc, char** argv) {
  std::set<std::string> valued = kModelOptionNames;
  valued.insert({"image", "text"});
  Args args(argc, argv, 2, valued, {"ignore-exif", "json"});
  if (!args.positional().empty()) throw UsageError("unexpected argument '" + args.positional()[0] + "' (texts go after --text)");
  const std::string image = args.required("image");
  const std::vector<std::string> texts = args.values("text");
  if (texts.empty()) throw UsageError("no --text given (one or more: --text T1 --text T2 ...)");
  const auto model = SimilarityModel::load(args.required("model"), modelOptionsFrom(args));
  io::ImageLoadOptions load;
  load.applyExifOrientation = !args.flag("ignore-exif");
  const SimilarityResult r = model->score(io::loadImage(image, load), texts);
  for (size_t i = 0; i < texts.size(); ++i)
    if (r.truncated[i])
      std::fprintf(stderr, "vlmscope similarity: note: text %zu has more than %zu tokens and was truncated as CLIPProcessor does\n", i,
                   r.ids[i].size());
  if (args.flag("json")) {
    const nlohmann::ordered_json o{{"image", image}, {"texts", texts}, {"cosine", r.cosine}, {"logits_per_image", r.logitsPerImage}, {"probs", r.probs}};
    std::printf("%s\n", o.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    return 0;
  }
  std::printf("%8s  %8s  %8s  text\n", "prob", "logit", "cosine");
  for (size_t i = 0; i < texts.size(); ++i)
    std::printf("%8.4f  %8.3f  %8.4f  %s\n", r.probs[i], r.logitsPerImage[i], r.cosine[i], texts[i].c_str());
  return 0;
}

}  // namespace vlm::cli
