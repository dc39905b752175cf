#pragma once
// Image-text alignment with a CLIP checkpoint end to end (what `vlmscope similarity`, the GUI
// and the benchmark call): the model folder or hub id, its CLIP tokenizer and image processor,
// and CLIPModel's scores. No LibTorch types in this header.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "common/job.h"
#include "io/image.h"
#include "pipeline/options.h"

namespace vlm {

struct SimilarityTimings {
  double preprocessSeconds = 0;  // resize + crop + normalise
  double visionSeconds = 0;      // vision tower + projection
  double textSeconds = 0;        // text tower + projection, all texts
};

struct SimilarityResult {
  std::vector<std::string> texts;
  std::vector<std::vector<int64_t>> ids;  // per text, <|startoftext|> ... <|endoftext|> (after truncation)
  std::vector<bool> truncated;            // the text had more tokens than the model's 77 positions
  std::vector<double> cosine;             // cosine(image_embeds, text_embeds) per text
  std::vector<double> logitsPerImage;     // exp(logit_scale) * cosine
  std::vector<double> probs;              // softmax of logitsPerImage over the texts
  double logitScale = 0;                  // exp(logit_scale)
  SimilarityTimings timings;
};

class SimilarityModel {
 public:
  // Resolves `modelSpec` (folder or hub id in the Hugging Face cache), checks that it is a CLIP
  // checkpoint, reads the tokenizer and preprocessor files and loads the weights. vlm::Error on
  // any problem.
  static std::unique_ptr<SimilarityModel> load(const std::string& modelSpec, const ModelOptions& options = {},
                                               const JobContext& job = {});
  ~SimilarityModel();
  SimilarityModel(const SimilarityModel&) = delete;
  SimilarityModel& operator=(const SimilarityModel&) = delete;

  // Scores one image against one or more texts (InvalidArgument for none).
  SimilarityResult score(const io::ImageU8& image, const std::vector<std::string>& texts, const JobContext& job = {}) const;

  std::string modelName() const;
  std::filesystem::path modelDir() const;
  int imageSize() const;
  std::vector<std::string> tokensOf(const std::vector<int64_t>& ids) const;

  struct Impl;  // core-internal access (dump, benchmark, explainers): pipeline/similarity_impl.h
  Impl& impl() const { return *impl_; }

 private:
  SimilarityModel();
  std::unique_ptr<Impl> impl_;
};

}  // namespace vlm
