#pragma once
// Shapley results in the window: a bar chart (largest |value| first, standard errors as
// whiskers), a force plot (from v(none) to v(all), positive features pushing right, negative
// left), the feature masks as a gallery and the interaction network. Hovering a bar, a force
// segment or a gallery entry reports the feature, which the window highlights on the image.
// Everything here is plain data prepared on the worker; nothing calls the core.

#include <QImage>
#include <QString>
#include <QTabWidget>
#include <QWidget>

#include <vector>

class QLabel;
class QListWidget;

namespace vlm::ui {

struct ShapOutputView {
  QString title;               // "token 2 'consent'"
  int position = -1;           // token position (-1: a whole text)
  double base = 0, full = 0;   // v(none), v(all)
  std::vector<double> values, errors;  // per feature
  QImage overlay;              // the values painted over the image (colormap)
  QImage network;              // interactions: the network plot (null when not computed)
};

struct ShapPresentation {
  std::vector<QString> labels;     // per feature
  std::vector<QImage> thumbnails;  // per feature: the image with the feature lit, the rest dimmed
  std::vector<QImage> regions;     // per feature: Grayscale8 mask of the image's size (255 inside)
  std::vector<ShapOutputView> outputs;
  int outputAt(int position) const;  // the output explaining this token, -1 if none
};

// A plot whose parts stand for features: the one under the mouse is drawn darker and reported.
class FeaturePlot : public QWidget {
  Q_OBJECT
 public:
  explicit FeaturePlot(QWidget* parent = nullptr);

 Q_SIGNALS:
  void featureHovered(int feature);  // -1: none

 protected:
  void hover(int feature);  // repaints and reports when it changes
  void leaveEvent(QEvent*) override;
  int hovered_ = -1;
};

// The bars (sorted by |value|, the rest summed into "others").
class ShapBarChart : public FeaturePlot {
  Q_OBJECT
 public:
  explicit ShapBarChart(QWidget* parent = nullptr);
  void setData(const std::vector<QString>& labels, const std::vector<double>& values, const std::vector<double>& errors, const QString& title,
               int maxBars = 12);
  int barCount() const { return int(order_.size()) + (othersCount_ > 0 ? 1 : 0); }
  std::vector<int> shownFeatures() const { return order_; }  // the features with their own bar, top first
  QRectF barRect(int row) const;  // row's bar in widget coordinates (tests hover it)
  QSize sizeHint() const override;

 protected:
  void paintEvent(QPaintEvent*) override;
  void mouseMoveEvent(QMouseEvent* event) override;

 private:
  std::vector<QString> labels_;
  std::vector<double> values_, errors_;
  std::vector<int> order_;
  int othersCount_ = 0;
  double othersSum_ = 0;
  QString title_;
  double lo_ = 0, hi_ = 0;
  int rowHeight() const { return 18; }
  int top() const { return 24; }
  int labelWidth() const { return std::min(width() / 3, 130); }
  double xOf(double v) const;
};

// The force plot: v(none) -> v(all) as stacked arrows.
class ShapForcePlot : public FeaturePlot {
  Q_OBJECT
 public:
  explicit ShapForcePlot(QWidget* parent = nullptr);
  void setData(const std::vector<QString>& labels, const std::vector<double>& values, double base, double full, const QString& title);
  // The segments as drawn: feature, [from, to] in value units (tests check they tile base..full).
  struct Segment {
    int feature;
    double from, to;  // from < to
    bool positive;    // pushes towards larger values (drawn left of v(all), pointing right)
  };
  const std::vector<Segment>& segments() const { return segments_; }
  QSize sizeHint() const override;

 protected:
  void paintEvent(QPaintEvent*) override;
  void mouseMoveEvent(QMouseEvent* event) override;

 private:
  std::vector<QString> labels_;
  std::vector<Segment> segments_;
  double base_ = 0, full_ = 0, lo_ = 0, hi_ = 1;
  QString title_;
  double xOf(double v) const;
};

class ShapView : public QTabWidget {
  Q_OBJECT
 public:
  explicit ShapView(QWidget* parent = nullptr);
  void setPresentation(const ShapPresentation* p);  // null clears; the window owns the data
  void showOutput(int output);
  ShapBarChart* bars() const { return bars_; }
  ShapForcePlot* force() const { return force_; }
  QListWidget* gallery() const { return gallery_; }
  bool hasNetwork() const;

 Q_SIGNALS:
  void featureHovered(int feature);

 private:
  const ShapPresentation* p_ = nullptr;
  ShapBarChart* bars_;
  ShapForcePlot* force_;
  QListWidget* gallery_;
  QLabel* network_;
};

}  // namespace vlm::ui
