#pragma once
// A saved exploration (.vlmscope): the image as it was opened (its bytes and sha256), the models
// used (the spec as given, plus sha256 of config.json and a fingerprint of the weights so that a
// different checkpoint under the same name is noticed), the masks, and every run with its
// results (texts, tokens, maps, Shapley values, similarities, metrics, timings), so that a
// session reopens exactly and its report can be written without any model.
//
// On disk: a ZIP (session/zip.h) holding session.json (versioned), the image file and one
// raw little-endian float32 blob per map (maps/N.f32). Saving is atomic (temporary file +
// rename): a failure leaves the previous file as it was.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace vlm::session {

inline constexpr int kFormatVersion = 1;

struct ModelRef {
  std::string role;               // "caption", "vqa", "clip"
  std::string spec;               // folder or hub id, as loaded
  std::string configSha256;       // of config.json
  std::string weightsFingerprint; // sha256 over the weights file's size, first and last MiB
  bool operator==(const ModelRef&) const = default;
};

struct Rect {
  int x = 0, y = 0, width = 0, height = 0;
  bool operator==(const Rect&) const = default;
};

struct Map {
  int width = 0, height = 0;
  std::vector<float> values;  // row-major, width * height
  bool operator==(const Map&) const = default;
};

struct NamedValue {
  std::string name;
  double value = 0;
  bool operator==(const NamedValue&) const = default;
};

struct Run {
  std::string kind;               // "caption", "vqa", "explain", "shapley", "regenerate", "clip"
  std::string title;              // as shown in the history ("token 2 'cat' - Grad-CAM, layer 11")
  nlohmann::json parameters = nlohmann::json::object();  // method, layer, colormap, budget, ...
  std::string question;           // VQA
  std::string text;               // the caption / answer / CLIP text
  std::vector<std::string> tokens;
  int explainedToken = -1;        // index into tokens
  std::optional<Map> map;         // the explanation map (its own resolution)
  std::vector<NamedValue> values; // Shapley values per feature, CLIP similarities per text
  std::vector<Rect> masks;        // the masks this run used (regenerate)
  std::string regenerated;        // the caption with the masks hidden
  nlohmann::json metrics = nlohmann::json::object();  // faithfulness scores
  double seconds = 0;
  bool operator==(const Run&) const = default;
};

struct Session {
  int version = kFormatVersion;
  std::string createdBy;          // "VLMScope 0.1.0"
  std::string imageName;          // file name as opened ("photo.jpg")
  std::string imageSha256;
  std::string imageBytes;         // the file's bytes
  std::vector<ModelRef> models;
  nlohmann::json decoding = nlohmann::json::object();  // beams, max length, ...
  std::vector<Rect> masks;        // drawn on the image when saved
  std::vector<Run> runs;
  bool operator==(const Session&) const = default;
};

// The reference of a model folder as loaded now (hashes config.json, fingerprints the weights).
ModelRef describeModel(const std::string& role, const std::string& spec, const std::filesystem::path& folder);

// Whether `ref`'s checkpoint is available and the same: empty when it is, otherwise a sentence
// saying which model the session needs and why it is not usable.
std::string checkModel(const ModelRef& ref);

std::string serialize(const Session& s);  // the ZIP bytes
Session deserialize(const std::string& bytes, const std::string& fileForErrors);

// Atomic save; vlm::Error Io on failure (full disk, unwritable folder) with the old file intact.
void save(const Session& s, const std::filesystem::path& file);
// vlm::Error NotFound / Truncated / Corrupt / Unsupported (a newer format) naming the file.
Session load(const std::filesystem::path& file);

}  // namespace vlm::session
