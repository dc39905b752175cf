#include "layer_view.h"

#include <QLabel>
#include <QListWidget>
#include <QPushButton>
#include <QSlider>
#include <QTimer>
#include <QVBoxLayout>

namespace vlm::ui {

LayerView::LayerView(QWidget* parent) : QWidget(parent) {
  auto* layout = new QVBoxLayout(this);
  compute_ = new QPushButton(tr("Show the layer evolution of the selected word"), this);
  compute_->setObjectName(QStringLiteral("layerEvolution"));
  title_ = new QLabel(this);
  title_->setWordWrap(true);
  slider_ = new QSlider(Qt::Horizontal, this);
  play_ = new QPushButton(tr("Play"), this);
  play_->setCheckable(true);
  play_->setObjectName(QStringLiteral("playLayers"));
  label_ = new QLabel(this);
  // Every layer at a glance: click one to show it.
  strip_ = new QListWidget(this);
  strip_->setViewMode(QListView::IconMode);
  strip_->setIconSize(QSize(72, 72));
  strip_->setResizeMode(QListView::Adjust);
  strip_->setMovement(QListView::Static);
  strip_->setSpacing(2);
  connect(strip_, &QListWidget::itemClicked, this, [this](QListWidgetItem* item) { setFrame(strip_->row(item)); });
  auto* row = new QHBoxLayout();
  row->addWidget(play_);
  row->addWidget(slider_, 1);
  layout->addWidget(compute_);
  layout->addWidget(title_);
  layout->addLayout(row);
  layout->addWidget(label_);
  layout->addWidget(strip_, 1);
  timer_ = new QTimer(this);
  timer_->setInterval(700);
  connect(compute_, &QPushButton::clicked, this, &LayerView::computeRequested);
  connect(slider_, &QSlider::valueChanged, this, &LayerView::setFrame);
  connect(play_, &QPushButton::toggled, this, &LayerView::setPlaying);
  // One frame per tick; at the deepest layer playing stops.
  connect(timer_, &QTimer::timeout, this, [this] {
    if (currentFrame() + 1 >= frameCount()) {
      play_->setChecked(false);
      return;
    }
    slider_->setValue(currentFrame() + 1);
  });
  clear(tr("Grad-CAM of the selected word on every vision layer, from the patch embeddings up."));
}

void LayerView::setInterval(int ms) { timer_->setInterval(ms); }
int LayerView::currentFrame() const { return frameCount() ? slider_->value() : -1; }
bool LayerView::playing() const { return timer_->isActive(); }

QString LayerView::frameLabel(int index) const {
  if (index < 0 || index >= frameCount()) return {};
  return tr("%1, %2 (%3 of %4)").arg(frames_.title, frames_.labels[size_t(index)]).arg(index + 1).arg(frameCount());
}

void LayerView::clear(const QString& hint) {
  play_->setChecked(false);
  frames_ = {};
  strip_->clear();
  title_->setText(hint);
  label_->clear();
  const QSignalBlocker block(slider_);
  slider_->setRange(0, 0);
  slider_->setEnabled(false);
  play_->setEnabled(false);
}

void LayerView::setFrames(LayerFrames frames) {
  play_->setChecked(false);
  frames_ = std::move(frames);
  title_->setText(frames_.title);
  strip_->clear();
  for (size_t i = 0; i < frames_.overlays.size(); ++i) {
    const QImage thumb = (frames_.thumbnails.size() == frames_.overlays.size() ? frames_.thumbnails[i] : frames_.overlays[i])
                             .scaled(72, 72, Qt::KeepAspectRatio, Qt::SmoothTransformation);
    new QListWidgetItem(QIcon(QPixmap::fromImage(thumb)), frames_.labels[i], strip_);
  }
  {
    const QSignalBlocker block(slider_);
    slider_->setRange(0, std::max(0, frameCount() - 1));
  }
  slider_->setEnabled(frameCount() > 1);
  play_->setEnabled(frameCount() > 1);
  setFrame(frameCount() - 1);
}

void LayerView::setFrame(int index) {
  if (index < 0 || index >= frameCount()) return;
  if (slider_->value() != index) {
    const QSignalBlocker block(slider_);
    slider_->setValue(index);
  }
  label_->setText(tr("%1 (%2 of %3)").arg(frames_.labels[size_t(index)]).arg(index + 1).arg(frameCount()));
  for (int i = 0; i < strip_->count(); ++i) strip_->item(i)->setSelected(i == index);
  strip_->scrollToItem(strip_->item(index));
  Q_EMIT frameShown(index, frames_.overlays[size_t(index)]);
}

void LayerView::setPlaying(bool on) {
  if (on && frameCount() > 1) {
    if (currentFrame() + 1 >= frameCount()) setFrame(0);  // from the start again
    timer_->start();
    play_->setText(tr("Pause"));
  } else {
    timer_->stop();
    play_->setText(tr("Play"));
    if (play_->isChecked()) {
      const QSignalBlocker block(play_);
      play_->setChecked(false);
    }
  }
}

}  // namespace vlm::ui
