#include "models/model_kind.h"

#include "common/error.h"
#include "io/json_util.h"

namespace vlm::models {

std::string describeFamily(ModelFamily family) {
  switch (family) {
    case ModelFamily::BlipCaption: return "BLIP image captioning model (BlipForConditionalGeneration)";
    case ModelFamily::BlipVqa: return "BLIP visual question answering model (BlipForQuestionAnswering)";
    case ModelFamily::Clip: return "CLIP image-text model (CLIPModel)";
  }
  return "model";
}

std::string commandsFor(ModelFamily family) {
  switch (family) {
    case ModelFamily::BlipCaption: return "caption, dump, tokenize, bench caption";
    case ModelFamily::BlipVqa: return "vqa, dump, tokenize, bench vqa";
    case ModelFamily::Clip: return "similarity, dump, tokenize, bench similarity";
  }
  return "";
}

namespace {

const char* kSupported =
    "VLMScope runs BlipForConditionalGeneration (captioning), BlipForQuestionAnswering (VQA) and CLIPModel checkpoints";

}  // namespace

ModelKind detectModelKind(const std::filesystem::path& dir) {
  const std::filesystem::path file = dir / "config.json";
  if (!std::filesystem::exists(file))
    throw Error(ErrorCode::NotFound, dir.string() + ": no config.json, so this is not a Hugging Face model folder", file.string());
  const nlohmann::json j = io::readJsonFile(file);
  const std::string where = file.string();
  ModelKind k;
  k.modelType = io::jsonGet<std::string>(j, "model_type", "", where);
  if (j.is_object() && j.contains("architectures")) {
    const auto archs = io::jsonGet<std::vector<std::string>>(j, "architectures", {}, where);
    if (!archs.empty()) k.architecture = archs.front();
  }
  if (k.modelType.empty())
    throw Error(ErrorCode::Corrupt, where + ": no 'model_type', so the model family is unknown (" + kSupported + ")", where);
  if (k.modelType == "blip") {
    if (k.architecture.empty() || k.architecture == "BlipForConditionalGeneration") {
      k.family = ModelFamily::BlipCaption;
      return k;
    }
    if (k.architecture == "BlipForQuestionAnswering") {
      k.family = ModelFamily::BlipVqa;
      return k;
    }
  } else if (k.modelType == "clip") {
    if (k.architecture.empty() || k.architecture == "CLIPModel") {
      k.family = ModelFamily::Clip;
      return k;
    }
  }
  throw Error(ErrorCode::Unsupported,
              where + ": model_type '" + k.modelType + "'" + (k.architecture.empty() ? "" : " (architecture " + k.architecture + ")") +
                  " is not supported; " + kSupported,
              where);
}

ModelKind requireModelFamily(const std::filesystem::path& dir, const std::vector<ModelFamily>& accepted,
                             const std::string& command) {
  const ModelKind k = detectModelKind(dir);
  for (ModelFamily f : accepted)
    if (f == k.family) return k;
  std::string wanted;
  for (size_t i = 0; i < accepted.size(); ++i) wanted += (i ? " or " : "") + describeFamily(accepted[i]);
  throw Error(ErrorCode::Unsupported,
              dir.string() + " is a " + describeFamily(k.family) + ", not a " + wanted + "; `vlmscope " + command +
                  "` cannot use it. This folder works with: " + commandsFor(k.family),
              (dir / "config.json").string());
}

}  // namespace vlm::models
