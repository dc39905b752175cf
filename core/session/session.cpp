#include "session/session.h"

#include <cstdio>
#include <cstring>
#include <memory>

#include "common/error.h"
#include "io/files.h"
#include "io/model_location.h"
#include "io/sha256.h"
#include "session/zip.h"

namespace vlm::session {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string bytesSha256(const std::string& s) {
  return io::sha256Hex({reinterpret_cast<const uint8_t*>(s.data()), s.size()});
}

std::string fingerprintWeights(const fs::path& file) {
  std::error_code ec;
  const auto size = fs::file_size(file, ec);
  if (ec) return {};
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(file.c_str(), "rb"), &std::fclose);
  if (!f) return {};
  io::Sha256 h;
  const std::string header = "size " + std::to_string(size) + "\n";
  h.update(header.data(), header.size());
  constexpr size_t kPiece = 1 << 20;
  std::string buffer(kPiece, '\0');
  size_t n = std::fread(buffer.data(), 1, kPiece, f.get());
  h.update(buffer.data(), n);
  if (size > 2 * kPiece && std::fseek(f.get(), -long(kPiece), SEEK_END) == 0) {
    n = std::fread(buffer.data(), 1, kPiece, f.get());
    h.update(buffer.data(), n);
  }
  return h.hexDigest();
}

fs::path weightsFile(const fs::path& folder) {
  for (const char* name : {"model.safetensors", "pytorch_model.bin"})
    if (fs::exists(folder / name)) return folder / name;
  return {};
}

json rectJson(const Rect& r) { return json::array({r.x, r.y, r.width, r.height}); }
Rect rectFrom(const json& j) {
  if (!j.is_array() || j.size() != 4) throw std::runtime_error("a rectangle is not [x, y, width, height]");
  return Rect{j[0].get<int>(), j[1].get<int>(), j[2].get<int>(), j[3].get<int>()};
}

std::string imageEntryName(const std::string& imageName) {
  const auto dot = imageName.rfind('.');
  std::string ext = dot == std::string::npos ? "" : imageName.substr(dot);
  for (char& c : ext) c = char(std::tolower(static_cast<unsigned char>(c)));
  if (ext.size() > 6 || ext.find('/') != std::string::npos) ext.clear();
  return "image" + ext;
}

}  // namespace

ModelRef describeModel(const std::string& role, const std::string& spec, const fs::path& folder) {
  ModelRef r{role, spec, {}, {}};
  std::error_code ec;
  if (fs::exists(folder / "config.json", ec)) r.configSha256 = bytesSha256(io::readFile(folder / "config.json"));
  if (const fs::path w = weightsFile(folder); !w.empty()) r.weightsFingerprint = fingerprintWeights(w);
  return r;
}

std::string checkModel(const ModelRef& ref) {
  const std::string what = "the " + ref.role + " model " + ref.spec;
  fs::path folder;
  try {
    folder = io::resolveModel(ref.spec).dir;
  } catch (const Error& e) {
    return what + " is not available here (" + e.what() + ")";
  }
  const ModelRef now = describeModel(ref.role, ref.spec, folder);
  if (!ref.configSha256.empty() && now.configSha256 != ref.configSha256)
    return what + " is a different checkpoint now (its config.json changed since the session was saved)";
  if (!ref.weightsFingerprint.empty() && now.weightsFingerprint != ref.weightsFingerprint)
    return what + " is a different checkpoint now (its weights changed since the session was saved)";
  return {};
}

std::string serialize(const Session& s) {
  ZipEntries entries;
  json j;
  j["format"] = "vlmscope-session";
  j["version"] = s.version;
  j["created_by"] = s.createdBy;
  const std::string imageEntry = imageEntryName(s.imageName);
  j["image"] = {{"name", s.imageName}, {"sha256", s.imageSha256}, {"entry", imageEntry}, {"bytes", s.imageBytes.size()}};
  if (!s.imageBytes.empty()) entries[imageEntry] = s.imageBytes;
  j["models"] = json::array();
  for (const auto& m : s.models)
    j["models"].push_back({{"role", m.role}, {"spec", m.spec}, {"config_sha256", m.configSha256}, {"weights_fingerprint", m.weightsFingerprint}});
  j["decoding"] = s.decoding;
  j["masks"] = json::array();
  for (const auto& r : s.masks) j["masks"].push_back(rectJson(r));
  j["runs"] = json::array();
  for (size_t i = 0; i < s.runs.size(); ++i) {
    const Run& r = s.runs[i];
    json o{{"kind", r.kind},         {"title", r.title},   {"parameters", r.parameters}, {"question", r.question},
           {"text", r.text},         {"tokens", r.tokens}, {"explained_token", r.explainedToken},
           {"regenerated", r.regenerated}, {"metrics", r.metrics}, {"seconds", r.seconds}};
    o["values"] = json::array();
    for (const auto& v : r.values) o["values"].push_back({{"name", v.name}, {"value", v.value}});
    o["masks"] = json::array();
    for (const auto& m : r.masks) o["masks"].push_back(rectJson(m));
    if (r.map) {
      if (r.map->width <= 0 || r.map->height <= 0 || r.map->values.size() != size_t(r.map->width) * size_t(r.map->height))
        throw Error(ErrorCode::InvalidArgument, "run " + std::to_string(i) + " has a map whose size does not match its values");
      const std::string entry = "maps/" + std::to_string(i) + ".f32";
      std::string raw(r.map->values.size() * sizeof(float), '\0');
      std::memcpy(raw.data(), r.map->values.data(), raw.size());  // little-endian hosts (x86-64, arm64)
      entries[entry] = std::move(raw);
      o["map"] = {{"width", r.map->width}, {"height", r.map->height}, {"entry", entry}, {"dtype", "float32"}};
    }
    j["runs"].push_back(o);
  }
  // Doubles are written with full precision by nlohmann::json: they read back bit for bit. Text
  // that is not valid UTF-8 (a file name in another encoding) is stored with U+FFFD in its place.
  entries["session.json"] = j.dump(1, ' ', false, json::error_handler_t::replace);
  return makeZip(entries);
}

