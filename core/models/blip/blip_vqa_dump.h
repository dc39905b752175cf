#pragma once
// The intermediates of one BLIP VQA pass, under the names the reference fixture
// (tests/data/blip-vqa-tiny) uses without its image / question prefixes: what `vlmscope dump`
// writes for a VQA folder and what the parity tests compare.
//   pixel_values [3,S,S]; vision/hidden_states/K [T,C] (K = 0..L); vision/post_layernorm [T,C];
//   question/input_ids [Tq] (int64); question_embeds [Tq,C]; answer_ids [Ta] (int64);
//   tf_logits [Ta,V] (teacher-forced on answer_ids, cross-attention with the question mask);
//   tf_next_token_logprob [Ta-1] = log_softmax(tf_logits[p])[answer_ids[p+1]];
//   tf_top5_ids [Ta,5] (int64), tf_top5_logits [Ta,5]

#include "models/blip/blip_dump.h"
#include "models/blip/blip_vqa.h"

namespace vlm::models {

// pixelValues [1, 3, S, S]; questionIds as tokenized ([CLS] ... [SEP]); answerIds start with
// [DEC], at least two. Float tensors float32 on the CPU, no batch dimension.
NamedTensors dumpBlipVqa(BlipForQuestionAnsweringImpl& model, const at::Tensor& pixelValues,
                         const std::vector<int64_t>& questionIds, const std::vector<int64_t>& answerIds);

}  // namespace vlm::models
