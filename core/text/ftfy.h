#pragma once
// A C++ re-implementation of python-ftfy 6.1.1's `fix_text(text)` with its default settings
// (TextFixerConfig()), which the slow CLIPTokenizer of Hugging Face transformers (and openai's
// CLIP) applies to every text before tokenizing. Written from ftfy's documented algorithm and
// source; its character tables are reproduced in text/ftfy_tables.cpp.
//
// fix_text(text), step by step:
//   - the text is cut into segments after each "\n" (and every 1,000,000 code points);
//   - HTML unescaping is on ("auto") until the first segment containing '<'; from that segment
//     on it stays off for the rest of the text (ftfy keeps the changed setting);
//   - each segment is fixed by fixSegment: repeated until nothing changes,
//       unescapeHtml, fixEncoding, fixC1Controls, fixLatinLigatures, fixCharacterWidth,
//       uncurlQuotes, fixLineBreaks, fixSurrogates, removeTerminalEscapes, removeControlChars,
//       NFC (Python 3.11's unicodedata, Unicode 14.0).
// fixEncoding is ftfy's mojibake repair: when the text is not ASCII and its "badness" heuristic
// (isBad) fires, it re-encodes the text in each of latin-1, sloppy-windows-1252/1251/1250/1253/
// 1254, iso-8859-2, macroman, cp437 that can represent it (restoring 0xA0 bytes that became
// spaces, and marking bytes lost as U+FFFD), and takes the first one that decodes as UTF-8 (or
// CESU-8 / Java's modified UTF-8); failing that it fixes embedded UTF-8 mojibake
// (decodeInconsistentUtf8), Latin-1 C1 controls as windows-1252, or leaves the text alone.
//
// Text is handled as code points (char32_t). Lone surrogates (U+D800..U+DFFF) may appear in the
// input (fixSurrogates pairs or replaces them) and never in the output. The UTF-8 entry point
// decodes invalid bytes as U+FFFD first (Python's errors="replace").
//
// All functions are pure and thread-safe.

#include <string>
#include <string_view>

namespace vlm::text::ftfy {

// ftfy.fix_text(text).
std::u32string fixText(std::u32string_view text);
std::string fixTextUtf8(std::string_view utf8);

// ftfy.fix_text_segment(text): fix_and_explain on one segment; `unescapeHtml` = the "auto"
// setting's outcome (ftfy turns it off when the segment contains '<').
std::u32string fixSegment(std::u32string_view text, bool unescapeHtml);

// ftfy.fix_encoding(text): the mojibake repair, repeated until the text no longer changes.
std::u32string fixEncoding(std::u32string_view text);

// ftfy.badness.is_bad(text): whether the BADNESS_RE heuristic finds a likely mojibake sequence.
bool isBad(std::u32string_view text);

// The individual fixers of ftfy.fixes, as ftfy defines them.
std::u32string unescapeHtml(std::u32string_view text);          // "&eacute;" "&#x2019;" "&EACUTE;"
std::u32string removeTerminalEscapes(std::u32string_view text);  // ESC [ digits/; letter
std::u32string uncurlQuotes(std::u32string_view text);           // U+02BC U+2018..U+201B -> ', U+201C..U+201F -> "
std::u32string fixLatinLigatures(std::u32string_view text);      // "ﬁ" -> "fi", "Ǆ" -> "DŽ"
std::u32string fixCharacterWidth(std::u32string_view text);      // fullwidth / halfwidth forms, U+3000
std::u32string fixLineBreaks(std::u32string_view text);          // \r\n \r U+2028 U+2029 U+0085 -> \n
std::u32string fixSurrogates(std::u32string_view text);          // pairs combined, lone ones -> U+FFFD
std::u32string removeControlChars(std::u32string_view text);     // C0 except \t\n\f\r, DEL, U+206A..F, BOM, U+FFF9..C
std::u32string fixC1Controls(std::u32string_view text);          // U+0080..U+009F as windows-1252
std::u32string decodeInconsistentUtf8(std::u32string_view text);  // UTF-8 mojibake embedded in other text

// The byte-level transcoders used inside fixEncoding (bytes in, bytes out).
std::string restoreByteA0(std::string_view bytes);
std::string replaceLossySequences(std::string_view bytes);

}  // namespace vlm::text::ftfy
