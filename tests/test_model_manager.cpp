// VLM_TEST_LABELS: gui
// The model manager dialog (File > Models...): lists the bundled models and the known real
// checkpoints, downloads one from a local stand-in of the hub into the Hugging Face cache with
// progress, verifies it (and finds a damaged file), and loads it into the window.
#include <QLabel>
#include <QProgressBar>
#include <QPushButton>
#include <QSignalSpy>
#include <QTableWidget>
#include <QTemporaryDir>
#include <QTest>

#include <filesystem>
#include <fstream>

#include "hub_server.h"
#include "model_manager.h"
#include "pipeline/captioner.h"
#include "window_testing.h"

using namespace vlm;
using namespace vlm::test;
namespace fs = std::filesystem;

class ModelManagerTest : public QObject {
  Q_OBJECT

  int rowOf(ui::ModelManagerDialog& d, const std::string& name) {
    for (size_t i = 0; i < d.entries().size(); ++i)
      if (d.entries()[i].name == name) return int(i);
    return -1;
  }

 private Q_SLOTS:
  void downloadVerifyUse() {
    QTemporaryDir cache;
    QVERIFY(cache.isValid());
    // The tiny fixture plays Salesforce/blip-image-captioning-base on 127.0.0.1.
    LocalHub hub(dataPath("blip-caption-tiny"), tinyBlipFiles(), "Salesforce/blip-image-captioning-base");
    QVERIFY(!hub.endpoint.empty());
    qputenv("HF_HUB_CACHE", cache.path().toUtf8());
    qputenv("HF_ENDPOINT", QByteArray::fromStdString(hub.endpoint));

    ui::StartOptions o;
    o.imagePath = fixture("images/astronaut.png");
    ui::MainWindow w(o);
    w.show();
    w.openModelManager();
    ui::ModelManagerDialog* d = w.modelManager();
    QVERIFY(d && d->isVisible());

    // The three bundled models (with the family each loads as) and the four known checkpoints.
    const std::map<std::string, models::ModelFamily> bundled = {{"shapes-blip-caption", models::ModelFamily::BlipCaption},
                                                                 {"shapes-blip-vqa", models::ModelFamily::BlipVqa},
                                                                 {"shapes-clip", models::ModelFamily::Clip}};
    for (const auto& [name, family] : bundled) {
      const int row = rowOf(*d, name);
      QVERIFY2(row >= 0, name.c_str());
      QCOMPARE(d->entries()[size_t(row)].source, ModelSource::Bundled);
      QVERIFY(d->entries()[size_t(row)].family == family);
      d->selectRow(row);
      QVERIFY(!d->downloadButton()->isEnabled());  // nothing to download
      QVERIFY(d->useButton()->isEnabled());
    }
    QCOMPARE(d->table()->rowCount(), int(d->entries().size()));
    for (const char* id : {"Salesforce/blip-image-captioning-base", "Salesforce/blip-vqa-base", "openai/clip-vit-base-patch32"}) {
      const int row = rowOf(*d, id);
      QVERIFY2(row >= 0, id);
      QCOMPARE(d->entries()[size_t(row)].source, ModelSource::Downloadable);
    }

    // Download the captioner: progress shown, then it is a cached model with a folder.
    int row = rowOf(*d, "Salesforce/blip-image-captioning-base");
    d->selectRow(row);
    QVERIFY(d->downloadButton()->isEnabled());
    QVERIFY(!d->useButton()->isEnabled());
    QSignalSpy finished(d, &ui::ModelManagerDialog::jobFinished);
    QTest::mouseClick(d->downloadButton(), Qt::LeftButton);
    QVERIFY(d->findChild<QProgressBar*>()->isVisible());
    QVERIFY(d->cancelButton()->isEnabled());
    QVERIFY(finished.wait(60000));
    QVERIFY2(d->statusText().contains(QStringLiteral("is ready")), qPrintable(d->statusText()));
    row = rowOf(*d, "Salesforce/blip-image-captioning-base");
    const CatalogEntry entry = d->entries()[size_t(row)];
    QCOMPARE(entry.source, ModelSource::HuggingFaceCache);
    QCOMPARE(entry.path, fs::path(cache.path().toStdString()) / "models--Salesforce--blip-image-captioning-base" / "snapshots" / hub.server->commit);
    QVERIFY(entry.family == models::ModelFamily::BlipCaption);

    // Verify: every file matches.
    d->selectRow(row);
    QVERIFY(d->verifyButton()->isEnabled());
    QTest::mouseClick(d->verifyButton(), Qt::LeftButton);
    QVERIFY(finished.wait(60000));
    QVERIFY2(d->statusText().contains(QStringLiteral("all %1 files match").arg(tinyBlipFiles().size())), qPrintable(d->statusText()));

    // Use it: the window loads it from the cache and captions as the fixture folder does.
    QSignalSpy caption(&w, &ui::MainWindow::captionReady);
    QTest::mouseClick(d->useButton(), Qt::LeftButton);
    QVERIFY(!d->isVisible());
    QVERIFY(caption.wait(60000));
    const auto expected = Captioner::load(dataPath("blip-caption-tiny").string())->caption(loadFixtureImage("astronaut.png"), {});
    QCOMPARE(caption.last().at(0).toString(), QString::fromStdString(expected.caption));

    // A damaged file: verify names it.
    {
      std::fstream f(fs::canonical(entry.path / "vocab.txt"), std::ios::in | std::ios::out | std::ios::binary);
      f.seekp(10);
      f.put('#');
    }
    w.openModelManager();
    d->selectRow(rowOf(*d, "Salesforce/blip-image-captioning-base"));
    QTest::mouseClick(d->verifyButton(), Qt::LeftButton);
    QVERIFY(finished.wait(60000));
    QVERIFY2(d->statusText().contains(QStringLiteral("1 of %1 files do not match").arg(tinyBlipFiles().size())), qPrintable(d->statusText()));
    QVERIFY(d->statusText().contains(QStringLiteral("vocab.txt")));
    qunsetenv("HF_HUB_CACHE");
    qunsetenv("HF_ENDPOINT");
  }
};

QTEST_MAIN(ModelManagerTest)
#include "test_model_manager.moc"
