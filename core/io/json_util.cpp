#include "io/json_util.h"

#include "io/files.h"

namespace vlm::io {

nlohmann::json readJsonFile(const std::filesystem::path& path) {
  const std::string text = readFile(path);
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    throw Error(ErrorCode::Corrupt, path.string() + ": not valid JSON (" + e.what() + ")", path.string());
  }
}

}  // namespace vlm::io
