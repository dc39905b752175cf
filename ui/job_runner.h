#pragma once
// The one place where the window's long work runs: a single worker thread for core jobs, with
// progress, cancel and supersede. A job is a function of a vlm::JobContext that returns a value
// struct; its result (or its error message) is delivered on the GUI thread. Widgets never run
// core work themselves and never see LibTorch.
//
// Supersede: a new request cancels the running job (its result is dropped) and replaces the
// requests that have not started yet, so clicking tokens quickly never queues minutes of work.
// Queued jobs (runQueued: loading a model) are neither cancelled nor replaced by later
// requests; they run in order, and later requests wait behind them. runQueuedReplacing (opening
// an image) is queued the same way but first cancels the stale supersedable work, whose result
// would belong to what it replaces.
// Destroying the runner cancels the running job and waits for it.

#include <QObject>
#include <QString>

#include <any>
#include <deque>
#include <functional>
#include <memory>
#include <stop_token>

#include "common/job.h"

class QThreadPool;

namespace vlm::ui {

class JobRunner : public QObject {
  Q_OBJECT
 public:
  explicit JobRunner(QObject* parent = nullptr);
  ~JobRunner() override;

  // Runs work(job) on the worker thread, then done(result) on the GUI thread; on an exception
  // failed(message) with describeCurrentException()'s one line; a cancelled job calls neither.
  template <class T>
  void run(const QString& what, std::function<T(const JobContext&)> work, std::function<void(T)> done,
           std::function<void(const QString&)> failed = {}) {
    submit(what, [work = std::move(work)](const JobContext& job) { return std::any(work(job)); },
           [done = std::move(done)](std::any& r) { done(std::any_cast<T>(std::move(r))); }, std::move(failed), true, true);
  }
  // The same, but not superseded by later requests.
  template <class T>
  void runQueued(const QString& what, std::function<T(const JobContext&)> work, std::function<void(T)> done,
                 std::function<void(const QString&)> failed = {}) {
    submit(what, [work = std::move(work)](const JobContext& job) { return std::any(work(job)); },
           [done = std::move(done)](std::any& r) { done(std::any_cast<T>(std::move(r))); }, std::move(failed), false, false);
  }
  // Not superseded by later requests, but it cancels and replaces the supersedable ones.
  template <class T>
  void runQueuedReplacing(const QString& what, std::function<T(const JobContext&)> work, std::function<void(T)> done,
                          std::function<void(const QString&)> failed = {}) {
    submit(what, [work = std::move(work)](const JobContext& job) { return std::any(work(job)); },
           [done = std::move(done)](std::any& r) { done(std::any_cast<T>(std::move(r))); }, std::move(failed), false, true);
  }

  void cancel();      // the running job and every waiting request
  bool busy() const;  // a job runs or waits

 Q_SIGNALS:
  void started(const QString& what);
  void progressed(double fraction, const QString& stage);
  void succeeded(const QString& what);
  void failed(const QString& what, const QString& message);
  void cancelled(const QString& what);
  void idle();  // nothing runs or waits any more

 private:
  struct Request;
  void submit(const QString& what, std::function<std::any(const JobContext&)> work, std::function<void(std::any&)> done,
              std::function<void(const QString&)> failed, bool supersedable, bool supersedes);
  void startNext();
  void onFinished(quint64 id);

  QThreadPool* pool_ = nullptr;
  std::shared_ptr<Request> running_;
  std::deque<std::shared_ptr<Request>> waiting_;
  quint64 nextId_ = 1;
};

}  // namespace vlm::ui
