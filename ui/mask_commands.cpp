#include "mask_commands.h"

#include "image_canvas.h"

namespace vlm::ui {

AddMaskCommand::AddMaskCommand(ImageCanvas* canvas, const QRectF& rect, QUndoCommand* parent)
    : QUndoCommand(QObject::tr("Add mask"), parent), canvas_(canvas), rect_(rect) {}
void AddMaskCommand::redo() { id_ = canvas_->addMask(rect_, id_); }
void AddMaskCommand::undo() { canvas_->removeMask(id_); }

RemoveMaskCommand::RemoveMaskCommand(ImageCanvas* canvas, int id)
    : QUndoCommand(QObject::tr("Delete mask")), canvas_(canvas), id_(id), rect_(canvas->maskRect(id)) {}
void RemoveMaskCommand::redo() { canvas_->removeMask(id_); }
void RemoveMaskCommand::undo() { canvas_->addMask(rect_, id_); }

MoveMaskCommand::MoveMaskCommand(ImageCanvas* canvas, int id, const QRectF& from, const QRectF& to, const QString& text)
    : QUndoCommand(text.isEmpty() ? QObject::tr("Move mask") : text), canvas_(canvas), id_(id), from_(from), to_(to) {}
void MoveMaskCommand::redo() { canvas_->setMaskRect(id_, to_); }
void MoveMaskCommand::undo() { canvas_->setMaskRect(id_, from_); }

}  // namespace vlm::ui
