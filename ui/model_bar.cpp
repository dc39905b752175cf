#include "model_bar.h"

#include <QComboBox>
#include <QFileDialog>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QSignalBlocker>
#include <QToolButton>

namespace vlm::ui {

QString slotName(ModelSlot slot) {
  switch (slot) {
    case ModelSlot::Caption: return QObject::tr("Captioning");
    case ModelSlot::Vqa: return QObject::tr("VQA");
    case ModelSlot::Clip: return QObject::tr("CLIP");
  }
  return {};
}

ModelBar::ModelBar(QWidget* parent) : QWidget(parent) {
  auto* row = new QHBoxLayout(this);
  row->setContentsMargins(0, 0, 0, 0);
  const QString hints[kModelSlots] = {tr("BLIP captioning checkpoint: a save_pretrained folder or a hub id in the Hugging Face cache"),
                                      tr("BLIP VQA checkpoint (for questions)"), tr("CLIP checkpoint (image-text similarity before / after masking)")};
  for (int i = 0; i < kModelSlots; ++i) {
    const auto slot = ModelSlot(i);
    Slot& s = slots_[size_t(i)];
    auto* name = new QLabel(slotName(slot) + QLatin1Char(':'), this);
    s.combo = new QComboBox(this);
    s.combo->setEditable(true);
    s.combo->setInsertPolicy(QComboBox::NoInsert);
    s.combo->setMinimumContentsLength(18);
    s.combo->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
    s.combo->lineEdit()->setPlaceholderText(tr("folder or ORG/NAME"));
    s.combo->setToolTip(hints[i]);
    s.combo->setObjectName(QStringLiteral("model%1").arg(i));
    s.browse = new QToolButton(this);
    s.browse->setText(QStringLiteral("..."));
    s.browse->setToolTip(tr("Pick a checkpoint folder (save_pretrained)"));
    s.state = new QLabel(this);
    s.state->setObjectName(QStringLiteral("modelState%1").arg(i));
    row->addWidget(name);
    row->addWidget(s.combo, 1);
    row->addWidget(s.browse);
    row->addWidget(s.state);
    if (i + 1 < kModelSlots) row->addSpacing(12);
    // Picking an entry of the list, or Enter in the field, loads it.
    connect(s.combo, &QComboBox::activated, this, [this, slot](int index) {
      const QString spec = combo(slot)->itemData(index).toString().isEmpty() ? combo(slot)->itemText(index) : combo(slot)->itemData(index).toString();
      if (!spec.trimmed().isEmpty() && spec != loadedSpec(slot)) Q_EMIT loadRequested(slot, spec.trimmed());
    });
    connect(s.combo->lineEdit(), &QLineEdit::returnPressed, this, [this, slot] {
      const QString spec = combo(slot)->currentText().trimmed();
      if (!spec.isEmpty()) Q_EMIT loadRequested(slot, spec);
    });
    connect(s.browse, &QToolButton::clicked, this, [this, slot, hints, i] {
      const QString dir = QFileDialog::getExistingDirectory(this, hints[i]);
      if (!dir.isEmpty()) Q_EMIT loadRequested(slot, dir);
    });
    setState(slot, QStringLiteral("none"), tr("not loaded"), tr("No %1 model loaded").arg(slotName(slot)), QStringLiteral("#7f8c8d"));
  }
  auto* rescan = new QToolButton(this);
  rescan->setText(tr("Rescan"));
  rescan->setToolTip(tr("Look for models in the Hugging Face cache again"));
  row->addWidget(rescan);
  connect(rescan, &QToolButton::clicked, this, &ModelBar::rescanRequested);
}

void ModelBar::setDiscovered(const std::vector<DiscoveredModel>& models) {
  for (int i = 0; i < kModelSlots; ++i) {
    QComboBox* c = slots_[size_t(i)].combo;
    const QSignalBlocker block(c);
    const QString shown = c->currentText();
    c->clear();
    for (const auto& m : models)
      if (m.slot == ModelSlot(i)) {
        c->addItem(m.hubId, m.hubId);
        c->setItemData(c->count() - 1, QStringLiteral("%1\n%2").arg(m.family, m.dir), Qt::ToolTipRole);
      }
    c->setCurrentIndex(-1);
    c->setEditText(shown);
  }
}

QStringList ModelBar::choices(ModelSlot slot) const {
  QStringList out;
  for (int i = 0; i < combo(slot)->count(); ++i) out << combo(slot)->itemText(i);
  return out;
}

void ModelBar::setState(ModelSlot slot, const QString& status, const QString& text, const QString& tooltip, const QString& colour) {
  Slot& s = slots_[size_t(slot)];
  s.status = status;
  s.state->setText(QStringLiteral("<span style='color:%1'>&#9679;</span> %2").arg(colour, text.toHtmlEscaped()));
  s.state->setToolTip(tooltip);
}

void ModelBar::setLoading(ModelSlot slot, const QString& spec) {
  const QSignalBlocker block(combo(slot));
  combo(slot)->setEditText(spec);
  setState(slot, QStringLiteral("loading"), tr("loading..."), tr("Loading %1").arg(spec), QStringLiteral("#d68910"));
}

void ModelBar::setLoaded(ModelSlot slot, const QString& spec) {
  slots_[size_t(slot)].loaded = spec;
  const QSignalBlocker block(combo(slot));
  combo(slot)->setEditText(spec);
  setState(slot, QStringLiteral("loaded"), tr("loaded"), tr("Loaded: %1").arg(spec), QStringLiteral("#1e8449"));
}

void ModelBar::setFailed(ModelSlot slot, const QString& spec, const QString& error) {
  const QString previous = slots_[size_t(slot)].loaded;
  setState(slot, QStringLiteral("failed"), tr("failed"),
           tr("Could not load %1: %2%3").arg(spec, error, previous.isEmpty() ? QString() : tr("\nStill loaded: %1").arg(previous)),
           QStringLiteral("#c0392b"));
}

QString ModelBar::status(ModelSlot slot) const { return slots_[size_t(slot)].status; }
QString ModelBar::loadedSpec(ModelSlot slot) const { return slots_[size_t(slot)].loaded; }

}  // namespace vlm::ui
