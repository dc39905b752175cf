#pragma once
// Small pieces every benchmark uses (core-internal).

#include <algorithm>
#include <chrono>
#include <vector>

namespace vlm::bench {

using Clock = std::chrono::steady_clock;

inline double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

inline double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n == 0 ? 0 : (n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]));
}

// FLOPs (multiply-adds x2) of one pre-LN ViT/transformer encoder pass over `tokens` tokens of
// width c with MLP width i: qkv + scores + context + output projection + MLP, per layer.
inline double encoderFlop(double tokens, double c, double i, double layers) {
  const double perLayer = 2 * tokens * c * 3 * c + 2 * 2 * tokens * tokens * c + 2 * tokens * c * c + 2 * 2 * tokens * c * i;
  return layers * perLayer;
}

}  // namespace vlm::bench
