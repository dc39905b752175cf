#pragma once
// Options shared by the model subcommands: --threads, --dtype, --device.
#include <string>

#include "args.h"
#include "pipeline/captioner.h"

namespace vlm::cli {

inline const std::set<std::string> kModelOptionNames = {"model", "threads", "dtype", "device"};

// Applies --threads (default: physical cores) and returns the model options.
ModelOptions modelOptionsFrom(const Args& args);

// --prompt, --beams, --max-length, --min-length, --repetition-penalty, --no-repeat-ngram
CaptionOptions captionOptionsFrom(const Args& args);

}  // namespace vlm::cli
