#pragma once
// The model bar: one slot per model the window uses (BLIP captioning, BLIP VQA, CLIP). Each slot
// is an editable list of the checkpoints found in the Hugging Face cache (filtered by what their
// config.json says they are) plus a folder picker; what is loaded, loading or failed is always
// shown beside it. The bar only asks: the window loads through the job runner.

#include <QString>
#include <QWidget>

#include <array>
#include <vector>

class QComboBox;
class QLabel;
class QToolButton;

namespace vlm::ui {

enum class ModelSlot { Caption = 0, Vqa = 1, Clip = 2 };
constexpr int kModelSlots = 3;

struct DiscoveredModel {
  ModelSlot slot = ModelSlot::Caption;
  QString hubId;    // ORG/NAME (what is loaded when picked)
  QString dir;      // the snapshot folder
  QString family;   // describeFamily(): shown as the tooltip
};

class ModelBar : public QWidget {
  Q_OBJECT
 public:
  explicit ModelBar(QWidget* parent = nullptr);

  // The models found in the cache: each slot lists those of its family (the typed / loaded entry stays).
  void setDiscovered(const std::vector<DiscoveredModel>& models);
  QStringList choices(ModelSlot slot) const;  // the entries of the slot's list (tests)

  void setLoading(ModelSlot slot, const QString& spec);
  void setLoaded(ModelSlot slot, const QString& spec);
  void setFailed(ModelSlot slot, const QString& spec, const QString& error);
  QString status(ModelSlot slot) const;  // "none", "loading", "loaded", "failed"
  QString loadedSpec(ModelSlot slot) const;
  QComboBox* combo(ModelSlot slot) const { return slots_[size_t(slot)].combo; }

 Q_SIGNALS:
  void loadRequested(vlm::ui::ModelSlot slot, const QString& spec);
  void rescanRequested();

 private:
  struct Slot {
    QComboBox* combo = nullptr;
    QToolButton* browse = nullptr;
    QLabel* state = nullptr;
    QString status = QStringLiteral("none");
    QString loaded;
  };
  std::array<Slot, kModelSlots> slots_;
  void setState(ModelSlot slot, const QString& status, const QString& text, const QString& tooltip, const QString& colour);
};

QString slotName(ModelSlot slot);

}  // namespace vlm::ui
