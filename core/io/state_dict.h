#pragma once
// TEMPORARY minimal version (safetensors only); replaced by the full loader.
#include <ATen/core/Tensor.h>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>
namespace vlm::io {
class SafetensorsFile;
class StateDict {
 public:
  static StateDict loadFolder(const std::filesystem::path& dir);
  bool contains(const std::string& name) const { return tensors_.count(name) > 0; }
  at::Tensor get(const std::string& name) const;
  const std::filesystem::path& fileOf(const std::string& name) const { return files_.at(name); }
  std::vector<std::string> names() const;
  std::size_t size() const { return tensors_.size(); }
  std::string describe() const { return desc_; }
 private:
  std::map<std::string, at::Tensor> tensors_;
  std::map<std::string, std::filesystem::path> files_;
  std::vector<std::shared_ptr<SafetensorsFile>> keep_;
  std::string desc_;
};
}
