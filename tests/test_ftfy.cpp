// VLM_TEST_LABELS: fast
// The C++ port of python-ftfy 6.1.1's fix_text (core/text/ftfy.h): the examples of ftfy's own
// documentation and docstrings (expected values as documented, checked against ftfy 6.1.1), ftfy's
// test_cases.json, and vectors made by ftfy 6.1.1 itself (tests/data/ftfy/vectors.json).
#include "testing.h"
#include "json_testing.h"

#include <fstream>

#include <nlohmann/json.hpp>

#include "text/ftfy.h"
#include "text/unicode.h"

using namespace vlm;
using namespace vlm::text;
using nlohmann::json;

namespace {

std::u32string u32(std::string_view utf8) { return utf8ToCodePoints(utf8); }
std::string u8(std::u32string_view s) { return codePointsToUtf8(s); }

// Python's repr-like escape for failure messages.
std::string shown(std::string_view utf8) {
  std::string out = "'";
  for (char32_t c : utf8ToCodePoints(utf8)) {
    if (c < 0x20 || (c >= 0x7F && c <= 0xA0) || c == 0xAD || (c >= 0x2000 && c <= 0x200F) || c == 0x2028 || c == 0xFEFF) {
      char buf[16];
      std::snprintf(buf, sizeof buf, "\\u%04X", static_cast<unsigned>(c));
      out += buf;
    } else {
      appendUtf8(out, c);
    }
  }
  return out + "'";
}

std::string fixText(std::string_view s) { return ftfy::fixTextUtf8(s); }
std::string fixEncoding(std::string_view s) { return u8(ftfy::fixEncoding(u32(s))); }


// text.encode("utf-8").decode("latin-1"): one more layer of mojibake.
std::string latin1Mojibake(std::string_view utf8) {
  std::string out;
  for (unsigned char b : utf8) appendUtf8(out, b);
  return out;
}

}  // namespace

#define COMPARE_TEXT(actual, expected)                                                                      \
  do {                                                                                                      \
    const std::string a_ = (actual), e_ = (expected);                                                       \
    QVERIFY2(a_ == e_, ("got " + shown(a_) + ", want " + shown(e_)).c_str());                              \
  } while (0)

class TestFtfy : public QObject {
  Q_OBJECT

 private Q_SLOTS:
  // ---- ftfy's README / docs/index.rst / fix_text docstring -------------------------------------

  void documentedFixTextExamples() {
    COMPARE_TEXT(fixText("âœ” No problems"), "✔ No problems");
    COMPARE_TEXT(fixText("&macr;\\_(ã\u0083\u0084)_/&macr;"), "¯\\_(ツ)_/¯");
    // The docstring shows "Broken text... it's flubberific!", but ftfy 6.1.1 (no fixer turns an
    // ellipsis into three dots) returns the U+2026 it decoded; that is what we reproduce.
    COMPARE_TEXT(fixText("Broken text&hellip; it&#x2019;s ﬂubberiﬁc!"), "Broken text… it's flubberific!");
    COMPARE_TEXT(fixText("ＬＯＵＤ　ＮＯＩＳＥＳ"), "LOUD NOISES");
    // Multiple layers of mojibake.
    COMPARE_TEXT(fixText("The Mona Lisa doesnÃƒÂ¢Ã¢â€šÂ¬Ã¢â€žÂ¢t have eyebrows."), "The Mona Lisa doesn't have eyebrows.");
    // Mojibake with curly quotes applied on top.
    COMPARE_TEXT(fixText("l’humanitÃ©"), "l'humanité");
    // U+A0 turned into a space, then merged with the following space.
    COMPARE_TEXT(fixText("Ã\u00a0 perturber la rÃ©flexion"), "à perturber la réflexion");
    COMPARE_TEXT(fixText("Ã perturber la rÃ©flexion"), "à perturber la réflexion");
    // Upper-cased HTML entities.
    COMPARE_TEXT(fixText("P&EACUTE;REZ"), "PÉREZ");
    // Sensible text is left alone even though it could be decoded.
    COMPARE_TEXT(fixText("IL Y MARQUÉ…"), "IL Y MARQUÉ…");
    // docs/explain.rst: the shipping label (three rounds of unescaping, then latin-1 -> UTF-8).
    COMPARE_TEXT(fixText("L&AMP;AMP;ATILDE;&AMP;AMP;SUP3;PEZ"), "LóPEZ");
  }