Session deserialize(const std::string& bytes, const std::string& file) {
  const ZipEntries entries = readZip(bytes, file);
  const auto it = entries.find("session.json");
  if (it == entries.end()) throw Error(ErrorCode::Corrupt, file + ": not a VLMScope session (no session.json inside)", file);
  json j;
  try {
    j = json::parse(it->second);
  } catch (const std::exception& e) {
    throw Error(ErrorCode::Corrupt, file + ": session.json is not valid JSON (" + e.what() + ")", file);
  }
  if (!j.is_object() || j.value("format", std::string()) != "vlmscope-session")
    throw Error(ErrorCode::Corrupt, file + ": not a VLMScope session (session.json has no \"format\": \"vlmscope-session\")", file);
  const int version = j.value("version", 0);
  if (version > kFormatVersion)
    throw Error(ErrorCode::Unsupported, file + ": saved by a newer VLMScope (" + j.value("created_by", std::string("?")) + ", session format " +
                                            std::to_string(version) + "); this one reads format " + std::to_string(kFormatVersion) + " and older", file);
  if (version < 1) throw Error(ErrorCode::Corrupt, file + ": session.json has no valid \"version\"", file);
  Session s;
  try {
    s.version = version;
    s.createdBy = j.value("created_by", std::string());
    const json& image = j.at("image");
    s.imageName = image.value("name", std::string());
    s.imageSha256 = image.value("sha256", std::string());
    const std::string imageEntry = image.value("entry", std::string());
    if (auto img = entries.find(imageEntry); !imageEntry.empty() && img != entries.end()) s.imageBytes = img->second;
    if (!s.imageBytes.empty() && !s.imageSha256.empty() && bytesSha256(s.imageBytes) != s.imageSha256)
      throw Error(ErrorCode::Corrupt, file + ": the stored image does not match its sha256", file);
    for (const auto& m : j.at("models"))
      s.models.push_back({m.at("role").get<std::string>(), m.at("spec").get<std::string>(), m.value("config_sha256", std::string()),
                          m.value("weights_fingerprint", std::string())});
    s.decoding = j.value("decoding", json::object());
    for (const auto& r : j.at("masks")) s.masks.push_back(rectFrom(r));
    for (const auto& o : j.at("runs")) {
      Run r;
      r.kind = o.at("kind").get<std::string>();
      r.title = o.value("title", std::string());
      r.parameters = o.value("parameters", json::object());
      r.question = o.value("question", std::string());
      r.text = o.value("text", std::string());
      r.tokens = o.value("tokens", std::vector<std::string>());
      r.explainedToken = o.value("explained_token", -1);
      r.regenerated = o.value("regenerated", std::string());
      r.metrics = o.value("metrics", json::object());
      r.seconds = o.value("seconds", 0.0);
      for (const auto& v : o.value("values", json::array())) r.values.push_back({v.at("name").get<std::string>(), v.at("value").get<double>()});
      for (const auto& m : o.value("masks", json::array())) r.masks.push_back(rectFrom(m));
      if (o.contains("map")) {
        const json& m = o["map"];
        Map map;
        map.width = m.at("width").get<int>();
        map.height = m.at("height").get<int>();
        const std::string entry = m.at("entry").get<std::string>();
        const auto raw = entries.find(entry);
        if (raw == entries.end()) throw Error(ErrorCode::Corrupt, file + ": the map " + entry + " of run '" + r.title + "' is missing", file);
        if (map.width <= 0 || map.height <= 0 || raw->second.size() != size_t(map.width) * size_t(map.height) * sizeof(float))
          throw Error(ErrorCode::Corrupt, file + ": the map " + entry + " does not have " + std::to_string(map.width) + " x " + std::to_string(map.height) + " values", file);
        map.values.resize(size_t(map.width) * size_t(map.height));
        std::memcpy(map.values.data(), raw->second.data(), raw->second.size());
        r.map = std::move(map);
      }
      s.runs.push_back(std::move(r));
    }
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    throw Error(ErrorCode::Corrupt, file + ": session.json is not a valid session (" + e.what() + ")", file);
  }
  return s;
}

void save(const Session& s, const fs::path& file) { io::writeFileAtomic(file, serialize(s)); }

Session load(const fs::path& file) { return deserialize(io::readFile(file), file.string()); }

}  // namespace vlm::session
