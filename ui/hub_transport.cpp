#include "hub_transport.h"

#include <QEventLoop>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QNetworkRequest>
#include <QTimer>
#include <QUrl>

#include <cmath>

#include "common/error.h"

namespace vlm::ui {

io::HttpResponse QtHttpTransport::get(const std::string& url, const std::vector<std::pair<std::string, std::string>>& headers,
                                      const std::function<bool(const io::HttpResponse&)>& onResponse,
                                      const std::function<bool(std::string_view)>& onData, const JobContext& job) {
  job.throwIfCancelled();
  const QUrl qurl(QString::fromStdString(url));
  if (!qurl.isValid() || (qurl.scheme() != QStringLiteral("https") && qurl.scheme() != QStringLiteral("http")))
    throw Error(ErrorCode::InvalidArgument, "not an http(s) address: " + url);
  QNetworkAccessManager manager;
  QNetworkRequest request(qurl);
  for (const auto& [name, value] : headers) request.setRawHeader(QByteArray::fromStdString(name), QByteArray::fromStdString(value));
  request.setAttribute(QNetworkRequest::RedirectPolicyAttribute, QNetworkRequest::NoLessSafeRedirectPolicy);
  request.setTransferTimeout(static_cast<int>(std::lround(timeoutSeconds_ * 1000.0)));
  QNetworkReply* reply = manager.get(request);

  io::HttpResponse response;
  bool started = false, stopped = false, cancelled = false;
  const auto start = [&] {
    if (started) return;
    started = true;
    response.status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
    for (const auto& [name, value] : reply->rawHeaderPairs()) response.headers[name.toLower().toStdString()] = value.toStdString();
    if (!onResponse(response)) {
      stopped = true;
      reply->abort();
    }
  };
  const auto drain = [&] {
    start();
    while (!stopped && reply->bytesAvailable() > 0) {
      const QByteArray piece = reply->read(1 << 20);
      if (!onData(std::string_view(piece.constData(), static_cast<size_t>(piece.size())))) {
        stopped = true;
        reply->abort();
      }
    }
  };
  QEventLoop loop;
  QObject::connect(reply, &QNetworkReply::readyRead, &loop, drain);
  QObject::connect(reply, &QNetworkReply::finished, &loop, &QEventLoop::quit);
  QTimer poll;
  poll.setInterval(50);
  QObject::connect(&poll, &QTimer::timeout, &loop, [&] {
    if (job.cancelled() && !reply->isFinished()) {
      cancelled = true;
      reply->abort();
    }
  });
  poll.start();
  if (!reply->isFinished()) loop.exec();
  poll.stop();
  if (!stopped && !cancelled && reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).isValid()) drain();
  const QNetworkReply::NetworkError error = reply->error();
  const QString message = reply->errorString();
  reply->deleteLater();
  if (cancelled) throw Error(ErrorCode::Cancelled, "cancelled");
  if (stopped || error == QNetworkReply::NoError) return response;
  // An HTTP error status (404, 403, 500, ...) is an answer: the caller reads the status.
  const int code = static_cast<int>(error);
  if (response.status > 0 && ((code >= 201 && code <= 299) || (code >= 401 && code <= 499))) return response;
  if (error == QNetworkReply::OperationCanceledError || error == QNetworkReply::TimeoutError)
    throw Error(ErrorCode::Io, url + ": nothing received for " + std::to_string(static_cast<int>(std::lround(timeoutSeconds_))) + " s (timed out)");
  throw Error(ErrorCode::Io, url + ": " + message.toStdString());
}

}  // namespace vlm::ui
