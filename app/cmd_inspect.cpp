// vlmscope inspect: what a checkpoint file holds (names, dtypes, shapes), validated.
#include <cstdio>
#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "args.h"
#include "commands.h"
#include "io/safetensors.h"

namespace vlm::cli {

int cmdInspect(int argc, char** argv) {
  Args args(argc, argv, 2, {}, {"json"});
  if (args.positional().size() != 1) throw UsageError("expects one safetensors file or checkpoint folder");
  std::filesystem::path path = args.positional()[0];
  if (std::filesystem::is_directory(path)) path /= "model.safetensors";
  auto file = io::SafetensorsFile::open(path);
  if (args.flag("json")) {
    nlohmann::ordered_json out;
    out["file"] = path.string();
    out["metadata"] = file->metadata();
    out["tensors"] = nlohmann::ordered_json::array();
    for (const auto& t : file->tensors())
      out["tensors"].push_back({{"name", t.name}, {"dtype", io::dtypeName(t.dtype)}, {"shape", t.shape}});
    std::printf("%s\n", out.dump(1).c_str());
    return 0;
  }
  int64_t total = 0;
  for (const auto& t : file->tensors()) {
    std::string shape;
    for (std::size_t i = 0; i < t.shape.size(); ++i) shape += (i ? ", " : "") + std::to_string(t.shape[i]);
    std::printf("%-70s %-5s [%s]\n", t.name.c_str(), io::dtypeName(t.dtype), shape.c_str());
    total += t.numel();
  }
  std::printf("%zu tensors, %lld values\n", file->tensors().size(), static_cast<long long>(total));
  return 0;
}

}  // namespace vlm::cli
