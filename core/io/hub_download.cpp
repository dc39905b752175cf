#include "io/hub_download.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <regex>
#include <thread>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "io/files.h"
#include "io/model_location.h"
#include "io/sha256.h"

namespace vlm::io {

namespace fs = std::filesystem;

namespace {

bool isHex(const std::string& s, size_t length) {
  return s.size() == length && std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

// Percent-encodes everything but unreserved characters and '/'.
std::string urlPath(const std::string& s) {
  std::string out;
  char buf[4];
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || c == '/') out += char(c);
    else {
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

fs::path repoFolder(const fs::path& cache, const std::string& id) {
  const auto slash = id.find('/');
  return cache / ("models--" + id.substr(0, slash) + "--" + id.substr(slash + 1));
}

std::string megabytes(uint64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f MB", double(bytes) / 1e6);
  return buf;
}

// Waits `seconds`, returning early (by throwing Cancelled) when the job is cancelled.
void pause(double seconds, const JobContext& job) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < end) {
    job.throwIfCancelled();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  job.throwIfCancelled();
}

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};

// The file's checksum against the hub's: empty when it matches, else what is wrong.
std::string checkBlob(const fs::path& file, const HubFile& expected, const JobContext& job) {
  std::error_code ec;
  const auto size = fs::file_size(file, ec);
  if (ec) return "missing";
  if (size != expected.size) return "size " + std::to_string(size) + " bytes, the hub says " + std::to_string(expected.size);
  if (!expected.sha256.empty()) {
    const std::string got = sha256FileHex(file, &job);
    if (got != expected.sha256) return "sha256 " + got + ", the hub says " + expected.sha256;
  } else if (!expected.blobId.empty()) {
    const std::string got = gitBlobSha1FileHex(file, &job);
    if (got != expected.blobId) return "git blob id " + got + ", the hub says " + expected.blobId;
  }
  return {};
}

// snapshots/COMMIT/NAME -> ../../blobs/ETAG (one more ../ per folder level of NAME).
void linkIntoSnapshot(const fs::path& snapshot, const std::string& name, const std::string& etag) {
  const fs::path link = snapshot / name;
  std::error_code ec;
  fs::create_directories(link.parent_path(), ec);
  if (ec) throw Error(ErrorCode::Io, "cannot create " + link.parent_path().string() + ": " + ec.message());
  fs::path target = "../..";
  const fs::path relative(name);
  for (auto it = relative.begin(); it != relative.end() && std::next(it) != relative.end(); ++it) target = fs::path("..") / target;
  target /= fs::path("blobs") / etag;
  fs::remove(link, ec);
  fs::create_symlink(target, link, ec);
  if (ec) throw Error(ErrorCode::Io, "cannot link " + link.string() + " to its blob: " + ec.message());
}

class Downloader {
 public:
  Downloader(const DownloadOptions& o, HttpTransport& t, const JobContext& job) : o_(o), transport_(t), job_(job) {
    endpoint_ = !o.endpoint.empty() ? o.endpoint : environmentValue("HF_ENDPOINT");
    if (endpoint_.empty()) endpoint_ = "https://huggingface.co";
    while (!endpoint_.empty() && endpoint_.back() == '/') endpoint_.pop_back();
    const std::string token = !o.token.empty() ? o.token : environmentValue("HF_TOKEN");
    headers_.emplace_back("User-Agent", std::string("vlmscope/") + VLM_VERSION);
    if (!token.empty()) headers_.emplace_back("Authorization", "Bearer " + token);
  }

