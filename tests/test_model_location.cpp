// VLM_TEST_LABELS: fast
// --model as a folder or a hub id resolved in a Hugging Face cache laid out as
// huggingface_hub writes it (models--ORG--NAME/refs/main + snapshots/REV).
#include "testing.h"

#include <cstdlib>
#include <fstream>

#include "common/error.h"
#include "io/model_location.h"

using namespace vlm;
namespace fs = std::filesystem;

namespace {

void touch(const fs::path& p, const std::string& content = "{}") {
  fs::create_directories(p.parent_path());
  std::ofstream(p) << content;
}

}  // namespace

class TestModelLocation : public QObject {
  Q_OBJECT
  fs::path root_;

 private Q_SLOTS:
  void init() {
    root_ = fs::temp_directory_path() / ("vlm_hf_" + std::to_string(::getpid()));
    fs::remove_all(root_);
    for (const char* v : {"HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_HOME", "XDG_CACHE_HOME"}) unsetenv(v);
  }
  void cleanup() { fs::remove_all(root_); }

  void cacheFolderPrecedence() {
    setenv("HOME", root_.c_str(), 1);
    QCOMPARE(io::huggingFaceHubCache(), root_ / ".cache/huggingface/hub");
    setenv("XDG_CACHE_HOME", (root_ / "xdg").c_str(), 1);
    QCOMPARE(io::huggingFaceHubCache(), root_ / "xdg/huggingface/hub");
    setenv("HF_HOME", (root_ / "hfhome").c_str(), 1);
    QCOMPARE(io::huggingFaceHubCache(), root_ / "hfhome/hub");
    setenv("HF_HUB_CACHE", (root_ / "hub").c_str(), 1);
    QCOMPARE(io::huggingFaceHubCache(), root_ / "hub");
  }

  void resolvesHubIdThroughRefsMain() {
    setenv("HF_HUB_CACHE", (root_ / "hub").c_str(), 1);
    const fs::path repo = root_ / "hub/models--Salesforce--blip-image-captioning-base";
    touch(repo / "refs/main", "abc123\n");
    touch(repo / "snapshots/abc123/config.json");
    touch(repo / "snapshots/old999/config.json");
    const auto loc = io::resolveModel("Salesforce/blip-image-captioning-base");
    QCOMPARE(loc.dir, repo / "snapshots/abc123");
    QCOMPARE(loc.hubId, std::string("Salesforce/blip-image-captioning-base"));
    QCOMPARE(loc.revision, std::string("abc123"));
    QCOMPARE(io::resolveModel("Salesforce/blip-image-captioning-base@old999").dir, repo / "snapshots/old999");
    const auto listed = io::listCachedModels();
    QCOMPARE(listed.size(), size_t(1));
    QCOMPARE(listed[0].hubId, std::string("Salesforce/blip-image-captioning-base"));
  }

  void folderWinsOverHubId() {
    touch(root_ / "Org/model/config.json");
    const fs::path cwd = fs::current_path();
    fs::current_path(root_);
    const auto loc = io::resolveModel("Org/model");
    fs::current_path(cwd);
    QCOMPARE(loc.dir, fs::path("Org/model"));
    QVERIFY(loc.hubId.empty());
  }

  void missingModelSaysHowToDownload() {
    setenv("HF_HUB_CACHE", (root_ / "hub").c_str(), 1);
    try {
      io::resolveModel("Salesforce/blip-vqa-base");
      QFAIL("expected an error");
    } catch (const Error& e) {
      QCOMPARE(e.code(), ErrorCode::NotFound);
      const std::string msg = e.what();
      QVERIFY2(msg.find("huggingface-cli download Salesforce/blip-vqa-base") != std::string::npos, e.what());
      QVERIFY2(msg.find((root_ / "hub").string()) != std::string::npos, e.what());
    }
    try {
      io::resolveModel((root_ / "no/such/../folder/x").string());
      QFAIL("expected an error");
    } catch (const Error& e) {
      QCOMPARE(e.code(), ErrorCode::NotFound);
      QVERIFY2(std::string(e.what()).find("does not exist") != std::string::npos, e.what());
    }
  }

  void incompleteDownloadIsReported() {
    setenv("HF_HUB_CACHE", (root_ / "hub").c_str(), 1);
    const fs::path repo = root_ / "hub/models--a--b";
    touch(repo / "refs/main", "rev1");
    fs::create_directories(repo / "snapshots/rev1");  // no config.json yet
    try {
      io::resolveModel("a/b");
      QFAIL("expected an error");
    } catch (const Error& e) {
      QVERIFY2(std::string(e.what()).find("incomplete download") != std::string::npos, e.what());
    }
  }

  void hubIdShape() {
    QVERIFY(io::looksLikeHubId("Salesforce/blip-vqa-base"));
    QVERIFY(io::looksLikeHubId("openai/clip-vit-base-patch32@main"));
    QVERIFY(!io::looksLikeHubId("/abs/path"));
    QVERIFY(!io::looksLikeHubId("a/b/c"));
    QVERIFY(!io::looksLikeHubId("../x"));
    QVERIFY(!io::looksLikeHubId("noslash"));
  }
};

QTEST_GUILESS_MAIN(TestModelLocation)
#include "test_model_location.moc"
