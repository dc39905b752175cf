#include "runtime/runtime.h"

#include <malloc.h>
#include <sys/resource.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <fstream>
#include <set>
#include <string>
#include <thread>
#include <utility>

namespace vlm::runtime {

void applyAllocatorSettings() {
  mallopt(M_MMAP_MAX, 0);
  mallopt(M_TRIM_THRESHOLD, INT_MAX);
}

void prepareProcess(int argc, char** argv) {
  (void)argc;
  applyAllocatorSettings();
  bool changed = false;
  if (std::getenv("OPENBLAS_CORETYPE")) {  // Haswell kernels are ~2x slower here
    unsetenv("OPENBLAS_CORETYPE");
    changed = true;
  }
  if (!std::getenv("OMP_WAIT_POLICY")) {
    setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
    changed = true;
  }
  if (changed && !std::getenv("VLMSCOPE_REEXECUTED")) {
    setenv("VLMSCOPE_REEXECUTED", "1", 1);
    execv("/proc/self/exe", argv);
    // execv failed: carry on with the settings we could apply.
  }
}

int physicalCores() {
  // Count distinct (physical id, core id) pairs; fall back to the logical count.
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::set<std::pair<std::string, std::string>> cores;
  std::string line, physical = "0";
  while (std::getline(cpuinfo, line)) {
    auto value = [&] { auto p = line.find(':'); return p == std::string::npos ? std::string() : line.substr(p + 2); };
    if (line.rfind("physical id", 0) == 0) physical = value();
    else if (line.rfind("core id", 0) == 0) cores.emplace(physical, value());
  }
  if (!cores.empty()) return static_cast<int>(cores.size());
  unsigned n = std::thread::hardware_concurrency();
  return n ? static_cast<int>(n) : 1;
}

void setThreads(int n) {
  at::set_num_threads(n > 0 ? n : physicalCores());
}

int threads() { return at::get_num_threads(); }

std::filesystem::path resourceDir() {
  std::error_code ec;
  const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const auto installed = exe.parent_path().parent_path() / "share" / "vlmscope" / "resources";
    if (std::filesystem::is_directory(installed, ec)) return installed;
  }
  return std::filesystem::path(VLM_RESOURCE_DIR);
}

double peakRssMb() {
  struct rusage usage {};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;
}

}  // namespace vlm::runtime
