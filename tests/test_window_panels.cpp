// VLM_TEST_LABELS: gui
// The window's panels beyond captions and masks, driven with real QTest events on the tiny
// fixtures: the model bar (checkpoints found in a Hugging Face cache laid out like the real one,
// load state, a failed load keeps the loaded model), CLIP similarity before / after
// regenerating, the decoding popover (prompt and beams reach the caption and the regeneration),
// resizing a mask by its edge (undoable), Shapley results (force plot tiles v(none)..v(all),
// gallery, hover highlight, interaction network), the layer evolution with its play button,
// and the history with a side-by-side comparison.
#include "testing.h"
#include "window_testing.h"

#include <QAbstractItemView>
#include <QApplication>
#include <QComboBox>
#include <QLineEdit>
#include <QListWidget>
#include <QMimeData>
#include <QUrl>
#include <QPlainTextEdit>
#include <QTableWidget>
#include <QPushButton>
#include <QSettings>
#include <QSignalSpy>
#include <QSpinBox>
#include <QStandardPaths>
#include <QTabWidget>
#include <QTemporaryDir>
#include <QToolButton>
#include <QUndoStack>

#include <filesystem>
#include <fstream>

#include "clip_panel.h"
#include "explain/metrics.h"
#include "history_panel.h"
#include "image_canvas.h"
#include "job_runner.h"
#include "layer_view.h"
#include "main_window.h"
#include "model_bar.h"
#include "pipeline/captioner.h"
#include "pipeline/shap.h"
#include "pipeline/similarity.h"
#include "shap_view.h"
#include "token_bar.h"

using namespace vlm;
namespace fs = std::filesystem;

namespace {

using test::fixture;
using test::fixtureStart;
using test::showAndWaitForCaption;
using test::showAndWaitForModel;

// HUB/models--ORG--NAME/{refs/main, snapshots/REV/<files as symlinks>}, as huggingface_hub writes it.
void addToHub(const fs::path& hub, const std::string& org, const std::string& name, const fs::path& from) {
  const fs::path repo = hub / ("models--" + org + "--" + name);
  const fs::path snap = repo / "snapshots" / "0123abcd";
  fs::create_directories(snap);
  fs::create_directories(repo / "refs");
  std::ofstream(repo / "refs" / "main") << "0123abcd";
  for (const auto& e : fs::directory_iterator(from)) fs::create_symlink(fs::absolute(e.path()), snap / e.path().filename());
}

}  // namespace

class TestWindowPanels : public QObject {
  Q_OBJECT
  QTemporaryDir tmp_;

 private Q_SLOTS:
  void initTestCase() {
    QStandardPaths::setTestModeEnabled(true);
    QSettings().clear();
    QVERIFY(tmp_.isValid());
    // An empty cache unless a test fills one: the user's own cache is never read.
    qputenv("HF_HUB_CACHE", QFile::encodeName(tmp_.filePath(QStringLiteral("empty-hub"))));
  }

