#include "image_canvas.h"

#include <QGraphicsItemGroup>
#include <QGraphicsLineItem>
#include <QGraphicsPixmapItem>
#include <QGraphicsScene>
#include <QMouseEvent>
#include <QKeyEvent>
#include <QPainter>
#include <QPen>
#include <QUndoStack>
#include <QWheelEvent>

#include "mask_commands.h"

#include <cmath>
#include <tuple>

namespace vlm::ui {

namespace {

constexpr int kEdgeLeft = 1, kEdgeRight = 2, kEdgeTop = 4, kEdgeBottom = 8;
constexpr int kGrab = 6;  // screen pixels around an edge that grab it

// A mask rectangle with its corner handles drawn at a constant screen size.
class MaskItem : public QGraphicsRectItem {
 public:
  using QGraphicsRectItem::QGraphicsRectItem;
  void paint(QPainter* painter, const QStyleOptionGraphicsItem* option, QWidget* widget) override {
    QGraphicsRectItem::paint(painter, option, widget);
    const double scale = painter->worldTransform().m11();
    const double h = 5 / (scale > 0 ? scale : 1);
    painter->setPen(Qt::NoPen);
    painter->setBrush(isSelected() ? QColor(255, 255, 255) : QColor(255, 80, 80));
    const QRectF r = rect();
    for (const QPointF c : {r.topLeft(), r.topRight(), r.bottomLeft(), r.bottomRight()}) painter->drawRect(QRectF(c.x() - h / 2, c.y() - h / 2, h, h));
  }
};

Qt::CursorShape cursorFor(int edges) {
  const bool h = edges & (kEdgeLeft | kEdgeRight), v = edges & (kEdgeTop | kEdgeBottom);
  if (h && v) return (edges == (kEdgeLeft | kEdgeTop) || edges == (kEdgeRight | kEdgeBottom)) ? Qt::SizeFDiagCursor : Qt::SizeBDiagCursor;
  if (h) return Qt::SizeHorCursor;
  if (v) return Qt::SizeVerCursor;
  return Qt::CrossCursor;
}

}  // namespace

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
  highlight_ = nullptr;
  rubber_ = nullptr;
  resizing_.reset();
  awaitingSecondClick_ = false;
  masks_.clear();
  moveStart_.clear();
  dragStart_.reset();
  if (undo_) undo_->clear();  // edits of another image's masks cannot be undone here
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

void ImageCanvas::setHighlight(const QImage& mask) {
  if (highlight_) {
    scene()->removeItem(highlight_);
    delete highlight_;
    highlight_ = nullptr;
  }
  if (mask.isNull() || !image_) return;
  const QImage m = mask.convertToFormat(QImage::Format_Grayscale8);
  QImage shade(m.size(), QImage::Format_ARGB32_Premultiplied);
  for (int y = 0; y < m.height(); ++y) {
    const uchar* in = m.constScanLine(y);
    auto* out = reinterpret_cast<QRgb*>(shade.scanLine(y));
    for (int x = 0; x < m.width(); ++x) out[x] = in[x] >= 128 ? qRgba(0, 0, 0, 0) : qRgba(0, 0, 0, 150);
  }
  highlight_ = scene()->addPixmap(QPixmap::fromImage(shade));
  highlight_->setZValue(2.5);
  highlight_->setTransform(QTransform::fromScale(double(imageSize().width()) / m.width(), double(imageSize().height()) / m.height()));
}

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
  const QPointF p = mapToScene(event->position().toPoint());
  if (dragStart_ && rubber_) {
    rubber_->setRect(clampToImage(QRectF(*dragStart_, p).normalized()));
    event->accept();
    return;
  }
  if (resizing_) {
    QRectF r = resizing_->from;
    if (resizing_->edges & kEdgeLeft) r.setLeft(p.x());
    if (resizing_->edges & kEdgeRight) r.setRight(p.x());
    if (resizing_->edges & kEdgeTop) r.setTop(p.y());
    if (resizing_->edges & kEdgeBottom) r.setBottom(p.y());
    r = clampToImage(r.normalized());
    if (r.width() >= 1 && r.height() >= 1) setMaskRect(resizing_->id, r);
    event->accept();
    return;
  }
  if (maskMode_) {
    const auto edge = edgesUnder(event->position().toPoint());
    viewport()->setCursor(cursorFor(edge ? edge->second : 0));
  }
  QGraphicsView::mouseMoveEvent(event);
  if (!image_) return;
  const QSize s = imageSize();
  if (p.x() >= 0 && p.y() >= 0 && p.x() < s.width() && p.y() < s.height()) Q_EMIT hoveredPixel(int(p.x()), int(p.y()));
  else Q_EMIT hoveredPixel(-1, -1);
}

