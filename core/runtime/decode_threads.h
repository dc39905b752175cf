#pragma once
// Token-by-token decoding is a long chain of small operations around a few large, memory-bound
// matrix-vector products. LibTorch's OpenMP threads sleep between parallel regions
// (OMP_WAIT_POLICY=PASSIVE, which the large matrix products of the vision encoder need), so
// every small operation that goes parallel pays for waking them (~50 us, hundreds of times per
// token). Inside a TokenDecodingScope the calling thread runs LibTorch operations on one thread,
// and matrix-vector products are split in two row halves: one computed here, one by a helper
// thread that spins briefly between products instead of sleeping.

#include <cstdint>
#include <functional>

namespace vlm::runtime {

class TokenDecodingScope {
 public:
  TokenDecodingScope();
  ~TokenDecodingScope();
  TokenDecodingScope(const TokenDecodingScope&) = delete;
  TokenDecodingScope& operator=(const TokenDecodingScope&) = delete;
  static bool active();  // on this thread

 private:
  int previousThreads_;
  bool outer_;
};

// Runs `mine` here and `other` on the helper thread (when a scope is active and there are two
// cores; otherwise one after the other here), returning when both are done.
void runPair(const std::function<void()>& mine, std::function<void()> other);

// Whether BLAS' sgemv was found (the BLAS LibTorch loaded); the two calls below need it.
bool blasAvailable();

// Calls BLAS sgemv (column-major, Fortran conventions).
void blasSgemv(char trans, int m, int n, float alpha, const float* a, int lda, const float* x, float beta, float* y);

// y = W x + b (float32, W row-major [n, k], contiguous; b may be null), split across two
// threads when a TokenDecodingScope is active and the machine has two cores or more.
// Returns false (y untouched) when BLAS' sgemv cannot be found; the caller computes it.
bool splitGemv(const float* w, const float* x, const float* b, float* y, int64_t n, int64_t k);

}  // namespace vlm::runtime
