#include "io/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <limits>
#include <set>

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "io/files.h"

namespace vlm::io {

namespace {

struct DTypeEntry {
  DType dtype;
  const char* name;
  std::size_t size;
};

constexpr DTypeEntry kDTypes[] = {
    {DType::Bool, "BOOL", 1}, {DType::U8, "U8", 1},     {DType::I8, "I8", 1},
    {DType::I16, "I16", 2},   {DType::U16, "U16", 2},   {DType::F16, "F16", 2},
    {DType::BF16, "BF16", 2}, {DType::I32, "I32", 4},   {DType::U32, "U32", 4},
    {DType::F32, "F32", 4},   {DType::F64, "F64", 8},   {DType::I64, "I64", 8},
    {DType::U64, "U64", 8},   {DType::F8E4M3, "F8_E4M3", 1}, {DType::F8E5M2, "F8_E5M2", 1},
};

std::optional<at::ScalarType> torchType(DType d) {
  switch (d) {
    case DType::Bool: return at::kBool;
    case DType::U8: return at::kByte;
    case DType::I8: return at::kChar;
    case DType::I16: return at::kShort;
    case DType::F16: return at::kHalf;
    case DType::BF16: return at::kBFloat16;
    case DType::I32: return at::kInt;
    case DType::F32: return at::kFloat;
    case DType::F64: return at::kDouble;
    case DType::I64: return at::kLong;
    default: return std::nullopt;
  }
}

DType fromTorch(at::ScalarType t, const std::string& name) {
  switch (t) {
    case at::kBool: return DType::Bool;
    case at::kByte: return DType::U8;
    case at::kChar: return DType::I8;
    case at::kShort: return DType::I16;
    case at::kHalf: return DType::F16;
    case at::kBFloat16: return DType::BF16;
    case at::kInt: return DType::I32;
    case at::kFloat: return DType::F32;
    case at::kDouble: return DType::F64;
    case at::kLong: return DType::I64;
    default:
      throw Error(ErrorCode::Unsupported, "tensor '" + name + "': dtype " + std::string(c10::toString(t)) + " cannot be stored in safetensors", "", name);
  }
}

// Detects duplicate keys, which nlohmann::json would silently merge (last one wins): a tensor
// named twice, or a field given twice inside one entry ({"dtype": "F32", ..., "dtype": "F16"}).
nlohmann::json parseHeader(const char* begin, std::size_t size, const std::string& file) {
  std::vector<std::set<std::string>> objects;  // keys seen in each object being parsed
  std::string entry;                           // the top-level key being parsed
  std::string duplicate, duplicateIn;
  auto callback = [&](int depth, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
    using E = nlohmann::json::parse_event_t;
    if (event == E::object_start) objects.emplace_back();
    else if (event == E::object_end && !objects.empty()) objects.pop_back();
    else if (event == E::key && !objects.empty()) {
      const std::string key = parsed.get<std::string>();
      if (!objects.back().insert(key).second && duplicate.empty()) {
        duplicate = key;
        duplicateIn = depth == 1 ? std::string() : entry;
      }
      if (depth == 1) entry = key;
    }
    return true;
  };
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(begin, begin + size, callback);
  } catch (const nlohmann::json::exception& e) {
    throw Error(ErrorCode::Corrupt, file + ": the safetensors header is not valid JSON (" + e.what() + ")", file);
  }
  if (!duplicate.empty() && duplicateIn.empty())
    throw Error(ErrorCode::Corrupt, file + ": tensor '" + duplicate + "' appears twice in the header", file, duplicate);
  if (!duplicate.empty() && duplicateIn == "__metadata__")
    throw Error(ErrorCode::Corrupt, file + ": __metadata__ key '" + duplicate + "' appears twice", file);
  if (!duplicate.empty())
    throw Error(ErrorCode::Corrupt, file + ": tensor '" + duplicateIn + "': field '" + duplicate + "' appears twice", file, duplicateIn);
  if (!header.is_object()) throw Error(ErrorCode::Corrupt, file + ": the safetensors header is not a JSON object", file);
  return header;
}

}  // namespace

const char* dtypeName(DType d) noexcept {
  for (const auto& e : kDTypes)
    if (e.dtype == d) return e.name;
  return "?";
}

std::size_t dtypeSize(DType d) noexcept {
  for (const auto& e : kDTypes)
    if (e.dtype == d) return e.size;
  return 0;
}

int64_t TensorInfo::numel() const {
  int64_t n = 1;
  for (auto s : shape) n *= s;
  return n;
}

