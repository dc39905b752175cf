#include "main_window.h"

#include <QAction>
#include <QApplication>
#include <QCheckBox>
#include <QComboBox>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QKeyEvent>
#include <QLabel>
#include <QLineEdit>
#include <QLoggingCategory>
#include <QMenuBar>
#include <QProgressBar>
#include <QPushButton>
#include <QSlider>
#include <QSplitter>
#include <QStatusBar>
#include <QClipboard>
#include <QCloseEvent>
#include <QDateTime>
#include <QDir>
#include <QMimeData>
#include <QSettings>
#include <QSpinBox>
#include <QTimer>
#include <QUndoStack>
#include <QTextDocument>
#include <QVBoxLayout>

#include <cmath>

#include <QPainter>
#include <QPointer>

#include <QListWidget>
#include <QMenu>
#include <QTabWidget>
#include <QToolButton>
#include <QWidgetAction>

#include "common/error.h"
#include "explain/masking.h"
#include "explain/metrics.h"
#include "clip_panel.h"
#include "history_panel.h"
#include "image_canvas.h"
#include "io/image.h"
#include "io/model_location.h"
#include "job_runner.h"
#include "layer_view.h"
#include "mask_commands.h"
#include "model_bar.h"
#include "model_manager.h"
#include "models/model_kind.h"
#include "pipeline/captioner.h"
#include "pipeline/similarity.h"
#include "pipeline/vqa.h"
#include "render/charts.h"
#include "render/colormap.h"
#include "runtime/runtime.h"
#include "shap_view.h"
#include "token_bar.h"

