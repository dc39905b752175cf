#pragma once
// What every BLIP pipeline (Captioner, QuestionAnswerer) tells about the model it loaded.
// No LibTorch types in this header.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace vlm {

class BlipPipeline {
 public:
  std::string modelName() const;           // what the user gave (folder or hub id)
  std::filesystem::path modelDir() const;  // the resolved folder
  int imageSize() const;                   // the model's input side in pixels
  int patchSize() const;                   // the ViT's patch side in pixels
  int visionLayers() const;                // vision encoder layers (explainable 0..n-1, then post_layernorm)
  int textLayers() const;                  // text layers with cross-attention to the image
  std::vector<std::string> tokensOf(const std::vector<int64_t>& ids) const;  // "[DEC]" for the decoder start
  std::string decodeForDisplay(const std::vector<int64_t>& ids) const;     // as transformers' fast tokenizer decodes
  std::vector<std::string> loadNotes() const;  // e.g. tied weights that were substituted

  struct State;  // core-internal: pipeline/pipeline_impl.h

  BlipPipeline(const BlipPipeline&) = delete;
  BlipPipeline& operator=(const BlipPipeline&) = delete;

 protected:
  explicit BlipPipeline(std::unique_ptr<State> state);
  ~BlipPipeline();
  std::unique_ptr<State> state_;
};

}  // namespace vlm
