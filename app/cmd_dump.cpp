// vlmscope dump: one pass's intermediates to safetensors, for the model family the folder
// holds: captioning (and its Grad-CAM gradients), VQA, or CLIP (and its cosine gradients).
#include <cstdio>
#include <sstream>

#include "commands.h"
#include "common/error.h"
#include "common_options.h"
#include "io/image.h"
#include "io/model_location.h"
#include "models/model_kind.h"
#include "pipeline/dump.h"
#include "pipeline/similarity_dump.h"

namespace vlm::cli {

namespace {

// Options that only one family takes: given to the other, they are a usage error.
void refuseOptions(const Args& args, std::initializer_list<const char*> names, const std::string& why) {
  // (values() also catches repeated options such as --text)
  for (const char* n : names)
    if (!args.values(n).empty()) throw UsageError("--" + std::string(n) + " " + why);
}

void printSummary(const DumpSummary& s, const std::string& out, const char* yName) {
  std::fprintf(stderr, "wrote %zu tensors to %s (ids:", s.tensors, out.c_str());
  for (auto id : s.ids) std::fprintf(stderr, " %lld", static_cast<long long>(id));
  std::fprintf(stderr, "; %s = %.6f)\n", yName, s.y);
}

int dumpCaption(const Args& args, const std::string& model, const io::ImageU8& image, const ModelOptions& mo, const std::string& out) {
  refuseOptions(args, {"question", "answer-ids"}, "is for VQA models; this folder holds a captioning model");
  refuseOptions(args, {"text", "grad-text"}, "is for CLIP models; this folder holds a captioning model");
  DumpOptions o;
  if (auto ids = args.value("ids")) o.ids = parseIds(*ids, "ids");
  o.targetPos = args.intValue("target-pos", 1, 1, 1 << 20);
  o.greedy = captionOptionsFrom(args);
  const auto captioner = Captioner::load(model, mo);
  printSummary(writeCaptionDump(*captioner, image, o, out), out, "Y");
  return 0;
}

int dumpVqa(const Args& args, const std::string& model, const io::ImageU8& image, const ModelOptions& mo, const std::string& out) {
  refuseOptions(args, {"ids", "target-pos", "prompt"}, "is for captioning models; this folder holds a VQA model (use --answer-ids)");
  refuseOptions(args, {"text", "grad-text"}, "is for CLIP models; this folder holds a VQA model (use --question)");
  VqaDumpOptions o;
  o.question = args.required("question");
  if (auto ids = args.value("answer-ids")) o.answerIds = parseIds(*ids, "answer-ids");
  o.greedy = vqaOptionsFrom(args);
  const auto answerer = QuestionAnswerer::load(model, mo);
  printSummary(writeVqaDump(*answerer, image, o, out), out, "answer log-prob");
  return 0;
}

int dumpSimilarity(const Args& args, const std::string& model, const io::ImageU8& image, const ModelOptions& mo, const std::string& out) {
  refuseOptions(args, {"ids", "target-pos", "prompt", "question", "answer-ids"}, "is for BLIP models; this folder holds a CLIP model (use --text)");
  const std::vector<std::string> texts = args.values("text");
  if (texts.empty()) throw UsageError("a CLIP dump needs one or more --text");
  const int gradText = args.intValue("grad-text", 0, 0, int(texts.size()) - 1);
  const auto clip = SimilarityModel::load(model, mo);
  const SimilarityDumpSummary s = writeSimilarityDump(*clip, image, texts, gradText, out);
  std::fprintf(stderr, "wrote %zu tensors to %s (cosine with text %d: %.6f)\n", s.tensors, out.c_str(), gradText, s.cosine);
  return 0;
}

}  // namespace

int cmdDump(int argc, char** argv) {
  std::set<std::string> valued = kModelOptionNames;
  valued.insert(kDecodingOptionNames.begin(), kDecodingOptionNames.end());
  valued.insert({"image", "out", "ids", "target-pos", "prompt", "question", "answer-ids", "text", "grad-text"});
  Args args(argc, argv, 2, valued, {"ignore-exif"});
  if (!args.positional().empty()) throw UsageError("unexpected argument '" + args.positional()[0] + "'");
  const std::string model = args.required("model");
  const std::string out = args.required("out");
  const std::string imageFile = args.required("image");
  const ModelOptions mo = modelOptionsFrom(args);
  if (mo.dtype != ComputeDType::Float32) throw UsageError("dump runs in float32 (the parity reference)");
  const models::ModelKind kind = models::detectModelKind(io::resolveModel(model).dir);
  switch (kind.family) {
    case models::ModelFamily::BlipCaption:
      return dumpCaption(args, model, io::loadImage(imageFile, imageLoadOptionsFrom(args)), mo, out);
    case models::ModelFamily::BlipVqa:
      return dumpVqa(args, model, io::loadImage(imageFile, imageLoadOptionsFrom(args)), mo, out);
    case models::ModelFamily::Clip:
      return dumpSimilarity(args, model, io::loadImage(imageFile, imageLoadOptionsFrom(args)), mo, out);
  }
  throw Error(ErrorCode::Unsupported, model + ": dump does not know this model family");
}

}  // namespace vlm::cli