  // The model bar lists each cached checkpoint under the slot its config.json says it belongs
  // to (a folder that is no model is skipped); typing an entry + Enter loads it; a failing load
  // says so in its slot and leaves the loaded model in place.
  void modelBarFindsTheCache() {
    const fs::path hub = fs::path(tmp_.filePath(QStringLiteral("hub")).toStdString());
    addToHub(hub, "test", "tiny-caption", test::dataPath("blip-caption-tiny"));
    addToHub(hub, "test", "tiny-vqa", test::dataPath("blip-vqa-tiny"));
    addToHub(hub, "test", "tiny-clip", test::dataPath("clip-tiny"));
    fs::create_directories(hub / "models--test--not-a-model" / "snapshots" / "0123abcd");
    std::ofstream(hub / "models--test--not-a-model" / "refs" / "main") << "0123abcd";
    qputenv("HF_HUB_CACHE", QByteArray::fromStdString(hub.string()));
    ui::StartOptions o;
    ui::MainWindow w(o);
    w.show();
    QSignalSpy found(&w, &ui::MainWindow::modelsDiscovered);
    QVERIFY(found.wait(30000));
    qputenv("HF_HUB_CACHE", QFile::encodeName(tmp_.filePath(QStringLiteral("empty-hub"))));
    QCOMPARE(found.at(0).at(0).toInt(), 3);
    ui::ModelBar* bar = w.modelBar();
    QCOMPARE(bar->choices(ui::ModelSlot::Caption), QStringList{QStringLiteral("test/tiny-caption")});
    QCOMPARE(bar->choices(ui::ModelSlot::Vqa), QStringList{QStringLiteral("test/tiny-vqa")});
    QCOMPARE(bar->choices(ui::ModelSlot::Clip), QStringList{QStringLiteral("test/tiny-clip")});
    QCOMPARE(bar->status(ui::ModelSlot::Caption), QStringLiteral("none"));

    // Typed (real key events) into the captioning slot: the hub id resolves in that cache.
    qputenv("HF_HUB_CACHE", QByteArray::fromStdString(hub.string()));
    QComboBox* caption = bar->combo(ui::ModelSlot::Caption);
    caption->setFocus();
    caption->lineEdit()->clear();
    QSignalSpy loaded(&w, &ui::MainWindow::modelReady);
    QTest::keyClicks(caption->lineEdit(), QStringLiteral("test/tiny-caption"));
    QTest::keyClick(caption->lineEdit(), Qt::Key_Return);
    QCOMPARE(bar->status(ui::ModelSlot::Caption), QStringLiteral("loading"));
    QVERIFY(loaded.wait(60000));
    QCOMPARE(loaded.at(0).at(0).toString(), QStringLiteral("test/tiny-caption"));
    QCOMPARE(bar->status(ui::ModelSlot::Caption), QStringLiteral("loaded"));
    QCOMPARE(bar->loadedSpec(ui::ModelSlot::Caption), QStringLiteral("test/tiny-caption"));

    // A CLIP folder in the captioning slot fails there, with the reason, and the loaded
    // captioner stays (an image opened afterwards is captioned with it).
    QSignalSpy failed(&w, &ui::MainWindow::workFailed);
    w.loadModel(fixture("clip-tiny"));
    QVERIFY(failed.wait(30000));
    QCOMPARE(bar->status(ui::ModelSlot::Caption), QStringLiteral("failed"));
    QCOMPARE(bar->loadedSpec(ui::ModelSlot::Caption), QStringLiteral("test/tiny-caption"));
    QSignalSpy captioned(&w, &ui::MainWindow::captionReady);
    w.openImage(fixture("images/astronaut.png"));
    QVERIFY(captioned.wait(60000));
    QCOMPARE(captioned.at(0).at(0).toString(), QString::fromUtf8("hello consent\xcb\xa3 destroyed"));
    qputenv("HF_HUB_CACHE", QFile::encodeName(tmp_.filePath(QStringLiteral("empty-hub"))));
  }

  // Opening by drag and drop: a dropped file is opened (decoded on the worker) with its EXIF
  // orientation applied: exif_rot6.jpg is stored 90 x 60 with Orientation 6, so the canvas
  // shows it 60 x 90, and it is captioned.
  void dropAnExifImage() {
    ui::StartOptions o;
    o.modelPath = fixture("blip-caption-tiny");
    ui::MainWindow w(o);
    QVERIFY(showAndWaitForModel(w));
    QMimeData data;
    data.setUrls({QUrl::fromLocalFile(fixture("images/exif_rot6.jpg"))});
    QDragEnterEvent enter(QPoint(10, 10), Qt::CopyAction, &data, Qt::LeftButton, Qt::NoModifier);
    QApplication::sendEvent(&w, &enter);
    QVERIFY(enter.isAccepted());
    QDropEvent drop(QPointF(10, 10), Qt::CopyAction, &data, Qt::LeftButton, Qt::NoModifier);
    QSignalSpy opened(&w, &ui::MainWindow::imageOpened);
    QSignalSpy captioned(&w, &ui::MainWindow::captionReady);
    QApplication::sendEvent(&w, &drop);
    QVERIFY(opened.wait(30000));
    QCOMPARE(w.canvas()->imageSize(), QSize(60, 90));
    QVERIFY(captioned.wait(60000));
    // A file that is no image: a message, the window keeps the image it had.
    QSignalSpy failed(&w, &ui::MainWindow::workFailed);
    w.openImage(fixture("blip-caption-tiny/config.json"));
    QVERIFY(failed.wait(30000));
    QCOMPARE(w.canvas()->imageSize(), QSize(60, 90));
  }

