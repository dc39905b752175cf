#pragma once
// Running the built `vlmscope` binary from tests.
#include <QProcess>
#include <QStringList>

#include <algorithm>
#include <initializer_list>
#include <string>

#include <nlohmann/json.hpp>

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

// Runs `args`, which must succeed (a failure fails the test and shows stderr), and parses its
// stdout as JSON.
inline nlohmann::json runCliJson(const QStringList& args) {
  const CliResult r = runCli(args);
  if (r.exitCode != 0) qWarning("%s", r.err.c_str());
  [&] { QCOMPARE(r.exitCode, 0); }();
  return nlohmann::json::parse(r.out);
}

inline QString qs(const std::filesystem::path& p) { return QString::fromStdString(p.string()); }

// Empty when `r` is a clean failure: no crash, a non-zero exit code (exactly `exitCode` when
// that is not 0), one line on stderr that names every needle, no stack trace. Otherwise what
// is wrong, with the command line and stderr.
inline std::string cleanFailureProblem(const QStringList& args, const CliResult& r, int exitCode,
                                       std::initializer_list<std::string> needles) {
  const std::string where = args.join(' ').toStdString() + " -> " + r.err;
  if (r.crashed) return "crashed: " + where;
  if (r.exitCode == 0) return "exit code 0: " + where;
  if (exitCode != 0 && r.exitCode != exitCode) return "exit code " + std::to_string(r.exitCode) + ", expected " + std::to_string(exitCode) + ": " + where;
  if (std::count(r.err.begin(), r.err.end(), '\n') != 1) return "expected one line on stderr: " + where;
  for (const auto& n : needles)
    if (r.err.find(n) == std::string::npos) return "the message should mention '" + n + "': " + where;
  if (r.err.find("terminate") != std::string::npos || r.err.find("frame #") != std::string::npos) return "stack trace: " + where;
  return {};
}

}  // namespace vlm::test

// Fails the test unless running `args` is a clean failure (cleanFailureProblem).
#define VLM_EXPECT_CLEAN_FAILURE(args, exitCode, ...)                                                     \
  do {                                                                                                   \
    const QStringList vlm_args_ = (args);                                                                \
    const std::string vlm_problem_ = vlm::test::cleanFailureProblem(vlm_args_, vlm::test::runCli(vlm_args_), (exitCode), {__VA_ARGS__}); \
    if (!vlm_problem_.empty()) QFAIL(vlm_problem_.c_str());                                              \
  } while (0)
