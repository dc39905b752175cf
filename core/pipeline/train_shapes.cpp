#include "pipeline/train_shapes.h"

#include "pipeline/train_shapes_impl.h"

#include <chrono>
#include <cmath>
#include <numbers>
#include <sstream>

#include "common/error.h"
#include "io/files.h"
#include "models/blip/blip_caption.h"
#include "models/blip/blip_vqa.h"
#include "common/random.h"
#include "pipeline/vqa.h"
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
  if (o.hiddenSize % o.heads != 0)
    throw Error(ErrorCode::InvalidArgument, "train-shapes: the hidden size must be a multiple of the heads");
  if (o.imageSize % o.patchSize != 0)
    throw Error(ErrorCode::InvalidArgument, "train-shapes: the image size must be a multiple of the patch size");
  if (o.steps < 1 || o.batch < 1) throw Error(ErrorCode::InvalidArgument, "train-shapes: steps and batch must be at least 1");
  shapes::validate(o.world);
  models::BlipConfig c;
  c.architecture = o.arch == "blip-vqa" ? "BlipForQuestionAnswering" : "BlipForConditionalGeneration";
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

void writeModelCard(const TrainShapesOptions& o, const TrainShapesReport& r, const std::filesystem::path& out) {
  std::ostringstream md;
  const bool vqa = o.arch == "blip-vqa";
  md << (vqa ? "# VLMScope shapes-world BLIP question answerer\n\n" : "# VLMScope shapes-world BLIP captioner\n\n")
     << "Trained by VLMScope itself (`" << train_detail::recipeCommand(o, r.threads) << "`) on synthetic "
     << "shapes-world scenes (`vlmscope shapes`): " << train_detail::worldDescription(o)
     << (vqa ? ", each with questions and answers (\"what colour is the star?\" - \"red\", \"how many squares are there?\" - \"two\", "
               "\"is there a green circle?\" - \"no\", \"what shape is the red object?\" - \"circle\"); each training scene contributes "
            + (o.questionsPerScene == 1 ? std::string("one of its questions, drawn from its seed")
               : o.questionsPerScene == 0 ? std::string("all of its questions (its image encoded once)")
                                          : "its first " + std::to_string(o.questionsPerScene) + " questions (its image encoded once)")
             : ", captioned by a small grammar (\"a red circle above a blue square\")")
     << ". Every training step draws " << o.batch << " fresh scenes, so no scene is seen twice.\n\n"
     << "Architecture: " << (vqa ? "BlipForQuestionAnswering (the layout of Salesforce/blip-vqa-base)" : "BlipForConditionalGeneration (the layout of Salesforce/blip-image-captioning-base)")
     << ", vision " << o.layers
     << " layers, text " << o.layers << " layers, hidden size " << o.hiddenSize << ", " << o.heads << " heads, input " << o.imageSize << " x "
     << o.imageSize << " with " << o.patchSize << " px patches; the tokenizer is bert-base-uncased's (BertTokenizer) with its vocabulary "
     << "trimmed to the special tokens and the " << shapes::vocabulary().size() << " words of this world (spelt as in bert-base-uncased, "
     << "renumbered; [DEC] and [ENC] follow them as in BLIP); " << r.parameters
     << " parameters (the word embeddings and the LM head are kept equal, as transformers ties them). AdamW (lr " << o.learningRate
     << ", weight decay " << o.weightDecay << ", " << o.warmupSteps << " warm-up steps, cosine decay to a tenth), token cross-entropy, "
     << "gradient norm clipped at 1, float32 on CPU, " << r.threads << " thread(s): " << int(std::lround(r.seconds)) << " s.\n\n"
     << "Loss: " << r.losses.front() << " (first step) -> " << r.losses.back() << " (last step).\n\n";
  if (r.evalScenes > 0)
    md << "Held-out scenes (" << r.evalScenes << ", seeds disjoint from training), greedy decoding: "
       << (vqa ? "answer accuracy (every question of every scene) " : "caption exact match ") << train_detail::percent(r.exactMatch) << " %"
       << (vqa ? "" : ", the same meaning (a two-object caption may name the pair in either order: \"a red circle above a blue square\" = "
                      "\"a blue square below a red circle\") " + train_detail::percent(r.meaningMatch) + " %")
       << ", word accuracy " << train_detail::percent(r.wordAccuracy) << " %.\n\n";
  md << "Not a real-world model: it only knows this world. For real photos use "
     << (vqa ? "Salesforce/blip-vqa-base" : "Salesforce/blip-image-captioning-base") << ".\n";
  io::writeFileAtomic(out / "README.md", md.str());
}

}  // namespace

