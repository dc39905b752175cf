#pragma once
// A report's HTML (session/report.h) laid out by Qt's QTextDocument and printed to a PDF file,
// written beside the target and renamed over it (a failure leaves no half-written PDF). Needs a
// QGuiApplication. Throws vlm::Error Io when the file cannot be written.

#include <filesystem>
#include <string>

namespace vlm::ui {

void writeReportPdf(const std::string& html, const std::filesystem::path& out);

}  // namespace vlm::ui