  DownloadReport run() {
    const std::string id = hubIdFor(o_.model);
    static const std::regex revisionRe(R"(^[A-Za-z0-9_.\-/]+$)");
    if (!std::regex_match(o_.revision, revisionRe) || o_.revision.find("..") != std::string::npos)
      throw Error(ErrorCode::InvalidArgument, "revision '" + o_.revision + "' is not a branch, tag or commit name");
    const HubRepo repo = parseHubMetadata(fetchMetadata(id), id, o_.revision);
    const std::vector<HubFile> files = filesToDownload(repo);

    const fs::path cache = o_.cache.empty() ? huggingFaceHubCache() : o_.cache;
    const fs::path folder = repoFolder(cache, id);
    const fs::path snapshot = folder / "snapshots" / repo.commit;
    std::error_code ec;
    fs::create_directories(folder / "blobs", ec);
    if (!ec) fs::create_directories(snapshot, ec);
    if (ec) throw Error(ErrorCode::Io, "cannot create the cache folder " + folder.string() + ": " + ec.message());

    DownloadReport report{id, o_.revision, repo.commit, snapshot, {}, 0};
    for (const auto& f : files) total_ += f.size;
    for (const auto& f : files) {
      job_.throwIfCancelled();
      DownloadedFile d = fetchFile(repo, f, folder / "blobs");
      report.bytesTransferred += transferredThisFile_;
      linkIntoSnapshot(snapshot, f.name, f.etag());
      done_ += f.size;
      report.files.push_back(d);
    }
    // The revision names the commit, as huggingface_hub records it (not for a commit hash itself).
    if (o_.revision != repo.commit) {
      fs::create_directories((folder / "refs" / o_.revision).parent_path(), ec);
      writeFileAtomic(folder / "refs" / o_.revision, repo.commit);
    }
    job_.progress(1.0, "downloaded");
    return report;
  }

 private:
  std::string fetchMetadata(const std::string& id) {
    const std::string url = endpoint_ + "/api/models/" + id + "/revision/" + urlPath(o_.revision) + "?blobs=true";
    for (int attempt = 0;; ++attempt) {
      std::string body;
      HttpResponse response;
      try {
        response = transport_.get(url, headers_, [](const HttpResponse&) { return true; },
                                  [&](std::string_view data) {
                                    body.append(data);
                                    return body.size() < (64u << 20);
                                  },
                                  job_);
      } catch (const Error& e) {
        if (e.code() == ErrorCode::Cancelled || attempt >= o_.retries) throw Error(ErrorCode::Io, "cannot reach the Hugging Face hub at " + endpoint_ + ": " + e.what());
        pause(o_.retryDelaySeconds * double(1 << std::min(attempt, 6)), job_);
        continue;
      }
      if (response.status == 200) return body;
      if (response.status == 404)
        throw Error(ErrorCode::NotFound, "the Hugging Face hub has no model " + id + " at revision " + o_.revision + " (HTTP 404 from " + url + ")");
      if (response.status == 401 || response.status == 403)
        throw Error(ErrorCode::Io, "the Hugging Face hub refused access to " + id + " (HTTP " + std::to_string(response.status) + "); a gated or private model needs a token in HF_TOKEN");
      if (response.status < 500 || attempt >= o_.retries)
        throw Error(ErrorCode::Io, "the Hugging Face hub answered HTTP " + std::to_string(response.status) + " for " + url);
      pause(o_.retryDelaySeconds * double(1 << std::min(attempt, 6)), job_);
    }
  }

  void progressTo(uint64_t currentBytes, const std::string& name) {
    const double fraction = total_ ? double(done_ + currentBytes) / double(total_) : 1.0;
    job_.progress(std::min(fraction, 1.0), "downloading " + name);
  }

