#include "pipeline/pipeline_impl.h"

#include <ATen/ATen.h>

#include "common/error.h"
#include "vision/tensor.h"

namespace vlm {

namespace {

at::Device parseDevice(const std::string& name) {
  try {
    at::Device d(name);
    if (d.is_cuda() && !at::hasCUDA())
      throw Error(ErrorCode::Unsupported, "device '" + name + "': this LibTorch build has no CUDA support");
    return d;
  } catch (const c10::Error&) {
    throw Error(ErrorCode::InvalidArgument, "unknown device '" + name + "' (use cpu or cuda[:N])");
  }
}

}  // namespace

double secondsSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

JobContext subJob(const JobContext& job, double from, double to) {
  return JobContext(job.stopToken(), [&job, from, to](double f, std::string_view s) { job.progress(from + (to - from) * f, s); });
}

models::GenerationOptions generationOptions(const DecodingOptions& o) {
  models::GenerationOptions g;
  g.maxLength = o.maxLength;
  g.minLength = o.minLength;
  g.numBeams = o.numBeams;
  g.repetitionPenalty = o.repetitionPenalty;
  g.noRepeatNgramSize = o.noRepeatNgramSize;
  return g;
}

void BlipPipeline::State::open(const std::string& modelSpec, const ModelOptions& modelOptions, models::ModelFamily family,
                            const std::string& command, const JobContext& job) {
  spec = modelSpec;
  options = modelOptions;
  device = parseDevice(options.device);
  dtype = options.dtype == ComputeDType::BFloat16 ? at::kBFloat16 : at::kFloat;
  job.progress(0.0, "locating model");
  location = io::resolveModel(spec);
  const auto& dir = location.dir;
  models::requireModelFamily(dir, {family}, command);
  job.throwIfCancelled();
  job.progress(0.1, "reading tokenizer and image processor");
  tokenizer.emplace(text::WordPieceTokenizer::fromFolder(dir));
  if (std::filesystem::exists(dir / "preprocessor_config.json"))
    processor = vision::parseImageProcessorConfig(dir / "preprocessor_config.json", vision::ImageProcessorConfig::Kind::Blip);
  else
    throw Error(ErrorCode::NotFound, dir.string() + ": no preprocessor_config.json (the image processor settings)", dir.string());
  job.throwIfCancelled();
  job.progress(0.2, "loading weights");
}

void BlipPipeline::State::finishLoad(const JobContext& job) const {
  const int64_t imageSize = config().vision.imageSize;
  const std::string file = (location.dir / "preprocessor_config.json").string();
  if (processor.kind != vision::ImageProcessorConfig::Kind::Blip || processor.resizeHeight != imageSize || processor.resizeWidth != imageSize)
    throw Error(ErrorCode::Corrupt, file + ": the processor resizes to " + std::to_string(processor.resizeWidth) + "x" +
                                        std::to_string(processor.resizeHeight) + " but the vision model expects " + std::to_string(imageSize) +
                                        "x" + std::to_string(imageSize),
                file);
  job.progress(1.0, "model loaded");
}

at::Tensor BlipPipeline::State::pixelValues(const io::ImageU8& image) const {
  return vision::pixelValuesTensor(vision::preprocess(image, processor)).to(device);  // [1, 3, S, S]
}

BlipPipeline::BlipPipeline(std::unique_ptr<State> state) : state_(std::move(state)) {}
BlipPipeline::~BlipPipeline() = default;

std::string BlipPipeline::modelName() const { return state_->spec; }
std::filesystem::path BlipPipeline::modelDir() const { return state_->location.dir; }
int BlipPipeline::imageSize() const { return static_cast<int>(state_->config().vision.imageSize); }

std::vector<std::string> BlipPipeline::tokensOf(const std::vector<int64_t>& ids) const {
  const text::WordPieceTokenizer& tok = *state_->tokenizer;
  const int64_t bos = state_->config().text.bosTokenId;
  std::vector<std::string> out;
  for (int64_t id : ids) out.push_back(id == bos && id >= int64_t(tok.vocabSize()) ? "[DEC]" : tok.idToToken(id));
  return out;
}

std::string BlipPipeline::decodeForDisplay(const std::vector<int64_t>& ids) const { return state_->tokenizer->decodeForDisplay(ids); }

std::vector<std::string> BlipPipeline::loadNotes() const {
  std::vector<std::string> notes;
  for (const auto& s : state_->weightReport().substitutions) notes.push_back("tied weight: " + s);
  for (const auto& k : state_->weightReport().unusedKeys) notes.push_back("unused checkpoint tensor: " + k);
  return notes;
}

}  // namespace vlm
