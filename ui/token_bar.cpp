#include "token_bar.h"

#include "flow_layout.h"

#include <QKeyEvent>
#include <QToolButton>

namespace vlm::ui {

TokenBar::TokenBar(QWidget* parent) : QWidget(parent) {
  layout_ = new FlowLayout(this, 2);
  setFocusPolicy(Qt::StrongFocus);
}

void TokenBar::clear() {
  for (auto* b : buttons_) {
    layout_->removeWidget(b);
    b->deleteLater();
  }
  buttons_.clear();
  tokens_.clear();
  selected_ = -1;
}

void TokenBar::setTokens(const QStringList& tokens) {
  clear();
  tokens_ = tokens;
  for (int k = 1; k < tokens.size(); ++k) {
    QString t = tokens[k];
    const bool continuation = t.startsWith(QStringLiteral("##"));
    if (continuation) t = t.mid(2);
    auto* b = new QToolButton(this);
    b->setText(t);
    b->setCheckable(true);
    b->setAutoRaise(false);
    b->setToolTip(tr("token %1: %2").arg(k).arg(tokens[k]));
    b->setProperty("position", k);
    if (continuation) b->setToolTip(tr("token %1: %2 (continues the previous word)").arg(k).arg(tokens[k]));
    connect(b, &QToolButton::clicked, this, [this, k] { select(k); });
    layout_->addWidget(b);
    buttons_.push_back(b);
  }
}

QToolButton* TokenBar::chip(int position) const {
  return position >= 1 && position <= count() ? buttons_[size_t(position - 1)] : nullptr;
}

QString TokenBar::text() const {
  QString s;
  for (auto* b : buttons_) s += b->text() + QLatin1Char(' ');
  return s.trimmed();
}

void TokenBar::select(int position) {
  if (position < 1 || position > count()) return;
  for (auto* b : buttons_) b->setChecked(b->property("position").toInt() == position);
  if (position == selected_) return;
  selected_ = position;
  Q_EMIT tokenSelected(position);
}

void TokenBar::selectNext() { select(selected_ < 1 ? 1 : std::min(selected_ + 1, count())); }
void TokenBar::selectPrevious() { select(selected_ < 1 ? 1 : std::max(selected_ - 1, 1)); }

void TokenBar::keyPressEvent(QKeyEvent* event) {
  if (event->key() == Qt::Key_Right) selectNext();
  else if (event->key() == Qt::Key_Left) selectPrevious();
  else QWidget::keyPressEvent(event);
}

}  // namespace vlm::ui
