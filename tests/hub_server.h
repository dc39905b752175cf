#pragma once
// A local stand-in for the Hugging Face hub on 127.0.0.1 (tests only): serves one repository's
// files with the metadata the hub gives (sizes, git blob ids, sha256 of .safetensors files, all
// computed here with Qt's QCryptographicHash, independently of core's hashes), and can cut a
// transfer short, corrupt a file, answer 404 or never answer. LocalHub runs it on its own thread
// so that code under test may block (or run a QProcess) while it serves.
#include <QCryptographicHash>
#include <QFile>
#include <QMutex>
#include <QTcpServer>
#include <QTcpSocket>
#include <QThread>

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace vlm::test {

// A minimal HTTP/1.1 server (one request per connection) playing the hub for one repository.
class HubServer : public QObject {
 public:
  std::string repo = "test-org/blip-tiny";
  std::string commit = "0123456789abcdef0123456789abcdef01234567";

  std::map<std::string, QByteArray> files;
  // Behaviours, set by the test before a download.
  std::map<std::string, qint64> cutAfter;  // first full request: send this many bytes, then drop the connection
  std::set<std::string> corrupt, missing, stall;

  QMutex mutex;
  std::vector<std::pair<std::string, std::string>> requests;  // (path, Range header)

  std::string metadata() const {
    nlohmann::json siblings = nlohmann::json::array();
    for (const auto& [name, bytes] : files) {
      nlohmann::json s{{"rfilename", name}, {"size", bytes.size()}};
      QCryptographicHash sha1(QCryptographicHash::Sha1);
      sha1.addData("blob " + QByteArray::number(bytes.size()) + '\0');
      sha1.addData(bytes);
      s["blobId"] = sha1.result().toHex().toStdString();
      if (name.ends_with(".safetensors"))
        s["lfs"] = {{"sha256", QCryptographicHash::hash(bytes, QCryptographicHash::Sha256).toHex().toStdString()}, {"size", bytes.size()}};
      siblings.push_back(s);
    }
    siblings.push_back({{"rfilename", "README.md"}, {"size", 5}, {"blobId", std::string(40, 'a')}});  // not needed: never fetched
    return nlohmann::json{{"id", repo}, {"sha", commit}, {"siblings", siblings}}.dump();
  }

  int requestsFor(const std::string& file) {
    QMutexLocker lock(&mutex);
    return int(std::count_if(requests.begin(), requests.end(), [&](const auto& r) { return r.first.ends_with("/" + file); }));
  }
  std::vector<std::string> rangesFor(const std::string& file) {
    QMutexLocker lock(&mutex);
    std::vector<std::string> out;
    for (const auto& r : requests)
      if (r.first.ends_with("/" + file)) out.push_back(r.second);
    return out;
  }

 public:
  quint16 listen() {
    server_ = new QTcpServer(this);
    connect(server_, &QTcpServer::newConnection, this, [this] {
      while (QTcpSocket* s = server_->nextPendingConnection()) {
        connect(s, &QTcpSocket::readyRead, this, [this, s] { onData(s); });
        connect(s, &QTcpSocket::disconnected, s, &QObject::deleteLater);
      }
    });
    return server_->listen(QHostAddress::LocalHost, 0) ? server_->serverPort() : 0;
  }
  void stop() {
    delete server_;
    server_ = nullptr;
  }

 private:
  void respond(QTcpSocket* s, int status, const QByteArray& reason, const QByteArray& body, const QByteArray& extra = {}) {
    s->write("HTTP/1.1 " + QByteArray::number(status) + ' ' + reason + "\r\nContent-Length: " + QByteArray::number(body.size()) +
             "\r\nConnection: close\r\n" + extra + "\r\n" + body);
    s->disconnectFromHost();
  }

  void onData(QTcpSocket* s) {
    QByteArray& buffer = pending_[s];
    buffer += s->readAll();
    const int end = buffer.indexOf("\r\n\r\n");
    if (end < 0) return;
    const QList<QByteArray> lines = buffer.left(end).split('\n');
    pending_.erase(s);
    const QList<QByteArray> requestLine = lines.value(0).trimmed().split(' ');
    const std::string path = requestLine.value(1).toStdString();
    std::string range;
    for (const QByteArray& l : lines)
      if (l.toLower().startsWith("range:")) range = l.mid(6).trimmed().toStdString();
    {
      QMutexLocker lock(&mutex);
      requests.emplace_back(path, range);
    }
    const std::string api = "/api/models/" + repo + "/revision/main?blobs=true";
    if (path == api) return respond(s, 200, "OK", QByteArray::fromStdString(metadata()), "Content-Type: application/json\r\n");
    const std::string prefix = "/" + repo + "/resolve/" + commit + "/";
    if (path.rfind(prefix, 0) != 0 || !files.count(path.substr(prefix.size()))) return respond(s, 404, "Not Found", "Entry not found");
    const std::string name = path.substr(prefix.size());
    if (missing.count(name)) return respond(s, 404, "Not Found", "Entry not found");
    if (stall.count(name)) return;  // never answers
    QByteArray body = files.at(name);
    if (corrupt.count(name)) body[body.size() / 2] = char(body[body.size() / 2] ^ 0x5a);
    if (!range.empty()) {
      const qint64 from = QByteArray::fromStdString(range).mid(6).split('-').value(0).toLongLong();
      const QByteArray rest = body.mid(from);
      return respond(s, 206, "Partial Content", rest,
                     "Content-Range: bytes " + QByteArray::number(from) + '-' + QByteArray::number(body.size() - 1) + '/' + QByteArray::number(body.size()) + "\r\n");
    }
    if (auto it = cutAfter.find(name); it != cutAfter.end()) {
      const qint64 n = it->second;
      cutAfter.erase(it);
      s->write("HTTP/1.1 200 OK\r\nContent-Length: " + QByteArray::number(body.size()) + "\r\n\r\n" + body.left(n));
      s->flush();
      s->waitForBytesWritten(2000);
      s->abort();  // the connection drops mid-body
      return;
    }
    respond(s, 200, "OK", body);
  }

  QTcpServer* server_ = nullptr;
  std::map<QTcpSocket*, QByteArray> pending_;
};


class LocalHub {
 public:
  // Serves the files `names` of the checkpoint folder `dir` as `repo`.
  LocalHub(const std::filesystem::path& dir, const std::vector<std::string>& names, const std::string& repo = "test-org/blip-tiny") {
    server = new HubServer;
    server->repo = repo;
    for (const auto& n : names) {
      QFile f(QString::fromStdString((dir / n).string()));
      if (f.open(QIODevice::ReadOnly)) server->files[n] = f.readAll();
    }
    server->moveToThread(&thread_);
    thread_.start();
    quint16 port = 0;
    QMetaObject::invokeMethod(server, [&] { port = server->listen(); }, Qt::BlockingQueuedConnection);
    endpoint = port ? "http://127.0.0.1:" + std::to_string(port) : std::string();
  }
  ~LocalHub() {
    QMetaObject::invokeMethod(server, [this] { server->stop(); }, Qt::BlockingQueuedConnection);
    thread_.quit();
    thread_.wait();
    delete server;
  }
  LocalHub(const LocalHub&) = delete;
  LocalHub& operator=(const LocalHub&) = delete;

  HubServer* server = nullptr;
  std::string endpoint;  // empty when the server could not listen

 private:
  QThread thread_;
};

// The files of the tiny BLIP captioning fixture a download fetches.
inline std::vector<std::string> tinyBlipFiles() {
  return {"config.json", "model.safetensors", "preprocessor_config.json", "special_tokens_map.json",
          "tokenizer_config.json", "vocab.txt", "generation_config.json"};
}

}  // namespace vlm::test
