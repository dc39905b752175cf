#pragma once
// SHA-256 (FIPS 180-4) and SHA-1 (FIPS 180-4, for git blob ids) as lowercase hex: identify the
// image an explanation was made of in the JSON sidecars, and verify downloaded checkpoint files
// against the Hugging Face hub's metadata (sha256 of LFS files, git blob id of the others).

#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>

namespace vlm {
class JobContext;
}

namespace vlm::io {

class Sha256 {
 public:
  Sha256();
  void update(const void* data, size_t size);
  std::string hexDigest();  // ends the hash; call once

 private:
  void block(const uint8_t* p);
  std::array<uint32_t, 8> h_;
  std::array<uint8_t, 64> buffer_{};
  size_t buffered_ = 0;
  uint64_t length_ = 0;
};

class Sha1 {
 public:
  Sha1();
  void update(const void* data, size_t size);
  std::string hexDigest();

 private:
  void block(const uint8_t* p);
  std::array<uint32_t, 5> h_;
  std::array<uint8_t, 64> buffer_{};
  size_t buffered_ = 0;
  uint64_t length_ = 0;
};

std::string sha256Hex(std::span<const uint8_t> bytes);

// Hashes of a file read in pieces (progress and cancel through `job` when given). Throws
// vlm::Error NotFound / Io naming the file.
std::string sha256FileHex(const std::filesystem::path& file, const JobContext* job = nullptr);
// git's blob id of a file: SHA-1 of "blob SIZE\0" followed by the content.
std::string gitBlobSha1FileHex(const std::filesystem::path& file, const JobContext* job = nullptr);

}  // namespace vlm::io
