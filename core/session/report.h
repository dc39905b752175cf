#pragma once
// The report of a session as one self-contained HTML file: every picture is embedded as a data:
// URI and a Content-Security-Policy forbids any other source, so opening it makes no request.
// It holds the original image, the models (with checksums) and decoding settings, the masks
// drawn, and for every run: its method and parameters, the caption / answer with the
// explained token highlighted, the map over the image with its colour bar, Shapley values (a
// bar chart and a table), CLIP similarities, the regenerated caption with the word diff,
// faithfulness metrics and the time it took; and the VLMScope version that wrote it.
// Every text that comes from a model, a user or a file name is HTML-escaped.

#include <string>
#include <string_view>

#include "session/session.h"

namespace vlm::session {

struct ReportOptions {
  std::string colormap = "viridis";
  double opacity = 0.5;  // of the map over the image
  std::string title;     // empty: "VLMScope report - IMAGE"
};

std::string reportHtml(const Session& s, const ReportOptions& options = {});

// & < > " ' as entities; invalid UTF-8 bytes as U+FFFD (so the page stays well-formed).
std::string htmlEscape(std::string_view text);

std::string base64(std::string_view bytes);

}  // namespace vlm::session
