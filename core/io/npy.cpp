#include "io/npy.h"

#include <bit>
#include <cstring>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

#include "common/error.h"
#include "io/files.h"

namespace vlm::io {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view kMagic = "\x93NUMPY";
constexpr size_t kAlign = 64;
constexpr size_t kGrowthAxisMaxDigits = 21;  // numpy.lib.format.GROWTH_AXIS_MAX_DIGITS

// Little-endian float32 bytes of `n` floats.
void appendLittleEndian(std::string& out, const float* data, size_t n) {
  const size_t start = out.size();
  out.resize(start + n * 4);
  if (n) std::memcpy(out.data() + start, data, n * 4);
  if constexpr (std::endian::native == std::endian::big)
    for (size_t i = start; i < out.size(); i += 4) {
      std::swap(out[i], out[i + 3]);
      std::swap(out[i + 1], out[i + 2]);
    }
}

std::string shapeRepr(const std::vector<int64_t>& shape) {
  if (shape.empty()) return "()";
  std::string s = "(";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  return s + (shape.size() == 1 ? ",)" : ")");
}

// product(shape), or nullopt when it does not fit in a byte count of float32 values.
std::optional<size_t> elementCount(const std::vector<int64_t>& shape) {
  size_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) return std::nullopt;
    if (d != 0 && n > std::numeric_limits<size_t>::max() / 4 / static_cast<size_t>(d)) return std::nullopt;
    n *= static_cast<size_t>(d);
  }
  return n;
}

// ---- The header: a Python literal (dict of str -> str / bool / tuple of int) ----

struct PyValue {
  enum class Kind { Str, Bool, Int, Tuple, List, Dict, None } kind = Kind::None;
  std::string str;
  bool boolean = false;
  int64_t integer = 0;
  std::vector<PyValue> items;     // Tuple, List; Dict: the values
  std::vector<std::string> keys;  // Dict: the keys (strings only), one per item
};

// One line, printable, short: header text quoted in error messages.
std::string printable(std::string_view s, size_t max = 120) {
  std::string out;
  for (char c : s.substr(0, max)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
  if (s.size() > max) out += "...";
  return out;
}

class LiteralParser {
 public:
  LiteralParser(std::string_view text, const fs::path& path) : s_(text), path_(path) {}

  PyValue parseAll() {
    PyValue v = value(0);
    skipSpace();
    if (i_ != s_.size()) fail("unexpected text after the header dict");
    return v;
  }

 private:
  std::string_view s_;
  size_t i_ = 0;
  const fs::path& path_;

  [[noreturn]] void fail(const std::string& what) const {
    throw Error(ErrorCode::Corrupt,
                path_.string() + ": malformed .npy header (" + what + " at offset " + std::to_string(i_) + "): " +
                    printable(s_),
                path_.string());
  }

  void skipSpace() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r')) ++i_;
  }
  bool eat(char c) {
    skipSpace();
    if (i_ < s_.size() && s_[i_] == c) return ++i_, true;
    return false;
  }
  void expect(char c) {
    if (!eat(c)) fail(std::string("expected '") + c + "'");
  }

  // Items up to `close`, separated by commas, an optional trailing comma.
  template <class F>
  void sequence(char close, F&& item) {
    while (true) {
      if (eat(close)) return;
      item();
      if (eat(close)) return;
      expect(',');
    }
  }

  PyValue value(int depth) {
    if (depth > 16) fail("nested too deeply");
    skipSpace();
    if (i_ >= s_.size()) fail("unexpected end");
    PyValue v;
    const char c = s_[i_];
    if (c == '\'' || c == '"') {
      v.kind = PyValue::Kind::Str;
      v.str = string();
    } else if (c == '{') {
      ++i_;
      v.kind = PyValue::Kind::Dict;
      sequence('}', [&] {
        skipSpace();
        if (i_ >= s_.size() || (s_[i_] != '\'' && s_[i_] != '"')) fail("expected a string key");
        std::string key = string();
        expect(':');
        v.keys.push_back(std::move(key));
        v.items.push_back(value(depth + 1));
      });
    } else if (c == '(' || c == '[') {
      ++i_;
      v.kind = c == '(' ? PyValue::Kind::Tuple : PyValue::Kind::List;
      sequence(c == '(' ? ')' : ']', [&] { v.items.push_back(value(depth + 1)); });
    } else if (c == '-' || (c >= '0' && c <= '9')) {
      v.kind = PyValue::Kind::Int;
      const bool negative = c == '-';
      if (negative) ++i_;
      if (i_ >= s_.size() || s_[i_] < '0' || s_[i_] > '9') fail("expected a digit");
      uint64_t n = 0;
      while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') {
        if (n > (uint64_t(std::numeric_limits<int64_t>::max()) - (s_[i_] - '0')) / 10) fail("integer too large");
        n = n * 10 + (s_[i_++] - '0');
      }
      if (i_ < s_.size() && (s_[i_] == 'L' || s_[i_] == 'l')) ++i_;  // Python 2 long, old numpy files
      v.integer = negative ? -static_cast<int64_t>(n) : static_cast<int64_t>(n);
    } else if (s_.substr(i_, 4) == "True") {
      i_ += 4, v.kind = PyValue::Kind::Bool, v.boolean = true;
    } else if (s_.substr(i_, 5) == "False") {
      i_ += 5, v.kind = PyValue::Kind::Bool, v.boolean = false;
    } else if (s_.substr(i_, 4) == "None") {
      i_ += 4, v.kind = PyValue::Kind::None;
    } else {
      fail("unexpected character");
    }
    return v;
  }

  std::string string() {
    const char quote = s_[i_++];
    std::string out;
    while (true) {
      if (i_ >= s_.size()) fail("unterminated string");
      char c = s_[i_++];
      if (c == quote) return out;
      if (c == '\\') {
        if (i_ >= s_.size()) fail("unterminated string");
        c = s_[i_++];
      }
      out += c;
    }
  }
};

}  // namespace

