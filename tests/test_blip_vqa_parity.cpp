// VLM_TEST_LABELS: model
// BLIP visual question answering against the Hugging Face transformers references of the
// tiny fixture checkpoint (tests/data/blip-vqa-tiny): pixel values from the image files, vision
// hidden states, question embeddings, teacher-forced answer logits and log-probabilities,
// greedy / beam / batched answers and their text, the checkpoint key table, gradients.
#include "testing.h"
#include "json_testing.h"

#include "blip_testing.h"

#include <nlohmann/json.hpp>

#include <fstream>
#include <set>

#include "error_testing.h"
#include "io/safetensors.h"
#include "models/blip/blip_vqa.h"
#include "models/blip/blip_vqa_dump.h"
#include "models/nn.h"
#include "pipeline/vqa_impl.h"

using namespace vlm;
using namespace vlm::models;

namespace {


std::vector<int64_t> idsOf(const nlohmann::json& j) { return j.get<std::vector<int64_t>>(); }

std::vector<int64_t> idsOf(const at::Tensor& t) {
  const at::Tensor c = t.to(at::kLong).contiguous();
  return std::vector<int64_t>(c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel());
}

at::Tensor idsTensor(const std::vector<int64_t>& ids) {
  return at::tensor(ids, at::TensorOptions().dtype(at::kLong)).unsqueeze(0);
}

// The fixture's images were given to BlipProcessor as stored (PIL.Image.open: no EXIF rotation).
io::ImageU8 storedImage(const std::string& file) {
  io::ImageLoadOptions stored;
  stored.applyExifOrientation = false;
  return io::loadImage(test::dataPath("images/" + file), stored);
}


double maxAbs(const at::Tensor& a, const at::Tensor& e) {
  return (a.detach().to(at::kDouble) - e.to(at::kDouble)).abs().max().item<double>();
}

}  // namespace

class TestBlipVqaParity : public QObject {
  Q_OBJECT
  std::filesystem::path dir_ = test::dataPath("blip-vqa-tiny");
  std::unique_ptr<QuestionAnswerer> answerer_;
  BlipForQuestionAnswering model_{nullptr};
  std::shared_ptr<io::SafetensorsFile> ref_;
  nlohmann::json json_;
  std::map<std::string, double> worst_;  // largest difference seen, per compared quantity

  void track(const std::string& what, const at::Tensor& a, const at::Tensor& e) {
    worst_[what] = std::max(worst_[what], maxAbs(a, e));
  }

 private Q_SLOTS:
  void initTestCase() {
    answerer_ = QuestionAnswerer::load(dir_.string());
    model_ = answerer_->impl().model.model;
    ref_ = io::SafetensorsFile::open(dir_ / "reference.safetensors");
    std::ifstream in(dir_ / "reference.json");
    json_ = nlohmann::json::parse(in);
    QVERIFY(answerer_->impl().model.report.unusedKeys.empty());
    QCOMPARE(json_["versions"]["transformers"].get<std::string>(), std::string("4.43.4"));
  }

  void cleanupTestCase() {
    for (const auto& [what, d] : worst_) qInfo("max |diff| %-24s %.3g", what.c_str(), d);
  }

  void checkpointTableEqualsFixture() {
    const auto specs = blipVqaCheckpointTensors(model_->config);
    auto f = io::SafetensorsFile::open(dir_ / "model.safetensors");
    std::set<std::string> names;
    for (const auto& s : specs) {
      QVERIFY2(names.insert(s.name).second, ("listed twice: " + s.name).c_str());
      const auto* t = f->find(s.name);
      QVERIFY2(t, ("not in the fixture: " + s.name).c_str());
      QCOMPARE(t->shape, s.shape);
    }
    QCOMPARE(f->tensors().size(), specs.size());
  }

  void moduleMatchesTable_data() {
    QTest::addColumn<int>("which");
    QTest::newRow("fixture") << 0;
    QTest::newRow("odd sizes") << 1;
    QTest::newRow("blip-vqa-base defaults") << 2;
  }
  void moduleMatchesTable() {
    QFETCH(int, which);
    const BlipConfig c = which == 0 ? model_->config : which == 1 ? test::oddBlipConfig() : BlipConfig{};
    BlipForQuestionAnswering model(c);
    const std::string problem = test::moduleTableMismatch(*model, blipVqaCheckpointTensors(c));
    QVERIFY2(problem.empty(), problem.c_str());
  }

