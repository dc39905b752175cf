#pragma once
// Where a model given on the command line (or picked in the GUI) lives: a checkpoint folder,
// or a Hugging Face hub id resolved in the user's Hugging Face cache, the layout the
// `huggingface_hub` library writes: HUB/models--ORG--NAME/{refs/main, snapshots/REV/...}.

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace vlm::io {

struct ModelLocation {
  std::filesystem::path dir;  // the folder holding config.json and the weights
  std::string hubId;          // "Salesforce/blip-image-captioning-base" when resolved from the cache
  std::string revision;       // snapshot hash when resolved from the cache
};

// The hub cache folder: $HF_HUB_CACHE, else $HUGGINGFACE_HUB_CACHE (legacy), else
// $HF_HOME/hub, else $XDG_CACHE_HOME/huggingface/hub, else ~/.cache/huggingface/hub.
std::filesystem::path huggingFaceHubCache();

// True for strings shaped like a hub id: ORG/NAME (letters, digits, '-', '_', '.'),
// optionally followed by @REVISION.
bool looksLikeHubId(const std::string& spec);

// Resolves `spec`: an existing folder is used as it is; otherwise a hub id is looked up in
// the cache (following refs/main, or refs/REVISION / snapshots/REVISION for ID@REVISION).
// Errors (vlm::Error NotFound) say what was looked for and where, and for hub ids give the
// `huggingface-cli download` command that would fetch the model.
ModelLocation resolveModel(const std::string& spec);

// Every model snapshot present in the cache, as (hub id, snapshot folder).
std::vector<ModelLocation> listCachedModels();

}  // namespace vlm::io
