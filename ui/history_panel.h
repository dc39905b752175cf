#pragma once
// The runs of a session: every explanation shown in the window becomes an entry (what was
// explained, how, a thumbnail of the map over the image). Activating an entry shows it again;
// selecting two and "Compare" puts them side by side.

#include <QDialog>
#include <QImage>
#include <QString>
#include <QWidget>

#include <vector>

class QLabel;
class QListWidget;
class QPushButton;

namespace vlm::ui {

struct HistoryEntry {
  QString title;   // "token 2 'consent' - Grad-CAM, post_layernorm"
  QString detail;  // image, text, log p, timings
  QImage image;    // the image the map explains
  QImage overlay;  // the map (colormap), the image's size
};

// The image with the map blended over it (opacity 0..1).
QImage blended(const QImage& image, const QImage& overlay, double opacity);

class CompareDialog : public QDialog {
  Q_OBJECT
 public:
  CompareDialog(const HistoryEntry& a, const HistoryEntry& b, double opacity, QWidget* parent = nullptr);
  QString titles() const;  // both titles, for tests
  void setAgreement(const QString& text);  // how similar the two maps are (computed by the window)
  QString agreement() const;
 private:
  QString titles_;
  QLabel* agreement_;
};

class HistoryPanel : public QWidget {
  Q_OBJECT
 public:
  explicit HistoryPanel(QWidget* parent = nullptr);
  int add(HistoryEntry entry);  // returns its index; the oldest entries go beyond `limit`
  int count() const { return int(entries_.size()); }
  const HistoryEntry& entry(int index) const { return entries_[size_t(index)]; }
  QListWidget* list() const { return list_; }
  QPushButton* compareButton() const { return compare_; }
  void setOpacity(double opacity) { opacity_ = opacity; }
  void clear();
  CompareDialog* lastComparison() const { return dialog_; }
  static constexpr int limit = 50;

 public Q_SLOTS:
  void compareSelected();  // the two selected entries side by side (needs exactly two)

 Q_SIGNALS:
  void entryActivated(int index);
  void entryDropped();  // the oldest entry went (indices shift down by one)
  void compared(int first, int second);  // a comparison dialog opened for these entries

 private:
  std::vector<HistoryEntry> entries_;
  QListWidget* list_;
  QPushButton* compare_;
  CompareDialog* dialog_ = nullptr;
  double opacity_ = 0.5;
};

}  // namespace vlm::ui
