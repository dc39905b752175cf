// vlmscope report --session FILE --out report.html|report.pdf: a saved session's report, as a
// self-contained HTML file or a PDF (the same HTML laid out by Qt's QTextDocument).
#include <QGuiApplication>
#include <QImage>
#include <QPageLayout>
#include <QPageSize>
#include <QPdfWriter>
#include <QTextDocument>
#include <QUrl>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "args.h"
#include "commands.h"
#include "common/error.h"
#include "io/files.h"
#include "render/colormap.h"
#include "session/report.h"
#include "session/session.h"

namespace vlm::cli {

namespace {

// QTextDocument does not read data: URIs by itself.
class ReportDocument : public QTextDocument {
 protected:
  QVariant loadResource(int type, const QUrl& url) override {
    if (type == QTextDocument::ImageResource && url.scheme() == QStringLiteral("data")) {
      const QString s = url.toString();
      const int comma = s.indexOf(',');
      if (comma > 0) return QImage::fromData(QByteArray::fromBase64(s.mid(comma + 1).toLatin1()));
    }
    return QTextDocument::loadResource(type, url);
  }
};

void writePdf(const std::string& html, const std::filesystem::path& out, int argc, char** argv) {
  if (!std::getenv("QT_QPA_PLATFORM") && !std::getenv("DISPLAY") && !std::getenv("WAYLAND_DISPLAY")) qputenv("QT_QPA_PLATFORM", "offscreen");
  int appArgc = 1;
  QGuiApplication app(appArgc, argv);
  (void)argc;
  // Written beside the target, then renamed over it: a failure leaves no half PDF behind.
  const std::filesystem::path tmp = out.parent_path() / ("." + out.filename().string() + ".part");
  {
    QPdfWriter pdf(QString::fromStdString(tmp.string()));
    pdf.setPageSize(QPageSize(QPageSize::A4));
    pdf.setPageMargins(QMarginsF(15, 15, 15, 15), QPageLayout::Millimeter);
    pdf.setResolution(150);
    pdf.setTitle(QStringLiteral("VLMScope report"));
    pdf.setCreator(QStringLiteral("VLMScope " VLM_VERSION));
    ReportDocument doc;
    doc.setHtml(QString::fromStdString(html));
    doc.setPageSize(pdf.pageLayout().paintRectPixels(pdf.resolution()).size());
    doc.print(&pdf);
  }
  std::error_code ec;
  if (!std::filesystem::exists(tmp, ec) || std::filesystem::file_size(tmp, ec) == 0) {
    std::filesystem::remove(tmp, ec);
    throw Error(ErrorCode::Io, "cannot write " + out.string() + " (is the folder writable?)");
  }
  std::filesystem::rename(tmp, out, ec);
  if (ec) {
    std::filesystem::remove(tmp, ec);
    throw Error(ErrorCode::Io, "cannot write " + out.string() + ": " + ec.message());
  }
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
  if (ext == ".pdf") writePdf(html, out, argc, argv);
  else io::writeFileAtomic(out, html);
  std::printf("%s\n", out.string().c_str());
  return 0;
}

}  // namespace vlm::cli
