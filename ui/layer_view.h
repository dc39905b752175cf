#pragma once
// The layer evolution of one token: its Grad-CAM on every vision layer (shallow -> deep, then
// post_layernorm), as frames with a slider and a play button. The frames are prepared on the
// worker; showing one hands its overlay to the canvas.

#include <QImage>
#include <QString>
#include <QWidget>

#include <vector>

class QLabel;
class QListWidget;
class QPushButton;
class QSlider;
class QTimer;

namespace vlm::ui {

struct LayerFrames {
  QString title;                // "token 2 'consent', Grad-CAM"
  std::vector<QString> labels;  // "layer 0", ..., "post_layernorm"
  std::vector<QImage> overlays; // one per layer, the image's size
  std::vector<QImage> thumbnails;  // optional: the image with the map blended, for the strip
};

class LayerView : public QWidget {
  Q_OBJECT
 public:
  explicit LayerView(QWidget* parent = nullptr);
  void setFrames(LayerFrames frames);  // shows the deepest
  void clear(const QString& hint = {});
  int frameCount() const { return int(frames_.overlays.size()); }
  int currentFrame() const;
  QString frameLabel(int index) const;  // "layer 3 (4 of 13)" with the title
  bool playing() const;
  QPushButton* computeButton() const { return compute_; }
  QPushButton* playButton() const { return play_; }
  void setInterval(int ms);

 public Q_SLOTS:
  void setFrame(int index);
  void setPlaying(bool on);

 Q_SIGNALS:
  void computeRequested();
  void frameShown(int index, const QImage& overlay);

 private:
  LayerFrames frames_;
  QPushButton* compute_;
  QPushButton* play_;
  QSlider* slider_;
  QLabel* label_;
  QLabel* title_;
  QListWidget* strip_;
  QTimer* timer_;
};

}  // namespace vlm::ui
