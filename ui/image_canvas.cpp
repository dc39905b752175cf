#include "image_canvas.h"

#include <QGraphicsItemGroup>
#include <QGraphicsLineItem>
#include <QGraphicsPixmapItem>
#include <QGraphicsScene>
#include <QMouseEvent>
#include <QPen>
#include <QWheelEvent>

#include <cmath>

namespace vlm::ui {

ImageCanvas::ImageCanvas(QWidget* parent) : QGraphicsView(parent) {
  setScene(new QGraphicsScene(this));
  setDragMode(QGraphicsView::ScrollHandDrag);
  setTransformationAnchor(QGraphicsView::AnchorUnderMouse);
  setRenderHint(QPainter::SmoothPixmapTransform);
  setMouseTracking(true);
  setBackgroundBrush(QColor(40, 40, 40));
  setMinimumSize(320, 240);
}

void ImageCanvas::setImage(const QImage& image) {
  scene()->clear();
  overlay_ = nullptr;
  grid_ = nullptr;
  image_ = scene()->addPixmap(QPixmap::fromImage(image));
  image_->setTransformationMode(Qt::SmoothTransformation);
  scene()->setSceneRect(image_->boundingRect());
  fitToWindow();
}

bool ImageCanvas::hasImage() const { return image_ != nullptr; }
QSize ImageCanvas::imageSize() const { return image_ ? image_->pixmap().size() : QSize(); }

void ImageCanvas::setOverlay(const QImage& overlay) {
  if (overlay_) {
    scene()->removeItem(overlay_);
    delete overlay_;
    overlay_ = nullptr;
  }
  if (overlay.isNull() || !image_) return;
  overlay_ = scene()->addPixmap(QPixmap::fromImage(overlay));
  overlay_->setTransformationMode(Qt::SmoothTransformation);
  overlay_->setZValue(1);
  overlay_->setOpacity(opacity_);
  overlay_->setVisible(overlayVisible_);
  // A map of another size (e.g. the patch grid) is stretched over the image.
  overlay_->setTransform(QTransform::fromScale(double(imageSize().width()) / overlay.width(), double(imageSize().height()) / overlay.height()));
}

bool ImageCanvas::hasOverlay() const { return overlay_ != nullptr; }

void ImageCanvas::setOverlayOpacity(double opacity) {
  opacity_ = std::clamp(opacity, 0.0, 1.0);
  if (overlay_) overlay_->setOpacity(opacity_);
}

void ImageCanvas::setOverlayVisible(bool visible) {
  overlayVisible_ = visible;
  if (overlay_) overlay_->setVisible(visible);
}

void ImageCanvas::setGridLines(const std::vector<QLineF>& lines) {
  if (grid_) {
    scene()->destroyItemGroup(grid_);
    grid_ = nullptr;
  }
  if (lines.empty() || !image_) return;
  QPen pen(QColor(255, 255, 255, 110));
  pen.setCosmetic(true);
  QList<QGraphicsItem*> items;
  for (const auto& l : lines) items << scene()->addLine(l, pen);
  grid_ = scene()->createItemGroup(items);
  grid_->setZValue(2);
  grid_->setVisible(false);
}

void ImageCanvas::setGridVisible(bool visible) {
  if (grid_) grid_->setVisible(visible);
}

double ImageCanvas::zoom() const { return transform().m11(); }

void ImageCanvas::fitToWindow() {
  if (!image_) return;
  fitted_ = true;
  fitInView(image_, Qt::KeepAspectRatio);
  Q_EMIT zoomChanged(zoom());
}

void ImageCanvas::actualSize() {
  fitted_ = false;
  setTransform(QTransform());
  Q_EMIT zoomChanged(zoom());
}

void ImageCanvas::zoomBy(double factor) {
  const double z = zoom() * factor;
  if (z < 0.02 || z > 64) return;
  fitted_ = false;
  scale(factor, factor);
  Q_EMIT zoomChanged(zoom());
}

void ImageCanvas::wheelEvent(QWheelEvent* event) {
  if (!image_) return;
  zoomBy(std::pow(1.0015, event->angleDelta().y()));
  event->accept();
}

void ImageCanvas::mouseMoveEvent(QMouseEvent* event) {
  QGraphicsView::mouseMoveEvent(event);
  if (!image_) return;
  const QPointF p = mapToScene(event->position().toPoint());
  const QSize s = imageSize();
  if (p.x() >= 0 && p.y() >= 0 && p.x() < s.width() && p.y() < s.height()) Q_EMIT hoveredPixel(int(p.x()), int(p.y()));
  else Q_EMIT hoveredPixel(-1, -1);
}

void ImageCanvas::resizeEvent(QResizeEvent* event) {
  QGraphicsView::resizeEvent(event);
  if (fitted_) fitToWindow();
}

}  // namespace vlm::ui
