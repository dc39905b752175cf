#pragma once
// Colormaps, heatmap overlays, video frames and PNG export: the Qt-free, LibTorch-free
// rendering layer that the GUI, the CLI and the report exporters share.
//
// Colormaps (256 entries each, as matplotlib 3.x samples them):
//   - Viridis, Inferno: matplotlib's listed colormaps (the 256 float triples of
//     matplotlib/_cm_listed.py). The tables are taken from OpenCV 4.6's COLORMAP_VIRIDIS /
//     COLORMAP_INFERNO, which carry the same 256 floats rounded to bytes (checked: viridis
//     0, 0.25, 0.5, 0.75, 1 = #440154 #3b528b #21918c #5ec962 #fde725, as matplotlib.colors.to_hex
//     gives them).
//   - Jet: matplotlib's "jet" (LinearSegmentedColormap of _cm.py `_jet_data`), sampled at
//     i / 255 for i = 0..255 and rounded to bytes: jet(0) = (0,0,128), jet(0.5) = (125,255,122),
//     jet(1) = (128,0,0). This is NOT OpenCV's COLORMAP_JET (other breakpoints).
//   - Gray: round(255 v) (no table).
// A value v picks entry min(255, floor(v * 256)) (matplotlib's Colormap.__call__ on floats);
// v is clamped to [0, 1] first and NaN counts as 0.

#include <array>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "io/image.h"

namespace vlm::render {

enum class Colormap { Viridis, Inferno, Jet, Gray };

// "viridis", "inferno", "jet", "gray".
const char* toString(Colormap colormap) noexcept;

// "viridis", "inferno", "jet", "gray" or "grey" (exact, lower case); nullopt otherwise.
std::optional<Colormap> parseColormap(std::string_view name);

// The RGB colour of value v (see the top of this file).
std::array<uint8_t, 3> colormapColor(Colormap colormap, float v);

struct OverlayOptions {
  Colormap colormap = Colormap::Jet;
  float alpha = 0.5f;         // weight of the heatmap colour: 0 = the image, 1 = the heatmap
  bool contour = false;       // draw the boundary of {map >= contourLevel} in white
  float contourLevel = 0.5f;
};

// A width x height picture of `map` (row-major, width * height values, normally in [0, 1]).
// Throws vlm::Error InvalidArgument for a null map or a size < 1.
io::ImageU8 heatmapImage(const float* map, int width, int height, Colormap colormap);

// `image` blended with the coloured map. The map (row-major, mapWidth * mapHeight values in
// [0, 1]) is resized bilinearly (cv::resize INTER_LINEAR, float) to the image size when its
// size differs; then per pixel and channel out = round((1 - alpha) * image + alpha * colour).
// With options.contour, the pixels of {map >= contourLevel} (on the resized map) that have a
// 4-neighbour inside the image outside that set are drawn white (a 1 px boundary on the
// inner side; the image border itself is not a boundary).
// Throws vlm::Error InvalidArgument for an empty image (or one whose rgb size is not
// width * height * 3), a null or empty map, alpha outside [0, 1] or NaN.
io::ImageU8 overlayHeatmap(const io::ImageU8& image, const float* map, int mapWidth, int mapHeight,
                           const OverlayOptions& options);

// One video / report frame: the panels side by side (each resized to the first panel's
// height, keeping its aspect ratio; INTER_AREA when shrinking, INTER_LINEAR when enlarging),
// above a dark bar with two lines of text (the title in white, the subtitle in light gray;
// cv::putText FONT_HERSHEY_SIMPLEX, ASCII only: each non-ASCII UTF-8 character and each
// control byte becomes '?'; a line too long for the frame is cut and ends with "...").
// The width and height are rounded UP to even numbers (padding in the bar colour) so that
// H.264 / yuv420p can encode the frame. Throws vlm::Error InvalidArgument when there are no
// panels or a panel is empty.
io::ImageU8 composeFrame(const std::vector<io::ImageU8>& panels, const std::string& title,
                         const std::string& subtitle);

// The colour of composeFrame's text bar and padding.
inline constexpr std::array<uint8_t, 3> kFrameBarColor = {24, 24, 24};

// The PNG file bytes of `image` (throws InvalidArgument for an empty or malformed image).
std::string encodePng(const io::ImageU8& image);

// Writes `image` as an 8-bit RGB PNG, atomically (io::writeFileAtomic). Throws vlm::Error
// InvalidArgument for an empty image, Io naming the file when the folder does not exist or
// cannot be written.
void writePng(const std::filesystem::path& path, const io::ImageU8& image);

// ASCII for cv::putText (Hershey fonts have no other glyphs): each non-ASCII UTF-8 character
// (lead byte plus its continuation bytes) and each control byte becomes one '?'.
std::string asciiOnly(const std::string& s);

}  // namespace vlm::render
