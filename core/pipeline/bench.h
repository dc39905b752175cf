#pragma once
// `vlmscope bench`: the machine's matmul rate and the captioning / VQA pipelines' speed,
// measured in the same run so that the figures can be reported as ratios.

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "pipeline/captioner.h"
#include "pipeline/vqa.h"

namespace vlm {

struct GemmBenchResult {
  int size = 0;  // n of the n x n x n product
  int threads = 0;
  double fp32Gflops = 0;
  double bf16Gflops = 0;
};

// Median rate of `runs` square products of size n (after one warm-up).
GemmBenchResult benchGemm(int n = 2048, int runs = 5);

struct CaptionBenchOptions {
  std::string model;
  std::filesystem::path image;
  int runs = 5;
  int newTokens = 20;  // the caption is forced to exactly this many tokens after [DEC]
  ModelOptions modelOptions;
};

struct CaptionBenchResult {
  double loadSeconds = 0;        // Captioner::load (config, tokenizer, weights mapped), median of fresh loads
  double firstCaptionSeconds = 0;  // the first caption after a load: weights are paged in on first use
  // Steady state, median of `runs` captions on the loaded model after one warm-up:
  double preprocessSeconds = 0;  // image file decode + resize + normalise
  double visionSeconds = 0;      // vision encoder
  double decodeSeconds = 0;      // generation of newTokens
  double captionSeconds = 0;     // preprocess + vision + decode
  int tokensGenerated = 0;
  double visionGflop = 0;        // analytic FLOPs of one vision forward, in GFLOP
  double visionGflops = 0;       // achieved rate
  int threads = 0;
  std::string dtype;
  double peakRssMb = 0;
  std::string caption;
  std::optional<std::string> fp32Caption;  // bfloat16 runs: the float32 caption, for agreement
  std::optional<double> tokenAgreement;    // fraction of equal ids, position by position
};

CaptionBenchResult benchCaption(const CaptionBenchOptions& options, const JobContext& job = {});

struct VqaBenchOptions {
  std::string model;
  std::filesystem::path image;
  std::string question = "what is in the picture?";
  int runs = 5;
  int newTokens = 0;  // 0: the answer as generated (max_length 20); N: forced to exactly N tokens after [DEC]
  ModelOptions modelOptions;
};

struct VqaBenchResult {
  double loadSeconds = 0;         // QuestionAnswerer::load, median of fresh loads
  double firstAnswerSeconds = 0;  // the first answer after a load: weights are paged in on first use
  // Steady state, median of `runs` answers on the loaded model after one warm-up:
  double preprocessSeconds = 0;  // image file decode + resize + normalise
  double visionSeconds = 0;      // vision encoder
  double questionSeconds = 0;    // question encoder (cross-attending to the image)
  double decodeSeconds = 0;      // answer generation
  double answerSeconds = 0;      // preprocess + vision + question + decode
  int tokensGenerated = 0;       // after [DEC], [SEP] included
  double visionGflop = 0;        // analytic FLOPs of one vision forward, in GFLOP
  double visionGflops = 0;       // achieved rate
  double gemmGflops = 0;         // GEMM 2048^3 rate in the compute dtype, measured in the same run
  double visionVsGemm = 0;       // visionGflops / gemmGflops
  double answerVsVision = 0;     // answerSeconds / visionSeconds
  int threads = 0;
  std::string dtype;
  double peakRssMb = 0;
  std::string answer;
};

VqaBenchResult benchVqa(const VqaBenchOptions& options, const JobContext& job = {});

}  // namespace vlm

namespace vlm {

struct SimilarityBenchOptions {
  std::string model;
  std::filesystem::path image;
  std::vector<std::string> texts;  // empty: four short captions
  int runs = 5;
  ModelOptions modelOptions;
};

struct SimilarityBenchResult {
  double gemmGflops = 0;          // GEMM 2048^3 rate in the compute dtype, measured in the same run (the baseline)
  double loadSeconds = 0;         // SimilarityModel::load, median of fresh loads
  double firstScoreSeconds = 0;   // the first score after a load (weights paged in)
  // Steady state, median of `runs` after one warm-up:
  double preprocessSeconds = 0;   // image file decode + resize + crop + normalise
  double visionSeconds = 0;       // vision tower + projection
  double textSeconds = 0;         // text tower + projection for all texts (incl. tokenizing)
  double totalSeconds = 0;
  double visionGflop = 0, visionGflops = 0;
  int texts = 0;
  int threads = 0;
  std::string dtype;
  double peakRssMb = 0;
};

SimilarityBenchResult benchSimilarity(const SimilarityBenchOptions& options, const JobContext& job = {});

}  // namespace vlm

namespace vlm {

// `bench explain`: the maps of every caption token from one call (one forward pass, one
// backward per token) against one call per token, on the same caption ids; both timed in the
// same run and checked to give the same maps.
struct ExplainBenchOptions {
  std::string model;
  std::filesystem::path image;
  std::string method = "gradcam";  // gradcam | hirescam | gradxact | xattn
  std::optional<int> layer;        // default as ExplainOptions
  int runs = 3;
  ModelOptions modelOptions;
};

struct ExplainBenchResult {
  int tokens = 0;                  // maps per caption (ids after [DEC])
  double allTokensSeconds = 0;     // median over runs of one --all-tokens call
  double perTokenSeconds = 0;      // median over runs of the sum of the single-token calls
  double speedup = 0;              // perTokenSeconds / allTokensSeconds
  double maxAbsDifference = 0;     // between the two sets of raw maps
  std::string caption;
  std::string layer;
  int threads = 0;
};
ExplainBenchResult benchExplain(const ExplainBenchOptions& options, const JobContext& job = {});

// KernelSHAP per-token explanation of the model's caption, once with a pixel masker (constant)
// and once with patch removal, same features / budget / seed, after a warm-up; the baseline is
// one unmasked forward pass of the same target measured in the same run.
struct ShapBenchOptions {
  std::string model;
  std::filesystem::path image;
  std::string features = "grid:8x8";
  int64_t evaluations = 300;
  int batch = 16;
  int runs = 1;
  ModelOptions modelOptions;
};

struct ShapBenchResult {
  int tokens = 0, features = 0;
  double forwardSeconds = 0;            // one unmasked forward pass (image + teacher-forced caption)
  double pixelSeconds = 0, patchSeconds = 0;  // median of the KernelSHAP runs
  int64_t pixelEvaluations = 0, patchEvaluations = 0;
  double pixelEvalsPerSecond = 0, patchEvalsPerSecond = 0;
  double pixelVsForward = 0;   // pixelSeconds / (evaluations * forwardSeconds): cost of an evaluation in forward passes
  double patchVsForward = 0;
  double patchSpeedup = 0;     // pixelSeconds / patchSeconds
  double meanVisibleShare = 0; // patch removal: mean share of the patches the evaluated coalitions kept
  std::string caption;
  int threads = 0;
};
ShapBenchResult benchShap(const ShapBenchOptions& options, const JobContext& job = {});

}  // namespace vlm
