#pragma once
// The weights of a Hugging Face checkpoint, by tensor name, whatever the files they come from:
// model.safetensors, sharded safetensors (model.safetensors.index.json), pytorch_model.bin
// (torch.save zip) or sharded .bin (pytorch_model.bin.index.json).
//
// safetensors tensors stay zero-copy views of the mapped files (the mappings live as long as
// the StateDict or any tensor taken from it); .bin tensors are read into memory once. Tensors
// handed out share memory with the StateDict: treat them as read-only (writing through a view
// of a safetensors mapping changes what later get() calls return, never the file).

#include <ATen/core/Tensor.h>

#include <cstddef>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace vlm::io {

class SafetensorsFile;

class StateDict {
 public:
  // The weights of the checkpoint folder `dir`, looked for in this order (the first found wins;
  // safetensors is preferred when both formats are present, as transformers does):
  // model.safetensors, model.safetensors.index.json, pytorch_model.bin,
  // pytorch_model.bin.index.json. An index is {"metadata": ..., "weight_map": {name: shard}};
  // its weight_map is the checkpoint's table of contents (tensors a shard holds beyond it are
  // ignored). Throws vlm::Error: NotFound (no such folder; no weights file, listing the names
  // looked for; an index naming a missing shard, naming the index and the shard),
  // MissingTensor (a tensor the index maps to a shard that does not hold it, naming both),
  // Corrupt (an index that is not a JSON weight_map, or names a file outside the folder),
  // plus every error of SafetensorsFile::open and readTorchBin.
  static StateDict loadFolder(const std::filesystem::path& dir);

  // One weights file: *.safetensors, a torch.save zip (*.bin, *.pt, *.pth, *.ckpt), or a
  // sharded checkpoint's *.index.json. InvalidArgument for other file types.
  static StateDict loadFile(const std::filesystem::path& file);

  bool contains(const std::string& name) const;
  // The tensor (CPU, the stored dtype and shape). MissingTensor naming the checkpoint when
  // absent; Unsupported for safetensors dtypes LibTorch lacks (U16, U32, U64, F8).
  at::Tensor get(const std::string& name) const;
  // The file holding `name` (the shard for sharded checkpoints). MissingTensor when absent.
  const std::filesystem::path& fileOf(const std::string& name) const;
  std::vector<std::string> names() const;  // sorted
  std::size_t size() const;
  // e.g. "model.safetensors (92 tensors)", "model.safetensors.index.json (2 shards, 92 tensors)"
  std::string describe() const;
  // The file or index the weights were loaded from.
  const std::filesystem::path& source() const { return source_; }

 private:
  struct Entry {
    std::size_t file = 0;  // index into files_
    at::Tensor tensor;     // .bin tensors; empty for safetensors (a view is made on get())
  };
  struct File {
    std::filesystem::path path;
    std::shared_ptr<const SafetensorsFile> safetensors;  // null for .bin files
  };

  static StateDict loadIndex(const std::filesystem::path& index);
  void addFile(const std::filesystem::path& path, const std::vector<std::string>* only);
  const Entry& entry(const std::string& name) const;

  std::filesystem::path source_;
  std::vector<File> files_;
  std::map<std::string, Entry> entries_;
};

}  // namespace vlm::io
