#pragma once
// The main window: the model bar (captioning / VQA / CLIP checkpoints), the image canvas with
// heatmap overlays and masks, the caption (or answer) as token chips with a decoding popover,
// and a side panel: the method panel (Grad-CAM family with a layer slider, cross-attention,
// integrated gradients, Shapley values, masks), Shapley results (bars, force plot, feature
// gallery, interactions), the layer evolution and the history of runs. Every call into the core
// goes through the job runner (worker thread, progress, cancel); results come back as values.

#include <QMainWindow>
#include <QRectF>
#include <QString>

#include <memory>
#include <optional>
#include <vector>

#include "io/image.h"
#include "pipeline/captioner.h"
#include "pipeline/counterfactual.h"
#include "pipeline/explainer.h"
#include "pipeline/shap.h"

namespace vlm {
class BlipPipeline;
class Captioner;
class QuestionAnswerer;
class SimilarityModel;
}  // namespace vlm

class QCheckBox;
class QComboBox;
class QLabel;
class QLineEdit;
class QProgressBar;
class QPushButton;
class QSlider;
class QSpinBox;
class QMenu;
class QTabWidget;
class QToolButton;
class QUndoStack;

namespace vlm::ui {

class ClipPanel;
class HistoryPanel;
class ImageCanvas;
class JobRunner;
class LayerView;
class ModelBar;
class ModelManagerDialog;
class ShapView;
class TokenBar;
struct ShapPresentation;
struct ShapPack;
enum class ModelSlot;

// A BLIP model's vision and text layer counts (read when it loads, on the worker).
struct LayerCounts {
  int vision = 1, text = 1;
};

struct StartOptions {
  QString modelPath;        // checkpoint folder or hub id; empty: none loaded
  QString imagePath;        // image to open at start; empty: none
  bool demoModel = false;   // the captioner is the bundled shapes-world demo checkpoint
  bool demoVqaModel = false;   // ... the VQA model
  bool demoClipModel = false;  // ... the CLIP model
  QString screenshotPath;   // save the window there once the first caption is shown, then quit
  int explainToken = 0;     // > 0: explain this token once the caption is shown (screenshots)
  std::vector<QRectF> masks;  // image pixels: drawn and regenerated once the caption (and token) is shown
  QString method;             // gradcam | hirescam | gradxact | xattn | ig | shap: the method panel's choice at start
  QString vqaModelPath;       // a BLIP VQA checkpoint for questions; empty: none
  QString question;           // asked once the VQA model and the image are there
  QString clipModelPath;      // a CLIP checkpoint (similarity before / after masking); empty: none
  QString tab;                // the side panel's tab at start: explain | shapley | layers | history | clip, or bars | force | features | interactions
  bool layers = false;        // compute the layer evolution of explainToken (screenshots)
};

class MainWindow : public QMainWindow {
  Q_OBJECT
 public:
  explicit MainWindow(const StartOptions& options, QWidget* parent = nullptr);
  ~MainWindow() override;

  QString captionText() const;  // the caption (or "Q: ... A: ...") as shown (tests)
  QString activeQuestion() const { return activeQuestion_; }
  bool busy() const;
  JobRunner* jobs() const { return jobs_; }
  TokenBar* tokenBar() const { return tokens_; }
  ImageCanvas* canvas() const { return canvas_; }
  ModelBar* modelBar() const { return modelBar_; }
  ShapView* shapView() const { return shapView_; }
  LayerView* layerView() const { return layerView_; }
  HistoryPanel* history() const { return history_; }
  ClipPanel* clipPanel() const { return clipPanel_; }
  QTabWidget* sideTabs() const { return side_; }
  QToolButton* decodingButton() const { return decodingButton_; }
  const std::optional<ExplainResult>& explanation() const { return explanation_; }
  const std::optional<RegenerateResult>& regeneration() const { return regeneration_; }
  QUndoStack* undoStack() const { return undo_; }
  QString regenerationText() const;  // the before / after panel as shown (plain text)
  const std::optional<ShapResult>& shapley() const { return shapley_; }
  const ShapPresentation* shapleyPresentation() const { return presentation_.get(); }
  bool shapleyChartShown() const;  // the bar chart of the selected token is on screen
  CaptionOptions decoding() const;  // the decoding popover's settings
  bool hasClip() const { return clip_ != nullptr; }
  ModelManagerDialog* modelManager() const { return modelManager_; }  // null until first opened

 public Q_SLOTS:
  void openImage(const QString& path);
  void openImageDialog();
  void loadModel(const QString& spec);
  void loadVqaModel(const QString& spec);
  void loadClipModel(const QString& spec);
  void discoverModels();     // the Hugging Face cache's checkpoints into the model bar (background)
  void openModelManager();   // File > Models...: list, download, verify, use
  // File > Export report: the exploration as a session (image, models, settings, masks, every
  // explanation in the history, the regeneration, Shapley values, CLIP scores) written as a
  // report, HTML or PDF by the file's extension. Returns the error message, empty on success.
  QString exportReport(const QString& file);
  void exportReportDialog();
  void askQuestion();        // the question field's text; empty: back to the caption
  void captionCurrentImage();
  void explainToken(int position);  // with the method panel's settings
  void computeLayerEvolution();     // Grad-CAM of the selected token on every vision layer
  void scoreTexts(const QStringList& texts);  // CLIP: each text against the image
  void explainText(const QString& text);      // CLIP: Grad-CAM of the text's cosine
  void cancelWork();
  void regenerate();       // caption the image with the drawn masks hidden, show the word diff
  void maskTopRegion();    // masks over the current map's top 10 % patches (undoable)
  void clearMasks();       // undoable
  void pasteImage();       // an image from the clipboard (saved to a temporary PNG, then opened)

