#pragma once
// NumPy .npy files of float32 (descr '<f4', C order): what numpy.save writes and numpy.load
// reads, for maps, scores and activations exported to Python.
//
// Format (numpy/lib/format.py): the magic "\x93NUMPY", a major and a minor version byte, the
// header length (little-endian uint16 for version 1.0, uint32 for 2.0 and 3.0), the header (a
// Python dict literal: {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }), spaces,
// and '\n', so that the data starts at a multiple of 64 bytes; then the data, little-endian.

#include <cstdint>
#include <filesystem>
#include <vector>

namespace vlm::io {

struct NpyArray {
  std::vector<int64_t> shape;  // () for a 0-D array (one value)
  std::vector<float> data;     // row-major (C order), product(shape) values
};

// Writes `data` (product(shape) floats, row-major) as a version 1.0 .npy file, byte for byte
// what numpy 1.23+ writes for a C-contiguous little-endian float32 array: the keys in sorted
// order, a 1-D shape as "(5,)", a 0-D shape as "()", the spare space numpy leaves to grow the
// first axis in place (21 minus the digits of shape[0] spaces), then padding to a multiple of
// 64 bytes ending in '\n' (numpy adds a full 64 when already aligned). Version 2.0 only if the
// header does not fit in 65535 bytes (as numpy does). Atomic (io::writeFileAtomic).
// Throws vlm::Error InvalidArgument (negative dimension, null data with values, too many
// values) or Io naming the file.
void writeNpy(const std::filesystem::path& path, const float* data, const std::vector<int64_t>& shape);

// Reads a '<f4' C-order .npy file (header versions 1.0, 2.0 and 3.0). Throws vlm::Error naming
// the file: NotFound / Io (cannot read), Corrupt (not an .npy file: wrong magic, malformed
// header dict, missing or unknown keys, negative dimension, bytes after the data), Unsupported
// (another version, another dtype such as '>f4' or '<f8', fortran_order True), Truncated (the
// data ends before product(shape) values).
NpyArray readNpy(const std::filesystem::path& path);

}  // namespace vlm::io