void ImageCanvas::resizeEvent(QResizeEvent* event) {
  QGraphicsView::resizeEvent(event);
  if (fitted_) fitToWindow();
}

QRectF ImageCanvas::clampToImage(const QRectF& r) const {
  return r.intersected(QRectF(QPointF(0, 0), QSizeF(imageSize())));
}

void ImageCanvas::setMaskMode(bool on) {
  maskMode_ = on;
  setDragMode(on ? QGraphicsView::NoDrag : QGraphicsView::ScrollHandDrag);
  setCursor(on ? Qt::CrossCursor : Qt::ArrowCursor);
}

int ImageCanvas::addMask(const QRectF& rect, int id) {
  if (id < 0) id = nextMaskId_++;
  nextMaskId_ = std::max(nextMaskId_, id + 1);
  auto* item = new MaskItem(QRectF(QPointF(0, 0), rect.size()));
  item->setPen(QPen(QColor(255, 80, 80), 0));
  item->setBrush(QColor(255, 80, 80, 70));
  scene()->addItem(item);
  item->setPos(rect.topLeft());
  item->setZValue(3);
  item->setFlag(QGraphicsItem::ItemIsSelectable);
  item->setFlag(QGraphicsItem::ItemIsMovable);
  item->setData(0, id);
  masks_[id] = item;
  Q_EMIT masksChanged();
  return id;
}

void ImageCanvas::removeMask(int id) {
  auto it = masks_.find(id);
  if (it == masks_.end()) return;
  scene()->removeItem(it->second);
  delete it->second;
  masks_.erase(it);
  Q_EMIT masksChanged();
}

void ImageCanvas::setMaskRect(int id, const QRectF& rect) {
  auto it = masks_.find(id);
  if (it == masks_.end()) return;
  it->second->setRect(QRectF(QPointF(0, 0), rect.size()));
  it->second->setPos(rect.topLeft());
  Q_EMIT masksChanged();
}

QRectF ImageCanvas::maskRect(int id) const {
  auto it = masks_.find(id);
  return it == masks_.end() ? QRectF() : it->second->rect().translated(it->second->pos());
}

std::vector<QRectF> ImageCanvas::masks() const {
  std::vector<QRectF> out;
  for (const auto& [id, item] : masks_) out.push_back(item->rect().translated(item->pos()));
  return out;
}

std::vector<int> ImageCanvas::maskIds() const {
  std::vector<int> out;
  for (const auto& [id, item] : masks_) out.push_back(id);
  return out;
}

int ImageCanvas::maskEdgesAt(int id, const QPoint& viewPos) const {
  auto it = masks_.find(id);
  if (it == masks_.end()) return 0;
  const QRectF r = mapFromScene(maskRect(id)).boundingRect();
  const double x = viewPos.x(), y = viewPos.y();
  if (x < r.left() - kGrab || x > r.right() + kGrab || y < r.top() - kGrab || y > r.bottom() + kGrab) return 0;
  int edges = 0;
  if (std::abs(x - r.left()) <= kGrab) edges |= kEdgeLeft;
  else if (std::abs(x - r.right()) <= kGrab) edges |= kEdgeRight;
  if (std::abs(y - r.top()) <= kGrab) edges |= kEdgeTop;
  else if (std::abs(y - r.bottom()) <= kGrab) edges |= kEdgeBottom;
  return edges;
}

std::optional<std::pair<int, int>> ImageCanvas::edgesUnder(const QPoint& viewPos) const {
  // The topmost (newest) mask wins.
  for (auto it = masks_.rbegin(); it != masks_.rend(); ++it)
    if (const int e = maskEdgesAt(it->first, viewPos)) return std::make_pair(it->first, e);
  return std::nullopt;
}

