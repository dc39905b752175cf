#pragma once
// Charts drawn with OpenCV into RGB images: a Shapley bar chart and an interaction network.

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "io/image.h"

namespace vlm::render {

// Colours (R, G, B) shared by both charts: bars / nodes / edges by sign, on white. A value
// of exactly 0 is drawn in kChartZeroColor.
inline constexpr std::array<uint8_t, 3> kChartPositiveColor = {220, 50, 47};
inline constexpr std::array<uint8_t, 3> kChartNegativeColor = {38, 139, 210};
inline constexpr std::array<uint8_t, 3> kChartZeroColor = {150, 150, 150};
inline constexpr std::array<uint8_t, 3> kChartBackground = {255, 255, 255};

struct BarChartOptions {
  std::string title;
  int width = 900;   // >= 400
  int maxBars = 30;  // >= 1: the largest |value|s; the rest summed into one "others" bar
};
// Horizontal bars sorted by |value| (descending, ties by index; positive red, negative blue)
// from a vertical zero line, with error bars (+- stderr; empty = none), the value printed at
// the bar end, the label at the left, an axis with ticks below and the title at the top.
// With more than maxBars values, the first maxBars - 1 are drawn and the rest become one
// "others (N)" bar: their sum, with stderr sqrt(sum of stderr^2) (independent estimates).
// One scale for all bars, from the largest extent of value +- stderr on either side of 0.
// The image is options.width wide; its height grows by one row per bar. Labels are drawn
// in ASCII (other characters become '?') and cut with "..." when too long.
// Throws InvalidArgument for no values, labels / stderrs (when given) of another size than
// values, a non-finite value, a negative or non-finite stderr, or options out of range.
io::ImageU8 barChart(const std::vector<std::string>& labels, const std::vector<double>& values,
                     const std::vector<double>& stderrs, const BarChartOptions& options);

struct NetworkOptions {
  std::string title;
  int size = 800;     // the image is size x size, size >= 400
  int maxEdges = 40;  // >= 0: the strongest |interaction|s
};
// shapiq-style network plot: players on a circle (networkLayout), node radius ~
// sqrt(|phi_i| / max |phi|) between a minimum and a maximum (so area ~ |phi|), coloured by
// sign; an edge for each of the maxEdges largest nonzero |I_ij| (i < j, I_ij taken as the
// mean of interactions[i][j] and [j][i]), width 1..12 px ~ |I_ij| / max |I|, coloured by
// sign, the strongest drawn last and all under the nodes; labels outside the circle next to
// their node; the title at the top and a two-line legend at the bottom (the sign colours;
// what the sizes mean and how many of the nonzero pairs are drawn).
// interactions: n x n row-major, symmetric. Throws InvalidArgument for no players, sizes
// that do not match, a non-finite value or options out of range.
io::ImageU8 networkPlot(const std::vector<std::string>& labels, const std::vector<double>& values,
                        const std::vector<double>& interactions, const NetworkOptions& options);

// The node centres (x, y) networkPlot uses for n players in a size x size image: a circle,
// player 0 at the top, then clockwise, evenly spaced.
std::vector<std::array<double, 2>> networkLayout(int n, int size);

}  // namespace vlm::render
