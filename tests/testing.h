#pragma once
// Shared test helpers: where the copied fixtures live, and tensor comparison that reports
// the largest difference (so a failing parity test says by how much).

#include <ATen/ATen.h>
#include <QtTest/QtTest>

#include <filesystem>
#include <sstream>
#include <string>

#include "io/image.h"

namespace vlm::test {

inline std::filesystem::path dataPath(const std::string& relative = {}) {
  return std::filesystem::path(VLM_TEST_DATA) / relative;
}

// A test image as stored (no EXIF rotation: the fixtures were made from the stored pixels).
inline io::ImageU8 loadFixtureImage(const std::string& name) {
  io::ImageLoadOptions o;
  o.applyExifOrientation = false;
  return io::loadImage(dataPath("images/" + name), o);
}

inline std::filesystem::path vlmscopeBinary() {
  return std::filesystem::path(VLM_BINARY_DIR) / "app" / "vlmscope";
}

struct TensorDiff {
  bool ok = true;
  double maxAbs = 0;
  std::string message;
};

// Element-wise: |a - e| <= atol  OR  |a - e| <= rtol * |e|. Shapes must be equal.
inline TensorDiff compareTensors(const at::Tensor& actual, const at::Tensor& expected, double atol,
                                 double rtol, const std::string& what) {
  TensorDiff d;
  std::ostringstream msg;
  if (actual.sizes() != expected.sizes()) {
    msg << what << ": shape " << actual.sizes() << " != expected " << expected.sizes();
    d.ok = false;
    d.message = msg.str();
    return d;
  }
  if (actual.numel() == 0) return d;
  const at::Tensor a = actual.detach().to(at::kCPU, at::kDouble);
  const at::Tensor e = expected.detach().to(at::kCPU, at::kDouble);
  const at::Tensor diff = (a - e).abs();
  const at::Tensor allowed = at::maximum(at::full_like(e, atol), e.abs() * rtol);
  const at::Tensor bad = diff.gt(allowed).logical_or(diff.isnan());
  d.maxAbs = diff.max().item<double>();
  d.ok = !bad.any().item<bool>();
  msg << what << ": max |diff| = " << d.maxAbs << " (atol " << atol << ", rtol " << rtol << ")";
  if (!d.ok) {
    const int64_t n = bad.sum().item<int64_t>();
    const int64_t at = bad.flatten().nonzero()[0].item<int64_t>();
    msg << ", " << n << " of " << a.numel() << " elements out of tolerance; first at flat index "
        << at << ": " << a.flatten()[at].item<double>() << " vs " << e.flatten()[at].item<double>();
  }
  d.message = msg.str();
  return d;
}

}  // namespace vlm::test

// Fails the current test when the tensors differ beyond the tolerance; logs the max difference.
#define VLM_COMPARE_TENSORS(actual, expected, atol, rtol, what)                                   \
  do {                                                                                            \
    const auto vlm_diff_ = ::vlm::test::compareTensors((actual), (expected), (atol), (rtol), (what)); \
    if (!vlm_diff_.ok) QFAIL(vlm_diff_.message.c_str());                                          \
  } while (0)
