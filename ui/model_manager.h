#pragma once
// The model manager (File > Models...): the bundled demo models, the checkpoints in the
// Hugging Face cache and the known real ones still to download, in one table. Download (with
// progress, cancel and resume: io::downloadModel over Qt Network, off the GUI thread), verify a
// cached model against its checksums, or use the selected one in the window.

#include <QDialog>

#include <vector>

#include "pipeline/model_catalog.h"

class QLabel;
class QProgressBar;
class QPushButton;
class QTableWidget;

namespace vlm::ui {

class JobRunner;

class ModelManagerDialog : public QDialog {
  Q_OBJECT
 public:
  explicit ModelManagerDialog(QWidget* parent = nullptr);
  ~ModelManagerDialog() override;

  void refresh();  // reads the catalog again (folders and config.json files only: fast)
  const std::vector<CatalogEntry>& entries() const { return entries_; }
  void selectRow(int row);
  bool busy() const;

  // For tests and keyboard users: the dialog's controls.
  QTableWidget* table() const { return table_; }
  QPushButton* downloadButton() const { return download_; }
  QPushButton* verifyButton() const { return verify_; }
  QPushButton* useButton() const { return use_; }
  QPushButton* cancelButton() const { return cancel_; }
  QString statusText() const;

 Q_SIGNALS:
  // The user chose a model folder of `family` to load in the window.
  void useModel(const QString& path, vlm::models::ModelFamily family);
  void jobFinished();  // a download or verification ended (done, failed or cancelled)

 private:
  int currentRow() const;
  void updateButtons();
  void download();
  void verify();
  void use();

  QTableWidget* table_ = nullptr;
  QLabel* status_ = nullptr;
  QProgressBar* progress_ = nullptr;
  QPushButton *download_ = nullptr, *verify_ = nullptr, *use_ = nullptr, *cancel_ = nullptr;
  JobRunner* runner_ = nullptr;
  std::vector<CatalogEntry> entries_;
};

}  // namespace vlm::ui