  DownloadedFile fetchFile(const HubRepo& repo, const HubFile& f, const fs::path& blobs) {
    transferredThisFile_ = 0;
    DownloadedFile d{f.name, f.size, f.etag(), false, 0, 0};
    const fs::path blob = blobs / f.etag();
    const JobContext checking(job_.stopToken());  // cancel only: hashing reports no progress of its own
    std::error_code ec;
    if (fs::exists(blob, ec)) {
      if (checkBlob(blob, f, checking).empty()) {
        d.alreadyPresent = true;
        return d;
      }
      fs::remove(blob, ec);  // a damaged blob is fetched again
    }
    const fs::path partial = blobs / (f.etag() + ".incomplete");
    const std::string url = endpoint_ + "/" + repo.id + "/resolve/" + repo.commit + "/" + urlPath(f.name);
    std::string lastProblem;
    for (int attempt = 0;; ++attempt) {
      job_.throwIfCancelled();
      uint64_t have = fs::exists(partial, ec) ? fs::file_size(partial, ec) : 0;
      if (have > f.size) {
        fs::remove(partial, ec);
        have = 0;
      }
      if (attempt == 0) d.resumedFrom = have;
      bool transferFailed = false;
      if (have < f.size) {
        ++d.attempts;
        try {
          restarted_ = false;
          transfer(url, f, partial, have);
          if (restarted_ && attempt == 0) d.resumedFrom = 0;
        } catch (const Error& e) {
          if (e.code() != ErrorCode::Io) throw;
          transferFailed = true;
          lastProblem = e.what();
        }
      }
      const uint64_t got = fs::exists(partial, ec) ? fs::file_size(partial, ec) : 0;
      if (!transferFailed && got < f.size) lastProblem = "the transfer ended after " + std::to_string(got) + " of " + std::to_string(f.size) + " bytes";
      if (!transferFailed && got == f.size) {
        const std::string problem = checkBlob(partial, f, checking);
        if (problem.empty()) {
          fs::rename(partial, blob, ec);
          if (ec) throw Error(ErrorCode::Io, "cannot move " + partial.string() + " to " + blob.string() + ": " + ec.message());
          return d;
        }
        fs::remove(partial, ec);  // bad bytes cannot be resumed: start again from zero
        if (attempt >= o_.retries)
          throw Error(ErrorCode::Corrupt, f.name + " of " + repo.id + " does not match the hub's checksum after " + std::to_string(d.attempts) +
                                              " downloads (" + problem + "); the damaged file was removed");
        lastProblem = "checksum mismatch (" + problem + ")";
      } else if (got > f.size) {
        fs::remove(partial, ec);
        lastProblem = "the server sent more bytes than the hub's size";
      }
      if (attempt >= o_.retries)
        throw Error(ErrorCode::Io, "downloading " + f.name + " of " + repo.id + " failed after " + std::to_string(d.attempts) + " attempts: " +
                                       lastProblem + "; " + megabytes(got) + " kept in " + partial.string() + ", run the download again to resume");
      pause(o_.retryDelaySeconds * double(1 << std::min(attempt, 6)), job_);
    }
  }

  // One GET of `url` appending to `partial` from byte `have` (Range request when have > 0).
  // Returns normally when the server's answer ended (complete or not); throws Io on transfer
  // failures, NotFound on 404, Io on other HTTP errors after reading them.
  void transfer(const std::string& url, const HubFile& f, const fs::path& partial, uint64_t have) {
    auto headers = headers_;
    if (have > 0) headers.emplace_back("Range", "bytes=" + std::to_string(have) + "-");
    std::unique_ptr<std::FILE, FileCloser> out;
    std::string writeError;
    int status = 0;
    uint64_t written = have;
    const HttpResponse response = transport_.get(
        url, headers,
        [&](const HttpResponse& r) {
          status = r.status;
          if (status == 206) {
            // Content-Range: bytes START-END/TOTAL must start where the partial file ends.
            const auto it = r.headers.find("content-range");
            const std::string expect = "bytes " + std::to_string(have) + "-";
            if (it == r.headers.end() || it->second.rfind(expect, 0) != 0) {
              status = 200;  // treat as a fresh copy: start again from zero
              writeError = "restart";
              return false;
            }
            out.reset(std::fopen(partial.c_str(), "ab"));
          } else if (status == 200) {  // the whole file (a server that ignores Range starts again)
            out.reset(std::fopen(partial.c_str(), "wb"));
            written = 0;
            restarted_ = have > 0;
          } else {
            return true;  // an error page: read, not stored
          }
          if (!out) {
            writeError = "cannot write " + partial.string();
            return false;
          }
          return true;
        },
        [&](std::string_view data) {
          if (!out) return true;
          if (std::fwrite(data.data(), 1, data.size(), out.get()) != data.size()) {
            writeError = "cannot write " + partial.string() + " (disk full?)";
            return false;
          }
          written += data.size();
          transferredThisFile_ += data.size();
          progressTo(std::min<uint64_t>(written, f.size), f.name);
          return written <= f.size;  // more than the hub's size: stop, the caller discards it
        },
        job_);
    if (out && std::fflush(out.get()) != 0 && writeError.empty()) writeError = "cannot write " + partial.string() + " (disk full?)";
    out.reset();
    if (writeError == "restart") {
      std::error_code ec;
      fs::remove(partial, ec);
      throw Error(ErrorCode::Io, "the server did not resume " + f.name + " where it stopped (Content-Range)");
    }
    if (!writeError.empty()) throw Error(ErrorCode::Io, writeError);
    if (response.status == 404) throw Error(ErrorCode::NotFound, f.name + ": the hub answered HTTP 404 (not found) for " + url);
    if (response.status == 416) {  // range not satisfiable: the partial file is unusable
      std::error_code ec;
      fs::remove(partial, ec);
      throw Error(ErrorCode::Io, f.name + ": the server refused to resume (HTTP 416)");
    }
    if (response.status != 200 && response.status != 206) {
      if (response.status >= 500) throw Error(ErrorCode::Io, f.name + ": HTTP " + std::to_string(response.status) + " from " + url);
      // Other client errors do not go away by asking again (401/403: a gated model needs HF_TOKEN).
      throw Error(ErrorCode::Unsupported, f.name + ": the hub answered HTTP " + std::to_string(response.status) + " for " + url +
                                              (response.status == 401 || response.status == 403 ? " (a gated or private model needs a token in HF_TOKEN)" : ""));
    }
  }