  // With a CLIP model loaded, regenerating reports the CLIP cosine of the original caption with
  // the image before and after masking; "before" equals the CLIP API's score of that pair.
  void regenerateWithClip() {
    ui::StartOptions o = fixtureStart();
    o.clipModelPath = fixture("clip-tiny");
    ui::MainWindow w(o);
    QSignalSpy clipReady(&w, &ui::MainWindow::clipModelReady);
    QVERIFY(showAndWaitForCaption(w));
    if (!w.hasClip()) QVERIFY(clipReady.wait(60000));
    QCOMPARE(w.modelBar()->status(ui::ModelSlot::Clip), QStringLiteral("loaded"));
    w.canvas()->addMask(QRectF(0, 0, 256, 512));
    QSignalSpy regenerated(&w, &ui::MainWindow::regenerated);
    QTest::mouseClick(w.findChild<QPushButton*>(QStringLiteral("regenerate")), Qt::LeftButton);
    QVERIFY(regenerated.wait(60000));
    const RegenerateResult& r = *w.regeneration();
    QVERIFY(r.clipBefore && r.clipAfter && r.clipMaskedText);
    const auto clip = SimilarityModel::load(test::dataPath("clip-tiny").string());
    const SimilarityResult s = clip->score(test::loadFixtureImage("astronaut.png"), {r.original});
    QVERIFY2(std::abs(s.cosine[0] - *r.clipBefore) < 1e-5, qPrintable(QString::number(s.cosine[0]) + " vs " + QString::number(*r.clipBefore)));
    QVERIFY(w.regenerationText().contains(QStringLiteral("CLIP cosine")));
    QVERIFY(w.regenerationText().contains(QString::number(*r.clipBefore, 'f', 4)));
  }

  // The decoding popover: a prompt typed there (Enter applies it) and two beams give the
  // captioner's own caption with those settings; regenerating keeps the prompt.
  void decodingPopover() {
    ui::MainWindow w(fixtureStart());
    QVERIFY(showAndWaitForCaption(w));
    auto* beams = w.findChild<QSpinBox*>(QStringLiteral("beams"));
    auto* prompt = w.findChild<QLineEdit*>(QStringLiteral("prompt"));
    QVERIFY(beams && prompt);
    beams->setValue(2);
    QSignalSpy captioned(&w, &ui::MainWindow::captionReady);
    QTest::keyClicks(prompt, QStringLiteral("a picture of"));
    QTest::keyClick(prompt, Qt::Key_Return);
    QVERIFY(captioned.wait(60000));
    CaptionOptions co;
    co.numBeams = 2;
    co.prompt = "a picture of";
    const auto captioner = Captioner::load(test::dataPath("blip-caption-tiny").string());
    const std::string expected = captioner->caption(test::loadFixtureImage("astronaut.png"), co).caption;
    QCOMPARE(w.captionText().toStdString(), expected);
    QVERIFY(w.captionText().startsWith(QStringLiteral("a picture of")));
    w.canvas()->addMask(QRectF(100, 100, 200, 200));
    QSignalSpy regenerated(&w, &ui::MainWindow::regenerated);
    w.regenerate();
    QVERIFY(regenerated.wait(60000));
    QCOMPARE(w.regeneration()->original, expected);
    QVERIFY(QString::fromStdString(w.regeneration()->masked).startsWith(QStringLiteral("a picture of")));
    prompt->clear();  // the settings of this window are not saved: it is not closed by the user
  }

