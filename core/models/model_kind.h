#pragma once
// What a checkpoint folder holds, from its config.json (`model_type` and `architectures`), so
// that every command can say clearly what a folder is and which commands accept it.

#include <filesystem>
#include <string>
#include <vector>

namespace vlm::models {

enum class ModelFamily {
  BlipCaption,  // BlipForConditionalGeneration (Salesforce/blip-image-captioning-*)
  BlipVqa,      // BlipForQuestionAnswering (Salesforce/blip-vqa-*)
  Clip,         // CLIPModel (openai/clip-vit-*)
};

struct ModelKind {
  ModelFamily family = ModelFamily::BlipCaption;
  std::string modelType;     // config.json model_type
  std::string architecture;  // config.json architectures[0] ("" when absent)
};

// "BLIP image captioning model (BlipForConditionalGeneration)" and the like.
std::string describeFamily(ModelFamily family);
// The vlmscope subcommands that accept a folder of this family, e.g. "caption, dump, tokenize, bench caption".
std::string commandsFor(ModelFamily family);

// Reads `dir`/config.json. A BLIP config without `architectures` is taken as captioning (what
// transformers' BlipForConditionalGeneration.from_pretrained would do). Errors: NotFound (no
// config.json), Corrupt (not JSON, no model_type), Unsupported (a model type or architecture
// VLMScope does not run, with the list of what it runs).
ModelKind detectModelKind(const std::filesystem::path& dir);

// Throws Unsupported unless `dir` holds one of `accepted`: "DIR is a CLIP image-text model
// (CLIPModel), not a BLIP image captioning model; `vlmscope caption` needs ... ; this folder
// works with: similarity, dump, tokenize, bench similarity".
ModelKind requireModelFamily(const std::filesystem::path& dir, const std::vector<ModelFamily>& accepted,
                             const std::string& command);

}  // namespace vlm::models
