#pragma once
// Unicode helpers for the tokenizers: UTF-8 <-> code points, character properties, NFC/NFD and
// lower-casing exactly as Python 3.11 computes them (unicodedata.category, str.isspace,
// unicodedata.normalize, str.lower), which is what the Hugging Face slow tokenizers are defined by.
// Backed by ICU; no ICU type appears here.
//
// Unicode versions: Python 3.11's unicodedata and str methods use Unicode 14.0; ICU 72 ships 15.0.
// Every "Python" function below treats a code point first assigned after Unicode 14.0 as Python
// 3.11 does: unassigned (category Cn, not cased, no case mapping, no decomposition, combining class
// 0). Example: CJK Extension H (U+31350..U+323AF, new in 15.0) is "Cn" here, so the BERT cleaner
// drops it, as Python 3.11 does. isLetter/isNumber are NOT limited that way (see there).

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace vlm::text {

inline constexpr char32_t kReplacementCharacter = U'\uFFFD';

// ---------------------------------------------------------------------------------------------
// UTF-8

// Decodes UTF-8. Each maximal ill-formed subsequence (the Unicode "maximal subpart" practice)
// becomes one U+FFFD, exactly as Python's bytes.decode("utf-8", errors="replace"): b"\xff" -> 1,
// b"\xe2\x82" (truncated) -> 1, b"\xed\xa0\x80" (an encoded surrogate) -> 3, overlong forms -> 1
// per byte. Never throws.
std::u32string utf8ToCodePoints(std::string_view utf8);

// Encodes code points as UTF-8. Surrogates (U+D800..U+DFFF) and values above U+10FFFF cannot be
// encoded and become U+FFFD, so the output is always valid UTF-8.
std::string codePointsToUtf8(std::u32string_view codePoints);
void appendUtf8(std::string& out, char32_t codePoint);

bool isValidUtf8(std::string_view utf8);

// The number of code points utf8ToCodePoints(utf8) returns (Python's len() of the decoded text).
std::size_t codePointCount(std::string_view utf8);

// ---------------------------------------------------------------------------------------------
// Character properties as Python 3.11 sees them (Unicode 14.0)

enum class GeneralCategory : std::uint8_t {
  Lu, Ll, Lt, Lm, Lo,  // letters
  Mn, Mc, Me,          // marks
  Nd, Nl, No,          // numbers
  Pc, Pd, Ps, Pe, Pi, Pf, Po,  // punctuation
  Sm, Sc, Sk, So,      // symbols
  Zs, Zl, Zp,          // separators
  Cc, Cf, Cs, Co, Cn,  // other
};

// unicodedata.category(chr(cp)). Values above U+10FFFF are Cn.
GeneralCategory generalCategory(char32_t cp);
// The two-letter name Python prints: "Lu", "Mn", ...
std::string_view categoryName(GeneralCategory category);

// Whether ICU knows cp as assigned but Python 3.11 does not (assigned after Unicode 14.0).
bool isNewerThanPythonUnicode(char32_t cp);

// chr(cp).isspace(): bidirectional class WS, B or S, or category Zs. In Unicode 14.0 that is
// U+0009..U+000D, U+001C..U+0020, U+0085, U+00A0, U+1680, U+2000..U+200A, U+2028, U+2029,
// U+202F, U+205F, U+3000.
bool pyIsSpace(char32_t cp);

inline bool isLetterCategory(GeneralCategory c) { return c <= GeneralCategory::Lo; }
inline bool isMarkCategory(GeneralCategory c) { return c >= GeneralCategory::Mn && c <= GeneralCategory::Me; }
inline bool isNumberCategory(GeneralCategory c) { return c >= GeneralCategory::Nd && c <= GeneralCategory::No; }
inline bool isPunctuationCategory(GeneralCategory c) { return c >= GeneralCategory::Pc && c <= GeneralCategory::Po; }
inline bool isOtherCategory(GeneralCategory c) { return c >= GeneralCategory::Cc; }

// The `regex` module's \p{L} and \p{N} (general category L* / N*), as the CLIP tokenizer's
// pattern uses them. These use ICU's own Unicode version (15.0 with ICU 72), NOT the Python 3.11
// limit above: the `regex` package carries its own Unicode tables (15.0 since regex 2022.9), so a
// Unicode 15 letter is a letter for it even under Python 3.11.
bool isLetter(char32_t cp);
bool isNumber(char32_t cp);

// ---------------------------------------------------------------------------------------------
// Normalisation and case (Python 3.11, Unicode 14.0)

// unicodedata.normalize("NFC" / "NFD", s). Surrogates and code points unknown to Python pass
// through unchanged and block reordering/composition across them, as unassigned code points do.
std::u32string nfc(std::u32string_view text);
std::u32string nfd(std::u32string_view text);
std::string nfcUtf8(std::string_view utf8);
std::string nfdUtf8(std::string_view utf8);

// s.lower(): full (SpecialCasing) lower-case mapping with the Final_Sigma rule, so
// "İ" -> "i̇" (U+0069 U+0307) and "ΟΔΟΣ" -> "οδος" (final U+03C2). Locale-independent: the
// Turkish/Lithuanian rules never apply (ICU root locale).
std::u32string pyLower(std::u32string_view text);
std::string pyLowerUtf8(std::string_view utf8);

// chr(cp).lower() appended to `out`: the context-free full mapping (U+03A3 -> U+03C3 always).
void appendPyLowerChar(std::u32string& out, char32_t cp);

// s.split() (no argument): splits on runs of pyIsSpace characters, no empty pieces.
std::vector<std::u32string> pySplit(std::u32string_view text);
// s.strip() / s.lstrip() / s.rstrip() (no argument): removes pyIsSpace characters.
std::string pyStripUtf8(std::string_view utf8);
std::string pyLStripUtf8(std::string_view utf8);
std::string pyRStripUtf8(std::string_view utf8);

}  // namespace vlm::text
