#pragma once
// Running the built `vlmscope` binary from tests.
#include <QProcess>
#include <QStringList>

#include <string>

#include "testing.h"

namespace vlm::test {

struct CliResult {
  int exitCode = -1;
  bool crashed = false;
  std::string out, err;
};

inline CliResult runCli(const QStringList& args, const QByteArray& stdinData = {}, int timeoutMs = 300000) {
  QProcess p;
  p.setProgram(QString::fromStdString(vlmscopeBinary().string()));
  p.setArguments(args);
  p.start();
  if (!stdinData.isEmpty()) p.write(stdinData);
  p.closeWriteChannel();
  p.waitForFinished(timeoutMs);
  CliResult r;
  r.crashed = p.exitStatus() != QProcess::NormalExit;
  r.exitCode = p.exitCode();
  r.out = p.readAllStandardOutput().toStdString();
  r.err = p.readAllStandardError().toStdString();
  return r;
}

inline QString qs(const std::filesystem::path& p) { return QString::fromStdString(p.string()); }

}  // namespace vlm::test
