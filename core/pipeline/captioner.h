#pragma once
// Image captioning end to end (what the CLI, the GUI and the benchmark call): a BLIP
// captioning checkpoint (folder or hub id), its tokenizer and image processor, and
// generate() with transformers' decoding settings. No LibTorch types in this header.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/job.h"
#include "io/image.h"
#include "pipeline/options.h"
#include "pipeline/pipeline.h"

namespace vlm {

struct CaptionOptions : DecodingOptions {
  std::string prompt;  // conditional captioning: the caption continues this text
};

struct CaptionTimings {
  double preprocessSeconds = 0;  // resize + normalise (decoding the file not included)
  double visionSeconds = 0;      // the vision encoder
  double decodeSeconds = 0;      // generation
};

struct CaptionResult {
  std::string caption;              // as transformers' (fast) tokenizer decodes it
  std::vector<int64_t> ids;         // all generated ids, starting with [DEC]
  std::vector<std::string> tokens;  // one per id
  std::optional<double> sequenceScore;  // beam search
  CaptionTimings timings;
};

class Captioner : public BlipPipeline {
 public:
  // Resolves `modelSpec` (folder or hub id in the Hugging Face cache), reads config.json,
  // tokenizer and preprocessor files, and loads the weights. vlm::Error on any problem.
  static std::unique_ptr<Captioner> load(const std::string& modelSpec, const ModelOptions& options = {},
                                         const JobContext& job = {});
  ~Captioner();

  CaptionResult caption(const io::ImageU8& image, const CaptionOptions& options, const JobContext& job = {}) const;

  struct Impl;  // core-internal access (dump, benchmark, explainers): pipeline/captioner_impl.h
  Impl& impl() const;

 private:
  Captioner();
};

}  // namespace vlm
