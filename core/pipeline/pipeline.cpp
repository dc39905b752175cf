#include "pipeline/pipeline_impl.h"

#include <ATen/ATen.h>

#include "common/error.h"

namespace vlm {

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
  dtype = scalarTypeOf(options.dtype);
  job.progress(0.0, "locating model");
  location = io::resolveModel(spec);
  const auto& dir = location.dir;
  models::requireModelFamily(dir, {family}, command);
  job.throwIfCancelled();
  job.progress(0.1, "reading the tokenizer");
  tokenizer.emplace(text::WordPieceTokenizer::fromFolder(dir));
  job.throwIfCancelled();
  job.progress(0.2, "loading weights");
}

void BlipPipeline::State::finishLoad(const JobContext& job) {
  processor = loadImageProcessor(location.dir, vision::ImageProcessorConfig::Kind::Blip, config().vision.imageSize);
  job.progress(1.0, "model loaded");
}

at::Tensor BlipPipeline::State::pixelValues(const io::ImageU8& image) const {
  return pixelValuesFor(image, processor, config().vision.imageSize, device);  // [1, 3, S, S]
}

BlipPipeline::BlipPipeline(std::unique_ptr<State> state) : state_(std::move(state)) {}
BlipPipeline::~BlipPipeline() = default;

std::string BlipPipeline::modelName() const { return state_->spec; }
std::filesystem::path BlipPipeline::modelDir() const { return state_->location.dir; }
int BlipPipeline::imageSize() const { return static_cast<int>(state_->config().vision.imageSize); }
int BlipPipeline::patchSize() const { return static_cast<int>(state_->config().vision.patchSize); }
int BlipPipeline::visionLayers() const { return static_cast<int>(state_->config().vision.numHiddenLayers); }
int BlipPipeline::textLayers() const { return static_cast<int>(state_->config().text.numHiddenLayers); }

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