void writeNpy(const fs::path& path, const float* data, const std::vector<int64_t>& shape) {
  const std::string file = path.string();
  for (int64_t d : shape)
    if (d < 0)
      throw Error(ErrorCode::InvalidArgument, file + ": cannot write a .npy array of shape " + shapeRepr(shape) +
                                                  " (negative dimension)", file);
  const auto n = elementCount(shape);
  if (!n) throw Error(ErrorCode::InvalidArgument, file + ": .npy array of shape " + shapeRepr(shape) + " is too large", file);
  if (*n && !data) throw Error(ErrorCode::InvalidArgument, file + ": no data for a .npy array of shape " + shapeRepr(shape), file);

  // numpy.lib.format._write_array_header / _wrap_header.
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': " + shapeRepr(shape) + ", }";
  if (!shape.empty()) {
    const size_t digits = std::to_string(shape[0]).size();
    if (digits < kGrowthAxisMaxDigits) header.append(kGrowthAxisMaxDigits - digits, ' ');
  }
  const size_t hlen = header.size() + 1;  // + '\n'
  int major = 1;
  size_t prefix = kMagic.size() + 2 + 2;
  size_t padding = kAlign - (prefix + hlen) % kAlign;
  if (hlen + padding > 65535) {
    major = 2;
    prefix = kMagic.size() + 2 + 4;
    padding = kAlign - (prefix + hlen) % kAlign;
  }
  const uint32_t stored = static_cast<uint32_t>(hlen + padding);

  std::string out;
  out.reserve(prefix + stored + *n * 4);
  out += kMagic;
  out += static_cast<char>(major);
  out += '\0';
  for (size_t b = 0; b < (major == 1 ? 2u : 4u); ++b) out += static_cast<char>((stored >> (8 * b)) & 0xff);
  out += header;
  out.append(padding, ' ');
  out += '\n';
  appendLittleEndian(out, data, *n);
  writeFileAtomic(path, out);
}