TrainShapesOptions readTrainingRecord(const std::filesystem::path& file) {
  TrainShapesOptions o;
  try {
    const auto j = nlohmann::json::parse(io::readFile(file));
    o.arch = j.at("arch").get<std::string>();
    o.steps = j.at("steps").get<int>();
    o.batch = j.at("batch").get<int>();
    o.learningRate = j.at("learning_rate").get<double>();
    o.weightDecay = j.at("weight_decay").get<double>();
    o.warmupSteps = j.at("warmup_steps").get<int>();
    o.seed = j.at("seed").get<uint64_t>();
    o.hiddenSize = j.at("hidden_size").get<int>();
    o.layers = j.at("layers").get<int>();
    o.heads = j.at("heads").get<int>();
    o.intermediateSize = j.at("intermediate_size").get<int>();
    o.imageSize = j.at("image_size").get<int>();
    o.patchSize = j.at("patch_size").get<int>();
    const auto& w = j.at("world");
    o.world.imageSize = w.at("image_size").get<int>();
    o.world.minObjects = w.at("min_objects").get<int>();
    o.world.maxObjects = w.at("max_objects").get<int>();
    o.world.minRadius = w.at("min_radius").get<double>();
    o.world.maxRadius = w.at("max_radius").get<double>();
    o.world.texture = w.at("texture").get<bool>();
    o.world.distractors = w.at("distractors").get<bool>();
    o.evalScenes = j.at("eval_scenes").get<int>();
    o.questionsPerScene = j.value("questions_per_scene", 1);  // absent in records from before the option
  } catch (const nlohmann::json::exception& e) {
    throw Error(ErrorCode::Corrupt, file.string() + ": " + e.what(), file.string());
  }
  return o;
}

uint64_t heldOutSeed(uint64_t trainSeedValue, int index) { return (uint64_t(1) << 63) + (trainSeedValue << 32) + uint64_t(index); }

namespace {

// Token sequences as one [B, longest] tensor, `pad` after each.
at::Tensor padded(const std::vector<std::vector<int64_t>>& seqs, int64_t pad) {
  size_t longest = 0;
  for (const auto& s : seqs) longest = std::max(longest, s.size());
  at::Tensor t = at::full({int64_t(seqs.size()), int64_t(longest)}, pad, at::kLong);
  auto a = t.accessor<int64_t, 2>();
  for (size_t i = 0; i < seqs.size(); ++i)
    for (size_t k = 0; k < seqs[i].size(); ++k) a[int64_t(i)][int64_t(k)] = seqs[i][k];
  return t;
}

// Next-token cross-entropy of logits [B, T, V] for ids [B, T] (position t predicts t + 1), padding left out.
at::Tensor nextTokenLoss(const at::Tensor& logits, const at::Tensor& ids, int64_t pad) {
  const int64_t t = ids.size(1);
  return at::cross_entropy_loss(logits.slice(1, 0, t - 1).reshape({-1, logits.size(2)}), ids.slice(1, 1).reshape({-1}), {}, at::Reduction::Mean, pad);
}

// The words of `text`, [prefix] + ids + [sep].
std::vector<int64_t> sequence(const text::WordPieceTokenizer& tokenizer, const std::string& text, int64_t prefix, int64_t sep) {
  std::vector<int64_t> seq{prefix};
  for (int64_t id : tokenizer.encode(text, false)) seq.push_back(id);
  seq.push_back(sep);
  return seq;
}

// The question of scene `seed` a training step uses: one of its questions, drawn from the seed.
const shapes::QuestionAnswer& questionOf(const shapes::Scene& s, uint64_t seed) {
  Rng rng(seed ^ 0x9e3779b97f4a7c15ULL);
  return s.questions[rng.below(s.questions.size())];
}

}  // namespace

