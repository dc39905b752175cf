#include "session/zip.h"

#include <zlib.h>

#include <cstring>
#include <limits>

#include "common/error.h"

namespace vlm::session {

namespace {

void put16(std::string& out, uint16_t v) {
  out += char(v & 0xff);
  out += char(v >> 8);
}
void put32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out += char((v >> (8 * i)) & 0xff);
}
uint16_t get16(std::string_view b, size_t at) { return uint16_t(uint8_t(b[at]) | uint8_t(b[at + 1]) << 8); }
uint32_t get32(std::string_view b, size_t at) {
  return uint32_t(uint8_t(b[at])) | uint32_t(uint8_t(b[at + 1])) << 8 | uint32_t(uint8_t(b[at + 2])) << 16 | uint32_t(uint8_t(b[at + 3])) << 24;
}

uint32_t crcOf(std::string_view data) {
  uLong crc = crc32(0L, Z_NULL, 0);
  size_t at = 0;
  while (at < data.size()) {
    const uInt n = uInt(std::min<size_t>(data.size() - at, 1u << 30));
    crc = crc32(crc, reinterpret_cast<const Bytef*>(data.data() + at), n);
    at += n;
  }
  return uint32_t(crc);
}

bool safeName(const std::string& name) {
  return !name.empty() && name.size() < 4096 && name.front() != '/' && name.find("..") == std::string::npos && name.find('\\') == std::string::npos;
}

}  // namespace

std::string makeZip(const ZipEntries& entries) {
  std::string out, central;
  uint16_t count = 0;
  for (const auto& [name, data] : entries) {
    if (!safeName(name)) throw Error(ErrorCode::InvalidArgument, "bad entry name in a session file: '" + name + "'");
    if (data.size() >= std::numeric_limits<uint32_t>::max() || out.size() >= std::numeric_limits<uint32_t>::max() - data.size() - 1024)
      throw Error(ErrorCode::ResourceLimit, "a session file is limited to 4 GB");
    if (count == std::numeric_limits<uint16_t>::max()) throw Error(ErrorCode::ResourceLimit, "a session file holds at most 65535 entries");
    const uint32_t crc = crcOf(data);
    const uint32_t offset = uint32_t(out.size());
    // Local file header: stored (method 0), UTF-8 names (flag bit 11), fixed time stamp (1980-01-01).
    put32(out, 0x04034b50);
    put16(out, 20);
    put16(out, 0x0800);
    put16(out, 0);
    put16(out, 0);
    put16(out, 0x21);
    put32(out, crc);
    put32(out, uint32_t(data.size()));
    put32(out, uint32_t(data.size()));
    put16(out, uint16_t(name.size()));
    put16(out, 0);
    out += name;
    out += data;
    put32(central, 0x02014b50);
    put16(central, 0x031e);  // made by: Unix, 3.0
    put16(central, 20);
    put16(central, 0x0800);
    put16(central, 0);
    put16(central, 0);
    put16(central, 0x21);
    put32(central, crc);
    put32(central, uint32_t(data.size()));
    put32(central, uint32_t(data.size()));
    put16(central, uint16_t(name.size()));
    put16(central, 0);
    put16(central, 0);
    put16(central, 0);
    put16(central, 0);
    put32(central, 0644u << 16);  // external attributes: a regular file, rw-r--r--
    put32(central, offset);
    central += name;
    ++count;
  }
  const uint32_t centralOffset = uint32_t(out.size());
  out += central;
  put32(out, 0x06054b50);
  put16(out, 0);
  put16(out, 0);
  put16(out, count);
  put16(out, count);
  put32(out, uint32_t(central.size()));
  put32(out, centralOffset);
  put16(out, 0);
  return out;
}

ZipEntries readZip(std::string_view b, const std::string& file) {
  const auto corrupt = [&](const std::string& what) { return Error(ErrorCode::Corrupt, file + ": not a valid session file (" + what + ")", file); };
  if (b.size() < 22) throw Error(ErrorCode::Truncated, file + ": too short to be a session file (" + std::to_string(b.size()) + " bytes)", file);
  // The end-of-central-directory record: the last 22 bytes (no archive comment is written;
  // one of up to 64 KB is tolerated).
  size_t end = std::string_view::npos;
  for (size_t at = b.size() - 22;; --at) {
    if (get32(b, at) == 0x06054b50) {
      end = at;
      break;
    }
    if (at == 0 || b.size() - at > 22 + 65535) break;
  }
  if (end == std::string_view::npos) {
    if (b.substr(0, 4) == std::string_view("PK\x03\x04", 4)) throw Error(ErrorCode::Truncated, file + ": the session file is cut short (no ZIP directory at its end)", file);
    throw corrupt("no ZIP directory");
  }
  const uint16_t count = get16(b, end + 10);
  const uint32_t centralSize = get32(b, end + 12), centralOffset = get32(b, end + 16);
  if (uint64_t(centralOffset) + centralSize > end) throw corrupt("directory outside the file");
  ZipEntries entries;
  size_t at = centralOffset;
  for (uint16_t i = 0; i < count; ++i) {
    if (at + 46 > end || get32(b, at) != 0x02014b50) throw corrupt("directory entry " + std::to_string(i));
    const uint16_t method = get16(b, at + 10);
    const uint32_t crc = get32(b, at + 16), compressed = get32(b, at + 20), size = get32(b, at + 24);
    const uint16_t nameLength = get16(b, at + 28), extraLength = get16(b, at + 30), commentLength = get16(b, at + 32);
    const uint32_t local = get32(b, at + 42);
    if (at + 46 + nameLength > end) throw corrupt("directory entry " + std::to_string(i));
    const std::string name(b.substr(at + 46, nameLength));
    at += 46 + size_t(nameLength) + extraLength + commentLength;
    if (!safeName(name)) throw Error(ErrorCode::Unsafe, file + ": the session file has an unsafe entry name '" + name + "'", file);
    if (method != 0 || compressed != size) throw Error(ErrorCode::Unsupported, file + ": entry " + name + " is compressed (VLMScope writes stored entries only)", file);
    if (uint64_t(local) + 30 > centralOffset || get32(b, local) != 0x04034b50) throw corrupt("entry " + name + " has no local header");
    const size_t dataAt = size_t(local) + 30 + get16(b, local + 26) + get16(b, local + 28);
    if (uint64_t(dataAt) + size > centralOffset) throw Error(ErrorCode::Truncated, file + ": entry " + name + " runs past its end", file);
    std::string data(b.substr(dataAt, size));
    if (crcOf(data) != crc) throw corrupt("entry " + name + " fails its CRC-32 check: the file is damaged");
    if (!entries.emplace(name, std::move(data)).second) throw corrupt("entry " + name + " appears twice");
  }
  return entries;
}

}  // namespace vlm::session
