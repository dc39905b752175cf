// VLM_TEST_LABELS: model
// Bad inputs on the command line: each gives exactly one clear line on stderr and a non-zero
// exit code, never a crash or a stack trace.
#include "cli_helpers.h"

#include <fstream>

#include "io/safetensors.h"
#include "torch_bin_testing.h"

using namespace vlm;
using namespace vlm::test;
namespace fs = std::filesystem;

namespace {

uint32_t crc32(const std::string& data) {  // PNG's CRC-32 (ISO 3309), bit by bit
  uint32_t c = 0xFFFFFFFFu;
  for (unsigned char b : data) {
    c ^= b;
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
  }
  return c ^ 0xFFFFFFFFu;
}

std::string be32(uint32_t v) {
  return std::string{char(v >> 24), char(v >> 16), char(v >> 8), char(v)};
}

// A PNG whose header says width x height, with one tiny IDAT: decoding it would need
// width*height*3 bytes.
std::string pngBomb(uint32_t width, uint32_t height) {
  std::string png("\x89PNG\r\n\x1a\n", 8);
  auto chunk = [&](const std::string& type, const std::string& data) {
    png += be32(uint32_t(data.size())) + type + data + be32(crc32(type + data));
  };
  chunk("IHDR", be32(width) + be32(height) + std::string("\x08\x02\x00\x00\x00", 5));
  chunk("IDAT", std::string("\x78\x9c\x03\x00\x00\x00\x00\x01", 8));
  chunk("IEND", "");
  return png;
}

void write(const fs::path& p, const std::string& content) { std::ofstream(p, std::ios::binary) << content; }

}  // namespace

class TestCliErrors : public QObject {
  Q_OBJECT
  fs::path tmp_;
  QString model_ = qs(dataPath("blip-caption-tiny"));
  QString image_ = qs(dataPath("images/astronaut.png"));

  fs::path modelCopy(const std::string& name, bool withWeights) {
    const fs::path dir = tmp_ / name;
    fs::create_directories(dir);
    for (const auto& e : fs::directory_iterator(dataPath("blip-caption-tiny"))) {
      const auto f = e.path().filename().string();
      if (f.rfind("reference", 0) == 0 || (!withWeights && f == "model.safetensors")) continue;
      fs::copy_file(e.path(), dir / f, fs::copy_options::overwrite_existing);
    }
    return dir;
  }

  // Runs the command and checks the one-line error; returns the line.
  std::string expectOneLineError(const QStringList& args, const std::string& mustMention) {
    const CliResult r = runCli(args);
    const std::string problem = cleanFailureProblem(args, r, 0, {mustMention});
    if (!problem.empty()) QTest::qFail(problem.c_str(), __FILE__, __LINE__);
    return r.err;
  }

 private Q_SLOTS:
  void initTestCase() {
    tmp_ = fs::temp_directory_path() / ("vlm_cli_errors_" + std::to_string(::getpid()));
    fs::create_directories(tmp_);
  }
  void cleanupTestCase() { fs::remove_all(tmp_); }

  void missingModelFolder() {
    expectOneLineError({"caption", "--model", qs(tmp_ / "no_such_model"), image_}, "no_such_model");
  }

  void hubIdNotInCache() {
    qputenv("HF_HUB_CACHE", QByteArray::fromStdString((tmp_ / "empty_hub").string()));
    expectOneLineError({"caption", "--model", "Salesforce/blip-image-captioning-base", image_},
                       "huggingface-cli download Salesforce/blip-image-captioning-base");
    qunsetenv("HF_HUB_CACHE");
  }

  // A CLIP or VQA folder given to caption: the message says what the folder is and which
  // commands take it.
  void otherModelFamilies() {
    const std::string clip = expectOneLineError({"caption", "--model", qs(dataPath("clip-tiny")), image_}, "CLIP image-text model");
    QVERIFY2(clip.find("similarity") != std::string::npos, clip.c_str());
    const std::string vqa = expectOneLineError({"caption", "--model", qs(dataPath("blip-vqa-tiny")), image_}, "BlipForQuestionAnswering");
    QVERIFY2(vqa.find("vqa") != std::string::npos, vqa.c_str());
  }

