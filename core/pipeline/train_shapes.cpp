#include "pipeline/train_shapes.h"

#include <chrono>
#include <cmath>
#include <numbers>
#include <sstream>

#include "common/error.h"
#include "io/files.h"
#include "models/blip/blip_caption.h"
#include "pipeline/captioner.h"
#include "pipeline/checkpoint_writer.h"
#include "pipeline/model_loading.h"
#include "runtime/runtime.h"
#include "text/wordpiece.h"
#include "vision/preprocess.h"

namespace vlm {

namespace {

constexpr const char* kEmbeddings = "text_decoder.bert.embeddings.word_embeddings.weight";
constexpr const char* kLmHead = "text_decoder.cls.predictions.decoder.weight";

uint64_t trainSeed(uint64_t seed, int step, int i, int batch) { return (seed << 32) + uint64_t(step) * uint64_t(batch) + uint64_t(i); }

// The tokenizer: bert-base-uncased's special tokens and the world's words (each a whole word of
// the real vocabulary, spelt the same), renumbered: a trimmed vocabulary keeps the embedding
// table (and the checkpoint) small and the first loss near log(vocabulary size).
std::vector<std::string> trimmedVocabulary() {
  std::vector<std::string> v{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};
  for (const auto& w : shapes::vocabulary()) v.push_back(w);
  return v;
}

void writeTokenizer(const std::vector<std::string>& vocab, const std::filesystem::path& out) {
  std::string text;
  for (const auto& w : vocab) text += w + "\n";
  io::writeFileAtomic(out / "vocab.txt", text);
  nlohmann::ordered_json added;
  for (int i = 0; i < 5; ++i)
    added[std::to_string(i)] = {{"content", vocab[size_t(i)]}, {"lstrip", false}, {"normalized", false}, {"rstrip", false}, {"single_word", false},
                                {"special", true}};
  const nlohmann::ordered_json config{{"added_tokens_decoder", added},
                                      {"clean_up_tokenization_spaces", true},
                                      {"cls_token", "[CLS]"},
                                      {"do_basic_tokenize", true},
                                      {"do_lower_case", true},
                                      {"mask_token", "[MASK]"},
                                      {"model_max_length", 512},
                                      {"never_split", nullptr},
                                      {"pad_token", "[PAD]"},
                                      {"processor_class", "BlipProcessor"},
                                      {"sep_token", "[SEP]"},
                                      {"strip_accents", nullptr},
                                      {"tokenize_chinese_chars", true},
                                      {"tokenizer_class", "BertTokenizer"},
                                      {"unk_token", "[UNK]"}};
  io::writeFileAtomic(out / "tokenizer_config.json", config.dump(2) + "\n");
  const nlohmann::ordered_json special{{"cls_token", "[CLS]"}, {"mask_token", "[MASK]"}, {"pad_token", "[PAD]"}, {"sep_token", "[SEP]"}, {"unk_token", "[UNK]"}};
  io::writeFileAtomic(out / "special_tokens_map.json", special.dump(2) + "\n");
}

models::BlipConfig configOf(const TrainShapesOptions& o) {
  if (o.arch != "blip-caption") throw Error(ErrorCode::InvalidArgument, "train-shapes: unknown --arch '" + o.arch + "' (blip-caption)");
  if (o.hiddenSize % o.heads != 0)
    throw Error(ErrorCode::InvalidArgument, "train-shapes: the hidden size must be a multiple of the heads");
  if (o.imageSize % o.patchSize != 0)
    throw Error(ErrorCode::InvalidArgument, "train-shapes: the image size must be a multiple of the patch size");
  if (o.steps < 1 || o.batch < 1) throw Error(ErrorCode::InvalidArgument, "train-shapes: steps and batch must be at least 1");
  shapes::validate(o.world);
  models::BlipConfig c;
  c.architecture = "BlipForConditionalGeneration";
  c.vision.hiddenSize = o.hiddenSize;
  c.vision.intermediateSize = o.intermediateSize;
  c.vision.numHiddenLayers = o.layers;
  c.vision.numAttentionHeads = o.heads;
  c.vision.imageSize = o.imageSize;
  c.vision.patchSize = o.patchSize;
  c.text.hiddenSize = o.hiddenSize;
  c.text.encoderHiddenSize = o.hiddenSize;
  c.text.intermediateSize = o.intermediateSize;
  c.text.numHiddenLayers = o.layers;
  c.text.numAttentionHeads = o.heads;
  c.text.maxPositionEmbeddings = 64;
  // The trimmed vocabulary, then [DEC] (the BOS) and [ENC] past its end, as BLIP numbers them.
  const int64_t words = int64_t(trimmedVocabulary().size());
  c.text.vocabSize = words + 2;
  c.text.bosTokenId = words;
  c.text.padTokenId = 0;
  c.text.sepTokenId = 3;
  c.text.eosTokenId = 3;
  return c;
}

double learningRateAt(const TrainShapesOptions& o, int step) {
  if (step < o.warmupSteps) return o.learningRate * (step + 1) / o.warmupSteps;
  const double t = double(step - o.warmupSteps) / std::max(1, o.steps - o.warmupSteps);
  return o.learningRate * (0.1 + 0.9 * 0.5 * (1 + std::cos(std::numbers::pi * t)));
}

std::vector<std::string> splitWords(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

void writeModelCard(const TrainShapesOptions& o, const TrainShapesReport& r, const std::filesystem::path& out) {
  std::ostringstream md;
  md << "# VLMScope shapes-world BLIP captioner\n\n"
     << "Trained by VLMScope itself (`vlmscope train-shapes --arch " << o.arch << " --steps " << o.steps << " --batch " << o.batch << " --lr "
     << o.learningRate << " --seed " << o.seed << " --hidden " << o.hiddenSize << " --layers " << o.layers << "`) on synthetic "
     << "shapes-world scenes (`vlmscope shapes`): " << o.world.minObjects << "-" << o.world.maxObjects << " flat-coloured shapes (circle, "
     << "square, triangle, star, diamond; red, green, blue, yellow, purple, orange) on a light background, " << o.world.imageSize << " x "
     << o.world.imageSize << " px" << (o.world.texture ? ", textured" : "") << (o.world.distractors ? ", with distractor lines" : "")
     << ", captioned by a small grammar (\"a red circle above a blue square\"). Every training step draws " << o.batch
     << " fresh scenes, so no scene is seen twice.\n\n"
     << "Architecture: BlipForConditionalGeneration (the layout of Salesforce/blip-image-captioning-base), vision " << o.layers
     << " layers, text " << o.layers << " layers, hidden size " << o.hiddenSize << ", " << o.heads << " heads, input " << o.imageSize << " x "
     << o.imageSize << " with " << o.patchSize << " px patches; the tokenizer is bert-base-uncased's (BertTokenizer) with its vocabulary "
     << "trimmed to the special tokens and the " << shapes::vocabulary().size() << " words of this world (spelt as in bert-base-uncased, "
     << "renumbered; [DEC] and [ENC] follow them as in BLIP); " << r.parameters
     << " parameters (the word embeddings and the LM head are kept equal, as transformers ties them). AdamW (lr " << o.learningRate
     << ", weight decay " << o.weightDecay << ", " << o.warmupSteps << " warm-up steps, cosine decay to a tenth), token cross-entropy, "
     << "gradient norm clipped at 1, float32 on CPU: " << r.seconds << " s.\n\n"
     << "Loss: " << r.losses.front() << " (first step) -> " << r.losses.back() << " (last step).\n\n";
  if (r.evalScenes > 0)
    md << "Held-out scenes (" << r.evalScenes << ", seeds disjoint from training), greedy decoding: caption exact match "
       << 100 * r.exactMatch << " %, word accuracy " << 100 * r.wordAccuracy << " %.\n\n";
  md << "Not a real-world model: it only knows this world. For real photos use Salesforce/blip-image-captioning-base.\n";
  io::writeFileAtomic(out / "README.md", md.str());
}

}  // namespace

uint64_t heldOutSeed(uint64_t trainSeedValue, int index) { return (uint64_t(1) << 63) + (trainSeedValue << 32) + uint64_t(index); }

TrainShapesReport trainShapes(const TrainShapesOptions& o, const std::filesystem::path& out, const JobContext& job) {
  const models::BlipConfig config = configOf(o);
  std::error_code ec;
  std::filesystem::create_directories(out, ec);
  if (!std::filesystem::is_directory(out)) throw Error(ErrorCode::Io, "cannot create the folder " + out.string(), out.string());
  writeTokenizer(trimmedVocabulary(), out);
  const auto tokenizer = text::WordPieceTokenizer::fromFolder(out);
  vision::ImageProcessorConfig processor = vision::ImageProcessorConfig::blipDefaults();
  processor.resizeHeight = processor.resizeWidth = int(config.vision.imageSize);

  TrainShapesReport report;
  models::BlipForConditionalGeneration model(config);
  initRandomWeights(*model, o.seed);
  std::map<std::string, at::Tensor> params;
  for (const auto& item : model->named_parameters(true)) {
    params[item.key()] = item.value();
    report.parameters += item.value().numel();
  }
  {
    at::NoGradGuard noGrad;
    params.at(kLmHead).copy_(params.at(kEmbeddings));  // tied, as in transformers
  }
  report.parameters -= params.at(kLmHead).numel();
  torch::optim::AdamW optimizer(model->parameters(), torch::optim::AdamWOptions(o.learningRate).weight_decay(o.weightDecay));

  const auto t0 = std::chrono::steady_clock::now();
  for (int step = 0; step < o.steps; ++step) {
    job.throwIfCancelled();
    // A batch of fresh scenes: pixels through the processor, captions as [DEC] words [SEP] [PAD]...
    std::vector<at::Tensor> pixels;
    std::vector<std::vector<int64_t>> ids;
    size_t longest = 0;
    for (int i = 0; i < o.batch; ++i) {
      const shapes::Scene s = shapes::generate(o.world, trainSeed(o.seed, step, i, o.batch));
      pixels.push_back(pixelValuesFor(s.image, processor, config.vision.imageSize, at::kCPU));
      std::vector<int64_t> seq{config.text.bosTokenId};
      for (int64_t id : tokenizer.encode(s.caption, false)) seq.push_back(id);
      seq.push_back(config.text.sepTokenId);
      longest = std::max(longest, seq.size());
      ids.push_back(std::move(seq));
    }
    at::Tensor idTensor = at::full({o.batch, int64_t(longest)}, config.text.padTokenId, at::kLong);
    for (int i = 0; i < o.batch; ++i)
      for (size_t t = 0; t < ids[size_t(i)].size(); ++t) idTensor[i][int64_t(t)] = ids[size_t(i)][t];
    const at::Tensor x = at::cat(pixels, 0);
    // Causal attention: padding at the end never reaches the real tokens; it is left out of the loss.
    const at::Tensor logits = model->decode(model->encodeImage(x), idTensor);
    const at::Tensor predicted = logits.slice(1, 0, int64_t(longest) - 1).reshape({-1, logits.size(2)});
    const at::Tensor target = idTensor.slice(1, 1).reshape({-1});
    const at::Tensor loss = at::cross_entropy_loss(predicted, target, {}, at::Reduction::Mean, config.text.padTokenId);
    optimizer.zero_grad();
    loss.backward();
    {
      // Tied weights: one gradient, the sum of both uses, for both copies (which stay equal).
      at::NoGradGuard noGrad;
      const at::Tensor g = params.at(kEmbeddings).grad() + params.at(kLmHead).grad();
      params.at(kEmbeddings).mutable_grad().copy_(g);
      params.at(kLmHead).mutable_grad().copy_(g);
    }
    torch::nn::utils::clip_grad_norm_(model->parameters(), 1.0);
    for (auto& group : optimizer.param_groups()) static_cast<torch::optim::AdamWOptions&>(group.options()).lr(learningRateAt(o, step));
    optimizer.step();
    report.losses.push_back(loss.item<double>());
    job.progress(0.9 * double(step + 1) / o.steps, "training");
  }
  report.seconds = secondsSince(t0);

  // The checkpoint, as transformers lays it out.
  writeWeights(*model, out / "model.safetensors");
  io::writeFileAtomic(out / "config.json", models::blipConfigToJson(config).dump(2) + "\n");
  writeBlipPreprocessor(config, out);

  // Held out: the saved folder, loaded like any model, captions fresh scenes.
  if (o.evalScenes > 0) {
    job.progress(0.9, "evaluating");
    const auto captioner = Captioner::load(out.string());
    size_t words = 0, right = 0;
    int exact = 0;
    for (int i = 0; i < o.evalScenes; ++i) {
      job.throwIfCancelled();
      const shapes::Scene s = shapes::generate(o.world, heldOutSeed(o.seed, i));
      const std::string caption = captioner->caption(s.image, CaptionOptions{}).caption;
      exact += caption == s.caption;
      const auto truth = splitWords(s.caption), got = splitWords(caption);
      for (size_t w = 0; w < truth.size(); ++w) right += w < got.size() && got[w] == truth[w];
      words += truth.size();
      if (i < 5) report.examples.push_back(s.caption + " -> " + caption);
    }
    report.evalScenes = o.evalScenes;
    report.exactMatch = double(exact) / o.evalScenes;
    report.wordAccuracy = words ? double(right) / double(words) : 0;
  }
  writeModelCard(o, report, out);
  job.progress(1.0, "done");
  return report;
}

}  // namespace vlm
