// vlmscope models list|download|verify: the checkpoints on this machine (bundled demo models,
// the Hugging Face cache) and the download of the real ones into that cache.
#include <QCoreApplication>

#include <cstdio>
#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "args.h"
#include "commands.h"
#include "common/error.h"
#include "common_options.h"
#include "hub_transport.h"
#include "io/hub_download.h"
#include "io/model_location.h"
#include "pipeline/model_catalog.h"

namespace vlm::cli {

namespace fs = std::filesystem;

namespace {

int list(int argc, char** argv) {
  Args args(argc, argv, 3, {}, {"json"});
  if (!args.positional().empty()) throw UsageError("models list takes no arguments");
  nlohmann::ordered_json out = nlohmann::ordered_json::array();
  for (const auto& e : modelCatalog()) {
    nlohmann::ordered_json m{{"name", e.name}, {"source", toString(e.source)}, {"kind", e.kind}};
    if (!e.path.empty()) m["path"] = e.path.string();
    if (!e.revision.empty()) m["revision"] = e.revision;
    if (e.source == ModelSource::Downloadable) m["download"] = "vlmscope models download " + e.downloadName;
    out.push_back(m);
  }
  if (args.flag("json")) {
    std::printf("%s\n", out.dump(1).c_str());
    return 0;
  }
  std::printf("Hugging Face cache: %s\n", io::huggingFaceHubCache().string().c_str());
  for (const auto& m : out) {
    const std::string where = m.contains("path") ? m["path"].get<std::string>() : m["download"].get<std::string>();
    std::printf("%-18s %-45s %s\n    %s\n", m["source"].get<std::string>().c_str(), m["name"].get<std::string>().c_str(),
                m["kind"].get<std::string>().c_str(), where.c_str());
  }
  return 0;
}

int download(int argc, char** argv) {
  Args args(argc, argv, 3, {"revision", "cache", "retries", "timeout", "endpoint"}, {"json"});
  if (args.positional().size() != 1) throw UsageError("models download expects one model: a known name or a hub id ORG/NAME");
  io::DownloadOptions o;
  o.model = args.positional()[0];
  o.revision = args.value("revision").value_or("main");
  if (auto c = args.value("cache")) o.cache = *c;
  if (auto e = args.value("endpoint")) o.endpoint = *e;
  o.retries = args.intValue("retries", 4, 0, 100);
  const double timeout = args.doubleValue("timeout", 30.0, 0.1, 3600.0);
  try {
    io::hubIdFor(o.model);  // an unknown name is a usage problem, reported before any network access
  } catch (const Error& e) {
    throw UsageError(e.what());
  }
  int appArgc = 1;
  QCoreApplication app(appArgc, argv);
  ui::QtHttpTransport transport(timeout);
  const JobContext job = terminalProgress();
  const io::DownloadReport r = io::downloadModel(o, transport, job);
  finishProgress();
  if (args.flag("json")) {
    nlohmann::ordered_json out;
    out["hub_id"] = r.hubId;
    out["revision"] = r.revision;
    out["commit"] = r.commit;
    out["snapshot"] = r.snapshot.string();
    out["bytes_transferred"] = r.bytesTransferred;
    out["files"] = nlohmann::ordered_json::array();
    for (const auto& f : r.files)
      out["files"].push_back({{"name", f.name}, {"size", f.size}, {"etag", f.etag}, {"already_present", f.alreadyPresent},
                              {"resumed_from", f.resumedFrom}, {"attempts", f.attempts}});
    std::printf("%s\n", out.dump(1).c_str());
    return 0;
  }
  for (const auto& f : r.files)
    std::printf("%-28s %12llu bytes  %s\n", f.name.c_str(), static_cast<unsigned long long>(f.size),
                f.alreadyPresent ? "already present, verified"
                                 : (f.resumedFrom > 0 ? ("resumed from byte " + std::to_string(f.resumedFrom) + ", verified").c_str() : "downloaded, verified"));
  std::printf("%s (%s) is in %s\nuse it with: vlmscope --model %s IMAGE\n", r.hubId.c_str(), r.commit.c_str(), r.snapshot.string().c_str(), r.hubId.c_str());
  return 0;
}

int verify(int argc, char** argv) {
  Args args(argc, argv, 3, {}, {"json"});
  std::vector<io::ModelLocation> targets;
  if (args.positional().empty()) {
    targets = io::listCachedModels();
  } else {
    for (const auto& spec : args.positional()) {
      std::string id = spec;
      try {
        id = io::hubIdFor(spec);
      } catch (const Error&) {
      }
      targets.push_back(io::resolveModel(id));
    }
  }
  nlohmann::ordered_json out = nlohmann::ordered_json::array();
  bool allOk = true;
  for (const auto& t : targets) {
    const auto files = io::verifyCachedSnapshot(t.dir);
    nlohmann::ordered_json entry{{"model", t.hubId.empty() ? t.dir.string() : t.hubId}, {"snapshot", t.dir.string()}, {"files", nlohmann::ordered_json::array()}};
    for (const auto& f : files) {
      entry["files"].push_back({{"name", f.name}, {"ok", f.ok}, {"problem", f.problem}});
      allOk = allOk && f.ok;
    }
    out.push_back(entry);
  }
  if (args.flag("json")) {
    std::printf("%s\n", out.dump(1).c_str());
  } else {
    if (targets.empty()) std::printf("no models in the Hugging Face cache (%s)\n", io::huggingFaceHubCache().string().c_str());
    for (const auto& e : out) {
      std::printf("%s\n", e["model"].get<std::string>().c_str());
      for (const auto& f : e["files"])
        std::printf("  %-28s %s\n", f["name"].get<std::string>().c_str(), f["ok"].get<bool>() ? "ok" : f["problem"].get<std::string>().c_str());
    }
  }
  if (!allOk) std::fprintf(stderr, "vlmscope models verify: some files do not match their checksums (download them again with vlmscope models download)\n");
  return allOk ? 0 : 1;
}

}  // namespace

int cmdModels(int argc, char** argv) {
  if (argc < 3) throw UsageError("models needs an action: list, download or verify");
  const std::string action = argv[2];
  if (action == "list") return list(argc, argv);
  if (action == "download") return download(argc, argv);
  if (action == "verify") return verify(argc, argv);
  throw UsageError("unknown models action '" + action + "' (list, download, verify)");
}

}  // namespace vlm::cli