  void wrongFoldersAndWidths() {
    VLM_EXPECT_ERROR(loadBlipVqa(test::dataPath("blip-caption-tiny")), ErrorCode::Unsupported, "BLIP image captioning model",
                     "vlmscope vqa", "caption");
    VLM_EXPECT_ERROR(loadBlipVqa(test::dataPath("clip-tiny")), ErrorCode::Unsupported, "CLIP image-text model", "similarity");
    VLM_EXPECT_ERROR(QuestionAnswerer::load(test::dataPath("blip-caption-tiny").string()), ErrorCode::Unsupported, "vlmscope vqa");
    // text hidden size != encoder_hidden_size: the decoder could not cross-attend to the question
    const auto tmp = std::filesystem::temp_directory_path() / ("vlm_vqa_width_" + std::to_string(::getpid()));
    std::filesystem::create_directories(tmp);
    nlohmann::json config = nlohmann::json::parse(std::ifstream(dir_ / "config.json"));
    config["text_config"]["hidden_size"] = 16;
    std::ofstream(tmp / "config.json") << config.dump();
    VLM_EXPECT_ERROR(loadBlipVqa(tmp), ErrorCode::Corrupt, "config.json", "hidden_size (16)", "encoder_hidden_size (32)");
    std::filesystem::remove_all(tmp);
  }