namespace vlm::ui {

namespace {

// Everything below runs on the worker: the core is called there and only values come back.

}  // namespace

struct ExplainView {
  ExplainResult result;
  QImage overlay;
  std::vector<QLineF> grid;  // patch borders in image coordinates
  std::vector<QRectF> top;   // the map's top 10 % patches as image rectangles (patch-grid maps)
};

namespace {

QImage toQImage(const io::ImageU8& img) {
  return QImage(img.rgb.data(), img.width, img.height, img.width * 3, QImage::Format_RGB888).copy();
}

render::Colormap colormapNamed(const std::string& name) {
  if (auto c = render::parseColormap(name)) return *c;
  throw Error(ErrorCode::InvalidArgument, "unknown colormap '" + name + "'");
}

// The map drawn over the original image with a colormap (the canvas applies the opacity).
QImage overlayOf(const ExplainResult& r, const ExplainedMap& m, const std::string& colormap) {
  const std::vector<float> onImage = r.onImage(m);
  return toQImage(render::heatmapImage(onImage.data(), r.geometry->imageWidth(), r.geometry->imageHeight(), colormapNamed(colormap)));
}

std::vector<QLineF> patchLines(const vision::InputGeometry& g) {
  std::vector<QLineF> lines;
  const double x0 = g.toImageX(0), x1 = g.toImageX(g.inputSize()), y0 = g.toImageY(0), y1 = g.toImageY(g.inputSize());
  for (int k = 0; k <= g.gridSide(); ++k) {
    const double u = k * g.patchSize();
    lines.emplace_back(g.toImageX(u), y0, g.toImageX(u), y1);
    lines.emplace_back(x0, g.toImageY(u), x1, g.toImageY(u));
  }
  return lines;
}

ExplainView viewOf(ExplainResult r, const std::string& colormap) {
  ExplainView v;
  const ExplainedMap& m = r.maps.at(0);
  v.overlay = overlayOf(r, m, colormap);
  const vision::InputGeometry& g = *r.geometry;
  v.grid = patchLines(g);
  if (m.side == g.gridSide())
    for (const auto& p : explain::patchRects(g, explain::topPercentPatches(m.normalized, 10))) v.top.emplace_back(p.x, p.y, p.width, p.height);
  v.result = std::move(r);
  return v;
}

}  // namespace

// A Shapley run for the window: per feature its label, region and thumbnail; per output
// (token) its values, overlay and interaction network.
struct ShapPack {
  ShapResult result;  // moved into the window's shapley_ when the pack arrives
  std::shared_ptr<ShapPresentation> presentation;
  std::vector<ExplainView> views;  // per output: the map over the image as a one-map explanation
};

namespace {

ShapPack packShapley(ShapResult r, const io::ImageU8& image, const std::string& colormap, const JobContext& job) {
  ShapPack pack;
  auto p = std::make_shared<ShapPresentation>();
  const int f = r.count(), k = r.outputs();
  const QImage shown = toQImage(image);
  QImage dim = shown.convertToFormat(QImage::Format_RGB32);
  {
    QPainter painter(&dim);
    painter.fillRect(dim.rect(), QColor(0, 0, 0, 170));
  }
  std::vector<std::string> names;
  for (int i = 0; i < f; ++i) {
    job.throwIfCancelled();
    names.push_back(std::to_string(i) + " " + r.featureLabels[size_t(i)]);
    p->labels.push_back(QString::fromStdString(names.back()));
    // The feature's mask over the model input, carried to the image like any map.
    ExplainedMap m;
    m.side = r.side;
    m.normalized.assign(r.featureMasks[size_t(i)].begin(), r.featureMasks[size_t(i)].end());
    const std::vector<float> onImage = r.info.onImage(m);
    QImage region(image.width, image.height, QImage::Format_Grayscale8);
    for (int y = 0; y < image.height; ++y) {
      uchar* line = region.scanLine(y);
      for (int x = 0; x < image.width; ++x) line[x] = onImage[size_t(y) * image.width + x] >= 0.5f ? 255 : 0;
    }
    QImage thumb = dim;
    {
      QPainter painter(&thumb);
      QImage lit = shown.convertToFormat(QImage::Format_ARGB32);
      lit.setAlphaChannel(region);
      painter.drawImage(0, 0, lit);
    }
    p->thumbnails.push_back(thumb.scaled(88, 88, Qt::KeepAspectRatio, Qt::SmoothTransformation));
    p->regions.push_back(std::move(region));
  }
  for (int o = 0; o < k; ++o) {
    job.throwIfCancelled();
    const ExplainedMap& map = r.info.maps[size_t(o)];
    ShapOutputView out;
    out.position = int(map.position);
    out.title = map.token.empty() ? QString::fromStdString(map.label)
                                  : QStringLiteral("token %1 '%2'").arg(map.position).arg(QString::fromStdString(map.token));
    out.base = r.emptyValue[size_t(o)];
    out.full = r.fullValue[size_t(o)];
    for (int i = 0; i < f; ++i) {
      out.values.push_back(r.valueOf(i, o));
      out.errors.push_back(r.stderrs[size_t(i) * k + o]);
    }
    if (!r.interactions.empty()) {
      std::vector<double> m(size_t(f) * f);
      for (size_t a = 0; a < m.size(); ++a) m[a] = r.interactions[a * k + o];
      render::NetworkOptions no;
      no.title = "pairwise Shapley interactions, " + out.title.toStdString();
      no.size = 520;
      out.network = toQImage(render::networkPlot(names, out.values, m, no));
    }
    ExplainResult one = r.info;
    one.maps = {map};
    ExplainView v = viewOf(std::move(one), colormap);
    out.overlay = v.overlay;
    pack.views.push_back(std::move(v));
    p->outputs.push_back(std::move(out));
  }
  pack.presentation = std::move(p);
  pack.result = std::move(r);
  return pack;
}

// A loaded BLIP model with its layer counts (read on the worker).
template <class Model>
struct Loaded {
  std::shared_ptr<Model> model;
  LayerCounts layers;
};
template <class Model>
Loaded<Model> loaded(std::shared_ptr<Model> m) {
  const LayerCounts layers{m->visionLayers(), m->textLayers()};
  return {std::move(m), layers};
}

struct DiscoveryResult {
  std::vector<DiscoveredModel> models;
  QString cache;
  int skipped = 0;  // snapshots that are not BLIP / CLIP (or unreadable)
};

DiscoveryResult discover() {
  DiscoveryResult d;
  d.cache = QString::fromStdString(io::huggingFaceHubCache().string());
  for (const io::ModelLocation& m : io::listCachedModels()) {
    try {
      const models::ModelKind kind = models::detectModelKind(m.dir);
      DiscoveredModel dm;
      dm.slot = kind.family == models::ModelFamily::BlipCaption ? ModelSlot::Caption
                : kind.family == models::ModelFamily::BlipVqa   ? ModelSlot::Vqa
                                                                : ModelSlot::Clip;
      dm.hubId = QString::fromStdString(m.hubId);
      dm.dir = QString::fromStdString(m.dir.string());
      dm.family = QString::fromStdString(models::describeFamily(kind.family));
      d.models.push_back(std::move(dm));
    } catch (const Error&) {
      ++d.skipped;  // another kind of model, or an incomplete download
    }
  }
  return d;
}

const ExplainMethod kMethods[] = {ExplainMethod::GradCam, ExplainMethod::HiResCam, ExplainMethod::GradTimesActivation,
                                  ExplainMethod::CrossAttention, ExplainMethod::IntegratedGradients};
constexpr int kShapleyIndex = 5;  // the method combo's entry after the gradient methods

}  // namespace

MainWindow::MainWindow(const StartOptions& options, QWidget* parent) : QMainWindow(parent), options_(options) {
  setWindowTitle(QStringLiteral("VLMScope"));
  jobs_ = new JobRunner(this);
  undo_ = new QUndoStack(this);
  auto* central = new QWidget(this);
  auto* layout = new QVBoxLayout(central);
  modelBar_ = new ModelBar(central);
  modelLabel_ = new QLabel(central);
  modelLabel_->setWordWrap(true);
  modelLabel_->setVisible(false);
  auto* splitter = new QSplitter(Qt::Horizontal, central);
  canvas_ = new ImageCanvas(splitter);
  canvas_->setUndoStack(undo_);
  side_ = new QTabWidget(splitter);
  auto* panel = new QWidget(side_);
  buildMethodPanel(panel);
  shapView_ = new ShapView(side_);
  layerView_ = new LayerView(side_);
  history_ = new HistoryPanel(side_);
  clipPanel_ = new ClipPanel(side_);
  side_->addTab(panel, tr("Explain"));
  side_->addTab(shapView_, tr("Shapley"));
  side_->addTab(layerView_, tr("Layers"));
  side_->addTab(history_, tr("History"));
  side_->addTab(clipPanel_, tr("CLIP"));
  splitter->addWidget(canvas_);
  splitter->addWidget(side_);
  splitter->setStretchFactor(0, 1);
  captionLabel_ = new QLabel(central);
  captionLabel_->setWordWrap(true);
  captionLabel_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  question_ = new QLineEdit(central);
  question_->setPlaceholderText(tr("Ask a question about the image (needs a BLIP VQA model in the model bar); empty + Enter: the caption"));
  question_->setClearButtonEnabled(true);
  decodingButton_ = new QToolButton(central);
  decodingButton_->setText(tr("Decoding"));
  decodingButton_->setPopupMode(QToolButton::InstantPopup);
  decodingButton_->setObjectName(QStringLiteral("decoding"));
  buildDecodingPopover();
  auto* questionRow = new QHBoxLayout();
  questionRow->addWidget(question_, 1);
  questionRow->addWidget(decodingButton_);
  tokens_ = new TokenBar(central);
  QFont f = tokens_->font();
  f.setPointSizeF(f.pointSizeF() * 1.3);
  tokens_->setFont(f);
  explainLabel_ = new QLabel(central);
  explainLabel_->setWordWrap(true);
  regenerationLabel_ = new QLabel(central);
  regenerationLabel_->setWordWrap(true);
  regenerationLabel_->setTextFormat(Qt::RichText);
  auto* row = new QHBoxLayout();
  captionButton_ = new QPushButton(tr("Caption"), central);
  cancelButton_ = new QPushButton(tr("Cancel"), central);
  cancelButton_->setObjectName(QStringLiteral("cancel"));
  progress_ = new QProgressBar(central);
  progress_->setRange(0, 100);
  row->addWidget(captionButton_);
  row->addWidget(cancelButton_);
  row->addWidget(progress_, 1);
  layout->addWidget(modelBar_);
  layout->addWidget(modelLabel_);
  layout->addWidget(splitter, 1);
  layout->addLayout(questionRow);
  layout->addWidget(captionLabel_);
  layout->addWidget(tokens_);
  layout->addWidget(explainLabel_);
  layout->addWidget(regenerationLabel_);
  layout->addLayout(row);
  setCentralWidget(central);

  auto* file = menuBar()->addMenu(tr("&File"));
  file->addAction(tr("&Open image..."), QKeySequence::Open, this, &MainWindow::openImageDialog);
  recentMenu_ = file->addMenu(tr("Open &recent"));
  file->addAction(tr("Load &captioning model..."), this, [this] {
    const QString dir = QFileDialog::getExistingDirectory(this, tr("BLIP captioning checkpoint (save_pretrained folder)"));
    if (!dir.isEmpty()) loadModel(dir);
  });
  file->addAction(tr("Load &VQA model..."), this, [this] {
    const QString dir = QFileDialog::getExistingDirectory(this, tr("BLIP VQA checkpoint (save_pretrained folder)"));
    if (!dir.isEmpty()) loadVqaModel(dir);
  });
  file->addAction(tr("Load C&LIP model..."), this, [this] {
    const QString dir = QFileDialog::getExistingDirectory(this, tr("CLIP checkpoint (save_pretrained folder)"));
    if (!dir.isEmpty()) loadClipModel(dir);
  });
  file->addAction(tr("&Models (download, verify)..."), this, &MainWindow::openModelManager);
  file->addAction(tr("&Export report..."), this, &MainWindow::exportReportDialog);
  file->addAction(tr("&Paste image"), QKeySequence::Paste, this, &MainWindow::pasteImage);
  file->addAction(tr("&Quit"), QKeySequence::Quit, this, &QWidget::close);
  auto* edit = menuBar()->addMenu(tr("&Edit"));
  QAction* undoAction = undo_->createUndoAction(this, tr("&Undo"));
  undoAction->setShortcut(QKeySequence::Undo);
  QAction* redoAction = undo_->createRedoAction(this, tr("&Redo"));
  redoAction->setShortcut(QKeySequence::Redo);
  edit->addAction(undoAction);
  edit->addAction(redoAction);
  edit->addAction(tr("Delete selected masks"), QKeySequence::Delete, canvas_, &ImageCanvas::deleteSelectedMasks);
  edit->addAction(tr("Clear masks"), this, &MainWindow::clearMasks);
  auto* view = menuBar()->addMenu(tr("&View"));
  view->addAction(tr("&Fit to window"), QKeySequence(Qt::CTRL | Qt::Key_0), canvas_, &ImageCanvas::fitToWindow);
  view->addAction(tr("&Actual size (100 %)"), QKeySequence(Qt::CTRL | Qt::Key_1), canvas_, &ImageCanvas::actualSize);
  view->addAction(tr("Zoom &in"), QKeySequence::ZoomIn, canvas_, [this] { canvas_->zoomBy(1.25); });
  view->addAction(tr("Zoom &out"), QKeySequence::ZoomOut, canvas_, [this] { canvas_->zoomBy(0.8); });

  connect(captionButton_, &QPushButton::clicked, this, &MainWindow::captionCurrentImage);
  connect(cancelButton_, &QPushButton::clicked, this, &MainWindow::cancelWork);
  connect(tokens_, &TokenBar::tokenSelected, this, &MainWindow::explainToken);
  connect(question_, &QLineEdit::returnPressed, this, &MainWindow::askQuestion);
  connect(canvas_, &ImageCanvas::hoveredPixel, this, &MainWindow::showHovered);
  connect(modelBar_, &ModelBar::loadRequested, this, [this](ModelSlot slot, const QString& spec) {
    if (slot == ModelSlot::Caption) loadModel(spec);
    else if (slot == ModelSlot::Vqa) loadVqaModel(spec);
    else loadClipModel(spec);
  });
  connect(modelBar_, &ModelBar::rescanRequested, this, &MainWindow::discoverModels);
  connect(shapView_, &ShapView::featureHovered, this, &MainWindow::highlightFeature);
  connect(layerView_, &LayerView::computeRequested, this, &MainWindow::computeLayerEvolution);
  connect(clipPanel_, &ClipPanel::scoreRequested, this, &MainWindow::scoreTexts);
  connect(clipPanel_, &ClipPanel::explainRequested, this, &MainWindow::explainText);
  connect(layerView_, &LayerView::frameShown, this, [this](int index, const QImage& overlay) {
    canvas_->setOverlay(overlay);
    explainLabel_->setText(tr("Layer evolution: %1").arg(layerView_->frameLabel(index)));
  });
  connect(history_, &HistoryPanel::entryActivated, this, [this](int index) {
    if (index < 0 || index >= int(historyResults_.size())) return;
    const HistoryEntry& e = history_->entry(index);
    if (e.image.size() != shownImage_.size()) {
      statusBar()->showMessage(tr("That run explains another image; select it with another to compare."), 5000);
      return;
    }
    explanation_ = historyResults_[size_t(index)];
    canvas_->setOverlay(e.overlay);
    explainLabel_->setText(tr("History: %1").arg(e.title));
  });
  // Comparing two runs: the Spearman rank correlation of their maps over the image's pixels.
  connect(history_, &HistoryPanel::compared, this, [this](int a, int b) {
    if (a >= int(historyResults_.size()) || b >= int(historyResults_.size())) return;
    const ExplainResult ra = historyResults_[size_t(a)], rb = historyResults_[size_t(b)];
    if (ra.geometry->imageWidth() != rb.geometry->imageWidth() || ra.geometry->imageHeight() != rb.geometry->imageHeight()) {
      history_->lastComparison()->setAgreement(tr("The two maps explain images of different sizes: no pixel-wise agreement."));
      return;
    }
    QPointer<CompareDialog> dialog = history_->lastComparison();
    jobs_->run<double>(
        tr("Comparing two maps"),
        [ra, rb](const JobContext&) {
          const std::vector<float> fa = ra.onImage(ra.maps.at(0)), fb = rb.onImage(rb.maps.at(0));
          return explain::spearman(std::vector<double>(fa.begin(), fa.end()), std::vector<double>(fb.begin(), fb.end()));
        },
        [this, dialog](double rho) {
          if (dialog) dialog->setAgreement(tr("Spearman rank correlation of the two maps over the image's pixels: %1").arg(rho, 0, 'f', 3));
          Q_EMIT comparisonReady(rho);
        },
        [dialog](const QString& error) {
          if (dialog) dialog->setAgreement(error);
        });
  });
  connect(history_, &HistoryPanel::entryDropped, this, [this] {
    if (!historyResults_.empty()) historyResults_.erase(historyResults_.begin());
  });
  connect(jobs_, &JobRunner::started, this, [this](const QString& what) {
    progress_->setValue(0);
    progress_->setVisible(true);
    cancelButton_->setVisible(true);
    statusBar()->showMessage(what);
  });
  connect(jobs_, &JobRunner::progressed, this, [this](double fraction, const QString& stage) {
    progress_->setValue(int(fraction * 100));
    progress_->setFormat(stage + QStringLiteral(" %p%"));
  });
  connect(jobs_, &JobRunner::cancelled, this, [this](const QString& what) { statusBar()->showMessage(tr("Cancelled: %1").arg(what), 4000); });
  connect(jobs_, &JobRunner::failed, this, [this](const QString&, const QString& message) { Q_EMIT workFailed(message); });
  connect(jobs_, &JobRunner::idle, this, [this] {
    statusBar()->showMessage(tr("Ready"), 3000);
    progress_->setVisible(false);
    cancelButton_->setVisible(false);
    captionButton_->setEnabled(captioner_ && image_);
  });
  progress_->setVisible(false);
  cancelButton_->setVisible(false);
  captionButton_->setEnabled(false);
  setAcceptDrops(true);
  resize(1280, 860);
  restoreSettings();
  rebuildRecentMenu();
  if (!options.method.isEmpty()) {
    const QStringList names{QStringLiteral("gradcam"), QStringLiteral("hirescam"), QStringLiteral("gradxact"), QStringLiteral("xattn"),
                            QStringLiteral("ig"), QStringLiteral("shap")};
    if (names.contains(options.method)) method_->setCurrentIndex(int(names.indexOf(options.method)));
    else statusBar()->showMessage(tr("Unknown method '%1' (%2)").arg(options.method, names.join(QStringLiteral(", "))));
  }
  if (!options.tab.isEmpty()) {
    // explain | shapley | layers | history, or a Shapley view: bars | force | features | interactions
    const QStringList tabs{QStringLiteral("explain"), QStringLiteral("shapley"), QStringLiteral("layers"), QStringLiteral("history"),
                           QStringLiteral("clip")};
    const QStringList views{QStringLiteral("bars"), QStringLiteral("force"), QStringLiteral("features"), QStringLiteral("interactions")};
    if (tabs.contains(options.tab)) side_->setCurrentIndex(int(tabs.indexOf(options.tab)));
    else if (views.contains(options.tab)) {
      side_->setCurrentWidget(shapView_);
      shapView_->setCurrentIndex(int(views.indexOf(options.tab)));
    } else {
      statusBar()->showMessage(tr("Unknown tab '%1' (%2)").arg(options.tab, (tabs + views).join(QStringLiteral(", "))));
    }
  }

  discoverModels();
  if (!options.imagePath.isEmpty()) openImage(options.imagePath);
  if (!options.modelPath.isEmpty()) loadModel(options.modelPath);
  if (!options.clipModelPath.isEmpty()) loadClipModel(options.clipModelPath);
  if (!options.vqaModelPath.isEmpty()) {
    if (!options.question.isEmpty()) {
      question_->setText(options.question);
      // Ask once both the caption and the VQA model are there (whichever comes last).
      auto ask = [this] {
        if (vqa_ && !ids_.empty() && activeQuestion_.isEmpty() && !options_.question.isEmpty()) {
          options_.question.clear();
          askQuestion();
        }
      };
      connect(this, &MainWindow::captionReady, this, ask);
      connect(this, &MainWindow::vqaModelReady, this, ask);
    }
    loadVqaModel(options.vqaModelPath);
  }
  // Scripted start (screenshots): explain a token, then draw masks and regenerate (or show the
  // layer evolution).
  auto drawAndRegenerate = [this] {
    for (const QRectF& r : options_.masks) undo_->push(new AddMaskCommand(canvas_, r));
    regenerate();
  };
  if (options.explainToken > 0) {
    connect(this, &MainWindow::captionReady, this, [this] { tokens_->select(options_.explainToken); });
    if (!options.masks.empty()) connect(this, &MainWindow::explanationReady, this, drawAndRegenerate, Qt::SingleShotConnection);
    else if (options.layers) connect(this, &MainWindow::explanationReady, this, &MainWindow::computeLayerEvolution, Qt::SingleShotConnection);
  } else if (!options.masks.empty()) {
    connect(this, &MainWindow::captionReady, this, drawAndRegenerate, Qt::SingleShotConnection);
  }
  if (!options.screenshotPath.isEmpty()) {
    auto shoot = [this] {
      QTimer::singleShot(200, this, [this] {
        grab().save(options_.screenshotPath);
        QApplication::quit();
      });
    };
    if (!options.masks.empty()) connect(this, &MainWindow::regenerated, this, shoot);
    else if (options.layers) connect(this, &MainWindow::layersReady, this, [this, shoot] {
      layerView_->setFrame(layerView_->frameCount() / 2);  // a middle layer: the slider and the play button in use
      shoot();
    });
    else if (options.explainToken > 0) connect(this, &MainWindow::explanationReady, this, shoot);
    else if (!options.question.isEmpty() && !options.vqaModelPath.isEmpty()) connect(this, &MainWindow::answerReady, this, shoot);
    else connect(this, &MainWindow::captionReady, this, shoot);
    connect(this, &MainWindow::workFailed, this, shoot);
    // Without an image there is no caption to wait for: the window is ready once the model is.
    connect(this, &MainWindow::modelReady, this, [this, shoot] {
      if (!image_ && options_.imagePath.isEmpty()) shoot();
    });
  }
}

MainWindow::~MainWindow() = default;  // the job runner (a child) cancels and waits

void MainWindow::buildDecodingPopover() {
  auto* menu = new QMenu(decodingButton_);
  auto* box = new QWidget(menu);
  auto* form = new QFormLayout(box);
  beams_ = new QSpinBox(box);
  beams_->setRange(1, 10);
  beams_->setObjectName(QStringLiteral("beams"));
  beams_->setToolTip(tr("1: greedy decoding; more: beam search"));
  maxLength_ = new QSpinBox(box);
  maxLength_->setRange(2, 128);
  maxLength_->setValue(DecodingOptions{}.maxLength);
  maxLength_->setObjectName(QStringLiteral("maxLength"));
  maxLength_->setToolTip(tr("transformers' max_length: [DEC] and the prompt count"));
  prompt_ = new QLineEdit(box);
  prompt_->setObjectName(QStringLiteral("prompt"));
  prompt_->setPlaceholderText(tr("e.g. a picture of"));
  prompt_->setToolTip(tr("Conditional captioning: the caption continues this text (captioning only)"));
  auto* apply = new QPushButton(tr("Apply and caption again"), box);
  apply->setObjectName(QStringLiteral("applyDecoding"));
  form->addRow(tr("Beams"), beams_);
  form->addRow(tr("Max length"), maxLength_);
  form->addRow(tr("Prompt"), prompt_);
  form->addRow(apply);
  auto* action = new QWidgetAction(menu);
  action->setDefaultWidget(box);
  menu->addAction(action);
  decodingButton_->setMenu(menu);
  auto applyNow = [this, menu] {
    menu->close();
    if (activeQuestion_.isEmpty()) captionCurrentImage();
    else askQuestion();
  };
  connect(apply, &QPushButton::clicked, this, applyNow);
  connect(prompt_, &QLineEdit::returnPressed, this, applyNow);
}

CaptionOptions MainWindow::decoding() const {
  CaptionOptions o;
  o.numBeams = beams_->value();
  o.maxLength = maxLength_->value();
  o.prompt = prompt_->text().toStdString();
  return o;
}

void MainWindow::discoverModels() {
  jobs_->runQueued<DiscoveryResult>(
      tr("Looking for models in the Hugging Face cache"), [](const JobContext&) { return discover(); },
      [this](DiscoveryResult d) {
        modelBar_->setDiscovered(d.models);
        statusBar()->showMessage(tr("%n model(s) found in %1", nullptr, int(d.models.size())).arg(d.cache), 4000);
        Q_EMIT modelsDiscovered(int(d.models.size()));
      },
      [this](const QString& error) { statusBar()->showMessage(tr("Could not read the Hugging Face cache: %1").arg(error), 6000); });
}

void MainWindow::openModelManager() {
  if (!modelManager_) {
    modelManager_ = new ModelManagerDialog(this);
    connect(modelManager_, &ModelManagerDialog::useModel, this, [this](const QString& path, models::ModelFamily family) {
      if (family == models::ModelFamily::BlipVqa) loadVqaModel(path);
      else if (family == models::ModelFamily::Clip) loadClipModel(path);
      else loadModel(path);
    });
    // A model downloaded there shows up in the model bar too.
    connect(modelManager_, &ModelManagerDialog::jobFinished, this, &MainWindow::discoverModels);
  } else {
    modelManager_->refresh();
  }
  modelManager_->show();
  modelManager_->raise();
  modelManager_->activateWindow();
}

void MainWindow::buildMethodPanel(QWidget* panel) {
  auto* form = new QFormLayout(panel);
  method_ = new QComboBox(panel);
  method_->addItems({tr("Grad-CAM"), tr("HiResCAM"), tr("Grad x Activation"), tr("Cross-attention Grad-CAM"), tr("Integrated gradients"),
                     tr("Shapley values")});
  method_->setObjectName(QStringLiteral("method"));
  layer_ = new QSlider(Qt::Horizontal, panel);
  layer_->setObjectName(QStringLiteral("layer"));
  layerLabel_ = new QLabel(panel);
  colormap_ = new QComboBox(panel);
  colormap_->addItems({QStringLiteral("viridis"), QStringLiteral("inferno"), QStringLiteral("jet"), QStringLiteral("gray")});
  opacity_ = new QSlider(Qt::Horizontal, panel);
  opacity_->setRange(0, 100);
  opacity_->setValue(50);
  overlayOn_ = new QCheckBox(tr("Show overlay"), panel);
  overlayOn_->setChecked(true);
  gridOn_ = new QCheckBox(tr("Patch grid"), panel);
  form->addRow(tr("Method"), method_);
  form->addRow(tr("Layer (shallow -> deep)"), layer_);
  form->addRow(QString(), layerLabel_);
  form->addRow(tr("Colormap"), colormap_);
  form->addRow(tr("Opacity"), opacity_);
  form->addRow(overlayOn_);
  form->addRow(gridOn_);
  // Shapley: features, estimator, budget; one run explains every token of the caption.
  shapFeatures_ = new QComboBox(panel);
  shapFeatures_->addItems({QStringLiteral("grid:4x4"), QStringLiteral("grid:2x2"), QStringLiteral("grid:8x8"), QStringLiteral("slic:30"),
                           QStringLiteral("dff:post_layernorm:6"), QStringLiteral("partition")});
  shapFeatures_->setEditable(true);
  shapFeatures_->setObjectName(QStringLiteral("shapFeatures"));
  shapEstimator_ = new QComboBox(panel);
  shapEstimator_->setObjectName(QStringLiteral("shapEstimator"));
  shapEstimator_->addItems({QStringLiteral("kernel"), QStringLiteral("permutation"), QStringLiteral("exact"), QStringLiteral("owen"),
                            QStringLiteral("interactions")});
  shapEstimator_->setToolTip(tr("interactions: pairwise Shapley interactions (network plot) besides the values"));
  shapValue_ = new QComboBox(panel);
  shapValue_->setObjectName(QStringLiteral("shapValue"));
  shapValue_->addItems({QStringLiteral("token-logprob"), QStringLiteral("token-logodds"), QStringLiteral("caption-logprob"),
                        QStringLiteral("caption-similarity")});
  shapValue_->setToolTip(tr("token-logprob / token-logodds: every token of the text, one run; caption-logprob: the whole caption (or "
                            "answer); caption-similarity: CLIP text similarity of the caption regenerated from the masked image "
                            "with the original (needs a CLIP model; captions only)"));
  shapBudget_ = new QSpinBox(panel);
  shapBudget_->setRange(8, 100000);
  shapBudget_->setValue(200);
  shapBudget_->setSuffix(tr(" evaluations"));
  form->addRow(tr("Shapley features"), shapFeatures_);
  form->addRow(tr("Value"), shapValue_);
  form->addRow(tr("Estimator"), shapEstimator_);
  form->addRow(tr("Budget"), shapBudget_);
  connect(shapFeatures_, &QComboBox::currentTextChanged, this, [this] { reexplain(); });
  connect(shapEstimator_, &QComboBox::currentIndexChanged, this, [this] { reexplain(); });
  connect(shapValue_, &QComboBox::currentIndexChanged, this, [this] { reexplain(); });
  connect(shapBudget_, &QSpinBox::editingFinished, this, [this] { reexplain(); });
  // Masks: draw rectangles, choose how they are hidden, regenerate.
  auto* drawMasks = new QPushButton(tr("Draw masks"), panel);
  drawMasks->setCheckable(true);
  drawMasks->setObjectName(QStringLiteral("drawMasks"));
  drawMasks->setToolTip(tr("Drag (or click two corners) to draw; drag a mask to move it, its edges or corners to resize it; Delete removes"));
  masker_ = new QComboBox(panel);
  masker_->setObjectName(QStringLiteral("masker"));
  masker_->addItems({QStringLiteral("constant"), QStringLiteral("blur"), QStringLiteral("telea"), QStringLiteral("ns"), QStringLiteral("patch")});
  masker_->setToolTip(tr("constant: the normalisation mean colour; blur; telea / ns: OpenCV inpainting; patch: drop the patches from the ViT"));
  auto* regenerateButton = new QPushButton(tr("Regenerate"), panel);
  regenerateButton->setObjectName(QStringLiteral("regenerate"));
  auto* topButton = new QPushButton(tr("Mask top region"), panel);
  topButton->setObjectName(QStringLiteral("maskTop"));
  form->addRow(drawMasks);
  form->addRow(tr("Masker"), masker_);
  form->addRow(topButton);
  form->addRow(regenerateButton);
  connect(drawMasks, &QPushButton::toggled, canvas_, &ImageCanvas::setMaskMode);
  connect(regenerateButton, &QPushButton::clicked, this, &MainWindow::regenerate);
  connect(topButton, &QPushButton::clicked, this, &MainWindow::maskTopRegion);
  panel->setMinimumWidth(300);
  connect(method_, &QComboBox::currentIndexChanged, this, [this] {
    updateLayerSlider();
    reexplain();
  });
  connect(layer_, &QSlider::valueChanged, this, [this] {
    updateLayerSlider();
    reexplain();
  });
  connect(colormap_, &QComboBox::currentIndexChanged, this, &MainWindow::recolor);
  connect(opacity_, &QSlider::valueChanged, this, [this](int v) {
    canvas_->setOverlayOpacity(v / 100.0);
    history_->setOpacity(v / 100.0);
  });
  connect(overlayOn_, &QCheckBox::toggled, this, [this](bool on) { canvas_->setOverlayVisible(on); });
  connect(gridOn_, &QCheckBox::toggled, this, [this](bool on) { canvas_->setGridVisible(on); });
  updateLayerSlider();
}

// The layer slider follows the method: vision layers 0..L-1 and post_layernorm (L) for the
// Grad-CAM family, text layers for cross-attention, none for integrated gradients.
void MainWindow::updateLayerSlider() {
  const bool shap = shapleySelected();
  shapFeatures_->setEnabled(shap);
  shapValue_->setEnabled(shap);
  shapEstimator_->setEnabled(shap);
  shapBudget_->setEnabled(shap);
  if (shap) {
    layer_->setEnabled(false);
    layerLabel_->setText(tr("image regions"));
    return;
  }
  const ExplainMethod m = kMethods[method_->currentIndex()];
  const LayerCounts& p = activeLayers();
  const int vision = p.vision, text = p.text;
  const QSignalBlocker block(layer_);
  if (m == ExplainMethod::IntegratedGradients) {
    layer_->setEnabled(false);
    layerLabel_->setText(tr("pixels"));
    return;
  }
  layer_->setEnabled(true);
  const int top = m == ExplainMethod::CrossAttention ? text - 1 : vision;
  if (layer_->maximum() != top) {
    layer_->setRange(0, top);
    layer_->setValue(top);
  }
  if (m == ExplainMethod::CrossAttention) layerLabel_->setText(tr("text layer %1 of 0..%2").arg(layer_->value()).arg(top));
  else if (layer_->value() == vision) layerLabel_->setText(tr("post_layernorm (after layer %1)").arg(vision - 1));
  else layerLabel_->setText(tr("vision layer %1 of 0..%2").arg(layer_->value()).arg(vision - 1));
}

ExplainOptions MainWindow::currentOptions(int position) const {
  ExplainOptions o;
  o.method = kMethods[method_->currentIndex()];
  o.scope = TokenScope::One;
  o.token = position;
  o.ids = ids_;
  if (o.method == ExplainMethod::CrossAttention) o.layer = layer_->value();
  else if (o.method != ExplainMethod::IntegratedGradients) {
    if (layer_->value() == activeLayers().vision) o.postLayernorm = true;
    else o.layer = layer_->value();
  }
  return o;
}

QString MainWindow::captionText() const { return captionLabel_->text(); }
bool MainWindow::busy() const { return jobs_->busy(); }

void MainWindow::openImageDialog() {
  const QString path = QFileDialog::getOpenFileName(this, tr("Open image"), QString(),
                                                    tr("Images (*.png *.jpg *.jpeg *.bmp *.webp *.tif *.tiff);;All files (*)"));
  if (!path.isEmpty()) openImage(path);
}

void MainWindow::openImage(const QString& path) {
  // Decoded once on the worker, as the model reads it (EXIF orientation applied): the canvas
  // shows these pixels and every job uses them.
  const std::string file = path.toStdString();
  jobs_->runQueuedReplacing<std::shared_ptr<const io::ImageU8>>(
      tr("Opening %1").arg(QFileInfo(path).fileName()),
      [file](const JobContext&) { return std::make_shared<const io::ImageU8>(io::loadImage(file)); },
      [this, path](std::shared_ptr<const io::ImageU8> decoded) {
        shownImage_ = toQImage(*decoded);
        imagePath_ = path;
        image_ = std::move(decoded);
        shapley_.reset();
        presentation_.reset();
        shapPack_.reset();
        shapView_->setPresentation(nullptr);
        layerView_->clear();
        rememberRecent(QFileInfo(path).absoluteFilePath());
        canvas_->setImage(shownImage_);
        captionLabel_->clear();
        tokens_->clear();
        explanation_.reset();
        topRects_.clear();
        regeneration_.reset();
        explainLabel_->clear();
        regenerationLabel_->clear();
        ids_.clear();
        statusBar()->showMessage(tr("%1 (%2 x %3)").arg(path).arg(shownImage_.width()).arg(shownImage_.height()));
        setWindowTitle(tr("VLMScope - %1").arg(QFileInfo(path).fileName()));
        Q_EMIT imageOpened(path);
        captionCurrentImage();
      },
      [this, path](const QString& error) {
        const QString message = tr("Cannot open %1: %2").arg(path, error);
        statusBar()->showMessage(message);
      });
}

// A model is replaced only once the new one has loaded: a failed load leaves the old one working.
void MainWindow::loadModel(const QString& spec) {
  modelBar_->setLoading(ModelSlot::Caption, spec);
  const std::string s = spec.toStdString();
  jobs_->runQueued<Loaded<Captioner>>(
      tr("Loading model %1").arg(spec), [s](const JobContext& job) { return loaded(std::shared_ptr<Captioner>(Captioner::load(s, {}, job))); },
      [this, spec](Loaded<Captioner> c) {
        captioner_ = std::move(c.model);
        captionLayers_ = c.layers;
        captionSpec_ = spec;
        tokens_->clear();
        explanation_.reset();
        modelBar_->setLoaded(ModelSlot::Caption, spec);
        updateModelSummary();
        updateLayerSlider();
        Q_EMIT modelReady(spec);
        captionCurrentImage();
      },
      [this, spec](const QString& error) {
        modelBar_->setFailed(ModelSlot::Caption, spec, error);
        modelLabel_->setText(tr("Could not load the model: %1").arg(error));
        modelLabel_->setVisible(true);
      });
}

void MainWindow::loadVqaModel(const QString& spec) {
  modelBar_->setLoading(ModelSlot::Vqa, spec);
  const std::string s = spec.toStdString();
  jobs_->runQueued<Loaded<QuestionAnswerer>>(
      tr("Loading VQA model %1").arg(spec),
      [s](const JobContext& job) { return loaded(std::shared_ptr<QuestionAnswerer>(QuestionAnswerer::load(s, {}, job))); },
      [this, spec](Loaded<QuestionAnswerer> v) {
        vqa_ = std::move(v.model);
        vqaLayers_ = v.layers;
        vqaSpec_ = spec;
        modelBar_->setLoaded(ModelSlot::Vqa, spec);
        question_->setEnabled(true);
        updateModelSummary();
        Q_EMIT vqaModelReady(spec);
      },
      [this, spec](const QString& error) {
        modelBar_->setFailed(ModelSlot::Vqa, spec, error);
        statusBar()->showMessage(tr("Could not load the VQA model: %1").arg(error));
      });
}

void MainWindow::loadClipModel(const QString& spec) {
  modelBar_->setLoading(ModelSlot::Clip, spec);
  const std::string s = spec.toStdString();
  jobs_->runQueued<std::shared_ptr<SimilarityModel>>(
      tr("Loading CLIP model %1").arg(spec), [s](const JobContext& job) { return std::shared_ptr<SimilarityModel>(SimilarityModel::load(s, {}, job)); },
      [this, spec](std::shared_ptr<SimilarityModel> c) {
        clip_ = std::move(c);
        clipSpec_ = spec;
        modelBar_->setLoaded(ModelSlot::Clip, spec);
        updateModelSummary();
        Q_EMIT clipModelReady(spec);
      },
      [this, spec](const QString& error) {
        modelBar_->setFailed(ModelSlot::Clip, spec, error);
        statusBar()->showMessage(tr("Could not load the CLIP model: %1").arg(error));
      });
}

// The line under the model bar: only what needs saying (which loaded models are the bundled
// demo ones, and where the real ones come from).
void MainWindow::updateModelSummary() {
  QStringList demos, real;
  if (options_.demoModel && !captionSpec_.isEmpty() && captionSpec_ == options_.modelPath) {
    demos << tr("captioner");
    real << QStringLiteral("Salesforce/blip-image-captioning-base");
  }
  if (options_.demoVqaModel && !vqaSpec_.isEmpty() && vqaSpec_ == options_.vqaModelPath) {
    demos << tr("VQA");
    real << QStringLiteral("Salesforce/blip-vqa-base");
  }
  if (options_.demoClipModel && !clipSpec_.isEmpty() && clipSpec_ == options_.clipModelPath) {
    demos << tr("CLIP");
    real << QStringLiteral("openai/clip-vit-base-patch32");
  }
  if (!demos.isEmpty()) {
    modelLabel_->setText(tr("The bundled DEMO models (%1): small BLIP / CLIP models VLMScope trained on its synthetic shapes world "
                            "(vlmscope train-shapes); they know only flat coloured shapes. For real photos download %2 "
                            "(File > Models, or vlmscope models download) and pick them in the model bar.")
                             .arg(demos.join(QStringLiteral(", ")), real.join(QStringLiteral(", "))));
    modelLabel_->setVisible(true);
  } else {
    modelLabel_->clear();
    modelLabel_->setVisible(false);
  }
}

void MainWindow::captionCurrentImage() {
  if (!captioner_ || !image_) return;
  const auto captioner = captioner_;
  const auto image = image_;
  const CaptionOptions o = decoding();
  captionLabel_->setText(tr("Captioning..."));
  tokens_->clear();
  jobs_->run<CaptionResult>(
      tr("Captioning %1").arg(QFileInfo(imagePath_).fileName()),
      [captioner, image, o](const JobContext& job) { return captioner->caption(*image, o, job); },
      [this](CaptionResult r) {
        const QString caption = QString::fromStdString(r.caption);
        showText({}, r.ids, r.tokens, caption, tr("Click a word (or use the left / right keys) to see why the model said it."));
        clipPanel_->offerCaption(caption);
        Q_EMIT captionReady(caption);
      },
      [this](const QString& error) { captionLabel_->setText(tr("Error: %1").arg(error)); });
}

// A new caption or answer: its tokens become the chips; what explained the previous text goes.
void MainWindow::showText(const QString& question, const std::vector<int64_t>& ids, const std::vector<std::string>& tokens,
                          const QString& shown, const QString& hint) {
  activeQuestion_ = question;
  shapley_.reset();
  presentation_.reset();
  shapPack_.reset();
  shapView_->setPresentation(nullptr);
  layerView_->clear();
  explanation_.reset();
  topRects_.clear();
  canvas_->setOverlay({});
  canvas_->setHighlight({});
  ids_ = ids;
  updateLayerSlider();
  captionLabel_->setText(shown);
  QStringList chips;
  for (const auto& t : tokens) chips << QString::fromStdString(t);
  tokens_->setTokens(chips);
  explainLabel_->setText(hint);
}

const LayerCounts& MainWindow::activeLayers() const {
  if (!activeQuestion_.isEmpty() && vqa_) return vqaLayers_;
  return captionLayers_;
}

void MainWindow::askQuestion() {
  const QString q = question_->text().trimmed();
  if (q.isEmpty()) {
    captionCurrentImage();
    return;
  }
  if (!vqa_) {
    statusBar()->showMessage(tr("Load a BLIP VQA model to ask questions (the model bar's VQA field)."), 6000);
    Q_EMIT workFailed(tr("no VQA model loaded"));
    return;
  }
  if (!image_) return;
  const auto vqa = vqa_;
  const auto image = image_;
  const std::string question = q.toStdString();
  VqaOptions o;
  static_cast<DecodingOptions&>(o) = decoding();
  captionLabel_->setText(tr("Answering..."));
  tokens_->clear();
  jobs_->run<VqaResult>(
      tr("Answering '%1'").arg(q), [vqa, image, question, o](const JobContext& job) { return vqa->answer(*image, question, o, job); },
      [this, q](VqaResult r) {
        const QString answer = QString::fromStdString(r.answer);
        showText(q, r.ids, r.tokens, tr("Q: %1   A: %2").arg(q, answer), tr("Click a word of the answer to see why the model said it."));
        Q_EMIT answerReady(answer);
      },
      [this](const QString& error) { captionLabel_->setText(tr("Error: %1").arg(error)); });
}

void MainWindow::reexplain() {
  if (tokens_->selected() > 0) explainToken(tokens_->selected());
}

bool MainWindow::shapleySelected() const { return method_->currentIndex() == kShapleyIndex; }

void MainWindow::explainToken(int position) {
  if (!captioner_ || ids_.empty() || !image_) return;
  canvas_->setHighlight({});
  if (shapleySelected()) {
    explainShapley(position);
    return;
  }
  const auto captioner = captioner_;
  const auto vqa = vqa_;
  const std::string question = activeQuestion_.toStdString();
  const auto image = image_;
  const ExplainOptions o = currentOptions(position);
  const std::string colormap = colormap_->currentText().toStdString();
  explainLabel_->setText(tr("Explaining token %1 ...").arg(position));
  jobs_->run<ExplainView>(
      tr("Explaining token %1 (%2)").arg(position).arg(method_->currentText()),
      [captioner, vqa, question, image, o, colormap](const JobContext& job) {
        return viewOf(question.empty() ? explainCaption(*captioner, *image, o, job) : explainAnswer(*vqa, *image, question, o, job), colormap);
      },
      [this, position](ExplainView v) {
        showExplanation(v.result, v.overlay, v.grid, v.top, true);
        Q_EMIT explanationReady(position);
      },
      [this](const QString& error) { explainLabel_->setText(tr("Error: %1").arg(error)); });
}

void MainWindow::showExplanation(const ExplainResult& r, const QImage& overlay, const std::vector<QLineF>& grid, const std::vector<QRectF>& top,
                                 bool remember) {
  explanation_ = r;
  topRects_ = top;
  canvas_->setOverlay(overlay);
  const ExplainedMap& m = r.maps.at(0);
  // What was explained: a token, or (CLIP) the cosine of the whole text.
  const QString what = m.position >= 0 ? tr("token %1 '%2'").arg(m.position).arg(QString::fromStdString(m.token))
                                       : tr("%1 of '%2'").arg(QString::fromStdString(m.label), QString::fromStdString(r.text));
  const QString score = r.family == "clip" ? tr("cosine = %1").arg(m.y, 0, 'f', 4) : tr("log p = %1").arg(m.y, 0, 'f', 4);
  QString text = tr("%1, %2: %3, %4").arg(QString::fromStdString(r.method), QString::fromStdString(r.layer), what, score);
  for (const auto& n : r.notes) text += QStringLiteral("\n") + tr("Note: %1").arg(QString::fromStdString(n));
  explainLabel_->setText(text);
  canvas_->setGridLines(grid);
  canvas_->setGridVisible(gridOn_->isChecked());
  if (remember) {
    HistoryEntry e;
    e.title = tr("%1 - %2, %3").arg(what, QString::fromStdString(r.method), QString::fromStdString(r.layer));
    e.detail = tr("%1\n%2%3\n%4, %5 s")
                   .arg(QFileInfo(imagePath_).fileName(), r.question.empty() ? QString() : tr("Q: %1  A: ").arg(QString::fromStdString(r.question)),
                        QString::fromStdString(r.text), score)
                   .arg(r.explainSeconds, 0, 'f', 2);
    e.image = shownImage_;
    e.overlay = overlay;
    historyResults_.push_back(r);
    history_->add(std::move(e));
  }
}

void MainWindow::showHovered(int x, int y) {
  if (x < 0) return;
  QString s = tr("x %1, y %2").arg(x).arg(y);
  if (explanation_ && explanation_->geometry) {
    if (auto p = explanation_->geometry->patchAtImagePixel(x, y)) {
      const int g = explanation_->geometry->gridSide();
      s += tr("  patch %1 (row %2, column %3)").arg(*p).arg(*p / g).arg(*p % g);
    } else {
      s += tr("  (cropped away by the processor)");
    }
  }
  statusBar()->showMessage(s);
}

// One Shapley run explains every token (value token-logprob); other tokens of the same caption,
// image and settings are shown from it without running the model again.
void MainWindow::explainShapley(int position) {
  ShapOptions o;
  o.features = shapFeatures_->currentText().trimmed().toStdString();
  const std::string estimator = shapEstimator_->currentText().toStdString();
  const std::string value = shapValue_->currentText().toStdString();
  o.evaluations = shapBudget_->value();
  o.ids = ids_;
  QStringList idText;
  for (int64_t id : ids_) idText << QString::number(id);
  const QString key = QStringList{imagePath_, activeQuestion_, idText.join(QLatin1Char(',')), shapFeatures_->currentText(), shapValue_->currentText(),
                                  shapEstimator_->currentText(), QString::number(shapBudget_->value())}
                          .join(QLatin1Char('|'));
  if (shapley_ && shapleyKey_ == key) {
    showShapley(position);
    Q_EMIT explanationReady(position);
    return;
  }
  const auto captioner = captioner_;
  const auto vqa = vqa_;
  const auto clip = clip_;
  const std::string question = activeQuestion_.toStdString();
  const auto image = image_;
  const std::string colormap = colormap_->currentText().toStdString();
  explainLabel_->setText(tr("Shapley values of every token (%1, %2, %3 evaluations) ...").arg(shapFeatures_->currentText(), shapEstimator_->currentText()).arg(o.evaluations));
  jobs_->run<std::shared_ptr<ShapPack>>(
      tr("Shapley values (%1)").arg(shapFeatures_->currentText()),
      [captioner, vqa, clip, question, image, o, value, estimator, colormap](const JobContext& job) {
        ShapOptions so = o;
        if (auto e = parseShapEstimator(estimator)) so.estimator = *e;
        else throw Error(ErrorCode::InvalidArgument, "unknown estimator '" + estimator + "'");
        if (auto v = parseShapValue(value)) so.value = *v;
        else throw Error(ErrorCode::InvalidArgument, "unknown value '" + value + "'");
        if (!question.empty() && so.value == ShapValue::CaptionLogProb) so.value = ShapValue::Answer;  // the whole answer
        if (!question.empty() && so.value == ShapValue::CaptionSimilarity)
          throw Error(ErrorCode::InvalidArgument, "caption-similarity explains captions; clear the question (empty + Enter) first");
        if (so.value == ShapValue::CaptionSimilarity) {
          if (!clip) throw Error(ErrorCode::InvalidArgument, "caption-similarity compares captions with CLIP: load a CLIP model in the model bar");
          so.clip = clip.get();
        }
        ShapResult r = question.empty() ? shapCaption(*captioner, *image, so, subJob(job, 0, 0.95))
                                        : shapAnswer(*vqa, *image, question, so, subJob(job, 0, 0.95));
        job.progress(0.95, "drawing");
        return std::make_shared<ShapPack>(packShapley(std::move(r), *image, colormap, job));
      },
      [this, key, position](std::shared_ptr<ShapPack> pack) {
        shapley_ = std::move(pack->result);  // the pack keeps the pictures; the values live in shapley_
        presentation_ = pack->presentation;
        shapleyKey_ = key;
        shapView_->setPresentation(presentation_.get());
        // Each token's map joins the history once, as the run's explanations.
        for (size_t k = 0; k < pack->views.size(); ++k) {
          const ExplainView& v = pack->views[k];
          HistoryEntry e;
          e.title = tr("%1 - Shapley (%2, %3, %4)")
                        .arg(presentation_->outputs[k].title, QString::fromStdString(shapley_->features), QString::fromStdString(shapley_->value),
                             QString::fromStdString(shapley_->estimator));
          e.detail = tr("%1\n%2\nv(all) = %3, v(none) = %4").arg(QFileInfo(imagePath_).fileName(), QString::fromStdString(v.result.text))
                         .arg(shapley_->fullValue[k], 0, 'f', 4)
                         .arg(shapley_->emptyValue[k], 0, 'f', 4);
          e.image = shownImage_;
          e.overlay = v.overlay;
          historyResults_.push_back(v.result);
          history_->add(std::move(e));
        }
        shapPack_ = pack;
        side_->setCurrentWidget(shapView_);
        showShapley(tokens_->selected() > 0 ? tokens_->selected() : position);
        Q_EMIT explanationReady(position);
      },
      [this](const QString& error) { explainLabel_->setText(tr("Error: %1").arg(error)); });
}

void MainWindow::showShapley(int position) {
  const ShapResult& r = *shapley_;
  int out = presentation_ ? presentation_->outputAt(position) : -1;
  if (out < 0 && presentation_ && presentation_->outputs.size() == 1) out = 0;  // a whole-text value explains every token at once
  if (out < 0 || !shapPack_ || out >= int(shapPack_->views.size())) return;
  const ExplainView& v = shapPack_->views[size_t(out)];
  showExplanation(v.result, v.overlay, v.grid, v.top, false);
  shapView_->showOutput(out);
  explainLabel_->setText(tr("Shapley values (%1, %2, %3): %4: v(all) = %5, v(none) = %6; %7 model evaluations, %8 from the cache, %9 s")
                             .arg(QString::fromStdString(r.features), QString::fromStdString(r.value), QString::fromStdString(r.estimator),
                                  presentation_->outputs[size_t(out)].title)
                             .arg(r.fullValue[size_t(out)], 0, 'f', 4)
                             .arg(r.emptyValue[size_t(out)], 0, 'f', 4)
                             .arg(r.evaluations)
                             .arg(r.cacheHits)
                             .arg(r.seconds, 0, 'f', 2));
}

bool MainWindow::shapleyChartShown() const { return presentation_ && shapView_->bars()->barCount() > 0; }

void MainWindow::highlightFeature(int feature) {
  if (!presentation_ || feature < 0 || feature >= int(presentation_->regions.size())) {
    canvas_->setHighlight({});
    return;
  }
  canvas_->setHighlight(presentation_->regions[size_t(feature)]);
  statusBar()->showMessage(tr("feature %1").arg(presentation_->labels[size_t(feature)]), 3000);
}

// The layer evolution of the selected token with the current Grad-CAM-family method (captions).
void MainWindow::computeLayerEvolution() {
  const int position = tokens_->selected();
  if (!captioner_ || !image_ || ids_.empty() || position <= 0) {
    layerView_->clear(tr("Click a word of the caption first."));
    return;
  }
  if (!activeQuestion_.isEmpty()) {
    layerView_->clear(tr("The layer evolution explains captions; clear the question (empty + Enter) to go back to the caption."));
    return;
  }
  ExplainOptions o;
  o.method = shapleySelected() ? ExplainMethod::GradCam : kMethods[method_->currentIndex()];
  if (o.method == ExplainMethod::CrossAttention || o.method == ExplainMethod::IntegratedGradients) o.method = ExplainMethod::GradCam;
  o.token = position;
  o.ids = ids_;
  const auto captioner = captioner_;
  const auto image = image_;
  const std::string colormap = colormap_->currentText().toStdString();
  jobs_->run<LayerFrames>(
      tr("Layer evolution of token %1").arg(position),
      [captioner, image, o, colormap](const JobContext& job) {
        const ExplainResult r = explainCaptionLayers(*captioner, *image, o, subJob(job, 0, 0.9));
        LayerFrames frames;
        const ExplainedMap& first = r.maps.at(0);
        frames.title = QStringLiteral("token %1 '%2', %3, every vision layer").arg(first.position).arg(QString::fromStdString(first.token), QString::fromStdString(r.method));
        const QImage shown = toQImage(*image);
        for (const ExplainedMap& m : r.maps) {
          job.throwIfCancelled();
          frames.labels.push_back(QString::fromStdString(m.label));
          frames.overlays.push_back(overlayOf(r, m, colormap));
          frames.thumbnails.push_back(blended(shown, frames.overlays.back(), 0.6).scaled(72, 72, Qt::KeepAspectRatio, Qt::SmoothTransformation));
        }
        return frames;
      },
      [this](LayerFrames frames) {
        const int n = int(frames.overlays.size());
        side_->setCurrentWidget(layerView_);
        layerView_->setFrames(std::move(frames));
        Q_EMIT layersReady(n);
      },
      [this](const QString& error) { layerView_->clear(tr("Error: %1").arg(error)); });
}

void MainWindow::scoreTexts(const QStringList& texts) {
  if (!clip_) {
    clipPanel_->setMessage(tr("Load a CLIP model in the model bar first (e.g. openai/clip-vit-base-patch32 from the Hugging Face cache)."));
    Q_EMIT workFailed(tr("no CLIP model loaded"));
    return;
  }
  if (!image_ || texts.isEmpty()) return;
  std::vector<std::string> list;
  for (const QString& t : texts) list.push_back(t.toStdString());
  const auto clip = clip_;
  const auto image = image_;
  jobs_->run<ClipScores>(
      tr("CLIP: scoring %n text(s)", nullptr, int(list.size())),
      [clip, image, list](const JobContext& job) {
        const SimilarityResult r = clip->score(*image, list, job);
        ClipScores s;
        for (size_t i = 0; i < r.texts.size(); ++i) {
          s.texts.push_back(QString::fromStdString(r.texts[i]));
          s.cosine.push_back(r.cosine[i]);
          s.probability.push_back(r.probs[i]);
          s.truncated.push_back(r.truncated[i]);
        }
        return s;
      },
      [this](ClipScores s) {
        clipPanel_->setScores(s);
        Q_EMIT textsScored(int(s.texts.size()));
      },
      [this](const QString& error) { clipPanel_->setMessage(tr("Error: %1").arg(error)); });
}

// Where CLIP finds a text: Grad-CAM of the image-text cosine (CLIP's default layer).
void MainWindow::explainText(const QString& text) {
  if (!clip_ || !image_) return;
  const auto clip = clip_;
  const auto image = image_;
  const std::string t = text.toStdString();
  const std::string colormap = colormap_->currentText().toStdString();
  jobs_->run<ExplainView>(
      tr("CLIP: where is '%1'").arg(text),
      [clip, image, t, colormap](const JobContext& job) {
        ExplainOptions o;
        o.method = ExplainMethod::GradCam;
        return viewOf(explainSimilarity(*clip, *image, t, o, job), colormap);
      },
      [this](ExplainView v) {
        showExplanation(v.result, v.overlay, v.grid, v.top, true);
        Q_EMIT textExplained(QString::fromStdString(v.result.text));
      },
      [this](const QString& error) { clipPanel_->setMessage(tr("Error: %1").arg(error)); });
}

// A new colormap: the current map (and a Shapley run's maps) redrawn on the worker.
void MainWindow::recolor() {
  if (!explanation_ || explanation_->maps.empty()) return;
  const std::string colormap = colormap_->currentText().toStdString();
  if (shapley_ && shapPack_ && shapleySelected()) {
    // The run's pictures again in the new colormap (no model evaluations).
    const auto result = std::make_shared<ShapResult>(*shapley_);  // the worker's one copy, moved into the new pack
    const auto image = image_;
    jobs_->run<std::shared_ptr<ShapPack>>(
        tr("Recolouring"),
        [result, image, colormap](const JobContext& job) { return std::make_shared<ShapPack>(packShapley(std::move(*result), *image, colormap, job)); },
        [this](std::shared_ptr<ShapPack> pack) {
          shapley_ = std::move(pack->result);
          presentation_ = pack->presentation;
          shapPack_ = pack;
          shapView_->setPresentation(presentation_.get());
          showShapley(tokens_->selected());
        },
        [](const QString&) {});
    return;
  }
  const ExplainResult r = *explanation_;
  jobs_->run<QImage>(
      tr("Recolouring"), [r, colormap](const JobContext&) { return overlayOf(r, r.maps.at(0), colormap); },
      [this](QImage overlay) { canvas_->setOverlay(overlay); }, [](const QString&) {});
}
void MainWindow::pasteImage() {
  const QImage image = QApplication::clipboard()->image();
  if (image.isNull()) {
    statusBar()->showMessage(tr("The clipboard holds no image."), 4000);
    return;
  }
  const QString path = QDir::temp().filePath(QStringLiteral("vlmscope-pasted-%1.png").arg(QDateTime::currentMSecsSinceEpoch()));
  if (!image.save(path)) {
    statusBar()->showMessage(tr("Cannot save the pasted image to %1").arg(path), 5000);
    return;
  }
  openImage(path);
}

void MainWindow::dragEnterEvent(QDragEnterEvent* event) {
  if (event->mimeData()->hasUrls() || event->mimeData()->hasImage()) event->acceptProposedAction();
}

void MainWindow::dropEvent(QDropEvent* event) {
  const QMimeData* data = event->mimeData();
  for (const QUrl& url : data->urls())
    if (url.isLocalFile()) {
      openImage(url.toLocalFile());
      event->acceptProposedAction();
      return;
    }
  if (data->hasImage()) {
    QApplication::clipboard()->setImage(qvariant_cast<QImage>(data->imageData()));
    pasteImage();
    event->acceptProposedAction();
  }
}

void MainWindow::rememberRecent(const QString& path) {
  QSettings settings;
  QStringList recent = settings.value(QStringLiteral("recentFiles")).toStringList();
  recent.removeAll(path);
  recent.prepend(path);
  while (recent.size() > 10) recent.removeLast();
  settings.setValue(QStringLiteral("recentFiles"), recent);
  rebuildRecentMenu();
}

void MainWindow::rebuildRecentMenu() {
  recentMenu_->clear();
  const QStringList recent = QSettings().value(QStringLiteral("recentFiles")).toStringList();
  for (const QString& path : recent) recentMenu_->addAction(QFileInfo(path).fileName(), this, [this, path] { openImage(path); })->setToolTip(path);
  recentMenu_->setEnabled(!recent.isEmpty());
}

// Every persisted control under its settings key: saving and restoring read this one list.
std::vector<MainWindow::Persisted> MainWindow::persisted() const {
  return {{"view/colormap", colormap_},         {"view/opacity", opacity_},           {"view/grid", gridOn_},
          {"explain/method", method_, true},     {"masks/masker", masker_},            {"shapley/features", shapFeatures_},
          {"shapley/estimator", shapEstimator_}, {"shapley/value", shapValue_},        {"shapley/budget", shapBudget_},
          {"decoding/beams", beams_},            {"decoding/maxLength", maxLength_},   {"decoding/prompt", prompt_},
          {"view/tab", side_}};
}

void MainWindow::saveSettings() const {
  QSettings s;
  s.setValue(QStringLiteral("window/geometry"), saveGeometry());
  for (const Persisted& p : persisted()) {
    const QString key = QString::fromLatin1(p.key);
    if (auto* c = qobject_cast<QComboBox*>(p.widget)) s.setValue(key, p.byIndex ? QVariant(c->currentIndex()) : QVariant(c->currentText()));
    else if (auto* sb = qobject_cast<QSpinBox*>(p.widget)) s.setValue(key, sb->value());
    else if (auto* sl = qobject_cast<QSlider*>(p.widget)) s.setValue(key, sl->value());
    else if (auto* cb = qobject_cast<QCheckBox*>(p.widget)) s.setValue(key, cb->isChecked());
    else if (auto* le = qobject_cast<QLineEdit*>(p.widget)) s.setValue(key, le->text());
    else if (auto* t = qobject_cast<QTabWidget*>(p.widget)) s.setValue(key, t->currentIndex());
  }
}

// A missing key leaves the control as built (its default).
void MainWindow::restoreSettings() {
  QSettings s;
  if (s.contains(QStringLiteral("window/geometry"))) restoreGeometry(s.value(QStringLiteral("window/geometry")).toByteArray());
  for (const Persisted& p : persisted()) {
    const QString key = QString::fromLatin1(p.key);
    if (!s.contains(key)) continue;
    const QVariant v = s.value(key);
    if (auto* c = qobject_cast<QComboBox*>(p.widget)) {
      if (p.byIndex) c->setCurrentIndex(std::clamp(v.toInt(), 0, c->count() - 1));
      else c->setCurrentText(v.toString());
    } else if (auto* sb = qobject_cast<QSpinBox*>(p.widget)) sb->setValue(v.toInt());
    else if (auto* sl = qobject_cast<QSlider*>(p.widget)) sl->setValue(v.toInt());
    else if (auto* cb = qobject_cast<QCheckBox*>(p.widget)) cb->setChecked(v.toBool());
    else if (auto* le = qobject_cast<QLineEdit*>(p.widget)) le->setText(v.toString());
    else if (auto* t = qobject_cast<QTabWidget*>(p.widget)) t->setCurrentIndex(v.toInt());
  }
}

void MainWindow::closeEvent(QCloseEvent* event) {
  if (options_.screenshotPath.isEmpty()) saveSettings();  // a scripted screenshot leaves the user's settings alone
  jobs_->cancel();
  QMainWindow::closeEvent(event);
}

void MainWindow::cancelWork() { jobs_->cancel(); }

void MainWindow::clearMasks() {
  const auto ids = canvas_->maskIds();
  if (ids.empty()) return;
  undo_->beginMacro(tr("Clear masks"));
  for (int id : ids) undo_->push(new RemoveMaskCommand(canvas_, id));
  undo_->endMacro();
}

void MainWindow::maskTopRegion() {
  if (!explanation_ || explanation_->maps.empty()) {
    statusBar()->showMessage(tr("Explain a token first: the mask covers the top of its map."), 5000);
    return;
  }
  if (topRects_.empty()) {
    statusBar()->showMessage(tr("Mask top region works with patch-grid maps (Grad-CAM family, cross-attention)."), 5000);
    return;
  }
  undo_->beginMacro(tr("Mask top region"));
  for (const QRectF& r : topRects_) undo_->push(new AddMaskCommand(canvas_, r));
  undo_->endMacro();
}

void MainWindow::regenerate() {
  if (!captioner_ || !image_) return;
  const auto rects = canvas_->masks();
  if (rects.empty()) {
    statusBar()->showMessage(tr("Draw one or more masks first (Draw masks, then drag on the image)."), 5000);
    return;
  }
  MaskSpec spec;
  for (const QRectF& r : rects) {
    const int x0 = int(std::floor(r.left())), y0 = int(std::floor(r.top()));
    spec.rects.push_back({x0, y0, int(std::ceil(r.right())) - x0, int(std::ceil(r.bottom())) - y0});
  }
  const std::string masker = masker_->currentText().toStdString();
  const auto captioner = captioner_;
  const auto vqa = vqa_;
  const std::string question = activeQuestion_.toStdString();
  const auto image = image_;
  const auto clip = clip_;
  const CaptionOptions o = decoding();
  jobs_->run<RegenerateResult>(
      tr("Regenerating with %n mask(s)", nullptr, int(rects.size())),
      [captioner, vqa, clip, question, image, spec, masker, o](const JobContext& job) {
        MaskSpec m = spec;
        if (auto k = explain::parseMasker(masker)) m.masker = *k;
        else throw Error(ErrorCode::InvalidArgument, "unknown masker '" + masker + "'");
        return question.empty() ? maskAndRegenerate(*captioner, *image, m, o, clip.get(), job)
                                : maskAndRegenerate(*vqa, *image, question, m, o, clip.get(), job);
      },
      [this](RegenerateResult r) {
        showRegeneration(r);
        Q_EMIT regenerated();
      },
      [this](const QString& error) { regenerationLabel_->setText(tr("Error: %1").arg(error.toHtmlEscaped())); });
}

void MainWindow::showRegeneration(const RegenerateResult& r) {
  regeneration_ = r;
  QString diff;
  for (const auto& c : r.diff) {
    const QString w = QString::fromStdString(c.word).toHtmlEscaped();
    if (c.op == WordChange::Op::Kept) diff += w;
    else if (c.op == WordChange::Op::Removed) diff += QStringLiteral("<span style='color:#c0392b;text-decoration:line-through'>%1</span>").arg(w);
    else diff += QStringLiteral("<span style='color:#1e8449;font-weight:bold'>%1</span>").arg(w);
    diff += QLatin1Char(' ');
  }
  QString clip;
  if (r.clipBefore && r.clipAfter)
    clip = tr("<br>CLIP cosine (image, original text): %1 &rarr; %2 (%3); masked image with the new text: %4")
               .arg(*r.clipBefore, 0, 'f', 4)
               .arg(*r.clipAfter, 0, 'f', 4)
               .arg(*r.clipAfter - *r.clipBefore, 0, 'f', 4)
               .arg(r.clipMaskedText.value_or(0), 0, 'f', 4);
  else clip = tr("<br><i>Load a CLIP model in the model bar to see the image-text similarity before and after.</i>");
  // Side by side: the text before, the text after with removed (struck, red) and inserted (bold, green) words.
  regenerationLabel_->setText(tr("<table cellspacing='0' cellpadding='3'><tr><td><b>before</b></td><td><b>after</b> (%2 masker)</td></tr>"
                                 "<tr><td>%1</td><td>%3</td></tr></table>log p(original text): %4 &rarr; %5 (%6)%7")
                                  .arg(QString::fromStdString(r.original).toHtmlEscaped(), QString::fromStdString(r.masker), diff.trimmed())
                                  .arg(r.logProbBefore, 0, 'f', 3)
                                  .arg(r.logProbAfter, 0, 'f', 3)
                                  .arg(r.logProbAfter - r.logProbBefore, 0, 'f', 3)
                                  .arg(clip));
}

QString MainWindow::regenerationText() const {
  QTextDocument d;
  d.setHtml(regenerationLabel_->text());
  return d.toPlainText();
}

void applyBundledModels(StartOptions& options) {
  const std::filesystem::path bundled = runtime::resourceDir() / "models";
  auto bundledDefault = [&](QString& path, const char* name) {
    const std::filesystem::path demo = bundled / name;
    if (path.isEmpty() && std::filesystem::is_directory(demo)) path = QString::fromStdString(demo.string());
    std::error_code ec;
    return !path.isEmpty() && std::filesystem::equivalent(path.toStdString(), demo, ec);
  };
  options.demoModel = bundledDefault(options.modelPath, "shapes-blip-caption");
  options.demoVqaModel = bundledDefault(options.vqaModelPath, "shapes-blip-vqa");
  options.demoClipModel = bundledDefault(options.clipModelPath, "shapes-clip");
}

int runGui(int argc, char** argv, const StartOptions& options) {
  QApplication app(argc, argv);
  QLoggingCategory::setFilterRules(QStringLiteral("qt.gui.imageio=false"));  // libpng's colour-profile chatter
  QApplication::setApplicationName(QStringLiteral("VLMScope"));
  QApplication::setOrganizationName(QStringLiteral("VLMScope"));
  MainWindow window(options);
  window.show();
  return app.exec();
}

}  // namespace vlm::ui
