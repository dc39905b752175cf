#pragma once
// Reading the fixtures' JSON files and naming their tensors in tests.
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace vlm::test {

inline nlohmann::json readJsonFile(const std::filesystem::path& p) {
  std::ifstream in(p);
  return nlohmann::json::parse(in);
}

// "astronaut.png" -> "astronaut": the prefix of an image's tensors in reference.safetensors.
inline std::string fileStem(const std::string& file) { return file.substr(0, file.rfind('.')); }

// Text `row` of a CLIP reference.json (input_ids padded to the longest): its ids without the padding.
inline std::vector<int64_t> clipTextIds(const nlohmann::json& ref, size_t row) {
  const auto ids = ref.at("input_ids")[row].get<std::vector<int64_t>>();
  const auto mask = ref.at("attention_mask")[row].get<std::vector<int64_t>>();
  std::vector<int64_t> text;
  for (size_t i = 0; i < ids.size(); ++i)
    if (mask[i]) text.push_back(ids[i]);
  return text;
}

}  // namespace vlm::test
