#pragma once
// The data tables of python-ftfy 6.1.1 that text/ftfy.cpp needs, generated once from ftfy's own
// definitions and Python 3.11's codecs / html.entities / unicodedata (Unicode 14.0) by
// tests/tools/gen_ftfy_tables.py (not run by the build). Internal to text/ftfy.cpp and its tests.

#include <cstddef>
#include <cstdint>

namespace vlm::text::ftfy_detail {

// ftfy's CHARMAP_ENCODINGS, in the order fix_encoding tries them.
enum class Charmap : std::uint8_t {
  Latin1,             // latin-1
  SloppyWindows1252,  // sloppy-windows-1252: windows-1252, holes decoded as Latin-1, 0x1A <-> U+FFFD
  SloppyWindows1251,
  SloppyWindows1250,
  SloppyWindows1253,
  SloppyWindows1254,
  Iso8859_2,          // iso-8859-2
  MacRoman,           // macroman
  Cp437,              // cp437
};
inline constexpr std::size_t kCharmapCount = 9;
inline bool isSloppy(Charmap c) { return c >= Charmap::SloppyWindows1252 && c <= Charmap::SloppyWindows1254; }

// kCharmapDecode[c][b]: the character byte b decodes to. Each table is a bijection.
extern const char32_t kCharmapDecode[kCharmapCount][256];

// Character classes of badness.py's MOJIBAKE_CATEGORIES and chardata.py's UTF8_CLUES.
enum ClassBit : std::uint32_t {
  kCommon = 1u << 0,
  kC1 = 1u << 1,
  kBad = 1u << 2,
  kCurrency = 1u << 3,
  kStartPunctuation = 1u << 4,
  kEndPunctuation = 1u << 5,
  kNumeric = 1u << 6,
  kKaomoji = 1u << 7,
  kUpperAccented = 1u << 8,
  kLowerAccented = 1u << 9,
  kUpperCommon = 1u << 10,
  kLowerCommon = 1u << 11,
  kBox = 1u << 12,
  kUtf8FirstOf2 = 1u << 13,
  kUtf8FirstOf3 = 1u << 14,
  kUtf8FirstOf4 = 1u << 15,
  kUtf8Continuation = 1u << 16,
  kUtf8ContinuationStrict = 1u << 17,
};

struct CharClassEntry {
  char32_t cp;
  std::uint32_t classes;  // ClassBit flags
};
extern const CharClassEntry kCharClasses[];  // sorted by cp
extern const std::size_t kCharClassCount;

struct HtmlEntity {
  const char* name;     // "&amp;" (ASCII, with '&' and ';')
  const char32_t* text;
};
extern const HtmlEntity kHtmlEntities[];  // sorted by name, byte order
extern const std::size_t kHtmlEntityCount;

struct Replacement {
  char32_t cp;
  const char32_t* text;
};
extern const Replacement kWidthMap[];  // sorted by cp
extern const std::size_t kWidthMapCount;
extern const Replacement kLigatures[];  // sorted by cp
extern const std::size_t kLigatureCount;

}  // namespace vlm::text::ftfy_detail
