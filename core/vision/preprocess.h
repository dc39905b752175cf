#pragma once
// The Hugging Face image processors of BLIP and CLIP (transformers 4.43.4), value for value:
//
//   RGB uint8 -> [resize with Pillow's filter] -> [CLIP: center crop] -> [rescale: v * factor in
//   float64, cast to float32] -> [normalize: (x - mean) / std in float32] -> CHW float32
//
// BlipImageProcessor resizes to size {height, width}, ignoring the aspect ratio.
// CLIPImageProcessor resizes the shortest edge to S, the other to int(S * long / short)
// (truncated), then crops crop_size at top = (h - ch) // 2, left = (w - cw) // 2 (floor
// division; a crop larger than the image is padded with zeros, as transformers does).
//
// The input is always 8-bit RGB (io::loadImage gives Pillow's convert('RGB')), so do_convert_rgb
// has nothing left to do; it is parsed and kept for completeness.

#include <array>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "io/image.h"

namespace vlm::vision {

struct ImageProcessorConfig {
  enum class Kind { Blip, Clip };
  Kind kind = Kind::Blip;
  bool doResize = true, doRescale = true, doNormalize = true, doConvertRgb = true;
  bool doCenterCrop = false;
  // Resize target: either an exact size (resizeHeight/Width > 0) or the shortest edge.
  int resizeHeight = 0, resizeWidth = 0;
  int shortestEdge = 0;
  int cropHeight = 0, cropWidth = 0;
  int resample = 3;  // PIL.Image.Resampling: 0 nearest, 1 lanczos, 2 bilinear, 3 bicubic, 4 box, 5 hamming
  double rescaleFactor = 1 / 255.0;
  std::array<float, 3> mean{0.48145466f, 0.4578275f, 0.40821073f};  // OPENAI_CLIP_MEAN
  std::array<float, 3> std{0.26862954f, 0.26130258f, 0.27577711f};  // OPENAI_CLIP_STD

  // The processors' defaults, as their __init__ sets them.
  static ImageProcessorConfig blipDefaults();  // 384 x 384, bicubic, 1/255, CLIP mean/std
  static ImageProcessorConfig clipDefaults();  // shortest edge 224, center crop 224 x 224
};

// Parses preprocessor_config.json as transformers 4.43.4 does, in the current form
// ("size": {"height": 384, "width": 384}) and the legacy hub forms ("size": 384,
// "crop_size": 224, "feature_extractor_type": "CLIPFeatureExtractor"), with the processor's
// defaults for absent (or null) keys. The kind comes from image_processor_type /
// feature_extractor_type / processor_class; `fallbackKind` is used when none of them is there.
// Throws vlm::Error naming the file: NotFound/Io, Corrupt (not JSON), InvalidArgument (a
// malformed value, e.g. a size dict HF would refuse), Unsupported (another processor type,
// a resample value Pillow does not have).
ImageProcessorConfig parseImageProcessorConfig(const std::filesystem::path& file,
                                               std::optional<ImageProcessorConfig::Kind> fallbackKind = {});
ImageProcessorConfig parseImageProcessorConfigJson(const std::string& json,
                                                   std::optional<ImageProcessorConfig::Kind> fallbackKind = {},
                                                   const std::string& nameForErrors = "preprocessor_config.json");

// The size the resize step produces for an input of width x height: {height, width}.
std::array<int, 2> resizedSize(const ImageProcessorConfig& config, int width, int height);

struct Preprocessed {
  io::ImageU8 resized;           // after the resize, before any crop (the input when !doResize)
  int cropTop = 0, cropLeft = 0;  // where the crop starts in `resized` (negative: zero padding)
  int height = 0, width = 0;     // of pixelValues
  std::vector<float> pixelValues;  // CHW float32, 3 * height * width
};

// Runs the processor on one RGB image. Throws vlm::Error InvalidArgument for an empty image or
// an inconsistent config.
Preprocessed preprocess(const io::ImageU8& rgb, const ImageProcessorConfig& config);

// The per-channel table value[c][v] that the rescale and normalize steps turn the byte v of
// channel c into (what preprocess() uses).
std::array<std::array<float, 256>, 3> valueTable(const ImageProcessorConfig& config);

}  // namespace vlm::vision
