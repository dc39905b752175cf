#pragma once
// SHA-256 (FIPS 180-4) of bytes, as lowercase hex: identifies the image an explanation was made
// of in the JSON sidecars.

#include <cstdint>
#include <span>
#include <string>

namespace vlm::io {

std::string sha256Hex(std::span<const uint8_t> bytes);

}  // namespace vlm::io
