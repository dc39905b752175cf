// VLM_TEST_LABELS: fast
// The safetensors reader on real files written by Hugging Face (the fixtures) and on files
// written by VLMScope itself.
#include "testing.h"

#include "common/error.h"
#include "io/safetensors.h"

using namespace vlm;

class TestSafetensorsRead : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void readsHuggingFaceCheckpoint() {
    auto f = io::SafetensorsFile::open(test::dataPath("blip-caption-tiny/model.safetensors"));
    QCOMPARE(f->tensors().size(), size_t(92));  // 93 header keys, one of them __metadata__
    QCOMPARE(f->metadata().at("format"), std::string("pt"));
    const auto* info = f->find("vision_model.embeddings.patch_embedding.weight");
    QVERIFY(info);
    QCOMPARE(info->shape, (std::vector<int64_t>{32, 3, 16, 16}));
    at::Tensor t = f->tensor(*info);
    QCOMPARE(t.scalar_type(), at::kFloat);
    // A view of the mapping, not a copy: the data pointer lies inside the tensor's byte range.
    QCOMPARE(static_cast<const void*>(t.data_ptr()), static_cast<const void*>(f->bytes(*info).data()));
    QVERIFY(t.isfinite().all().item<bool>());
  }

  void roundTripsEveryDtype() {
    const auto dir = std::filesystem::temp_directory_path() / "vlm_st_roundtrip";
    std::filesystem::create_directories(dir);
    const auto path = dir / "x.safetensors";
    std::vector<std::pair<std::string, at::Tensor>> tensors = {
        {"f32", at::arange(12, at::kFloat).reshape({3, 4}) / 7},
        {"f64", at::arange(5, at::kDouble) * 0.1},
        {"bf16", at::arange(6, at::kFloat).to(at::kBFloat16)},
        {"f16", at::arange(6, at::kFloat).to(at::kHalf)},
        {"i64", at::arange(-3, 3, at::kLong)},
        {"i32", at::arange(4, at::kInt)},
        {"u8", at::arange(250, 256, at::kLong).to(at::kByte)},
        {"b", at::tensor({1, 0, 1}, at::kLong).to(at::kBool)},
        {"empty", at::empty({0, 3})},
        {"scalar", at::tensor(3.5f).reshape({})},
    };
    io::writeSafetensors(path, tensors, {{"format", "pt"}});
    auto f = io::SafetensorsFile::open(path);
    QCOMPARE(f->tensors().size(), tensors.size());
    for (const auto& [name, t] : tensors) {
      at::Tensor r = f->tensor(name);
      QCOMPARE(r.scalar_type(), t.scalar_type());
      QCOMPARE(r.sizes().vec(), t.sizes().vec());
      QVERIFY2(r.equal(t), name.c_str());
    }
    std::filesystem::remove_all(dir);
  }

  void missingTensorIsTyped() {
    auto f = io::SafetensorsFile::open(test::dataPath("blip-caption-tiny/model.safetensors"));
    try {
      f->tensor("no.such.tensor");
      QFAIL("expected an error");
    } catch (const Error& e) {
      QCOMPARE(e.code(), ErrorCode::MissingTensor);
      QCOMPARE(e.tensor(), std::string("no.such.tensor"));
    }
  }
};

QTEST_GUILESS_MAIN(TestSafetensorsRead)
#include "test_safetensors_read.moc"
