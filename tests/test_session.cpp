// VLM_TEST_LABELS: fast
// Session files (.vlmscope): everything reads back exactly, saving is atomic (a write that fails
// part-way - a full disk, simulated with RLIMIT_FSIZE - or a process killed during the save
// leaves the previous file whole), damaged or foreign files are refused with clear errors, and
// a session's models are recognised (or the missing one named).
#include <QTemporaryDir>
#include <QTest>

#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>

#include "common/error.h"
#include "error_testing.h"
#include "io/files.h"
#include "io/sha256.h"
#include "session/session.h"
#include "session/zip.h"
#include "testing.h"

using namespace vlm;
using namespace vlm::test;
namespace fs = std::filesystem;

namespace {

session::Session sample(int runs = 3, int mapSide = 24) {
  session::Session s;
  s.createdBy = "VLMScope test";
  s.imageName = "demo <1>.png";
  s.imageBytes = io::readFile(fs::path(VLM_SOURCE_DIR) / "resources" / "images" / "demo.png");
  s.imageSha256 = io::sha256Hex({reinterpret_cast<const uint8_t*>(s.imageBytes.data()), s.imageBytes.size()});
  s.models.push_back({"caption", "/models/blip", std::string(64, 'a'), std::string(64, 'b')});
  s.models.push_back({"clip", "openai/clip-vit-base-patch32", "", ""});
  s.decoding = {{"beams", 3}, {"max_length", 20}};
  s.masks = {{1, 2, 30, 40}, {50, 60, 7, 8}};
  for (int i = 0; i < runs; ++i) {
    session::Run r;
    r.kind = i == 0 ? "caption" : "explain";
    r.title = "token " + std::to_string(i) + " 'caf\xc3\xa9' <script>alert(1)</script>";
    r.parameters = {{"method", "gradcam"}, {"layer", i}, {"alpha", 0.1 * i}};
    r.text = "a purple star, a red triangle and an orange circle";
    r.tokens = {"[DEC]", "a", "purple", "star"};
    r.explainedToken = i % 4;
    session::Map m;
    m.width = mapSide;
    m.height = mapSide + i;
    for (int k = 0; k < m.width * m.height; ++k) m.values.push_back(std::sin(0.37f * float(k + i)) * 1e-3f * float(k % 7));
    m.values[0] = -0.0f;
    m.values[1] = std::numeric_limits<float>::denorm_min();
    m.values[2] = 1.0f / 3.0f;
    r.map = m;
    r.values = {{"patch 0", 0.1 + 1e-17}, {"patch 1", -2.0 / 3.0}, {"sky", 1e-300}};
    r.masks = {{3, 4, 5, 6}};
    r.regenerated = "a red triangle";
    r.metrics = {{"deletion_auc", 0.123456789012345678}, {"pointing", true}};
    r.seconds = 1.25 + i;
    s.runs.push_back(r);
  }
  return s;
}

// Exact equality, floats compared bit for bit.
bool identical(const session::Session& a, const session::Session& b) {
  // operator== compares floats by value (-0.0 == 0.0): the maps and values are compared bitwise too.
  if (a.runs.size() != b.runs.size()) return false;
  for (size_t i = 0; i < a.runs.size(); ++i) {
    const auto& ma = a.runs[i].map;
    const auto& mb = b.runs[i].map;
    if (ma.has_value() != mb.has_value()) return false;
    if (ma && (ma->values.size() != mb->values.size() ||
               std::memcmp(ma->values.data(), mb->values.data(), ma->values.size() * sizeof(float)) != 0))
      return false;
    for (size_t k = 0; k < a.runs[i].values.size(); ++k)
      if (std::memcmp(&a.runs[i].values[k].value, &b.runs[i].values[k].value, sizeof(double)) != 0) return false;
  }
  return a == b;
}

}  // namespace

