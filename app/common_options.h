#pragma once
// Options shared by the model subcommands: --threads, --dtype, --device.
#include <string>

#include "args.h"
#include "pipeline/captioner.h"
#include "pipeline/vqa.h"

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

}  // namespace vlm::cli
