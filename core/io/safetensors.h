#pragma once
// safetensors (https://huggingface.co/docs/safetensors): 8-byte little-endian header size,
// JSON header {name: {dtype, shape, data_offsets}, "__metadata__": {..}}, raw little-endian data.
// Files are memory-mapped and fully validated when opened; tensors are handed out as views
// of the mapping (no copy) when their dtype and alignment allow it.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace at { class Tensor; }

namespace vlm::io {

enum class DType { Bool, U8, I8, I16, U16, F16, BF16, I32, U32, F32, F64, I64, U64, F8E4M3, F8E5M2 };

// "F32", "BF16", ... as safetensors spells them.
const char* dtypeName(DType d) noexcept;
std::size_t dtypeSize(DType d) noexcept;

struct TensorInfo {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  std::size_t begin = 0;  // byte offsets into the data section
  std::size_t end = 0;
  int64_t numel() const;
};

// The largest JSON header accepted (the reference implementation uses the same bound).
inline constexpr std::size_t kMaxSafetensorsHeader = 100'000'000;

class SafetensorsFile : public std::enable_shared_from_this<SafetensorsFile> {
 public:
  // Maps and validates the file. Throws vlm::Error naming the file (and the tensor when
  // one is at fault): NotFound/Io, Truncated, Corrupt (header too large, not JSON, bad
  // entry, duplicate name, overlap or gap, size mismatch), Unsupported (unknown dtype).
  static std::shared_ptr<SafetensorsFile> open(const std::filesystem::path& path);
  ~SafetensorsFile();
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;

  const std::filesystem::path& path() const { return path_; }
  const std::vector<TensorInfo>& tensors() const { return tensors_; }  // in file order
  const TensorInfo* find(const std::string& name) const;
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  std::span<const std::byte> bytes(const TensorInfo& t) const;

  // The tensor as an at::Tensor on the CPU with the file's dtype. A view of the mapping
  // (copy-on-write, the file is never modified) when the data is aligned for its dtype,
  // otherwise a copy. Throws MissingTensor / Unsupported (dtypes LibTorch lacks).
  at::Tensor tensor(const std::string& name) const;
  at::Tensor tensor(const TensorInfo& info) const;

 private:
  SafetensorsFile() = default;
  std::filesystem::path path_;
  void* map_ = nullptr;
  std::size_t mapSize_ = 0;
  const std::byte* data_ = nullptr;  // start of the data section
  std::size_t dataSize_ = 0;
  std::vector<TensorInfo> tensors_;
  std::map<std::string, std::size_t> index_;
  std::map<std::string, std::string> metadata_;
};

// Writes tensors (any CPU/GPU dtype LibTorch and safetensors share) to `path` atomically
// (temporary file + rename). Names must be unique; data is written contiguous, little-endian.
void writeSafetensors(const std::filesystem::path& path,
                      const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata = {});

}  // namespace vlm::io