class SessionTest : public QObject {
  Q_OBJECT
  QTemporaryDir tmp_;
  fs::path file(const char* name) { return fs::path(tmp_.filePath(QString::fromLatin1(name)).toStdString()); }

 private Q_SLOTS:
  void readsBackExactly() {
    const auto s = sample();
    const fs::path f = file("a.vlmscope");
    session::save(s, f);
    const auto back = session::load(f);
    QVERIFY(identical(s, back));
    QCOMPARE(back.runs[0].map->values[0], -0.0f);
    QVERIFY(std::signbit(back.runs[0].map->values[0]));
    // A ZIP that other tools open: session.json, the image file under its own extension, one blob per map.
    const auto entries = session::readZip(io::readFile(f), f.string());
    QVERIFY(entries.count("session.json"));
    QVERIFY(entries.count("image.png"));
    QCOMPARE(entries.at("image.png"), s.imageBytes);
    QVERIFY(entries.count("maps/2.f32"));
    QCOMPARE(entries.at("maps/2.f32").size(), size_t(24 * 26 * 4));
    // Saved again, byte for byte the same file (no time stamps).
    QCOMPARE(session::serialize(back), io::readFile(f));
  }

  // A session without image bytes or runs is valid too.
  void emptySession() {
    session::Session s;
    s.createdBy = "x";
    const fs::path f = file("empty.vlmscope");
    session::save(s, f);
    QVERIFY(identical(session::load(f), s));
  }

  void refusesDamagedFiles() {
    const fs::path f = file("b.vlmscope");
    session::save(sample(), f);
    const std::string bytes = io::readFile(f);
    const auto write = [&](const std::string& name, const std::string& content) {
      io::writeFileAtomic(file(name.c_str()), content);
      return file(name.c_str());
    };
    VLM_EXPECT_ERROR(session::load(write("cut.vlmscope", bytes.substr(0, bytes.size() / 2))), ErrorCode::Truncated, "cut short");
    std::string flipped = bytes;
    flipped[bytes.size() / 3] = char(flipped[bytes.size() / 3] ^ 1);
    VLM_EXPECT_ERROR(session::load(write("flip.vlmscope", flipped)), ErrorCode::Corrupt, "CRC-32", "damaged");
    VLM_EXPECT_ERROR(session::load(write("text.vlmscope", "hello, this is not a session file at all")), ErrorCode::Corrupt, "not a valid session file");
    VLM_EXPECT_ERROR(session::load(file("absent.vlmscope")), ErrorCode::NotFound, "absent.vlmscope");
    // A ZIP that is not a session, and a session from a newer VLMScope.
    VLM_EXPECT_ERROR(session::load(write("other.zip", session::makeZip({{"readme.txt", "hi"}}))), ErrorCode::Corrupt, "no session.json");
    auto entries = session::readZip(bytes, "b");
    auto j = nlohmann::json::parse(entries.at("session.json"));
    j["version"] = session::kFormatVersion + 1;
    j["created_by"] = "VLMScope 9.0";
    entries["session.json"] = j.dump();
    VLM_EXPECT_ERROR(session::load(write("newer.vlmscope", session::makeZip(entries))), ErrorCode::Unsupported, "newer VLMScope", "VLMScope 9.0");
    entries = session::readZip(bytes, "b");
    entries.erase("maps/1.f32");
    VLM_EXPECT_ERROR(session::load(write("nomap.vlmscope", session::makeZip(entries))), ErrorCode::Corrupt, "maps/1.f32", "missing");
    entries = session::readZip(bytes, "b");
    entries["image.png"][100] = char(entries["image.png"][100] ^ 1);
    VLM_EXPECT_ERROR(session::load(write("img.vlmscope", session::makeZip(entries))), ErrorCode::Corrupt, "image", "sha256");
    VLM_EXPECT_ERROR(session::makeZip({{"../evil", "x"}}), ErrorCode::InvalidArgument, "../evil");
  }