std::shared_ptr<SafetensorsFile> SafetensorsFile::open(const std::filesystem::path& path) {
  const std::string file = path.string();
  std::shared_ptr<SafetensorsFile> st(new SafetensorsFile());
  st->path_ = path;

  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) throw Error(ErrorCode::NotFound, file + ": no such file", file);
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error(ErrorCode::Io, file + ": cannot open: " + std::strerror(errno), file);
  struct stat sb {};
  if (::fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
    ::close(fd);
    throw Error(ErrorCode::Io, file + ": not a regular file", file);
  }
  const std::size_t size = static_cast<std::size_t>(sb.st_size);
  if (size < 8) {
    ::close(fd);
    throw Error(ErrorCode::Truncated, file + ": " + std::to_string(size) + " bytes, too short for a safetensors file (header size missing)", file);
  }
  // Copy-on-write mapping: tensors handed out may be written to without touching the file.
  void* map = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (map == MAP_FAILED) throw Error(ErrorCode::Io, file + ": cannot map: " + std::strerror(errno), file);
  st->map_ = map;
  st->mapSize_ = size;
  const auto* base = static_cast<const std::byte*>(map);

  uint64_t headerSize = 0;
  std::memcpy(&headerSize, base, 8);  // little-endian on every platform LibTorch runs on here
  if (headerSize > kMaxSafetensorsHeader)
    throw Error(ErrorCode::Corrupt, file + ": header size " + std::to_string(headerSize) + " exceeds the " + std::to_string(kMaxSafetensorsHeader) + "-byte limit (not a safetensors file?)", file);
  if (headerSize > size - 8)
    throw Error(ErrorCode::Truncated, file + ": the header claims " + std::to_string(headerSize) + " bytes but the file has only " + std::to_string(size - 8) + " after the size field", file);
  if (headerSize < 2 || static_cast<char>(base[8]) != '{')
    throw Error(ErrorCode::Corrupt, file + ": the safetensors header does not start with '{'", file);

  const nlohmann::json header = parseHeader(reinterpret_cast<const char*>(base + 8), headerSize, file);
  st->data_ = base + 8 + headerSize;
  st->dataSize_ = size - 8 - headerSize;

  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& name = it.key();
    const nlohmann::json& entry = it.value();
    if (name == "__metadata__") {
      if (!entry.is_object()) throw Error(ErrorCode::Corrupt, file + ": __metadata__ is not an object", file);
      for (auto m = entry.begin(); m != entry.end(); ++m) {
        if (!m.value().is_string()) throw Error(ErrorCode::Corrupt, file + ": __metadata__ value '" + m.key() + "' is not a string", file);
        st->metadata_[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    auto bad = [&](const std::string& why) {
      return Error(ErrorCode::Corrupt, file + ": tensor '" + name + "': " + why, file, name);
    };
    if (!entry.is_object()) throw bad("header entry is not an object");
    if (!entry.contains("dtype") || !entry["dtype"].is_string()) throw bad("no dtype");
    if (!entry.contains("shape") || !entry["shape"].is_array()) throw bad("no shape");
    if (!entry.contains("data_offsets") || !entry["data_offsets"].is_array() || entry["data_offsets"].size() != 2) throw bad("no data_offsets [begin, end]");
    TensorInfo info;
    info.name = name;
    const std::string dt = entry["dtype"].get<std::string>();
    bool known = false;
    for (const auto& e : kDTypes)
      if (dt == e.name) { info.dtype = e.dtype; known = true; }
    if (!known) throw Error(ErrorCode::Unsupported, file + ": tensor '" + name + "': unknown dtype '" + dt + "'", file, name);
    // numel with overflow checks
    unsigned __int128 numel = 1;
    for (const auto& d : entry["shape"]) {
      if (!d.is_number_unsigned()) throw bad("shape has a non-integer or negative dimension");
      const uint64_t v = d.get<uint64_t>();
      if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) throw bad("dimension too large");
      info.shape.push_back(static_cast<int64_t>(v));
      numel *= v;
      if (numel > (static_cast<unsigned __int128>(1) << 62)) throw bad("shape too large");
    }
    for (const auto& o : entry["data_offsets"])
      if (!o.is_number_unsigned()) throw bad("data_offsets are not non-negative integers");
    const uint64_t b = entry["data_offsets"][0].get<uint64_t>();
    const uint64_t e = entry["data_offsets"][1].get<uint64_t>();
    if (e < b) throw bad("data_offsets end before they begin");
    const unsigned __int128 nbytes = numel * dtypeSize(info.dtype);
    if (nbytes != e - b)
      throw bad("shape and dtype need " + std::to_string(static_cast<uint64_t>(nbytes)) + " bytes but data_offsets span " + std::to_string(e - b));
    if (e > st->dataSize_) {
      throw Error(ErrorCode::Truncated, file + ": tensor '" + name + "' ends at byte " + std::to_string(e) + " of the data section, which has only " + std::to_string(st->dataSize_) + " bytes (file truncated?)", file, name);
    }
    info.begin = b;
    info.end = e;
    st->tensors_.push_back(std::move(info));
  }

  // Tensors must tile the data section: no overlap, no gap, nothing left over.
  std::vector<const TensorInfo*> order;
  for (const auto& t : st->tensors_) order.push_back(&t);
  std::sort(order.begin(), order.end(), [](auto* a, auto* b) { return a->begin != b->begin ? a->begin < b->begin : a->end < b->end; });
  std::size_t expected = 0;
  for (const TensorInfo* t : order) {
    if (t->begin < expected)
      throw Error(ErrorCode::Corrupt, file + ": tensor '" + t->name + "' overlaps the tensor before it in the data section", file, t->name);
    if (t->begin > expected)
      throw Error(ErrorCode::Corrupt, file + ": a gap of " + std::to_string(t->begin - expected) + " bytes before tensor '" + t->name + "' in the data section", file, t->name);
    expected = t->end;
  }
  if (expected != st->dataSize_)
    throw Error(ErrorCode::Corrupt, file + ": " + std::to_string(st->dataSize_ - expected) + " bytes after the last tensor are not described by the header", file);

  // File order (by offset) is the natural order for people reading listings.
  std::stable_sort(st->tensors_.begin(), st->tensors_.end(), [](const TensorInfo& a, const TensorInfo& b) { return a.begin < b.begin; });
  for (std::size_t i = 0; i < st->tensors_.size(); ++i) st->index_[st->tensors_[i].name] = i;
  return st;
}

