#include "io/image.h"

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <string_view>
#include <system_error>

#include "common/error.h"
#include "io/files.h"

namespace vlm::io {
namespace {

using Bytes = std::span<const uint8_t>;

// ---------------------------------------------------------------------------------------------
// Bounds-checked integer reads.

bool has(Bytes b, uint64_t pos, uint64_t n) { return pos <= b.size() && n <= b.size() - pos; }
uint32_t be16(Bytes b, size_t p) { return uint32_t(b[p]) << 8 | b[p + 1]; }
uint32_t be32(Bytes b, size_t p) { return be16(b, p) << 16 | be16(b, p + 2); }
uint32_t le16(Bytes b, size_t p) { return uint32_t(b[p]) | uint32_t(b[p + 1]) << 8; }
uint32_t le24(Bytes b, size_t p) { return le16(b, p) | uint32_t(b[p + 2]) << 16; }
uint32_t le32(Bytes b, size_t p) { return le16(b, p) | le16(b, p + 2) << 16; }

bool startsWith(Bytes b, std::string_view s, size_t at = 0) {
  return has(b, at, s.size()) && std::memcmp(b.data() + at, s.data(), s.size()) == 0;
}

// ---------------------------------------------------------------------------------------------
// Formats recognised by their signature.

enum class Format {
  Unknown, Png, Jpeg, Bmp, Webp, Tiff,  // the formats this module reads the header of
  Pnm, SunRaster, Jpeg2000,             // other formats OpenCV decodes (size read here too)
  Gif, FloatingPoint,                   // recognised and refused
};

const char* formatName(Format f) {
  switch (f) {
    case Format::Png: return "png";
    case Format::Jpeg: return "jpeg";
    case Format::Bmp: return "bmp";
    case Format::Webp: return "webp";
    case Format::Tiff: return "tiff";
    case Format::Pnm: return "pnm";
    case Format::SunRaster: return "sunraster";
    case Format::Jpeg2000: return "jpeg2000";
    case Format::Gif: return "gif";
    case Format::FloatingPoint:
    case Format::Unknown: break;
  }
  return "";
}

const char* formatTitle(Format f) {
  switch (f) {
    case Format::Png: return "PNG";
    case Format::Jpeg: return "JPEG";
    case Format::Bmp: return "BMP";
    case Format::Webp: return "WebP";
    case Format::Tiff: return "TIFF";
    case Format::Pnm: return "PNM";
    case Format::SunRaster: return "Sun raster";
    case Format::Jpeg2000: return "JPEG 2000";
    case Format::Gif: return "GIF";
    case Format::FloatingPoint:
    case Format::Unknown: break;
  }
  return "image";
}

bool isSpace(uint8_t c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

Format sniff(Bytes b) {
  if (startsWith(b, std::string_view("\x89PNG\r\n\x1a\n", 8))) return Format::Png;
  if (startsWith(b, "\xFF\xD8\xFF")) return Format::Jpeg;
  if (startsWith(b, "BM")) return Format::Bmp;
  if (startsWith(b, "RIFF") && startsWith(b, "WEBP", 8)) return Format::Webp;
  if (startsWith(b, std::string_view("II*\0", 4)) || startsWith(b, std::string_view("MM\0*", 4)) ||
      startsWith(b, std::string_view("II+\0", 4)) || startsWith(b, std::string_view("MM\0+", 4)))
    return Format::Tiff;
  if (startsWith(b, "GIF87a") || startsWith(b, "GIF89a")) return Format::Gif;
  // OpenCV's signatures for the rest (PxM / PAM, Sun raster, JPEG 2000, PFM, Radiance, OpenEXR)
  if (has(b, 0, 3) && b[0] == 'P' && b[1] >= '1' && b[1] <= '7' && isSpace(b[2])) return Format::Pnm;
  if (startsWith(b, "\x59\xA6\x6A\x95")) return Format::SunRaster;
  if (startsWith(b, "\xFF\x4F\xFF\x51") || startsWith(b, std::string_view("\0\0\0\x0CjP  \r\n\x87\n", 12)))
    return Format::Jpeg2000;
  if ((startsWith(b, "PF") || startsWith(b, "Pf")) && has(b, 0, 3) && isSpace(b[2])) return Format::FloatingPoint;
  if (startsWith(b, "#?RGBE") || startsWith(b, "#?RADIANCE") || startsWith(b, "\x76\x2F\x31\x01"))
    return Format::FloatingPoint;
  return Format::Unknown;
}

// What reading a header found.
enum class HeaderStatus { Ok, Truncated, Corrupt, Unsupported };

struct Header {
  HeaderStatus status = HeaderStatus::Ok;
  std::string problem;  // when not Ok
  int64_t width = 0, height = 0;
  bool animated = false;  // WebP animation

  static Header fail(HeaderStatus s, std::string why) {
    Header h;
    h.status = s;
    h.problem = std::move(why);
    return h;
  }
};

// ---------------------------------------------------------------------------------------------
// TIFF structure (TIFF files, and the EXIF block, which is a little TIFF file).

struct TiffView {
  Bytes b;
  bool little = true;
  bool big = false;  // BigTIFF
  uint64_t firstIfd = 0;

  uint64_t u16(uint64_t p) const { return little ? le16(b, p) : be16(b, p); }
  uint64_t u32(uint64_t p) const { return little ? le32(b, p) : be32(b, p); }
  uint64_t u64(uint64_t p) const {
    return little ? (u32(p) | u32(p + 4) << 32) : (u32(p) << 32 | u32(p + 4));
  }
};

// Reads the 8-byte (classic) or 16-byte (BigTIFF) header. Like Pillow, the magic number is
// accepted in either byte order.
std::optional<TiffView> openTiff(Bytes b, bool allowBig) {
  if (!has(b, 0, 8)) return std::nullopt;
  TiffView t;
  t.b = b;
  if (b[0] == 'I' && b[1] == 'I') t.little = true;
  else if (b[0] == 'M' && b[1] == 'M') t.little = false;
  else return std::nullopt;
  const bool classic = (b[2] == 42 && b[3] == 0) || (b[2] == 0 && b[3] == 42);
  const bool bigtiff = (b[2] == 43 && b[3] == 0) || (b[2] == 0 && b[3] == 43);
  if (classic) {
    t.firstIfd = t.u32(4);
  } else if (bigtiff && allowBig) {
    if (!has(b, 0, 16) || t.u16(4) != 8) return std::nullopt;
    t.big = true;
    t.firstIfd = t.u64(8);
  } else {
    return std::nullopt;
  }
  return t;
}

uint64_t tiffTypeSize(uint64_t type) {
  switch (type) {
    case 1: case 2: case 6: case 7: return 1;   // BYTE ASCII SBYTE UNDEFINED
    case 3: case 8: return 2;                   // SHORT SSHORT
    case 4: case 9: case 11: case 13: return 4; // LONG SLONG FLOAT IFD
    case 5: case 10: case 12: case 16: case 17: case 18: return 8;  // RATIONAL .. IFD8
    default: return 0;
  }
}

struct TiffEntry {
  uint64_t tag = 0, type = 0, count = 0;
  std::optional<uint64_t> valuePos;  // where the value's bytes start; nullopt if out of range
};

enum class IfdWalk { Complete, Truncated, Missing };

// Calls f(entry) for each entry of the IFD at `offset`; stops early (Truncated) when the
// entries run past the data, as Pillow does (it keeps the entries read so far).
template <class F>
IfdWalk forEachIfdEntry(const TiffView& t, uint64_t offset, F&& f) {
  const uint64_t countSize = t.big ? 8 : 2, entrySize = t.big ? 20 : 12, inlineSize = t.big ? 8 : 4;
  if (!has(t.b, offset, countSize)) return IfdWalk::Missing;
  const uint64_t n = t.big ? t.u64(offset) : t.u16(offset);
  for (uint64_t i = 0; i < n; ++i) {
    const uint64_t p = offset + countSize + i * entrySize;
    if (!has(t.b, p, entrySize)) return IfdWalk::Truncated;
    TiffEntry e;
    e.tag = t.u16(p);
    e.type = t.u16(p + 2);
    e.count = t.big ? t.u64(p + 4) : t.u32(p + 4);
    const uint64_t ts = tiffTypeSize(e.type);
    const uint64_t valueField = p + (t.big ? 12 : 8);
    if (ts > 0 && e.count > 0 && e.count <= (uint64_t(1) << 40) / ts) {
      const uint64_t size = e.count * ts;
      const uint64_t pos = size <= inlineSize ? valueField : (t.big ? t.u64(valueField) : t.u32(valueField));
      if (has(t.b, pos, size)) e.valuePos = pos;
    }
    f(e);
  }
  return IfdWalk::Complete;
}

// The first value of an integer-typed entry (unsigned and signed 16/32/64-bit).
std::optional<int64_t> firstInteger(const TiffView& t, const TiffEntry& e) {
  if (!e.valuePos) return std::nullopt;
  const uint64_t p = *e.valuePos;
  switch (e.type) {
    case 3: return int64_t(t.u16(p));
    case 4: return int64_t(t.u32(p));
    case 8: return int64_t(int16_t(uint16_t(t.u16(p))));
    case 9: return int64_t(int32_t(uint32_t(t.u32(p))));
    case 16: case 17: {
      const uint64_t v = t.u64(p);
      return v > uint64_t(std::numeric_limits<int64_t>::max()) ? std::nullopt : std::optional<int64_t>(int64_t(v));
    }
    default: return std::nullopt;
  }
}

struct OrientationTag {
  bool present = false;  // tag 0x0112 exists (whatever its value)
  int value = 0;         // 1..8 when usable, else 0
};

// Orientation (tag 0x0112) in IFD0 of a TIFF structure, read as Pillow's Exif does: the last
// entry wins, the first value of an integer type is used, other types are present but unusable.
OrientationTag orientationInTiff(const TiffView& t) {
  OrientationTag o;
  forEachIfdEntry(t, t.firstIfd, [&](const TiffEntry& e) {
    if (e.tag != 0x0112 || !e.valuePos) return;  // Pillow skips entries whose data is missing
    o.present = true;
    const auto v = firstInteger(t, e);
    o.value = v && *v >= 1 && *v <= 8 ? int(*v) : 0;
  });
  return o;
}

// An EXIF block: optional "Exif\0\0" prefix, then a classic TIFF structure.
OrientationTag orientationInExif(Bytes exif) {
  if (startsWith(exif, std::string_view("Exif\0\0", 6))) exif = exif.subspan(6);
  const auto t = openTiff(exif, false);
  if (!t) return {};  // Pillow raises here; a damaged EXIF block counts as none
  return orientationInTiff(*t);
}

// ---------------------------------------------------------------------------------------------
// PNG

constexpr uint32_t fourcc(const char (&s)[5]) {
  return uint32_t(uint8_t(s[0])) << 24 | uint32_t(uint8_t(s[1])) << 16 | uint32_t(uint8_t(s[2])) << 8 |
         uint32_t(uint8_t(s[3]));
}

// Calls f(type, data) for each chunk after the signature until IEND or f returns false.
// Returns false when the data ends inside a chunk (the file is truncated).
template <class F>
bool forEachPngChunk(Bytes b, F&& f) {
  size_t pos = 8;
  while (pos < b.size()) {
    if (!has(b, pos, 8)) return false;
    const uint32_t len = be32(b, pos), type = be32(b, pos + 4);
    if (!has(b, pos + 8, uint64_t(len) + 4)) return false;
    if (!f(type, b.subspan(pos + 8, len))) return true;
    if (type == fourcc("IEND")) return true;
    pos += 12 + size_t(len);
  }
  return true;
}

Header pngHeader(Bytes b) {
  if (!has(b, 0, 24)) return Header::fail(HeaderStatus::Truncated, "the PNG header is cut short");
  if (be32(b, 12) != fourcc("IHDR") || be32(b, 8) != 13)
    return Header::fail(HeaderStatus::Corrupt, "the PNG does not start with an IHDR chunk");
  Header h;
  h.width = be32(b, 16);
  h.height = be32(b, 20);
  return h;
}

// zlib-compressed text of a zTXt/iTXt chunk, at most 1 MB (Pillow's limit) - nullopt otherwise.
std::optional<std::string> inflateText(Bytes in) {
  constexpr size_t kMax = 1 << 20;
  z_stream z{};
  if (inflateInit(&z) != Z_OK) return std::nullopt;
  std::string out;
  out.resize(std::min<size_t>(kMax, std::max<size_t>(in.size() * 4, 256)));
  z.next_in = const_cast<Bytef*>(in.data());
  z.avail_in = static_cast<uInt>(in.size());
  int rc = Z_OK;
  size_t produced = 0;
  while (rc == Z_OK) {
    if (produced == out.size()) {
      if (out.size() >= kMax) break;
      out.resize(std::min(kMax, out.size() * 2));
    }
    z.next_out = reinterpret_cast<Bytef*>(out.data() + produced);
    z.avail_out = static_cast<uInt>(out.size() - produced);
    rc = inflate(&z, Z_NO_FLUSH);
    produced = out.size() - z.avail_out;
  }
  inflateEnd(&z);
  if (rc != Z_STREAM_END) return std::nullopt;
  out.resize(produced);
  return out;
}

// Pillow's handling of "Raw profile type exif": drop the first three lines, hex-decode the rest.
std::optional<std::vector<uint8_t>> decodeRawProfile(std::string_view text) {
  size_t pos = 0;
  for (int i = 0; i < 3; ++i) {
    pos = text.find('\n', pos);
    if (pos == std::string_view::npos) return std::nullopt;
    ++pos;
  }
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  auto space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; };
  std::vector<uint8_t> out;
  for (size_t i = pos; i < text.size();) {
    const char c = text[i];
    if (c == '\n' || space(c)) { ++i; continue; }
    // a byte is two hex digits, possibly split across the lines that were joined
    size_t j = i + 1;
    while (j < text.size() && text[j] == '\n') ++j;
    if (j >= text.size() || hex(c) < 0 || hex(text[j]) < 0) return std::nullopt;
    out.push_back(uint8_t(hex(c) << 4 | hex(text[j])));
    i = j + 1;
  }
  return out;
}

// XMP fallback of Pillow's getexif: the first match of tiff:Orientation(="|>)([0-9]).
int orientationInXmp(std::string_view xmp) {
  constexpr std::string_view key = "tiff:Orientation";
  for (size_t p = xmp.find(key); p != std::string_view::npos; p = xmp.find(key, p + 1)) {
    size_t q = p + key.size();
    if (xmp.substr(q, 2) == "=\"") q += 2;
    else if (xmp.substr(q, 1) == ">") q += 1;
    else continue;
    if (q < xmp.size() && xmp[q] >= '0' && xmp[q] <= '9') {
      const int v = xmp[q] - '0';
      return v >= 1 && v <= 8 ? v : 0;
    }
  }
  return 0;
}

int pngOrientation(Bytes b) {
  // Pillow's PNG reader: eXIf -> info["exif"]; tEXt "exif" -> info["exif"] (raw bytes);
  // tEXt/zTXt/iTXt "Raw profile type exif" and "XML:com.adobe.xmp" -> text. Later chunks win.
  std::optional<std::vector<uint8_t>> exif;  // with or without the "Exif\0\0" prefix
  bool exifIsChunk = false;                  // from eXIf: Pillow prepends the prefix itself
  std::optional<std::string> rawProfile, xmp;
  forEachPngChunk(b, [&](uint32_t type, Bytes data) {
    if (type == fourcc("eXIf")) {
      exif.emplace(data.begin(), data.end());
      exifIsChunk = true;
      return true;
    }
    const bool text = type == fourcc("tEXt"), ztext = type == fourcc("zTXt"), itext = type == fourcc("iTXt");
    if (!text && !ztext && !itext) return true;
    const auto* nul = static_cast<const uint8_t*>(std::memchr(data.data(), 0, data.size()));
    if (!nul) return true;
    const std::string key(reinterpret_cast<const char*>(data.data()), size_t(nul - data.data()));
    Bytes rest = data.subspan(size_t(nul - data.data()) + 1);
    std::optional<std::string> value;
    if (text) {
      value.emplace(reinterpret_cast<const char*>(rest.data()), rest.size());
      if (key == "exif") {
        exif.emplace(rest.begin(), rest.end());
        exifIsChunk = false;
        return true;
      }
    } else if (ztext) {
      if (rest.empty() || rest[0] != 0) return true;
      value = inflateText(rest.subspan(1));
      if (!value) value.emplace();  // Pillow: a zlib error gives an empty text
    } else {
      if (rest.size() < 2) return true;
      const uint8_t compressed = rest[0], method = rest[1];
      rest = rest.subspan(2);
      for (int i = 0; i < 2; ++i) {  // language tag, translated keyword
        const auto* z = static_cast<const uint8_t*>(std::memchr(rest.data(), 0, rest.size()));
        if (!z) return true;
        rest = rest.subspan(size_t(z - rest.data()) + 1);
      }
      if (compressed) {
        if (method != 0) return true;
        value = inflateText(rest);
        if (!value) return true;
      } else {
        value.emplace(reinterpret_cast<const char*>(rest.data()), rest.size());
      }
    }
    if (key == "Raw profile type exif") rawProfile = std::move(value);
    else if (key == "XML:com.adobe.xmp") xmp = std::move(value);
    return true;
  });
  OrientationTag o;
  if (exif) {
    if (exifIsChunk) {
      const auto t = openTiff(*exif, false);
      if (t) o = orientationInTiff(*t);
    } else {
      o = orientationInExif(*exif);
    }
  } else if (rawProfile) {
    if (const auto bytes = decodeRawProfile(*rawProfile)) o = orientationInExif(*bytes);
  }
  if (!o.present && xmp) return orientationInXmp(*xmp);
  return o.value;
}

// ---------------------------------------------------------------------------------------------
// JPEG: a walk over the marker segments (and, to find the end-of-image marker, over the
// entropy-coded data, where 0xFF is always followed by 0x00 or a restart marker).

struct JpegWalk {
  HeaderStatus status = HeaderStatus::Ok;
  std::string problem;
  bool haveFrame = false;
  int64_t width = 0, height = 0;
  std::optional<Bytes> exif;  // payload of the first APP1 "Exif\0" segment before the first scan
  bool sawScan = false;
  bool sawEnd = false;  // EOI reached
};

bool isSofMarker(uint8_t m) { return m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC; }

JpegWalk walkJpeg(Bytes b, bool toEnd) {
  JpegWalk w;
  auto fail = [&](HeaderStatus s, std::string why) {
    w.status = s;
    w.problem = std::move(why);
    return w;
  };
  size_t pos = 2;
  while (true) {
    // Next marker: skip anything that is not 0xFF (libjpeg warns and does the same), then fill bytes.
    while (pos < b.size() && b[pos] != 0xFF) ++pos;
    while (pos < b.size() && b[pos] == 0xFF) ++pos;
    if (pos >= b.size()) break;
    const uint8_t m = b[pos++];
    if (m == 0x00 || m == 0x01 || m == 0xD8 || (m >= 0xD0 && m <= 0xD7)) continue;  // no length
    if (m == 0xD9) {
      w.sawEnd = true;
      break;
    }
    if (!has(b, pos, 2)) break;
    const uint32_t len = be16(b, pos);
    if (len < 2) return fail(HeaderStatus::Corrupt, "a JPEG segment has an invalid length");
    if (!has(b, pos, len)) break;
    const Bytes seg = b.subspan(pos + 2, len - 2);
    pos += len;
    if (isSofMarker(m) && !w.haveFrame) {
      if (seg.size() < 6) return fail(HeaderStatus::Corrupt, "the JPEG frame header is too short");
      w.haveFrame = true;
      w.height = be16(seg, 1);
      w.width = be16(seg, 3);
    } else if (m == 0xE1 && !w.sawScan && !w.exif && startsWith(seg, std::string_view("Exif\0", 5))) {
      w.exif = seg;
    } else if (m == 0xDA) {
      if (!w.haveFrame) return fail(HeaderStatus::Corrupt, "the JPEG has a scan before its frame header");
      w.sawScan = true;
      if (!toEnd) return w;
      // Entropy-coded data runs until a 0xFF that is not followed by 0x00, a restart marker or fill.
      while (true) {
        const auto* ff = static_cast<const uint8_t*>(std::memchr(b.data() + pos, 0xFF, b.size() - pos));
        if (!ff) {
          pos = b.size();
          break;
        }
        const size_t p = size_t(ff - b.data());
        if (p + 1 >= b.size()) {
          pos = b.size();
          break;
        }
        const uint8_t n = b[p + 1];
        if (n == 0x00 || (n >= 0xD0 && n <= 0xD7) || n == 0xFF) {
          pos = p + (n == 0xFF ? 1 : 2);
          continue;
        }
        pos = p;
        break;
      }
    }
  }
  if (!w.haveFrame) return fail(HeaderStatus::Truncated, "the JPEG data ends before its frame header");
  if (toEnd && !w.sawEnd)
    return fail(HeaderStatus::Truncated, "the JPEG data ends before its end-of-image marker");
  return w;
}

Header jpegHeader(Bytes b) {
  const JpegWalk w = walkJpeg(b, false);
  if (w.status != HeaderStatus::Ok) return Header::fail(w.status, w.problem);
  Header h;
  h.width = w.width;
  h.height = w.height;
  if (h.height == 0)
    return Header::fail(HeaderStatus::Unsupported, "JPEG whose height is given by a DNL marker");
  return h;
}

int jpegOrientation(Bytes b) {
  const JpegWalk w = walkJpeg(b, false);
  if (!w.exif) return 0;
  // Pillow keeps APP1 segments starting "Exif\0" and strips "Exif\0\0" when it is there.
  if (!startsWith(*w.exif, std::string_view("Exif\0\0", 6))) return 0;
  return orientationInExif(*w.exif).value;
}

// ---------------------------------------------------------------------------------------------
// BMP

Header bmpHeader(Bytes b) {
  if (!has(b, 0, 18)) return Header::fail(HeaderStatus::Truncated, "the BMP header is cut short");
  const uint32_t dib = le32(b, 14);
  Header h;
  if (dib == 12) {  // OS/2 BITMAPCOREHEADER: 16-bit unsigned sizes
    if (!has(b, 0, 26)) return Header::fail(HeaderStatus::Truncated, "the BMP header is cut short");
    h.width = le16(b, 18);
    h.height = le16(b, 20);
  } else if (dib >= 16 && dib <= 124) {
    if (!has(b, 0, 26)) return Header::fail(HeaderStatus::Truncated, "the BMP header is cut short");
    h.width = int32_t(le32(b, 18));
    h.height = int32_t(le32(b, 22));
    if (h.height < 0) h.height = -h.height;  // top-down rows
    if (h.width < 0) return Header::fail(HeaderStatus::Corrupt, "the BMP header gives a negative width");
  } else {
    return Header::fail(HeaderStatus::Corrupt, "the BMP has an unknown header size " + std::to_string(dib));
  }
  return h;
}

// 16-bit BMPs: OpenCV expands a 5-bit sample v to v << 3 (6-bit green: v << 2); Pillow's
// "BGR;15" / "BGR;16" unpackers scale it to v * 255 / 31 (v * 255 / 63). Returns whether the
// file is such a BMP, and whether green has 6 bits (565).
std::optional<bool> bmp16Layout(Bytes b) {
  if (!has(b, 0, 34) || le32(b, 14) < 40 || le16(b, 28) != 16) return std::nullopt;
  const uint32_t compression = le32(b, 30);
  if (compression == 0) return false;  // BI_RGB: 5-5-5
  if (compression != 3 || !has(b, 54, 12)) return std::nullopt;
  const uint32_t r = le32(b, 54), g = le32(b, 58), bl = le32(b, 62);
  if (r == 0xF800 && g == 0x07E0 && bl == 0x001F) return true;
  if (r == 0x7C00 && g == 0x03E0 && bl == 0x001F) return false;
  return std::nullopt;
}

void rescaleBmp16(cv::Mat& m, bool green6) {
  uint8_t lut5[256], lut6[256];
  for (int v = 0; v < 256; ++v) {
    lut5[v] = uint8_t((v >> 3) * 255 / 31);
    lut6[v] = uint8_t((v >> 2) * 255 / 63);
  }
  for (int y = 0; y < m.rows; ++y) {
    uint8_t* p = m.ptr<uint8_t>(y);
    for (int x = 0; x < m.cols; ++x, p += m.channels()) {
      p[0] = lut5[p[0]];
      p[1] = green6 ? lut6[p[1]] : lut5[p[1]];
      p[2] = lut5[p[2]];
    }
  }
}

// ---------------------------------------------------------------------------------------------
// WebP (RIFF container)

Header webpHeader(Bytes b) {
  if (!has(b, 0, 20)) return Header::fail(HeaderStatus::Truncated, "the WebP header is cut short");
  Header h;
  const uint32_t chunk = be32(b, 12);
  if (chunk == fourcc("VP8 ")) {
    if (!has(b, 0, 30)) return Header::fail(HeaderStatus::Truncated, "the WebP header is cut short");
    if (b[23] != 0x9D || b[24] != 0x01 || b[25] != 0x2A)
      return Header::fail(HeaderStatus::Corrupt, "the WebP (VP8) frame has no start code");
    h.width = le16(b, 26) & 0x3FFF;
    h.height = le16(b, 28) & 0x3FFF;
  } else if (chunk == fourcc("VP8L")) {
    if (!has(b, 0, 25)) return Header::fail(HeaderStatus::Truncated, "the WebP header is cut short");
    if (b[20] != 0x2F) return Header::fail(HeaderStatus::Corrupt, "the WebP (VP8L) stream has no signature");
    const uint32_t bits = le32(b, 21);
    h.width = (bits & 0x3FFF) + 1;
    h.height = ((bits >> 14) & 0x3FFF) + 1;
  } else if (chunk == fourcc("VP8X")) {
    if (!has(b, 0, 30)) return Header::fail(HeaderStatus::Truncated, "the WebP header is cut short");
    h.animated = (b[20] & 0x02) != 0;
    h.width = int64_t(le24(b, 24)) + 1;
    h.height = int64_t(le24(b, 27)) + 1;
  } else {
    return Header::fail(HeaderStatus::Corrupt, "the WebP has no VP8/VP8L/VP8X chunk first");
  }
  return h;
}

int webpOrientation(Bytes b) {
  if (!has(b, 0, 16) || be32(b, 12) != fourcc("VP8X")) return 0;  // only extended files carry EXIF
  size_t pos = 12;
  while (has(b, pos, 8)) {
    const uint32_t type = be32(b, pos), len = le32(b, pos + 4);
    if (!has(b, pos + 8, len)) return 0;
    if (type == fourcc("EXIF")) return orientationInExif(b.subspan(pos + 8, len)).value;
    pos += 8 + size_t(len) + (len & 1);
  }
  return 0;
}

// ---------------------------------------------------------------------------------------------
// TIFF files

Header tiffHeader(Bytes b) {
  const auto t = openTiff(b, true);
  if (!t) {
    if (!has(b, 0, 16)) return Header::fail(HeaderStatus::Truncated, "the TIFF header is cut short");
    return Header::fail(HeaderStatus::Corrupt, "the TIFF header is invalid");
  }
  std::optional<int64_t> w, h;
  const IfdWalk walk = forEachIfdEntry(*t, t->firstIfd, [&](const TiffEntry& e) {
    if (e.tag == 256) w = firstInteger(*t, e);
    if (e.tag == 257) h = firstInteger(*t, e);
  });
  if (!w || !h) {
    if (walk != IfdWalk::Complete) return Header::fail(HeaderStatus::Truncated, "the TIFF data ends inside its first directory");
    return Header::fail(HeaderStatus::Corrupt, "the TIFF directory has no image width or height");
  }
  Header r;
  r.width = *w;
  r.height = *h;
  if (r.width < 0 || r.height < 0) return Header::fail(HeaderStatus::Corrupt, "the TIFF gives a negative size");
  return r;
}

int tiffOrientation(Bytes b) {
  const auto t = openTiff(b, true);
  return t ? orientationInTiff(*t).value : 0;
}

// Whether the strips or tiles of IFD0 reach past the end of the data.
bool tiffDataCut(Bytes b) {
  const auto t = openTiff(b, true);
  if (!t) return false;
  std::optional<TiffEntry> offsets, counts;
  forEachIfdEntry(*t, t->firstIfd, [&](const TiffEntry& e) {
    if (e.tag == 273 || e.tag == 324) offsets = e;
    if (e.tag == 279 || e.tag == 325) counts = e;
  });
  if (!offsets || !counts || !offsets->valuePos || !counts->valuePos) return false;
  const uint64_t n = std::min(offsets->count, counts->count);
  auto nth = [&](const TiffEntry& e, uint64_t i) -> uint64_t {
    const uint64_t p = *e.valuePos + i * tiffTypeSize(e.type);
    switch (e.type) {
      case 3: return t->u16(p);
      case 4: return t->u32(p);
      case 16: return t->u64(p);
      default: return 0;
    }
  };
  for (uint64_t i = 0; i < n; ++i) {
    const uint64_t off = nth(*offsets, i), len = nth(*counts, i);
    if (off > b.size() || len > b.size() - off) return true;
  }
  return false;
}

// The alpha channel of 8-bit TIFFs. OpenCV reads them through libtiff's RGBA interface, which
// premultiplies unassociated alpha (ExtraSamples = 2) into the colours; Pillow keeps the stored
// colours ("RGBA") and drops the alpha. Associated alpha (ExtraSamples = 1) is passed through
// by libtiff, while Pillow divides it out ("RGBa" -> RGBA: c * 255 / a, 0 where a = 0).
struct TiffAlpha {
  uint64_t extraSamplesPos = 0;  // position of the first ExtraSamples value (a SHORT)
  int extraSamples = -1;         // its value; -1 when there is none
  int bitsPerSample = 0;
};

TiffAlpha tiffAlpha(Bytes b) {
  TiffAlpha a;
  const auto t = openTiff(b, true);
  if (!t) return a;
  forEachIfdEntry(*t, t->firstIfd, [&](const TiffEntry& e) {
    if (e.tag == 338 && e.type == 3 && e.valuePos) {
      a.extraSamplesPos = *e.valuePos;
      a.extraSamples = int(t->u16(*e.valuePos));
    }
    if (e.tag == 258) {
      if (const auto v = firstInteger(*t, e)) a.bitsPerSample = int(std::min<int64_t>(*v, 64));
    }
  });
  return a;
}

// ---------------------------------------------------------------------------------------------
// Netpbm (P1-P6: magic, width, height as text with # comments; P7 / PAM: WIDTH / HEIGHT lines),
// Sun raster, JPEG 2000 (codestream SIZ marker, or the JP2 ihdr box).

Header pnmHeader(Bytes b) {
  size_t pos = 2;
  // Next whitespace-separated token, skipping comments.
  auto token = [&]() -> std::optional<std::string> {
    while (pos < b.size()) {
      if (isSpace(b[pos])) ++pos;
      else if (b[pos] == '#') {
        while (pos < b.size() && b[pos] != '\n') ++pos;
      } else break;
    }
    std::string t;
    while (pos < b.size() && !isSpace(b[pos]) && t.size() < 32) t += char(b[pos++]);
    if (t.empty()) return std::nullopt;
    return t;
  };
  auto number = [](const std::optional<std::string>& t) -> std::optional<int64_t> {
    if (!t || t->empty() || t->size() > 10 || t->find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
    return std::stoll(*t);
  };
  std::optional<int64_t> w, h;
  if (b[1] == '7') {
    for (int i = 0; i < 64 && !(w && h); ++i) {
      const auto t = token();
      if (!t || *t == "ENDHDR") break;
      if (*t == "WIDTH") w = number(token());
      else if (*t == "HEIGHT") h = number(token());
    }
  } else {
    w = number(token());
    h = number(token());
  }
  if (!w || !h) {
    if (pos >= b.size()) return Header::fail(HeaderStatus::Truncated, "the PNM header is cut short");
    return Header::fail(HeaderStatus::Corrupt, "the PNM header has no valid width and height");
  }
  Header r;
  r.width = *w;
  r.height = *h;
  return r;
}

Header sunRasterHeader(Bytes b) {
  if (!has(b, 0, 12)) return Header::fail(HeaderStatus::Truncated, "the Sun raster header is cut short");
  Header h;
  h.width = int32_t(be32(b, 4));
  h.height = int32_t(be32(b, 8));
  return h;
}

Header jpeg2000Header(Bytes b) {
  if (startsWith(b, "\xFF\x4F\xFF\x51")) {  // raw codestream: SOC, then SIZ
    if (!has(b, 0, 24)) return Header::fail(HeaderStatus::Truncated, "the JPEG 2000 header is cut short");
    const int64_t xs = be32(b, 8), ys = be32(b, 12), xo = be32(b, 16), yo = be32(b, 20);
    Header h;
    h.width = xs - xo;
    h.height = ys - yo;
    return h;
  }
  // JP2 boxes: find jp2h, then ihdr (height, width) inside it.
  auto findBox = [&](size_t begin, size_t end, uint32_t type) -> std::optional<std::pair<size_t, size_t>> {
    size_t pos = begin;
    while (pos + 8 <= end) {
      uint64_t len = be32(b, pos);
      size_t header = 8;
      if (len == 1) {
        if (pos + 16 > end) return std::nullopt;
        len = uint64_t(be32(b, pos + 8)) << 32 | be32(b, pos + 12);
        header = 16;
      } else if (len == 0) {
        len = end - pos;
      }
      if (len < header || len > end - pos) return std::nullopt;
      if (be32(b, pos + 4) == type) return std::pair{pos + header, pos + size_t(len)};
      pos += size_t(len);
    }
    return std::nullopt;
  };
  const auto jp2h = findBox(0, b.size(), fourcc("jp2h"));
  const auto ihdrBox = jp2h ? findBox(jp2h->first, jp2h->second, fourcc("ihdr")) : std::nullopt;
  if (!ihdrBox || ihdrBox->second - ihdrBox->first < 8)
    return Header::fail(HeaderStatus::Corrupt, "the JPEG 2000 file has no image header (ihdr) box");
  Header h;
  h.height = be32(b, ihdrBox->first);
  h.width = be32(b, ihdrBox->first + 4);
  return h;
}

// ---------------------------------------------------------------------------------------------

Header readHeader(Format f, Bytes b) {
  switch (f) {
    case Format::Png: return pngHeader(b);
    case Format::Jpeg: return jpegHeader(b);
    case Format::Bmp: return bmpHeader(b);
    case Format::Webp: return webpHeader(b);
    case Format::Tiff: return tiffHeader(b);
    case Format::Pnm: return pnmHeader(b);
    case Format::SunRaster: return sunRasterHeader(b);
    case Format::Jpeg2000: return jpeg2000Header(b);
    case Format::Gif:
    case Format::FloatingPoint:
    case Format::Unknown: break;
  }
  return Header::fail(HeaderStatus::Unsupported, "not a recognised image format");
}

int orientationOf(Format f, Bytes b) {
  switch (f) {
    case Format::Png: return pngOrientation(b);
    case Format::Jpeg: return jpegOrientation(b);
    case Format::Webp: return webpOrientation(b);
    case Format::Tiff: return tiffOrientation(b);
    case Format::Bmp:
    case Format::Pnm:
    case Format::SunRaster:
    case Format::Jpeg2000:
    case Format::Gif:
    case Format::FloatingPoint:
    case Format::Unknown: break;
  }
  return 0;
}

ErrorCode codeOf(HeaderStatus s) {
  switch (s) {
    case HeaderStatus::Truncated: return ErrorCode::Truncated;
    case HeaderStatus::Corrupt: return ErrorCode::Corrupt;
    case HeaderStatus::Unsupported: return ErrorCode::Unsupported;
    case HeaderStatus::Ok: break;
  }
  return ErrorCode::Corrupt;
}

// OpenCV's own decoder limits (its defaults for OPENCV_IO_MAX_IMAGE_WIDTH/HEIGHT/PIXELS).
constexpr int64_t kOpenCvMaxSide = int64_t(1) << 20;
constexpr int64_t kOpenCvMaxPixels = int64_t(1) << 30;

void checkBudget(int64_t w, int64_t h, const ImageLoadOptions& opt, const std::string& name) {
  if (w <= 0 || h <= 0)
    throw Error(ErrorCode::Corrupt, name + ": the image header gives an empty size (" + std::to_string(w) + " x " +
                                        std::to_string(h) + ")", name);
  const int64_t pixels = w * h;  // both < 2^32: no overflow
  if (pixels > opt.maxPixels)
    throw Error(ErrorCode::ResourceLimit,
                name + ": the image is " + std::to_string(w) + " x " + std::to_string(h) + " = " +
                    std::to_string(pixels) + " pixels, over the limit of " + std::to_string(opt.maxPixels) +
                    " pixels; it was not decoded",
                name);
  if (w > kOpenCvMaxSide || h > kOpenCvMaxSide || pixels > kOpenCvMaxPixels)
    throw Error(ErrorCode::ResourceLimit,
                name + ": the image is " + std::to_string(w) + " x " + std::to_string(h) +
                    " pixels, larger than the image decoder accepts",
                name);
}

// OpenCV's planar BGR(A) / gray, 8 or 16 bits, to Pillow's convert('RGB').
ImageU8 toRgb(const cv::Mat& m, const ImageLoadOptions& opt, const std::string& name) {
  const int depth = m.depth(), ch = m.channels();
  if (depth != CV_8U && depth != CV_16U)
    throw Error(ErrorCode::Unsupported,
                name + ": pixels stored as " + (depth == CV_32F || depth == CV_64F ? "floating point" : "signed integers") +
                    " are not supported (8- and 16-bit images only)",
                name);
  if (ch < 1 || ch > 4)
    throw Error(ErrorCode::Unsupported, name + ": images with " + std::to_string(ch) + " channels are not supported", name);
  ImageU8 out;
  out.width = m.cols;
  out.height = m.rows;
  out.rgb.resize(size_t(m.cols) * size_t(m.rows) * 3);
  const bool gray16Clip = depth == CV_16U && ch == 1 && opt.gray16 == Gray16Policy::Pillow;
  for (int y = 0; y < m.rows; ++y) {
    uint8_t* o = out.rgb.data() + size_t(y) * size_t(m.cols) * 3;
    if (depth == CV_8U) {
      const uint8_t* p = m.ptr<uint8_t>(y);
      for (int x = 0; x < m.cols; ++x, p += ch, o += 3) {
        if (ch <= 2) {
          o[0] = o[1] = o[2] = p[0];
        } else {
          o[0] = p[2];
          o[1] = p[1];
          o[2] = p[0];
        }
      }
    } else {
      const uint16_t* p = m.ptr<uint16_t>(y);
      for (int x = 0; x < m.cols; ++x, p += ch, o += 3) {
        if (ch <= 2) {
          o[0] = o[1] = o[2] = gray16Clip ? uint8_t(std::min<uint16_t>(p[0], 255)) : uint8_t(p[0] >> 8);
        } else {
          o[0] = uint8_t(p[2] >> 8);
          o[1] = uint8_t(p[1] >> 8);
          o[2] = uint8_t(p[0] >> 8);
        }
      }
    }
  }
  return out;
}

}  // namespace

// ---------------------------------------------------------------------------------------------

std::optional<ImageInfo> probeImage(std::span<const uint8_t> bytes) {
  const Format f = sniff(bytes);
  if (f == Format::Unknown || f == Format::Gif || f == Format::FloatingPoint) return std::nullopt;
  const Header h = readHeader(f, bytes);
  if (h.status != HeaderStatus::Ok || h.width <= 0 || h.height <= 0 ||
      h.width > std::numeric_limits<int>::max() || h.height > std::numeric_limits<int>::max())
    return std::nullopt;
  ImageInfo info;
  info.width = int(h.width);
  info.height = int(h.height);
  info.format = formatName(f);
  info.exifOrientation = orientationOf(f, bytes);
  return info;
}

int readExifOrientation(std::span<const uint8_t> bytes) { return orientationOf(sniff(bytes), bytes); }

ImageU8 applyExifOrientation(const ImageU8& in, int orientation) {
  if (orientation < 2 || orientation > 8 || in.empty()) return in;
  const int W = in.width, H = in.height;
  const bool swap = orientation >= 5;
  ImageU8 out;
  out.width = swap ? H : W;
  out.height = swap ? W : H;
  out.rgb.resize(in.rgb.size());
  for (int y = 0; y < out.height; ++y) {
    uint8_t* o = out.pixel(0, y);
    for (int x = 0; x < out.width; ++x, o += 3) {
      int sx = x, sy = y;  // source column, row
      switch (orientation) {
        case 2: sx = W - 1 - x; sy = y; break;          // FLIP_LEFT_RIGHT
        case 3: sx = W - 1 - x; sy = H - 1 - y; break;  // ROTATE_180
        case 4: sx = x; sy = H - 1 - y; break;          // FLIP_TOP_BOTTOM
        case 5: sx = y; sy = x; break;                  // TRANSPOSE
        case 6: sx = y; sy = H - 1 - x; break;          // ROTATE_270 (90 degrees clockwise)
        case 7: sx = W - 1 - y; sy = H - 1 - x; break;  // TRANSVERSE
        case 8: sx = W - 1 - y; sy = x; break;          // ROTATE_90 (counter-clockwise)
        default: break;
      }
      std::memcpy(o, in.pixel(sx, sy), 3);
    }
  }
  return out;
}

ImageU8 decodeImage(std::span<const uint8_t> bytes, const ImageLoadOptions& opt, const std::string& name) {
  if (bytes.empty()) throw Error(ErrorCode::Corrupt, name + ": the file is empty (0 bytes)", name);
  const Format f = sniff(bytes);
  if (f == Format::Gif)
    throw Error(ErrorCode::Unsupported, name + ": GIF images are not supported (convert it to PNG)", name);
  if (f == Format::FloatingPoint)
    throw Error(ErrorCode::Unsupported,
                name + ": floating-point images (PFM, Radiance HDR, OpenEXR) are not supported (8- and 16-bit images only)",
                name);

  // 1. Dimensions from the header, checked against the budget before anything is decoded.
  if (f != Format::Unknown) {
    const Header h = readHeader(f, bytes);
    if (h.status != HeaderStatus::Ok)
      throw Error(codeOf(h.status), name + ": " + h.problem, name);
    if (h.animated)
      throw Error(ErrorCode::Unsupported, name + ": animated WebP images are not supported", name);
    checkBudget(h.width, h.height, opt, name);
    if (f == Format::Jpeg) {
      // libjpeg fills a cut-off JPEG with gray and reports success: refuse it as Pillow does.
      const JpegWalk w = walkJpeg(bytes, true);
      if (w.status != HeaderStatus::Ok) throw Error(codeOf(w.status), name + ": " + w.problem, name);
    }
  }

  // 2. Decode (OpenCV; IMREAD_UNCHANGED keeps depth, alpha and the stored orientation).
  if (bytes.size() > size_t(std::numeric_limits<int>::max()))
    throw Error(ErrorCode::ResourceLimit, name + ": the file is larger than 2 GB", name);
  Bytes input = bytes;
  std::vector<uint8_t> patched;
  bool unpremultiply = false;
  if (f == Format::Tiff) {
    const TiffAlpha a = tiffAlpha(bytes);
    if (a.bitsPerSample == 8 && a.extraSamples == 2) {
      // Mark the alpha "unspecified" in a copy so that libtiff leaves the colours as stored.
      patched.assign(bytes.begin(), bytes.end());
      patched[a.extraSamplesPos] = patched[a.extraSamplesPos + 1] = 0;
      input = patched;
    }
    unpremultiply = a.bitsPerSample == 8 && a.extraSamples == 1;
  }
  if (f == Format::Png) {
    // Drop iCCP chunks from a copy: colour profiles do not change the stored pixels (Pillow
    // ignores them too), and libpng prints a warning on stderr for many common ones.
    bool hasIccp = false;
    forEachPngChunk(bytes, [&](uint32_t type, Bytes) { return !(hasIccp = type == fourcc("iCCP")); });
    if (hasIccp) {
      patched.assign(bytes.begin(), bytes.begin() + 8);
      forEachPngChunk(bytes, [&](uint32_t type, Bytes data) {
        const uint8_t* chunk = data.data() - 8;
        if (type != fourcc("iCCP")) patched.insert(patched.end(), chunk, chunk + 12 + data.size());
        return true;
      });
      input = patched;
    }
  }
  cv::Mat decoded;
  std::string cvMessage;
  try {
    const cv::Mat buffer(1, static_cast<int>(input.size()), CV_8U, const_cast<uint8_t*>(input.data()));
    // OpenCV 4.6 returns zeros for 8-bit gray Sun rasters read unchanged; they have no alpha.
    decoded = cv::imdecode(buffer, f == Format::SunRaster ? cv::IMREAD_COLOR : cv::IMREAD_UNCHANGED);
  } catch (const cv::Exception& e) {
    cvMessage = e.err;
    decoded.release();
  }
  if (decoded.empty()) {
    if (f == Format::Unknown)
      throw Error(ErrorCode::Unsupported,
                  name + ": not an image file VLMScope can read (PNG, JPEG, BMP, WebP, TIFF)", name);
    bool truncated = false;
    if (f == Format::Png) truncated = !forEachPngChunk(bytes, [](uint32_t, Bytes) { return true; });
    if (f == Format::Webp) truncated = le32(bytes, 4) > bytes.size() - 8;
    if (f == Format::Bmp) truncated = le32(bytes, 2) > bytes.size();
    if (f == Format::Tiff) truncated = tiffDataCut(bytes);
    std::string msg = name + ": cannot decode the " + formatTitle(f) + " data (" +
                      (truncated ? "the file is truncated" : "the file is corrupt or uses an unsupported variant") + ")";
    if (!cvMessage.empty()) {
      const auto nl = cvMessage.find('\n');
      msg += ": " + cvMessage.substr(0, nl);
    }
    throw Error(truncated ? ErrorCode::Truncated : ErrorCode::Corrupt, msg, name);
  }

  // 3. Budget again for formats whose header this module does not read.
  checkBudget(decoded.cols, decoded.rows, opt, name);
  patched = {};
  if (f == Format::Bmp && decoded.depth() == CV_8U && decoded.channels() >= 3) {
    if (const auto green6 = bmp16Layout(bytes)) rescaleBmp16(decoded, *green6);
  }
  if (unpremultiply && decoded.type() == CV_8UC4) {
    for (int y = 0; y < decoded.rows; ++y) {
      uint8_t* p = decoded.ptr<uint8_t>(y);
      for (int x = 0; x < decoded.cols; ++x, p += 4) {
        const int a = p[3];
        if (a == 255) continue;
        for (int c = 0; c < 3; ++c) p[c] = a == 0 ? 0 : uint8_t(std::min(255, p[c] * 255 / a));
      }
    }
  }

  // 4. Pillow's convert('RGB'), then ImageOps.exif_transpose.
  ImageU8 rgb = toRgb(decoded, opt, name);
  decoded.release();
  if (opt.applyExifOrientation) {
    const int o = orientationOf(f, bytes);
    if (o >= 2) rgb = applyExifOrientation(rgb, o);
  }
  return rgb;
}

ImageU8 loadImage(const std::filesystem::path& path, const ImageLoadOptions& opt) {
  const std::string name = path.string();
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) throw Error(ErrorCode::NotFound, name + ": no such file", name);
  if (std::filesystem::is_regular_file(path, ec)) {
    const auto size = std::filesystem::file_size(path, ec);
    if (!ec && static_cast<uint64_t>(size) > static_cast<uint64_t>(std::max<int64_t>(opt.maxFileBytes, 0)))
      throw Error(ErrorCode::ResourceLimit,
                  name + ": the file is " + std::to_string(size) + " bytes, over the limit of " +
                      std::to_string(opt.maxFileBytes) + " bytes",
                  name);
  }
  const std::string data = readFile(path);
  return decodeImage(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(data.data()), data.size()), opt, name);
}

}  // namespace vlm::io
