// VLM_TEST_LABELS: model
// Model downloads (core/io/hub_download.h over ui/hub_transport.h, and `vlmscope models`)
// against a local HTTP server on 127.0.0.1 that plays the Hugging Face hub: it serves the tiny
// BLIP fixture checkpoint with metadata whose sizes and checksums the test computes itself
// (Qt's QCryptographicHash), and can cut a transfer short, corrupt a file, answer 404 or stall.
#include <QCryptographicHash>
#include <QProcess>
#include <QMutexLocker>
#include <QTemporaryDir>
#include <QTest>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <stop_token>

#include <nlohmann/json.hpp>

#include "cli_helpers.h"
#include "common/error.h"
#include "error_testing.h"
#include "hub_server.h"
#include "hub_transport.h"
#include "io/hub_download.h"
#include "io/model_location.h"
#include "io/sha256.h"
#include "pipeline/captioner.h"
#include "testing.h"

using namespace vlm;
using namespace vlm::test;
namespace fs = std::filesystem;

namespace {

const char* kRepo = "test-org/blip-tiny";
const char* kCommit = "0123456789abcdef0123456789abcdef01234567";

QByteArray readAll(const fs::path& p) {
  QFile f(qs(p));
  return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
}

}  // namespace

class ModelDownloadTest : public QObject {
  Q_OBJECT

  std::unique_ptr<LocalHub> hub_;
  HubServer* server_ = nullptr;
  std::string endpoint_;
  QTemporaryDir tmp_;
  int cacheCounter_ = 0;

  fs::path freshCache() { return fs::path(tmp_.filePath(QStringLiteral("cache%1").arg(++cacheCounter_)).toStdString()); }

  io::DownloadOptions options(const fs::path& cache) {
    io::DownloadOptions o;
    o.model = kRepo;
    o.cache = cache;
    o.endpoint = endpoint_;
    o.retries = 2;
    o.retryDelaySeconds = 0.05;
    return o;
  }

  void resetServer() {
    server_->cutAfter.clear();
    server_->corrupt.clear();
    server_->missing.clear();
    server_->stall.clear();
    QMutexLocker lock(&server_->mutex);
    server_->requests.clear();
  }

  fs::path repoDir(const fs::path& cache) const { return cache / "models--test-org--blip-tiny"; }

 private Q_SLOTS:
  void initTestCase() {
    QVERIFY(tmp_.isValid());
    hub_ = std::make_unique<LocalHub>(dataPath("blip-caption-tiny"), tinyBlipFiles(), kRepo);
    server_ = hub_->server;
    QCOMPARE(server_->files.size(), tinyBlipFiles().size());
    QVERIFY(!hub_->endpoint.empty());
    endpoint_ = hub_->endpoint;
  }

  void cleanupTestCase() { hub_.reset(); }

  void init() { resetServer(); }

