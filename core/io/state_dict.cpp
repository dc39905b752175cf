#include "io/state_dict.h"

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>

#include "common/error.h"
#include "io/files.h"
#include "io/safetensors.h"
#include "io/torch_bin.h"

namespace vlm::io {

namespace fs = std::filesystem;

namespace {

// The names transformers gives a checkpoint folder's weights, in the order it looks for them.
constexpr const char* kWeightFiles[] = {"model.safetensors", "model.safetensors.index.json", "pytorch_model.bin",
                                        "pytorch_model.bin.index.json"};

enum class Format { Safetensors, TorchBin, Index };

bool endsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::optional<Format> formatOf(const fs::path& path) {
  std::string name = path.filename().string();
  std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (endsWith(name, ".index.json")) return Format::Index;
  if (endsWith(name, ".safetensors")) return Format::Safetensors;
  for (const char* ext : {".bin", ".pt", ".pth", ".ckpt"})
    if (endsWith(name, ext)) return Format::TorchBin;
  return std::nullopt;
}

std::string plural(std::size_t n, const char* one, const char* many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

}  // namespace

StateDict StateDict::loadFolder(const fs::path& dir) {
  const std::string folder = dir.string();
  std::error_code ec;
  if (!fs::exists(dir, ec)) throw Error(ErrorCode::NotFound, folder + ": no such folder", folder);
  if (!fs::is_directory(dir, ec)) throw Error(ErrorCode::NotFound, folder + ": not a folder", folder);
  std::string lookedFor;
  for (const char* name : kWeightFiles) {
    const fs::path candidate = dir / name;
    if (fs::is_regular_file(candidate, ec)) return loadFile(candidate);
    lookedFor += lookedFor.empty() ? name : std::string(", ") + name;
  }
  throw Error(ErrorCode::NotFound, folder + ": no weights file (looked for " + lookedFor + ")", folder);
}

StateDict StateDict::loadFile(const fs::path& file) {
  const auto format = formatOf(file);
  if (!format)
    throw Error(ErrorCode::InvalidArgument, file.string() + ": not a weights file (expected .safetensors, .bin, .pt, .pth, .ckpt or .index.json)",
                file.string());
  if (*format == Format::Index) return loadIndex(file);
  StateDict sd;
  sd.source_ = file;
  sd.addFile(file, nullptr);
  return sd;
}

StateDict StateDict::loadIndex(const fs::path& index) {
  const std::string file = index.string();
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(readFile(index));
  } catch (const nlohmann::json::exception& e) {
    throw Error(ErrorCode::Corrupt, file + ": not valid JSON (" + e.what() + ")", file);
  }
  if (!j.is_object() || !j.contains("weight_map") || !j["weight_map"].is_object())
    throw Error(ErrorCode::Corrupt, file + ": no \"weight_map\" object (an index is {\"metadata\": ..., \"weight_map\": {tensor: shard file}})", file);
  const nlohmann::json& weightMap = j["weight_map"];
  if (weightMap.empty()) throw Error(ErrorCode::Corrupt, file + ": the weight_map is empty", file);

  // Shard file -> the tensors the index says it holds; shards in name order (-00001-of-...).
  std::map<std::string, std::vector<std::string>> byShard;
  for (auto it = weightMap.begin(); it != weightMap.end(); ++it) {
    if (!it.value().is_string())
      throw Error(ErrorCode::Corrupt, file + ": the shard of tensor '" + it.key() + "' is not a file name", file, it.key());
    const std::string shard = it.value().get<std::string>();
    const fs::path rel(shard);
    bool inside = !shard.empty() && rel.is_relative() && rel.has_filename();
    for (const auto& part : rel) inside = inside && part != "..";
    if (!inside)
      throw Error(ErrorCode::Corrupt, file + ": shard '" + shard + "' of tensor '" + it.key() + "' is not a file inside the checkpoint folder", file,
                  it.key());
    const auto format = formatOf(rel);
    if (!format || *format == Format::Index)
      throw Error(ErrorCode::Corrupt, file + ": shard '" + shard + "' is not a .safetensors or .bin file", file, it.key());
    byShard[shard].push_back(it.key());
  }

  StateDict sd;
  sd.source_ = index;
  for (const auto& [shard, names] : byShard) {
    const fs::path path = index.parent_path() / shard;
    std::error_code ec;
    if (!fs::is_regular_file(path, ec)) {
      const std::string holding = "'" + names.front() + "'" + (names.size() > 1 ? " and " + plural(names.size() - 1, "other", "others") : "");
      throw Error(ErrorCode::NotFound, file + ": shard '" + shard + "' (holding " + holding + ") does not exist", path.string(), names.front());
    }
    sd.addFile(path, &names);
  }
  return sd;
}

void StateDict::addFile(const fs::path& path, const std::vector<std::string>* only) {
  const std::size_t index = files_.size();
  File f{path, nullptr};
  auto missing = [&](const std::string& name) {
    return Error(ErrorCode::MissingTensor,
                 source_.string() + ": tensor '" + name + "' is mapped to shard '" + path.filename().string() + "', which does not hold it",
                 path.string(), name);
  };
  if (*formatOf(path) == Format::Safetensors) {
    std::shared_ptr<const SafetensorsFile> st = SafetensorsFile::open(path);
    if (only) {
      for (const auto& name : *only) {
        if (!st->find(name)) throw missing(name);
        entries_[name] = Entry{index, {}};
      }
    } else {
      for (const auto& info : st->tensors()) entries_[info.name] = Entry{index, {}};
    }
    f.safetensors = std::move(st);
  } else {
    auto tensors = readTorchBin(path);
    if (only) {
      std::map<std::string, at::Tensor> byName(std::make_move_iterator(tensors.begin()), std::make_move_iterator(tensors.end()));
      for (const auto& name : *only) {
        auto it = byName.find(name);
        if (it == byName.end()) throw missing(name);
        entries_[name] = Entry{index, it->second};
      }
    } else {
      for (auto& [name, t] : tensors) entries_[name] = Entry{index, std::move(t)};
    }
  }
  files_.push_back(std::move(f));
}

const StateDict::Entry& StateDict::entry(const std::string& name) const {
  auto it = entries_.find(name);
  if (it == entries_.end())
    throw Error(ErrorCode::MissingTensor, source_.string() + ": no tensor '" + name + "' in " + describe(), source_.string(), name);
  return it->second;
}

bool StateDict::contains(const std::string& name) const { return entries_.count(name) != 0; }

at::Tensor StateDict::get(const std::string& name) const {
  const Entry& e = entry(name);
  if (e.tensor.defined()) return e.tensor;
  return files_[e.file].safetensors->tensor(name);
}

const fs::path& StateDict::fileOf(const std::string& name) const { return files_[entry(name).file].path; }

std::vector<std::string> StateDict::names() const {
  std::vector<std::string> out;
  out.reserve(entries_.size());
  for (const auto& [name, e] : entries_) out.push_back(name);
  return out;
}

std::size_t StateDict::size() const { return entries_.size(); }

std::string StateDict::describe() const {
  std::string s = source_.filename().string() + " (";
  if (formatOf(source_) == Format::Index) s += plural(files_.size(), "shard", "shards") + ", ";
  return s + plural(entries_.size(), "tensor", "tensors") + ")";
}

}  // namespace vlm::io
