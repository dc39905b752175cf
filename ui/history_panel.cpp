#include "history_panel.h"

#include <QHBoxLayout>
#include <QLabel>
#include <QListWidget>
#include <QPainter>
#include <QPushButton>
#include <QVBoxLayout>

namespace vlm::ui {

QImage blended(const QImage& image, const QImage& overlay, double opacity) {
  QImage out = image.convertToFormat(QImage::Format_RGB32);
  if (!overlay.isNull()) {
    QPainter p(&out);
    p.setOpacity(opacity);
    p.drawImage(out.rect(), overlay);
  }
  return out;
}

CompareDialog::CompareDialog(const HistoryEntry& a, const HistoryEntry& b, double opacity, QWidget* parent) : QDialog(parent) {
  setWindowTitle(tr("Compare explanations"));
  auto* outer = new QVBoxLayout(this);
  auto* row = new QHBoxLayout();
  outer->addLayout(row);
  agreement_ = new QLabel(tr("Agreement of the two maps: computing..."), this);
  agreement_->setWordWrap(true);
  outer->addWidget(agreement_);
  for (const HistoryEntry* e : {&a, &b}) {
    auto* column = new QVBoxLayout();
    auto* title = new QLabel(QStringLiteral("<b>%1</b>").arg(e->title.toHtmlEscaped()), this);
    title->setWordWrap(true);
    auto* picture = new QLabel(this);
    picture->setPixmap(QPixmap::fromImage(blended(e->image, e->overlay, opacity)).scaled(420, 420, Qt::KeepAspectRatio, Qt::SmoothTransformation));
    auto* detail = new QLabel(e->detail, this);
    detail->setWordWrap(true);
    column->addWidget(title);
    column->addWidget(picture, 1);
    column->addWidget(detail);
    row->addLayout(column);
    titles_ += e->title + QLatin1Char('\n');
  }
}

QString CompareDialog::titles() const { return titles_; }
void CompareDialog::setAgreement(const QString& text) { agreement_->setText(text); }
QString CompareDialog::agreement() const { return agreement_->text(); }

HistoryPanel::HistoryPanel(QWidget* parent) : QWidget(parent) {
  auto* layout = new QVBoxLayout(this);
  list_ = new QListWidget(this);
  list_->setSelectionMode(QAbstractItemView::ExtendedSelection);
  list_->setIconSize(QSize(56, 56));
  compare_ = new QPushButton(tr("Compare the two selected"), this);
  compare_->setObjectName(QStringLiteral("compare"));
  compare_->setEnabled(false);
  layout->addWidget(new QLabel(tr("Every explanation of this session; double-click one to show it again, select two to compare."), this));
  layout->addWidget(list_, 1);
  layout->addWidget(compare_);
  connect(list_, &QListWidget::itemSelectionChanged, this, [this] { compare_->setEnabled(list_->selectedItems().size() == 2); });
  connect(list_, &QListWidget::itemActivated, this, [this](QListWidgetItem* item) { Q_EMIT entryActivated(list_->row(item)); });
  connect(compare_, &QPushButton::clicked, this, &HistoryPanel::compareSelected);
  layout->itemAt(0)->widget()->setProperty("wordWrap", true);
}

int HistoryPanel::add(HistoryEntry entry) {
  if (int(entries_.size()) >= limit) {
    entries_.erase(entries_.begin());
    delete list_->takeItem(0);
    Q_EMIT entryDropped();
  }
  const QImage thumb = blended(entry.image, entry.overlay, opacity_).scaled(56, 56, Qt::KeepAspectRatio, Qt::SmoothTransformation);
  auto* item = new QListWidgetItem(QIcon(QPixmap::fromImage(thumb)), entry.title, list_);
  item->setToolTip(entry.detail);
  entries_.push_back(std::move(entry));
  list_->scrollToItem(item);
  return int(entries_.size()) - 1;
}

void HistoryPanel::clear() {
  entries_.clear();
  list_->clear();
}

void HistoryPanel::compareSelected() {
  const auto selected = list_->selectedItems();
  if (selected.size() != 2) return;
  int a = list_->row(selected[0]), b = list_->row(selected[1]);
  if (a > b) std::swap(a, b);
  delete dialog_;
  dialog_ = new CompareDialog(entries_[size_t(a)], entries_[size_t(b)], opacity_, this);
  dialog_->show();
  Q_EMIT compared(a, b);
}

}  // namespace vlm::ui
