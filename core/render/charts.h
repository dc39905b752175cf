#pragma once
// Charts drawn with OpenCV into RGB images: a Shapley bar chart and an interaction network.

#include <string>
#include <vector>

#include "io/image.h"

namespace vlm::render {

struct BarChartOptions {
  std::string title;
  int width = 900;
  int maxBars = 30;  // the largest |value|s; the rest summed into one "others" bar
};
// Horizontal bars sorted by |value| (positive red, negative blue) with error bars
// (+- stderr; empty = none) and the value printed; a zero line.
io::ImageU8 barChart(const std::vector<std::string>& labels, const std::vector<double>& values,
                     const std::vector<double>& stderrs, const BarChartOptions& options);

struct NetworkOptions {
  std::string title;
  int size = 800;
  int maxEdges = 40;  // the strongest |interaction|s
};
// shapiq-style network plot: players on a circle, node area ~ |phi_i| (colour = sign),
// edge width ~ |interaction_ij| (colour = sign), labels next to the nodes.
// interactions: n x n row-major, symmetric.
io::ImageU8 networkPlot(const std::vector<std::string>& labels, const std::vector<double>& values,
                        const std::vector<double>& interactions, const NetworkOptions& options);

}  // namespace vlm::render
