#pragma once
// A small ZIP container (PKWARE APPNOTE 6.3, "stored" entries, CRC-32 checked) for .vlmscope
// session files: any unzip tool opens them. Reading validates every offset and size against
// the file and every entry's CRC; errors are vlm::Error Corrupt / Truncated naming the file.

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>

namespace vlm::session {

// Entry name -> bytes. Names are relative paths with '/' (no "..", no leading '/').
using ZipEntries = std::map<std::string, std::string>;

std::string makeZip(const ZipEntries& entries);
ZipEntries readZip(std::string_view bytes, const std::string& fileForErrors);

}  // namespace vlm::session