namespace {

// Held out: the saved folder, loaded like any model, captions (answers) fresh scenes.
void evaluateBlip(const TrainShapesOptions& o, const std::filesystem::path& out, TrainShapesReport& report, const JobContext& job) {
  const bool vqa = o.arch == "blip-vqa";
  report.examples.clear();
  job.progress(0.9, "evaluating");
  size_t words = 0, right = 0;
  int exact = 0, asked = 0, meaning = 0;
  auto score = [&](const std::string& truth, const std::string& got, const std::string& context) {
    ++asked;
    exact += got == truth;
    meaning += !vqa && shapes::sameMeaning(got, truth);
    const auto t = train_detail::splitWords(truth), g = train_detail::splitWords(got);
    for (size_t w = 0; w < t.size(); ++w) right += w < g.size() && g[w] == t[w];
    words += t.size();
    if (report.examples.size() < 5) report.examples.push_back(context + truth + " -> " + got);
  };
  if (vqa) {
    const auto model = QuestionAnswerer::load(out.string());
    for (int i = 0; i < o.evalScenes; ++i) {
      job.throwIfCancelled();
      const shapes::Scene s = shapes::generate(o.world, heldOutSeed(o.seed, i));
      for (const auto& qa : s.questions) score(qa.answer, model->answer(s.image, qa.question, VqaOptions{}).answer, qa.question + " ");
    }
  } else {
    const auto model = Captioner::load(out.string());
    for (int i = 0; i < o.evalScenes; ++i) {
      job.throwIfCancelled();
      const shapes::Scene s = shapes::generate(o.world, heldOutSeed(o.seed, i));
      score(s.caption, model->caption(s.image, CaptionOptions{}).caption, "");
    }
  }
  report.evalScenes = o.evalScenes;
  report.exactMatch = double(exact) / asked;
  report.meaningMatch = vqa ? 0 : double(meaning) / asked;
  report.wordAccuracy = words ? double(right) / double(words) : 0;
}

}  // namespace

nlohmann::ordered_json trainingScores(const TrainShapesOptions& o, const TrainShapesReport& r) {
  if (o.arch == "clip")
    return {{"retrieval_image_to_text", r.retrievalImageToText}, {"retrieval_text_to_image", r.retrievalTextToImage},
            {"distinct_captions", r.distinctCaptions}};
  nlohmann::ordered_json j{{"exact_match", r.exactMatch}};
  if (o.arch == "blip-caption") j["meaning_match"] = r.meaningMatch;
  j["word_accuracy"] = r.wordAccuracy;
  return j;
}