  // Dragging a mask's right edge widens it by the dragged distance (in image pixels); the left
  // edge stays; undo restores the rectangle, redo widens it again.
  void resizeMaskByItsEdge() {
    ui::MainWindow w(fixtureStart());
    QVERIFY(showAndWaitForCaption(w));
    ui::ImageCanvas* c = w.canvas();
    QTest::mouseClick(w.findChild<QPushButton*>(QStringLiteral("drawMasks")), Qt::LeftButton);
    QVERIFY(c->maskMode());
    const QRectF start(100, 120, 150, 100);
    const int id = c->addMask(start);
    const double zoom = c->zoom();
    const QPoint edge = c->mapFromScene(QPointF(start.right(), start.center().y()));
    QCOMPARE(c->maskEdgesAt(id, edge), 2);                           // the right edge
    QCOMPARE(c->maskEdgesAt(id, c->mapFromScene(start.center())), 0);  // the inside moves, it does not resize
    QTest::mousePress(c->viewport(), Qt::LeftButton, {}, edge);
    QTest::mouseMove(c->viewport(), edge + QPoint(40, 0));
    QTest::mouseRelease(c->viewport(), Qt::LeftButton, {}, edge + QPoint(40, 0));
    const QRectF widened = c->maskRect(id);
    QVERIFY2(std::abs(widened.width() - (start.width() + 40 / zoom)) < 2 / zoom + 1e-6,
             qPrintable(QStringLiteral("%1 vs %2").arg(widened.width()).arg(start.width() + 40 / zoom)));
    QCOMPARE(widened.left(), start.left());
    QCOMPARE(widened.top(), start.top());
    QCOMPARE(widened.height(), start.height());
    QCOMPARE(w.undoStack()->undoText(), QStringLiteral("Resize mask"));
    w.undoStack()->undo();
    QCOMPARE(c->maskRect(id), start);
    w.undoStack()->redo();
    QCOMPARE(c->maskRect(id), widened);
  }

  // Shapley results: one feature per gallery entry; the force plot's positive segments end at
  // v(none) + sum of the values = v(all) (exact Shapley is efficient) and tile the values;
  // hovering the top bar lights that feature's region on the image; the interactions estimator
  // draws the network.
  void shapleyResults() {
    ui::MainWindow w(fixtureStart());
    QVERIFY(showAndWaitForCaption(w));
    w.findChild<QComboBox*>(QStringLiteral("method"))->setCurrentIndex(5);
    w.findChild<QComboBox*>(QStringLiteral("shapFeatures"))->setCurrentText(QStringLiteral("grid:2x2"));
    w.findChild<QComboBox*>(QStringLiteral("shapEstimator"))->setCurrentText(QStringLiteral("exact"));
    QSignalSpy explained(&w, &ui::MainWindow::explanationReady);
    QTest::mouseClick(w.tokenBar()->chip(1), Qt::LeftButton);
    QVERIFY(explained.wait(60000));
    const ShapResult& r = *w.shapley();
    ui::ShapView* view = w.shapView();
    QCOMPARE(w.sideTabs()->currentWidget(), static_cast<QWidget*>(view));
    QCOMPARE(view->gallery()->count(), 4);
    QCOMPARE(w.shapleyPresentation()->regions.size(), size_t(4));
    const int out = w.shapleyPresentation()->outputAt(1);
    QVERIFY(out >= 0);
    double sum = 0, positive = 0, negative = 0, right = -1e300;
    for (int i = 0; i < r.count(); ++i) sum += r.valueOf(i, out);
    for (const auto& s : view->force()->segments()) {
      QVERIFY(s.to >= s.from);
      QCOMPARE(s.to - s.from, std::abs(r.valueOf(s.feature, out)));
      (s.positive ? positive : negative) += s.to - s.from;
      if (s.positive) right = std::max(right, s.to);
    }
    QCOMPARE(int(view->force()->segments().size()), 4);
    QVERIFY(std::abs((positive - negative) - (r.fullValue[size_t(out)] - r.emptyValue[size_t(out)])) < 1e-6);
    if (positive > 0) QVERIFY(std::abs(right - (r.emptyValue[size_t(out)] + sum)) < 1e-9);
    // Bars: largest |value| first.
    const auto shown = view->bars()->shownFeatures();
    QCOMPARE(int(shown.size()), 4);
    for (size_t i = 1; i < shown.size(); ++i) QVERIFY(std::abs(r.valueOf(shown[i - 1], out)) >= std::abs(r.valueOf(shown[i], out)));
    // Hover the top bar: its feature (a quadrant of the 512 x 512 image) is lit, the rest dimmed.
    view->setCurrentIndex(0);
    QVERIFY(QTest::qWaitForWindowExposed(&w));
    QSignalSpy hovered(view, &ui::ShapView::featureHovered);
    QTest::mouseMove(view->bars(), view->bars()->barRect(0).center().toPoint());
    QVERIFY(hovered.count() >= 1);
    const int f = hovered.last().at(0).toInt();
    QCOMPARE(f, shown[0]);
    QVERIFY(w.canvas()->hasHighlight());
    const QImage& region = w.shapleyPresentation()->regions[size_t(f)];
    const QPoint inside(f % 2 * 256 + 128, f / 2 * 256 + 128), outside((1 - f % 2) * 256 + 128, (1 - f / 2) * 256 + 128);
    QCOMPARE(qGray(region.pixel(inside)), 255);
    QCOMPARE(qGray(region.pixel(outside)), 0);
    // Pairwise interactions: the network of the token.
    QVERIFY(!view->hasNetwork());
    w.findChild<QComboBox*>(QStringLiteral("shapEstimator"))->setCurrentText(QStringLiteral("interactions"));
    QVERIFY(explained.wait(60000));
    QVERIFY(!w.shapley()->interactions.empty());
    QVERIFY(view->hasNetwork());
  }

