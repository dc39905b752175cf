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

#include "common/error.h"
#include "explain/masking.h"
#include "mask_commands.h"
#include "image_canvas.h"
#include "io/image.h"
#include "job_runner.h"
#include "pipeline/captioner.h"
#include "pipeline/vqa.h"
#include "render/charts.h"
#include "render/colormap.h"
#include "token_bar.h"

namespace vlm::ui {

namespace {

struct ExplainView {
  ExplainResult result;
  QImage overlay;
};

QImage toQImage(const io::ImageU8& img) {
  return QImage(img.rgb.data(), img.width, img.height, img.width * 3, QImage::Format_RGB888).copy();
}

// The map drawn over the original image with a colormap (the canvas applies the opacity).
QImage overlayOf(const ExplainResult& r, const ExplainedMap& m, render::Colormap colormap) {
  const std::vector<float> onImage = r.onImage(m);
  return toQImage(render::heatmapImage(onImage.data(), r.geometry->imageWidth(), r.geometry->imageHeight(), colormap));
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
  modelLabel_ = new QLabel(tr("No model loaded."), central);
  modelLabel_->setWordWrap(true);
  auto* splitter = new QSplitter(Qt::Horizontal, central);
  canvas_ = new ImageCanvas(splitter);
  canvas_->setUndoStack(undo_);
  auto* panel = new QWidget(splitter);
  buildMethodPanel(panel);
  splitter->addWidget(canvas_);
  splitter->addWidget(panel);
  splitter->setStretchFactor(0, 1);
  captionLabel_ = new QLabel(central);
  captionLabel_->setWordWrap(true);
  captionLabel_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  question_ = new QLineEdit(central);
  question_->setPlaceholderText(tr("Ask a question about the image (needs a BLIP VQA model: File > Load VQA model); empty + Enter: the caption"));
  question_->setClearButtonEnabled(true);
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
  progress_ = new QProgressBar(central);
  progress_->setRange(0, 100);
  row->addWidget(captionButton_);
  row->addWidget(cancelButton_);
  row->addWidget(progress_, 1);
  layout->addWidget(modelLabel_);
  layout->addWidget(splitter, 1);
  layout->addWidget(question_);
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
    captionButton_->setEnabled(captioner_ && !imagePath_.isEmpty());
  });
  progress_->setVisible(false);
  cancelButton_->setVisible(false);
  captionButton_->setEnabled(false);
  setAcceptDrops(true);
  resize(1200, 820);
  restoreSettings();
  rebuildRecentMenu();
  if (!options.method.isEmpty()) {
    const QStringList names{QStringLiteral("gradcam"), QStringLiteral("hirescam"), QStringLiteral("gradxact"), QStringLiteral("xattn"),
                            QStringLiteral("ig"), QStringLiteral("shap")};
    if (names.contains(options.method)) method_->setCurrentIndex(int(names.indexOf(options.method)));
    else statusBar()->showMessage(tr("Unknown method '%1' (%2)").arg(options.method, names.join(QStringLiteral(", "))));
  }

  if (!options.imagePath.isEmpty()) openImage(options.imagePath);
  if (!options.modelPath.isEmpty()) loadModel(options.modelPath);
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
  // Scripted start (screenshots): explain a token, then draw masks and regenerate.
  auto drawAndRegenerate = [this] {
    for (const QRectF& r : options_.masks) undo_->push(new AddMaskCommand(canvas_, r));
    regenerate();
  };
  if (options.explainToken > 0) {
    connect(this, &MainWindow::captionReady, this, [this] { tokens_->select(options_.explainToken); });
    if (!options.masks.empty()) connect(this, &MainWindow::explanationReady, this, drawAndRegenerate, Qt::SingleShotConnection);
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
    else if (options.explainToken > 0) connect(this, &MainWindow::explanationReady, this, shoot);
    else connect(this, &MainWindow::captionReady, this, shoot);
    connect(this, &MainWindow::workFailed, this, shoot);
    // Without an image there is no caption to wait for: the window is ready once the model is.
    connect(this, &MainWindow::modelReady, this, [this, shoot] {
      if (imagePath_.isEmpty()) shoot();
    });
  }
}

