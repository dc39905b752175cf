#pragma once
// The caption (or answer) as clickable token chips. Position K is the K-th generated token
// ([DEC] = 0 is not shown), wrapped onto several lines when long. Left / right walk the tokens;
// a click or a key selects one.

#include <QStringList>
#include <QWidget>

#include <vector>

class QToolButton;

namespace vlm::ui {

class TokenBar : public QWidget {
  Q_OBJECT
 public:
  explicit TokenBar(QWidget* parent = nullptr);
  // tokens[0] is [DEC] (not shown); WordPiece continuations ("##s") are shown without "##"
  // (their tooltip says they continue the previous word).
  void setTokens(const QStringList& tokens);
  void clear();
  int count() const { return int(buttons_.size()); }
  int selected() const { return selected_; }  // position, -1 none
  QToolButton* chip(int position) const;      // position 1..count
  QString text() const;                        // the caption as shown

 public Q_SLOTS:
  void select(int position);  // emits tokenSelected when it changes
  void selectNext();
  void selectPrevious();

 Q_SIGNALS:
  void tokenSelected(int position);

 protected:
  void keyPressEvent(QKeyEvent* event) override;

 private:
  class FlowLayout* layout_ = nullptr;
  std::vector<QToolButton*> buttons_;
  QStringList tokens_;
  int selected_ = -1;
};

}  // namespace vlm::ui
