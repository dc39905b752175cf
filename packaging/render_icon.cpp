// Build-time helper: renders packaging/icons/vlmscope.svg to the PNG sizes of the hicolor theme.
//   vlm_render_icon SVG OUT_DIR SIZE...   writes OUT_DIR/SIZExSIZE/apps/vlmscope.png (the hicolor layout) for every SIZE
#include <QDir>
#include <QGuiApplication>
#include <QImage>
#include <QPainter>
#include <QSvgRenderer>

#include <cstdio>

int main(int argc, char** argv) {
  qputenv("QT_QPA_PLATFORM", "offscreen");
  QGuiApplication app(argc, argv);
  if (argc < 4) {
    std::fprintf(stderr, "usage: vlm_render_icon SVG OUT_DIR SIZE...\n");
    return 2;
  }
  QSvgRenderer svg(QString::fromLocal8Bit(argv[1]));
  if (!svg.isValid()) {
    std::fprintf(stderr, "vlm_render_icon: %s is not a valid SVG file\n", argv[1]);
    return 1;
  }
  const QDir out(QString::fromLocal8Bit(argv[2]));
  for (int i = 3; i < argc; ++i) {
    bool ok = false;
    const int size = QString::fromLocal8Bit(argv[i]).toInt(&ok);
    if (!ok || size < 8 || size > 1024) {
      std::fprintf(stderr, "vlm_render_icon: bad size '%s' (8 to 1024)\n", argv[i]);
      return 2;
    }
    QImage image(size, size, QImage::Format_ARGB32_Premultiplied);
    image.fill(Qt::transparent);
    QPainter painter(&image);
    painter.setRenderHint(QPainter::Antialiasing);
    svg.render(&painter);
    painter.end();
    const QString dir = QStringLiteral("%1x%1/apps").arg(size);
    const QString file = out.filePath(dir + QStringLiteral("/vlmscope.png"));
    if (!out.mkpath(dir) || !image.save(file, "PNG")) {
      std::fprintf(stderr, "vlm_render_icon: cannot write %s\n", qPrintable(file));
      return 1;
    }
  }
  return 0;
}