  // The value explained: the whole caption gives one output that every chip shows (no second
  // run); its values add up to log p(caption) - v(none) and equal the core API's; the caption
  // similarity without a CLIP model is refused with a message.
  void shapleyValueChoice() {
    ui::MainWindow w(fixtureStart());
    QVERIFY(showAndWaitForCaption(w));
    w.findChild<QComboBox*>(QStringLiteral("method"))->setCurrentIndex(5);
    w.findChild<QComboBox*>(QStringLiteral("shapFeatures"))->setCurrentText(QStringLiteral("grid:2x2"));
    w.findChild<QComboBox*>(QStringLiteral("shapEstimator"))->setCurrentText(QStringLiteral("exact"));
    w.findChild<QComboBox*>(QStringLiteral("shapValue"))->setCurrentText(QStringLiteral("caption-logprob"));
    QSignalSpy explained(&w, &ui::MainWindow::explanationReady);
    QSignalSpy started(w.jobs(), &ui::JobRunner::started);
    QTest::mouseClick(w.tokenBar()->chip(1), Qt::LeftButton);
    QVERIFY(explained.wait(60000));
    const ShapResult& r = *w.shapley();
    QCOMPARE(r.outputs(), 1);
    QCOMPARE(r.value, std::string("caption-logprob"));
    const int jobs = started.count();
    QTest::mouseClick(w.tokenBar()->chip(2), Qt::LeftButton);
    QCOMPARE(explained.count(), 2);
    QCOMPARE(started.count(), jobs);
    QCOMPARE(w.shapView()->bars()->barCount(), 4);
    ShapOptions so;
    so.features = "grid:2x2";
    so.estimator = ShapEstimator::Exact;
    so.value = ShapValue::CaptionLogProb;
    so.ids = r.info.ids;
    const ShapResult core = shapCaption(*Captioner::load(test::dataPath("blip-caption-tiny").string()), test::loadFixtureImage("astronaut.png"), so);
    double sum = 0;
    for (int i = 0; i < 4; ++i) {
      QVERIFY(std::abs(core.valueOf(i, 0) - r.valueOf(i, 0)) < 1e-5);
      sum += r.valueOf(i, 0);
    }
    QVERIFY(std::abs(sum - (r.fullValue[0] - r.emptyValue[0])) < 1e-6);
    QSignalSpy failed(&w, &ui::MainWindow::workFailed);
    w.findChild<QComboBox*>(QStringLiteral("shapValue"))->setCurrentText(QStringLiteral("caption-similarity"));
    QVERIFY(failed.wait(30000));
    QVERIFY2(failed.at(0).at(0).toString().contains(QStringLiteral("load a CLIP model")), qPrintable(failed.at(0).at(0).toString()));
  }

