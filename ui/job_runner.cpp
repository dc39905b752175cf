#include "job_runner.h"

#include <QMetaObject>
#include <QPointer>
#include <QThreadPool>
#include <QtConcurrent/QtConcurrent>

#include "common/error.h"

namespace vlm::ui {

struct JobRunner::Request {
  quint64 id = 0;
  QString what;
  std::function<std::any(const JobContext&)> work;
  std::function<void(std::any&)> done;
  std::function<void(const QString&)> failedFn;
  bool supersedable = true;
  std::stop_source stop;
  // Filled on the worker thread, read on the GUI thread after the future finished.
  std::any result;
  QString error;
  bool wasCancelled = false;
  QFuture<void> future;
};

JobRunner::JobRunner(QObject* parent) : QObject(parent), pool_(new QThreadPool(this)) {
  pool_->setMaxThreadCount(1);
  pool_->setExpiryTimeout(-1);
}

JobRunner::~JobRunner() {
  waiting_.clear();
  if (running_) {
    running_->stop.request_stop();
    running_->future.waitForFinished();
  }
  pool_->waitForDone();
}

bool JobRunner::busy() const { return running_ || !waiting_.empty(); }

void JobRunner::cancel() {
  auto waiting = std::move(waiting_);
  waiting_.clear();
  for (const auto& w : waiting) Q_EMIT cancelled(w->what);
  if (running_) running_->stop.request_stop();
}

void JobRunner::submit(const QString& what, std::function<std::any(const JobContext&)> work, std::function<void(std::any&)> done,
                       std::function<void(const QString&)> failedFn, bool supersedable, bool supersedes) {
  auto r = std::make_shared<Request>();
  r->id = nextId_++;
  r->what = what;
  r->work = std::move(work);
  r->done = std::move(done);
  r->failedFn = std::move(failedFn);
  r->supersedable = supersedable;
  if (supersedes) {
    // Waiting requests that may be superseded are replaced before they start.
    std::deque<std::shared_ptr<Request>> kept;
    for (auto& w : waiting_) {
      if (w->supersedable) Q_EMIT cancelled(w->what);
      else kept.push_back(std::move(w));
    }
    waiting_ = std::move(kept);
    if (running_ && running_->supersedable) running_->stop.request_stop();  // its result will be dropped
  }
  waiting_.push_back(r);
  if (!running_) startNext();
}

void JobRunner::startNext() {
  if (running_) return;  // a done() callback already started the next job
  if (waiting_.empty()) {
    Q_EMIT idle();
    return;
  }
  running_ = std::move(waiting_.front());
  waiting_.pop_front();
  std::shared_ptr<Request> r = running_;
  Q_EMIT started(r->what);
  QPointer<JobRunner> self(this);
  // Progress crosses to the GUI thread as queued signals; a stale job's progress is dropped.
  const quint64 id = r->id;
  const JobContext job(r->stop.get_token(), [self, id](double f, std::string_view stage) {
    const QString s = QString::fromUtf8(stage.data(), qsizetype(stage.size()));
    QMetaObject::invokeMethod(
        self, [self, id, f, s] {
          if (self && self->running_ && self->running_->id == id && !self->running_->stop.stop_requested()) Q_EMIT self->progressed(f, s);
        },
        Qt::QueuedConnection);
  });
  r->future = QtConcurrent::run(pool_, [r, job, self, id] {
    try {
      job.throwIfCancelled();
      r->result = r->work(job);
      if (r->stop.stop_requested()) r->wasCancelled = true;
    } catch (const Error& e) {
      if (e.code() == ErrorCode::Cancelled || r->stop.stop_requested()) r->wasCancelled = true;
      else r->error = QString::fromStdString(describeCurrentException());
    } catch (...) {
      if (r->stop.stop_requested()) r->wasCancelled = true;
      else r->error = QString::fromStdString(describeCurrentException());
    }
    QMetaObject::invokeMethod(
        self, [self, id] {
          if (self) self->onFinished(id);
        },
        Qt::QueuedConnection);
  });
}

void JobRunner::onFinished(quint64 id) {
  if (!running_ || running_->id != id) return;
  std::shared_ptr<Request> r = std::move(running_);
  running_.reset();
  r->future.waitForFinished();
  if (r->wasCancelled || r->stop.stop_requested()) {
    Q_EMIT cancelled(r->what);
  } else if (!r->error.isEmpty()) {
    if (r->failedFn) r->failedFn(r->error);
    Q_EMIT failed(r->what, r->error);
  } else {
    r->done(r->result);
    Q_EMIT succeeded(r->what);
  }
  startNext();
}

}  // namespace vlm::ui
