// vlmscope dump: a captioning pass's intermediates (and Grad-CAM gradients) to safetensors.
#include <cstdio>
#include <sstream>

#include "commands.h"
#include "common_options.h"
#include "io/image.h"
#include "io/model_location.h"
#include "models/model_kind.h"
#include "pipeline/dump.h"
#include "pipeline/similarity_dump.h"

namespace vlm::cli {

namespace {
std::vector<int64_t> parseIds(const std::string& s) {
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
      throw UsageError("--ids expects comma-separated non-negative integers, got '" + part + "'");
    }
  }
  if (ids.size() < 2) throw UsageError("--ids needs at least two ids (the first is normally [DEC])");
  return ids;
}
}  // namespace

// CLIP: dump --model M --image IMAGE --text T1 [--text T2 ...] [--grad-text K] --out F
int dumpSimilarity(int argc, char** argv) {
  std::set<std::string> valued = kModelOptionNames;
  valued.insert({"image", "out", "text", "grad-text"});
  Args args(argc, argv, 2, valued, {"ignore-exif"});
  if (!args.positional().empty()) throw UsageError("unexpected argument '" + args.positional()[0] + "'");
  const std::vector<std::string> texts = args.values("text");
  if (texts.empty()) throw UsageError("a CLIP dump needs one or more --text");
  const int gradText = args.intValue("grad-text", 0, 0, int(texts.size()) - 1);
  const std::string out = args.required("out");
  const std::string image = args.required("image");
  ModelOptions mo = modelOptionsFrom(args);
  if (mo.dtype != ComputeDType::Float32) throw UsageError("dump runs in float32 (the parity reference)");
  const auto model = SimilarityModel::load(args.required("model"), mo);
  io::ImageLoadOptions load;
  load.applyExifOrientation = !args.flag("ignore-exif");
  const SimilarityDumpSummary s = writeSimilarityDump(*model, io::loadImage(image, load), texts, gradText, out);
  std::fprintf(stderr, "wrote %zu tensors to %s (cosine with text %d: %.6f)\n", s.tensors, out.c_str(), gradText, s.cosine);
  return 0;
}

int cmdDump(int argc, char** argv) {
  if (auto spec = peekOptionValue(argc, argv, 2, "model");
      spec && models::detectModelKind(io::resolveModel(*spec).dir).family == models::ModelFamily::Clip)
    return dumpSimilarity(argc, argv);
  std::set<std::string> valued = kModelOptionNames;
  valued.insert({"image", "out", "ids", "target-pos", "prompt", "beams", "max-length", "min-length", "repetition-penalty", "no-repeat-ngram"});
  Args args(argc, argv, 2, valued, {"ignore-exif"});
  if (!args.positional().empty()) throw UsageError("unexpected argument '" + args.positional()[0] + "'");
  DumpOptions o;
  if (auto ids = args.value("ids")) o.ids = parseIds(*ids);
  o.targetPos = args.intValue("target-pos", 1, 1, 1 << 20);
  o.greedy = captionOptionsFrom(args);
  const std::string out = args.required("out");
  const std::string image = args.required("image");
  ModelOptions mo = modelOptionsFrom(args);
  if (mo.dtype != ComputeDType::Float32) throw UsageError("dump runs in float32 (the parity reference)");
  const auto captioner = Captioner::load(args.required("model"), mo);
  io::ImageLoadOptions load;
  load.applyExifOrientation = !args.flag("ignore-exif");
  const DumpSummary s = writeCaptionDump(*captioner, io::loadImage(image, load), o, out);
  std::fprintf(stderr, "wrote %zu tensors to %s (ids:", s.tensors, out.c_str());
  for (auto id : s.ids) std::fprintf(stderr, " %lld", static_cast<long long>(id));
  std::fprintf(stderr, "; Y = %.6f)\n", s.y);
  return 0;
}

}  // namespace vlm::cli
