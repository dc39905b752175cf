#pragma once
// Downloading checkpoints from the Hugging Face hub into the Hugging Face cache, in the layout
// the `huggingface_hub` library writes (so Python users share the files):
//   HUB/models--ORG--NAME/blobs/ETAG                  the file's bytes (ETAG: its sha256 for LFS
//                                                     files, its git blob id for the others)
//   HUB/models--ORG--NAME/snapshots/COMMIT/FILE       a relative symlink to ../../blobs/ETAG
//   HUB/models--ORG--NAME/refs/REVISION               the commit REVISION points to
// The sizes and checksums come from the hub's metadata (GET ENDPOINT/api/models/ID/revision/REV
// ?blobs=true). A partial file stays as blobs/ETAG.incomplete and is resumed with an HTTP Range
// request; failed transfers are retried; every finished file is verified (size, then sha256 or
// git blob id) before it is linked into the snapshot.
//
// core/ has no network code of its own: the HTTP transfer is an HttpTransport given by the
// caller (ui/hub_transport.h implements it with Qt Network; tests give a local server).

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/job.h"

namespace vlm::io {

struct HttpResponse {
  int status = 0;                              // 200, 206, 404, ...
  std::map<std::string, std::string> headers;  // names lower-case
};

class HttpTransport {
 public:
  virtual ~HttpTransport() = default;
  // GET `url` with `headers` (redirects followed). `onResponse` gets the final status and
  // headers once, before any body; the body then goes to `onData` piece by piece as it
  // arrives. Either returning false ends the transfer early (get() then returns normally).
  // Throws vlm::Error Io for a transfer that failed (connection refused or reset, nothing
  // received within the transport's timeout: the message says which), Cancelled when `job` is.
  virtual HttpResponse get(const std::string& url, const std::vector<std::pair<std::string, std::string>>& headers,
                           const std::function<bool(const HttpResponse&)>& onResponse,
                           const std::function<bool(std::string_view)>& onData, const JobContext& job) = 0;
};

// A checkpoint VLMScope knows by a short name.
struct KnownModel {
  std::string name;   // "blip-image-captioning-base"
  std::string hubId;  // "Salesforce/blip-image-captioning-base"
  std::string kind;   // "BLIP captioning", "BLIP VQA", "CLIP"
};
const std::vector<KnownModel>& knownModels();
// A short name of knownModels() or a hub id ORG/NAME -> the hub id. Throws InvalidArgument
// (listing the known names) for anything else.
std::string hubIdFor(const std::string& nameOrId);

struct HubFile {
  std::string name;    // path in the repository
  uint64_t size = 0;
  std::string sha256;  // LFS files
  std::string blobId;  // git blob id (SHA-1)
  // The blob's name in the cache: the sha256 for LFS files, else the git blob id.
  const std::string& etag() const { return sha256.empty() ? blobId : sha256; }
};

struct HubRepo {
  std::string id, revision, commit;
  std::vector<HubFile> files;
};

// Parses the hub's JSON for a model revision (siblings with rfilename, size, blobId, lfs.sha256).
// Throws Corrupt naming what is missing.
HubRepo parseHubMetadata(std::string_view json, const std::string& id, const std::string& revision);

// The files of `repo` VLMScope needs: config.json, the weights (model.safetensors, or
// pytorch_model.bin where there is no safetensors file), the preprocessor and tokenizer files.
std::vector<HubFile> filesToDownload(const HubRepo& repo);

struct DownloadOptions {
  std::string model;                   // short name or hub id
  std::string revision = "main";
  std::filesystem::path cache;         // empty: huggingFaceHubCache()
  std::string endpoint;                // empty: $HF_ENDPOINT, else https://huggingface.co
  std::string token;                   // empty: $HF_TOKEN (sent as a bearer token when set)
  int retries = 4;                     // further attempts of a failed transfer
  double retryDelaySeconds = 1.0;      // doubles after each failed attempt
};

struct DownloadedFile {
  std::string name;
  uint64_t size = 0;
  std::string etag;
  bool alreadyPresent = false;  // verified in the cache, not transferred
  uint64_t resumedFrom = 0;     // bytes kept from an earlier partial download
  int attempts = 0;             // transfers made (0 when already present)
};

struct DownloadReport {
  std::string hubId, revision, commit;
  std::filesystem::path snapshot;  // the folder to load the model from
  std::vector<DownloadedFile> files;
  uint64_t bytesTransferred = 0;
};

// Downloads (or completes) `options.model` into the cache. Throws vlm::Error: NotFound (the hub
// has no such model / file: HTTP 404), Io (network failures after all retries, unwritable
// cache), Corrupt (a file that does not match the hub's checksum after all retries; nothing is
// left linked), Cancelled (the partial file is kept for the next run to resume).
DownloadReport downloadModel(const DownloadOptions& options, HttpTransport& transport, const JobContext& job = {});

struct VerifiedFile {
  std::string name;
  std::filesystem::path blob;
  bool ok = false;
  std::string problem;  // when not ok: "missing", "size ...", "checksum ..."
};

// Checks every file of a cached snapshot against its blob name (sha256 or git blob id) - the
// hub's checksums as recorded by the download. Files that are not symlinks into blobs/ (copied
// by hand) are reported as unverifiable.
std::vector<VerifiedFile> verifyCachedSnapshot(const std::filesystem::path& snapshot, const JobContext& job = {});

}  // namespace vlm::io