  // The layer evolution: one frame per vision layer and post_layernorm, labelled so; Play walks
  // from the first to the deepest and stops there.
  void layerEvolutionPlays() {
    ui::MainWindow w(fixtureStart());
    QVERIFY(showAndWaitForCaption(w));
    ui::LayerView* layers = w.layerView();
    QSignalSpy ready(&w, &ui::MainWindow::layersReady);
    QTest::mouseClick(layers->computeButton(), Qt::LeftButton);  // no word selected yet: a hint, no job
    QCOMPARE(ready.count(), 0);
    QVERIFY(!w.busy());
    QSignalSpy explained(&w, &ui::MainWindow::explanationReady);
    QTest::mouseClick(w.tokenBar()->chip(2), Qt::LeftButton);
    QVERIFY(explained.wait(60000));
    QTest::mouseClick(layers->computeButton(), Qt::LeftButton);
    QVERIFY(ready.wait(60000));
    const auto captioner = Captioner::load(test::dataPath("blip-caption-tiny").string());
    const int expected = captioner->visionLayers() + 1;
    QCOMPARE(ready.at(0).at(0).toInt(), expected);
    QCOMPARE(layers->frameCount(), expected);
    QCOMPARE(layers->currentFrame(), expected - 1);  // the deepest first
    layers->setInterval(10);
    QSignalSpy shown(layers, &ui::LayerView::frameShown);
    QTest::mouseClick(layers->playButton(), Qt::LeftButton);
    QVERIFY(layers->playing());
    QTRY_VERIFY_WITH_TIMEOUT(!layers->playing(), 5000);
    QCOMPARE(shown.count(), expected);  // frames 0, 1, ..., deepest
    QCOMPARE(shown.first().at(0).toInt(), 0);
    QCOMPARE(shown.last().at(0).toInt(), expected - 1);
    QCOMPARE(layers->currentFrame(), expected - 1);
    QVERIFY(w.canvas()->hasOverlay());
  }

  // The CLIP tab: without a CLIP model, a message; with one, the caption is offered as the
  // first text, typed texts are scored exactly as the CLIP API scores them, and clicking a row
  // shows CLIP's map of that text (an explanation of the cosine, also in the history).
  void clipTab() {
    ui::StartOptions o = fixtureStart();
    ui::MainWindow w(o);
    QVERIFY(showAndWaitForCaption(w));
    ui::ClipPanel* panel = w.clipPanel();
    QCOMPARE(panel->texts(), QStringList{w.captionText()});
    QSignalSpy failed(&w, &ui::MainWindow::workFailed);
    QTest::mouseClick(panel->scoreButton(), Qt::LeftButton);
    QCOMPARE(failed.count(), 1);
    QVERIFY(failed.at(0).at(0).toString().contains(QStringLiteral("CLIP")));
    QSignalSpy clipReady(&w, &ui::MainWindow::clipModelReady);
    w.loadClipModel(fixture("clip-tiny"));
    QVERIFY(clipReady.wait(60000));
    w.sideTabs()->setCurrentWidget(panel);
    panel->editor()->clear();
    QTest::keyClicks(panel->editor(), QStringLiteral("a photo of an astronaut"));
    QTest::keyClick(panel->editor(), Qt::Key_Return);
    QTest::keyClicks(panel->editor(), QStringLiteral("a photo of a cat"));
    QSignalSpy scored(&w, &ui::MainWindow::textsScored);
    QTest::mouseClick(panel->scoreButton(), Qt::LeftButton);
    QVERIFY(scored.wait(60000));
    QCOMPARE(panel->table()->rowCount(), 2);
    const auto clip = SimilarityModel::load(test::dataPath("clip-tiny").string());
    const SimilarityResult ref = clip->score(test::loadFixtureImage("astronaut.png"), {"a photo of an astronaut", "a photo of a cat"});
    for (int i = 0; i < 2; ++i) {
      QCOMPARE(panel->table()->item(i, 0)->text().toStdString(), ref.texts[size_t(i)]);
      QCOMPARE(panel->table()->item(i, 1)->text(), QString::number(ref.cosine[size_t(i)], 'f', 4));
      QCOMPARE(panel->table()->item(i, 2)->text(), QString::number(ref.probs[size_t(i)], 'f', 3));
    }
    QSignalSpy explained(&w, &ui::MainWindow::textExplained);
    const QRect cell = panel->table()->visualItemRect(panel->table()->item(1, 0));
    QTest::mouseClick(panel->table()->viewport(), Qt::LeftButton, {}, cell.center());
    QVERIFY(explained.wait(60000));
    QCOMPARE(explained.at(0).at(0).toString(), QStringLiteral("a photo of a cat"));
    QCOMPARE(w.explanation()->family, std::string("clip"));
    QVERIFY(std::abs(w.explanation()->maps.at(0).y - ref.cosine[1]) < 1e-5);
    QVERIFY(w.canvas()->hasOverlay());
    QCOMPARE(w.history()->count(), 1);
    QVERIFY(w.history()->entry(0).title.contains(QStringLiteral("a photo of a cat")));
  }