void ImageCanvas::deleteSelectedMasks() {
  std::vector<int> ids;
  for (const auto& [id, item] : masks_)
    if (item->isSelected()) ids.push_back(id);
  if (ids.empty()) return;
  if (undo_) {
    undo_->beginMacro(tr("Delete masks"));
    for (int id : ids) undo_->push(new RemoveMaskCommand(this, id));
    undo_->endMacro();
  } else {
    for (int id : ids) removeMask(id);
  }
}

void ImageCanvas::commitRubber(const QRectF& rect) {
  const QRectF r = clampToImage(rect.normalized());
  scene()->removeItem(rubber_);
  delete rubber_;
  rubber_ = nullptr;
  dragStart_.reset();
  awaitingSecondClick_ = false;
  if (r.width() < 1 || r.height() < 1) return;
  if (undo_) undo_->push(new AddMaskCommand(this, r));
  else addMask(r);
}

void ImageCanvas::mousePressEvent(QMouseEvent* event) {
  if (maskMode_ && image_ && event->button() == Qt::LeftButton) {
    const QPointF p = mapToScene(event->position().toPoint());
    if (awaitingSecondClick_ && dragStart_) {  // second corner of a two-click rectangle
      commitRubber(QRectF(*dragStart_, p));
      event->accept();
      return;
    }
    if (const auto edge = edgesUnder(event->position().toPoint())) {
      resizing_ = Resize{edge->first, edge->second, maskRect(edge->first)};
      event->accept();
      return;
    }
    QGraphicsItem* hit = itemAt(event->position().toPoint());
    const bool onMask = hit && hit->data(0).isValid() && masks_.count(hit->data(0).toInt());
    if (!onMask) {
      dragStart_ = p;
      rubber_ = scene()->addRect(QRectF(p, p), QPen(QColor(255, 80, 80), 0, Qt::DashLine));
      rubber_->setZValue(4);
      event->accept();
      return;
    }
    QGraphicsView::mousePressEvent(event);  // select / start moving
    moveStart_.clear();
    for (const auto& [id, item] : masks_)
      if (item->isSelected()) moveStart_[id] = item->rect().translated(item->pos());
    return;
  }
  QGraphicsView::mousePressEvent(event);
}

void ImageCanvas::mouseReleaseEvent(QMouseEvent* event) {
  if (resizing_) {
    const Resize r = *resizing_;
    resizing_.reset();
    const QRectF to = maskRect(r.id);
    if (to != r.from) {
      if (undo_) undo_->push(new MoveMaskCommand(this, r.id, r.from, to, tr("Resize mask")));
      else Q_EMIT masksChanged();
    }
    event->accept();
    return;
  }
  if (dragStart_ && rubber_) {
    const QRectF r = rubber_->rect();
    if (r.width() < 3 && r.height() < 3) awaitingSecondClick_ = true;  // a click: the next click is the other corner
    else commitRubber(r);
    event->accept();
    return;
  }
  QGraphicsView::mouseReleaseEvent(event);
  if (!moveStart_.empty()) {
    std::vector<std::tuple<int, QRectF, QRectF>> moved;
    for (const auto& [id, from] : moveStart_) {
      const QRectF to = clampToImage(maskRect(id));
      if (to != from) moved.emplace_back(id, from, to);
    }
    moveStart_.clear();
    if (!moved.empty()) {
      if (undo_) {
        undo_->beginMacro(tr("Move masks"));
        for (const auto& [id, from, to] : moved) undo_->push(new MoveMaskCommand(this, id, from, to));
        undo_->endMacro();
      } else {
        Q_EMIT masksChanged();
      }
    }
  }
}

void ImageCanvas::keyPressEvent(QKeyEvent* event) {
  if (event->key() == Qt::Key_Delete || event->key() == Qt::Key_Backspace) {
    deleteSelectedMasks();
    event->accept();
    return;
  }
  QGraphicsView::keyPressEvent(event);
}

}  // namespace vlm::ui
