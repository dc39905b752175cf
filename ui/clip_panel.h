#pragma once
// Image-text alignment with CLIP: texts (one per line, the caption by default) scored against
// the image (cosine, softmax probability over the texts); clicking a row asks for the map of
// that text (CLIP Grad-CAM) over the image. The panel only shows and asks; the window runs the
// model through the job runner.

#include <QString>
#include <QStringList>
#include <QWidget>

#include <vector>

class QLabel;
class QPlainTextEdit;
class QPushButton;
class QTableWidget;

namespace vlm::ui {

struct ClipScores {
  std::vector<QString> texts;
  std::vector<double> cosine, probability;
  std::vector<bool> truncated;
};

class ClipPanel : public QWidget {
  Q_OBJECT
 public:
  explicit ClipPanel(QWidget* parent = nullptr);
  QStringList texts() const;  // the non-empty lines
  void setTexts(const QStringList& texts);
  // The caption just shown: it becomes the first text unless the user has edited the list.
  void offerCaption(const QString& caption);
  void setScores(const ClipScores& scores);
  const ClipScores& scores() const { return scores_; }  // the last shown (empty before any)
  void setMessage(const QString& message);
  QTableWidget* table() const { return table_; }
  QPushButton* scoreButton() const { return score_; }
  QPlainTextEdit* editor() const { return edit_; }

 Q_SIGNALS:
  void scoreRequested(const QStringList& texts);
  void explainRequested(const QString& text);

 private:
  QPlainTextEdit* edit_;
  QPushButton* score_;
  QTableWidget* table_;
  QLabel* message_;
  bool edited_ = false;
  bool settingText_ = false;
  ClipScores scores_;
};

}  // namespace vlm::ui
