#include "text/unicode.h"

#include <unicode/uchar.h>
#include <unicode/unorm2.h>
#include <unicode/ustring.h>
#include <unicode/utf16.h>
#include <unicode/uversion.h>

#include <array>

namespace vlm::text {

namespace {

constexpr char32_t kMaxCodePoint = 0x10FFFF;

bool isSurrogate(char32_t cp) { return cp >= 0xD800 && cp <= 0xDFFF; }

// Code points the Python functions must leave alone: not encodable (surrogates, > U+10FFFF) or
// unknown to Python 3.11's Unicode 14.0 tables.
bool isOpaqueForPython(char32_t cp) {
  return cp > kMaxCodePoint || isSurrogate(cp) || (cp >= 0x80 && isNewerThanPythonUnicode(cp));
}

void appendUtf16(std::u16string& out, char32_t cp) {
  if (cp < 0x10000) {
    out.push_back(static_cast<char16_t>(cp));
  } else {
    out.push_back(static_cast<char16_t>(U16_LEAD(cp)));
    out.push_back(static_cast<char16_t>(U16_TRAIL(cp)));
  }
}

void appendFromUtf16(std::u32string& out, const UChar* s, int32_t length) {
  for (int32_t i = 0; i < length;) {
    UChar32 c;
    U16_NEXT(s, i, length, c);
    out.push_back(static_cast<char32_t>(c));
  }
}

const UNormalizer2* nfcInstance() {
  static const UNormalizer2* instance = [] {
    UErrorCode status = U_ZERO_ERROR;
    const UNormalizer2* n = unorm2_getNFCInstance(&status);
    return U_SUCCESS(status) ? n : nullptr;
  }();
  return instance;
}

const UNormalizer2* nfdInstance() {
  static const UNormalizer2* instance = [] {
    UErrorCode status = U_ZERO_ERROR;
    const UNormalizer2* n = unorm2_getNFDInstance(&status);
    return U_SUCCESS(status) ? n : nullptr;
  }();
  return instance;
}

// Normalises one run of code points Python knows, appending to `out`.
void normalizeRun(const UNormalizer2* normalizer, std::u32string_view run, std::u32string& out) {
  bool trivial = true;  // U+0000..U+00BF never change under NFC/NFD and never combine
  for (char32_t cp : run) trivial = trivial && cp < 0xC0;
  if (trivial || normalizer == nullptr) {
    out.append(run);
    return;
  }
  std::u16string src;
  src.reserve(run.size() + 8);
  for (char32_t cp : run) appendUtf16(src, cp);
  std::u16string dst(src.size() * 3 + 16, u'\0');
  for (int attempt = 0; attempt < 2; ++attempt) {
    UErrorCode status = U_ZERO_ERROR;
    const int32_t n = unorm2_normalize(normalizer, src.data(), static_cast<int32_t>(src.size()), dst.data(),
                                       static_cast<int32_t>(dst.size()), &status);
    if (status == U_BUFFER_OVERFLOW_ERROR) {
      dst.assign(static_cast<std::size_t>(n) + 1, u'\0');
      continue;
    }
    if (U_FAILURE(status)) break;
    appendFromUtf16(out, dst.data(), n);
    return;
  }
  out.append(run);  // ICU could not normalise (no data): leave the text as it is
}

std::u32string normalize(const UNormalizer2* normalizer, std::u32string_view text) {
  std::u32string out;
  out.reserve(text.size() + 8);
  std::size_t start = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (!isOpaqueForPython(text[i])) continue;
    normalizeRun(normalizer, text.substr(start, i - start), out);
    out.push_back(text[i]);
    start = i + 1;
  }
  normalizeRun(normalizer, text.substr(start), out);
  return out;
}

bool pyIsCased(char32_t cp) { return !isOpaqueForPython(cp) && u_hasBinaryProperty(static_cast<UChar32>(cp), UCHAR_CASED); }

bool pyIsCaseIgnorable(char32_t cp) {
  return !isOpaqueForPython(cp) && u_hasBinaryProperty(static_cast<UChar32>(cp), UCHAR_CASE_IGNORABLE);
}

// Python's handle_capital_sigma (Objects/unicodeobject.c): U+03A3 at index i lowers to the final
// form U+03C2 when preceded by a cased letter (skipping case-ignorables) and not followed by one.
bool isFinalSigma(std::u32string_view text, std::size_t i) {
  std::size_t j = i;
  bool precededByCased = false;
  while (j > 0) {
    const char32_t c = text[--j];
    if (pyIsCaseIgnorable(c)) continue;
    precededByCased = pyIsCased(c);
    break;
  }
  if (!precededByCased) return false;
  for (std::size_t k = i + 1; k < text.size(); ++k) {
    if (pyIsCaseIgnorable(text[k])) continue;
    return !pyIsCased(text[k]);
  }
  return true;
}

GeneralCategory fromIcu(int8_t type) {
  switch (static_cast<UCharCategory>(type)) {
    case U_UPPERCASE_LETTER: return GeneralCategory::Lu;
    case U_LOWERCASE_LETTER: return GeneralCategory::Ll;
    case U_TITLECASE_LETTER: return GeneralCategory::Lt;
    case U_MODIFIER_LETTER: return GeneralCategory::Lm;
    case U_OTHER_LETTER: return GeneralCategory::Lo;
    case U_NON_SPACING_MARK: return GeneralCategory::Mn;
    case U_COMBINING_SPACING_MARK: return GeneralCategory::Mc;
    case U_ENCLOSING_MARK: return GeneralCategory::Me;
    case U_DECIMAL_DIGIT_NUMBER: return GeneralCategory::Nd;
    case U_LETTER_NUMBER: return GeneralCategory::Nl;
    case U_OTHER_NUMBER: return GeneralCategory::No;
    case U_CONNECTOR_PUNCTUATION: return GeneralCategory::Pc;
    case U_DASH_PUNCTUATION: return GeneralCategory::Pd;
    case U_START_PUNCTUATION: return GeneralCategory::Ps;
    case U_END_PUNCTUATION: return GeneralCategory::Pe;
    case U_INITIAL_PUNCTUATION: return GeneralCategory::Pi;
    case U_FINAL_PUNCTUATION: return GeneralCategory::Pf;
    case U_OTHER_PUNCTUATION: return GeneralCategory::Po;
    case U_MATH_SYMBOL: return GeneralCategory::Sm;
    case U_CURRENCY_SYMBOL: return GeneralCategory::Sc;
    case U_MODIFIER_SYMBOL: return GeneralCategory::Sk;
    case U_OTHER_SYMBOL: return GeneralCategory::So;
    case U_SPACE_SEPARATOR: return GeneralCategory::Zs;
    case U_LINE_SEPARATOR: return GeneralCategory::Zl;
    case U_PARAGRAPH_SEPARATOR: return GeneralCategory::Zp;
    case U_CONTROL_CHAR: return GeneralCategory::Cc;
    case U_FORMAT_CHAR: return GeneralCategory::Cf;
    case U_SURROGATE: return GeneralCategory::Cs;
    case U_PRIVATE_USE_CHAR: return GeneralCategory::Co;
    default: return GeneralCategory::Cn;
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// UTF-8

std::u32string utf8ToCodePoints(std::string_view utf8) {
  std::u32string out;
  out.reserve(utf8.size());
  const std::size_t n = utf8.size();
  std::size_t i = 0;
  while (i < n) {
    const auto b0 = static_cast<unsigned char>(utf8[i]);
    if (b0 < 0x80) {
      out.push_back(b0);
      ++i;
      continue;
    }
    // Well-formed sequences, Unicode Table 3-7: the allowed range of the second byte depends on
    // the lead byte; later bytes are always 80..BF.
    int need = 0;
    unsigned char lo = 0x80, hi = 0xBF;
    char32_t cp = 0;
    if (b0 >= 0xC2 && b0 <= 0xDF) {
      need = 1, cp = b0 & 0x1F;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
      need = 2, cp = b0 & 0x0F;
      if (b0 == 0xE0) lo = 0xA0;
      if (b0 == 0xED) hi = 0x9F;
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
      need = 3, cp = b0 & 0x07;
      if (b0 == 0xF0) lo = 0x90;
      if (b0 == 0xF4) hi = 0x8F;
    } else {
      out.push_back(kReplacementCharacter);  // 80..C1, F5..FF can never start a sequence
      ++i;
      continue;
    }
    std::size_t j = i + 1;
    bool ok = true;
    for (int k = 0; k < need; ++k, ++j) {
      if (j >= n) {
        ok = false;
        break;
      }
      const auto b = static_cast<unsigned char>(utf8[j]);
      if (b < lo || b > hi) {
        ok = false;
        break;
      }
      cp = (cp << 6) | (b & 0x3F);
      lo = 0x80, hi = 0xBF;
    }
    // A broken sequence: its valid prefix [i, j) becomes one U+FFFD; byte j is looked at again.
    out.push_back(ok ? cp : kReplacementCharacter);
    i = j;
  }
  return out;
}

void appendUtf8(std::string& out, char32_t cp) {
  if (cp > kMaxCodePoint || isSurrogate(cp)) cp = kReplacementCharacter;
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

std::string codePointsToUtf8(std::u32string_view codePoints) {
  std::string out;
  out.reserve(codePoints.size() + codePoints.size() / 2);
  for (char32_t cp : codePoints) appendUtf8(out, cp);
  return out;
}

bool isValidUtf8(std::string_view utf8) {
  for (char c : utf8) {
    if (static_cast<unsigned char>(c) >= 0x80) {
      const std::u32string cps = utf8ToCodePoints(utf8);
      // Valid iff re-encoding gives the same bytes (every replacement changes them, unless the
      // input itself spelled U+FFFD, which re-encodes identically).
      return codePointsToUtf8(cps) == utf8;
    }
  }
  return true;
}

std::size_t codePointCount(std::string_view utf8) {
  bool ascii = true;
  for (char c : utf8) ascii = ascii && static_cast<unsigned char>(c) < 0x80;
  return ascii ? utf8.size() : utf8ToCodePoints(utf8).size();
}

// ---------------------------------------------------------------------------------------------
// Properties

bool isNewerThanPythonUnicode(char32_t cp) {
  if (cp > kMaxCodePoint) return false;
  UVersionInfo age;
  u_charAge(static_cast<UChar32>(cp), age);
  return age[0] > 14 || (age[0] == 14 && (age[1] > 0 || age[2] > 0));
}

GeneralCategory generalCategory(char32_t cp) {
  if (cp > kMaxCodePoint) return GeneralCategory::Cn;
  const GeneralCategory c = fromIcu(u_charType(static_cast<UChar32>(cp)));
  if (c != GeneralCategory::Cn && cp >= 0x80 && isNewerThanPythonUnicode(cp)) return GeneralCategory::Cn;
  return c;
}

std::string_view categoryName(GeneralCategory category) {
  static constexpr std::array<std::string_view, 30> kNames = {
      "Lu", "Ll", "Lt", "Lm", "Lo", "Mn", "Mc", "Me", "Nd", "Nl", "No", "Pc", "Pd", "Ps", "Pe",
      "Pi", "Pf", "Po", "Sm", "Sc", "Sk", "So", "Zs", "Zl", "Zp", "Cc", "Cf", "Cs", "Co", "Cn"};
  return kNames[static_cast<std::size_t>(category)];
}

bool pyIsSpace(char32_t cp) {
  if (cp <= 0x20) return cp == 0x20 || (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x1F);
  if (cp < 0x85) return false;
  return cp == 0x85 || cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 ||
         cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

bool isLetter(char32_t cp) {
  if (cp < 0x80) return (cp | 0x20) >= 'a' && (cp | 0x20) <= 'z';
  return cp <= kMaxCodePoint && (U_GET_GC_MASK(static_cast<UChar32>(cp)) & U_GC_L_MASK) != 0;
}

bool isNumber(char32_t cp) {
  if (cp < 0x80) return cp >= '0' && cp <= '9';
  return cp <= kMaxCodePoint && (U_GET_GC_MASK(static_cast<UChar32>(cp)) & U_GC_N_MASK) != 0;
}

// ---------------------------------------------------------------------------------------------
// Normalisation and case

std::u32string nfc(std::u32string_view text) { return normalize(nfcInstance(), text); }
std::u32string nfd(std::u32string_view text) { return normalize(nfdInstance(), text); }
std::string nfcUtf8(std::string_view utf8) { return codePointsToUtf8(nfc(utf8ToCodePoints(utf8))); }
std::string nfdUtf8(std::string_view utf8) { return codePointsToUtf8(nfd(utf8ToCodePoints(utf8))); }

void appendPyLowerChar(std::u32string& out, char32_t cp) {
  if (cp < 0x80) {
    out.push_back(cp >= 'A' && cp <= 'Z' ? cp + 32 : cp);
    return;
  }
  if (isOpaqueForPython(cp)) {
    out.push_back(cp);
    return;
  }
  // ICU's full lower-case mapping in the root locale = Python's _PyUnicode_ToLowerFull (UnicodeData
  // simple mappings + unconditional SpecialCasing). One code point alone has no Final_Sigma context.
  UChar src[2];
  int32_t srcLength = 0;
  U16_APPEND_UNSAFE(src, srcLength, static_cast<UChar32>(cp));
  UChar dst[8];
  UErrorCode status = U_ZERO_ERROR;
  const int32_t n = u_strToLower(dst, 8, src, srcLength, "", &status);
  if (U_FAILURE(status)) {
    out.push_back(cp);
    return;
  }
  appendFromUtf16(out, dst, n);
}

std::u32string pyLower(std::u32string_view text) {
  std::u32string out;
  out.reserve(text.size() + 4);
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == 0x3A3) {
      out.push_back(isFinalSigma(text, i) ? char32_t(0x3C2) : char32_t(0x3C3));
    } else {
      appendPyLowerChar(out, text[i]);
    }
  }
  return out;
}

std::string pyLowerUtf8(std::string_view utf8) { return codePointsToUtf8(pyLower(utf8ToCodePoints(utf8))); }

std::vector<std::u32string> pySplit(std::u32string_view text) {
  std::vector<std::u32string> out;
  std::size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && pyIsSpace(text[i])) ++i;
    if (i == text.size()) break;
    const std::size_t start = i;
    while (i < text.size() && !pyIsSpace(text[i])) ++i;
    out.emplace_back(text.substr(start, i - start));
  }
  return out;
}

namespace {

std::string stripImpl(std::string_view utf8, bool left, bool right) {
  const std::u32string cps = utf8ToCodePoints(utf8);
  std::size_t b = 0, e = cps.size();
  if (left) {
    while (b < e && pyIsSpace(cps[b])) ++b;
  }
  if (right) {
    while (e > b && pyIsSpace(cps[e - 1])) --e;
  }
  return codePointsToUtf8(std::u32string_view(cps).substr(b, e - b));
}

}  // namespace

std::string pyStripUtf8(std::string_view utf8) { return stripImpl(utf8, true, true); }
std::string pyLStripUtf8(std::string_view utf8) { return stripImpl(utf8, true, false); }
std::string pyRStripUtf8(std::string_view utf8) { return stripImpl(utf8, false, true); }

}  // namespace vlm::text
