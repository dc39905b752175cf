#include "report_pdf.h"

#include <QImage>
#include <QPageLayout>
#include <QPageSize>
#include <QPdfWriter>
#include <QTextDocument>
#include <QUrl>

#include "common/error.h"

namespace vlm::ui {

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

}  // namespace

void writeReportPdf(const std::string& html, const std::filesystem::path& out) {
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
    throw Error(ErrorCode::Io, "cannot write " + out.string() + " (is the folder writable?)", out.string());
  }
  std::filesystem::rename(tmp, out, ec);
  if (ec) {
    std::filesystem::remove(tmp, ec);
    throw Error(ErrorCode::Io, "cannot write " + out.string() + ": " + ec.message(), out.string());
  }
}

}  // namespace vlm::ui
