// VLM_TEST_LABELS: model
// The Debian package: built with cpack from this build tree (what `cmake --build build --target
// package` runs), unpacked into a temporary root with `dpkg -x`, and the program run from there.
#include <QCryptographicHash>
#include <QDir>
#include <QDirIterator>
#include <QFile>
#include <QImage>
#include <QProcess>
#include <QRegularExpression>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>
#include <QXmlStreamReader>

#include <nlohmann/json.hpp>

#include "cli_helpers.h"
#include "testing.h"

using namespace vlm::test;

namespace {

struct Run {
  int exitCode = -1;
  QString out, err;
};

Run run(const QString& program, const QStringList& args, int timeoutMs = 300000) {
  QProcess p;
  p.start(program, args);
  Run r;
  if (!p.waitForFinished(timeoutMs)) {
    p.kill();
    p.waitForFinished();
    r.err = program + QStringLiteral(" did not finish");
    return r;
  }
  r.exitCode = p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1;
  r.out = QString::fromUtf8(p.readAllStandardOutput());
  r.err = QString::fromUtf8(p.readAllStandardError());
  return r;
}

QByteArray sha256(const QString& file) {
  QFile f(file);
  if (!f.open(QIODevice::ReadOnly)) return {};
  QCryptographicHash h(QCryptographicHash::Sha256);
  h.addData(&f);
  return h.result().toHex();
}

// The desktop entry's keys ([Desktop Entry] group only).
QMap<QString, QString> desktopEntry(const QString& file) {
  QMap<QString, QString> keys;
  QFile f(file);
  if (!f.open(QIODevice::ReadOnly | QIODevice::Text)) return keys;
  bool inGroup = false;
  for (const QString& line : QString::fromUtf8(f.readAll()).split('\n')) {
    if (line.startsWith('[')) { inGroup = line == QStringLiteral("[Desktop Entry]"); continue; }
    const int eq = line.indexOf('=');
    if (inGroup && eq > 0) keys.insert(line.left(eq).trimmed(), line.mid(eq + 1).trimmed());
  }
  return keys;
}

}  // namespace

class PackageTest : public QObject {
  Q_OBJECT

  QTemporaryDir tmp_;
  QString deb_, root_, version_;

  QString installed(const QString& relative) const { return root_ + QStringLiteral("/usr/") + relative; }

 private Q_SLOTS:
  // Builds the package once for all the checks below and unpacks it.
  void initTestCase() {
    QVERIFY(tmp_.isValid());
    const QString cpack = QStandardPaths::findExecutable(QStringLiteral("cpack"));
    QVERIFY2(!cpack.isEmpty(), "cpack (from the cmake package) is not on PATH");
    const QString config = QString::fromUtf8(VLM_BINARY_DIR) + QStringLiteral("/CPackConfig.cmake");
    QVERIFY2(QFile::exists(config), "no CPackConfig.cmake in the build folder");
    const Run built = run(cpack, {QStringLiteral("-G"), QStringLiteral("DEB"), QStringLiteral("--config"), config,
                                  QStringLiteral("-B"), tmp_.filePath(QStringLiteral("out"))});
    QVERIFY2(built.exitCode == 0, qPrintable(built.out + built.err));
    const QStringList debs = QDir(tmp_.filePath(QStringLiteral("out"))).entryList({QStringLiteral("*.deb")}, QDir::Files);
    QCOMPARE(debs.size(), 1);
    deb_ = tmp_.filePath(QStringLiteral("out/") + debs.front());
    root_ = tmp_.filePath(QStringLiteral("root"));
    const Run unpacked = run(QStringLiteral("dpkg"), {QStringLiteral("-x"), deb_, root_});
    QVERIFY2(unpacked.exitCode == 0, qPrintable(unpacked.err));

    const CliResult v = runCli({QStringLiteral("--version")});
    QCOMPARE(v.exitCode, 0);
    QVERIFY(QString::fromStdString(v.out).startsWith(QStringLiteral("vlmscope ")));
    version_ = QString::fromStdString(v.out).mid(9).trimmed();
    QVERIFY(!version_.isEmpty());
  }