  const DownloadOptions& o_;
  HttpTransport& transport_;
  const JobContext& job_;
  std::string endpoint_;
  std::vector<std::pair<std::string, std::string>> headers_;
  uint64_t total_ = 0, done_ = 0, transferredThisFile_ = 0;
  bool restarted_ = false;
};

}  // namespace

const std::vector<KnownModel>& knownModels() {
  static const std::vector<KnownModel> models = {
      {"blip-image-captioning-base", "Salesforce/blip-image-captioning-base", "BLIP captioning"},
      {"blip-image-captioning-large", "Salesforce/blip-image-captioning-large", "BLIP captioning"},
      {"blip-vqa-base", "Salesforce/blip-vqa-base", "BLIP VQA"},
      {"clip-vit-base-patch32", "openai/clip-vit-base-patch32", "CLIP"},
  };
  return models;
}

std::string hubIdFor(const std::string& nameOrId) {
  for (const auto& m : knownModels())
    if (m.name == nameOrId || m.hubId == nameOrId) return m.hubId;
  if (looksLikeHubId(nameOrId) && nameOrId.find('@') == std::string::npos) return nameOrId;
  std::string names;
  for (const auto& m : knownModels()) names += (names.empty() ? "" : ", ") + m.name;
  throw Error(ErrorCode::InvalidArgument, "unknown model '" + nameOrId + "': give one of " + names + " or a hub id ORG/NAME");
}

HubRepo parseHubMetadata(std::string_view text, const std::string& id, const std::string& revision) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const std::exception& e) {
    throw Error(ErrorCode::Corrupt, "the hub's metadata for " + id + " is not JSON: " + e.what());
  }
  HubRepo repo{id, revision, {}, {}};
  if (!j.is_object() || !j.contains("sha") || !j["sha"].is_string() || !j.contains("siblings") || !j["siblings"].is_array())
    throw Error(ErrorCode::Corrupt, "the hub's metadata for " + id + " lacks 'sha' or 'siblings'");
  repo.commit = j["sha"].get<std::string>();
  if (!isHex(repo.commit, 40)) throw Error(ErrorCode::Corrupt, "the hub's metadata for " + id + " names no commit hash ('" + repo.commit + "')");
  for (const auto& s : j["siblings"]) {
    if (!s.is_object() || !s.contains("rfilename") || !s["rfilename"].is_string()) continue;
    HubFile f;
    f.name = s["rfilename"].get<std::string>();
    if (f.name.empty() || f.name.front() == '/' || f.name.find("..") != std::string::npos || f.name.find('\\') != std::string::npos)
      throw Error(ErrorCode::Unsafe, "the hub's metadata for " + id + " names an unsafe file path '" + f.name + "'");
    if (s.contains("lfs") && s["lfs"].is_object()) {
      f.sha256 = s["lfs"].value("sha256", std::string());
      f.size = s["lfs"].value("size", uint64_t(0));
      if (!isHex(f.sha256, 64)) throw Error(ErrorCode::Corrupt, "the hub's metadata for " + id + " gives " + f.name + " no valid sha256");
    } else {
      f.size = s.value("size", uint64_t(0));
    }
    if (s.contains("size") && s["size"].is_number_unsigned()) f.size = s["size"].get<uint64_t>();
    f.blobId = s.value("blobId", std::string());
    if (f.sha256.empty() && !isHex(f.blobId, 40))
      throw Error(ErrorCode::Corrupt, "the hub's metadata for " + id + " gives " + f.name + " neither sha256 nor blobId (was ?blobs=true asked?)");
    repo.files.push_back(std::move(f));
  }
  return repo;
}

