#pragma once
// Building pytorch_model.bin variants for tests: the fixture's archive with another data.pkl.
#include <caffe2/serialize/inline_container.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <string_view>

#include "testing.h"

namespace vlm::test {

inline std::string readBytes(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

// A copy of the fixture archive (blip-caption-tiny-bin) with `pickle` as its data.pkl, written
// with LibTorch's PyTorchStreamWriter (what torch.save uses): same storage records, same layout.
inline std::filesystem::path assembleBin(const std::filesystem::path& out, std::string_view pickle,
                                         const std::set<std::string>& dropRecords = {}) {
  caffe2::serialize::PyTorchStreamReader reader(dataPath("blip-caption-tiny-bin/pytorch_model.bin").string());
  caffe2::serialize::PyTorchStreamWriter writer(out.string());
  writer.writeRecord("data.pkl", pickle.data(), pickle.size());
  for (const auto& name : reader.getAllRecords()) {
    if (name == "data.pkl" || name == "version" || name == ".data/version" || dropRecords.count(name)) continue;
    auto [data, size] = reader.getRecord(name);
    writer.writeRecord(name, data.get(), size);
  }
  writer.writeEndOfFile();
  return out;
}

}  // namespace vlm::test