 Q_SIGNALS:
  void imageOpened(const QString& path);
  void regenerated();
  void answerReady(const QString& answer);
  void vqaModelReady(const QString& spec);
  void clipModelReady(const QString& spec);
  void modelsDiscovered(int count);
  void captionReady(const QString& caption);
  void explanationReady(int position);
  void layersReady(int frames);
  void textsScored(int count);
  void comparisonReady(double spearman);
  void textExplained(const QString& text);
  void workFailed(const QString& message);
  void modelReady(const QString& spec);

 protected:
  void dragEnterEvent(QDragEnterEvent* event) override;
  void dropEvent(QDropEvent* event) override;
  void closeEvent(QCloseEvent* event) override;

 private:
  void buildMethodPanel(QWidget* panel);
  void buildDecodingPopover();
  bool shapleySelected() const;
  void showText(const QString& question, const std::vector<int64_t>& ids, const std::vector<std::string>& tokens, const QString& shown,
                const QString& hint);
  const LayerCounts& activeLayers() const;  // the VQA model's while a question is active, else the captioner's
  void explainShapley(int position);
  void showShapley(int position);
  void rememberRecent(const QString& path);
  void rebuildRecentMenu();
  struct Persisted {
    const char* key;      // QSettings key
    QWidget* widget;      // QComboBox (text), QSpinBox, QSlider, QCheckBox, QLineEdit or QTabWidget
    bool byIndex = false;  // a combo saved by its index
  };
  std::vector<Persisted> persisted() const;
  void saveSettings() const;
  void restoreSettings();
  void showRegeneration(const RegenerateResult& r);
  void updateLayerSlider();
  void showExplanation(const ExplainResult& result, const QImage& overlay, const std::vector<QLineF>& grid, const std::vector<QRectF>& top,
                       bool remember);
  void showHovered(int x, int y);
  void highlightFeature(int feature);
  void recolor();
  void reexplain();
  void updateModelSummary();
  ExplainOptions currentOptions(int position) const;

  StartOptions options_;
  QString imagePath_;
  std::shared_ptr<const io::ImageU8> image_;  // the open image as the model reads it (shared with jobs)
  QImage shownImage_;                          // the same pixels as a QImage (history, comparisons)
  std::shared_ptr<vlm::Captioner> captioner_;
  std::shared_ptr<vlm::QuestionAnswerer> vqa_;
  std::shared_ptr<vlm::SimilarityModel> clip_;
  QString captionSpec_, vqaSpec_, clipSpec_;
  LayerCounts captionLayers_, vqaLayers_;
  QString activeQuestion_;  // the question ids_ answer; empty: ids_ are the caption
  QLineEdit* question_ = nullptr;
  ModelManagerDialog* modelManager_ = nullptr;
  std::vector<int64_t> ids_;
  std::optional<ExplainResult> explanation_;
  std::vector<QRectF> topRects_;  // the current map's top 10 % patches (image pixels)
  std::optional<RegenerateResult> regeneration_;
  std::optional<ShapResult> shapley_;
  std::shared_ptr<const ShapPresentation> presentation_;
  std::shared_ptr<const ShapPack> shapPack_;  // per token: the map as an explanation (overlay, grid)
  QString shapleyKey_;  // the image / ids / settings shapley_ was computed for
  QComboBox* shapFeatures_ = nullptr;
  QComboBox* shapEstimator_ = nullptr;
  QComboBox* shapValue_ = nullptr;
  QSpinBox* shapBudget_ = nullptr;
  QMenu* recentMenu_ = nullptr;
  QUndoStack* undo_ = nullptr;
  QComboBox* masker_ = nullptr;
  QLabel* regenerationLabel_ = nullptr;
  JobRunner* jobs_ = nullptr;
  ImageCanvas* canvas_ = nullptr;
  TokenBar* tokens_ = nullptr;
  ModelBar* modelBar_ = nullptr;
  QTabWidget* side_ = nullptr;
  ShapView* shapView_ = nullptr;
  LayerView* layerView_ = nullptr;
  HistoryPanel* history_ = nullptr;
  ClipPanel* clipPanel_ = nullptr;
  std::vector<ExplainResult> historyResults_;  // parallel to the history panel's entries
  QToolButton* decodingButton_ = nullptr;
  QSpinBox* beams_ = nullptr;
  QSpinBox* maxLength_ = nullptr;
  QLineEdit* prompt_ = nullptr;
  QLabel* modelLabel_ = nullptr;
  QLabel* captionLabel_ = nullptr;
  QLabel* explainLabel_ = nullptr;
  QProgressBar* progress_ = nullptr;
  QPushButton* captionButton_ = nullptr;
  QPushButton* cancelButton_ = nullptr;
  QComboBox* method_ = nullptr;
  QComboBox* colormap_ = nullptr;
  QSlider* layer_ = nullptr;
  QLabel* layerLabel_ = nullptr;
  QSlider* opacity_ = nullptr;
  QCheckBox* overlayOn_ = nullptr;
  QCheckBox* gridOn_ = nullptr;
};

// Runs the GUI event loop (QApplication must not exist yet).
// Every model slot left empty gets the bundled shapes-world demo model of resources/models
// (shapes-blip-caption, shapes-blip-vqa, shapes-clip, where present), and demoModel /
// demoVqaModel / demoClipModel say which slots hold them (given or defaulted).
void applyBundledModels(StartOptions& options);

int runGui(int argc, char** argv, const StartOptions& options);

}  // namespace vlm::ui
