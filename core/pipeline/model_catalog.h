#pragma once
// The models on this machine and the ones that can be fetched, for `vlmscope models list` and the
// model manager dialog: the bundled demo models, every snapshot in the Hugging Face cache, and
// the known real checkpoints not downloaded yet.

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "models/model_kind.h"

namespace vlm {

enum class ModelSource { Bundled, HuggingFaceCache, Downloadable };
const char* toString(ModelSource source);  // "bundled", "huggingface-cache", "downloadable"

struct CatalogEntry {
  std::string name;                   // folder name (bundled) or hub id
  ModelSource source = ModelSource::Bundled;
  std::filesystem::path path;         // the folder to load (empty for Downloadable)
  std::string revision;               // cached snapshot's commit
  std::string kind;                   // "BLIP image captioning model (...)", or why it does not load
  std::optional<models::ModelFamily> family;  // absent when the folder does not load
  std::string downloadName;           // the name for `vlmscope models download` (known checkpoints)
};

// Bundled models first (by name), then the cache (by hub id), then the known checkpoints that
// are not in the cache.
std::vector<CatalogEntry> modelCatalog();

}  // namespace vlm
