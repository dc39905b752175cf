#pragma once
// The image canvas: the image with a heatmap overlay (opacity, on/off), zoom with the wheel
// (around the cursor), fit to the window and 100 %, panning by dragging, optional patch-grid
// lines, and the image pixel under the cursor.

#include <QGraphicsView>
#include <QImage>

#include <functional>
#include <map>
#include <optional>
#include <vector>

class QGraphicsPixmapItem;
class QGraphicsItemGroup;
class QGraphicsRectItem;
class QUndoStack;

namespace vlm::ui {

class ImageCanvas : public QGraphicsView {
  Q_OBJECT
 public:
  explicit ImageCanvas(QWidget* parent = nullptr);

  void setImage(const QImage& image);  // clears the overlay and the grid
  bool hasImage() const;
  QSize imageSize() const;
  // An overlay of the image's size (drawn over it with the current opacity); a null image clears it.
  void setOverlay(const QImage& overlay);
  bool hasOverlay() const;
  void setOverlayOpacity(double opacity);  // 0..1
  double overlayOpacity() const { return opacity_; }
  void setOverlayVisible(bool visible);
  bool overlayVisible() const { return overlayVisible_; }
  // Lines between patches, given as polylines in image coordinates; empty = none.
  void setGridLines(const std::vector<QLineF>& lines);
  void setGridVisible(bool visible);
  double zoom() const;

  // Masks: rectangles in image pixels, drawn with a drag (or two clicks) while mask mode is on,
  // moved by dragging, deleted with Delete; every edit goes through the undo stack.
  void setUndoStack(QUndoStack* stack) { undo_ = stack; }
  void setMaskMode(bool on);
  bool maskMode() const { return maskMode_; }
  int addMask(const QRectF& rect, int id = -1);  // returns the mask's id (kept by undo/redo)
  void removeMask(int id);
  void setMaskRect(int id, const QRectF& rect);
  QRectF maskRect(int id) const;
  std::vector<QRectF> masks() const;  // in id order
  std::vector<int> maskIds() const;
  void deleteSelectedMasks();  // undoable
  // Which edges of a mask lie under a view position (within a few screen pixels): bit 0 left,
  // 1 right, 2 top, 3 bottom; 0 = none. Dragging there in mask mode resizes the mask.
  int maskEdgesAt(int id, const QPoint& viewPos) const;

  // A region to point out (e.g. the Shapley feature under the mouse): a Grayscale8 mask of the
  // image's size, 255 inside; everything outside is dimmed. A null image clears it.
  void setHighlight(const QImage& mask);
  bool hasHighlight() const { return highlight_ != nullptr; }

 public Q_SLOTS:
  void fitToWindow();
  void actualSize();
  void zoomBy(double factor);

 Q_SIGNALS:
  void hoveredPixel(int x, int y);  // -1, -1 when the cursor leaves the image
  void zoomChanged(double zoom);
  void masksChanged();

 protected:
  void wheelEvent(QWheelEvent* event) override;
  void mouseMoveEvent(QMouseEvent* event) override;
  void resizeEvent(QResizeEvent* event) override;
  void mousePressEvent(QMouseEvent* event) override;
  void mouseReleaseEvent(QMouseEvent* event) override;
  void keyPressEvent(QKeyEvent* event) override;

 private:
  QGraphicsPixmapItem* image_ = nullptr;
  QGraphicsPixmapItem* overlay_ = nullptr;
  QGraphicsItemGroup* grid_ = nullptr;
  QGraphicsPixmapItem* highlight_ = nullptr;
  double opacity_ = 0.5;
  bool overlayVisible_ = true;
  bool fitted_ = true;  // keep fitting on resize until the user zooms
  // Masks
  QUndoStack* undo_ = nullptr;
  bool maskMode_ = false;
  std::map<int, QGraphicsRectItem*> masks_;
  int nextMaskId_ = 1;
  std::optional<QPointF> dragStart_;      // drawing a new rectangle
  QGraphicsRectItem* rubber_ = nullptr;
  std::map<int, QRectF> moveStart_;       // rectangles being moved (their rects at press)
  bool awaitingSecondClick_ = false;
  struct Resize {
    int id;
    int edges;
    QRectF from;
  };
  std::optional<Resize> resizing_;
  std::optional<std::pair<int, int>> edgesUnder(const QPoint& viewPos) const;  // (mask id, edges)
  QRectF clampToImage(const QRectF& r) const;
  void commitRubber(const QRectF& rect);
};

}  // namespace vlm::ui
