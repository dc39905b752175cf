#pragma once
// Shared helpers of the tokenizer tests (test_wordpiece, test_clip_tokenizer): reading the
// reference vectors and checking their decode cases, printing token / id lists in failure
// messages, scratch tokenizer folders, and catching the vlm::Error a call throws.

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "json_testing.h"

namespace vlm::test {

using json = nlohmann::json;

// A JSON list of ids.
inline std::vector<int64_t> ids(const json& j) { return j.get<std::vector<int64_t>>(); }

// Python's repr of a list: ['a', 'b'] / [1, 2].
inline std::string show(const std::vector<std::string>& v) {
  std::string s = "[";
  for (std::size_t i = 0; i < v.size(); ++i) s += (i ? ", '" : "'") + v[i] + "'";
  return s + "]";
}

inline std::string show(const std::vector<int64_t>& v) {
  std::string s = "[";
  for (std::size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
  return s + "]";
}

// A scratch folder <temp>/<prefix><name>, emptied at the start and removed at the end of the scope.
struct TempDir {
  std::filesystem::path path;
  TempDir(const std::string& prefix, const std::string& name)
      : path(std::filesystem::temp_directory_path() / (prefix + name)) {
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  void write(const std::string& file, const std::string& content) const {
    std::ofstream out(path / file, std::ios::binary);
    out << content;
  }
  void copy(const std::filesystem::path& from, const std::string& file) const {
    std::filesystem::copy_file(from, path / file);
  }
};

// One of the reference vectors' "decode_cases" ({"ids", "tokens", "decode",
// "decode_skip_special"}) against a tokenizer with idToToken(id) and decode(ids, skipSpecial):
// empty when convert_ids_to_tokens and both decodes match, else what differs.
template <class Tokenizer>
std::string decodeCaseMismatch(const Tokenizer& tok, const json& c) {
  const std::vector<int64_t> in = ids(c.at("ids"));
  std::vector<std::string> tokens;
  for (int64_t id : in) tokens.push_back(tok.idToToken(id));
  if (tokens != c.at("tokens").get<std::vector<std::string>>()) return show(in) + ": tokens " + show(tokens);
  const std::string full = tok.decode(in, false);
  if (full != c.at("decode").get<std::string>()) return show(in) + ": decode '" + full + "'";
  const std::string skip = tok.decode(in, true);
  if (skip != c.at("decode_skip_special").get<std::string>()) return show(in) + ": decode_skip_special '" + skip + "'";
  return {};
}

// The vlm::Error that f() throws; Error(Cancelled, "no error was thrown") when it throws none.
template <class F>
Error expectError(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e;
  }
  return Error(ErrorCode::Cancelled, "no error was thrown");
}

}  // namespace vlm::test
