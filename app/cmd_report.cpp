// vlmscope report --session FILE --out report.html|report.pdf: a saved session's report, as a
// self-contained HTML file or a PDF (the same HTML laid out by Qt, ui/report_pdf.h).
#include <QGuiApplication>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "args.h"
#include "commands.h"
#include "common/error.h"
#include "io/files.h"
#include "render/colormap.h"
#include "report_pdf.h"
#include "session/report.h"
#include "session/session.h"

namespace vlm::cli {

namespace {

void writePdf(const std::string& html, const std::filesystem::path& out, char** argv) {
  if (!std::getenv("QT_QPA_PLATFORM") && !std::getenv("DISPLAY") && !std::getenv("WAYLAND_DISPLAY")) qputenv("QT_QPA_PLATFORM", "offscreen");
  int appArgc = 1;
  QGuiApplication app(appArgc, argv);
  ui::writeReportPdf(html, out);
}

}  // namespace

int cmdReport(int argc, char** argv) {
  Args args(argc, argv, 2, {"session", "out", "colormap", "opacity", "title"}, {});
  if (!args.positional().empty()) throw UsageError("unexpected argument '" + args.positional()[0] + "'");
  const std::filesystem::path out = args.required("out");
  std::string ext = out.extension().string();
  for (char& c : ext) c = char(std::tolower(static_cast<unsigned char>(c)));
  if (ext != ".html" && ext != ".htm" && ext != ".pdf") throw UsageError("--out must end in .html or .pdf, got '" + out.string() + "'");
  session::ReportOptions o;
  o.colormap = args.value("colormap").value_or("viridis");
  if (!render::parseColormap(o.colormap)) throw UsageError("unknown --colormap '" + o.colormap + "' (viridis, inferno, jet, gray)");
  o.opacity = args.doubleValue("opacity", 0.5, 0.0, 1.0);
  o.title = args.value("title").value_or("");
  const session::Session s = session::load(args.required("session"));
  const std::string html = session::reportHtml(s, o);
  if (ext == ".pdf") writePdf(html, out, argv);
  else io::writeFileAtomic(out, html);
  std::printf("%s\n", out.string().c_str());
  return 0;
}

}  // namespace vlm::cli
