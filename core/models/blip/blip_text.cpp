#include "models/blip/blip_text.h"

#include <cmath>
#include <limits>

#include "common/error.h"
#include "models/nn.h"
#include "runtime/decode_threads.h"

namespace vlm::models {

void TextKVCache::reorder(const at::Tensor& index) {
  for (auto* v : {&selfKey, &selfValue, &crossKey, &crossValue})
    for (auto& t : *v)
      if (t.defined()) t = t.index_select(0, index);
}

void TextKVCache::ensureLayers(size_t layers) {
  for (auto* v : {&selfKey, &selfValue, &crossKey, &crossValue})
    if (v->size() != layers) v->resize(layers);
}

void TextKVCache::clear() {
  selfKey.clear();
  selfValue.clear();
  crossKey.clear();
  crossValue.clear();
  length = 0;
}

BlipTextEmbeddingsImpl::BlipTextEmbeddingsImpl(const BlipTextConfig& c) {
  word_embeddings = register_module("word_embeddings", Embedding(c.vocabSize, c.hiddenSize));
  position_embeddings = register_module("position_embeddings", Embedding(c.maxPositionEmbeddings, c.hiddenSize));
  LayerNorm = register_module("LayerNorm", models::LayerNorm(c.hiddenSize, c.layerNormEps));
}

at::Tensor BlipTextEmbeddingsImpl::forward(const at::Tensor& ids, int64_t pastLength, const at::Tensor& wordEmbeddings) {
  const int64_t t = ids.size(1);
  at::Tensor positions = at::arange(pastLength, pastLength + t, ids.options().dtype(at::kLong)).unsqueeze(0);
  if (wordEmbeddings.defined() &&
      (wordEmbeddings.dim() != 3 || wordEmbeddings.size(0) != ids.size(0) || wordEmbeddings.size(1) != t ||
       wordEmbeddings.size(2) != word_embeddings->weight.size(1)))
    throw Error(ErrorCode::InvalidArgument, "text model: word embeddings must be [B, T, hidden_size] matching the ids");
  at::Tensor x = wordEmbeddings.defined() ? wordEmbeddings : word_embeddings->forward(ids);
  x = x + position_embeddings->forward(positions);
  return LayerNorm->forward(x);
}

BlipTextSelfAttentionImpl::BlipTextSelfAttentionImpl(const BlipTextConfig& c, bool crossAttention)
    : heads(c.numAttentionHeads), headDim(c.headDim()) {
  const int64_t kvIn = crossAttention ? c.encoderHiddenSize : c.hiddenSize;
  query = register_module("query", Linear(c.hiddenSize, c.hiddenSize));
  key = register_module("key", Linear(kvIn, c.hiddenSize));
  value = register_module("value", Linear(kvIn, c.hiddenSize));
}

at::Tensor BlipTextSelfAttentionImpl::splitHeads(const at::Tensor& x) const {
  return x.view({x.size(0), x.size(1), heads, headDim}).permute({0, 2, 1, 3});
}

std::pair<at::Tensor, at::Tensor> BlipTextSelfAttentionImpl::keysValues(const at::Tensor& states) {
  return {splitHeads(key->forward(states)), splitHeads(value->forward(states))};
}

BlipTextSelfOutputImpl::BlipTextSelfOutputImpl(const BlipTextConfig& c) {
  dense = register_module("dense", Linear(c.hiddenSize, c.hiddenSize));
  LayerNorm = register_module("LayerNorm", models::LayerNorm(c.hiddenSize, c.layerNormEps));
}

at::Tensor BlipTextSelfOutputImpl::forward(const at::Tensor& h, const at::Tensor& residual) {
  return LayerNorm->forward(dense->forward(h) + residual);
}

BlipTextAttentionImpl::BlipTextAttentionImpl(const BlipTextConfig& c, bool crossAttention) {
  self = register_module("self", BlipTextSelfAttention(c, crossAttention));
  output = register_module("output", BlipTextSelfOutput(c));
}

BlipTextIntermediateImpl::BlipTextIntermediateImpl(const BlipTextConfig& c) {
  dense = register_module("dense", Linear(c.hiddenSize, c.intermediateSize));
}

BlipTextOutputImpl::BlipTextOutputImpl(const BlipTextConfig& c) {
  dense = register_module("dense", Linear(c.intermediateSize, c.hiddenSize));
  LayerNorm = register_module("LayerNorm", models::LayerNorm(c.hiddenSize, c.layerNormEps));
}

BlipTextLayerImpl::BlipTextLayerImpl(const BlipTextConfig& c) {
  attention = register_module("attention", BlipTextAttention(c, false));
  crossattention = register_module("crossattention", BlipTextAttention(c, true));
  intermediate = register_module("intermediate", BlipTextIntermediate(c));
  output = register_module("output", BlipTextOutput(c));
}

BlipTextEncoderImpl::BlipTextEncoderImpl(const BlipTextConfig& c) {
  layer = register_module("layer", torch::nn::ModuleList());
  for (int64_t i = 0; i < c.numHiddenLayers; ++i) layer->push_back(BlipTextLayer(c));
}

BlipTextModelImpl::BlipTextModelImpl(const BlipTextConfig& c) : config(c) {
  embeddings = register_module("embeddings", BlipTextEmbeddings(c));
  encoder = register_module("encoder", BlipTextEncoder(c));
}

namespace {

// softmax(q k^T / sqrt(D) + mask) v, merged back to [B, T, C]; `probs` gets the softmax.
at::Tensor attend(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& additiveMask,
                  double sqrtD, at::Tensor& probs) {
  at::Tensor scores = at::matmul(q, k.transpose(-1, -2)) / sqrtD;  // [B, H, T, S]
  if (additiveMask.defined()) scores = scores + additiveMask;
  probs = at::softmax(scores, -1);
  at::Tensor ctx = at::matmul(probs, v).permute({0, 2, 1, 3}).contiguous();  // [B, T, H, D]
  return ctx.view({ctx.size(0), ctx.size(1), ctx.size(2) * ctx.size(3)});
}

// One query token of a batch of one (token-by-token decoding): per head, scores = K_h q_h
// and context = V_h^T p_h as BLAS matrix-vector products straight on the cached keys/values
// (any row stride), heads split over two threads. Same mathematics as attend(); the generic
// batched product is dominated by per-head overhead at this size.
bool attendOneToken(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& additiveMask,
                    double sqrtD, at::Tensor& probs, at::Tensor& out) {
  if (!runtime::TokenDecodingScope::active() || q.size(0) != 1 || q.size(2) != 1 || additiveMask.defined() ||
      q.scalar_type() != at::kFloat || k.scalar_type() != at::kFloat || v.scalar_type() != at::kFloat ||
      k.stride(3) != 1 || v.stride(3) != 1 || !q.device().is_cpu() || !runtime::blasAvailable())
    return false;
  const int64_t heads = q.size(1), d = q.size(3), n = k.size(2);
  const at::Tensor qc = q.contiguous();
  at::Tensor scores = at::empty({1, heads, 1, n}, q.options());
  at::Tensor ctx = at::empty({1, 1, heads * d}, q.options());
  const float* qp = qc.data_ptr<float>();
  const float* kp = k.data_ptr<float>();
  const float* vp = v.data_ptr<float>();
  float* sp = scores.data_ptr<float>();
  const int64_t kh = k.stride(1), kn = k.stride(2), vh = v.stride(1), vn = v.stride(2);
  auto scoreHeads = [&](int64_t h0, int64_t h1) {
    for (int64_t h = h0; h < h1; ++h)
      runtime::blasSgemv('T', int(d), int(n), 1.0f, kp + h * kh, int(kn), qp + h * d, 0.0f, sp + h * n);
  };
  const int64_t mid = heads / 2;
  runtime::runPair([&] { scoreHeads(0, mid); }, [&] { scoreHeads(mid, heads); });
  probs = at::softmax(scores / sqrtD, -1);
  const float* pp = probs.data_ptr<float>();
  float* cp = ctx.data_ptr<float>();
  auto contextHeads = [&](int64_t h0, int64_t h1) {
    for (int64_t h = h0; h < h1; ++h)
      runtime::blasSgemv('N', int(d), int(n), 1.0f, vp + h * vh, int(vn), pp + h * n, 0.0f, cp + h * d);
  };
  runtime::runPair([&] { contextHeads(0, mid); }, [&] { contextHeads(mid, heads); });
  out = ctx;
  return true;
}

}  // namespace

at::Tensor BlipTextModelImpl::forward(const TextForwardInputs& in, TextKVCache* cache, ActivationRecorder* rec,
                                      const std::string& prefix) {
  if (!in.ids.defined() || in.ids.dim() != 2) throw Error(ErrorCode::InvalidArgument, "text model expects token ids [B, T]");
  const int64_t batch = in.ids.size(0), len = in.ids.size(1);
  const int64_t past = cache ? cache->length : 0;
  const int64_t total = past + len;
  if (total > config.maxPositionEmbeddings)
    throw Error(ErrorCode::InvalidArgument, "text of " + std::to_string(total) + " tokens is longer than the model's max_position_embeddings (" +
                                                std::to_string(config.maxPositionEmbeddings) + ")");
  const auto layers = encoder->layer->size();
  if (cache) cache->ensureLayers(layers);

  at::Tensor h = embeddings->forward(in.ids, past, in.wordEmbeddings);
  if (rec) rec->record(prefix + ".embeddings", h);

  const auto fopts = h.options();
  // Self-attention mask, additive: (1 - causal * padding) * -10000 (BlipTextModel.get_extended_attention_mask).
  at::Tensor selfMask;
  const bool needCausal = in.causal && len > 1;
  if (needCausal || in.attentionMask.defined()) {
    at::Tensor keep = at::ones({1, 1, len, total}, fopts);
    if (needCausal) {
      at::Tensor qpos = at::arange(past, total, fopts.dtype(at::kLong)).view({len, 1});
      at::Tensor kpos = at::arange(0, total, fopts.dtype(at::kLong)).view({1, total});
      keep = kpos.le(qpos).to(h.scalar_type()).view({1, 1, len, total});
    }
    if (in.attentionMask.defined()) {
      if (in.attentionMask.size(-1) != total)
        throw Error(ErrorCode::InvalidArgument, "attention mask covers " + std::to_string(in.attentionMask.size(-1)) + " tokens, expected " + std::to_string(total));
      keep = keep * in.attentionMask.to(h.scalar_type()).view({in.attentionMask.size(0), 1, 1, total});
    }
    selfMask = (1.0 - keep) * -10000.0;
  }
  at::Tensor crossMask;
  if (in.encoderMask.defined()) {
    const at::Tensor m = in.encoderMask.to(h.scalar_type());
    crossMask = ((1.0 - m) * std::numeric_limits<float>::lowest()).view({m.size(0), 1, 1, m.size(1)});
  }

  const double sqrtD = std::sqrt(static_cast<double>(config.headDim()));
  for (size_t i = 0; i < layers; ++i) {
    auto& layer = encoder->layer->at<BlipTextLayerImpl>(i);
    const std::string name = prefix + ".layers." + std::to_string(i);

    // self-attention (causal for the decoder), keys/values appended to the cache
    auto& sa = *layer.attention->self;
    at::Tensor q = sa.splitHeads(sa.query->forward(h));
    at::Tensor k = sa.splitHeads(sa.key->forward(h));
    at::Tensor v = sa.splitHeads(sa.value->forward(h));
    if (cache) {
      if (cache->selfKey[i].defined()) {
        k = at::cat({cache->selfKey[i], k}, 2);
        v = at::cat({cache->selfValue[i], v}, 2);
      }
      cache->selfKey[i] = k;
      cache->selfValue[i] = v;
    }
    at::Tensor probs, ctx;
    if (!attendOneToken(q, k, v, selfMask, sqrtD, probs, ctx)) ctx = attend(q, k, v, selfMask, sqrtD, probs);
    if (rec) rec->record(name + ".selfattn.probs", probs);
    at::Tensor a = layer.attention->output->forward(ctx, h);

    // cross-attention to the encoder states (image tokens)
    auto& ca = *layer.crossattention->self;
    at::Tensor ck, cv;
    if (cache && cache->crossKey[i].defined()) {
      ck = cache->crossKey[i];
      cv = cache->crossValue[i];
    } else {
      if (!in.encoderStates.defined()) throw Error(ErrorCode::InvalidArgument, "text model needs encoder states for cross-attention");
      std::tie(ck, cv) = ca.keysValues(in.encoderStates);
      if (ck.size(0) != batch) {
        ck = ck.expand({batch, -1, -1, -1});
        cv = cv.expand({batch, -1, -1, -1});
      }
      if (cache) {
        cache->crossKey[i] = ck;
        cache->crossValue[i] = cv;
      }
    }
    at::Tensor cq = ca.splitHeads(ca.query->forward(a));
    at::Tensor cprobs, cctx;
    if (!attendOneToken(cq, ck, cv, crossMask, sqrtD, cprobs, cctx)) cctx = attend(cq, ck, cv, crossMask, sqrtD, cprobs);
    if (rec) rec->record(name + ".crossattn.probs", cprobs);
    at::Tensor c = layer.crossattention->output->forward(cctx, a);

    // feed-forward
    at::Tensor inter = activation(config.hiddenAct, layer.intermediate->dense->forward(c));
    h = layer.output->LayerNorm->forward(layer.output->dense->forward(inter) + c);
    if (rec) rec->record(name + ".out", h);
  }
  if (cache) cache->length = total;
  return h;
}

void BlipTextModelImpl::precomputeCrossAttention(const at::Tensor& encoderStates, TextKVCache& cache) {
  const auto layers = encoder->layer->size();
  cache.ensureLayers(layers);
  for (size_t i = 0; i < layers; ++i)
    std::tie(cache.crossKey[i], cache.crossValue[i]) = encoder->layer->at<BlipTextLayerImpl>(i).crossattention->self->keysValues(encoderStates);
}

BlipTextPredictionHeadTransformImpl::BlipTextPredictionHeadTransformImpl(const BlipTextConfig& c) {
  dense = register_module("dense", Linear(c.hiddenSize, c.hiddenSize));
  LayerNorm = register_module("LayerNorm", models::LayerNorm(c.hiddenSize, c.layerNormEps));
}

BlipTextLMPredictionHeadImpl::BlipTextLMPredictionHeadImpl(const BlipTextConfig& c) : act(c.hiddenAct) {
  transform = register_module("transform", BlipTextPredictionHeadTransform(c));
  decoder = register_module("decoder", Linear(c.hiddenSize, c.vocabSize, false));
  bias = register_parameter("bias", at::empty({c.vocabSize}));
}

at::Tensor BlipTextLMPredictionHeadImpl::forward(const at::Tensor& h) {
  at::Tensor x = transform->LayerNorm->forward(activation(act, transform->dense->forward(h)));
  return linearForward(x, decoder->weight, bias);
}

BlipTextOnlyMLMHeadImpl::BlipTextOnlyMLMHeadImpl(const BlipTextConfig& c) {
  predictions = register_module("predictions", BlipTextLMPredictionHead(c));
}

BlipTextLMHeadModelImpl::BlipTextLMHeadModelImpl(const BlipTextConfig& c) {
  bert = register_module("bert", BlipTextModel(c));
  cls = register_module("cls", BlipTextOnlyMLMHead(c));
}

at::Tensor BlipTextLMHeadModelImpl::forward(const TextForwardInputs& in, TextKVCache* cache, ActivationRecorder* rec,
                                            const std::string& prefix) {
  at::Tensor logits = cls->predictions->forward(bert->forward(in, cache, rec, prefix));
  if (rec) rec->record(prefix + ".logits", logits);
  return logits;
}

BlipTextStepDecoder::BlipTextStepDecoder(BlipTextLMHeadModel decoder, at::Tensor encoderStates)
    : decoder_(std::move(decoder)), states_(std::move(encoderStates)) {}

void BlipTextStepDecoder::reset(int64_t batch) {
  cache_.clear();
  if (states_.size(0) != batch && states_.size(0) != 1)
    throw Error(ErrorCode::InvalidArgument, "decoder states for " + std::to_string(states_.size(0)) + " sequences cannot serve " +
                                                std::to_string(batch) + " rows");
  // contiguous copies, as transformers expands the encoder states for beams (same kernels, same numbers)
  batchStates_ = states_.size(0) == batch ? states_ : states_.expand({batch, -1, -1}).contiguous();
  // The states' cross-attention keys/values, once, with every thread (large matrix products).
  decoder_->bert->precomputeCrossAttention(batchStates_, cache_);
}

at::Tensor BlipTextStepDecoder::step(const at::Tensor& ids) {
  TextForwardInputs in;
  in.ids = ids.to(states_.device());
  in.causal = true;
  in.encoderStates = batchStates_;
  if (ids.size(0) == 1 && ids.size(1) == 1) {  // one token: memory-bound, see runtime/decode_threads.h
    runtime::TokenDecodingScope scope;
    return decoder_->forward(in, &cache_, nullptr);
  }
  return decoder_->forward(in, &cache_, nullptr);
}

void BlipTextStepDecoder::reorder(const at::Tensor& rows) { cache_.reorder(rows.to(states_.device())); }

}  // namespace vlm::models
