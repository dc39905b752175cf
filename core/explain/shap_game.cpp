#include "explain/shap_game.h"

#include <ATen/ATen.h>
#include <torch/autograd.h>

#include <opencv2/imgproc.hpp>
#include <opencv2/photo.hpp>

#include <chrono>
#include <cmath>
#include <map>

#include "common/error.h"

namespace vlm::explain {

namespace {

cv::Mat wrap(const io::ImageU8& image) {
  return cv::Mat(image.height, image.width, CV_8UC3, const_cast<uint8_t*>(image.rgb.data()));
}

io::ImageU8 filled(int side, std::array<uint8_t, 3> colour) {
  io::ImageU8 out;
  out.width = out.height = side;
  out.rgb.resize(size_t(side) * side * 3);
  for (size_t i = 0; i < out.rgb.size(); i += 3) std::copy(colour.begin(), colour.end(), out.rgb.begin() + long(i));
  return out;
}

}  // namespace

InputPixels inputPixelsOf(const io::ImageU8& image, const vision::ImageProcessorConfig& processor, int side) {
  const vision::Preprocessed p = vision::preprocess(image, processor);
  if (p.width != side || p.height != side)
    throw Error(ErrorCode::InvalidArgument, "the image processor made a " + std::to_string(p.width) + "x" + std::to_string(p.height) +
                                                " input, but the vision model takes " + std::to_string(side) + "x" + std::to_string(side));
  InputPixels in;
  in.image.width = in.image.height = side;
  in.image.rgb.assign(size_t(side) * side * 3, 0);
  for (int y = 0; y < side; ++y)
    for (int x = 0; x < side; ++x) {
      const int sy = y + p.cropTop, sx = x + p.cropLeft;
      if (sy >= 0 && sx >= 0 && sy < p.resized.height && sx < p.resized.width) std::copy_n(p.resized.pixel(sx, sy), 3, in.image.pixel(x, y));
    }
  in.table = vision::valueTable(processor);
  return in;
}

ImageGame::ImageGame(const Target& target, const FeatureSet& features, InputPixels input, MaskerKind masker,
                     const MaskerOptions& options, std::array<uint8_t, 3> fill, ValueTransform transform)
    : target_(target), features_(features), input_(std::move(input)), masker_(masker), options_(options), transform_(transform) {
  const int s = input_.image.width;
  if (input_.image.height != s || features_.side != s || target_.pixels().size(-1) != s)
    throw Error(ErrorCode::InvalidArgument, "Shapley game: the features, the input image and the model input differ in size");
  if (features_.count() < 1) throw Error(ErrorCode::InvalidArgument, "Shapley game: no features to explain");
  outputs_ = int(target_.outputLabels().size());
  numPatches_ = features_.patchSize > 0 ? (s / features_.patchSize) * (s / features_.patchSize) : 1;
  switch (masker_) {
    case MaskerKind::Constant: replacement_ = filled(s, options_.color.value_or(fill)); break;
    case MaskerKind::Blur: {
      const double sigma = options_.blurSigma > 0 ? options_.blurSigma : s / 20.0;
      replacement_ = filled(s, {0, 0, 0});
      cv::Mat dst = wrap(replacement_);
      cv::GaussianBlur(wrap(input_.image), dst, cv::Size(0, 0), sigma, sigma, cv::BORDER_REFLECT_101);
      break;
    }
    case MaskerKind::Telea:
    case MaskerKind::NavierStokes:
      if (!(options_.inpaintRadius > 0)) throw Error(ErrorCode::InvalidArgument, "masking: the inpainting radius must be positive");
      break;
    case MaskerKind::PatchRemoval:
      if (!features_.patchAligned())
        throw Error(ErrorCode::InvalidArgument, "patch removal needs features made of whole patches (grid cells on patch borders, dff, a partition); "
                                                "these " + features_.kind + " features cut through patches: use a pixel masker");
      break;
  }
}

io::ImageU8 ImageGame::maskedInput(const Coalition& coalition) const {
  const std::vector<uint8_t> hidden = hiddenPixels(features_, coalition);
  io::ImageU8 out = input_.image;
  if (masker_ == MaskerKind::PatchRemoval) {
    for (size_t i = 0; i < hidden.size(); ++i)
      if (hidden[i])
        for (int c = 0; c < 3; ++c) out.rgb[3 * i + c] = uint8_t(out.rgb[3 * i + c] / 4);
    return out;
  }
  if (masker_ == MaskerKind::Telea || masker_ == MaskerKind::NavierStokes) {
    const cv::Mat mask(out.height, out.width, CV_8UC1, const_cast<uint8_t*>(hidden.data()));
    if (cv::countNonZero(mask) == 0) return out;
    cv::Mat result;
    cv::inpaint(wrap(input_.image), mask, result, options_.inpaintRadius, masker_ == MaskerKind::Telea ? cv::INPAINT_TELEA : cv::INPAINT_NS);
    std::copy(result.data, result.data + out.rgb.size(), out.rgb.begin());
    return out;
  }
  for (size_t i = 0; i < hidden.size(); ++i)
    if (hidden[i]) std::copy_n(replacement_.rgb.begin() + long(3 * i), 3, out.rgb.begin() + long(3 * i));
  return out;
}

// [B, 3, S, S] pixel values of the masked inputs, through the processor's byte -> value table.
at::Tensor ImageGame::maskedPixels(const std::vector<Coalition>& batch) const {
  const int s = input_.image.width;
  const size_t plane = size_t(s) * s;
  at::Tensor out = at::empty({int64_t(batch.size()), 3, s, s}, at::kFloat);
  float* dst = out.data_ptr<float>();
  for (size_t b = 0; b < batch.size(); ++b) {
    const io::ImageU8 img = maskedInput(batch[b]);
    float* base = dst + b * 3 * plane;
    for (size_t i = 0; i < plane; ++i)
      for (int c = 0; c < 3; ++c) base[c * plane + i] = input_.table[size_t(c)][img.rgb[3 * i + size_t(c)]];
  }
  return out.to(target_.pixels().device(), target_.pixels().scalar_type());
}

std::vector<double> ImageGame::evaluatePatchRemoval(const std::vector<Coalition>& batch) {
  // Rows with the same number of visible patches share one forward pass ([B, K] keep lists).
  std::map<size_t, std::vector<size_t>> bySize;
  std::vector<std::vector<int>> keep(batch.size());
  for (size_t b = 0; b < batch.size(); ++b) {
    keep[b] = visiblePatches(features_, batch[b]);
    keptPatches_ += double(keep[b].size());
    ++keptRows_;
    bySize[keep[b].size()].push_back(b);
  }
  std::vector<double> values(batch.size() * size_t(outputs_));
  for (const auto& [count, rows] : bySize) {
    at::Tensor k = at::empty({int64_t(rows.size()), int64_t(count) + 1}, at::kLong);
    int64_t* p = k.data_ptr<int64_t>();
    for (size_t r = 0; r < rows.size(); ++r) {
      p[r * (count + 1)] = 0;  // CLS
      for (size_t j = 0; j < count; ++j) p[r * (count + 1) + 1 + j] = 1 + keep[rows[r]][j];
    }
    const at::Tensor pixels = target_.pixels().expand({int64_t(rows.size()), -1, -1, -1});
    const at::Tensor y = target_.forward(pixels, nullptr, k.to(pixels.device())).to(at::kCPU, at::kDouble).contiguous();
    ++forwardCalls_;
    for (size_t r = 0; r < rows.size(); ++r)
      std::copy_n(y.data_ptr<double>() + r * size_t(outputs_), outputs_, values.begin() + long(rows[r] * size_t(outputs_)));
  }
  return values;
}

std::vector<double> ImageGame::evaluate(const std::vector<Coalition>& batch, const JobContext& job) {
  job.throwIfCancelled();
  at::NoGradGuard noGrad;
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<double> values;
  if (masker_ == MaskerKind::PatchRemoval) {
    values = evaluatePatchRemoval(batch);
  } else {
    const at::Tensor y = target_.forward(maskedPixels(batch), nullptr).to(at::kCPU, at::kDouble).contiguous();
    ++forwardCalls_;
    values.assign(y.data_ptr<double>(), y.data_ptr<double>() + y.numel());
  }
  if (transform_ == ValueTransform::LogOdds)
    for (double& v : values) v = v - std::log(-std::expm1(std::min(v, -1e-12)));
  forwardSeconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return values;
}

}  // namespace vlm::explain
