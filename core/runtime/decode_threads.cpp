#include "runtime/decode_threads.h"

#include <dlfcn.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <functional>
#include <mutex>
#include <thread>

namespace vlm::runtime {

void blasSgemv(char trans, int m, int n, float alpha, const float* a, int lda, const float* x, float beta, float* y);

namespace {

thread_local bool tlsActive = false;

// OpenMP's per-thread thread count, from the runtime LibTorch loaded (no link dependency).
int ompGetMaxThreads() {
  static const auto fn = reinterpret_cast<int (*)()>(dlsym(RTLD_DEFAULT, "omp_get_max_threads"));
  return fn ? fn() : 1;
}
void ompSetNumThreads(int n) {
  static const auto fn = reinterpret_cast<void (*)(int)>(dlsym(RTLD_DEFAULT, "omp_set_num_threads"));
  if (fn) fn(n);
}

using SgemvFn = void (*)(const char*, const int*, const int*, const float*, const float*, const int*, const float*,
                         const int*, const float*, float*, const int*);

SgemvFn sgemv() {
  // The BLAS LibTorch itself uses (OpenBLAS here), found at run time: no link dependency.
  static const SgemvFn fn = reinterpret_cast<SgemvFn>(dlsym(RTLD_DEFAULT, "sgemv_"));
  return fn;
}

// y[0:n) = W[0:n, 0:k] x (+ b): BLAS sees W as the column-major k x n matrix W^T.
void gemvRows(const float* w, const float* x, const float* b, float* y, int64_t n, int64_t k) {
  if (n <= 0) return;
  if (b) std::memcpy(y, b, sizeof(float) * static_cast<size_t>(n));
  blasSgemv('T', static_cast<int>(k), static_cast<int>(n), 1.0f, w, static_cast<int>(k), x, b ? 1.0f : 0.0f, y);
}

// One helper thread; jobs are handed over through two counters. The helper spins for a while
// after each job (the next product of the same token comes within microseconds), then sleeps.
class Helper {
 public:
  static Helper& instance() {
    static Helper h;
    return h;
  }

  void run(std::function<void()> job, const std::function<void()>& mine) {
    std::lock_guard<std::mutex> lock(mutex_);  // one decoding thread at a time uses the helper
    job_ = std::move(job);
    const uint32_t ticket = posted_.fetch_add(1, std::memory_order_acq_rel) + 1;
    posted_.notify_one();
    mine();
    for (int spin = 0; done_.load(std::memory_order_acquire) != ticket; ++spin)
      if (spin > 4096) done_.wait(ticket - 1, std::memory_order_acquire);
  }

 private:
  Helper() : thread_([this] { loop(); }) {}
  ~Helper() {
    stop_.store(true);
    posted_.fetch_add(1);
    posted_.notify_one();
    thread_.join();
  }

  void loop() {
    ompSetNumThreads(1);  // this thread's BLAS and LibTorch calls stay on it
    uint32_t seen = 0;
    while (true) {
      const auto spinUntil = std::chrono::steady_clock::now() + std::chrono::milliseconds(2);
      while (posted_.load(std::memory_order_acquire) == seen && std::chrono::steady_clock::now() < spinUntil) {
      }
      posted_.wait(seen, std::memory_order_acquire);
      if (stop_.load()) return;
      seen = posted_.load(std::memory_order_acquire);
      job_();
      done_.store(seen, std::memory_order_release);
      done_.notify_one();
    }
  }

  std::mutex mutex_;
  std::function<void()> job_;
  std::atomic<uint32_t> posted_{0}, done_{0};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace

TokenDecodingScope::TokenDecodingScope() : previousThreads_(ompGetMaxThreads()), outer_(!tlsActive) {
  if (outer_) {
    tlsActive = true;
    ompSetNumThreads(1);
  }
}

TokenDecodingScope::~TokenDecodingScope() {
  if (outer_) {
    ompSetNumThreads(previousThreads_);
    tlsActive = false;
  }
}

bool TokenDecodingScope::active() { return tlsActive; }

void runPair(const std::function<void()>& mine, std::function<void()> other) {
  static const bool twoCores = std::thread::hardware_concurrency() >= 2;
  if (!tlsActive || !twoCores) {
    mine();
    other();
    return;
  }
  Helper::instance().run(std::move(other), mine);
}

bool blasAvailable() { return sgemv() != nullptr; }

void blasSgemv(char trans, int m, int n, float alpha, const float* a, int lda, const float* x, float beta, float* y) {
  const int one = 1;
  const char t[2] = {trans, 0};
  sgemv()(t, &m, &n, &alpha, a, &lda, x, &one, &beta, y, &one);
}

bool splitGemv(const float* w, const float* x, const float* b, float* y, int64_t n, int64_t k) {
  if (!sgemv()) return false;
  static const bool twoCores = std::thread::hardware_concurrency() >= 2;
  if (!tlsActive || !twoCores || n < 256) {
    gemvRows(w, x, b, y, n, k);
    return true;
  }
  const int64_t half = n / 2;
  Helper::instance().run([=] { gemvRows(w + half * k, x, b ? b + half : nullptr, y + half, n - half, k); },
                         [&] { gemvRows(w, x, b, y, half, k); });
  return true;
}

}  // namespace vlm::runtime
