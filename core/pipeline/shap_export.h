#pragma once
// Writing Shapley explanations (CLI `shap`, batch runs, the GUI's export). No LibTorch types.

#include <filesystem>

#include <nlohmann/json.hpp>

#include "io/image.h"
#include "pipeline/explain_export.h"
#include "pipeline/shap.h"

namespace vlm {

// The shapley section of the sidecar: features, value, estimator, budget and counts, per
// output v(empty), v(all), values, standard errors, and the interactions when computed.
nlohmann::ordered_json describeShapley(const ShapResult& result);

// The feature masks drawn over the original image: each feature a colour, borders, and its
// number at its centre.
io::ImageU8 featureImage(const ShapResult& result, const io::ImageU8& image);

// Into `dir`: what writeExplanation writes for the per-output maps (STEM.npy over the S x S
// input, STEM.png overlays, explanation.json), and shap.json (the sidecar plus "shapley"),
// values.npy and stderrs.npy [F, K], feature_masks.npy [F, S, S] (1 = in the feature),
// features.png, bars_STEM.png per output, and network_STEM.png for interactions. Returns
// shap.json as written.
nlohmann::ordered_json writeShap(const std::filesystem::path& dir, const ShapResult& result, const io::ImageU8& image,
                                 const ExportOptions& options);

}  // namespace vlm
