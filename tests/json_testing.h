#pragma once
// Reading the fixtures' JSON files and naming their tensors in tests.
#include <filesystem>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

namespace vlm::test {

inline nlohmann::json readJsonFile(const std::filesystem::path& p) {
  std::ifstream in(p);
  return nlohmann::json::parse(in);
}

// "astronaut.png" -> "astronaut": the prefix of an image's tensors in reference.safetensors.
inline std::string fileStem(const std::string& file) { return file.substr(0, file.rfind('.')); }

}  // namespace vlm::test
