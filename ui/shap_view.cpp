#include "shap_view.h"

#include <QLabel>
#include <QListWidget>
#include <QMouseEvent>
#include <QPainter>
#include <QScrollArea>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>
#include <numeric>

namespace vlm::ui {

namespace {
const QColor kPositive(0xd6, 0x27, 0x28), kNegative(0x1f, 0x77, 0xb4);

QString number(double v) { return QString::number(v, 'g', 3); }
}  // namespace

int ShapPresentation::outputAt(int position) const {
  for (size_t k = 0; k < outputs.size(); ++k)
    if (outputs[k].position == position) return int(k);
  return -1;
}

FeaturePlot::FeaturePlot(QWidget* parent) : QWidget(parent) { setMouseTracking(true); }

void FeaturePlot::hover(int feature) {
  if (feature == hovered_) return;
  hovered_ = feature;
  update();
  Q_EMIT featureHovered(feature);
}

void FeaturePlot::leaveEvent(QEvent*) { hover(-1); }

// ---------------------------------------------------------------- bars

ShapBarChart::ShapBarChart(QWidget* parent) : FeaturePlot(parent) { setMinimumHeight(120); }

void ShapBarChart::setData(const std::vector<QString>& labels, const std::vector<double>& values, const std::vector<double>& errors,
                           const QString& title, int maxBars) {
  labels_ = labels;
  values_ = values;
  errors_ = errors;
  title_ = title;
  order_.resize(values.size());
  std::iota(order_.begin(), order_.end(), 0);
  std::stable_sort(order_.begin(), order_.end(), [&](int a, int b) { return std::abs(values[size_t(a)]) > std::abs(values[size_t(b)]); });
  othersCount_ = 0;
  othersSum_ = 0;
  if (int(order_.size()) > maxBars) {
    // The largest maxBars - 1 get their own bar, the rest one "others" bar (their sum).
    for (size_t i = size_t(maxBars - 1); i < order_.size(); ++i) othersSum_ += values[size_t(order_[i])];
    othersCount_ = int(order_.size()) - (maxBars - 1);
    order_.resize(size_t(maxBars - 1));
  }
  lo_ = std::min(0.0, othersCount_ ? othersSum_ : 0.0);
  hi_ = std::max(0.0, othersCount_ ? othersSum_ : 0.0);
  for (int f : order_) {
    const double e = errors.empty() ? 0 : errors[size_t(f)];
    lo_ = std::min(lo_, values[size_t(f)] - e);
    hi_ = std::max(hi_, values[size_t(f)] + e);
  }
  if (hi_ - lo_ <= 0) hi_ = lo_ + 1;
  hovered_ = -1;
  updateGeometry();
  update();
}

QSize ShapBarChart::sizeHint() const { return {300, top() + rowHeight() * std::max(1, barCount()) + 8}; }

double ShapBarChart::xOf(double v) const {
  const double x0 = labelWidth() + 6, x1 = width() - 48;
  return x0 + (v - lo_) / (hi_ - lo_) * std::max(10.0, x1 - x0);
}

QRectF ShapBarChart::barRect(int row) const {
  const double v = row < int(order_.size()) ? values_[size_t(order_[size_t(row)])] : othersSum_;
  const double a = xOf(0), b = xOf(v);
  return QRectF(std::min(a, b), top() + row * rowHeight() + 3, std::max(2.0, std::abs(b - a)), rowHeight() - 6);
}

void ShapBarChart::paintEvent(QPaintEvent*) {
  QPainter p(this);
  p.fillRect(rect(), palette().base());
  p.setRenderHint(QPainter::Antialiasing);
  p.setPen(palette().text().color());
  p.drawText(QRect(4, 2, width() - 8, top() - 4), Qt::AlignLeft | Qt::AlignVCenter, title_);
  if (values_.empty()) return;
  const QFontMetrics fm(font());
  for (int row = 0; row < barCount(); ++row) {
    const bool others = row >= int(order_.size());
    const int f = others ? -1 : order_[size_t(row)];
    const double v = others ? othersSum_ : values_[size_t(f)];
    const QRectF bar = barRect(row);
    const int y = top() + row * rowHeight();
    QColor c = v >= 0 ? kPositive : kNegative;
    if (others) c = c.lighter(150);
    if (f >= 0 && f == hovered_) c = c.darker(140);
    p.fillRect(bar, c);
    const QString label = others ? tr("others (%1)").arg(othersCount_) : labels_[size_t(f)];
    p.setPen(palette().text().color());
    p.drawText(QRect(2, y, labelWidth(), rowHeight()), Qt::AlignRight | Qt::AlignVCenter, fm.elidedText(label, Qt::ElideMiddle, labelWidth()));
    if (!others && !errors_.empty() && errors_[size_t(f)] > 0) {
      const double e = errors_[size_t(f)], cy = bar.center().y();
      p.drawLine(QPointF(xOf(v - e), cy), QPointF(xOf(v + e), cy));
      p.drawLine(QPointF(xOf(v - e), cy - 3), QPointF(xOf(v - e), cy + 3));
      p.drawLine(QPointF(xOf(v + e), cy - 3), QPointF(xOf(v + e), cy + 3));
    }
    p.drawText(QRectF(std::max(bar.right(), xOf(hi_)) + 3, y, 48, rowHeight()), Qt::AlignLeft | Qt::AlignVCenter, number(v));
  }
  p.setPen(QPen(palette().text().color(), 1));
  p.drawLine(QPointF(xOf(0), top()), QPointF(xOf(0), top() + barCount() * rowHeight()));
}

void ShapBarChart::mouseMoveEvent(QMouseEvent* event) {
  const int row = int(std::floor((event->position().y() - top()) / rowHeight()));
  hover(row >= 0 && row < int(order_.size()) ? order_[size_t(row)] : -1);
}

// ---------------------------------------------------------------- force plot

ShapForcePlot::ShapForcePlot(QWidget* parent) : FeaturePlot(parent) { setMinimumHeight(150); }

QSize ShapForcePlot::sizeHint() const { return {300, 160}; }

// SHAP's layout: the positive contributions stacked left of v(all) (largest next to it), the
// negative ones right of it; together they span base..full exactly when the values add up.
void ShapForcePlot::setData(const std::vector<QString>& labels, const std::vector<double>& values, double base, double full,
                            const QString& title) {
  labels_ = labels;
  base_ = base;
  full_ = full;
  title_ = title;
  segments_.clear();
  std::vector<int> pos, neg;
  for (int i = 0; i < int(values.size()); ++i) (values[size_t(i)] >= 0 ? pos : neg).push_back(i);
  std::sort(pos.begin(), pos.end(), [&](int a, int b) { return values[size_t(a)] > values[size_t(b)]; });
  std::sort(neg.begin(), neg.end(), [&](int a, int b) { return values[size_t(a)] < values[size_t(b)]; });
  double sumPos = 0, sumNeg = 0;
  for (int i : pos) sumPos += values[size_t(i)];
  for (int i : neg) sumNeg += values[size_t(i)];
  const double f = base + sumPos + sumNeg;  // = full for efficient estimates
  double x = f;
  for (int i : pos) {
    segments_.push_back({i, x - values[size_t(i)], x, true});
    x -= values[size_t(i)];
  }
  x = f;
  for (int i : neg) {
    segments_.push_back({i, x, x - values[size_t(i)], false});
    x -= values[size_t(i)];
  }
  lo_ = std::min({base, full, f - sumPos});
  hi_ = std::max({base, full, f - sumNeg});
  const double pad = std::max(1e-9, (hi_ - lo_) * 0.05);
  lo_ -= pad;
  hi_ += pad;
  hovered_ = -1;
  update();
}

double ShapForcePlot::xOf(double v) const { return 8 + (v - lo_) / (hi_ - lo_) * std::max(10, width() - 16); }

void ShapForcePlot::paintEvent(QPaintEvent*) {
  QPainter p(this);
  p.fillRect(rect(), palette().base());
  p.setRenderHint(QPainter::Antialiasing);
  p.setPen(palette().text().color());
  p.drawText(QRect(4, 2, width() - 8, 18), Qt::AlignLeft | Qt::AlignVCenter, title_);
  if (segments_.empty()) return;
  const double y0 = 40, h = 22;
  const QFontMetrics fm(font());
  for (const Segment& s : segments_) {
    const double a = xOf(s.from), b = xOf(s.to);
    // Positive segments lie left of v(all) and point right; negative ones right of it, pointing left.
    const bool pushesRight = s.positive;
    QColor c = pushesRight ? kPositive : kNegative;
    if (s.feature == hovered_) c = c.darker(140);
    const double tip = std::min(6.0, std::abs(b - a) / 2);
    QPolygonF shape;
    if (pushesRight) shape << QPointF(a, y0) << QPointF(b - tip, y0) << QPointF(b, y0 + h / 2) << QPointF(b - tip, y0 + h) << QPointF(a, y0 + h)
                           << QPointF(a + tip, y0 + h / 2);
    else shape << QPointF(b, y0) << QPointF(a + tip, y0) << QPointF(a, y0 + h / 2) << QPointF(a + tip, y0 + h) << QPointF(b, y0 + h)
               << QPointF(b - tip, y0 + h / 2);
    p.setPen(QPen(palette().base().color(), 1));
    p.setBrush(c);
    p.drawPolygon(shape);
  }
  // Labels under the bar for the widest segments, on up to three rows without overlaps, each
  // with a tick to its segment.
  std::vector<const Segment*> bySize;
  for (const Segment& s : segments_) bySize.push_back(&s);
  std::sort(bySize.begin(), bySize.end(), [](const Segment* x, const Segment* y) { return x->to - x->from > y->to - y->from; });
  std::vector<std::vector<std::pair<double, double>>> rows(3);
  p.setPen(palette().text().color());
  for (const Segment* s : bySize) {
    const double cx = (xOf(s->from) + xOf(s->to)) / 2;
    const QString label = QStringLiteral("%1 %2%3").arg(labels_[size_t(s->feature)], s->positive ? QStringLiteral("+") : QStringLiteral("-"), number(s->to - s->from));
    const double w = fm.horizontalAdvance(label) + 6;
    const double x0 = std::clamp(cx - w / 2, 0.0, std::max(0.0, width() - w));
    for (size_t r = 0; r < rows.size(); ++r) {
      const bool free = std::none_of(rows[r].begin(), rows[r].end(), [&](const auto& used) { return x0 < used.second && x0 + w > used.first; });
      if (!free) continue;
      rows[r].emplace_back(x0, x0 + w);
      const double ty = y0 + h + 26 + r * (fm.height() + 2);
      p.setPen(QPen(palette().mid().color(), 1));
      p.drawLine(QPointF(cx, y0 + h), QPointF(cx, ty));
      p.setPen(s->positive ? kPositive : kNegative);
      p.drawText(QRectF(x0, ty, w, fm.height()), Qt::AlignCenter, label);
      break;
    }
  }
  p.setPen(palette().text().color());
  auto mark = [&](double v, const QString& text, bool above) {
    const double x = xOf(v);
    p.drawLine(QPointF(x, y0 - 6), QPointF(x, y0 + h + 6));
    const QRectF r(x - 80, above ? y0 - 22 : y0 + h + 6, 160, 16);
    p.drawText(r, Qt::AlignCenter, text);
  };
  mark(base_, tr("v(none) %1").arg(number(base_)), false);
  QFont bold = font();
  bold.setBold(true);
  p.setFont(bold);
  mark(full_, tr("v(all) %1").arg(number(full_)), true);
}

void ShapForcePlot::mouseMoveEvent(QMouseEvent* event) {
  int f = -1;
  const double x = event->position().x(), y = event->position().y();
  if (y >= 40 && y <= 62)
    for (const Segment& s : segments_)
      if (x >= std::min(xOf(s.from), xOf(s.to)) && x <= std::max(xOf(s.from), xOf(s.to))) f = s.feature;
  setToolTip(f >= 0 ? labels_[size_t(f)] : QString());
  hover(f);
}

// ---------------------------------------------------------------- the tabs

ShapView::ShapView(QWidget* parent) : QTabWidget(parent) {
  bars_ = new ShapBarChart(this);
  force_ = new ShapForcePlot(this);
  gallery_ = new QListWidget(this);
  gallery_->setViewMode(QListView::IconMode);
  gallery_->setIconSize(QSize(88, 88));
  gallery_->setResizeMode(QListView::Adjust);
  gallery_->setMovement(QListView::Static);
  gallery_->setMouseTracking(true);
  gallery_->setSpacing(4);
  network_ = new QLabel(this);
  network_->setAlignment(Qt::AlignCenter);
  auto* barsScroll = new QScrollArea(this);
  barsScroll->setWidget(bars_);
  barsScroll->setWidgetResizable(true);
  addTab(barsScroll, tr("Bars"));
  addTab(force_, tr("Force"));
  addTab(gallery_, tr("Features"));
  addTab(network_, tr("Interactions"));
  connect(bars_, &ShapBarChart::featureHovered, this, &ShapView::featureHovered);
  connect(force_, &ShapForcePlot::featureHovered, this, &ShapView::featureHovered);
  connect(gallery_, &QListWidget::itemEntered, this, [this](QListWidgetItem* item) { Q_EMIT featureHovered(gallery_->row(item)); });
  connect(gallery_, &QListWidget::currentRowChanged, this, [this](int row) { Q_EMIT featureHovered(row); });
  setPresentation(nullptr);
}

void ShapView::setPresentation(const ShapPresentation* p) {
  p_ = p;
  gallery_->clear();
  network_->clear();
  bars_->setData({}, {}, {}, p ? QString() : tr("Choose \"Shapley values\" and click a word."));
  force_->setData({}, {}, 0, 0, QString());
  if (!p) return;
  for (size_t i = 0; i < p->labels.size(); ++i) {
    auto* item = new QListWidgetItem(QIcon(QPixmap::fromImage(p->thumbnails[i])), p->labels[i], gallery_);
    item->setToolTip(p->labels[i]);
  }
}

void ShapView::showOutput(int output) {
  if (!p_ || output < 0 || output >= int(p_->outputs.size())) return;
  const ShapOutputView& o = p_->outputs[size_t(output)];
  bars_->setData(p_->labels, o.values, o.errors, o.title);
  force_->setData(p_->labels, o.values, o.base, o.full, o.title);
  if (o.network.isNull()) network_->setText(tr("Pairwise interactions: choose the estimator \"interactions\"."));
  else network_->setPixmap(QPixmap::fromImage(o.network).scaled(network_->size().expandedTo(QSize(240, 240)), Qt::KeepAspectRatio, Qt::SmoothTransformation));
}

bool ShapView::hasNetwork() const { return network_->pixmap().isNull() == false; }

}  // namespace vlm::ui
