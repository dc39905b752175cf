#pragma once
// SimilarityModel internals for core code that works with tensors (dump, benchmark, explainers).

#include <ATen/core/Tensor.h>

#include <optional>

#include "io/model_location.h"
#include "models/clip/clip_model.h"
#include "pipeline/similarity.h"
#include "text/clip_tokenizer.h"
#include "vision/preprocess.h"

namespace vlm {

struct SimilarityModel::Impl {
  std::string spec;
  io::ModelLocation location;
  ModelOptions options;
  at::Device device = at::kCPU;
  at::ScalarType dtype = at::kFloat;
  models::LoadedClip model;
  std::optional<text::ClipTokenizer> tokenizer;
  vision::ImageProcessorConfig processor;

  // [1, 3, S, S] float32 pixel values on the model's device
  at::Tensor pixelValues(const io::ImageU8& image) const;
  // The most tokens a text may have (the position embeddings, and the tokenizer's limit).
  int64_t maxTokens() const;
  struct TextBatch {
    at::Tensor ids, attentionMask;  // [n, T] int64 on the model's device, padded to the longest
    std::vector<std::vector<int64_t>> rows;
    std::vector<bool> truncated;
  };
  // As CLIPProcessor(text=texts, padding=True, truncation=True, max_length=77).
  TextBatch encodeTexts(const std::vector<std::string>& texts) const;
};

}  // namespace vlm