SafetensorsFile::~SafetensorsFile() {
  if (map_) ::munmap(map_, mapSize_);
}

const TensorInfo* SafetensorsFile::find(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

std::span<const std::byte> SafetensorsFile::bytes(const TensorInfo& t) const {
  return {data_ + t.begin, t.end - t.begin};
}

at::Tensor SafetensorsFile::tensor(const std::string& name) const {
  const TensorInfo* info = find(name);
  if (!info) throw Error(ErrorCode::MissingTensor, path_.string() + ": no tensor '" + name + "'", path_.string(), name);
  return tensor(*info);
}

at::Tensor SafetensorsFile::tensor(const TensorInfo& info) const {
  const auto type = torchType(info.dtype);
  if (!type)
    throw Error(ErrorCode::Unsupported, path_.string() + ": tensor '" + info.name + "' has dtype " + dtypeName(info.dtype) + ", which LibTorch 1.13 does not support", path_.string(), info.name);
  const auto options = at::TensorOptions().dtype(*type).device(at::kCPU);
  const std::byte* ptr = data_ + info.begin;
  const std::size_t align = dtypeSize(info.dtype);
  if (info.numel() == 0) return at::empty(info.shape, options);
  if (reinterpret_cast<std::uintptr_t>(ptr) % align != 0) {
    at::Tensor out = at::empty(info.shape, options);
    std::memcpy(out.data_ptr(), ptr, info.end - info.begin);
    return out;
  }
  auto keepAlive = shared_from_this();
  return at::from_blob(const_cast<std::byte*>(ptr), info.shape, [keepAlive](void*) {}, options);
}

void writeSafetensors(const std::filesystem::path& path,
                      const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::vector<at::Tensor> contiguous;
  std::set<std::string> names;
  std::size_t offset = 0;
  for (const auto& [name, t] : tensors) {
    if (!names.insert(name).second)
      throw Error(ErrorCode::InvalidArgument, path.string() + ": tensor name '" + name + "' given twice", path.string(), name);
    if (name == "__metadata__") throw Error(ErrorCode::InvalidArgument, "'__metadata__' is reserved in safetensors", path.string(), name);
    at::Tensor c = t.detach().to(at::kCPU).contiguous();
    const DType dt = fromTorch(c.scalar_type(), name);
    const std::size_t nbytes = static_cast<std::size_t>(c.numel()) * dtypeSize(dt);
    header[name] = {{"dtype", dtypeName(dt)}, {"shape", c.sizes().vec()}, {"data_offsets", {offset, offset + nbytes}}};
    offset += nbytes;
    contiguous.push_back(std::move(c));
  }
  std::string json = header.dump();
  while ((8 + json.size()) % 8 != 0) json.push_back(' ');  // keep the data 8-byte aligned
  writeFileAtomic(path, [&](std::FILE* f) {
    const uint64_t n = json.size();
    auto put = [&](const void* p, std::size_t len) {
      if (len && std::fwrite(p, 1, len, f) != len)
        throw Error(ErrorCode::Io, path.string() + ": write failed: " + std::strerror(errno), path.string());
    };
    put(&n, 8);
    put(json.data(), json.size());
    for (const auto& c : contiguous) put(c.data_ptr(), c.numel() * c.element_size());
  });
}

}  // namespace vlm::io
