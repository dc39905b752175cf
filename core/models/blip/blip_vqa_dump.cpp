#include "models/blip/blip_vqa_dump.h"

#include <ATen/ATen.h>

#include "common/error.h"
#include "models/nn.h"

namespace vlm::models {

NamedTensors dumpBlipVqa(BlipForQuestionAnsweringImpl& model, const at::Tensor& pixelValues,
                         const std::vector<int64_t>& questionIds, const std::vector<int64_t>& answerIds) {
  if (questionIds.empty()) throw Error(ErrorCode::InvalidArgument, "dump needs the question's token ids");
  if (answerIds.size() < 2) throw Error(ErrorCode::InvalidArgument, "dump needs at least two answer ids ([DEC] and one more)");
  const int64_t vocab = model.config.text.vocabSize;
  const at::Tensor question = checkedIdsTensor(questionIds, vocab, "question ids");
  const at::Tensor answer = checkedIdsTensor(answerIds, vocab, "answer ids");

  torch::NoGradGuard noGrad;
  const at::Tensor& ref = model.text_decoder->cls->predictions->bias;
  ActivationRecorder rec({"vision.embeddings", "vision.layers.*"});
  const at::Tensor imageEmbeds = model.encodeImage(pixelValues.to(ref.device(), ref.scalar_type()), &rec);
  const at::Tensor questionMask = at::ones_like(question).unsqueeze(0).to(ref.device());
  const at::Tensor questionEmbeds = model.encodeQuestion(imageEmbeds, question.unsqueeze(0).to(ref.device()), questionMask);
  const at::Tensor logits = model.answerLogits(questionEmbeds, questionMask, answer.unsqueeze(0).to(ref.device()))[0];  // [Ta, V]
  const at::Tensor logp = at::log_softmax(logits.to(at::kFloat), -1);
  const at::Tensor next = logp.slice(0, 0, -1).gather(1, answer.slice(0, 1).unsqueeze(1).to(logp.device())).squeeze(1);  // [Ta-1]
  const auto [top5Logits, top5Ids] = at::topk(logits, std::min<int64_t>(5, vocab), -1);

  NamedTensors out;
  out.emplace_back("pixel_values", dumpTensor(pixelValues[0]));
  appendVisionHiddenStates(out, rec, model.config.vision.numHiddenLayers);
  out.emplace_back("vision/post_layernorm", dumpTensor(imageEmbeds[0]));
  out.emplace_back("question/input_ids", question);
  out.emplace_back("question_embeds", dumpTensor(questionEmbeds[0]));
  out.emplace_back("answer_ids", answer);
  out.emplace_back("tf_logits", dumpTensor(logits));
  out.emplace_back("tf_next_token_logprob", dumpTensor(next));
  out.emplace_back("tf_top5_ids", dumpTensor(top5Ids));
  out.emplace_back("tf_top5_logits", dumpTensor(top5Logits));
  return out;
}

}  // namespace vlm::models