  void controlFields() {
    auto field = [&](const char* name) {
      const Run r = run(QStringLiteral("dpkg-deb"), {QStringLiteral("-f"), deb_, QString::fromLatin1(name)});
      return r.out.trimmed();
    };
    QCOMPARE(field("Package"), QStringLiteral("vlmscope"));
    QCOMPARE(field("Version"), version_);
    QCOMPARE(field("Architecture"), run(QStringLiteral("dpkg"), {QStringLiteral("--print-architecture")}).out.trimmed());
    QVERIFY(!field("Maintainer").isEmpty());
    QVERIFY(!field("Description").isEmpty());
    // Dependencies: the Debian packages of the libraries the binary links, and OpenBLAS.
    const QString depends = field("Depends");
    for (const char* needed : {"libtorch", "libqt6widgets6", "libqt6gui6", "libopencv-core", "libopencv-contrib",
                               "libavcodec", "libavformat", "libswscale", "libopenblas0-openmp"})
      QVERIFY2(depends.contains(QString::fromLatin1(needed)), qPrintable(QStringLiteral("Depends lacks %1: %2").arg(needed, depends)));
    // Each of them is a package installed here (the ones the build used), not a made-up name.
    static const QRegularExpression name(QStringLiteral("^\\s*([a-z0-9][a-z0-9.+-]+)"));
    for (const QString& dep : depends.split(',')) {
      const QString pkg = name.match(dep).captured(1);
      QVERIFY2(!pkg.isEmpty(), qPrintable(dep));
      const Run q = run(QStringLiteral("dpkg-query"), {QStringLiteral("-W"), QStringLiteral("-f=${Status}"), pkg});
      QVERIFY2(q.out.contains(QStringLiteral("install ok installed")), qPrintable(pkg + QStringLiteral(" is not an installed package")));
    }
  }

  // Every file of resources/ (tokenizers, demo image, bundled models) is installed byte for byte.
  void resourcesInstalled() {
    const QString source = QString::fromUtf8(VLM_SOURCE_DIR) + QStringLiteral("/resources");
    const QString target = installed(QStringLiteral("share/vlmscope/resources"));
    int files = 0;
    for (QDirIterator it(source, QDir::Files, QDirIterator::Subdirectories); it.hasNext();) {
      const QString file = it.next();
      const QString relative = QDir(source).relativeFilePath(file);
      QVERIFY2(QFile::exists(target + '/' + relative), qPrintable(relative + QStringLiteral(" is not in the package")));
      QCOMPARE(sha256(target + '/' + relative), sha256(file));
      ++files;
    }
    QVERIFY(files > 20);
    for (const char* model : {"shapes-blip-caption", "shapes-blip-vqa", "shapes-clip"})
      QVERIFY(QFile::exists(target + QStringLiteral("/models/%1/model.safetensors").arg(model)));
  }

  void desktopEntryAndIcons() {
    const QString desktop = installed(QStringLiteral("share/applications/io.github.vlmscope.VLMScope.desktop"));
    QVERIFY(QFile::exists(desktop));
    const auto keys = desktopEntry(desktop);
    QCOMPARE(keys.value(QStringLiteral("Type")), QStringLiteral("Application"));
    QCOMPARE(keys.value(QStringLiteral("Name")), QStringLiteral("VLMScope"));
    // Exec starts the installed binary; Icon names the installed icons.
    const QString exec = keys.value(QStringLiteral("Exec")).section(' ', 0, 0);
    QVERIFY(QFileInfo(installed(QStringLiteral("bin/") + exec)).isExecutable());
    const QString icon = keys.value(QStringLiteral("Icon"));
    for (int size : {16, 24, 32, 48, 64, 128, 256}) {
      const QString png = installed(QStringLiteral("share/icons/hicolor/%1x%1/apps/%2.png").arg(size).arg(icon));
      QImage image(png);
      QVERIFY2(!image.isNull(), qPrintable(png));
      QCOMPARE(image.size(), QSize(size, size));
      // Not an empty canvas: the corners are transparent (rounded square), the centre is not.
      QVERIFY(qAlpha(image.pixel(0, 0)) < 64);
      QVERIFY(qAlpha(image.pixel(size / 2, size / 2)) > 200);
    }
    QVERIFY(QFile::exists(installed(QStringLiteral("share/icons/hicolor/scalable/apps/%1.svg").arg(icon))));
    const QString validate = QStandardPaths::findExecutable(QStringLiteral("desktop-file-validate"));
    if (validate.isEmpty()) QSKIP("desktop-file-validate (desktop-file-utils) is not installed");
    const Run r = run(validate, {desktop});
    QVERIFY2(r.exitCode == 0 && !r.out.contains(QStringLiteral("error")), qPrintable(r.out + r.err));
  }

