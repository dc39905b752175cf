// vlmscope vqa: the answer of a BLIP VQA checkpoint to a question about an image.
#include <cstdio>
#include <string>

#include <nlohmann/json.hpp>

#include "commands.h"
#include "common_options.h"
#include "io/image.h"

namespace vlm::cli {

int cmdVqa(int argc, char** argv) {
  std::set<std::string> valued = kModelOptionNames;
  valued.insert(kDecodingOptionNames.begin(), kDecodingOptionNames.end());
  valued.insert({"image", "question"});
  Args args(argc, argv, 2, valued, {"ignore-exif", "json"});
  if (!args.positional().empty()) throw UsageError("unexpected argument '" + args.positional()[0] + "' (give the image with --image)");
  const std::string model = args.required("model"), image = args.required("image"), question = args.required("question");
  const VqaOptions options = vqaOptionsFrom(args);
  const auto answerer = QuestionAnswerer::load(model, modelOptionsFrom(args));
  const VqaResult r = answerer->answer(io::loadImage(image, imageLoadOptionsFrom(args)), question, options);
  if (args.flag("json")) {
    nlohmann::ordered_json o{{"image", image}, {"question", question}, {"answer", r.answer}, {"ids", r.ids}, {"tokens", r.tokens}};
    if (r.sequenceScore) o["sequence_score"] = *r.sequenceScore;
    std::printf("%s\n", o.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
  } else {
    std::printf("%s\n", r.answer.c_str());
  }
  return 0;
}

}  // namespace vlm::cli
