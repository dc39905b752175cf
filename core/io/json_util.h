#pragma once
// Reading Hugging Face JSON files (config.json, preprocessor_config.json, ...) with errors
// that name the file and the key.

#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "common/error.h"

namespace vlm::io {

// Parses a JSON file. NotFound when missing, Corrupt (with the parser's position) when not JSON.
nlohmann::json readJsonFile(const std::filesystem::path& path);

// Reads j[key] as T when present (and not null), else `fallback`. A present value of the
// wrong type is a Corrupt error naming `where` (e.g. "config.json: text_config") and the key.
template <typename T>
T jsonGet(const nlohmann::json& j, const char* key, const T& fallback, const std::string& where) {
  if (!j.is_object()) return fallback;
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return fallback;
  try {
    return it->template get<T>();
  } catch (const nlohmann::json::exception&) {
    throw Error(ErrorCode::Corrupt, where + ": '" + key + "' has the wrong type (" + it->dump() + ")", where);
  }
}

}  // namespace vlm::io