  void perImage_data() {
    QTest::addColumn<QString>("file");
    for (auto it = json_["images"].begin(); it != json_["images"].end(); ++it)
      QTest::newRow(it.key().c_str()) << QString::fromStdString(it.key());
  }
  void perImage() {
    QFETCH(QString, file);
    const std::string f = file.toStdString(), img = test::fileStem(f);
    const auto& expected = json_["images"][f];
    torch::NoGradGuard ng;

    // pixel values from the image file, exactly
    const at::Tensor pixels = answerer_->impl().pixelValues(storedImage(f));
    VLM_COMPARE_TENSORS(pixels[0], ref_->tensor(img + "/pixel_values"), 0.0, 0.0, img + " pixel_values");

    ActivationRecorder rec;
    const at::Tensor imageEmbeds = model_->encodeImage(pixels, &rec);
    const int64_t layers = model_->config.vision.numHiddenLayers;
    for (int64_t k = 0; k <= layers; ++k) {
      const std::string name = k == 0 ? "vision.embeddings" : "vision.layers." + std::to_string(k - 1) + ".out";
      const std::string r = img + "/vision/hidden_states/" + std::to_string(k);
      VLM_COMPARE_TENSORS(rec.get(name)[0], ref_->tensor(r), 1e-4, 0, r);
      track("vision hidden states", rec.get(name)[0], ref_->tensor(r));
    }
    VLM_COMPARE_TENSORS(imageEmbeds[0], ref_->tensor(img + "/vision/post_layernorm"), 1e-4, 0, img + " post_layernorm");
    track("post_layernorm", imageEmbeds[0], ref_->tensor(img + "/vision/post_layernorm"));

    const auto& tc = model_->config.text;
    const auto& answers = expected["answers"];
    for (size_t qi = 0; qi < answers.size(); ++qi) {
      const auto& a = answers[qi];
      const std::string q = a["question"].get<std::string>();
      const std::string p = img + "/q" + std::to_string(qi) + "/";
      QCOMPARE(q, json_["questions"][qi].get<std::string>());
      const std::vector<int64_t> qids = answerer_->questionIds(q);
      QCOMPARE(qids, idsOf(ref_->tensor("question/" + std::to_string(qi) + "/input_ids")));

      const at::Tensor qmask = at::ones({1, int64_t(qids.size())}, at::kLong);
      const at::Tensor qe = model_->encodeQuestion(imageEmbeds, idsTensor(qids), qmask);
      VLM_COMPARE_TENSORS(qe[0], ref_->tensor(p + "question_embeds"), 1e-4, 0, p + "question_embeds");
      track("question_embeds", qe[0], ref_->tensor(p + "question_embeds"));

      // teacher forcing on the greedy answer
      const auto greedy = idsOf(a["greedy_ids"]);
      QCOMPARE(greedy, idsOf(ref_->tensor(p + "answer_ids_greedy")));
      const at::Tensor logits = model_->answerLogits(qe, qmask, idsTensor(greedy))[0];  // [Ta, V]
      if (ref_->find(p + "tf_logits")) {
        VLM_COMPARE_TENSORS(logits, ref_->tensor(p + "tf_logits"), 1e-4, 0, p + "tf_logits");
        track("tf_logits", logits, ref_->tensor(p + "tf_logits"));
      }
      const at::Tensor logp = at::log_softmax(logits, -1);
      std::vector<float> next;
      for (size_t i = 0; i + 1 < greedy.size(); ++i) next.push_back(logp[int64_t(i)][greedy[i + 1]].item<float>());
      VLM_COMPARE_TENSORS(at::tensor(next), ref_->tensor(p + "tf_next_token_logprob"), 1e-4, 0, p + "tf_next_token_logprob");
      track("tf_next_token_logprob", at::tensor(next), ref_->tensor(p + "tf_next_token_logprob"));
      auto [vals, idx] = at::topk(logits, 5, -1);
      VLM_COMPARE_TENSORS(vals, ref_->tensor(p + "tf_top5_logits"), 1e-4, 0, p + "tf_top5_logits");
      QVERIFY2(idx.equal(ref_->tensor(p + "tf_top5_ids")), (p + "tf_top5_ids differ").c_str());

      // generation: greedy and beam 3, ids and text
      for (const int beams : {1, 3}) {
        const std::string key = beams == 1 ? "greedy" : "beam3";
        GenerationOptions o;
        o.numBeams = beams;
        BlipVqaStepDecoder dec(model_, qe);
        const GenerationResult r = generate(dec, blipVqaAnswerPrompt(model_->config), tc.sepTokenId, o);
        QCOMPARE(r.ids, idsOf(a[key + "_ids"]));
        QCOMPARE(r.ids, idsOf(ref_->tensor(p + "answer_ids_" + key)));
        QCOMPARE(answerer_->decodeForDisplay(r.ids), a[key + "_text"].get<std::string>());
      }

      // the same through the pipeline, from the image file
      VqaOptions beam3;
      beam3.numBeams = 3;
      const VqaResult greedyResult = answerer_->answer(storedImage(f), q, VqaOptions{});
      QCOMPARE(greedyResult.ids, greedy);
      QCOMPARE(greedyResult.answer, a["greedy_text"].get<std::string>());
      QCOMPARE(greedyResult.tokens.front(), std::string("[DEC]"));
      QCOMPARE(greedyResult.tokens.size(), greedy.size());
      QCOMPARE(greedyResult.questionIds, qids);
      QVERIFY(!greedyResult.sequenceScore);
      const VqaResult beamResult = answerer_->answer(storedImage(f), q, beam3);
      QCOMPARE(beamResult.ids, idsOf(a["beam3_ids"]));
      QCOMPARE(beamResult.answer, a["beam3_text"].get<std::string>());
      QVERIFY(beamResult.sequenceScore && *beamResult.sequenceScore < 0);
      const AnswerLogProbs lp = answerer_->answerLogProbs(storedImage(f), q, greedy);
      VLM_COMPARE_TENSORS(at::tensor(lp.logProbs), ref_->tensor(p + "tf_next_token_logprob"), 1e-4, 0, p + "answerLogProbs");
      QVERIFY(std::abs(lp.total - ref_->tensor(p + "tf_next_token_logprob").sum().item<double>()) < 1e-4 * double(lp.logProbs.size()));
    }

    // batched greedy over both questions: rows padded with 0 after [SEP]
    const auto& batched = expected["batched"];
    std::vector<std::string> questions;
    for (size_t qi = 0; qi < answers.size(); ++qi) questions.push_back(answers[qi]["question"].get<std::string>());
    const std::vector<VqaResult> rows = answerer_->answerBatch(storedImage(f), questions, VqaOptions{});
    const at::Tensor want = ref_->tensor(img + "/batched/answer_ids_greedy");
    QCOMPARE(int64_t(rows.size()), want.size(0));
    for (size_t r = 0; r < rows.size(); ++r) {
      QCOMPARE(rows[r].ids, idsOf(batched["greedy_ids"][r]));
      QCOMPARE(rows[r].ids, idsOf(want[int64_t(r)]));
      QCOMPARE(rows[r].questionIds, idsOf(batched["input_ids"][r]));
      QCOMPARE(rows[r].answer, answers[r]["greedy_text"].get<std::string>());  // padding is skipped in the text
    }
  }

  void batchOfUnequalQuestions() {
    // The longest question is not padded: its row equals its answer on its own.
    const io::ImageU8 image = storedImage("chelsea.png");
    const std::vector<std::string> qs{"what?", "what colour is the cat on the sofa in this picture?", "how many cats?"};
    const auto rows = answerer_->answerBatch(image, qs, VqaOptions{});
    QCOMPARE(rows.size(), qs.size());
    for (const auto& r : rows) QCOMPARE(r.ids.size(), rows[0].ids.size());
    const VqaResult alone = answerer_->answer(image, qs[1], VqaOptions{});
    std::vector<int64_t> row = rows[1].ids;
    while (row.back() == 0) row.pop_back();
    QCOMPARE(row, alone.ids);
    VqaOptions beams;
    beams.numBeams = 2;
    VLM_EXPECT_ERROR(answerer_->answerBatch(image, qs, beams), ErrorCode::InvalidArgument, "greedy");
  }

