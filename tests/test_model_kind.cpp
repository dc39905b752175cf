// VLM_TEST_LABELS: fast
// A checkpoint folder is recognised by config.json's model_type and architectures.
#include "testing.h"

#include <fstream>

#include "error_testing.h"
#include "models/model_kind.h"

using namespace vlm;
using models::ModelFamily;
namespace fs = std::filesystem;

class TestModelKind : public QObject {
  Q_OBJECT
  fs::path tmp_;

  fs::path folderWith(const std::string& name, const std::string& config) {
    const fs::path dir = tmp_ / name;
    fs::create_directories(dir);
    std::ofstream(dir / "config.json") << config;
    return dir;
  }

 private Q_SLOTS:
  void initTestCase() {
    tmp_ = fs::temp_directory_path() / ("vlm_model_kind_" + std::to_string(::getpid()));
    fs::create_directories(tmp_);
  }
  void cleanupTestCase() { fs::remove_all(tmp_); }

  void fixtureFolders() {
    QCOMPARE(models::detectModelKind(test::dataPath("blip-caption-tiny")).family, ModelFamily::BlipCaption);
    QCOMPARE(models::detectModelKind(test::dataPath("blip-vqa-tiny")).family, ModelFamily::BlipVqa);
    const auto clip = models::detectModelKind(test::dataPath("clip-tiny"));
    QCOMPARE(clip.family, ModelFamily::Clip);
    QCOMPARE(clip.architecture, std::string("CLIPModel"));
    QCOMPARE(clip.modelType, std::string("clip"));
  }

  void withoutArchitectures() {
    QCOMPARE(models::detectModelKind(folderWith("blip", R"({"model_type":"blip"})")).family, ModelFamily::BlipCaption);
    QCOMPARE(models::detectModelKind(folderWith("clip", R"({"model_type":"clip","architectures":[]})")).family, ModelFamily::Clip);
  }

  void unsupported() {
    VLM_EXPECT_ERROR(models::detectModelKind(folderWith("llama", R"({"model_type":"llama","architectures":["LlamaForCausalLM"]})")),
                     ErrorCode::Unsupported, "llama", "LlamaForCausalLM", "CLIPModel");
    VLM_EXPECT_ERROR(models::detectModelKind(folderWith("retrieval", R"({"model_type":"blip","architectures":["BlipForImageTextRetrieval"]})")),
                     ErrorCode::Unsupported, "BlipForImageTextRetrieval");
    VLM_EXPECT_ERROR(models::detectModelKind(folderWith("cliptext", R"({"model_type":"clip","architectures":["CLIPTextModel"]})")),
                     ErrorCode::Unsupported, "CLIPTextModel");
    VLM_EXPECT_ERROR(models::detectModelKind(folderWith("notype", R"({"architectures":["CLIPModel"]})")), ErrorCode::Corrupt, "model_type");
    VLM_EXPECT_ERROR(models::detectModelKind(folderWith("badjson", "{")), ErrorCode::Corrupt, "config.json");
    VLM_EXPECT_ERROR(models::detectModelKind(tmp_ / "absent"), ErrorCode::NotFound, "config.json");
  }

  void requireNamesFolderAndCommands() {
    const fs::path clip = test::dataPath("clip-tiny");
    VLM_EXPECT_ERROR(models::requireModelFamily(clip, {ModelFamily::BlipCaption}, "caption"), ErrorCode::Unsupported,
                     clip.string(), "CLIP image-text model", "BLIP image captioning", "vlmscope caption", "similarity");
    QCOMPARE(models::requireModelFamily(clip, {ModelFamily::BlipVqa, ModelFamily::Clip}, "dump").family, ModelFamily::Clip);
  }
};

QTEST_GUILESS_MAIN(TestModelKind)
#include "test_model_kind.moc"
