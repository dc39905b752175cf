// VLM_TEST_LABELS: fast
// Reports (core/session/report.h, `vlmscope report`): self-contained HTML whose pictures are the
// session's own data, every model or user text escaped, and a PDF of the same.
#include <QImage>
#include <QRegularExpression>
#include <QTemporaryDir>
#include <QTest>

#include <filesystem>

#include "cli_helpers.h"
#include "io/files.h"
#include "io/sha256.h"
#include "session/report.h"
#include "session/session.h"
#include "testing.h"

using namespace vlm;
using namespace vlm::test;
namespace fs = std::filesystem;

namespace {

session::Session hostileSession() {
  session::Session s;
  s.createdBy = "VLMScope " VLM_VERSION;
  s.imageName = "\"><img src=x onerror=alert(1)>.png";
  s.imageBytes = io::readFile(fs::path(VLM_SOURCE_DIR) / "resources" / "images" / "demo.png");
  s.imageSha256 = io::sha256Hex({reinterpret_cast<const uint8_t*>(s.imageBytes.data()), s.imageBytes.size()});
  s.models.push_back({"caption", "/models/<b>bold</b>", std::string(64, 'c'), std::string(64, 'd')});
  s.decoding = {{"beams", 3}};
  s.masks = {{10, 10, 30, 20}};
  session::Run caption;
  caption.kind = "explain";
  caption.title = "token 2 '<script>alert(1)</script>' - Grad-CAM";
  caption.parameters = {{"method", "gradcam"}, {"layer", "post_layernorm"}};
  caption.text = "a <script>alert(1)</script> star & \xff\xfe circle";
  caption.tokens = {"[DEC]", "a", "<script>alert(1)</script>", "star"};
  caption.explainedToken = 2;
  session::Map m;
  m.width = 4;
  m.height = 3;
  m.values = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
  caption.map = m;
  caption.seconds = 0.5;
  s.runs.push_back(caption);
  session::Run shap;
  shap.kind = "shapley";
  shap.title = "Shapley values of 'star'";
  shap.values = {{"</td><td>sky", 0.25}, {"circle", -0.125}};
  shap.metrics = {{"deletion_auc", 0.25}};
  s.runs.push_back(shap);
  session::Run regen;
  regen.kind = "regenerate";
  regen.title = "masked regeneration";
  regen.text = "a red circle";
  regen.regenerated = "a blue circle";
  regen.masks = {{0, 0, 5, 5}};
  s.runs.push_back(regen);
  session::Run clip;
  clip.kind = "clip";
  clip.title = "CLIP";
  clip.values = {{"a photo of <i>a star</i>", 0.31}};
  s.runs.push_back(clip);
  return s;
}

QStringList imageSources(const QString& html) {
  QStringList out;
  static const QRegularExpression img(QStringLiteral("<img [^>]*src=\"([^\"]*)\""));
  for (auto it = img.globalMatch(html); it.hasNext();) out << it.next().captured(1);
  return out;
}

}  // namespace

class ReportTest : public QObject {
  Q_OBJECT

 private Q_SLOTS:
  void base64KnownAnswers() {  // RFC 4648, section 10
    QCOMPARE(session::base64(""), std::string(""));
    QCOMPARE(session::base64("f"), std::string("Zg=="));
    QCOMPARE(session::base64("fo"), std::string("Zm8="));
    QCOMPARE(session::base64("foo"), std::string("Zm9v"));
    QCOMPARE(session::base64("foob"), std::string("Zm9vYg=="));
    QCOMPARE(session::base64("fooba"), std::string("Zm9vYmE="));
    QCOMPARE(session::base64("foobar"), std::string("Zm9vYmFy"));
  }

  void escaping() {
    QCOMPARE(session::htmlEscape("<a href=\"x\">'&'</a>"), std::string("&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"));
    QCOMPARE(session::htmlEscape("caf\xc3\xa9 \xe2\x86\x92"), std::string("caf\xc3\xa9 \xe2\x86\x92"));  // valid UTF-8 kept
    QCOMPARE(session::htmlEscape("a\xff" "b\xc3"), std::string("a&#xFFFD;b&#xFFFD;"));       // invalid bytes replaced
    const QString html = QString::fromStdString(session::reportHtml(hostileSession()));
    // Nothing from the session becomes markup: no script element, no injected image or cell.
    QVERIFY(!html.contains(QStringLiteral("<script"), Qt::CaseInsensitive));
    QVERIFY(html.contains(QStringLiteral("&lt;script&gt;alert(1)&lt;/script&gt;")));
    QVERIFY(!html.contains(QStringLiteral("<img src=x")));
    QVERIFY(html.contains(QStringLiteral("&quot;&gt;&lt;img src=x onerror=alert(1)&gt;.png")));
    QVERIFY(html.contains(QStringLiteral("/models/&lt;b&gt;bold&lt;/b&gt;")));
    QVERIFY(html.contains(QStringLiteral("&lt;/td&gt;&lt;td&gt;sky")));
    QVERIFY(html.contains(QStringLiteral("a photo of &lt;i&gt;a star&lt;/i&gt;")));
    QVERIFY(html.contains(QStringLiteral("star &amp; &#xFFFD;&#xFFFD; circle")));
  }

