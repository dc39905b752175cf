#include "io/files.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <random>

#include "common/error.h"

namespace vlm::io {

namespace fs = std::filesystem;

std::string environmentValue(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : std::string();
}

std::string readFile(const fs::path& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) throw Error(ErrorCode::NotFound, path.string() + ": no such file", path.string());
  if (fs::is_directory(path, ec)) throw Error(ErrorCode::InvalidArgument, path.string() + ": is a folder, not a file", path.string());
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(ErrorCode::Io, path.string() + ": cannot open: " + std::strerror(errno), path.string());
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw Error(ErrorCode::Io, path.string() + ": read failed", path.string());
  return data;
}

void writeFileAtomic(const fs::path& path, const std::function<void(std::FILE*)>& write) {
  const fs::path dir = path.has_parent_path() ? path.parent_path() : fs::path(".");
  std::random_device rd;
  const fs::path tmp = dir / ("." + path.filename().string() + ".tmp" + std::to_string(rd()));
  auto fail = [&](const std::string& what) {
    const int err = errno;
    std::error_code ec;
    fs::remove(tmp, ec);
    throw Error(ErrorCode::Io, path.string() + ": " + what + (err ? std::string(": ") + std::strerror(err) : ""), path.string());
  };
  errno = 0;
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) fail("cannot create a file in " + dir.string());
  try {
    write(f);
  } catch (...) {
    std::fclose(f);
    std::error_code ec;
    fs::remove(tmp, ec);
    throw;
  }
  errno = 0;
  if (std::ferror(f) || std::fflush(f) != 0 || ::fsync(fileno(f)) != 0) {
    std::fclose(f);
    fail("write failed");
  }
  if (std::fclose(f) != 0) fail("write failed");
  if (std::rename(tmp.c_str(), path.c_str()) != 0) fail("cannot replace the file");
}

void writeFileAtomic(const fs::path& path, std::string_view content) {
  writeFileAtomic(path, [&](std::FILE* f) {
    if (!content.empty() && std::fwrite(content.data(), 1, content.size(), f) != content.size())
      throw Error(ErrorCode::Io, path.string() + ": write failed: " + std::strerror(errno), path.string());
  });
}

}  // namespace vlm::io
