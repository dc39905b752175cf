#pragma once
// A Shapley game made from a model: the players are features of the model input (features.h),
// a coalition's value is the target's outputs (target.h: caption token log-probabilities, the
// whole caption, a VQA answer, a CLIP cosine) on the input with the absent features hidden.
//
// Hiding happens where the processor's own pixels are: on the S x S 8-bit image that the
// resize (and CLIP's crop) produced, before rescale and normalisation, so a hidden pixel gets
// exactly the value the processor would give the masker's colour. Patch removal hides nothing
// in the pixels and drops the absent features' patches from the ViT sequence instead, so a
// coalition of k visible patches costs about k/N of a forward pass.
//
// Core-only header (LibTorch): the app and the UI do not include it.

#include <ATen/core/Tensor.h>

#include <array>
#include <vector>

#include "explain/features.h"
#include "explain/masking.h"
#include "explain/shapley.h"
#include "explain/target.h"
#include "io/image.h"
#include "vision/preprocess.h"

namespace vlm::explain {

enum class ValueTransform { Identity, LogOdds };  // LogOdds: y -> y - log(1 - e^y) for a log-probability y

// The model input as 8-bit pixels and the table that turns them into pixel values.
struct InputPixels {
  io::ImageU8 image;                             // S x S, what the vision tower sees
  std::array<std::array<float, 256>, 3> table;   // vision::valueTable(processor)
};

// The S x S 8-bit image the processor normalises (after the resize and CLIP's crop, the crop's
// zero padding included) and its table. InvalidArgument when the processor does not make an
// S x S input from this image.
InputPixels inputPixelsOf(const io::ImageU8& image, const vision::ImageProcessorConfig& processor, int side);

class ImageGame : public Game {
 public:
  // target.pixels() must be the table applied to input.image. masker: Constant (options.color
  // or `fill`), Blur (Gaussian of the input, sigma options.blurSigma or S / 20), Telea /
  // NavierStokes (cv::inpaint of each coalition's hidden pixels), PatchRemoval (needs
  // patch-aligned features).
  ImageGame(const Target& target, const FeatureSet& features, InputPixels input, MaskerKind masker,
            const MaskerOptions& options, std::array<uint8_t, 3> fill, ValueTransform transform);
  int players() const override { return features_.count(); }
  int outputs() const override { return outputs_; }
  std::vector<double> evaluate(const std::vector<Coalition>& batch, const JobContext& job) override;

  // What the model sees for a coalition (patch removal: the removed patches darkened).
  io::ImageU8 maskedInput(const Coalition& coalition) const;
  // [B, 3, S, S] pixel values of the coalitions' masked inputs (pixel maskers; for patch
  // removal the darkened view of maskedInput()).
  at::Tensor maskedPixels(const std::vector<Coalition>& batch) const;
  double forwardSeconds() const { return forwardSeconds_; }
  int64_t forwardCalls() const { return forwardCalls_; }
  // Patch removal: the mean share of the patch grid the evaluated coalitions kept (0 otherwise).
  double visiblePatchShare() const { return keptRows_ > 0 ? keptPatches_ / (double(keptRows_) * numPatches_) : 0.0; }

 private:
  std::vector<double> evaluatePatchRemoval(const std::vector<Coalition>& batch);

  const Target& target_;
  const FeatureSet& features_;
  InputPixels input_;
  MaskerKind masker_;
  MaskerOptions options_;
  io::ImageU8 replacement_;  // Constant / Blur: the fully hidden input
  ValueTransform transform_;
  int outputs_ = 0;
  double forwardSeconds_ = 0;
  int64_t forwardCalls_ = 0;
  double keptPatches_ = 0;
  int64_t keptRows_ = 0;
  int numPatches_ = 1;
};

}  // namespace vlm::explain
