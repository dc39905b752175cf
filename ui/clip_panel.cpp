#include "clip_panel.h"

#include <QHeaderView>
#include <QLabel>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QTableWidget>
#include <QVBoxLayout>

namespace vlm::ui {

ClipPanel::ClipPanel(QWidget* parent) : QWidget(parent) {
  auto* layout = new QVBoxLayout(this);
  auto* hint = new QLabel(tr("Texts to score against the image with CLIP, one per line (needs a CLIP model in the model bar). "
                             "Click a row to see where CLIP finds that text."),
                          this);
  hint->setWordWrap(true);
  edit_ = new QPlainTextEdit(this);
  edit_->setObjectName(QStringLiteral("clipTexts"));
  edit_->setPlaceholderText(tr("a photo of an astronaut\na photo of a cat"));
  edit_->setMaximumHeight(110);
  score_ = new QPushButton(tr("Score"), this);
  score_->setObjectName(QStringLiteral("clipScore"));
  table_ = new QTableWidget(0, 3, this);
  table_->setHorizontalHeaderLabels({tr("text"), tr("cosine"), tr("probability")});
  table_->horizontalHeader()->setSectionResizeMode(0, QHeaderView::Stretch);
  table_->setSelectionBehavior(QAbstractItemView::SelectRows);
  table_->setSelectionMode(QAbstractItemView::SingleSelection);
  table_->setEditTriggers(QAbstractItemView::NoEditTriggers);
  table_->verticalHeader()->setVisible(false);
  message_ = new QLabel(this);
  message_->setWordWrap(true);
  layout->addWidget(hint);
  layout->addWidget(edit_);
  layout->addWidget(score_);
  layout->addWidget(table_, 1);
  layout->addWidget(message_);
  connect(edit_, &QPlainTextEdit::textChanged, this, [this] {
    if (!settingText_) edited_ = true;
  });
  connect(score_, &QPushButton::clicked, this, [this] {
    if (texts().isEmpty()) setMessage(tr("Type at least one text."));
    else Q_EMIT scoreRequested(texts());
  });
  connect(table_, &QTableWidget::cellClicked, this, [this](int row, int) {
    if (auto* item = table_->item(row, 0)) Q_EMIT explainRequested(item->text());
  });
}

QStringList ClipPanel::texts() const {
  QStringList out;
  for (const QString& line : edit_->toPlainText().split(QLatin1Char('\n')))
    if (!line.trimmed().isEmpty()) out << line.trimmed();
  return out;
}

void ClipPanel::setTexts(const QStringList& texts) {
  settingText_ = true;
  edit_->setPlainText(texts.join(QLatin1Char('\n')));
  settingText_ = false;
}

void ClipPanel::offerCaption(const QString& caption) {
  if (edited_ && !edit_->toPlainText().trimmed().isEmpty()) return;
  setTexts({caption});
  edited_ = false;
}

void ClipPanel::setScores(const ClipScores& s) {
  scores_ = s;
  table_->setRowCount(int(s.texts.size()));
  for (int i = 0; i < int(s.texts.size()); ++i) {
    auto* text = new QTableWidgetItem(s.texts[size_t(i)]);
    if (s.truncated[size_t(i)]) text->setToolTip(tr("longer than CLIP's 77 positions: truncated"));
    table_->setItem(i, 0, text);
    table_->setItem(i, 1, new QTableWidgetItem(QString::number(s.cosine[size_t(i)], 'f', 4)));
    table_->setItem(i, 2, new QTableWidgetItem(QString::number(s.probability[size_t(i)], 'f', 3)));
  }
  message_->clear();
}

void ClipPanel::setMessage(const QString& message) { message_->setText(message); }

}  // namespace vlm::ui