  void dumpMatchesReference() {
    const auto& a = json_["images"]["coffee.png"]["answers"][1];
    const at::Tensor pixels = answerer_->impl().pixelValues(storedImage("coffee.png"));
    const NamedTensors dump = dumpBlipVqa(*model_, pixels, answerer_->questionIds(a["question"].get<std::string>()), idsOf(a["greedy_ids"]));
    const std::map<std::string, std::string> refName{{"pixel_values", "coffee/pixel_values"},
                                                     {"vision/post_layernorm", "coffee/vision/post_layernorm"},
                                                     {"question/input_ids", "question/1/input_ids"},
                                                     {"question_embeds", "coffee/q1/question_embeds"},
                                                     {"answer_ids", "coffee/q1/answer_ids_greedy"},
                                                     {"tf_next_token_logprob", "coffee/q1/tf_next_token_logprob"},
                                                     {"tf_top5_ids", "coffee/q1/tf_top5_ids"},
                                                     {"tf_top5_logits", "coffee/q1/tf_top5_logits"}};
    int compared = 0;
    for (const auto& [name, t] : dump) {
      std::string r = name.rfind("vision/hidden_states/", 0) == 0 ? "coffee/" + name : refName.count(name) ? refName.at(name) : "";
      if (r.empty()) continue;
      if (t.scalar_type() == at::kLong) QVERIFY2(t.equal(ref_->tensor(r)), name.c_str());
      else VLM_COMPARE_TENSORS(t, ref_->tensor(r), name == "pixel_values" ? 0.0 : 1e-4, 0, name);
      ++compared;
    }
    QCOMPARE(compared, int(refName.size() + model_->config.vision.numHiddenLayers + 1));
    QCOMPARE(dump.size(), refName.size() + model_->config.vision.numHiddenLayers + 2);  // + tf_logits
  }

  void gradientsReachTheVisionLayers() {
    // d log p(answer token 1) / d (every vision layer's output): finite and not all zero, with
    // the question encoder and the answer decoder in between (no inference mode in the model).
    const auto& a = json_["images"]["astronaut.png"]["answers"][0];
    const auto greedy = idsOf(a["greedy_ids"]);
    const auto qids = answerer_->questionIds(a["question"].get<std::string>());
    torch::AutoGradMode grad(true);
    const at::Tensor pixels = ref_->tensor("astronaut/pixel_values").unsqueeze(0).clone().requires_grad_(true);
    ActivationRecorder rec({"*"}, /*retainGrad=*/true);
    const at::Tensor imageEmbeds = model_->encodeImage(pixels, &rec);
    const at::Tensor qe = model_->encodeQuestion(imageEmbeds, idsTensor(qids), {}, &rec);
    const at::Tensor logits = model_->answerLogits(qe, {}, idsTensor(greedy), &rec);
    const at::Tensor y = at::log_softmax(logits[0][0], -1)[greedy[1]];
    QVERIFY(std::abs(y.item<double>() - ref_->tensor("astronaut/q0/tf_next_token_logprob")[0].item<double>()) < 1e-4);
    y.backward();
    std::vector<std::string> targets;
    for (int64_t k = 0; k < model_->config.vision.numHiddenLayers; ++k) targets.push_back("vision.layers." + std::to_string(k) + ".out");
    for (const std::string n : {"vision.post_layernorm", "question.layers.0.crossattn.probs", "answer.layers.0.crossattn.probs"})
      targets.push_back(n);
    for (const auto& n : targets) {
      const at::Tensor g = rec.get(n).grad();
      QVERIFY2(g.defined(), (n + ": no gradient").c_str());
      QVERIFY2(g.isfinite().all().item<bool>(), (n + ": non-finite gradient").c_str());
      QVERIFY2(g.abs().max().item<double>() > 0, (n + ": zero gradient").c_str());
    }
    QVERIFY(pixels.grad().defined() && pixels.grad().abs().max().item<double>() > 0);
    // the names the header documents
    for (const std::string n : {"vision.embeddings", "question.embeddings", "question.layers.1.out", "question.layers.0.selfattn.probs",
                                "answer.embeddings", "answer.layers.1.out", "answer.layers.0.selfattn.probs", "answer.logits"})
      QVERIFY2(rec.has(n), n.c_str());
    QCOMPARE(rec.get("question.layers.0.crossattn.probs").size(3), model_->config.vision.numPatches() + 1);
    QCOMPARE(rec.get("answer.layers.0.crossattn.probs").size(3), int64_t(qids.size()));
  }
};

QTEST_GUILESS_MAIN(TestBlipVqaParity)
#include "test_blip_vqa_parity.moc"
