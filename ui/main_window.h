#pragma once
#include <QMainWindow>
#include <QString>

class QLabel;

namespace vlm::ui {

struct StartOptions {
  QString modelPath;   // checkpoint folder or hub id; empty: none loaded
  QString imagePath;   // image to open at start; empty: none
  bool demoModel = false;  // the model is the bundled tiny demo checkpoint
};

class MainWindow : public QMainWindow {
  Q_OBJECT
 public:
  explicit MainWindow(const StartOptions& options, QWidget* parent = nullptr);

 private:
  void openImage(const QString& path);
  QLabel* imageLabel_ = nullptr;
  QLabel* modelLabel_ = nullptr;
  StartOptions options_;
};

// Runs the GUI event loop (QApplication must not exist yet).
int runGui(int argc, char** argv, const StartOptions& options);

}  // namespace vlm::ui
