#include "main_window.h"

#include <QApplication>
#include <QImageReader>
#include <QLabel>
#include <QStatusBar>
#include <QVBoxLayout>

namespace vlm::ui {

MainWindow::MainWindow(const StartOptions& options, QWidget* parent)
    : QMainWindow(parent), options_(options) {
  setWindowTitle(QStringLiteral("VLMScope"));
  auto* central = new QWidget(this);
  auto* layout = new QVBoxLayout(central);
  modelLabel_ = new QLabel(central);
  modelLabel_->setWordWrap(true);
  if (options.modelPath.isEmpty())
    modelLabel_->setText(tr("No model loaded."));
  else if (options.demoModel)
    modelLabel_->setText(tr("Model: %1 - the bundled tiny demo checkpoint with random weights "
                            "(its captions are nonsense). Load a real BLIP checkpoint with --model.")
                             .arg(options.modelPath));
  else
    modelLabel_->setText(tr("Model: %1").arg(options.modelPath));
  imageLabel_ = new QLabel(central);
  imageLabel_->setAlignment(Qt::AlignCenter);
  imageLabel_->setMinimumSize(320, 240);
  layout->addWidget(modelLabel_);
  layout->addWidget(imageLabel_, 1);
  setCentralWidget(central);
  if (!options.imagePath.isEmpty()) openImage(options.imagePath);
  resize(1000, 720);
}

void MainWindow::openImage(const QString& path) {
  QImageReader reader(path);
  reader.setAutoTransform(true);  // EXIF orientation, as the model sees it
  const QImage image = reader.read();
  if (image.isNull()) {
    statusBar()->showMessage(tr("Cannot open %1: %2").arg(path, reader.errorString()));
    return;
  }
  imageLabel_->setPixmap(QPixmap::fromImage(image).scaled(800, 560, Qt::KeepAspectRatio, Qt::SmoothTransformation));
  statusBar()->showMessage(tr("%1 (%2 x %3)").arg(path).arg(image.width()).arg(image.height()));
}

int runGui(int argc, char** argv, const StartOptions& options) {
  QApplication app(argc, argv);
  QApplication::setApplicationName(QStringLiteral("VLMScope"));
  QApplication::setOrganizationName(QStringLiteral("VLMScope"));
  MainWindow window(options);
  window.show();
  return app.exec();
}

}  // namespace vlm::ui
