// train-shapes --arch clip: a small CLIPModel trained contrastively on shapes-world scenes and
// their captions, with openai's CLIP tokenizer trimmed to the merges and tokens the world's
// words need.
#include <ATen/ATen.h>

#include <chrono>
#include <climits>
#include <cmath>
#include <map>
#include <set>
#include <sstream>

#include "common/error.h"
#include "io/files.h"
#include "models/clip/clip_model.h"
#include "pipeline/checkpoint_writer.h"
#include "pipeline/model_loading.h"
#include "pipeline/similarity.h"
#include "pipeline/train_shapes_impl.h"
#include "runtime/runtime.h"
#include "text/clip_tokenizer.h"
#include "vision/preprocess.h"

namespace vlm::train_detail {

namespace {

constexpr const char* kRealClipTokenizer = "clip-vit-base-patch32";
constexpr int kBaseSymbols = 512;  // CLIP's vocabulary starts with the 256 byte symbols, then each with "</w>"

// The merge ranks bpe() applies to `word` (lower-case ASCII, one regex piece: every byte maps to
// itself under bytes_to_unicode), as CLIPTokenizer.bpe does: the lowest-ranked adjacent pair,
// every occurrence left to right, until none applies.
void traceMerges(const std::string& word, const std::map<std::pair<std::string, std::string>, int>& ranks, std::set<int>& used) {
  std::vector<std::string> symbols;
  for (char c : word) symbols.emplace_back(1, c);
  if (symbols.empty()) return;
  symbols.back() += "</w>";
  while (symbols.size() > 1) {
    int best = INT_MAX;
    std::pair<std::string, std::string> pair;
    for (size_t i = 0; i + 1 < symbols.size(); ++i) {
      const auto it = ranks.find({symbols[i], symbols[i + 1]});
      if (it != ranks.end() && it->second < best) {
        best = it->second;
        pair = it->first;
      }
    }
    if (best == INT_MAX) break;
    used.insert(best);
    std::vector<std::string> next;
    for (size_t i = 0; i < symbols.size();) {
      if (i + 1 < symbols.size() && symbols[i] == pair.first && symbols[i + 1] == pair.second) {
        next.push_back(pair.first + pair.second);
        i += 2;
      } else {
        next.push_back(symbols[i++]);
      }
    }
    symbols = std::move(next);
  }
}

// openai/clip-vit-base-patch32's tokenizer with only what the world's words need: its 512 byte
// symbols (ids unchanged, so any text still tokenizes), the merges those words go through (in
// their original order, so bpe() takes the same steps), each merge's token (renumbered from 512,
// as CLIP numbers them), then <|startoftext|> and <|endoftext|>. Returns the vocabulary size.
int64_t writeTrimmedClipTokenizer(const std::filesystem::path& out) {
  const auto real = runtime::resourceDir() / "tokenizers" / kRealClipTokenizer;
  const auto vocabJson = nlohmann::json::parse(io::readFile(real / "vocab.json"));
  std::vector<std::string> base(kBaseSymbols);
  for (const auto& [token, id] : vocabJson.items())
    if (id.get<int64_t>() < kBaseSymbols) base[size_t(id.get<int64_t>())] = token;
  std::vector<std::pair<std::string, std::string>> merges;
  std::map<std::pair<std::string, std::string>, int> ranks;
  {
    std::istringstream in(io::readFile(real / "merges.txt"));
    std::string line;
    std::getline(in, line);  // "#version: 0.2"
    while (std::getline(in, line) && merges.size() < 48894) {
      const auto space = line.find(' ');
      if (space == std::string::npos) continue;
      merges.emplace_back(line.substr(0, space), line.substr(space + 1));
      ranks.emplace(merges.back(), int(merges.size() - 1));
    }
  }
  std::set<int> used;
  for (const auto& w : shapes::vocabulary()) traceMerges(w, ranks, used);
  traceMerges(",", ranks, used);

  nlohmann::ordered_json vocab;
  for (int i = 0; i < kBaseSymbols; ++i) vocab[base[size_t(i)]] = i;
  std::string mergesText = "#version: 0.2\n";
  int64_t next = kBaseSymbols;
  for (int rank : used) {
    const auto& m = merges[size_t(rank)];
    mergesText += m.first + " " + m.second + "\n";
    vocab[m.first + m.second] = next++;
  }
  const int64_t bos = next++, eos = next++;
  vocab["<|startoftext|>"] = bos;
  vocab["<|endoftext|>"] = eos;
  io::writeFileAtomic(out / "vocab.json", vocab.dump() + "\n");
  io::writeFileAtomic(out / "merges.txt", mergesText);
  auto config = nlohmann::ordered_json::parse(io::readFile(real / "tokenizer_config.json"));
  nlohmann::ordered_json added;
  for (const auto& [token, id] : {std::pair<std::string, int64_t>{"<|startoftext|>", bos}, {"<|endoftext|>", eos}})
    added[std::to_string(id)] = {{"content", token}, {"lstrip", false}, {"normalized", true}, {"rstrip", false}, {"single_word", false}, {"special", true}};
  config["added_tokens_decoder"] = added;
  io::writeFileAtomic(out / "tokenizer_config.json", config.dump(2) + "\n");
  io::writeFileAtomic(out / "special_tokens_map.json", io::readFile(real / "special_tokens_map.json"));

  // The trimmed tokenizer must split every caption word exactly as the real one does.
  const auto trimmed = text::ClipTokenizer::fromFolder(out), full = text::ClipTokenizer::fromFolder(real);
  std::vector<std::string> texts = shapes::vocabulary();
  for (uint64_t seed = 0; seed < 100; ++seed) texts.push_back(shapes::generate(shapes::WorldOptions{}, seed).caption);
  for (const auto& text : texts)
    if (trimmed.tokenize(text) != full.tokenize(text))
      throw Error(ErrorCode::Corrupt, "train-shapes: the trimmed CLIP tokenizer splits '" + text + "' differently from " + kRealClipTokenizer);
  return next;
}

models::ClipConfig clipConfigOf(const TrainShapesOptions& o, int64_t vocabSize) {
  if (o.hiddenSize % o.heads != 0)
    throw Error(ErrorCode::InvalidArgument, "train-shapes: the hidden size must be a multiple of the heads");
  if (o.imageSize % o.patchSize != 0)
    throw Error(ErrorCode::InvalidArgument, "train-shapes: the image size must be a multiple of the patch size");
  if (o.steps < 1 || o.batch < 2) throw Error(ErrorCode::InvalidArgument, "train-shapes: CLIP needs at least 1 step and a batch of at least 2");
  shapes::validate(o.world);
  models::ClipConfig c;
  c.architecture = "CLIPModel";
  for (models::ClipEncoderConfig* e : {static_cast<models::ClipEncoderConfig*>(&c.text), static_cast<models::ClipEncoderConfig*>(&c.vision)}) {
    e->hiddenSize = o.hiddenSize;
    e->intermediateSize = o.intermediateSize;
    e->numHiddenLayers = o.layers;
    e->numAttentionHeads = o.heads;
  }
  c.text.vocabSize = vocabSize;
  c.text.maxPositionEmbeddings = 32;
  c.text.bosTokenId = vocabSize - 2;
  c.text.eosTokenId = vocabSize - 1;  // not the legacy 2: the pooled token is the first <|endoftext|>
  c.text.padTokenId = vocabSize - 1;
  c.vision.imageSize = o.imageSize;
  c.vision.patchSize = o.patchSize;
  c.projectionDim = c.text.projectionDim = c.vision.projectionDim = o.hiddenSize;
  return c;
}

at::Tensor rows(const std::vector<std::vector<int64_t>>& r) {
  const int64_t n = int64_t(r.size()), t = int64_t(r.front().size());
  at::Tensor x = at::empty({n, t}, at::kLong);
  auto a = x.accessor<int64_t, 2>();
  for (int64_t i = 0; i < n; ++i)
    for (int64_t k = 0; k < t; ++k) a[i][k] = r[size_t(i)][size_t(k)];
  return x;
}

void writeClipModelCard(const TrainShapesOptions& o, const TrainShapesReport& r, const std::filesystem::path& out) {
  const int64_t vocabSize = nlohmann::json::parse(io::readFile(out / "config.json")).at("text_config").at("vocab_size").get<int64_t>();
  std::ostringstream md;
  md << "# VLMScope shapes-world CLIP\n\n"
     << "Trained by VLMScope itself (`" << recipeCommand(o, r.threads) << "`) on synthetic "
     << "shapes-world scenes (`vlmscope shapes`): " << worldDescription(o) << ", each with its caption (\"a red circle above a blue square\"). "
     << "Every training step draws " << o.batch << " fresh scenes, so no scene is seen twice.\n\n"
     << "Architecture: CLIPModel (the layout of openai/clip-vit-base-patch32), vision and text " << o.layers << " layers, hidden size "
     << o.hiddenSize << ", " << o.heads << " heads, projection " << o.hiddenSize << ", input " << o.imageSize << " x " << o.imageSize << " with "
     << o.patchSize << " px patches; " << r.parameters << " parameters. The tokenizer is openai/clip-vit-base-patch32's (CLIPTokenizer) "
     << "trimmed to " << vocabSize << " tokens: its 512 byte symbols (same ids, so any text still tokenizes), the BPE merges the "
     << "world's words go through, in their original order (so every caption splits exactly as with the full tokenizer), each merge's "
     << "token, then <|startoftext|> and <|endoftext|>.\n\n"
     << "Loss: symmetric contrastive cross-entropy over the batch (image -> texts and text -> images, with a learnable temperature); "
     << "scenes that share a caption count as matches of each other. AdamW (lr " << o.learningRate << ", weight decay " << o.weightDecay
     << ", " << o.warmupSteps << " warm-up steps, cosine decay to a tenth), gradient norm clipped at 1, float32 on CPU, " << r.threads
     << " thread(s): " << int(std::lround(r.seconds)) << " s. Loss: " << r.losses.front() << " (first step) -> " << r.losses.back() << " (last step).\n\n";
  if (r.evalScenes > 0)
    md << "Held-out scenes (" << r.evalScenes << ", seeds disjoint from training), top-1 retrieval among their " << r.distinctCaptions
       << " distinct captions (right when the retrieved caption has the same meaning: a two-object caption may name the pair in "
       << "either order): image -> text " << percent(r.retrievalImageToText) << " %, text -> image " << percent(r.retrievalTextToImage)
       << " % (chance: " << percent(1.0 / std::max(1, r.distinctCaptions)) << " %).\n\n";
  md << "Not a real-world model: it only knows this world. For real photos use openai/clip-vit-base-patch32.\n";
  io::writeFileAtomic(out / "README.md", md.str());
}

}  // namespace

// Held out: the saved folder, loaded like any CLIP model, scores every held-out image against
// every distinct caption of the held-out scenes.
void evaluateClip(const TrainShapesOptions& o, const std::filesystem::path& out, TrainShapesReport& report, const JobContext& job) {
  report.examples.clear();
  job.progress(0.9, "evaluating");
  const auto clip = SimilarityModel::load(out.string());
  std::vector<shapes::Scene> scenes;
  std::vector<std::string> distinct;
  std::set<std::string> seen;
  for (int i = 0; i < o.evalScenes; ++i) {
    scenes.push_back(shapes::generate(o.world, heldOutSeed(o.seed, i)));
    if (seen.insert(scenes.back().caption).second) distinct.push_back(scenes.back().caption);
  }
  std::vector<std::vector<double>> cosine;  // [scene][distinct caption]
  int imageRight = 0;
  for (const auto& s : scenes) {
    job.throwIfCancelled();
    cosine.push_back(clip->score(s.image, distinct).cosine);
    const auto& c = cosine.back();
    const int best = int(std::max_element(c.begin(), c.end()) - c.begin());
    imageRight += shapes::sameMeaning(distinct[size_t(best)], s.caption);  // a two-object caption may name the pair in either order
    if (report.examples.size() < 5) report.examples.push_back(s.caption + " -> " + distinct[size_t(best)]);
  }
  int textRight = 0;
  for (size_t d = 0; d < distinct.size(); ++d) {
    size_t best = 0;
    for (size_t i = 1; i < scenes.size(); ++i)
      if (cosine[i][d] > cosine[best][d]) best = i;
    textRight += shapes::sameMeaning(scenes[best].caption, distinct[d]);
  }
  report.evalScenes = o.evalScenes;
  report.distinctCaptions = int(distinct.size());
  report.retrievalImageToText = double(imageRight) / double(scenes.size());
  report.retrievalTextToImage = double(textRight) / double(distinct.size());
  writeClipModelCard(o, report, out);
  writeTrainingRecord(o, report, out);
}

TrainShapesReport trainShapesClip(const TrainShapesOptions& o, const std::filesystem::path& out, const JobContext& job) {
  shapes::validate(o.world);
  createOutputFolder(out);
  const int64_t vocabSize = writeTrimmedClipTokenizer(out);
  const models::ClipConfig config = clipConfigOf(o, vocabSize);
  const auto tokenizer = text::ClipTokenizer::fromFolder(out);
  vision::ImageProcessorConfig processor = vision::ImageProcessorConfig::clipDefaults();
  processor.shortestEdge = processor.cropHeight = processor.cropWidth = int(config.vision.imageSize);

  TrainShapesReport report;
  models::ClipModel model(config);
  initRandomWeights(*model, o.seed);
  {
    at::NoGradGuard noGrad;
    model->logit_scale.fill_(config.logitScaleInitValue);  // CLIP's initial temperature, 1 / 0.07
  }
  for (const auto& p : model->parameters()) report.parameters += p.numel();
  torch::optim::AdamW optimizer(model->parameters(), torch::optim::AdamWOptions(o.learningRate).weight_decay(o.weightDecay));

  const auto t0 = std::chrono::steady_clock::now();
  for (int step = 0; step < o.steps; ++step) {
    job.throwIfCancelled();
    std::vector<at::Tensor> pixels;
    std::vector<std::string> captions;
    for (int i = 0; i < o.batch; ++i) {
      const shapes::Scene s = shapes::generate(o.world, trainSeed(o.seed, step, i, o.batch));
      pixels.push_back(pixelValuesFor(s.image, processor, config.vision.imageSize, at::kCPU));
      captions.push_back(s.caption);
    }
    const auto enc = tokenizer.encodeBatch(captions, text::ClipPadding::Longest, int(config.text.maxPositionEmbeddings));
    const at::Tensor images = models::l2Normalize(model->imageFeatures(at::cat(pixels, 0)));
    const at::Tensor texts = models::l2Normalize(model->textFeatures(rows(enc.ids), rows(enc.attentionMask)));
    const at::Tensor logits = model->logitScaleExp() * images.matmul(texts.t());  // [B images, B texts]
    // Targets: every text equal to the scene's caption, in equal shares (symmetric).
    at::Tensor targets = at::zeros({o.batch, o.batch});
    {
      auto a = targets.accessor<float, 2>();
      for (int i = 0; i < o.batch; ++i)
        for (int j = 0; j < o.batch; ++j) a[i][j] = captions[size_t(i)] == captions[size_t(j)] ? 1.f : 0.f;
    }
    targets = targets / targets.sum(1, true);
    const at::Tensor loss = -0.5 * ((targets * at::log_softmax(logits, 1)).sum(1).mean() + (targets * at::log_softmax(logits.t(), 1)).sum(1).mean());
    optimizer.zero_grad();
    loss.backward();
    optimizerStep(optimizer, model->parameters(), o, step);
    {
      at::NoGradGuard noGrad;
      model->logit_scale.clamp_(0.0, std::log(100.0));  // as CLIP's training clamps the temperature
    }
    report.losses.push_back(loss.item<double>());
    job.progress(0.9 * double(step + 1) / o.steps, "training");
  }
  report.seconds = secondsSince(t0);

  writeWeights(*model, out / "model.safetensors");
  io::writeFileAtomic(out / "config.json", models::clipConfigToJson(config).dump(2) + "\n");
  writeClipPreprocessor(config, out);

  report.threads = runtime::threads();
  if (o.evalScenes > 0) evaluateClip(o, out, report, job);
  else {
    writeClipModelCard(o, report, out);
    writeTrainingRecord(o, report, out);
  }
  job.progress(1.0, "done");
  return report;
}

}  // namespace vlm::train_detail
