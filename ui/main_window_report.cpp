// MainWindow: the exploration as a session (session/session.h) and File > Export report.
#include <QComboBox>
#include <QFileDialog>
#include <QFileInfo>
#include <QMessageBox>
#include <QSlider>
#include <QStatusBar>

#include <algorithm>

#include "clip_panel.h"
#include "common/error.h"
#include "history_panel.h"
#include "image_canvas.h"
#include "io/files.h"
#include "io/model_location.h"
#include "io/sha256.h"
#include "main_window.h"
#include "pipeline/counterfactual.h"
#include "pipeline/explainer.h"
#include "pipeline/shap.h"
#include "render/colormap.h"
#include "report_pdf.h"
#include "session/report.h"
#include "session/session.h"

namespace vlm::ui {

namespace {

// A map over the original image, at most 512 values on its long side (the report enlarges it
// bilinearly to the image again).
session::Map imageMap(const ExplainResult& r, const ExplainedMap& m, int width, int height) {
  session::Map out;
  std::vector<float> full = r.onImage(m);
  if (full.size() != size_t(width) * size_t(height)) return out;
  const int longSide = std::max(width, height);
  const int step = (longSide + 511) / 512;
  out.width = (width + step - 1) / step;
  out.height = (height + step - 1) / step;
  out.values.resize(size_t(out.width) * size_t(out.height));
  for (int y = 0; y < out.height; ++y)
    for (int x = 0; x < out.width; ++x) out.values[size_t(y) * size_t(out.width) + size_t(x)] = full[size_t(std::min(height - 1, y * step)) * size_t(width) + size_t(std::min(width - 1, x * step))];
  return out;
}

void addModel(session::Session& s, const char* role, const QString& spec) {
  if (spec.isEmpty()) return;
  try {
    s.models.push_back(session::describeModel(role, spec.toStdString(), io::resolveModel(spec.toStdString()).dir));
  } catch (const Error&) {
    s.models.push_back({role, spec.toStdString(), {}, {}});
  }
}

}  // namespace

QString MainWindow::exportReport(const QString& file) {
  try {
    if (!image_) throw Error(ErrorCode::InvalidArgument, "there is no image to report on: open one first");
    session::Session s;
    s.createdBy = "VLMScope " VLM_VERSION;
    s.imageName = QFileInfo(imagePath_).fileName().toStdString();
    try {
      s.imageBytes = io::readFile(imagePath_.toStdString());
    } catch (const Error&) {
      // The file is gone or unreadable: the image as decoded stands in for it.
    }
    if (s.imageBytes.empty() && !shownImage_.isNull()) {
      s.imageBytes = render::encodePng(*image_);
    }
    s.imageSha256 = io::sha256Hex({reinterpret_cast<const uint8_t*>(s.imageBytes.data()), s.imageBytes.size()});
    addModel(s, "caption", captionSpec_);
    addModel(s, "vqa", vqaSpec_);
    addModel(s, "clip", clipSpec_);
    const CaptionOptions d = decoding();
    s.decoding = {{"beams", d.numBeams}, {"max_length", d.maxLength}};
    if (!d.prompt.empty()) s.decoding["prompt"] = d.prompt;
    for (const QRectF& r : canvas_->masks())
      s.masks.push_back({int(std::lround(r.x())), int(std::lround(r.y())), int(std::lround(r.width())), int(std::lround(r.height()))});

    if (!captionText().isEmpty()) {
      session::Run caption;
      caption.kind = activeQuestion_.isEmpty() ? "caption" : "vqa";
      caption.title = activeQuestion_.isEmpty() ? "caption" : "answer";
      caption.question = activeQuestion_.toStdString();
      caption.text = captionText().toStdString();
      s.runs.push_back(caption);
    }
    for (size_t i = 0; i < historyResults_.size(); ++i) {
      const ExplainResult& r = historyResults_[i];
      if (r.maps.empty()) continue;
      session::Run run;
      run.kind = "explain";
      run.title = i < size_t(history_->count()) ? history_->entry(int(i)).title.toStdString() : r.method;
      run.parameters = {{"method", r.method}, {"layer", r.layer}, {"model", r.model}, {"family", r.family}};
      run.question = r.question;
      run.text = r.text;
      run.tokens = r.tokens;
      run.explainedToken = int(r.maps.front().position);
      run.map = imageMap(r, r.maps.front(), image_->width, image_->height);
      if (run.map->values.empty()) run.map.reset();
      run.seconds = r.explainSeconds;
      s.runs.push_back(std::move(run));
    }
    if (shapley_ && shapley_->outputs() > 0) {
      const ShapResult& sh = *shapley_;
      for (int k = 0; k < std::min(sh.outputs(), 20); ++k) {
        session::Run run;
        run.kind = "shapley";
        run.title = "Shapley values of " + sh.outputLabels[size_t(k)] + " (" + sh.features + ")";
        run.parameters = {{"features", sh.features}, {"value", sh.value}, {"estimator", sh.estimator}, {"masker", sh.masker},
                          {"evaluations", sh.evaluations}, {"exact", sh.exact}};
        run.text = sh.info.text;
        run.tokens = sh.info.tokens;
        for (int f = 0; f < sh.count(); ++f)
          run.values.push_back({sh.featureLabels[size_t(f)], sh.values[size_t(f) * size_t(sh.outputs()) + size_t(k)]});
        run.seconds = k == 0 ? sh.seconds : 0;
        s.runs.push_back(std::move(run));
      }
    }
    if (regeneration_) {
      session::Run run;
      run.kind = "regenerate";
      run.title = "masked regeneration (" + regeneration_->masker + ")";
      run.text = regeneration_->original;
      run.regenerated = regeneration_->masked;
      for (const auto& r : regeneration_->rects) run.masks.push_back({r.x, r.y, r.width, r.height});
      run.metrics = {{"log_p_before", regeneration_->logProbBefore}, {"log_p_after", regeneration_->logProbAfter}};
      if (regeneration_->clipBefore) run.metrics["clip_cosine_before"] = *regeneration_->clipBefore;
      if (regeneration_->clipAfter) run.metrics["clip_cosine_after"] = *regeneration_->clipAfter;
      s.runs.push_back(std::move(run));
    }
    const ClipScores& clip = clipPanel_->scores();
    if (!clip.texts.empty()) {
      session::Run run;
      run.kind = "clip";
      run.title = "CLIP image-text similarity";
      for (size_t i = 0; i < clip.texts.size() && i < clip.cosine.size(); ++i) run.values.push_back({clip.texts[i].toStdString(), clip.cosine[i]});
      s.runs.push_back(std::move(run));
    }

    session::ReportOptions o;
    o.colormap = colormap_->currentText().toStdString();
    o.opacity = opacity_->value() / 100.0;
    const std::string html = session::reportHtml(s, o);
    const std::string path = file.toStdString();
    if (file.endsWith(QStringLiteral(".pdf"), Qt::CaseInsensitive)) writeReportPdf(html, path);
    else io::writeFileAtomic(path, html);
    statusBar()->showMessage(tr("Report written: %1").arg(file), 6000);
    return {};
  } catch (...) {
    return QString::fromStdString(describeCurrentException());
  }
}

void MainWindow::exportReportDialog() {
  const QString base = imagePath_.isEmpty() ? QStringLiteral("report") : QFileInfo(imagePath_).completeBaseName() + QStringLiteral("-report");
  const QString file = QFileDialog::getSaveFileName(this, tr("Export report"), base + QStringLiteral(".html"),
                                                    tr("HTML report (*.html);;PDF report (*.pdf)"));
  if (file.isEmpty()) return;
  const QString error = exportReport(file);
  if (!error.isEmpty()) QMessageBox::warning(this, tr("Export report"), tr("The report could not be written: %1").arg(error));
}

}  // namespace vlm::ui
