#pragma once
// `vlmscope dump`: the intermediates of one pass written to a safetensors file, under the
// reference fixtures' names: captioning (models/blip/blip_dump.h) and VQA
// (models/blip/blip_vqa_dump.h).

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "pipeline/captioner.h"
#include "pipeline/vqa.h"

namespace vlm {

struct DumpOptions {
  std::optional<std::vector<int64_t>> ids;  // teacher-forced decoder ids; default: the greedy caption
  int64_t targetPos = 1;                    // Y = log_softmax(logits[T-1])[ids[T]]
  CaptionOptions greedy;                    // settings of the default caption
};

struct DumpSummary {
  std::vector<int64_t> ids;
  std::size_t tensors = 0;
  double y = 0;  // the explained log-probability (VQA: of the whole answer)
};

DumpSummary writeCaptionDump(const Captioner& captioner, const io::ImageU8& image, const DumpOptions& options,
                             const std::filesystem::path& out);

struct VqaDumpOptions {
  std::string question;
  std::optional<std::vector<int64_t>> answerIds;  // teacher-forced answer ids; default: the greedy answer
  VqaOptions greedy;                              // settings of the default answer
};

DumpSummary writeVqaDump(const QuestionAnswerer& answerer, const io::ImageU8& image, const VqaDumpOptions& options,
                         const std::filesystem::path& out);

}  // namespace vlm
