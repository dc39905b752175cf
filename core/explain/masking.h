#pragma once
// Hiding regions of an image (no LibTorch, no Qt): rectangles in original-image pixels, and
// the maskers that hide them. Pixel maskers change the image before the processor sees it;
// patch removal (vision/geometry.h patchesInfluencedBy + models' keepTokens) changes nothing in
// the pixels and drops the patches from the ViT sequence instead.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "io/image.h"
#include "vision/geometry.h"

namespace vlm::explain {

enum class MaskerKind { Constant, Blur, Telea, NavierStokes, PatchRemoval };
const char* toString(MaskerKind m);
// "constant", "blur", "telea", "ns", "patch"
std::optional<MaskerKind> parseMasker(std::string_view name);

struct MaskerOptions {
  std::optional<std::array<uint8_t, 3>> color;  // Constant; default: the normalisation mean (its pixels become 0)
  double blurSigma = 0;                         // Blur; 0 = max(width, height) / 20
  double inpaintRadius = 5;                     // Telea / NavierStokes (cv::inpaint radius)
};

// Checks user rectangles against a width x height image: InvalidArgument for an empty one
// ("rectangle 2 (10,10,0,5) is empty") or one with no pixel inside the image ("... is outside the
// 640 x 480 image"); the others are clipped to the image. At least one rectangle is required.
std::vector<vision::PixelRect> validateRects(const std::vector<vision::PixelRect>& rects, int width, int height);
// "x,y,w,h" -> PixelRect; InvalidArgument naming the text otherwise.
vision::PixelRect parseRect(std::string_view text);

// The colour a constant masker uses by default: round(255 * mean) per channel.
std::array<uint8_t, 3> meanColor(const std::array<float, 3>& mean);

// A pixel masker applied to the (validated) rectangles. Constant fills them; Blur replaces them
// by a Gaussian blur of the whole image; Telea / NavierStokes inpaint them (cv::inpaint).
// PatchRemoval is not a pixel masker: InvalidArgument.
io::ImageU8 applyPixelMasker(const io::ImageU8& image, const std::vector<vision::PixelRect>& rects, MaskerKind kind,
                             const MaskerOptions& options, const std::array<float, 3>& normalisationMean);

// The `percent` % of patches (at least one) with the highest values of a g x g map (row-major),
// ties broken by the lower index; sorted. InvalidArgument for percent outside (0, 100].
std::vector<int> topPercentPatches(const std::vector<float>& gridMap, double percent);
// The original-image rectangles of patches (rounded outward, clipped to the image).
std::vector<vision::PixelRect> patchRects(const vision::InputGeometry& geometry, const std::vector<int>& patches);

// For display: the image with the removed patches' areas darkened (what patch removal hides).
io::ImageU8 shadePatches(const io::ImageU8& image, const vision::InputGeometry& geometry, const std::vector<int>& patches);

}  // namespace vlm::explain