  void appstreamMetainfo() {
    const QString file = installed(QStringLiteral("share/metainfo/io.github.vlmscope.VLMScope.metainfo.xml"));
    QFile f(file);
    QVERIFY(f.open(QIODevice::ReadOnly));
    QXmlStreamReader xml(&f);
    QString id, launchable, release, binary;
    while (!xml.atEnd()) {
      if (xml.readNext() != QXmlStreamReader::StartElement) continue;
      if (xml.name() == QStringLiteral("id")) id = xml.readElementText();
      else if (xml.name() == QStringLiteral("launchable")) launchable = xml.readElementText();
      else if (xml.name() == QStringLiteral("binary")) binary = xml.readElementText();
      else if (xml.name() == QStringLiteral("release")) release = xml.attributes().value(QStringLiteral("version")).toString();
    }
    QVERIFY2(!xml.hasError(), qPrintable(xml.errorString()));
    QCOMPARE(id, QStringLiteral("io.github.vlmscope.VLMScope"));
    QCOMPARE(launchable, id + QStringLiteral(".desktop"));
    QVERIFY(QFile::exists(installed(QStringLiteral("share/applications/") + launchable)));
    QVERIFY(QFileInfo(installed(QStringLiteral("bin/") + binary)).isExecutable());
    QCOMPARE(release, version_);
    const QString appstreamcli = QStandardPaths::findExecutable(QStringLiteral("appstreamcli"));
    if (appstreamcli.isEmpty()) QSKIP("appstreamcli (appstream) is not installed");
    const Run r = run(appstreamcli, {QStringLiteral("validate"), QStringLiteral("--no-net"), file});
    QVERIFY2(r.exitCode == 0, qPrintable(r.out + r.err));
  }

  // The man page has a section for every subcommand `vlmscope --help` lists and renders cleanly.
  void manPage() {
    const Run page = run(QStringLiteral("gzip"), {QStringLiteral("-dc"), installed(QStringLiteral("share/man/man1/vlmscope.1.gz"))});
    QCOMPARE(page.exitCode, 0);
    QVERIFY(page.out.contains(QStringLiteral(".TH VLMSCOPE 1")));
    QVERIFY(page.out.contains(QStringLiteral("VLMScope ") + version_));
    QVERIFY(!page.out.contains('@'));  // every @VARIABLE@ was filled in
    const CliResult help = runCli({QStringLiteral("--help")});
    QCOMPARE(help.exitCode, 0);
    static const QRegularExpression subcommand(QStringLiteral("^  ([a-z][a-z-]+) "), QRegularExpression::MultilineOption);
    int count = 0;
    for (auto it = subcommand.globalMatch(QString::fromStdString(help.out)); it.hasNext();) {
      QString name = it.next().captured(1);
      const QString heading = QStringLiteral(".SS ") + name.replace('-', QStringLiteral("\\-"));
      QVERIFY2(page.out.contains(heading + '\n'), qPrintable(QStringLiteral("the man page has no section ") + heading));
      ++count;
    }
    QVERIFY(count >= 15);
    const QString groff = QStandardPaths::findExecutable(QStringLiteral("groff"));
    if (groff.isEmpty()) QSKIP("groff is not installed");
    QTemporaryDir dir;
    QFile out(dir.filePath(QStringLiteral("vlmscope.1")));
    QVERIFY(out.open(QIODevice::WriteOnly));
    out.write(page.out.toUtf8());
    out.close();
    const Run r = run(groff, {QStringLiteral("-man"), QStringLiteral("-ww"), QStringLiteral("-z"), out.fileName()});
    QCOMPARE(r.exitCode, 0);
    QVERIFY2(r.err.isEmpty(), qPrintable(r.err));
  }

  // The unpacked program runs: its version, and the bundled captioner on the bundled demo image
  // gives the world's caption of that scene (resources/images/demo.json).
  void installedProgramRuns() {
    const QString program = installed(QStringLiteral("bin/vlmscope"));
    const Run v = run(program, {QStringLiteral("--version")});
    QCOMPARE(v.exitCode, 0);
    QCOMPARE(v.out.trimmed(), QStringLiteral("vlmscope ") + version_);

    const QString resources = installed(QStringLiteral("share/vlmscope/resources"));
    const Run c = run(program, {QStringLiteral("caption"), QStringLiteral("--model"), resources + QStringLiteral("/models/shapes-blip-caption"),
                                resources + QStringLiteral("/images/demo.png"), QStringLiteral("--json"), QStringLiteral("--threads"), QStringLiteral("1")});
    QVERIFY2(c.exitCode == 0, qPrintable(c.err));
    const auto result = nlohmann::json::parse(c.out.toStdString());
    QFile demo(QString::fromUtf8(VLM_SOURCE_DIR) + QStringLiteral("/resources/images/demo.json"));
    QVERIFY(demo.open(QIODevice::ReadOnly));
    const auto truth = nlohmann::json::parse(demo.readAll().toStdString());
    QCOMPARE(QString::fromStdString(result.at(0).at("caption").get<std::string>()),
             QString::fromStdString(truth.at("caption").get<std::string>()));
  }
};

QTEST_GUILESS_MAIN(PackageTest)
#include "test_package.moc"
