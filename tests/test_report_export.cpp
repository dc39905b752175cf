// VLM_TEST_LABELS: gui
// File > Export report: the window's exploration (caption, an explanation from the history, a
// masked regeneration) written as HTML and PDF, with the window's own results in it.
#include <QRegularExpression>
#include <QToolButton>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>

#include "image_canvas.h"
#include "io/files.h"
#include "pipeline/captioner.h"
#include "pipeline/explainer.h"
#include "token_bar.h"
#include "window_testing.h"

using namespace vlm;
using namespace vlm::test;

class ReportExportTest : public QObject {
  Q_OBJECT

 private Q_SLOTS:
  void exportsTheExploration() {
    ui::MainWindow w(fixtureStart());
    QVERIFY(showAndWaitForCaption(w));
    const QString caption = w.captionText();
    QSignalSpy explained(&w, &ui::MainWindow::explanationReady);
    QTest::mouseClick(w.tokenBar()->chip(1), Qt::LeftButton);
    QVERIFY(explained.wait(60000));
    const std::string explainedToken = w.explanation()->maps.front().token;
    w.canvas()->addMask(QRectF(0, 0, 256, 256));
    QSignalSpy regenerated(&w, &ui::MainWindow::regenerated);
    w.regenerate();
    QVERIFY(regenerated.wait(60000));

    QTemporaryDir dir;
    const QString htmlFile = dir.filePath(QStringLiteral("r.html"));
    QCOMPARE(w.exportReport(htmlFile), QString());
    const QString html = QString::fromStdString(io::readFile(htmlFile.toStdString()));
    QVERIFY(html.contains(caption.toHtmlEscaped()));
    QVERIFY(html.contains(QStringLiteral("astronaut.png")));
    // The explanation run: its token marked, its map over the image with a colour bar.
    QVERIFY2(html.contains(QStringLiteral("class=\"tok explained\" title=\"token 1\">") +
                           QString::fromStdString(explainedToken).toHtmlEscaped() + QStringLiteral("</span>")),
             qPrintable(QString::fromStdString(explainedToken)));
    QVERIFY(html.contains(QStringLiteral("alt=\"map over the image\"")));
    QVERIFY(html.contains(QStringLiteral("alt=\"colour bar\"")));
    // The mask and the regeneration with its words.
    QVERIFY(html.contains(QStringLiteral("1 mask(s) drawn")));
    QVERIFY(html.contains(QStringLiteral("masked regeneration")));
    QVERIFY(html.contains(QString::fromStdString(w.regeneration()->masked).toHtmlEscaped()));
    QVERIFY(html.contains(QStringLiteral("blip-caption-tiny")));
    static const QRegularExpression src(QStringLiteral("src=\"([^\"]*)\""));
    for (auto it = src.globalMatch(html); it.hasNext();) QVERIFY(it.next().captured(1).startsWith(QStringLiteral("data:image/")));

    const QString pdfFile = dir.filePath(QStringLiteral("r.pdf"));
    QCOMPARE(w.exportReport(pdfFile), QString());
    const std::string pdf = io::readFile(pdfFile.toStdString());
    QVERIFY(pdf.rfind("%PDF-", 0) == 0);
    QVERIFY(pdf.find("/Image") != std::string::npos);
    // An unwritable place: a clear message, nothing thrown.
    const QString error = w.exportReport(dir.filePath(QStringLiteral("r.html/inside.html")));
    QVERIFY2(error.contains(QStringLiteral("inside.html")), qPrintable(error));
  }
};

QTEST_MAIN(ReportExportTest)
#include "test_report_export.moc"