  // A save that fails part-way (the file size limit plays a full disk, even for root) throws a
  // clear error and leaves the previous session whole, with no temporary file behind.
  void failedSaveKeepsThePreviousFile() {
    const fs::path f = file("c.vlmscope");
    const auto before = sample(1);
    session::save(before, f);
    const auto big = sample(40, 64);
    struct sigaction ignore {}, old {};
    ignore.sa_handler = SIG_IGN;
    sigaction(SIGXFSZ, &ignore, &old);
    rlimit limit{}, saved{};
    getrlimit(RLIMIT_FSIZE, &saved);
    limit = saved;
    limit.rlim_cur = 64 * 1024;
    setrlimit(RLIMIT_FSIZE, &limit);
    std::string message;
    try {
      session::save(big, f);
    } catch (const Error& e) {
      message = e.what();
      QCOMPARE(e.code(), ErrorCode::Io);
    }
    setrlimit(RLIMIT_FSIZE, &saved);
    sigaction(SIGXFSZ, &old, nullptr);
    QVERIFY2(!message.empty(), "the save should have failed");
    QVERIFY2(message.find("c.vlmscope") != std::string::npos, message.c_str());
    QVERIFY(identical(session::load(f), before));
    for (const auto& e : fs::directory_iterator(f.parent_path()))
      QVERIFY2(e.path().filename().string().find(".tmp") == std::string::npos, e.path().c_str());
    // An unwritable place: a folder that is a file.
    VLM_EXPECT_ERROR(session::save(before, f / "inside.vlmscope"), ErrorCode::Io, "inside.vlmscope");
  }

  // Processes killed (SIGKILL) at random moments while saving over a session: what is on disk
  // always loads, as the old or the new session.
  void killDuringSave() {
    const fs::path f = file("d.vlmscope");
    const auto oldSession = sample(2, 16);
    const auto newSession = sample(30, 96);  // a few MB: the save takes a while
    session::save(oldSession, f);
    int sawOld = 0, sawNew = 0;
    for (int round = 0; round < 12; ++round) {
      const pid_t child = fork();
      if (child == 0) {
        for (;;) session::save(newSession, f);  // until killed
      }
      QVERIFY(child > 0);
      usleep(useconds_t(2000 + 7919 * round % 40000));
      kill(child, SIGKILL);
      int status = 0;
      waitpid(child, &status, 0);
      const auto back = session::load(f);
      if (identical(back, oldSession)) ++sawOld;
      else if (identical(back, newSession)) ++sawNew;
      else QFAIL("the file is neither the old nor the new session");
      session::save(oldSession, f);
    }
    qInfo("after the kills: %d x the old session, %d x the new one", sawOld, sawNew);
    QCOMPARE(sawOld + sawNew, 12);
  }

  void modelReferences() {
    const fs::path folder = dataPath("blip-caption-tiny");
    const auto ref = session::describeModel("caption", folder.string(), folder);
    QCOMPARE(ref.configSha256, io::sha256Hex({reinterpret_cast<const uint8_t*>(io::readFile(folder / "config.json").data()),
                                              io::readFile(folder / "config.json").size()}));
    QCOMPARE(ref.weightsFingerprint.size(), size_t(64));
    QCOMPARE(session::checkModel(ref), std::string());
    auto changed = ref;
    changed.weightsFingerprint[0] = changed.weightsFingerprint[0] == '0' ? '1' : '0';
    QVERIFY(session::checkModel(changed).find("weights changed") != std::string::npos);
    changed = ref;
    changed.configSha256 = std::string(64, 'f');
    QVERIFY(session::checkModel(changed).find("config.json changed") != std::string::npos);
    auto missing = ref;
    missing.spec = "/nowhere/blip-model";
    const std::string why = session::checkModel(missing);
    QVERIFY2(why.find("/nowhere/blip-model") != std::string::npos && why.find("not available") != std::string::npos, why.c_str());
  }
};

QTEST_GUILESS_MAIN(SessionTest)
#include "test_session.moc"
