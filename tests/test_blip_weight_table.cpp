// VLM_TEST_LABELS: fast
// The BLIP captioning key table against the module tree for several configs (every
// parameter found, with the right shape), and against the checkpoints transformers wrote.
#include "testing.h"

#include "blip_testing.h"

#include <set>

#include "common/error.h"
#include "io/safetensors.h"
#include "io/state_dict.h"
#include "models/blip/blip_caption.h"

using namespace vlm;
using namespace vlm::models;

namespace {


// A copy of the fixture checkpoint (config + weights) in a temporary folder, each tensor passed
// through `edit` (an undefined result drops it).
std::filesystem::path fixtureVariant(const std::string& name,
                                     const std::function<at::Tensor(const std::string&, const at::Tensor&)>& edit) {
  const auto dir = std::filesystem::temp_directory_path() / name;
  std::filesystem::create_directories(dir);
  auto f = io::SafetensorsFile::open(test::dataPath("blip-caption-tiny/model.safetensors"));
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  for (const auto& t : f->tensors())
    if (at::Tensor e = edit(t.name, f->tensor(t)); e.defined()) tensors.emplace_back(t.name, e);
  io::writeSafetensors(dir / "model.safetensors", tensors);
  std::filesystem::copy_file(test::dataPath("blip-caption-tiny/config.json"), dir / "config.json",
                             std::filesystem::copy_options::overwrite_existing);
  return dir;
}

}  // namespace

class TestBlipWeightTable : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void moduleMatchesTable_data() {
    QTest::addColumn<int>("which");
    QTest::newRow("fixture") << 0;
    QTest::newRow("odd sizes, text hidden != vision hidden") << 1;
    QTest::newRow("blip-base defaults") << 2;
  }
  void moduleMatchesTable() {
    QFETCH(int, which);
    const BlipConfig c = which == 0 ? loadBlipConfig(test::dataPath("blip-caption-tiny/config.json")) : which == 1 ? test::oddBlipConfig() : BlipConfig{};
    BlipForConditionalGeneration model(c);
    const std::string problem = test::moduleTableMismatch(*model, blipCaptionCheckpointTensors(c));
    QVERIFY2(problem.empty(), problem.c_str());
  }

  void oddConfigRunsEndToEnd() {
    // nothing in the model code assumes the fixture's (or BLIP-base's) sizes
    torch::NoGradGuard ng;
    const BlipConfig c = test::oddBlipConfig();
    BlipForConditionalGeneration model(c);
    for (auto& p : model->parameters()) p.normal_(0, 0.05);
    const at::Tensor embeds = model->encodeImage(at::randn({2, 3, 48, 48}));
    QCOMPARE(embeds.sizes().vec(), (std::vector<int64_t>{2, 37, 24}));
    const at::Tensor ids = at::randint(0, 1000, {2, 7}, at::kLong);
    const at::Tensor logits = model->decode(embeds, ids);
    QCOMPARE(logits.sizes().vec(), (std::vector<int64_t>{2, 7, 1000}));
    // incremental decoding with the cache gives the teacher-forced logits, token by token
    BlipCaptionStepDecoder dec(model, embeds.slice(0, 0, 1));
    dec.reset(1);
    for (int64_t t = 0; t < 7; ++t) {
      const at::Tensor step = dec.step(ids.slice(0, 0, 1).slice(1, t, t + 1));
      VLM_COMPARE_TENSORS(step[0][0], logits[0][t], 1e-4, 1e-4, "step " + std::to_string(t));
    }
  }

  void fixtureCheckpointHoldsExactlyTheTable() {
    const BlipConfig c = loadBlipConfig(test::dataPath("blip-caption-tiny/config.json"));
    auto f = io::SafetensorsFile::open(test::dataPath("blip-caption-tiny/model.safetensors"));
    std::set<std::string> stored;
    for (const auto& t : f->tensors()) stored.insert(t.name);
    for (const auto& s : blipCaptionCheckpointTensors(c)) {
      const auto* info = f->find(s.name);
      QVERIFY2(info, ("missing in the checkpoint: " + s.name).c_str());
      QCOMPARE(info->shape, s.shape);
      stored.erase(s.name);
    }
    QVERIFY2(stored.empty(), ("checkpoint tensors not in the table: " + (stored.empty() ? "" : *stored.begin())).c_str());
  }

  void tiedLmHeadFallsBackToWordEmbeddings() {
    // A checkpoint without cls.predictions.decoder.weight (tied): the word embeddings serve.
    const auto dir = fixtureVariant("vlm_tied", [](const std::string& name, const at::Tensor& t) {
      return name == "text_decoder.cls.predictions.decoder.weight" ? at::Tensor() : t;
    });
    auto f = io::SafetensorsFile::open(test::dataPath("blip-caption-tiny/model.safetensors"));
    const LoadedBlipCaption m = loadBlipCaption(dir);
    QCOMPARE(m.report.substitutions.size(), size_t(1));
    QVERIFY(m.model->text_decoder->cls->predictions->decoder->weight.equal(f->tensor("text_decoder.bert.embeddings.word_embeddings.weight")));
    std::filesystem::remove_all(dir);
  }

  void shapeMismatchNamesTensorAndShapes() {
    const auto dir = fixtureVariant("vlm_badshape", [](const std::string& name, const at::Tensor& t) {
      return name == "vision_model.post_layernorm.weight" ? at::ones({33}) : t;
    });
    try {
      loadBlipCaption(dir);
      QFAIL("expected a shape error");
    } catch (const Error& e) {
      QCOMPARE(e.code(), ErrorCode::ShapeMismatch);
      const std::string msg = e.what();
      QVERIFY2(msg.find("vision_model.post_layernorm.weight") != std::string::npos, e.what());
      QVERIFY2(msg.find("[33]") != std::string::npos && msg.find("[32]") != std::string::npos, e.what());
      QVERIFY2(msg.find("model.safetensors") != std::string::npos, e.what());
    }
    std::filesystem::remove_all(dir);
  }
};

QTEST_GUILESS_MAIN(TestBlipWeightTable)
#include "test_blip_weight_table.moc"