NpyArray readNpy(const fs::path& path) {
  const std::string file = path.string();
  const std::string bytes = readFile(path);
  auto error = [&](ErrorCode code, const std::string& what) { return Error(code, file + ": " + what, file); };

  if (bytes.size() < kMagic.size() + 2 || std::string_view(bytes).substr(0, kMagic.size()) != kMagic)
    throw error(ErrorCode::Corrupt, "not a NumPy .npy file (no \\x93NUMPY magic at the start)");
  const int major = static_cast<uint8_t>(bytes[6]), minor = static_cast<uint8_t>(bytes[7]);
  size_t lengthBytes = 0;
  if (major == 1 && minor == 0)
    lengthBytes = 2;
  else if ((major == 2 || major == 3) && minor == 0)
    lengthBytes = 4;
  else
    throw error(ErrorCode::Unsupported, ".npy format version " + std::to_string(major) + "." + std::to_string(minor) +
                                            " is not supported (1.0, 2.0 and 3.0 are)");
  const size_t prefix = 8 + lengthBytes;
  if (bytes.size() < prefix) throw error(ErrorCode::Truncated, "the .npy file ends inside its header length");
  size_t headerLength = 0;
  for (size_t b = 0; b < lengthBytes; ++b) headerLength |= size_t(static_cast<uint8_t>(bytes[8 + b])) << (8 * b);
  if (bytes.size() - prefix < headerLength)
    throw error(ErrorCode::Truncated, "the .npy header claims " + std::to_string(headerLength) + " bytes, the file has " +
                                          std::to_string(bytes.size() - prefix) + " after the header length");

  const PyValue dict = LiteralParser(std::string_view(bytes).substr(prefix, headerLength), path).parseAll();
  if (dict.kind != PyValue::Kind::Dict) throw error(ErrorCode::Corrupt, "the .npy header is not a dict");
  const PyValue *descr = nullptr, *fortran = nullptr, *shape = nullptr;
  for (size_t k = 0; k < dict.keys.size(); ++k) {
    const std::string& key = dict.keys[k];
    const PyValue& value = dict.items[k];
    const PyValue** slot = key == "descr" ? &descr : key == "fortran_order" ? &fortran : key == "shape" ? &shape : nullptr;
    if (!slot) throw error(ErrorCode::Corrupt, "unexpected key '" + printable(key) + "' in the .npy header");
    if (*slot) throw error(ErrorCode::Corrupt, "key '" + key + "' appears twice in the .npy header");
    *slot = &value;
  }
  if (!descr || !fortran || !shape)
    throw error(ErrorCode::Corrupt, std::string("the .npy header has no '") +
                                        (!descr ? "descr" : !fortran ? "fortran_order" : "shape") + "' key");

  if (descr->kind != PyValue::Kind::Str)
    throw error(ErrorCode::Unsupported, "structured .npy dtypes are not supported (only '<f4' float32 is)");
  if (descr->str != "<f4")
    throw error(ErrorCode::Unsupported, ".npy dtype '" + printable(descr->str) + "' is not supported (only '<f4' float32 is)");
  if (fortran->kind != PyValue::Kind::Bool) throw error(ErrorCode::Corrupt, "'fortran_order' in the .npy header is not True or False");
  if (fortran->boolean)
    throw error(ErrorCode::Unsupported, "Fortran-order (column-major) .npy arrays are not supported (only C order is)");
  if (shape->kind != PyValue::Kind::Tuple) throw error(ErrorCode::Corrupt, "'shape' in the .npy header is not a tuple");

  NpyArray array;
  for (const PyValue& d : shape->items) {
    if (d.kind != PyValue::Kind::Int || d.integer < 0)
      throw error(ErrorCode::Corrupt, "'shape' in the .npy header is not a tuple of non-negative integers");
    array.shape.push_back(d.integer);
  }
  const auto n = elementCount(array.shape);
  if (!n) throw error(ErrorCode::Corrupt, ".npy shape " + shapeRepr(array.shape) + " is too large");

  const size_t dataStart = prefix + headerLength;
  const size_t available = bytes.size() - dataStart;
  if (available < *n * 4)
    throw error(ErrorCode::Truncated, "the .npy data ends after " + std::to_string(available) + " of " +
                                          std::to_string(*n * 4) + " bytes (shape " + shapeRepr(array.shape) + ")");
  if (available > *n * 4)
    throw error(ErrorCode::Corrupt, std::to_string(available - *n * 4) + " unexpected bytes after the .npy data (shape " +
                                        shapeRepr(array.shape) + ")");
  array.data.resize(*n);
  if (*n) std::memcpy(array.data.data(), bytes.data() + dataStart, *n * 4);
  if constexpr (std::endian::native == std::endian::big)
    for (float& f : array.data) {
      auto* b = reinterpret_cast<char*>(&f);
      std::swap(b[0], b[3]), std::swap(b[1], b[2]);
    }
  return array;
}

}  // namespace vlm::io