  // Every picture is embedded; nothing is fetched from elsewhere.
  void selfContained() {
    const QString html = QString::fromStdString(session::reportHtml(hostileSession()));
    QVERIFY(html.contains(QStringLiteral("Content-Security-Policy\" content=\"default-src 'none'; img-src data:")));
    const QStringList sources = imageSources(html);
    // image, masks, map overlay, colour bar, Shapley chart, masks of the regeneration run
    QCOMPARE(sources.size(), 6);
    for (const QString& src : sources) QVERIFY2(src.startsWith(QStringLiteral("data:image/")), qPrintable(src.left(40)));
    QVERIFY(!html.contains(QStringLiteral("http://")) && !html.contains(QStringLiteral("https://")));
    QVERIFY(!html.contains(QStringLiteral("<link")) && !html.contains(QStringLiteral("url(")));
  }

  // The pictures are the session's: the original bytes, the overlay at the image's size.
  void contents() {
    const auto s = hostileSession();
    const QString html = QString::fromStdString(session::reportHtml(s));
    const QStringList sources = imageSources(html);
    QVERIFY(sources[0].startsWith(QStringLiteral("data:image/png;base64,")));
    QCOMPARE(QByteArray::fromBase64(sources[0].mid(22).toLatin1()).toStdString(), s.imageBytes);
    const QImage original = QImage::fromData(QByteArray::fromStdString(s.imageBytes));
    for (int i : {1, 2, 5}) {  // masks, overlay, masks of a run: pictures of the image's size
      const QImage picture = QImage::fromData(QByteArray::fromBase64(sources[i].mid(22).toLatin1()));
      QCOMPARE(picture.size(), original.size());
      QVERIFY(picture != original.convertToFormat(picture.format()));
    }
    // The mask is drawn filled black inside its outline.
    const QImage masked = QImage::fromData(QByteArray::fromBase64(sources[1].mid(22).toLatin1()));
    QCOMPARE(masked.pixelColor(25, 20), QColor(0, 0, 0));
    // The explained token is the one marked; the word diff; the values; version and time.
    QVERIFY(html.contains(QStringLiteral("<span class=\"tok explained\" title=\"token 2\">&lt;script&gt;")));
    QCOMPARE(html.count(QStringLiteral("tok explained")), 1);
    QVERIFY(html.contains(QStringLiteral("a <del>red</del> <ins>blue</ins> circle")));
    QVERIFY(html.contains(QStringLiteral(">-0.125<")));
    QVERIFY(html.contains(QStringLiteral(">0.31<")));
    QVERIFY(html.contains(QStringLiteral("VLMScope " VLM_VERSION)));
    QVERIFY(html.contains(QStringLiteral("explain - 0.5 s")));
    QVERIFY(html.contains(QStringLiteral("deletion_auc")));
    QVERIFY(html.contains(QString::fromStdString(s.imageSha256)));
  }

  void commandLine() {
    QTemporaryDir dir;
    const fs::path sessionFile = fs::path(dir.path().toStdString()) / "s.vlmscope";
    const auto s = hostileSession();
    session::save(s, sessionFile);
    const fs::path html = fs::path(dir.path().toStdString()) / "r.html";
    auto r = runCli({QStringLiteral("report"), QStringLiteral("--session"), qs(sessionFile), QStringLiteral("--out"), qs(html)});
    QVERIFY2(r.exitCode == 0, r.err.c_str());
    // The same report as from the session in memory, but for the text that was not valid UTF-8,
    // which the session file stores with U+FFFD.
    const std::string fromFile = io::readFile(html);
    QCOMPARE(fromFile, session::reportHtml(session::load(sessionFile)));
    QVERIFY(fromFile.find("star &amp; \xef\xbf\xbd\xef\xbf\xbd circle") != std::string::npos);
    const fs::path pdf = fs::path(dir.path().toStdString()) / "r.pdf";
    r = runCli({QStringLiteral("report"), QStringLiteral("--session"), qs(sessionFile), QStringLiteral("--out"), qs(pdf)});
    QVERIFY2(r.exitCode == 0, r.err.c_str());
    const std::string bytes = io::readFile(pdf);
    QVERIFY(bytes.rfind("%PDF-", 0) == 0);
    QVERIFY(bytes.size() > 20000);  // the pictures are in it
    QVERIFY(bytes.find("/Image") != std::string::npos);
    VLM_EXPECT_CLEAN_FAILURE((QStringList{QStringLiteral("report"), QStringLiteral("--session"), QStringLiteral("/nowhere/x.vlmscope"),
                                          QStringLiteral("--out"), qs(html)}),
                             1, "/nowhere/x.vlmscope");
    VLM_EXPECT_CLEAN_FAILURE((QStringList{QStringLiteral("report"), QStringLiteral("--session"), qs(sessionFile), QStringLiteral("--out"),
                                          QStringLiteral("r.txt")}),
                             2, ".html or .pdf");
  }
};

QTEST_GUILESS_MAIN(ReportTest)
#include "test_report.moc"
