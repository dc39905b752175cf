#pragma once
// What a long operation gets from its caller: a way to report progress and a way to be
// asked to stop. Core code calls progress() now and then and throwIfCancelled() between
// steps; it never blocks on the caller.

#include <functional>
#include <stop_token>
#include <string>
#include <string_view>

#include "common/error.h"

namespace vlm {

using ProgressFn = std::function<void(double fraction, std::string_view stage)>;

class JobContext {
 public:
  JobContext() = default;
  explicit JobContext(std::stop_token stop, ProgressFn progress = {})
      : stop_(std::move(stop)), progress_(std::move(progress)) {}

  bool cancelled() const { return stop_.stop_requested(); }
  void throwIfCancelled() const {
    if (stop_.stop_requested()) throw Error(ErrorCode::Cancelled, "cancelled");
  }
  // fraction in [0, 1] of the whole operation
  void progress(double fraction, std::string_view stage) const {
    if (progress_) progress_(fraction, stage);
  }
  const std::stop_token& stopToken() const { return stop_; }

 private:
  std::stop_token stop_;
  ProgressFn progress_;
};

// Progress of a sub-step that covers [from, to] of the whole job, same cancel token. The
// result refers to `job`, which must outlive it.
inline JobContext subJob(const JobContext& job, double from, double to) {
  return JobContext(job.stopToken(), [&job, from, to](double f, std::string_view s) { job.progress(from + (to - from) * f, s); });
}

}  // namespace vlm
