#include "main_window.h"

#include <QApplication>
#include <QFileDialog>
#include <QHBoxLayout>
#include <QImageReader>
#include <QLabel>
#include <QLoggingCategory>
#include <QMenuBar>
#include <QProgressBar>
#include <QPushButton>
#include <QStatusBar>
#include <QTimer>
#include <QVBoxLayout>
#include <QtConcurrent/QtConcurrent>

#include "common/error.h"
#include "io/image.h"
#include "pipeline/captioner.h"

namespace vlm::ui {

MainWindow::MainWindow(const StartOptions& options, QWidget* parent) : QMainWindow(parent), options_(options) {
  setWindowTitle(QStringLiteral("VLMScope"));
  auto* central = new QWidget(this);
  auto* layout = new QVBoxLayout(central);
  modelLabel_ = new QLabel(tr("No model loaded."), central);
  modelLabel_->setWordWrap(true);
  imageLabel_ = new QLabel(tr("Open an image (File > Open)."), central);
  imageLabel_->setAlignment(Qt::AlignCenter);
  imageLabel_->setMinimumSize(320, 240);
  captionLabel_ = new QLabel(central);
  captionLabel_->setWordWrap(true);
  captionLabel_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  QFont f = captionLabel_->font();
  f.setPointSizeF(f.pointSizeF() * 1.4);
  captionLabel_->setFont(f);
  auto* row = new QHBoxLayout();
  captionButton_ = new QPushButton(tr("Caption"), central);
  cancelButton_ = new QPushButton(tr("Cancel"), central);
  progress_ = new QProgressBar(central);
  progress_->setRange(0, 0);
  row->addWidget(captionButton_);
  row->addWidget(cancelButton_);
  row->addWidget(progress_, 1);
  layout->addWidget(modelLabel_);
  layout->addWidget(imageLabel_, 1);
  layout->addWidget(captionLabel_);
  layout->addLayout(row);
  setCentralWidget(central);

  auto* file = menuBar()->addMenu(tr("&File"));
  file->addAction(tr("&Open image..."), QKeySequence::Open, this, &MainWindow::openImageDialog);
  file->addAction(tr("&Quit"), QKeySequence::Quit, this, &QWidget::close);

  watcher_ = new QFutureWatcher<QString>(this);
  connect(captionButton_, &QPushButton::clicked, this, &MainWindow::captionCurrentImage);
  connect(cancelButton_, &QPushButton::clicked, this, &MainWindow::cancelWork);
  setBusy(false);
  resize(1000, 760);

  if (!options.imagePath.isEmpty()) openImage(options.imagePath);
  if (!options.modelPath.isEmpty()) loadModel(options.modelPath);
  if (!options.screenshotPath.isEmpty()) {
    auto shoot = [this] {
      QTimer::singleShot(200, this, [this] {
        grab().save(options_.screenshotPath);
        QApplication::quit();
      });
    };
    connect(this, &MainWindow::captionReady, this, shoot);
    connect(this, &MainWindow::workFailed, this, shoot);
    // Without an image there is no caption to wait for: the window is ready once the model is.
    connect(this, &MainWindow::modelReady, this, [this, shoot] {
      if (imagePath_.isEmpty()) shoot();
    });
  }
}

MainWindow::~MainWindow() {
  // Quitting while a job runs: ask it to stop and wait, so nothing outlives the window.
  stop_.request_stop();
  watcher_->waitForFinished();
}

QString MainWindow::captionText() const { return captionLabel_->text(); }
bool MainWindow::busy() const { return watcher_->isRunning(); }

void MainWindow::setBusy(bool busy, const QString& what) {
  progress_->setVisible(busy);
  cancelButton_->setVisible(busy);
  captionButton_->setEnabled(!busy && captioner_ && !imagePath_.isEmpty());
  if (busy) statusBar()->showMessage(what);
}

void MainWindow::startJob(std::function<QString(std::stop_token)> work, std::function<void(const QString&)> done,
                          const QString& what) {
  stop_ = std::stop_source();
  const std::stop_token token = stop_.get_token();
  watcher_->disconnect(this);
  setBusy(true, what);
  connect(watcher_, &QFutureWatcher<QString>::finished, this, [this, done = std::move(done)] {
    const QString result = watcher_->result();
    statusBar()->clearMessage();
    done(result);
    setBusy(false);
    if (pendingCaption_) {
      pendingCaption_ = false;
      captionCurrentImage();
    }
  });
  watcher_->setFuture(QtConcurrent::run([work = std::move(work), token]() { return work(token); }));
}

void MainWindow::openImageDialog() {
  const QString path = QFileDialog::getOpenFileName(this, tr("Open image"), QString(),
                                                    tr("Images (*.png *.jpg *.jpeg *.bmp *.webp *.tif *.tiff);;All files (*)"));
  if (!path.isEmpty()) openImage(path);
}

void MainWindow::openImage(const QString& path) {
  QImageReader reader(path);
  reader.setAutoTransform(true);  // EXIF orientation, as the model sees it
  const QImage image = reader.read();
  if (image.isNull()) {
    statusBar()->showMessage(tr("Cannot open %1: %2").arg(path, reader.errorString()));
    return;
  }
  imagePath_ = path;
  imageLabel_->setPixmap(QPixmap::fromImage(image).scaled(800, 560, Qt::KeepAspectRatio, Qt::SmoothTransformation));
  captionLabel_->clear();
  statusBar()->showMessage(tr("%1 (%2 x %3)").arg(path).arg(image.width()).arg(image.height()));
  setWindowTitle(tr("VLMScope - %1").arg(QFileInfo(path).fileName()));
  captionCurrentImage();
}

void MainWindow::loadModel(const QString& spec) {
  if (busy()) cancelWork();
  watcher_->waitForFinished();
  captioner_.reset();
  modelLabel_->setText(tr("Loading %1 ...").arg(spec));
  const std::string s = spec.toStdString();
  auto holder = std::make_shared<std::shared_ptr<vlm::Captioner>>();
  pendingCaption_ = true;
  startJob(
      [s, holder](std::stop_token) -> QString {
        try {
          *holder = std::shared_ptr<vlm::Captioner>(vlm::Captioner::load(s).release());
          return {};
        } catch (...) {
          return QString::fromStdString(vlm::describeCurrentException());
        }
      },
      [this, holder, spec](const QString& error) {
        if (!error.isEmpty()) {
          pendingCaption_ = false;
          modelLabel_->setText(tr("Could not load the model: %1").arg(error));
          Q_EMIT workFailed(error);
          return;
        }
        captioner_ = *holder;
        QString text = tr("Model: %1").arg(spec);
        if (options_.demoModel)
          text = tr("Model: %1 - the bundled tiny DEMO checkpoint with random weights: its captions are nonsense. "
                    "For real captions start with --model Salesforce/blip-image-captioning-base "
                    "(after: huggingface-cli download Salesforce/blip-image-captioning-base).")
                     .arg(spec);
        modelLabel_->setText(text);
        Q_EMIT modelReady(spec);
      },
      tr("Loading model %1").arg(spec));
}

void MainWindow::captionCurrentImage() {
  if (!captioner_ || imagePath_.isEmpty()) return;
  if (busy()) {  // a newer request supersedes the running one
    pendingCaption_ = true;
    stop_.request_stop();
    return;
  }
  const auto captioner = captioner_;
  const std::string path = imagePath_.toStdString();
  captionLabel_->setText(tr("Captioning..."));
  startJob(
      [captioner, path](std::stop_token stop) -> QString {
        try {
          const vlm::JobContext job(stop);
          const auto result = captioner->caption(vlm::io::loadImage(path), vlm::CaptionOptions{}, job);
          return QStringLiteral("ok:") + QString::fromStdString(result.caption);
        } catch (...) {
          return QString::fromStdString(vlm::describeCurrentException());
        }
      },
      [this](const QString& r) {
        if (r.startsWith(QStringLiteral("ok:"))) {
          captionLabel_->setText(r.mid(3));
          Q_EMIT captionReady(r.mid(3));
        } else if (r == QStringLiteral("cancelled")) {
          captionLabel_->setText(tr("(cancelled)"));
        } else {
          captionLabel_->setText(tr("Error: %1").arg(r));
          Q_EMIT workFailed(r);
        }
      },
      tr("Captioning %1").arg(imagePath_));
}

void MainWindow::cancelWork() { stop_.request_stop(); }

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