  // The history: each explanation becomes an entry; two selected -> compared side by side;
  // activating an entry shows that explanation again.
  void historyAndCompare() {
    ui::MainWindow w(fixtureStart());
    QVERIFY(showAndWaitForCaption(w));
    QSignalSpy explained(&w, &ui::MainWindow::explanationReady);
    QTest::mouseClick(w.tokenBar()->chip(1), Qt::LeftButton);
    QVERIFY(explained.wait(60000));
    QTest::mouseClick(w.tokenBar()->chip(2), Qt::LeftButton);
    QVERIFY(explained.wait(60000));
    ui::HistoryPanel* h = w.history();
    QCOMPARE(h->count(), 2);
    QVERIFY(h->entry(0).title.startsWith(QStringLiteral("token 1 ")));
    QVERIFY(h->entry(1).title.startsWith(QStringLiteral("token 2 ")));
    w.sideTabs()->setCurrentWidget(h);
    QVERIFY(!h->compareButton()->isEnabled());
    h->list()->item(0)->setSelected(true);
    h->list()->item(1)->setSelected(true);
    QVERIFY(h->compareButton()->isEnabled());
    QSignalSpy compared(&w, &ui::MainWindow::comparisonReady);
    QTest::mouseClick(h->compareButton(), Qt::LeftButton);
    QVERIFY(h->lastComparison());
    // The agreement shown is the rank correlation of the two maps as the core computes it.
    QVERIFY(compared.wait(30000));
    const ExplainResult& e2 = *w.explanation();
    const double rho = compared.at(0).at(0).toDouble();
    QVERIFY(rho >= -1 && rho <= 1);
    QVERIFY(h->lastComparison()->agreement().contains(QString::number(rho, 'f', 3)));
    // Compared with itself a map agrees perfectly (the statistic can tell).
    const std::vector<float> self = e2.onImage(e2.maps.at(0));
    QCOMPARE(explain::spearman(std::vector<double>(self.begin(), self.end()), std::vector<double>(self.begin(), self.end())), 1.0);
    QVERIFY(rho < 0.999);
    QVERIFY(h->lastComparison()->isVisible());
    QVERIFY(h->lastComparison()->titles().contains(h->entry(0).title));
    QVERIFY(h->lastComparison()->titles().contains(h->entry(1).title));
    QCOMPARE(w.explanation()->maps.at(0).position, int64_t(2));
    const QRect first = h->list()->visualItemRect(h->list()->item(0));
    QSignalSpy activated(h, &ui::HistoryPanel::entryActivated);
    // A double click as the system delivers it: press, release, then the double-click press.
    QTest::mouseClick(h->list()->viewport(), Qt::LeftButton, {}, first.center());
    QTest::mouseDClick(h->list()->viewport(), Qt::LeftButton, {}, first.center());
    QCOMPARE(activated.count(), 1);
    QCOMPARE(activated.at(0).at(0).toInt(), 0);
    QCOMPARE(w.explanation()->maps.at(0).position, int64_t(1));
  }
};

QTEST_MAIN(TestWindowPanels)
#include "test_window_panels.moc"
