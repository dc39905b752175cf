// VLM_TEST_LABELS: gui
// The main window loads a model and captions the image in the background: the caption shown
// is the reference caption, and the window stays responsive while it works.
#include "testing.h"

#include <QApplication>
#include <QLabel>
#include <QSignalSpy>

#include "main_window.h"

using namespace vlm;

class TestMainWindow : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void captionsTheStartImage() {
    ui::StartOptions o;
    o.modelPath = QString::fromStdString(test::dataPath("blip-caption-tiny").string());
    o.imagePath = QString::fromStdString(test::dataPath("images/astronaut.png").string());
    o.demoModel = true;
    ui::MainWindow w(o);
    w.show();
    QSignalSpy ready(&w, &ui::MainWindow::captionReady);
    QSignalSpy failed(&w, &ui::MainWindow::workFailed);
    QVERIFY(w.busy());  // loading runs off the GUI thread
    QVERIFY(ready.wait(60000));
    QCOMPARE(failed.count(), 0);
    // transformers' greedy caption of this image with this checkpoint (reference.json)
    QCOMPARE(ready.at(0).at(0).toString(), QString::fromUtf8("hello consent\xcb\xa3 destroyed"));
    QCOMPARE(w.captionText(), QString::fromUtf8("hello consent\xcb\xa3 destroyed"));
    // the window says the demo model is a random-weight placeholder
    bool warned = false;
    for (auto* label : w.findChildren<QLabel*>()) warned |= label->text().contains(QStringLiteral("DEMO"));
    QVERIFY(warned);
  }

  // Without an image the window is ready when the model is (a screenshot then does not wait
  // for a caption that never comes), and a CLIP folder is refused with what it is.
  void modelWithoutImage() {
    ui::StartOptions o;
    o.modelPath = QString::fromStdString(test::dataPath("blip-caption-tiny").string());
    ui::MainWindow w(o);
    QSignalSpy model(&w, &ui::MainWindow::modelReady);
    QVERIFY(model.wait(60000));
    QCOMPARE(model.at(0).at(0).toString(), o.modelPath);
    QVERIFY(!w.busy());

    ui::StartOptions c;
    c.modelPath = QString::fromStdString(test::dataPath("clip-tiny").string());
    ui::MainWindow wc(c);
    QSignalSpy failed(&wc, &ui::MainWindow::workFailed);
    QVERIFY(failed.wait(30000));
    QVERIFY2(failed.at(0).at(0).toString().contains(QStringLiteral("CLIP image-text model")), qPrintable(failed.at(0).at(0).toString()));
  }

  void badModelIsAMessageNotACrash() {
    ui::StartOptions o;
    o.modelPath = QStringLiteral("/no/such/model");
    ui::MainWindow w(o);
    QSignalSpy failed(&w, &ui::MainWindow::workFailed);
    QVERIFY(failed.wait(30000));
    QVERIFY(failed.at(0).at(0).toString().contains(QStringLiteral("/no/such/model")));
  }

  void closingWhileBusyCancelsCleanly() {
    ui::StartOptions o;
    o.modelPath = QString::fromStdString(test::dataPath("blip-caption-tiny").string());
    o.imagePath = QString::fromStdString(test::dataPath("images/chelsea.png").string());
    auto* w = new ui::MainWindow(o);
    QVERIFY(w->busy());
    delete w;  // must wait for the worker and not crash
  }
};

QTEST_MAIN(TestMainWindow)
#include "test_main_window.moc"
