#pragma once
// `vlmscope dump` for CLIP checkpoints: one image against several texts, every intermediate and
// the gradients of one text's cosine similarity, under the fixtures' names
// (see models/clip/clip_dump.h).

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "pipeline/similarity.h"

namespace vlm {

struct SimilarityDumpSummary {
  std::size_t tensors = 0;
  double cosine = 0;  // of the image with text gradText (the differentiated target)
};

SimilarityDumpSummary writeSimilarityDump(const SimilarityModel& model, const io::ImageU8& image, const std::vector<std::string>& texts,
                                          int64_t gradText, const std::filesystem::path& out);

}  // namespace vlm
