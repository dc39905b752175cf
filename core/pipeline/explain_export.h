#pragma once
// Writing explanations to disk (CLI `explain` / `video`, the GUI's export): overlays as PNG,
// raw maps as .npy, a JSON sidecar describing the run, and the layer-evolution MP4.
// No LibTorch types in this header.

#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/job.h"
#include "io/image.h"
#include "pipeline/counterfactual.h"
#include "pipeline/explainer.h"
#include "render/colormap.h"

namespace vlm {

struct ExportOptions {
  render::OverlayOptions overlay;
  std::filesystem::path imagePath;  // recorded in the sidecar (and hashed: SHA-256 of the file)
  nlohmann::ordered_json parameters = nlohmann::ordered_json::object();  // the request, as given
};

// The file stem of a map: "token03_cat", "caption", "cosine", "layer02", "post_layernorm".
std::string mapFileStem(const ExplainedMap& map);

// The overlay of a map on the image (original size); question-only maps (IG on the question)
// have no overlay: InvalidArgument.
io::ImageU8 overlayImage(const ExplainResult& result, const ExplainedMap& map, const io::ImageU8& image,
                         const render::OverlayOptions& overlay);

// The JSON sidecar of a run (no file names; writeExplanation adds them).
nlohmann::ordered_json describeExplanation(const ExplainResult& result, const io::ImageU8& image, const ExportOptions& options);

// Into `dir` (created if missing): per map STEM.npy (raw map, side x side float32; for IG on
// the question the per-token scores [Tq]), STEM.png (overlay on the original image), and
// explanation.json. Returns the sidecar as written. vlm::Error Io naming the path when the
// folder cannot be created or written.
nlohmann::ordered_json writeExplanation(const std::filesystem::path& dir, const ExplainResult& result, const io::ImageU8& image,
                                        const ExportOptions& options);

struct VideoExportOptions {
  int fps = 2;
  int framesPerLayer = 1;
  std::filesystem::path framesDir;  // also write every frame as PNG there (empty: no PNGs)
  render::OverlayOptions overlay;
  int maxSide = 512;                // the image panel's longest side in the frames
  std::string codec = "auto";
};

struct VideoExportResult {
  std::string codec;
  int64_t frames = 0;
  int width = 0, height = 0;
};

// The layer evolution (explainCaptionLayers) as frames: [image | overlay] above a bar with the
// layer ("layer 3 / 12", "post_layernorm") and the token; each layer framesPerLayer times.
// The MP4 is written to a temporary file and renamed at the end; on an error or a cancel no
// partial file remains.
VideoExportResult writeLayerVideo(const std::filesystem::path& out, const ExplainResult& layers, const io::ImageU8& image,
                                  const VideoExportOptions& options, const JobContext& job = {});

// The sidecar of a mask-and-regenerate run.
nlohmann::ordered_json describeRegeneration(const RegenerateResult& r);

}  // namespace vlm
