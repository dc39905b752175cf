#pragma once
// Undoable edits of the mask rectangles drawn on the canvas (QUndoStack commands). Rectangles
// are in image pixels; the canvas shows them as items.

#include <QRectF>
#include <QString>
#include <QUndoCommand>

namespace vlm::ui {

class ImageCanvas;

class AddMaskCommand : public QUndoCommand {
 public:
  AddMaskCommand(ImageCanvas* canvas, const QRectF& rect, QUndoCommand* parent = nullptr);
  void undo() override;
  void redo() override;

 private:
  ImageCanvas* canvas_;
  QRectF rect_;
  int id_ = -1;
};

class RemoveMaskCommand : public QUndoCommand {
 public:
  RemoveMaskCommand(ImageCanvas* canvas, int id);
  void undo() override;
  void redo() override;

 private:
  ImageCanvas* canvas_;
  int id_;
  QRectF rect_;
};

class MoveMaskCommand : public QUndoCommand {
 public:
  // Moves or resizes (the mask's rectangle from -> to); `text` names it in Edit > Undo.
  MoveMaskCommand(ImageCanvas* canvas, int id, const QRectF& from, const QRectF& to, const QString& text = {});
  void undo() override;
  void redo() override;

 private:
  ImageCanvas* canvas_;
  int id_;
  QRectF from_, to_;
};

}  // namespace vlm::ui
