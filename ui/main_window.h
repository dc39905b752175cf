#pragma once
// The main window. For now: the image, the loaded model (and whether it is the bundled demo
// model), the caption computed in the background with progress and cancel.

#include <QFutureWatcher>
#include <QMainWindow>
#include <QString>

#include <memory>
#include <stop_token>

namespace vlm {
class Captioner;
struct CaptionResult;
}  // namespace vlm

class QLabel;
class QProgressBar;
class QPushButton;

namespace vlm::ui {

struct StartOptions {
  QString modelPath;        // checkpoint folder or hub id; empty: none loaded
  QString imagePath;        // image to open at start; empty: none
  bool demoModel = false;   // the model is the bundled tiny demo checkpoint
  QString screenshotPath;   // save the window there once the first caption is shown, then quit
};

class MainWindow : public QMainWindow {
  Q_OBJECT
 public:
  explicit MainWindow(const StartOptions& options, QWidget* parent = nullptr);
  ~MainWindow() override;

  QString captionText() const;  // what the caption label shows (tests)
  bool busy() const;

 public Q_SLOTS:
  void openImage(const QString& path);
  void openImageDialog();
  void loadModel(const QString& spec);
  void captionCurrentImage();
  void cancelWork();

 Q_SIGNALS:
  void captionReady(const QString& caption);
  void workFailed(const QString& message);
  void modelReady(const QString& spec);

 private:
  struct Job;
  void startJob(std::function<QString(std::stop_token)> work, std::function<void(const QString&)> done, const QString& what);
  void setBusy(bool busy, const QString& what = {});

  StartOptions options_;
  QString imagePath_;
  std::shared_ptr<vlm::Captioner> captioner_;
  QLabel* modelLabel_ = nullptr;
  QLabel* imageLabel_ = nullptr;
  QLabel* captionLabel_ = nullptr;
  QProgressBar* progress_ = nullptr;
  QPushButton* captionButton_ = nullptr;
  QPushButton* cancelButton_ = nullptr;
  QFutureWatcher<QString>* watcher_ = nullptr;
  std::stop_source stop_;
  bool pendingCaption_ = false;
};

// Runs the GUI event loop (QApplication must not exist yet).
int runGui(int argc, char** argv, const StartOptions& options);

}  // namespace vlm::ui