MainWindow::~MainWindow() = default;  // the job runner (a child) cancels and waits

void MainWindow::buildMethodPanel(QWidget* panel) {
  auto* form = new QFormLayout(panel);
  method_ = new QComboBox(panel);
  method_->addItems({tr("Grad-CAM"), tr("HiResCAM"), tr("Grad x Activation"), tr("Cross-attention Grad-CAM"), tr("Integrated gradients"),
                     tr("Shapley values")});
  layer_ = new QSlider(Qt::Horizontal, panel);
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
  shapEstimator_ = new QComboBox(panel);
  shapEstimator_->addItems({QStringLiteral("kernel"), QStringLiteral("permutation"), QStringLiteral("exact"), QStringLiteral("owen")});
  shapBudget_ = new QSpinBox(panel);
  shapBudget_->setRange(8, 100000);
  shapBudget_->setValue(200);
  shapBudget_->setSuffix(tr(" evaluations"));
  form->addRow(tr("Shapley features"), shapFeatures_);
  form->addRow(tr("Estimator"), shapEstimator_);
  form->addRow(tr("Budget"), shapBudget_);
  chart_ = new QLabel(panel);
  chart_->setAlignment(Qt::AlignCenter);
  chart_->setMinimumHeight(120);
  connect(shapFeatures_, &QComboBox::currentTextChanged, this, [this] { reexplain(); });
  connect(shapEstimator_, &QComboBox::currentIndexChanged, this, [this] { reexplain(); });
  connect(shapBudget_, &QSpinBox::editingFinished, this, [this] { reexplain(); });
  // Masks: draw rectangles, choose how they are hidden, regenerate.
  auto* drawMasks = new QPushButton(tr("Draw masks"), panel);
  drawMasks->setCheckable(true);
  drawMasks->setObjectName(QStringLiteral("drawMasks"));
  masker_ = new QComboBox(panel);
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
  form->addRow(chart_);
  panel->setMinimumWidth(260);
  connect(method_, &QComboBox::currentIndexChanged, this, [this] {
    updateLayerSlider();
    reexplain();
  });
  connect(layer_, &QSlider::valueChanged, this, [this] {
    updateLayerSlider();
    reexplain();
  });
  connect(colormap_, &QComboBox::currentIndexChanged, this, [this] {
    if (explanation_ && !explanation_->maps.empty())
      canvas_->setOverlay(overlayOf(*explanation_, explanation_->maps[0], *render::parseColormap(colormap_->currentText().toStdString())));
  });
  connect(opacity_, &QSlider::valueChanged, this, [this](int v) { canvas_->setOverlayOpacity(v / 100.0); });
  connect(overlayOn_, &QCheckBox::toggled, this, [this](bool on) { canvas_->setOverlayVisible(on); });
  connect(gridOn_, &QCheckBox::toggled, this, [this](bool on) { canvas_->setGridVisible(on); });
  updateLayerSlider();
}