  void folderWithoutWeights() {
    const fs::path dir = modelCopy("noweights", false);
    expectOneLineError({"caption", "--model", qs(dir), image_}, dir.string());
  }

  void truncatedSafetensors() {
    const fs::path dir = modelCopy("truncated", true);
    const auto size = fs::file_size(dir / "model.safetensors");
    fs::resize_file(dir / "model.safetensors", size / 2);
    expectOneLineError({"caption", "--model", qs(dir), image_}, "model.safetensors");
  }

  void tensorWithWrongShape() {
    const fs::path dir = modelCopy("badshape", true);
    auto f = io::SafetensorsFile::open(dataPath("blip-caption-tiny/model.safetensors"));
    std::vector<std::pair<std::string, at::Tensor>> tensors;
    for (const auto& t : f->tensors())
      tensors.emplace_back(t.name, t.name == "text_decoder.bert.embeddings.position_embeddings.weight" ? at::zeros({65, 32}) : f->tensor(t));
    f.reset();
    io::writeSafetensors(dir / "model.safetensors", tensors);
    const std::string err = expectOneLineError({"caption", "--model", qs(dir), image_}, "text_decoder.bert.embeddings.position_embeddings.weight");
    QVERIFY2(err.find("[65, 32]") != std::string::npos && err.find("[64, 32]") != std::string::npos, err.c_str());
  }

  void binThatWouldRunCode() {
    const fs::path dir = tmp_ / "evilbin";
    fs::create_directories(dir);
    for (const auto& e : fs::directory_iterator(dataPath("blip-caption-tiny-bin")))
      if (e.path().filename() != "pytorch_model.bin") fs::copy_file(e.path(), dir / e.path().filename(), fs::copy_options::overwrite_existing);
    assembleBin(dir / "pytorch_model.bin", readBytes(dataPath("bad-bin/os_system_global.pkl")));
    const std::string err = expectOneLineError({"caption", "--model", qs(dir), image_}, "os.system");
    QVERIFY2(err.find("pytorch_model.bin") != std::string::npos, err.c_str());
  }

  void nonImageFile() {
    write(tmp_ / "notes.png", "these are not pixels\n");
    expectOneLineError({"caption", "--model", model_, qs(tmp_ / "notes.png")}, "notes.png");
  }

  void zeroByteImage() {
    write(tmp_ / "empty.jpg", "");
    expectOneLineError({"caption", "--model", model_, qs(tmp_ / "empty.jpg")}, "empty.jpg");
  }

  void imageOverThePixelBudget() {
    write(tmp_ / "bomb.png", pngBomb(60000, 60000));
    const std::string err = expectOneLineError({"caption", "--model", model_, qs(tmp_ / "bomb.png")}, "bomb.png");
    QVERIFY2(err.find("60000") != std::string::npos, err.c_str());
  }

  void missingImage() { expectOneLineError({"caption", "--model", model_, qs(tmp_ / "nothere.png")}, "nothere.png"); }

  void usageMistakes() {
    expectOneLineError({"caption", "--model", model_}, "no image");
    expectOneLineError({"caption", "--model", model_, "--beams", "zero", image_}, "--beams");
    expectOneLineError({"caption", "--model", model_, "--max-length", "1", image_}, "--max-length");
    expectOneLineError({"caption", "--model", model_, "--frobnicate", image_}, "--frobnicate");
    expectOneLineError({"dump", "--model", model_, "--image", image_, "--out", qs(tmp_ / "d.safetensors"), "--ids", "30522,1037", "--target-pos", "5"}, "target position");
    expectOneLineError({"nosuchcommand"}, "nosuchcommand");
  }

  void goodImagesStillCaptionedWhenOneFails() {
    write(tmp_ / "bad.png", "x");
    const CliResult r = runCli({"caption", "--model", model_, "--json", qs(tmp_ / "bad.png"), image_});
    QCOMPARE(r.exitCode, 1);
    const auto out = nlohmann::json::parse(r.out);
    QCOMPARE(out.size(), size_t(2));
    QVERIFY(out[0].contains("error"));
    QCOMPARE(out[1]["caption"].get<std::string>(), std::string("hello consent\xcb\xa3 destroyed"));
  }
};

QTEST_GUILESS_MAIN(TestCliErrors)
#include "test_cli_errors.moc"
