#pragma once
// Options shared by the model subcommands: --threads, --dtype, --device.
#include <string>
#include <utility>

#include "common/job.h"

#include <nlohmann/json.hpp>

#include "args.h"
#include "pipeline/captioner.h"
#include "explain/masking.h"
#include "models/model_kind.h"
#include "pipeline/vqa.h"
#include "render/colormap.h"

namespace vlm::cli {

inline const std::set<std::string> kModelOptionNames = {"model", "threads", "dtype", "device"};

// Applies --threads (default: physical cores) and returns the model options.
ModelOptions modelOptionsFrom(const Args& args);

// The generation options: --beams, --max-length, --min-length, --repetition-penalty, --no-repeat-ngram
inline const std::set<std::string> kDecodingOptionNames = {"beams", "max-length", "min-length", "repetition-penalty",
                                                           "no-repeat-ngram"};
DecodingOptions decodingOptionsFrom(const Args& args);

// --prompt and the generation options
CaptionOptions captionOptionsFrom(const Args& args);
// the generation options
VqaOptions vqaOptionsFrom(const Args& args);

// --OPTION I,J,...: comma-separated non-negative token ids, at least two ([DEC] first);
// UsageError naming the option otherwise.
std::vector<int64_t> parseIds(const std::string& text, const std::string& option);

// --ignore-exif
io::ImageLoadOptions imageLoadOptionsFrom(const Args& args);

// --colormap, --alpha, --contour
inline const std::set<std::string> kOverlayOptionNames = {"colormap", "alpha"};
render::OverlayOptions overlayFrom(const Args& args);

// --masker constant|blur|telea|ns|patch, --color R,G,B, --blur-sigma S, --inpaint-radius R
inline const std::set<std::string> kMaskerOptionNames = {"masker", "color", "blur-sigma", "inpaint-radius"};
std::pair<explain::MaskerKind, explain::MaskerOptions> maskerFrom(const Args& args);

// The family of the model folder or hub id `model` (from its config.json).
models::ModelFamily familyOf(const std::string& model);

// Progress on stderr ("\r[ 42%] stage"), only when stderr is a terminal; finishProgress() ends
// the line. Long commands (shap, metrics, batch) use it.
JobContext terminalProgress();
void finishProgress();

// One line of JSON on stdout (invalid UTF-8 replaced).
void printJson(const nlohmann::ordered_json& j);

}  // namespace vlm::cli
