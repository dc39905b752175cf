#pragma once
// Portable randomness on top of std::mt19937_64 (whose output sequence the standard fixes):
// the same seed gives the same numbers with every standard library, unlike std::*_distribution.

#include <cstdint>
#include <random>
#include <utility>
#include <vector>

namespace vlm {

class Rng {
 public:
  explicit Rng(uint64_t seed) : engine_(seed) {}
  // Uniform in [0, n), n >= 1: rejection of the lowest 2^64 mod n raw values leaves a range
  // whose size is a multiple of n.
  uint64_t below(uint64_t n) {
    const uint64_t threshold = (0 - n) % n;
    for (;;) {
      const uint64_t x = engine_();
      if (x >= threshold) return x % n;
    }
  }
  double uniform() { return double(engine_() >> 11) * 0x1.0p-53; }  // [0, 1), 53 bits
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  // Fisher-Yates: a uniform permutation whatever order `a` is in.
  template <class T>
  void shuffle(std::vector<T>& a) {
    for (size_t i = a.size(); i > 1; --i) std::swap(a[i - 1], a[below(i)]);
  }
  // Partial Fisher-Yates: a[0..s) becomes a uniform s-subset of a's elements.
  void choose(std::vector<int>& a, int s) {
    for (int i = 0; i < s; ++i) std::swap(a[size_t(i)], a[size_t(i) + below(a.size() - size_t(i))]);
  }

 private:
  std::mt19937_64 engine_;
};

}  // namespace vlm
