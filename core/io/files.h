#pragma once
// Small file helpers shared by core/io: whole-file reads and atomic writes.

#include <filesystem>
#include <functional>
#include <string>
#include <string_view>

namespace vlm::io {

// The value of an environment variable, empty when it is not set.
std::string environmentValue(const char* name);

// Reads a whole file. Throws vlm::Error NotFound / Io naming the file.
std::string readFile(const std::filesystem::path& path);

// Writes `path` atomically: the content goes to a temporary file in the same folder, is
// flushed to disk, then renamed over `path`. On any failure (full disk, unwritable folder)
// the temporary file is removed, `path` is left as it was, and vlm::Error Io is thrown.
void writeFileAtomic(const std::filesystem::path& path, std::string_view content);

// As above, the content produced by `write(FILE*)` (for large outputs written in pieces).
void writeFileAtomic(const std::filesystem::path& path,
                     const std::function<void(std::FILE*)>& write);

}  // namespace vlm::io