std::vector<HubFile> filesToDownload(const HubRepo& repo) {
  static const std::vector<std::string> wanted = {
      "config.json",        "preprocessor_config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
      "vocab.txt",          "vocab.json",               "merges.txt",     "added_tokens.json",     "generation_config.json"};
  std::vector<HubFile> out;
  const auto find = [&](const std::string& name) {
    return std::find_if(repo.files.begin(), repo.files.end(), [&](const HubFile& f) { return f.name == name; });
  };
  for (const auto& name : wanted)
    if (auto it = find(name); it != repo.files.end()) out.push_back(*it);
  if (find("config.json") == repo.files.end())
    throw Error(ErrorCode::Unsupported, repo.id + " has no config.json at revision " + repo.revision + ": not a transformers checkpoint");
  if (auto it = find("model.safetensors"); it != repo.files.end()) out.push_back(*it);
  else if (auto bin = find("pytorch_model.bin"); bin != repo.files.end()) out.push_back(*bin);
  else throw Error(ErrorCode::Unsupported, repo.id + " has neither model.safetensors nor pytorch_model.bin at revision " + repo.revision);
  return out;
}

DownloadReport downloadModel(const DownloadOptions& options, HttpTransport& transport, const JobContext& job) {
  return Downloader(options, transport, job).run();
}

std::vector<VerifiedFile> verifyCachedSnapshot(const fs::path& snapshot, const JobContext& job) {
  std::vector<VerifiedFile> out;
  std::error_code ec;
  if (!fs::is_directory(snapshot, ec)) throw Error(ErrorCode::NotFound, "no snapshot folder " + snapshot.string());
  std::vector<fs::path> entries;
  for (auto it = fs::recursive_directory_iterator(snapshot, ec); it != fs::recursive_directory_iterator(); it.increment(ec))
    if (it->is_symlink(ec) || it->is_regular_file(ec)) entries.push_back(it->path());
  std::sort(entries.begin(), entries.end());
  const JobContext cancelOnly(job.stopToken());
  for (size_t i = 0; i < entries.size(); ++i) {
    job.throwIfCancelled();
    job.progress(double(i) / double(entries.size()), "checking");
    VerifiedFile v;
    v.name = entries[i].lexically_relative(snapshot).string();
    if (!fs::is_symlink(entries[i], ec)) {
      v.problem = "not a link into blobs/ (copied by hand?): cannot be checked";
      out.push_back(v);
      continue;
    }
    v.blob = fs::weakly_canonical(entries[i].parent_path() / fs::read_symlink(entries[i], ec), ec);
    const std::string etag = v.blob.filename().string();
    if (!fs::exists(v.blob, ec)) v.problem = "missing: its blob " + v.blob.string() + " is gone";
    else if (isHex(etag, 64)) {
      const std::string got = sha256FileHex(v.blob, &cancelOnly);
      if (got != etag) v.problem = "checksum: sha256 " + got + ", recorded " + etag;
    } else if (isHex(etag, 40)) {
      const std::string got = gitBlobSha1FileHex(v.blob, &cancelOnly);
      if (got != etag) v.problem = "checksum: git blob id " + got + ", recorded " + etag;
    } else {
      v.problem = "its blob name " + etag + " is no checksum: cannot be checked";
    }
    v.ok = v.problem.empty();
    out.push_back(v);
  }
  job.progress(1.0, "checked");
  return out;
}

}  // namespace vlm::io