  void documentedFixEncodingExamples() {
    COMPARE_TEXT(fixEncoding("Ã³"), "ó");
    COMPARE_TEXT(fixEncoding("&ATILDE;&SUP3;"), "&ATILDE;&SUP3;");
    COMPARE_TEXT(fixEncoding("sÃ³"), "só");
    COMPARE_TEXT(fixEncoding("voilÃ le travail"), "voilà le travail");
    COMPARE_TEXT(fixEncoding("schÃ¶n"), "schön");
    COMPARE_TEXT(fixEncoding("(à¸‡'âŒ£')à¸‡"), "(ง'⌣')ง");  // README
    // replace_lossy_sequences: a windows-1252 decoder that gave U+FFFD for the byte 0x9D.
    COMPARE_TEXT(fixEncoding("â€œ like this â€\uFFFD"), "“ like this \uFFFD");
    COMPARE_TEXT(fixText("â€œ like this â€\uFFFD"), "\" like this \uFFFD");
    // bad_codecs: CESU-8 and Java's two-byte NUL, read as latin-1.
    COMPARE_TEXT(fixEncoding(latin1Mojibake("\xed\xa0\xbd\xed\xb8\x8d")), "😍");
    COMPARE_TEXT(fixEncoding(latin1Mojibake("here comes a null! \xc0\x80")), std::string("here comes a null! \0", 20));
    // test_cases.json's first example, and its C1 control on its own.
    COMPARE_TEXT(fixEncoding("ÄŒeÅ¡tina"), "Čeština");
  }

  // ---- ftfy.fixes docstrings ----------------------------------------------------------------

  void documentedFixers() {
    auto unescape = [](std::string_view s) { return u8(ftfy::unescapeHtml(u32(s))); };
    COMPARE_TEXT(unescape("&lt;tag&gt;"), "<tag>");
    COMPARE_TEXT(unescape("&Jscr;ohn &HilbertSpace;ancock"), "𝒥ohn ℋancock");
    COMPARE_TEXT(unescape("&checkmark;"), "✓");
    COMPARE_TEXT(unescape("P&eacute;rez"), "Pérez");
    COMPARE_TEXT(unescape("P&EACUTE;REZ"), "PÉREZ");
    COMPARE_TEXT(unescape("BUNDESSTRA&SZLIG;E"), "BUNDESSTRASSE");
    COMPARE_TEXT(unescape("&ntilde; &Ntilde; &NTILDE; &nTILDE;"), "ñ Ñ Ñ &nTILDE;");

    COMPARE_TEXT(u8(ftfy::removeTerminalEscapes(u32("\033[36;44mI'm blue, da ba dee da ba doo...\033[0m"))),
                 "I'm blue, da ba dee da ba doo...");
    COMPARE_TEXT(u8(ftfy::uncurlQuotes(u32("\u201chere\u2019s a test\u201d"))), "\"here's a test\"");
    COMPARE_TEXT(u8(ftfy::fixLatinLigatures(u32("ﬂuﬃeﬆ"))), "fluffiest");
    COMPARE_TEXT(u8(ftfy::fixCharacterWidth(u32("ＬＯＵＤ　ＮＯＩＳＥＳ"))), "LOUD NOISES");
    COMPARE_TEXT(u8(ftfy::fixCharacterWidth(u32("Ｕﾀｰﾝ"))), "Uターン");
    COMPARE_TEXT(u8(ftfy::fixLineBreaks(u32("This string is made of two things:\u20291. Unicode\u20282. Spite"))),
                 "This string is made of two things:\n1. Unicode\n2. Spite");
    COMPARE_TEXT(u8(ftfy::fixLineBreaks(u32("Content-type: text/plain\r\n\r\nHi."))), "Content-type: text/plain\n\nHi.");
    COMPARE_TEXT(u8(ftfy::fixLineBreaks(u32("This is how Microsoft \r trolls Mac users"))), "This is how Microsoft \n trolls Mac users");
    COMPARE_TEXT(u8(ftfy::fixLineBreaks(u32("What is this \u0085 I don't even"))), "What is this \n I don't even");
    // fix_surrogates: a pair becomes its character, a reversed pair two U+FFFD.
    QCOMPARE(ftfy::fixSurrogates(std::u32string{0xD83D, 0xDCA9}), std::u32string(U"💩"));
    QCOMPARE(ftfy::fixSurrogates(std::u32string{0xDCA9, 0xD83D}), std::u32string(U"\uFFFD\uFFFD"));
    // sloppy-windows-1252 keeps the bytes windows-1252 leaves undefined.
    COMPARE_TEXT(u8(ftfy::fixC1Controls(u32("\u0080\u0081\u0082"))), "€\u0081‚");
    // remove_control_chars keeps \t \n \f \r, drops the rest of C0, DEL, BOM, U+206A..F, U+FFF9..C.
    const char controls[] = "a\0b\x07\t\n\x0c\r\x1b\x7f\ufeff\u206a\ufffc\ufffd";
    COMPARE_TEXT(u8(ftfy::removeControlChars(u32(std::string(controls, sizeof controls - 1)))), "ab\t\n\x0c\r\ufffd");
  }

  void htmlEntityDetails() {
    // Numeric references as html.unescape decodes them, kept when ftfy would not accept them.
    COMPARE_TEXT(fixText("&#59;&#1;&#x41;&#65a;"), "&#59;A&#65a;");
    COMPARE_TEXT(fixText("&#x2019;&#8217;&#X41;&#0065;"), "''AA");
    COMPARE_TEXT(fixText("&#0;|&#x110000;|&#xD800;|&#99999999999999999999;"), "\uFFFD|\uFFFD|\uFFFD|\uFFFD");
    COMPARE_TEXT(fixText("&#128;&#x9d;"), "€\u009d");
    COMPARE_TEXT(fixText("&amp;lt;"), "<");  // unescaped again in the next round
    COMPARE_TEXT(fixText("&aaaaaaaaaaaaaaaaaaaaaaaaa; &lt &amp"), "&aaaaaaaaaaaaaaaaaaaaaaaaa; &lt &amp");
    // A '<' switches unescaping off for its line and every later one.
    COMPARE_TEXT(fixText("&lt;b&gt;\n<i>\n&amp;"), "<b>\n<i>\n&amp;");
    COMPARE_TEXT(fixText("&amp;\n&lt;b&gt;<i>\n&amp;"), "&\n&lt;b&gt;<i>\n&amp;");
  }