// The layer slider follows the method: vision layers 0..L-1 and post_layernorm (L) for the
// Grad-CAM family, text layers for cross-attention, none for integrated gradients.
void MainWindow::updateLayerSlider() {
  const bool shap = shapleySelected();
  shapFeatures_->setEnabled(shap);
  shapEstimator_->setEnabled(shap);
  shapBudget_->setEnabled(shap);
  if (shap) {
    layer_->setEnabled(false);
    layerLabel_->setText(tr("image regions"));
    return;
  }
  const ExplainMethod m = kMethods[method_->currentIndex()];
  const BlipPipeline* p = activePipeline();
  const int vision = p ? p->visionLayers() : 1, text = p ? p->textLayers() : 1;
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
    if (activePipeline() && layer_->value() == activePipeline()->visionLayers()) o.postLayernorm = true;
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
  // Decoded once, as the model reads it (EXIF orientation applied): the canvas shows these
  // pixels and every job uses them.
  std::shared_ptr<const io::ImageU8> decoded;
  try {
    decoded = std::make_shared<const io::ImageU8>(io::loadImage(path.toStdString()));
  } catch (...) {
    const QString message = tr("Cannot open %1: %2").arg(path, QString::fromStdString(describeCurrentException()));
    statusBar()->showMessage(message);
    Q_EMIT workFailed(message);
    return;
  }
  const QImage image = toQImage(*decoded);
  imagePath_ = path;
  image_ = std::move(decoded);
  shapley_.reset();
  chart_->clear();
  rememberRecent(QFileInfo(path).absoluteFilePath());
  canvas_->setImage(image);
  captionLabel_->clear();
  tokens_->clear();
  explanation_.reset();
  regeneration_.reset();
  explainLabel_->clear();
  regenerationLabel_->clear();
  ids_.clear();
  statusBar()->showMessage(tr("%1 (%2 x %3)").arg(path).arg(image.width()).arg(image.height()));
  setWindowTitle(tr("VLMScope - %1").arg(QFileInfo(path).fileName()));
  captionCurrentImage();
}

void MainWindow::loadModel(const QString& spec) {
  captioner_.reset();
  tokens_->clear();
  explanation_.reset();
  modelLabel_->setText(tr("Loading %1 ...").arg(spec));
  const std::string s = spec.toStdString();
  jobs_->runQueued<std::shared_ptr<Captioner>>(
      tr("Loading model %1").arg(spec), [s](const JobContext& job) { return std::shared_ptr<Captioner>(Captioner::load(s, {}, job)); },
      [this, spec](std::shared_ptr<Captioner> c) {
        captioner_ = std::move(c);
        QString text = tr("Model: %1").arg(spec);
        if (options_.demoModel)
          text = tr("Model: %1 - the bundled tiny DEMO checkpoint with random weights: its captions are nonsense. "
                    "For real captions start with --model Salesforce/blip-image-captioning-base "
                    "(after: huggingface-cli download Salesforce/blip-image-captioning-base).")
                     .arg(spec);
        modelLabel_->setText(text);
        updateLayerSlider();
        Q_EMIT modelReady(spec);
        captionCurrentImage();
      },
      [this](const QString& error) { modelLabel_->setText(tr("Could not load the model: %1").arg(error)); });
}

void MainWindow::captionCurrentImage() {
  if (!captioner_ || imagePath_.isEmpty()) return;
  const auto captioner = captioner_;
  const auto image = image_;
  captionLabel_->setText(tr("Captioning..."));
  tokens_->clear();
  jobs_->run<CaptionResult>(
      tr("Captioning %1").arg(QFileInfo(imagePath_).fileName()),
      [captioner, image](const JobContext& job) { return captioner->caption(*image, CaptionOptions{}, job); },
      [this](CaptionResult r) {
        const QString caption = QString::fromStdString(r.caption);
        showText({}, r.ids, r.tokens, caption, tr("Click a word (or use the left / right keys) to see why the model said it."));
        Q_EMIT captionReady(caption);
      },
      [this](const QString& error) { captionLabel_->setText(tr("Error: %1").arg(error)); });
}

// A new caption or answer: its tokens become the chips; what explained the previous text goes.
void MainWindow::showText(const QString& question, const std::vector<int64_t>& ids, const std::vector<std::string>& tokens,
                          const QString& shown, const QString& hint) {
  activeQuestion_ = question;
  shapley_.reset();
  explanation_.reset();
  canvas_->setOverlay({});
  ids_ = ids;
  updateLayerSlider();
  captionLabel_->setText(shown);
  QStringList chips;
  for (const auto& t : tokens) chips << QString::fromStdString(t);
  tokens_->setTokens(chips);
  explainLabel_->setText(hint);
}

const BlipPipeline* MainWindow::activePipeline() const {
  if (!activeQuestion_.isEmpty() && vqa_) return vqa_.get();
  return captioner_.get();
}

