#include "text/ftfy.h"

#include <unicode/uchar.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <optional>
#include <unordered_map>

#include "text/ftfy_tables.h"
#include "text/unicode.h"

namespace vlm::text::ftfy {

namespace {

using namespace ftfy_detail;

constexpr std::size_t kMaxDecodeLength = 1000000;  // TextFixerConfig.max_decode_length
// fix_and_explain and fix_encoding loop until the text stops changing (ftfy has no limit); every
// real input settles in a few rounds, the limit only guards against a cycle.
constexpr int kMaxFixRounds = 64;

bool isAsciiLetter(char32_t c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool isAsciiLower(char32_t c) { return c >= 'a' && c <= 'z'; }
bool isAsciiAlnum(char32_t c) { return isAsciiLetter(c) || (c >= '0' && c <= '9'); }
bool isSurrogate(char32_t c) { return c >= 0xD800 && c <= 0xDFFF; }
bool isOneOf(char32_t c, std::u32string_view set) { return set.find(c) != std::u32string_view::npos; }

std::uint32_t classesOf(char32_t cp) {
  // kCharClasses is sorted; everything in it is in U+0020..U+FFFD.
  const CharClassEntry* begin = kCharClasses;
  const CharClassEntry* end = kCharClasses + kCharClassCount;
  const CharClassEntry* it =
      std::lower_bound(begin, end, cp, [](const CharClassEntry& e, char32_t c) { return e.cp < c; });
  return it != end && it->cp == cp ? it->classes : 0;
}

const char32_t* replacementFor(const Replacement* table, std::size_t count, char32_t cp) {
  const Replacement* end = table + count;
  const Replacement* it = std::lower_bound(table, end, cp, [](const Replacement& e, char32_t c) { return e.cp < c; });
  return it != end && it->cp == cp ? it->text : nullptr;
}

// Python's re \w on str: str.isalnum() or '_' (letters L*, and characters with a numeric value),
// as Python 3.11 (Unicode 14.0) knows them.
bool isPyWordChar(char32_t cp) {
  if (cp < 0x80) return isAsciiAlnum(cp) || cp == '_';
  if (cp > 0x10FFFF || isSurrogate(cp) || isNewerThanPythonUnicode(cp)) return false;
  if (isLetterCategory(generalCategory(cp))) return true;
  return u_getIntPropertyValue(static_cast<UChar32>(cp), UCHAR_NUMERIC_TYPE) != U_NT_NONE;
}

// ---------------------------------------------------------------------------------------------
// Single-byte codecs (ftfy's CHARMAP_ENCODINGS)

constexpr std::array<Charmap, kCharmapCount> kCharmapOrder = {
    Charmap::Latin1,           Charmap::SloppyWindows1252, Charmap::SloppyWindows1251,
    Charmap::SloppyWindows1250, Charmap::SloppyWindows1253, Charmap::SloppyWindows1254,
    Charmap::Iso8859_2,        Charmap::MacRoman,          Charmap::Cp437,
};

const std::unordered_map<char32_t, unsigned char>& encodeMap(Charmap c) {
  static const auto maps = [] {
    std::array<std::unordered_map<char32_t, unsigned char>, kCharmapCount> m;
    for (std::size_t e = 0; e < kCharmapCount; ++e)
      for (int b = 0; b < 256; ++b) m[e].emplace(kCharmapDecode[e][b], static_cast<unsigned char>(b));
    return m;
  }();
  return maps[static_cast<std::size_t>(c)];
}

// text.encode(encoding), or nullopt when a character has no byte (chardata.possible_encoding is
// false exactly then: the tables are bijections).
std::optional<std::string> encodeCharmap(std::u32string_view text, Charmap c) {
  const auto& map = encodeMap(c);
  std::string out;
  out.reserve(text.size());
  for (char32_t cp : text) {
    if (cp < 0x80 && kCharmapDecode[static_cast<std::size_t>(c)][cp] == cp) {
      out.push_back(static_cast<char>(cp));
      continue;
    }
    auto it = map.find(cp);
    if (it == map.end()) return std::nullopt;
    out.push_back(static_cast<char>(it->second));
  }
  return out;
}

char32_t sloppy1252(unsigned char b) {
  return kCharmapDecode[static_cast<std::size_t>(Charmap::SloppyWindows1252)][b];
}

// The bytes windows-1252 leaves undefined (Python's strict codec refuses them).
bool isWindows1252Hole(unsigned char b) { return b == 0x81 || b == 0x8D || b == 0x8F || b == 0x90 || b == 0x9D; }

// ---------------------------------------------------------------------------------------------
// UTF-8 and ftfy's "utf-8-variants" codec

bool isCont(unsigned char b) { return b >= 0x80 && b <= 0xBF; }

// bytes.decode("utf-8-variants") (strict): standard UTF-8, plus C0 80 as U+0000 (Java) and
// CESU-8 surrogate pairs ED A0..AF xx ED B0..BF xx as one supplementary character. A lone
// encoded surrogate, an overlong form or a truncated sequence is an error (nullopt), as in
// Python's strict UTF-8 decoder that the codec delegates to.
std::optional<std::u32string> decodeUtf8Variants(std::string_view s) {
  std::u32string out;
  out.reserve(s.size());
  const std::size_t n = s.size();
  auto at = [&](std::size_t i) -> unsigned char { return i < n ? static_cast<unsigned char>(s[i]) : 0; };
  std::size_t i = 0;
  while (i < n) {
    const unsigned char b = at(i);
    if (b < 0x80) {
      out.push_back(b);
      ++i;
      continue;
    }
    if (b == 0xC0 && i + 1 < n && at(i + 1) == 0x80) {
      out.push_back(0);
      i += 2;
      continue;
    }
    if (b == 0xED && i + 5 < n && at(i + 1) >= 0xA0 && at(i + 1) <= 0xAF && isCont(at(i + 2)) && at(i + 3) == 0xED &&
        at(i + 4) >= 0xB0 && at(i + 4) <= 0xBF && isCont(at(i + 5))) {
      const char32_t cp = ((static_cast<char32_t>(at(i + 1)) & 0x0F) << 16) + ((static_cast<char32_t>(at(i + 2)) & 0x3F) << 10) +
                          ((static_cast<char32_t>(at(i + 4)) & 0x0F) << 6) + (static_cast<char32_t>(at(i + 5)) & 0x3F) + 0x10000;
      out.push_back(cp);
      i += 6;
      continue;
    }
    // Well-formed UTF-8 (Unicode table 3-7).
    std::size_t len = 0;
    unsigned char lo = 0x80, hi = 0xBF;
    char32_t cp = 0;
    if (b >= 0xC2 && b <= 0xDF) {
      len = 2, cp = b & 0x1F;
    } else if (b >= 0xE0 && b <= 0xEF) {
      len = 3, cp = b & 0x0F;
      if (b == 0xE0) lo = 0xA0;
      if (b == 0xED) hi = 0x9F;
    } else if (b >= 0xF0 && b <= 0xF4) {
      len = 4, cp = b & 0x07;
      if (b == 0xF0) lo = 0x90;
      if (b == 0xF4) hi = 0x8F;
    } else {
      return std::nullopt;
    }
    if (i + len > n) return std::nullopt;
    const unsigned char b1 = at(i + 1);
    if (b1 < lo || b1 > hi) return std::nullopt;
    cp = (cp << 6) | (b1 & 0x3F);
    for (std::size_t k = 2; k < len; ++k) {
      if (!isCont(at(i + k))) return std::nullopt;
      cp = (cp << 6) | (at(i + k) & 0x3F);
    }
    out.push_back(cp);
    i += len;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// badness.py: BADNESS_RE

// Whether one of BADNESS_RE's alternatives matches at position i (re.search tries every
// position; a match anywhere makes the text bad). `f` holds each character's classes.
bool badAt(std::u32string_view t, const std::vector<std::uint32_t>& f, std::size_t i) {
  const std::size_t n = t.size();
  const char32_t c0 = t[i];
  const std::uint32_t f0 = f[i];
  const bool has1 = i + 1 < n, has2 = i + 2 < n, has3 = i + 3 < n;
  const char32_t c1 = has1 ? t[i + 1] : 0, c2 = has2 ? t[i + 2] : 0, c3 = has3 ? t[i + 3] : 0;
  const std::uint32_t f1 = has1 ? f[i + 1] : 0, f2 = has2 ? f[i + 2] : 0, f3 = has3 ? f[i + 3] : 0;

  constexpr std::uint32_t B = kBad, LA = kLowerAccented, UA = kUpperAccented, BOX = kBox, SP = kStartPunctuation,
                          EP = kEndPunctuation, CUR = kCurrency, NUM = kNumeric, LC = kLowerCommon, UC = kUpperCommon;

  // [{c1}]
  if (f0 & kC1) return true;
  if (has1) {
    // [bad lower_acc upper_acc box start end currency numeric] [bad]
    if ((f0 & (B | LA | UA | BOX | SP | EP | CUR | NUM)) && (f1 & B)) return true;
    // [bad] [lower_acc upper_acc box start end currency numeric]
    if ((f0 & B) && (f1 & (LA | UA | BOX | SP | EP | CUR | NUM))) return true;
    // [lower_acc lower_common box end currency numeric] [upper_acc]
    if ((f0 & (LA | LC | BOX | EP | CUR | NUM)) && (f1 & UA)) return true;
    // [box end currency numeric] [lower_acc]
    if ((f0 & (BOX | EP | CUR | NUM)) && (f1 & LA)) return true;
    // [lower_acc box end] [currency]
    if ((f0 & (LA | BOX | EP)) && (f1 & CUR)) return true;
    // [upper_acc box] [numeric]
    if ((f0 & (UA | BOX)) && (f1 & NUM)) return true;
    // [currency numeric box] [start]
    if ((f0 & (CUR | NUM | BOX)) && (f1 & SP)) return true;
    // [box] [kaomoji]
    if ((f0 & BOX) && (f1 & kKaomoji)) return true;
    // [lower_acc upper_acc currency numeric start end] [box]
    if ((f0 & (LA | UA | CUR | NUM | SP | EP)) && (f1 & BOX)) return true;
    // [box] [end]
    if ((f0 & BOX) && (f1 & EP)) return true;
    // [Œœ][^A-Za-z]
    if ((c0 == U'Œ' || c0 == U'œ') && !isAsciiLetter(c1)) return true;
    // [ÂÃÎÐ][€Šš¢£Ÿž\xa0\xad®©°·»{start}{end}–—´]
    if (isOneOf(c0, U"ÂÃÎÐ") && (isOneOf(c1, U"€Šš¢£Ÿž\u00A0\u00AD®©°·»–—´") || (f1 & (SP | EP)))) return true;
    // × [²³]
    if (c0 == U'×' && (c1 == U'²' || c1 == U'³')) return true;
    // à[²µ¹¼½¾]
    if (c0 == U'à' && isOneOf(c1, U"²µ¹¼½¾")) return true;
    // √[±∂†≠®™´≤≥¥µø]
    if (c0 == U'√' && isOneOf(c1, U"±∂†≠®™´≤≥¥µø")) return true;
    // ≈[°¢]
    if (c0 == U'≈' && (c1 == U'°' || c1 == U'¢')) return true;
    // вЂ
    if (c0 == U'в' && c1 == U'Ђ') return true;
    // Ã[\xa0¡]
    if (c0 == U'Ã' && (c1 == U'\u00A0' || c1 == U'¡')) return true;
    // ^[ÃÂ][ ]
    if (i == 0 && (c0 == U'Ã' || c0 == U'Â') && c1 == U' ') return true;
  }
  if (has2) {
    // [a-zA-Z] [lower_common upper_common] [bad]
    if (isAsciiLetter(c0) && (f1 & (LC | UC)) && (f2 & B)) return true;
    // \s [upper_acc] [currency]
    if (pyIsSpace(c0) && (f1 & UA) && (f2 & CUR)) return true;
    // [lower_acc upper_acc box currency end] [start] [numeric]
    if ((f0 & (LA | UA | BOX | CUR | EP)) && (f1 & SP) && (f2 & NUM)) return true;
    // [lower_acc upper_acc currency numeric box] [end] [start]
    if ((f0 & (LA | UA | CUR | NUM | BOX)) && (f1 & EP) && (f2 & SP)) return true;
    // [a-z] [upper_acc] [start currency]
    if (isAsciiLower(c0) && (f1 & UA) && (f2 & (SP | CUR))) return true;
    // [lower_acc upper_acc] [end] \w
    if ((f0 & (LA | UA)) && (f1 & EP) && isPyWordChar(c2)) return true;
    // ‚Ä[ìîïòôúùû†°¢π]
    if (c0 == U'‚' && c1 == U'Ä' && isOneOf(c2, U"ìîïòôúùû†°¢π")) return true;
    // ‚[âó][àä°ê]
    if (c0 == U'‚' && (c1 == U'â' || c1 == U'ó') && isOneOf(c2, U"àä°ê")) return true;
    // [ВГРС][{c1}{bad}{start}{end}{currency}°µ][ВГРС]
    if (isOneOf(c0, U"ВГРС") && ((f1 & (kC1 | B | SP | EP | CUR)) || c1 == U'°' || c1 == U'µ') && isOneOf(c2, U"ВГРС"))
      return true;
    // [a-z]\s?[ÃÂ][ ]
    if (isAsciiLower(c0) && (c1 == U'Ã' || c1 == U'Â') && c2 == U' ') return true;
    if (has3 && isAsciiLower(c0) && pyIsSpace(c1) && (c2 == U'Ã' || c2 == U'Â') && c3 == U' ') return true;
    // [a-z.,?!{end}] Â [ {start}{end}]
    if ((isAsciiLower(c0) || isOneOf(c0, U".,?!") || (f0 & EP)) && c1 == U'Â' && (c2 == U' ' || (f2 & (SP | EP))))
      return true;
    // β€[™\xa0Ά\xad®°]
    if (c0 == U'β' && c1 == U'€' && isOneOf(c2, U"™\u00A0Ά\u00AD®°")) return true;
    // [ΒΓΞΟ][{c1}{bad}{start}{end}{currency}°][ΒΓΞΟ]
    if (isOneOf(c0, U"ΒΓΞΟ") && ((f1 & (kC1 | B | SP | EP | CUR)) || c1 == U'°') && isOneOf(c2, U"ΒΓΞΟ")) return true;
  }
  if (has3) {
    // [ØÙ] [{common}{currency}{bad}{numeric}{start}ŸŠ®°µ»] (twice)
    auto arabic = [](char32_t c, std::uint32_t fc) {
      return (fc & (kCommon | CUR | B | NUM | SP)) || isOneOf(c, U"ŸŠ®°µ»");
    };
    if ((c0 == U'Ø' || c0 == U'Ù') && arabic(c1, f1) && (c2 == U'Ø' || c2 == U'Ù') && arabic(c3, f3)) return true;
  }
  // ГўВЂВ.[A-Za-z ]
  if (i + 6 < n && t.substr(i, 5) == U"ГўВЂВ" && t[i + 5] != U'\n' && (isAsciiLetter(t[i + 6]) || t[i + 6] == U' '))
    return true;
  return false;
}

std::vector<std::uint32_t> classesOfText(std::u32string_view text) {
  std::vector<std::uint32_t> f(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) f[i] = text[i] < 0x20 ? 0 : classesOf(text[i]);
  return f;
}

// ---------------------------------------------------------------------------------------------
// chardata.py: UTF8_DETECTOR_RE

// The end of a UTF8_DETECTOR_RE match starting at p, or p when there is none:
//   (?<![utf8_continuation_strict]) ( [first_of_2][cont] | [first_of_3][cont]{2} | [first_of_4][cont]{3} )+
std::size_t utf8DetectorMatch(std::u32string_view t, const std::vector<std::uint32_t>& f, std::size_t p) {
  if (p > 0 && (f[p - 1] & kUtf8ContinuationStrict)) return p;
  const std::size_t n = t.size();
  auto conts = [&](std::size_t from, std::size_t count) {
    if (from + count > n) return false;
    for (std::size_t k = 0; k < count; ++k)
      if (!(f[from + k] & kUtf8Continuation)) return false;
    return true;
  };
  std::size_t q = p;
  while (q < n) {
    if ((f[q] & kUtf8FirstOf2) && conts(q + 1, 1)) {
      q += 2;
    } else if ((f[q] & kUtf8FirstOf3) && conts(q + 1, 2)) {
      q += 3;
    } else if ((f[q] & kUtf8FirstOf4) && conts(q + 1, 3)) {
      q += 4;
    } else {
      break;
    }
  }
  return q;
}

bool hasUtf8DetectorMatch(std::u32string_view t, const std::vector<std::uint32_t>& f) {
  for (std::size_t p = 0; p < t.size(); ++p)
    if (utf8DetectorMatch(t, f, p) > p) return true;
  return false;
}

// ---------------------------------------------------------------------------------------------
// Byte regexes of chardata.py / fixes.py

// ALTERED_UTF8_RE: the length of the match at i, or 0.
std::size_t alteredUtf8At(std::string_view s, std::size_t i) {
  const std::size_t n = s.size();
  auto b = [&](std::size_t k) -> int { return i + k < n ? static_cast<unsigned char>(s[i + k]) : -1; };
  auto contNoA0 = [](int x) { return (x >= 0x80 && x <= 0x84) || (x >= 0x86 && x <= 0x9F) || (x >= 0xA1 && x <= 0xBF); };
  auto cont = [](int x) { return x >= 0x80 && x <= 0xBF; };
  const int b0 = b(0);
  // [\xc2\xc3\xc5\xce\xd0\xd9][ ]
  if ((b0 == 0xC2 || b0 == 0xC3 || b0 == 0xC5 || b0 == 0xCE || b0 == 0xD0 || b0 == 0xD9) && b(1) == 0x20) return 2;
  // [\xe2\xe3][ ][\x80-\x84\x86-\x9f\xa1-\xbf]
  if ((b0 == 0xE2 || b0 == 0xE3) && b(1) == 0x20 && contNoA0(b(2))) return 3;
  // [\xe0-\xe3][\x80-\x84\x86-\x9f\xa1-\xbf][ ]
  if (b0 >= 0xE0 && b0 <= 0xE3 && contNoA0(b(1)) && b(2) == 0x20) return 3;
  if (b0 == 0xF0) {
    if (b(1) == 0x20 && cont(b(2)) && cont(b(3))) return 4;
    if (cont(b(1)) && b(2) == 0x20 && cont(b(3))) return 4;
    if (cont(b(1)) && cont(b(2)) && b(3) == 0x20) return 4;
  }
  return 0;
}

bool hasAlteredUtf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size(); ++i)
    if (alteredUtf8At(s, i)) return true;
  return false;
}

// LOSSY_UTF8_RE: the length of the match at i, or 0.
std::size_t lossyUtf8At(std::string_view s, std::size_t i) {
  const std::size_t n = s.size();
  auto b = [&](std::size_t k) -> int { return i + k < n ? static_cast<unsigned char>(s[i + k]) : -1; };
  auto lost = [](int x) { return x == 0x1A || x == '?'; };               // [\x1a?]
  auto subOrCont = [](int x) { return x == 0x1A || (x >= 0x80 && x <= 0xBF); };  // [\x1a\x80-\xbf]
  auto any = [](int x) { return x == 0x1A || x == '?' || (x >= 0x80 && x <= 0xBF); };  // [\x1a?\x80-\xbf]
  const int b0 = b(0);
  if (b0 >= 0xC2 && b0 <= 0xDF && b(1) == 0x1A) return 2;
  if ((b0 == 0xC2 || b0 == 0xC3) && b(1) == '?') return 2;
  if (b0 == 0xED) {
    const bool hi = b(1) >= 0xA0 && b(1) <= 0xAF, lo = b(4) >= 0xB0 && b(4) <= 0xBF;
    if (hi && lost(b(2)) && b(3) == 0xED && lo && any(b(5))) return 6;
    if (hi && any(b(2)) && b(3) == 0xED && lo && lost(b(5))) return 6;
  }
  if (b0 >= 0xE0 && b0 <= 0xEF) {
    if (lost(b(1)) && subOrCont(b(2))) return 3;
    if (subOrCont(b(1)) && lost(b(2))) return 3;
  }
  if (b0 >= 0xF0 && b0 <= 0xF4) {
    if (lost(b(1)) && subOrCont(b(2)) && subOrCont(b(3))) return 4;
    if (subOrCont(b(1)) && lost(b(2)) && subOrCont(b(3))) return 4;
    if (subOrCont(b(1)) && subOrCont(b(2)) && lost(b(3))) return 4;
  }
  if (b0 == 0x1A) return 1;
  return 0;
}

// ---------------------------------------------------------------------------------------------
// fix_encoding

std::u32string fixEncodingOneStep(std::u32string_view text) {
  if (text.empty()) return std::u32string(text);
  // ASCII text, or text that does not look like mojibake, is left alone.
  const bool ascii = std::all_of(text.begin(), text.end(), [](char32_t c) { return c < 0x80; });
  if (ascii || !isBad(text)) return std::u32string(text);

  bool possibleLatin1 = false;
  for (Charmap encoding : kCharmapOrder) {
    std::optional<std::string> bytes = encodeCharmap(text, encoding);
    if (!bytes) continue;
    if (encoding == Charmap::Latin1) possibleLatin1 = true;
    if (hasAlteredUtf8(*bytes)) *bytes = restoreByteA0(*bytes);
    if (isSloppy(encoding)) *bytes = replaceLossySequences(*bytes);
    // "utf-8-variants" when the bytes hold 0xED or 0xC0, else "utf-8": the same result, as the
    // variants decode standard UTF-8 identically.
    if (std::optional<std::u32string> fixed = decodeUtf8Variants(*bytes)) return std::move(*fixed);
  }

  // Look for a-hat-euro sequences that remain, and fix them in isolation.
  const std::vector<std::uint32_t> f = classesOfText(text);
  if (hasUtf8DetectorMatch(text, f)) {
    std::u32string fixed = decodeInconsistentUtf8(text);
    if (fixed != text) return fixed;
  }

  // Latin-1 that was meant as windows-1252. (ftfy checks for "windows-1252" among the possible
  // encodings, a name its list never holds, so this runs whenever latin-1 was possible.)
  if (possibleLatin1) {
    bool decodable = true;
    std::u32string fixed;
    fixed.reserve(text.size());
    for (char32_t c : text) {
      if (c >= 0x80 && c <= 0x9F) {
        if (isWindows1252Hole(static_cast<unsigned char>(c))) {
          decodable = false;
          break;
        }
        fixed.push_back(sloppy1252(static_cast<unsigned char>(c)));
      } else {
        fixed.push_back(c);
      }
    }
    if (decodable && fixed != text) return fixed;
  }

  // Individual C1 controls as windows-1252.
  if (std::any_of(text.begin(), text.end(), [](char32_t c) { return c >= 0x80 && c <= 0x9F; }))
    return fixC1Controls(text);
  return std::u32string(text);
}

// ---------------------------------------------------------------------------------------------
// html.unescape's numeric character references, as ftfy's _unescape_fixup uses them

// The text html.unescape gives for "&#<number>;" once the number is known.
std::u32string numericCharref(std::uint64_t num) {
  if (num == 0x00) return U"\uFFFD";
  if (num == 0x0D) return U"\r";
  if (num >= 0x80 && num <= 0x9F) return std::u32string(1, sloppy1252(static_cast<unsigned char>(num)));
  if ((num >= 0xD800 && num <= 0xDFFF) || num > 0x10FFFF) return U"\uFFFD";
  const bool invalid = (num >= 0x01 && num <= 0x08) || num == 0x0B || (num >= 0x0E && num <= 0x1F) || num == 0x7F ||
                       (num >= 0xFDD0 && num <= 0xFDEF) || (num & 0xFFFE) == 0xFFFE;
  if (invalid) return U"";
  return std::u32string(1, static_cast<char32_t>(num));
}

// _unescape_fixup(match) for a match "&...;" of HTML_ENTITY_RE (given as ASCII).
std::optional<std::u32string> unescapeEntity(const std::string& entity) {
  const HtmlEntity* begin = kHtmlEntities;
  const HtmlEntity* end = kHtmlEntities + kHtmlEntityCount;
  const HtmlEntity* it = std::lower_bound(begin, end, entity, [](const HtmlEntity& e, const std::string& s) {
    return std::strcmp(e.name, s.c_str()) < 0;
  });
  if (it != end && entity == it->name) return std::u32string(it->text);
  if (entity.size() < 4 || entity[1] != '#') return std::nullopt;
  // html.unescape(entity): only a reference that consumes everything up to and including the
  // ';' is accepted (otherwise a ';' remains and ftfy keeps the text).
  const std::string body = entity.substr(2, entity.size() - 3);
  const bool hex = body[0] == 'x' || body[0] == 'X';
  const std::string digits = hex ? body.substr(1) : body;
  if (digits.empty()) return std::nullopt;
  std::uint64_t num = 0;
  for (char ch : digits) {
    int v;
    if (ch >= '0' && ch <= '9') {
      v = ch - '0';
    } else if (hex && ch >= 'a' && ch <= 'f') {
      v = ch - 'a' + 10;
    } else if (hex && ch >= 'A' && ch <= 'F') {
      v = ch - 'A' + 10;
    } else {
      return std::nullopt;
    }
    num = std::min<std::uint64_t>(num * (hex ? 16 : 10) + static_cast<std::uint64_t>(v), 0x7FFFFFFF);
  }
  std::u32string out = numericCharref(num);
  if (out.find(U';') != std::u32string::npos) return std::nullopt;  // "&#59;" decodes to ';'
  return out;
}

std::u32string translate(std::u32string_view text, const Replacement* table, std::size_t count) {
  std::u32string out;
  out.reserve(text.size());
  for (char32_t c : text) {
    if (const char32_t* r = replacementFor(table, count, c)) {
      out.append(r);
    } else {
      out.push_back(c);
    }
  }
  return out;
}

bool containsLessThan(std::u32string_view s) { return s.find(U'<') != std::u32string_view::npos; }

}  // namespace

// =============================================================================================

bool isBad(std::u32string_view text) {
  if (text.empty()) return false;
  const std::vector<std::uint32_t> f = classesOfText(text);
  for (std::size_t i = 0; i < text.size(); ++i)
    if (badAt(text, f, i)) return true;
  return false;
}

std::u32string fixEncoding(std::u32string_view text) {
  std::u32string current(text);
  for (int round = 0; round < kMaxFixRounds; ++round) {
    std::u32string next = fixEncodingOneStep(current);
    if (next == current) break;
    current.swap(next);
  }
  return current;
}

std::u32string unescapeHtml(std::u32string_view text) {
  // HTML_ENTITY_RE = &#?[0-9A-Za-z]{1,24};
  std::u32string out;
  out.reserve(text.size());
  const std::size_t n = text.size();
  std::size_t i = 0;
  while (i < n) {
    if (text[i] != U'&') {
      out.push_back(text[i++]);
      continue;
    }
    std::size_t j = i + 1;
    if (j < n && text[j] == U'#') ++j;
    std::size_t k = j;
    while (k < n && isAsciiAlnum(text[k])) ++k;
    const std::size_t run = k - j;
    if (run < 1 || run > 24 || k >= n || text[k] != U';') {
      out.push_back(text[i++]);
      continue;
    }
    std::string entity;
    for (std::size_t p = i; p <= k; ++p) entity.push_back(static_cast<char>(text[p]));
    if (std::optional<std::u32string> r = unescapeEntity(entity)) {
      out.append(*r);
    } else {
      out.append(text.substr(i, k + 1 - i));
    }
    i = k + 1;
  }
  return out;
}

std::u32string removeTerminalEscapes(std::u32string_view text) {
  // ANSI_RE = \033\[((?:\d|;)*)([a-zA-Z])
  std::u32string out;
  out.reserve(text.size());
  const std::size_t n = text.size();
  std::size_t i = 0;
  while (i < n) {
    if (text[i] == 0x1B && i + 1 < n && text[i + 1] == U'[') {
      std::size_t k = i + 2;
      while (k < n && (text[k] == U';' || (text[k] >= U'0' && text[k] <= U'9') ||
                       (text[k] >= 0x80 && generalCategory(text[k]) == GeneralCategory::Nd)))
        ++k;
      if (k < n && isAsciiLetter(text[k])) {
        i = k + 1;
        continue;
      }
    }
    out.push_back(text[i++]);
  }
  return out;
}

std::u32string uncurlQuotes(std::u32string_view text) {
  std::u32string out(text);
  for (char32_t& c : out) {
    if (c == 0x02BC || (c >= 0x2018 && c <= 0x201B)) {
      c = U'\'';
    } else if (c >= 0x201C && c <= 0x201F) {
      c = U'"';
    }
  }
  return out;
}

std::u32string fixLatinLigatures(std::u32string_view text) { return translate(text, kLigatures, kLigatureCount); }

std::u32string fixCharacterWidth(std::u32string_view text) { return translate(text, kWidthMap, kWidthMapCount); }

std::u32string fixLineBreaks(std::u32string_view text) {
  std::u32string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char32_t c = text[i];
    if (c == U'\r') {
      if (i + 1 < text.size() && text[i + 1] == U'\n') ++i;
      out.push_back(U'\n');
    } else if (c == 0x2028 || c == 0x2029 || c == 0x85) {
      out.push_back(U'\n');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::u32string fixSurrogates(std::u32string_view text) {
  if (std::none_of(text.begin(), text.end(), isSurrogate)) return std::u32string(text);
  std::u32string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char32_t c = text[i];
    if (c >= 0xD800 && c <= 0xDBFF && i + 1 < text.size() && text[i + 1] >= 0xDC00 && text[i + 1] <= 0xDFFF) {
      out.push_back(0x10000 + (c - 0xD800) * 0x400 + (text[i + 1] - 0xDC00));
      ++i;
    } else if (isSurrogate(c)) {
      out.push_back(kReplacementCharacter);
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::u32string removeControlChars(std::u32string_view text) {
  std::u32string out;
  out.reserve(text.size());
  for (char32_t c : text) {
    const bool drop = c <= 0x08 || c == 0x0B || (c >= 0x0E && c <= 0x1F) || c == 0x7F || (c >= 0x206A && c <= 0x206F) ||
                      c == 0xFEFF || (c >= 0xFFF9 && c <= 0xFFFC);
    if (!drop) out.push_back(c);
  }
  return out;
}

std::u32string fixC1Controls(std::u32string_view text) {
  std::u32string out(text);
  for (char32_t& c : out)
    if (c >= 0x80 && c <= 0x9F) c = sloppy1252(static_cast<unsigned char>(c));
  return out;
}

std::u32string decodeInconsistentUtf8(std::u32string_view text) {
  const std::vector<std::uint32_t> f = classesOfText(text);
  std::u32string out;
  out.reserve(text.size());
  std::size_t p = 0;
  while (p < text.size()) {
    const std::size_t q = utf8DetectorMatch(text, f, p);
    if (q == p) {
      out.push_back(text[p++]);
      continue;
    }
    const std::u32string_view sub = text.substr(p, q - p);
    // Only a shorter piece, so that this does not recurse forever.
    if (sub.size() < text.size() && isBad(sub)) {
      out.append(fixEncoding(sub));
    } else {
      out.append(sub);
    }
    p = q;
  }
  return out;
}

std::string restoreByteA0(std::string_view bytes) {
  // A_GRAVE_WORD_RE: b"\xc3 (?! |quele|quela|quilo|s )" -> b"\xc3\xa0 ".
  std::string s;
  s.reserve(bytes.size() + 8);
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    if (static_cast<unsigned char>(bytes[i]) == 0xC3 && i + 1 < bytes.size() && bytes[i + 1] == ' ') {
      const std::string_view rest = bytes.substr(i + 2);
      const bool exception = rest.starts_with(" ") || rest.starts_with("quele") || rest.starts_with("quela") ||
                             rest.starts_with("quilo") || rest.starts_with("s ");
      if (!exception) {
        s.append("\xC3\xA0 ");
        ++i;
        continue;
      }
    }
    s.push_back(bytes[i]);
  }
  // ALTERED_UTF8_RE: each match gets its spaces back as 0xA0.
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size();) {
    const std::size_t len = alteredUtf8At(s, i);
    if (len == 0) {
      out.push_back(s[i++]);
      continue;
    }
    for (std::size_t k = 0; k < len; ++k) out.push_back(s[i + k] == ' ' ? '\xA0' : s[i + k]);
    i += len;
  }
  return out;
}

std::string replaceLossySequences(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  for (std::size_t i = 0; i < bytes.size();) {
    const std::size_t len = lossyUtf8At(bytes, i);
    if (len == 0) {
      out.push_back(bytes[i++]);
      continue;
    }
    out.append("\xEF\xBF\xBD");
    i += len;
  }
  return out;
}

std::u32string fixSegment(std::u32string_view segment, bool unescape) {
  std::u32string text(segment);
  for (int round = 0; round < kMaxFixRounds; ++round) {
    const std::u32string orig = text;
    if (unescape) text = unescapeHtml(text);
    text = fixEncoding(text);
    text = fixC1Controls(text);
    text = fixLatinLigatures(text);
    text = fixCharacterWidth(text);
    text = uncurlQuotes(text);
    text = fixLineBreaks(text);
    text = fixSurrogates(text);
    text = removeTerminalEscapes(text);
    text = removeControlChars(text);
    text = nfc(text);
    if (text == orig) break;
  }
  return text;
}

std::u32string fixText(std::u32string_view text) {
  std::u32string out;
  out.reserve(text.size());
  bool unescape = true;  // unescape_html="auto", switched off for good at the first '<'
  std::size_t pos = 0;
  while (pos < text.size()) {
    const std::size_t newline = text.find(U'\n', pos);
    std::size_t end = newline == std::u32string_view::npos ? text.size() : newline + 1;
    if (end - pos > kMaxDecodeLength) end = pos + kMaxDecodeLength;
    const std::u32string_view segment = text.substr(pos, end - pos);
    if (unescape && containsLessThan(segment)) unescape = false;
    out.append(fixSegment(segment, unescape));
    pos = end;
  }
  return out;
}

std::string fixTextUtf8(std::string_view utf8) { return codePointsToUtf8(fixText(utf8ToCodePoints(utf8))); }

}  // namespace vlm::text::ftfy