  // Known answers (FIPS 180 examples, git's blob id of "hello\n") and agreement with Qt's
  // implementation at every padding boundary, fed whole and in uneven pieces.
  void hashes() {
    auto sha256 = [](const QByteArray& b) { return io::sha256Hex({reinterpret_cast<const uint8_t*>(b.data()), size_t(b.size())}); };
    QCOMPARE(sha256("abc"), std::string("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
    io::Sha1 abc;
    abc.update("abc", 3);
    QCOMPARE(abc.hexDigest(), std::string("a9993e364706816aba3e25717850c26c9cd0d89d"));
    const fs::path hello = fs::path(tmp_.path().toStdString()) / "hello.txt";
    std::ofstream(hello) << "hello\n";
    QCOMPARE(io::gitBlobSha1FileHex(hello), std::string("ce013625030ba8dba906f756967f9e9ca394464a"));
    for (int n = 0; n <= 200; ++n) {
      QByteArray b(n, '\0');
      for (int i = 0; i < n; ++i) b[i] = char(i * 7 + n);
      io::Sha256 s;
      io::Sha1 s1;
      for (int at = 0; at < n;) {
        const int piece = std::min(n - at, 1 + (at % 13));
        s.update(b.constData() + at, size_t(piece));
        s1.update(b.constData() + at, size_t(piece));
        at += piece;
      }
      QCOMPARE(s.hexDigest(), QCryptographicHash::hash(b, QCryptographicHash::Sha256).toHex().toStdString());
      QCOMPARE(s1.hexDigest(), QCryptographicHash::hash(b, QCryptographicHash::Sha1).toHex().toStdString());
    }
  }

  // The Hugging Face cache layout, loadable by name, and a second run transfers nothing.
  void downloadsIntoTheCacheLayout() {
    const fs::path cache = freshCache();
    ui::QtHttpTransport transport(10);
    const io::DownloadReport r = io::downloadModel(options(cache), transport);
    QCOMPARE(r.commit, std::string(kCommit));
    QCOMPARE(r.snapshot, repoDir(cache) / "snapshots" / kCommit);
    QCOMPARE(r.files.size(), server_->files.size());  // README.md is not needed
    QVERIFY(!fs::exists(r.snapshot / "README.md"));
    uint64_t total = 0;
    for (const auto& [name, bytes] : server_->files) total += uint64_t(bytes.size());
    QCOMPARE(r.bytesTransferred, total);
    std::ifstream ref(repoDir(cache) / "refs" / "main");
    std::string commit;
    ref >> commit;
    QCOMPARE(commit, std::string(kCommit));
    const QByteArray safetensors = server_->files.at("model.safetensors");
    const std::string sha = QCryptographicHash::hash(safetensors, QCryptographicHash::Sha256).toHex().toStdString();
    QCOMPARE(fs::read_symlink(r.snapshot / "model.safetensors"), fs::path("../../blobs") / sha);
    for (const auto& [name, bytes] : server_->files) {
      QVERIFY2(fs::is_symlink(r.snapshot / name), name.c_str());
      QCOMPARE(readAll(r.snapshot / name), bytes);
    }
    QVERIFY(fs::read_symlink(r.snapshot / "config.json").filename().string().size() == 40);  // git blob id

    // Loaded by hub id from that cache, it captions as the fixture folder does.
    qputenv("HF_HUB_CACHE", QByteArray::fromStdString(cache.string()));
    const io::ModelLocation where = io::resolveModel(kRepo);
    QCOMPARE(where.dir, r.snapshot);
    const auto image = loadFixtureImage("astronaut.png");
    const auto fromCache = Captioner::load(kRepo)->caption(image, {});
    const auto fromFolder = Captioner::load(dataPath("blip-caption-tiny").string())->caption(image, {});
    QCOMPARE(fromCache.ids, fromFolder.ids);
    qunsetenv("HF_HUB_CACHE");

    resetServer();
    const io::DownloadReport again = io::downloadModel(options(cache), transport);
    QCOMPARE(again.bytesTransferred, uint64_t(0));
    for (const auto& f : again.files) QVERIFY(f.alreadyPresent);
    QCOMPARE(server_->requestsFor("model.safetensors"), 0);
  }

  // A connection dropped mid-file: the next attempt asks for the rest (Range) and the file is whole.
  void resumesAnInterruptedTransfer() {
    const fs::path cache = freshCache();
    const qint64 cut = server_->files.at("model.safetensors").size() / 3;
    server_->cutAfter["model.safetensors"] = cut;
    ui::QtHttpTransport transport(10);
    const io::DownloadReport r = io::downloadModel(options(cache), transport);
    const auto f = std::find_if(r.files.begin(), r.files.end(), [](const auto& f) { return f.name == "model.safetensors"; });
    QCOMPARE(f->attempts, 2);
    const auto ranges = server_->rangesFor("model.safetensors");
    QCOMPARE(ranges.size(), size_t(2));
    QCOMPARE(ranges[0], std::string());
    QCOMPARE(ranges[1], "bytes=" + std::to_string(cut) + "-");
    QCOMPARE(readAll(r.snapshot / "model.safetensors"), server_->files.at("model.safetensors"));
  }

  // Across runs: a run that gives up keeps the partial file; the next run resumes it.
  void resumesAcrossRuns() {
    const fs::path cache = freshCache();
    const qint64 cut = server_->files.at("model.safetensors").size() / 2;
    server_->cutAfter["model.safetensors"] = cut;
    ui::QtHttpTransport transport(10);
    auto o = options(cache);
    o.retries = 0;
    VLM_EXPECT_ERROR(io::downloadModel(o, transport), ErrorCode::Io, "run the download again to resume");
    const std::string sha = QCryptographicHash::hash(server_->files.at("model.safetensors"), QCryptographicHash::Sha256).toHex().toStdString();
    const fs::path partial = repoDir(cache) / "blobs" / (sha + ".incomplete");
    QCOMPARE(qint64(fs::file_size(partial)), cut);
    QVERIFY(!fs::exists(repoDir(cache) / "snapshots" / kCommit / "model.safetensors"));

    const io::DownloadReport r = io::downloadModel(o, transport);
    const auto f = std::find_if(r.files.begin(), r.files.end(), [](const auto& f) { return f.name == "model.safetensors"; });
    QCOMPARE(f->resumedFrom, uint64_t(cut));
    QCOMPARE(server_->rangesFor("model.safetensors").back(), "bytes=" + std::to_string(cut) + "-");
    QCOMPARE(readAll(r.snapshot / "model.safetensors"), server_->files.at("model.safetensors"));
    QVERIFY(!fs::exists(partial));
  }

  // Bytes that do not match the hub's sha256: retried, then refused; nothing damaged is kept or linked.
  void detectsACorruptFile() {
    const fs::path cache = freshCache();
    server_->corrupt.insert("model.safetensors");
    ui::QtHttpTransport transport(10);
    auto o = options(cache);
    o.retries = 1;
    VLM_EXPECT_ERROR(io::downloadModel(o, transport), ErrorCode::Corrupt, "model.safetensors", "checksum", "sha256");
    QCOMPARE(server_->requestsFor("model.safetensors"), 2);
    const std::string sha = QCryptographicHash::hash(server_->files.at("model.safetensors"), QCryptographicHash::Sha256).toHex().toStdString();
    QVERIFY(!fs::exists(repoDir(cache) / "blobs" / sha));  // neither the damaged file nor a partial one
    QVERIFY(!fs::exists(repoDir(cache) / "blobs" / (sha + ".incomplete")));
    QVERIFY(!fs::exists(repoDir(cache) / "snapshots" / kCommit / "model.safetensors"));
    QVERIFY(!fs::exists(repoDir(cache) / "refs" / "main"));
  }

  void reportsNotFound() {
    ui::QtHttpTransport transport(10);
    server_->missing.insert("preprocessor_config.json");
    VLM_EXPECT_ERROR(io::downloadModel(options(freshCache()), transport), ErrorCode::NotFound, "preprocessor_config.json", "404");
    QCOMPARE(server_->requestsFor("preprocessor_config.json"), 1);  // a 404 is not retried
    auto o = options(freshCache());
    o.model = "test-org/no-such-model";
    VLM_EXPECT_ERROR(io::downloadModel(o, transport), ErrorCode::NotFound, "no model test-org/no-such-model", "404");
  }

  // A server that accepts and never answers: each attempt gives up after the timeout.
  void timesOut() {
    server_->stall.insert("vocab.txt");
    ui::QtHttpTransport transport(0.5);
    auto o = options(freshCache());
    o.retries = 1;
    const auto start = std::chrono::steady_clock::now();
    VLM_EXPECT_ERROR(io::downloadModel(o, transport), ErrorCode::Io, "vocab.txt", "timed out", "2 attempts");
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    QVERIFY2(seconds < 10, qPrintable(QString::number(seconds)));
    QCOMPARE(server_->requestsFor("vocab.txt"), 2);
  }

  // Cancel during the transfer: Cancelled, the partial file stays for the next run.
  void cancels() {
    server_->stall.insert("model.safetensors");
    std::stop_source stop;
    const JobContext job(stop.get_token(), [&](double, std::string_view) {});
    std::thread canceller([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
      stop.request_stop();
    });
    ui::QtHttpTransport transport(30);
    const auto start = std::chrono::steady_clock::now();
    VLM_EXPECT_ERROR(io::downloadModel(options(freshCache()), transport, job), ErrorCode::Cancelled, "cancelled");
    canceller.join();
    QVERIFY(std::chrono::steady_clock::now() - start < std::chrono::seconds(5));
  }

  // The command line: download, list, verify (and a damaged blob found by verify).
  void commandLine() {
    const fs::path cache = freshCache();
    QProcess p;
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    env.insert(QStringLiteral("HF_HUB_CACHE"), qs(cache));
    env.insert(QStringLiteral("HF_ENDPOINT"), QString::fromStdString(endpoint_));
    p.setProcessEnvironment(env);
    auto run = [&](const QStringList& args) {
      p.start(qs(vlmscopeBinary()), args);
      p.waitForFinished(60000);
      return std::make_pair(p.exitCode(), p.readAllStandardOutput().toStdString() + p.readAllStandardError().toStdString());
    };
    auto [code, out] = run({QStringLiteral("models"), QStringLiteral("download"), QString::fromLatin1(kRepo), QStringLiteral("--json")});
    QVERIFY2(code == 0, out.c_str());
    const auto j = nlohmann::json::parse(out);
    QCOMPARE(j["commit"].get<std::string>(), std::string(kCommit));
    QCOMPARE(j["files"].size(), server_->files.size());

    std::tie(code, out) = run({QStringLiteral("models"), QStringLiteral("list"), QStringLiteral("--json")});
    QCOMPARE(code, 0);
    bool listed = false;
    for (const auto& m : nlohmann::json::parse(out))
      listed = listed || (m["name"] == kRepo && m["source"] == "huggingface-cache" && m["kind"].get<std::string>().find("captioning") != std::string::npos);
    QVERIFY2(listed, out.c_str());

    std::tie(code, out) = run({QStringLiteral("models"), QStringLiteral("verify"), QString::fromLatin1(kRepo)});
    QVERIFY2(code == 0, out.c_str());
    // One flipped byte in a blob: verify names the file and fails.
    const fs::path blob = fs::canonical(cache / "models--test-org--blip-tiny" / "snapshots" / kCommit / "vocab.txt");
    {
      std::fstream f(blob, std::ios::in | std::ios::out | std::ios::binary);
      f.seekp(100);
      f.put('#');
    }
    std::tie(code, out) = run({QStringLiteral("models"), QStringLiteral("verify"), QString::fromLatin1(kRepo), QStringLiteral("--json")});
    QCOMPARE(code, 1);
    const auto report = nlohmann::json::parse(out.substr(0, out.find("\nvlmscope")));
    for (const auto& f : report[0]["files"]) QVERIFY2(f["ok"].get<bool>() == (f["name"] != "vocab.txt"), out.c_str());

    VLM_EXPECT_CLEAN_FAILURE((QStringList{QStringLiteral("models"), QStringLiteral("download"), QStringLiteral("no-such-name")}), 2, "no-such-name", "blip-vqa-base");
    VLM_EXPECT_CLEAN_FAILURE((QStringList{QStringLiteral("models"), QStringLiteral("fetch")}), 2, "list, download, verify");
  }
};

QTEST_GUILESS_MAIN(ModelDownloadTest)
#include "test_model_download.moc"
