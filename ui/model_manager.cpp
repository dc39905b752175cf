#include "model_manager.h"

#include <QDialogButtonBox>
#include <QHeaderView>
#include <QHBoxLayout>
#include <QLabel>
#include <QProgressBar>
#include <QPushButton>
#include <QTableWidget>
#include <QVBoxLayout>

#include "hub_transport.h"
#include "io/hub_download.h"
#include "io/model_location.h"
#include "job_runner.h"

namespace vlm::ui {

namespace {

QString megabytes(uint64_t bytes) { return QString::number(double(bytes) / 1e6, 'f', 1) + QStringLiteral(" MB"); }

QString sourceLabel(ModelSource s) {
  switch (s) {
    case ModelSource::Bundled: return QObject::tr("bundled demo (shapes world)");
    case ModelSource::HuggingFaceCache: return QObject::tr("Hugging Face cache");
    case ModelSource::Downloadable: return QObject::tr("not downloaded");
  }
  return {};
}

}  // namespace

ModelManagerDialog::ModelManagerDialog(QWidget* parent) : QDialog(parent) {
  setWindowTitle(tr("Models"));
  resize(900, 420);
  auto* layout = new QVBoxLayout(this);
  auto* intro = new QLabel(tr("Checkpoints live in the Hugging Face cache (%1), shared with Python's transformers. "
                              "The bundled demo models know only VLMScope's synthetic shapes world.")
                               .arg(QString::fromStdString(io::huggingFaceHubCache().string())));
  intro->setWordWrap(true);
  layout->addWidget(intro);
  table_ = new QTableWidget(0, 4);
  table_->setHorizontalHeaderLabels({tr("Model"), tr("Where"), tr("Kind"), tr("Folder")});
  table_->setSelectionBehavior(QAbstractItemView::SelectRows);
  table_->setSelectionMode(QAbstractItemView::SingleSelection);
  table_->setEditTriggers(QAbstractItemView::NoEditTriggers);
  table_->horizontalHeader()->setStretchLastSection(true);
  table_->verticalHeader()->hide();
  layout->addWidget(table_, 1);
  progress_ = new QProgressBar;
  progress_->setRange(0, 1000);
  progress_->hide();
  status_ = new QLabel;
  status_->setWordWrap(true);
  status_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  layout->addWidget(progress_);
  layout->addWidget(status_);
  auto* buttons = new QHBoxLayout;
  download_ = new QPushButton(tr("&Download"));
  verify_ = new QPushButton(tr("&Verify"));
  use_ = new QPushButton(tr("&Use in window"));
  cancel_ = new QPushButton(tr("&Cancel download"));
  auto* refreshButton = new QPushButton(tr("&Refresh"));
  auto* close = new QPushButton(tr("Close"));
  for (auto* b : {download_, verify_, use_, cancel_, refreshButton}) buttons->addWidget(b);
  buttons->addStretch(1);
  buttons->addWidget(close);
  layout->addLayout(buttons);

  runner_ = new JobRunner(this);
  connect(runner_, &JobRunner::progressed, this, [this](double f, const QString& stage) {
    progress_->setValue(int(f * 1000));
    progress_->setFormat(stage + QStringLiteral(" %p%"));
  });
  connect(runner_, &JobRunner::cancelled, this, [this](const QString& what) {
    status_->setText(tr("%1: cancelled; the part already downloaded is kept and the next download resumes it.").arg(what));
  });
  connect(runner_, &JobRunner::idle, this, [this] {
    progress_->hide();
    updateButtons();
    Q_EMIT jobFinished();
  });
  connect(table_, &QTableWidget::itemSelectionChanged, this, &ModelManagerDialog::updateButtons);
  connect(table_, &QTableWidget::cellDoubleClicked, this, [this] {
    if (use_->isEnabled()) use();
  });
  connect(download_, &QPushButton::clicked, this, &ModelManagerDialog::download);
  connect(verify_, &QPushButton::clicked, this, &ModelManagerDialog::verify);
  connect(use_, &QPushButton::clicked, this, &ModelManagerDialog::use);
  connect(cancel_, &QPushButton::clicked, runner_, &JobRunner::cancel);
  connect(refreshButton, &QPushButton::clicked, this, &ModelManagerDialog::refresh);
  connect(close, &QPushButton::clicked, this, &QDialog::reject);
  refresh();
}

ModelManagerDialog::~ModelManagerDialog() = default;

void ModelManagerDialog::refresh() {
  const QString selected = currentRow() >= 0 ? QString::fromStdString(entries_[size_t(currentRow())].name) : QString();
  entries_ = modelCatalog();
  table_->setRowCount(int(entries_.size()));
  for (size_t i = 0; i < entries_.size(); ++i) {
    const auto& e = entries_[i];
    const QString where = e.path.empty() ? tr("vlmscope models download %1").arg(QString::fromStdString(e.downloadName))
                                         : QString::fromStdString(e.path.string());
    const QStringList cells{QString::fromStdString(e.name), sourceLabel(e.source), QString::fromStdString(e.kind), where};
    for (int c = 0; c < cells.size(); ++c) {
      auto* item = new QTableWidgetItem(cells[c]);
      item->setToolTip(cells[c]);
      table_->setItem(int(i), c, item);
    }
    if (QString::fromStdString(e.name) == selected) table_->selectRow(int(i));
  }
  table_->resizeColumnsToContents();
  updateButtons();
}

void ModelManagerDialog::selectRow(int row) { table_->selectRow(row); }

bool ModelManagerDialog::busy() const { return runner_->busy(); }

QString ModelManagerDialog::statusText() const { return status_->text(); }

int ModelManagerDialog::currentRow() const {
  const auto rows = table_->selectionModel() ? table_->selectionModel()->selectedRows() : QModelIndexList();
  if (rows.isEmpty()) return -1;
  const int r = rows.front().row();
  return r >= 0 && size_t(r) < entries_.size() ? r : -1;
}

void ModelManagerDialog::updateButtons() {
  const int row = currentRow();
  const bool working = runner_->busy();
  const CatalogEntry* e = row >= 0 ? &entries_[size_t(row)] : nullptr;
  download_->setEnabled(!working && e && e->source != ModelSource::Bundled);
  download_->setToolTip(e && e->source == ModelSource::HuggingFaceCache
                            ? tr("Fetches what is missing or damaged; files that match the hub's checksums are kept")
                            : tr("Into the Hugging Face cache, verified against the hub's checksums; an interrupted download resumes"));
  verify_->setEnabled(!working && e && e->source == ModelSource::HuggingFaceCache);
  use_->setEnabled(e && !e->path.empty() && e->family.has_value());
  cancel_->setEnabled(working);
}

void ModelManagerDialog::download() {
  const int row = currentRow();
  if (row < 0 || runner_->busy()) return;
  const std::string id = entries_[size_t(row)].name;
  progress_->setValue(0);
  progress_->show();
  status_->setText(tr("Downloading %1 into the Hugging Face cache...").arg(QString::fromStdString(id)));
  runner_->runQueued<io::DownloadReport>(
      tr("Downloading %1").arg(QString::fromStdString(id)),
      [id](const JobContext& job) {
        io::DownloadOptions o;
        o.model = id;
        QtHttpTransport transport;
        return io::downloadModel(o, transport, job);
      },
      [this](io::DownloadReport r) {
        int present = 0;
        for (const auto& f : r.files) present += f.alreadyPresent ? 1 : 0;
        status_->setText(tr("%1 is ready (%2 downloaded, %3 of %4 files were already there; every file matches the hub's checksum).")
                             .arg(QString::fromStdString(r.hubId), megabytes(r.bytesTransferred))
                             .arg(present)
                             .arg(r.files.size()));
        refresh();
      },
      [this](const QString& message) { status_->setText(tr("Download failed: %1").arg(message)); });
  updateButtons();
}

void ModelManagerDialog::verify() {
  const int row = currentRow();
  if (row < 0 || runner_->busy()) return;
  const CatalogEntry e = entries_[size_t(row)];
  progress_->setValue(0);
  progress_->show();
  runner_->runQueued<std::vector<io::VerifiedFile>>(
      tr("Verifying %1").arg(QString::fromStdString(e.name)),
      [dir = e.path](const JobContext& job) { return io::verifyCachedSnapshot(dir, job); },
      [this, name = QString::fromStdString(e.name)](std::vector<io::VerifiedFile> files) {
        QStringList bad;
        for (const auto& f : files)
          if (!f.ok) bad << QString::fromStdString(f.name + ": " + f.problem);
        status_->setText(bad.isEmpty() ? tr("%1: all %2 files match their checksums.").arg(name).arg(files.size())
                                       : tr("%1: %2 of %3 files do not match (download again to repair): %4")
                                             .arg(name)
                                             .arg(bad.size())
                                             .arg(files.size())
                                             .arg(bad.join(QStringLiteral("; "))));
      },
      [this](const QString& message) { status_->setText(tr("Verification failed: %1").arg(message)); });
  updateButtons();
}

void ModelManagerDialog::use() {
  const int row = currentRow();
  if (row < 0) return;
  const auto& e = entries_[size_t(row)];
  if (e.path.empty() || !e.family) return;
  Q_EMIT useModel(QString::fromStdString(e.path.string()), *e.family);
  accept();
}

}  // namespace vlm::ui
