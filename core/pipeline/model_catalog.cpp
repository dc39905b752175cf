#include "pipeline/model_catalog.h"

#include <algorithm>

#include "common/error.h"
#include "io/hub_download.h"
#include "io/model_location.h"
#include "runtime/runtime.h"

namespace vlm {

namespace fs = std::filesystem;

namespace {

void describe(CatalogEntry& e) {
  try {
    e.family = models::detectModelKind(e.path).family;
    e.kind = models::describeFamily(*e.family);
  } catch (const Error& err) {
    e.kind = std::string("does not load: ") + err.what();
  }
}

std::optional<models::ModelFamily> familyOfKnown(const std::string& kind) {
  if (kind == "BLIP VQA") return models::ModelFamily::BlipVqa;
  if (kind == "CLIP") return models::ModelFamily::Clip;
  return models::ModelFamily::BlipCaption;
}

}  // namespace

const char* toString(ModelSource source) {
  switch (source) {
    case ModelSource::Bundled: return "bundled";
    case ModelSource::HuggingFaceCache: return "huggingface-cache";
    case ModelSource::Downloadable: return "downloadable";
  }
  return "?";
}

std::vector<CatalogEntry> modelCatalog() {
  std::vector<CatalogEntry> out;
  std::error_code ec;
  std::vector<fs::path> bundled;
  for (const auto& e : fs::directory_iterator(runtime::resourceDir() / "models", ec))
    if (e.is_directory() && fs::exists(e.path() / "config.json", ec)) bundled.push_back(e.path());
  std::sort(bundled.begin(), bundled.end());
  for (const auto& dir : bundled) {
    CatalogEntry e{dir.filename().string(), ModelSource::Bundled, dir, {}, {}, {}, {}};
    describe(e);
    out.push_back(std::move(e));
  }
  auto cached = io::listCachedModels();
  std::sort(cached.begin(), cached.end(), [](const auto& a, const auto& b) { return a.hubId < b.hubId; });
  for (const auto& m : cached) {
    CatalogEntry e{m.hubId, ModelSource::HuggingFaceCache, m.dir, m.revision, {}, {}, {}};
    for (const auto& k : io::knownModels())
      if (k.hubId == m.hubId) e.downloadName = k.name;
    describe(e);
    out.push_back(std::move(e));
  }
  for (const auto& k : io::knownModels()) {
    if (std::any_of(cached.begin(), cached.end(), [&](const io::ModelLocation& m) { return m.hubId == k.hubId; })) continue;
    out.push_back(CatalogEntry{k.hubId, ModelSource::Downloadable, {}, {}, k.kind, familyOfKnown(k.kind), k.name});
  }
  return out;
}

}  // namespace vlm
