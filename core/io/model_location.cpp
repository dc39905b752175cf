#include "io/model_location.h"

#include <cstdlib>
#include <fstream>
#include <regex>

#include "common/error.h"
#include "io/files.h"

namespace vlm::io {

namespace fs = std::filesystem;

namespace {

std::string readRef(const fs::path& file) {
  std::ifstream in(file);
  std::string s;
  std::getline(in, s);
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

std::string downloadHint(const std::string& id, const std::string& revision) {
  const std::string rev = revision.empty() ? "" : " --revision " + revision;
  return "download it with: vlmscope models download " + id + rev + " (or huggingface-cli download " + id + rev + ")";
}

}  // namespace

fs::path huggingFaceHubCache() {
  if (auto v = environmentValue("HF_HUB_CACHE"); !v.empty()) return v;
  if (auto v = environmentValue("HUGGINGFACE_HUB_CACHE"); !v.empty()) return v;
  if (auto v = environmentValue("HF_HOME"); !v.empty()) return fs::path(v) / "hub";
  if (auto v = environmentValue("XDG_CACHE_HOME"); !v.empty()) return fs::path(v) / "huggingface" / "hub";
  const std::string home = environmentValue("HOME");
  return fs::path(home.empty() ? "/" : home) / ".cache" / "huggingface" / "hub";
}

bool looksLikeHubId(const std::string& spec) {
  static const std::regex re(R"(^[A-Za-z0-9][A-Za-z0-9_.\-]*/[A-Za-z0-9][A-Za-z0-9_.\-]*(@[A-Za-z0-9_.\-/]+)?$)");
  return std::regex_match(spec, re) && spec.find("..") == std::string::npos;
}

ModelLocation resolveModel(const std::string& spec) {
  std::error_code ec;
  if (spec.empty()) throw Error(ErrorCode::InvalidArgument, "no model given");
  if (fs::is_directory(spec, ec)) return ModelLocation{fs::path(spec), {}, {}};
  if (fs::exists(spec, ec))
    throw Error(ErrorCode::InvalidArgument, "model '" + spec + "' is a file; give the checkpoint folder that holds config.json", spec);
  if (!looksLikeHubId(spec))
    throw Error(ErrorCode::NotFound, "model folder '" + spec + "' does not exist", spec);

  std::string id = spec, revision;
  if (auto at = spec.find('@'); at != std::string::npos) {
    id = spec.substr(0, at);
    revision = spec.substr(at + 1);
  }
  const fs::path cache = huggingFaceHubCache();
  const auto slash = id.find('/');
  const fs::path repo = cache / ("models--" + id.substr(0, slash) + "--" + id.substr(slash + 1));
  const std::string notThere = "model '" + spec + "' is neither a folder nor in the Hugging Face cache (" + repo.string() + "); ";
  if (!fs::is_directory(repo, ec)) throw Error(ErrorCode::NotFound, notThere + downloadHint(id, revision), spec);

  const std::string ref = revision.empty() ? "main" : revision;
  std::string snapshot;
  if (fs::exists(repo / "refs" / ref, ec)) snapshot = readRef(repo / "refs" / ref);
  else if (!revision.empty() && fs::is_directory(repo / "snapshots" / revision, ec)) snapshot = revision;
  if (snapshot.empty()) {
    // No ref: a lone snapshot is unambiguous.
    std::vector<std::string> snaps;
    for (const auto& e : fs::directory_iterator(repo / "snapshots", ec))
      if (e.is_directory()) snaps.push_back(e.path().filename().string());
    if (revision.empty() && snaps.size() == 1) snapshot = snaps.front();
    else
      throw Error(ErrorCode::NotFound, "model '" + spec + "': the cache folder " + repo.string() + " has no " +
                  (revision.empty() ? "refs/main" : "revision " + revision) + "; " + downloadHint(id, revision), spec);
  }
  const fs::path dir = repo / "snapshots" / snapshot;
  if (!fs::is_directory(dir, ec))
    throw Error(ErrorCode::NotFound, "model '" + spec + "': snapshot " + snapshot + " named by the cache's refs is missing (" + dir.string() + "); " + downloadHint(id, revision), spec);
  if (!fs::exists(dir / "config.json", ec))
    throw Error(ErrorCode::NotFound, "model '" + spec + "': the cached snapshot " + dir.string() + " has no config.json (incomplete download?); " + downloadHint(id, revision), spec);
  return ModelLocation{dir, id, snapshot};
}

std::vector<ModelLocation> listCachedModels() {
  std::vector<ModelLocation> out;
  std::error_code ec;
  const fs::path cache = huggingFaceHubCache();
  for (const auto& e : fs::directory_iterator(cache, ec)) {
    const std::string name = e.path().filename().string();
    if (!e.is_directory() || name.rfind("models--", 0) != 0) continue;
    std::string id = name.substr(8);
    const auto sep = id.find("--");
    if (sep == std::string::npos) continue;
    id = id.substr(0, sep) + "/" + id.substr(sep + 2);
    try {
      out.push_back(resolveModel(id));
    } catch (const Error&) {
      // incomplete downloads are not listed
    }
  }
  return out;
}

}  // namespace vlm::io