namespace train_detail {

double learningRateAt(const TrainShapesOptions& o, int step) {
  if (step < o.warmupSteps) return o.learningRate * (step + 1) / o.warmupSteps;
  const double t = double(step - o.warmupSteps) / std::max(1, o.steps - o.warmupSteps);
  return o.learningRate * (0.1 + 0.9 * 0.5 * (1 + std::cos(std::numbers::pi * t)));
}

void createOutputFolder(const std::filesystem::path& out) {
  std::error_code ec;
  std::filesystem::create_directories(out, ec);
  if (!std::filesystem::is_directory(out)) throw Error(ErrorCode::Io, "cannot create the folder " + out.string(), out.string());
}

void optimizerStep(torch::optim::AdamW& optimizer, const std::vector<at::Tensor>& parameters, const TrainShapesOptions& o, int step) {
  torch::nn::utils::clip_grad_norm_(parameters, 1.0);
  for (auto& group : optimizer.param_groups()) static_cast<torch::optim::AdamWOptions&>(group.options()).lr(learningRateAt(o, step));
  optimizer.step();
}

std::vector<std::string> splitWords(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

std::string recipeCommand(const TrainShapesOptions& o, int threads) {
  std::ostringstream c;
  c << "vlmscope train-shapes --arch " << o.arch << " --steps " << o.steps << " --batch " << o.batch << " --lr " << o.learningRate
    << " --weight-decay " << o.weightDecay << " --warmup " << o.warmupSteps << " --seed " << o.seed << " --hidden " << o.hiddenSize
    << " --layers " << o.layers << " --heads " << o.heads << " --intermediate " << o.intermediateSize << " --image-size " << o.imageSize
    << " --patch " << o.patchSize << " --scene-size " << o.world.imageSize << (o.world.texture ? " --texture" : "")
    << (o.world.distractors ? " --distractors" : "") << " --eval " << o.evalScenes << (o.arch == "blip-vqa" ? " --questions " + std::to_string(o.questionsPerScene) : std::string())
    << " --threads " << threads << " --out DIR";
  return c.str();
}

std::string percent(double share) {
  char b[32];
  std::snprintf(b, sizeof b, "%.1f", 100 * share);
  return b;
}

std::string worldDescription(const TrainShapesOptions& o) {
  std::ostringstream d;
  d << o.world.minObjects << "-" << o.world.maxObjects << " flat-coloured shapes (circle, square, triangle, star, diamond; red, green, blue, "
    << "yellow, purple, orange) on a light background, " << o.world.imageSize << " x " << o.world.imageSize << " px"
    << (o.world.texture ? ", textured" : "") << (o.world.distractors ? ", with distractor lines" : "");
  return d.str();
}

void writeTrainingRecord(const TrainShapesOptions& o, const TrainShapesReport& r, const std::filesystem::path& out) {
  nlohmann::ordered_json record{
      {"arch", o.arch}, {"steps", o.steps}, {"batch", o.batch}, {"learning_rate", o.learningRate}, {"weight_decay", o.weightDecay},
      {"warmup_steps", o.warmupSteps}, {"seed", o.seed}, {"hidden_size", o.hiddenSize}, {"layers", o.layers}, {"heads", o.heads},
      {"intermediate_size", o.intermediateSize}, {"image_size", o.imageSize}, {"patch_size", o.patchSize},
      {"world", {{"image_size", o.world.imageSize}, {"min_objects", o.world.minObjects}, {"max_objects", o.world.maxObjects},
                 {"min_radius", o.world.minRadius}, {"max_radius", o.world.maxRadius}, {"texture", o.world.texture}, {"distractors", o.world.distractors}}},
      {"eval_scenes", r.evalScenes}};
  if (o.arch == "blip-vqa") record["questions_per_scene"] = o.questionsPerScene;
  record.update(trainingScores(o, r));
  record["parameters"] = r.parameters;
  record["seconds"] = r.seconds;
  record["threads"] = r.threads;  // from the same seed and thread count the run is bit-identical
  record["first_loss"] = r.losses.front();
  record["last_loss"] = r.losses.back();
  io::writeFileAtomic(out / "training.json", record.dump(2) + "\n");
}

}  // namespace train_detail

TrainShapesReport trainShapes(const TrainShapesOptions& o, const std::filesystem::path& out, const JobContext& job) {
  if (o.arch == "clip") return train_detail::trainShapesClip(o, out, job);
  if (o.arch != "blip-caption" && o.arch != "blip-vqa")
    throw Error(ErrorCode::InvalidArgument, "train-shapes: unknown --arch '" + o.arch + "' (blip-caption, blip-vqa, clip)");
  const models::BlipConfig config = configOf(o);
  const bool vqa = o.arch == "blip-vqa";
  train_detail::createOutputFolder(out);
  writeTokenizer(trimmedVocabulary(), out);
  const auto tokenizer = text::WordPieceTokenizer::fromFolder(out);
  vision::ImageProcessorConfig processor = vision::ImageProcessorConfig::blipDefaults();
  processor.resizeHeight = processor.resizeWidth = int(config.vision.imageSize);
  const int64_t pad = config.text.padTokenId, sep = config.text.sepTokenId, bos = config.text.bosTokenId;

  TrainShapesReport report;
  std::shared_ptr<torch::nn::Module> module;
  models::BlipForConditionalGeneration captioner(nullptr);
  models::BlipForQuestionAnswering answerer(nullptr);
  if (vqa) module = (answerer = models::BlipForQuestionAnswering(config)).ptr();
  else module = (captioner = models::BlipForConditionalGeneration(config)).ptr();
  initRandomWeights(*module, o.seed);
  std::map<std::string, at::Tensor> params;
  for (const auto& item : module->named_parameters(true)) {
    params[item.key()] = item.value();
    report.parameters += item.value().numel();
  }
  {
    at::NoGradGuard noGrad;
    params.at(kLmHead).copy_(params.at(kEmbeddings));  // tied, as in transformers
  }
  report.parameters -= params.at(kLmHead).numel();
  torch::optim::AdamW optimizer(module->parameters(), torch::optim::AdamWOptions(o.learningRate).weight_decay(o.weightDecay));

  const auto t0 = std::chrono::steady_clock::now();
  for (int step = 0; step < o.steps; ++step) {
    job.throwIfCancelled();
    // A batch of fresh scenes through the processor; captions as [DEC] words [SEP], or (VQA) one
    // question per scene as [CLS] words [SEP] with its answer as [DEC] words [SEP].
    std::vector<at::Tensor> pixels;
    std::vector<std::vector<int64_t>> texts, questions;
    std::vector<int64_t> sceneOf;  // VQA: the scene of each question
    for (int i = 0; i < o.batch; ++i) {
      const uint64_t seed = train_detail::trainSeed(o.seed, step, i, o.batch);
      const shapes::Scene s = shapes::generate(o.world, seed);
      pixels.push_back(pixelValuesFor(s.image, processor, config.vision.imageSize, at::kCPU));
      if (vqa) {
        auto ask = [&](const shapes::QuestionAnswer& qa) {
          questions.push_back(tokenizer.encode(qa.question, true));
          texts.push_back(sequence(tokenizer, qa.answer, bos, sep));
          sceneOf.push_back(i);
        };
        if (o.questionsPerScene == 1) ask(questionOf(s, seed));
        else
          for (size_t k = 0; k < s.questions.size() && (o.questionsPerScene == 0 || int(k) < o.questionsPerScene); ++k) ask(s.questions[k]);
      } else {
        texts.push_back(sequence(tokenizer, s.caption, bos, sep));
      }
    }
    const at::Tensor x = at::cat(pixels, 0), ids = padded(texts, pad);
    // Causal attention: padding at the end never reaches the real tokens; it is left out of the loss.
    at::Tensor loss;
    if (vqa) {
      const at::Tensor q = padded(questions, pad), mask = q.ne(pad).to(at::kLong);
      // The image encoded once per scene, its embeddings shared by the scene's questions.
      const at::Tensor image = answerer->encodeImage(x).index_select(0, at::tensor(sceneOf, at::kLong));
      const at::Tensor states = answerer->encodeQuestion(image, q, mask);
      loss = nextTokenLoss(answerer->answerLogits(states, mask, ids), ids, pad);
    } else {
      loss = nextTokenLoss(captioner->decode(captioner->encodeImage(x), ids), ids, pad);
    }
    optimizer.zero_grad();
    loss.backward();
    {
      // Tied weights: one gradient, the sum of both uses, for both copies (which stay equal).
      at::NoGradGuard noGrad;
      const at::Tensor g = params.at(kEmbeddings).grad() + params.at(kLmHead).grad();
      params.at(kEmbeddings).mutable_grad().copy_(g);
      params.at(kLmHead).mutable_grad().copy_(g);
    }
    train_detail::optimizerStep(optimizer, module->parameters(), o, step);
    report.losses.push_back(loss.item<double>());
    job.progress(0.9 * double(step + 1) / o.steps, "training");
  }
  report.seconds = secondsSince(t0);
  report.threads = runtime::threads();

  // The checkpoint, as transformers lays it out.
  writeWeights(*module, out / "model.safetensors");
  io::writeFileAtomic(out / "config.json", models::blipConfigToJson(config).dump(2) + "\n");
  writeBlipPreprocessor(config, out);

  if (o.evalScenes > 0) evaluateBlip(o, out, report, job);
  writeModelCard(o, report, out);
  train_detail::writeTrainingRecord(o, report, out);
  job.progress(1.0, "done");
  return report;
}

TrainShapesReport evaluateShapesModel(const std::filesystem::path& dir, const JobContext& job) {
  const auto file = dir / "training.json";
  TrainShapesOptions o = readTrainingRecord(file);
  TrainShapesReport r;
  try {
    const auto j = nlohmann::json::parse(io::readFile(file));
    r.losses = {j.at("first_loss").get<double>(), j.at("last_loss").get<double>()};
    r.seconds = j.at("seconds").get<double>();
    r.parameters = j.at("parameters").get<int64_t>();
    r.threads = j.value("threads", 0);
  } catch (const nlohmann::json::exception& e) {
    throw Error(ErrorCode::Corrupt, file.string() + ": " + e.what(), file.string());
  }
  if (o.evalScenes < 1) o.evalScenes = 200;
  if (o.arch == "clip") {
    train_detail::evaluateClip(o, dir, r, job);
  } else {
    evaluateBlip(o, dir, r, job);
    writeModelCard(o, r, dir);
    train_detail::writeTrainingRecord(o, r, dir);
  }
  job.progress(1.0, "done");
  return r;
}

}  // namespace vlm