void MainWindow::loadVqaModel(const QString& spec) {
  vqa_.reset();
  const std::string s = spec.toStdString();
  jobs_->runQueued<std::shared_ptr<QuestionAnswerer>>(
      tr("Loading VQA model %1").arg(spec), [s](const JobContext& job) { return std::shared_ptr<QuestionAnswerer>(QuestionAnswerer::load(s, {}, job)); },
      [this, spec](std::shared_ptr<QuestionAnswerer> v) {
        vqa_ = std::move(v);
        modelLabel_->setText(modelLabel_->text() + tr("  |  VQA model: %1").arg(spec));
        question_->setEnabled(true);
        Q_EMIT vqaModelReady(spec);
      },
      [this](const QString& error) { statusBar()->showMessage(tr("Could not load the VQA model: %1").arg(error)); });
}

void MainWindow::askQuestion() {
  const QString q = question_->text().trimmed();
  if (q.isEmpty()) {
    captionCurrentImage();
    return;
  }
  if (!vqa_) {
    statusBar()->showMessage(tr("Load a BLIP VQA model to ask questions (File > Load VQA model)."), 6000);
    Q_EMIT workFailed(tr("no VQA model loaded"));
    return;
  }
  if (imagePath_.isEmpty()) return;
  const auto vqa = vqa_;
  const auto image = image_;
  const std::string question = q.toStdString();
  captionLabel_->setText(tr("Answering..."));
  tokens_->clear();
  jobs_->run<VqaResult>(
      tr("Answering '%1'").arg(q), [vqa, image, question](const JobContext& job) { return vqa->answer(*image, question, VqaOptions{}, job); },
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
  if (!captioner_ || ids_.empty() || imagePath_.isEmpty()) return;
  if (shapleySelected()) {
    explainShapley(position);
    return;
  }
  chart_->clear();
  const auto captioner = captioner_;
  const auto vqa = vqa_;
  const std::string question = activeQuestion_.toStdString();
  const auto image = image_;
  const ExplainOptions o = currentOptions(position);
  const render::Colormap colormap = *render::parseColormap(colormap_->currentText().toStdString());
  explainLabel_->setText(tr("Explaining token %1 ...").arg(position));
  jobs_->run<ExplainView>(
      tr("Explaining token %1 (%2)").arg(position).arg(method_->currentText()),
      [captioner, vqa, question, image, o, colormap](const JobContext& job) {
        ExplainView v;
        v.result = question.empty() ? explainCaption(*captioner, *image, o, job) : explainAnswer(*vqa, *image, question, o, job);
        v.overlay = overlayOf(v.result, v.result.maps.at(0), colormap);
        return v;
      },
      [this, position](ExplainView v) {
        showExplanation(v.result, v.overlay);
        Q_EMIT explanationReady(position);
      },
      [this](const QString& error) { explainLabel_->setText(tr("Error: %1").arg(error)); });
}

void MainWindow::showExplanation(const ExplainResult& r, const QImage& overlay) {
  explanation_ = r;
  canvas_->setOverlay(overlay);
  const ExplainedMap& m = r.maps.at(0);
  QString text = tr("%1, %2: token %3 '%4', log p = %5").arg(QString::fromStdString(r.method), QString::fromStdString(r.layer)).arg(m.position).arg(QString::fromStdString(m.token)).arg(m.y, 0, 'f', 4);
  for (const auto& n : r.notes) text += QStringLiteral("\n") + tr("Note: %1").arg(QString::fromStdString(n));
  explainLabel_->setText(text);
  // Patch borders in image coordinates, from the processor's geometry.
  const vision::InputGeometry& g = *r.geometry;
  std::vector<QLineF> lines;
  const double x0 = g.toImageX(0), x1 = g.toImageX(g.inputSize()), y0 = g.toImageY(0), y1 = g.toImageY(g.inputSize());
  for (int k = 0; k <= g.gridSide(); ++k) {
    const double u = k * g.patchSize();
    lines.emplace_back(g.toImageX(u), y0, g.toImageX(u), y1);
    lines.emplace_back(x0, g.toImageY(u), x1, g.toImageY(u));
  }
  canvas_->setGridLines(lines);
  canvas_->setGridVisible(gridOn_->isChecked());
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
  o.estimator = *parseShapEstimator(shapEstimator_->currentText().toStdString());
  o.value = ShapValue::TokenLogProb;
  o.evaluations = shapBudget_->value();
  o.ids = ids_;
  QStringList idText;
  for (int64_t id : ids_) idText << QString::number(id);
  const QString key = QStringList{imagePath_, activeQuestion_, idText.join(QLatin1Char(',')), shapFeatures_->currentText(), shapEstimator_->currentText(),
                                  QString::number(shapBudget_->value())}
                          .join(QLatin1Char('|'));
  if (shapley_ && shapleyKey_ == key) {
    showShapley(position);
    Q_EMIT explanationReady(position);
    return;
  }
  const auto captioner = captioner_;
  const auto vqa = vqa_;
  const std::string question = activeQuestion_.toStdString();
  const auto image = image_;
  explainLabel_->setText(tr("Shapley values of every token (%1, %2, %3 evaluations) ...").arg(shapFeatures_->currentText(), shapEstimator_->currentText()).arg(o.evaluations));
  jobs_->run<ShapResult>(
      tr("Shapley values (%1)").arg(shapFeatures_->currentText()),
      [captioner, vqa, question, image, o](const JobContext& job) {
        return question.empty() ? shapCaption(*captioner, *image, o, job) : shapAnswer(*vqa, *image, question, o, job);
      },
      [this, key, position](ShapResult r) {
        shapley_ = std::move(r);
        shapleyKey_ = key;
        showShapley(tokens_->selected() > 0 ? tokens_->selected() : position);
        Q_EMIT explanationReady(position);
      },
      [this](const QString& error) { explainLabel_->setText(tr("Error: %1").arg(error)); });
}

void MainWindow::showShapley(int position) {
  const ShapResult& r = *shapley_;
  int out = -1;
  for (int k = 0; k < r.outputs(); ++k)
    if (r.info.maps[size_t(k)].position == position) out = k;
  if (out < 0) return;
  const ExplainedMap& m = r.info.maps[size_t(out)];
  ExplainResult view = r.info;
  view.maps = {m};
  explanation_ = view;
  canvas_->setOverlay(overlayOf(view, m, *render::parseColormap(colormap_->currentText().toStdString())));
  std::vector<std::string> labels;
  std::vector<double> values, errors;
  for (int i = 0; i < r.count(); ++i) {
    labels.push_back(std::to_string(i) + " " + r.featureLabels[size_t(i)]);
    values.push_back(r.valueOf(i, out));
    errors.push_back(r.stderrs[size_t(i) * r.outputs() + out]);
  }
  render::BarChartOptions bo;
  bo.title = "token " + std::to_string(position) + " '" + m.token + "'";
  bo.width = 520;
  bo.maxBars = 12;
  chart_->setPixmap(QPixmap::fromImage(toQImage(render::barChart(labels, values, errors, bo))).scaledToWidth(300, Qt::SmoothTransformation));
  explainLabel_->setText(tr("Shapley values (%1, %2): token %3 '%4': v(all) = %5, v(none) = %6; %7 model evaluations, %8 from the cache, %9 s")
                             .arg(QString::fromStdString(r.features), QString::fromStdString(r.estimator))
                             .arg(position)
                             .arg(QString::fromStdString(m.token))
                             .arg(r.fullValue[size_t(out)], 0, 'f', 4)
                             .arg(r.emptyValue[size_t(out)], 0, 'f', 4)
                             .arg(r.evaluations)
                             .arg(r.cacheHits)
                             .arg(r.seconds, 0, 'f', 2));
}

bool MainWindow::shapleyChartShown() const { return chart_->pixmap().isNull() == false; }

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

void MainWindow::saveSettings() const {
  QSettings s;
  s.setValue(QStringLiteral("window/geometry"), saveGeometry());
  s.setValue(QStringLiteral("view/colormap"), colormap_->currentText());
  s.setValue(QStringLiteral("view/opacity"), opacity_->value());
  s.setValue(QStringLiteral("view/grid"), gridOn_->isChecked());
  s.setValue(QStringLiteral("explain/method"), method_->currentIndex());
  s.setValue(QStringLiteral("masks/masker"), masker_->currentText());
  s.setValue(QStringLiteral("shapley/features"), shapFeatures_->currentText());
  s.setValue(QStringLiteral("shapley/estimator"), shapEstimator_->currentText());
  s.setValue(QStringLiteral("shapley/budget"), shapBudget_->value());
}

void MainWindow::restoreSettings() {
  QSettings s;
  if (s.contains(QStringLiteral("window/geometry"))) restoreGeometry(s.value(QStringLiteral("window/geometry")).toByteArray());
  colormap_->setCurrentText(s.value(QStringLiteral("view/colormap"), colormap_->currentText()).toString());
  opacity_->setValue(s.value(QStringLiteral("view/opacity"), opacity_->value()).toInt());
  gridOn_->setChecked(s.value(QStringLiteral("view/grid"), false).toBool());
  method_->setCurrentIndex(std::clamp(s.value(QStringLiteral("explain/method"), 0).toInt(), 0, method_->count() - 1));
  masker_->setCurrentText(s.value(QStringLiteral("masks/masker"), masker_->currentText()).toString());
  shapFeatures_->setCurrentText(s.value(QStringLiteral("shapley/features"), shapFeatures_->currentText()).toString());
  shapEstimator_->setCurrentText(s.value(QStringLiteral("shapley/estimator"), shapEstimator_->currentText()).toString());
  shapBudget_->setValue(s.value(QStringLiteral("shapley/budget"), shapBudget_->value()).toInt());
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
  const ExplainedMap& m = explanation_->maps[0];
  const vision::InputGeometry& g = *explanation_->geometry;
  if (m.side != g.gridSide()) {
    statusBar()->showMessage(tr("Mask top region works with patch-grid maps (Grad-CAM family, cross-attention)."), 5000);
    return;
  }
  const auto rects = explain::patchRects(g, explain::topPercentPatches(m.normalized, 10));
  undo_->beginMacro(tr("Mask top region"));
  for (const auto& r : rects) undo_->push(new AddMaskCommand(canvas_, QRectF(r.x, r.y, r.width, r.height)));
  undo_->endMacro();
}

void MainWindow::regenerate() {
  if (!captioner_ || imagePath_.isEmpty()) return;
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
  spec.masker = *explain::parseMasker(masker_->currentText().toStdString());
  const auto captioner = captioner_;
  const auto vqa = vqa_;
  const std::string question = activeQuestion_.toStdString();
  const auto image = image_;
  jobs_->run<RegenerateResult>(
      tr("Regenerating with %n mask(s)", nullptr, int(rects.size())),
      [captioner, vqa, question, image, spec](const JobContext& job) {
        return question.empty() ? maskAndRegenerate(*captioner, *image, spec, DecodingOptions{}, nullptr, job)
                                : maskAndRegenerate(*vqa, *image, question, spec, DecodingOptions{}, nullptr, job);
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
  regenerationLabel_->setText(tr("<b>before</b>: %1<br><b>after</b> (%2 masker): %3<br>log p(original caption): %4 &rarr; %5 (%6)")
                                  .arg(QString::fromStdString(r.original).toHtmlEscaped(), QString::fromStdString(r.masker), diff.trimmed())
                                  .arg(r.logProbBefore, 0, 'f', 3)
                                  .arg(r.logProbAfter, 0, 'f', 3)
                                  .arg(r.logProbAfter - r.logProbBefore, 0, 'f', 3));
}

QString MainWindow::regenerationText() const {
  QTextDocument d;
  d.setHtml(regenerationLabel_->text());
  return d.toPlainText();
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