  void byteTranscoders() {
    QCOMPARE(ftfy::restoreByteA0("\xc3 la \xc3 s \xe2\x80 "), std::string("\xc3\xa0 la \xc3\xa0s \xe2\x80\xa0"));
    // The à-word exception keeps the space for "quele"; the general rule then still turns it into 0xA0.
    QCOMPARE(ftfy::restoreByteA0("\xc3 quele"), std::string("\xc3\xa0quele"));
    QCOMPARE(ftfy::replaceLossySequences("\xe2\x80\x1a \xc3? \x1a ok"), std::string("\xef\xbf\xbd \xef\xbf\xbd \xef\xbf\xbd ok"));
  }

  void badnessHeuristic() {
    QVERIFY(ftfy::isBad(u32("âœ” No problems")));
    QVERIFY(ftfy::isBad(u32("Ã perturber")));
    QVERIFY(!ftfy::isBad(u32("IL Y MARQUÉ…")));
    QVERIFY(!ftfy::isBad(u32("café")));
    QVERIFY(!ftfy::isBad(u32("")));
  }

  void plainTextIsUnchanged() {
    for (const char* s : {"a photo of a cat", "", "日本語のテキスト", "Привет, мир!", "😀 👍🏽", "tab\tseparated\n"})
      COMPARE_TEXT(fixText(s), s);
    // Invalid UTF-8 becomes U+FFFD first.
    COMPARE_TEXT(fixText("a\xff" "b"), "a\uFFFDb");
  }

  // ---- ftfy's own test cases ------------------------------------------------------------------

  void ftfyTestCases() {
    const json cases = test::readJsonFile(test::dataPath("ftfy/test_cases.json"));
    int passed = 0, checked = 0;
    QStringList failures;
    for (const json& c : cases) {
      if (c.at("expect") != "pass") continue;
      const std::string orig = c.at("original"), fixed = c.at("fixed");
      const std::string fixedEncoding = c.value("fixed-encoding", fixed);
      const std::string label = c.at("label");
      auto check = [&](const std::string& got, const std::string& want, const char* what) {
        ++checked;
        if (got == want) {
          ++passed;
        } else {
          failures << QString::fromStdString(label + " " + what + ": got " + shown(got) + ", want " + shown(want));
        }
      };
      check(fixText(orig), fixed, "fix_text");
      check(fixEncoding(orig), fixedEncoding, "fix_encoding");
      check(fixText(latin1Mojibake(orig)), fixed, "fix_text(extra latin-1 layer)");
    }
    for (const QString& f : failures.mid(0, 20)) qWarning("%s", qPrintable(f));
    qInfo("ftfy test_cases.json: %d of %d checks pass", passed, checked);
    QVERIFY(checked >= 3 * 130);
    QCOMPARE(passed, checked);
  }

  // ---- ftfy 6.1.1's output on generated inputs ------------------------------------------------

  void referenceVectors() {
    const json v = test::readJsonFile(test::dataPath("ftfy/vectors.json"));
    QCOMPARE(v.at("versions").at("ftfy").get<std::string>(), std::string("6.1.1"));
    int passed = 0, checked = 0;
    QStringList failures;
    auto check = [&](bool ok, const std::string& what) {
      ++checked;
      if (ok) {
        ++passed;
      } else {
        failures << QString::fromStdString(what);
      }
    };
    for (const json& c : v.at("fix_text")) {
      const std::string got = fixText(c[0].get<std::string>());
      check(got == c[1].get<std::string>(), "fix_text " + shown(c[0].get<std::string>()) + ": got " + shown(got) +
                                                ", want " + shown(c[1].get<std::string>()));
    }
    for (const json& c : v.at("fix_encoding")) {
      const std::string got = fixEncoding(c[0].get<std::string>());
      check(got == c[1].get<std::string>(), "fix_encoding " + shown(c[0].get<std::string>()) + ": got " + shown(got) +
                                                ", want " + shown(c[1].get<std::string>()));
    }
    for (const json& c : v.at("is_bad"))
      check(ftfy::isBad(u32(c[0].get<std::string>())) == c[1].get<bool>(), "is_bad " + shown(c[0].get<std::string>()));
    for (const QString& f : failures.mid(0, 20)) qWarning("%s", qPrintable(f));
    qInfo("ftfy vectors.json: %d of %d checks pass", passed, checked);
    QCOMPARE(checked, 4000 + 3500 + 2000);
    QCOMPARE(passed, checked);
  }
};

QTEST_GUILESS_MAIN(TestFtfy)
#include "test_ftfy.moc"
