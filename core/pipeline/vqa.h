#pragma once
// Visual question answering end to end (what the CLI, the GUI and the benchmark call): a BLIP
// VQA checkpoint (BlipForQuestionAnswering, folder or hub id), its BERT tokenizer and image
// processor, and transformers' generate(). No LibTorch types in this header.

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

// transformers' generate() settings for the answer (max_length counts [DEC]).
struct VqaOptions : DecodingOptions {};

struct VqaTimings {
  double preprocessSeconds = 0;  // resize + normalise (decoding the file not included)
  double visionSeconds = 0;      // the vision encoder
  double questionSeconds = 0;    // tokenizing + the question encoder (cross-attending to the image)
  double decodeSeconds = 0;      // generation of the answer
};

struct VqaResult {
  std::string answer;                   // as transformers' (fast) tokenizer decodes it
  std::vector<int64_t> ids;             // all generated ids, starting with [DEC] (batches: padded with 0)
  std::vector<std::string> tokens;      // one per id
  std::vector<int64_t> questionIds;     // the question as the model saw it ([CLS] ... [SEP])
  std::optional<double> sequenceScore;  // beam search
  VqaTimings timings;
};

// Teacher forcing of given answer ids (what transformers' forward() computes).
struct AnswerLogProbs {
  std::vector<int64_t> ids;       // the answer ids, [DEC] first
  std::vector<double> logProbs;   // [ids.size() - 1]: log_softmax(logits[p])[ids[p+1]]
  double total = 0;               // their sum
};

class QuestionAnswerer : public BlipPipeline {
 public:
  // Resolves `modelSpec` (folder or hub id in the Hugging Face cache), reads config.json,
  // tokenizer and preprocessor files, and loads the weights. vlm::Error on any problem; a
  // captioning or CLIP folder is refused naming what it is and the commands it works with.
  static std::unique_ptr<QuestionAnswerer> load(const std::string& modelSpec, const ModelOptions& options = {},
                                                const JobContext& job = {});
  ~QuestionAnswerer();

  // One question about one image: greedy or beam search.
  VqaResult answer(const io::ImageU8& image, const std::string& question, const VqaOptions& options,
                   const JobContext& job = {}) const;
  // Several questions about one image in one batch, as transformers' batched generate() with
  // the questions right-padded: greedy only; every result has the same number of ids (rows
  // that finished early are padded with pad_token_id). Note that generate() lets the answer
  // decoder attend to the question's padding tokens too, so a padded question's answer may
  // differ from answer() on it alone (as in transformers).
  std::vector<VqaResult> answerBatch(const io::ImageU8& image, const std::vector<std::string>& questions,
                                     const VqaOptions& options, const JobContext& job = {}) const;
  // Teacher-forced log-probabilities of `answerIds` ([DEC] first, at least two ids).
  AnswerLogProbs answerLogProbs(const io::ImageU8& image, const std::string& question,
                                const std::vector<int64_t>& answerIds) const;

  std::vector<int64_t> questionIds(const std::string& question) const;  // [CLS] ... [SEP]

  struct Impl;  // core-internal access (dump, benchmark, explainers): pipeline/vqa_impl.h
  Impl& impl() const;

 private:
  QuestionAnswerer();
};

}  // namespace vlm
