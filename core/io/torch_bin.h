#pragma once
// PyTorch checkpoints as torch.save writes them (pytorch_model.bin): a zip archive
//   <name>/data.pkl     the pickled state dict {tensor name: tensor}
//   <name>/data/<key>   one record per storage: the raw little-endian bytes
//   <name>/version      the archive format version
// Reading is in two passes. First a small, closed evaluator (scanTorchPickle) walks data.pkl
// without executing anything: only the globals torch.save uses for plain tensors are
// understood, anything else is refused as unsafe before any tensor is built, and it yields
// each tensor's storage, dtype and view. Then LibTorch's own unpickler (torch::jit::Unpickler,
// which runs no code either) builds the tensors, with every storage record checked against
// the size the scan implies before LibTorch sees it (LibTorch 1.13 trusts the pickle's sizes).
// LibTorch 1.13's unpickler cannot build some valid state dicts (an OrderedDict with the
// `_metadata` of Module.state_dict() becomes None, a single-entry SETITEM shard, Parameters);
// for those the tensors are built from the scan instead, with the same checks. Records are
// read with LibTorch's zip reader (like torch.load, it does not verify the zip CRCs); tensors
// that share a storage in the file (tied parameters) share it in memory too.

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace vlm::io {

// One tensor as the pickle describes it: a view (offset, sizes, strides, in elements) of a
// storage record. Found without reading any tensor data.
struct TorchPickleTensor {
  std::string name;
  std::string storageKey;  // the record <name>/data/<storageKey> of the archive
  at::ScalarType dtype = at::kFloat;
  int64_t storageNumel = 0;  // elements of the whole storage
  int64_t offset = 0;
  std::vector<int64_t> sizes;
  std::vector<int64_t> strides;
};

// The largest data.pkl accepted (a state dict's pickle takes ~150 bytes per tensor).
inline constexpr std::size_t kMaxTorchPickle = 256u << 20;

// Interprets `pickle` (the bytes of data.pkl; pickle protocols 0-5) without executing anything,
// and returns the state dict it describes, in pickle order. `file` names the checkpoint in
// errors. Accepted globals: torch._utils._rebuild_tensor_v2, torch._utils._rebuild_parameter
// (a Parameter is loaded as its tensor), collections.OrderedDict (also with the `_metadata`
// state of Module.state_dict()), torch.<Type>Storage for the dtypes LibTorch has, and
// torch.jit._pickle.restore_type_tag (written by LibTorch's torch::pickle_save).
// Throws vlm::Error:
//   Unsafe       any other global (os.system, builtins.eval, ...), a call of a non-function,
//                BUILD (set-state) on anything but an OrderedDict, the extension registry;
//                the message names the offending global, e.g. "pytorch_model.bin: refused:
//                the pickle references os.system; only tensors and plain containers are allowed"
//   Unsupported  well-known torch globals VLMScope cannot rebuild (quantized, sparse, tensor
//                subclasses, _rebuild_tensor_v3, ...); a top-level value that is not a dict;
//                an entry that is not a tensor (a stray int, a nested {"model": {...}}): the
//                whole file is refused rather than silently loaded without it
//   Corrupt      malformed pickles (stack underflow, missing STOP, unknown opcode, a tensor view
//                outside its storage, a name given twice, ...); Truncated when it ends early
std::vector<TorchPickleTensor> scanTorchPickle(std::string_view pickle, const std::string& file);

// Reads a torch.save zip checkpoint: name -> CPU tensor with the stored dtype, shape and
// strides, in pickle order. Throws vlm::Error naming the file (and the tensor where one is
// at fault): NotFound / Io; Truncated (zip without its central directory); Unsupported for
// the legacy non-zip torch.save format ("re-save with a current PyTorch"), TorchScript
// archives and zips that are not torch.save checkpoints; Corrupt for a storage record that is
// missing, unreadable or not of the size the pickle implies; plus every error of
// scanTorchPickle.
enum class TorchBinReader { LibTorchUnpickler, Scan };
std::vector<std::pair<std::string, at::Tensor>> readTorchBin(const std::filesystem::path& path,
                                                              TorchBinReader* usedReader = nullptr);

}  // namespace vlm::io
