// VLM_TEST_LABELS: fast
// Every way SafetensorsFile::open refuses a file: each file is the fixture model.safetensors
// with one defect, made in a temporary folder. Each case checks the error code, that the
// message names the file, and the tensor where one is at fault.
#include "testing.h"

#include <unistd.h>

#include <fstream>

#include "error_testing.h"
#include "io/safetensors.h"

using namespace vlm;
using Json = nlohmann::ordered_json;

namespace {

std::string readBytes(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

std::string le64(uint64_t v) {
  std::string s(8, '\0');
  for (int k = 0; k < 8; ++k) s[k] = static_cast<char>((v >> (8 * k)) & 0xFF);
  return s;
}

// The fixture split into its parts; the header keeps the file's key order.
struct Parts {
  Json header;
  std::string data;
};

Parts fixtureParts() {
  const std::string bytes = readBytes(test::dataPath("blip-caption-tiny/model.safetensors"));
  uint64_t n = 0;
  for (int k = 7; k >= 0; --k) n = (n << 8) | static_cast<uint8_t>(bytes[k]);
  return {Json::parse(bytes.substr(8, n)), bytes.substr(8 + n)};
}

std::string assemble(const std::string& headerText, std::string_view data) {
  return le64(headerText.size()) + headerText + std::string(data);
}

// The tensors of the fixture by data offset: [name, begin, end].
struct Span {
  std::string name;
  uint64_t begin, end;
};
std::vector<Span> spans(const Json& header) {
  std::vector<Span> out;
  for (auto it = header.begin(); it != header.end(); ++it)
    if (it.key() != "__metadata__")
      out.push_back({it.key(), it.value()["data_offsets"][0].get<uint64_t>(), it.value()["data_offsets"][1].get<uint64_t>()});
  std::sort(out.begin(), out.end(), [](const Span& a, const Span& b) { return a.begin < b.begin; });
  return out;
}

const std::string kPatch = "vision_model.embeddings.patch_embedding.weight";  // F32 [32, 3, 16, 16]

}  // namespace

class TestSafetensorsErrors : public QObject {
  Q_OBJECT

  std::filesystem::path dir_;
  Parts fixture_;

  // Writes `bytes` as <name>.safetensors and returns its path.
  std::filesystem::path write(const std::string& name, std::string_view bytes) {
    const auto path = dir_ / (name + ".safetensors");
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    return path;
  }
  // The fixture with `edit` applied to its header.
  std::filesystem::path withHeader(const std::string& name, const std::function<void(Json&)>& edit) {
    Json h = fixture_.header;
    edit(h);
    return write(name, assemble(h.dump(), fixture_.data));
  }

 private Q_SLOTS:
  void initTestCase() {
    dir_ = std::filesystem::temp_directory_path() / ("vlm_st_errors_" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    fixture_ = fixtureParts();
    // Control: the reassembled fixture opens, so each defect below is the only one.
    auto f = io::SafetensorsFile::open(write("control", assemble(fixture_.header.dump(), fixture_.data)));
    QCOMPARE(f->tensors().size(), size_t(92));
  }
  void cleanupTestCase() { std::filesystem::remove_all(dir_); }

  void missingFileOrFolder() {
    VLM_EXPECT_ERROR(io::SafetensorsFile::open(dir_ / "absent.safetensors"), ErrorCode::NotFound, "absent.safetensors");
    VLM_EXPECT_ERROR(io::SafetensorsFile::open(dir_), ErrorCode::Io, dir_.string(), "not a regular file");
  }

  void fileShorterThanTheSizeField() {
    for (const std::size_t n : {0, 1, 7}) {
      const auto p = write("short" + std::to_string(n), std::string(n, '\x01'));
      VLM_EXPECT_ERROR(io::SafetensorsFile::open(p), ErrorCode::Truncated, p.filename().string(), "too short");
    }
  }

  void headerSizeLargerThanTheFile() {
    const std::string json = fixture_.header.dump();
    const std::string body = json + fixture_.data;
    const auto p = write("header_past_end", le64(body.size() + 1) + body);
    VLM_EXPECT_ERROR(io::SafetensorsFile::open(p), ErrorCode::Truncated, "header_past_end.safetensors", "claims");
  }

  void headerSizeOverTheBound() {
    const std::string json = fixture_.header.dump();
    for (const uint64_t n : {uint64_t(io::kMaxSafetensorsHeader) + 1, ~uint64_t(0)}) {
      const auto p = write("huge_header", le64(n) + json + fixture_.data);
      VLM_EXPECT_ERROR(io::SafetensorsFile::open(p), ErrorCode::Corrupt, "huge_header.safetensors", "limit");
    }
  }

  void headerNotJson() {
    auto p = write("not_json", assemble("{\"a\": [1, 2,, }", fixture_.data));
    VLM_EXPECT_ERROR(io::SafetensorsFile::open(p), ErrorCode::Corrupt, "not_json.safetensors", "not valid JSON");
    // A valid object followed by more text.
    p = write("trailing_text", assemble(fixture_.header.dump() + " x", fixture_.data));
    VLM_EXPECT_ERROR(io::SafetensorsFile::open(p), ErrorCode::Corrupt, "trailing_text.safetensors", "not valid JSON");
    // Not UTF-8.
    p = write("not_utf8", assemble("{\"\xff\": 1}", ""));
    VLM_EXPECT_ERROR(io::SafetensorsFile::open(p), ErrorCode::Corrupt, "not_utf8.safetensors", "not valid JSON");
  }

  void headerNotAnObject() {
    for (const char* text : {"[1, 2, 3]", "\"text\"", "42", " {}", ""}) {
      const auto p = write("not_object", assemble(text, ""));
      VLM_EXPECT_ERROR(io::SafetensorsFile::open(p), ErrorCode::Corrupt, "not_object.safetensors");
    }
  }

  void entryWithoutAField() {
    for (const char* field : {"dtype", "shape", "data_offsets"}) {
      const auto p = withHeader(std::string("no_") + field, [&](Json& h) { h[kPatch].erase(field); });
      VLM_EXPECT_TENSOR_ERROR(io::SafetensorsFile::open(p), ErrorCode::Corrupt, kPatch, p.filename().string(), std::string("no ") + field);
    }
    auto p = withHeader("entry_not_object", [&](Json& h) { h[kPatch] = 5; });
    VLM_EXPECT_TENSOR_ERROR(io::SafetensorsFile::open(p), ErrorCode::Corrupt, kPatch, "entry_not_object.safetensors", "not an object");
    p = withHeader("dtype_not_string", [&](Json& h) { h[kPatch]["dtype"] = 4; });
    VLM_EXPECT_TENSOR_ERROR(io::SafetensorsFile::open(p), ErrorCode::Corrupt, kPatch, "dtype_not_string.safetensors");
    p = withHeader("one_offset", [&](Json& h) { h[kPatch]["data_offsets"] = Json::array({0}); });
    VLM_EXPECT_TENSOR_ERROR(io::SafetensorsFile::open(p), ErrorCode::Corrupt, kPatch, "one_offset.safetensors");
  }

  void unknownDtype() {
    const auto p = withHeader("unknown_dtype", [&](Json& h) { h[kPatch]["dtype"] = "F42"; });
    VLM_EXPECT_TENSOR_ERROR(io::SafetensorsFile::open(p), ErrorCode::Unsupported, kPatch, "unknown_dtype.safetensors", "F42");
  }

  void sizeDisagreesWithOffsets() {
    auto p = withHeader("shape_mismatch", [&](Json& h) { h[kPatch]["shape"] = Json::array({32, 3, 16, 17}); });
    VLM_EXPECT_TENSOR_ERROR(io::SafetensorsFile::open(p), ErrorCode::Corrupt, kPatch, "shape_mismatch.safetensors", "bytes");
    // Same element count, other dtype: F16 needs half the bytes.
    p = withHeader("dtype_mismatch", [&](Json& h) { h[kPatch]["dtype"] = "F16"; });
    VLM_EXPECT_TENSOR_ERROR(io::SafetensorsFile::open(p), ErrorCode::Corrupt, kPatch, "dtype_mismatch.safetensors", "bytes");
    p = withHeader("offsets_reversed", [&](Json& h) {
      auto& o = h[kPatch]["data_offsets"];
      o = Json::array({o[1], o[0]});
    });
    VLM_EXPECT_TENSOR_ERROR(io::SafetensorsFile::open(p), ErrorCode::Corrupt, kPatch, "offsets_reversed.safetensors");
    // Dimensions whose product overflows.
    p = withHeader("shape_overflow", [&](Json& h) { h[kPatch]["shape"] = Json::array({uint64_t(1) << 40, uint64_t(1) << 40}); });
    VLM_EXPECT_TENSOR_ERROR(io::SafetensorsFile::open(p), ErrorCode::Corrupt, kPatch, "shape_overflow.safetensors", "too large");
  }

  void badDimensionsAndOffsets() {
    const std::pair<const char*, Json> shapes[] = {
        {"negative_dim", Json::array({-32, 3, 16, 16})},
        {"float_dim", Json::array({32.0, 3, 16, 16})},
        {"string_dim", Json::array({"32", 3, 16, 16})},
        {"shape_not_array", Json(7680)},
    };
    for (const auto& [name, shape] : shapes) {
      const auto p = withHeader(name, [&, shape = shape](Json& h) { h[kPatch]["shape"] = shape; });
      VLM_EXPECT_TENSOR_ERROR(io::SafetensorsFile::open(p), ErrorCode::Corrupt, kPatch, p.filename().string());
    }
    for (const char* name : {"negative_offset", "float_offset"}) {
      const auto p = withHeader(name, [&](Json& h) {
        auto& o = h[kPatch]["data_offsets"];
        if (std::string(name) == "negative_offset") o[0] = -int64_t(o[0].get<uint64_t>()) - 1;
        else o[0] = o[0].get<double>() + 0.5;
      });
      VLM_EXPECT_TENSOR_ERROR(io::SafetensorsFile::open(p), ErrorCode::Corrupt, kPatch, p.filename().string(), "data_offsets");
    }
  }

  void dataTruncated() {
    // The fixture file cut in half: tensors end past the data section.
    const std::string whole = readBytes(test::dataPath("blip-caption-tiny/model.safetensors"));
    const auto p = write("half", std::string_view(whole).substr(0, whole.size() / 2));
    try {
      io::SafetensorsFile::open(p);
      QFAIL("expected an error");
    } catch (const Error& e) {
      QCOMPARE(e.code(), ErrorCode::Truncated);
      QVERIFY2(!e.tensor().empty(), e.what());
      QVERIFY2(std::string(e.what()).find("half.safetensors") != std::string::npos, e.what());
      QVERIFY2(std::string(e.what()).find("'" + e.tensor() + "'") != std::string::npos, e.what());
      QVERIFY(fixture_.header.contains(e.tensor()));
    }
  }

  void tensorsOverlap() {
    // Move a tensor 4 bytes back into the one before it (its size unchanged).
    const auto s = spans(fixture_.header);
    const Span& victim = s[10];
    const auto p = withHeader("overlap", [&](Json& h) { h[victim.name]["data_offsets"] = Json::array({victim.begin - 4, victim.end - 4}); });
    VLM_EXPECT_TENSOR_ERROR(io::SafetensorsFile::open(p), ErrorCode::Corrupt, victim.name, "overlap.safetensors", "overlaps");
  }

  void gapBetweenTensors() {
    // Move a tensor 4 bytes forward: a gap before it (found before it overlaps the next one).
    const auto s = spans(fixture_.header);
    const Span& victim = s[10];
    const auto p = withHeader("gap", [&](Json& h) { h[victim.name]["data_offsets"] = Json::array({victim.begin + 4, victim.end + 4}); });
    VLM_EXPECT_TENSOR_ERROR(io::SafetensorsFile::open(p), ErrorCode::Corrupt, victim.name, "gap.safetensors", "gap of 4 bytes");
  }

  void trailingBytesNotDescribed() {
    const auto p = write("trailing", assemble(fixture_.header.dump(), fixture_.data + std::string(16, '\0')));
    VLM_EXPECT_ERROR(io::SafetensorsFile::open(p), ErrorCode::Corrupt, "trailing.safetensors", "16 bytes after the last tensor");
  }

  void duplicateNames() {
    // Give the last entry the name of another one, in the header text (a JSON object cannot
    // hold the same key twice).
    const auto s = spans(fixture_.header);
    Json h = fixture_.header;
    const std::string other = s.back().name;
    const Json entry = h[other];
    h.erase(other);
    std::string text = h.dump();
    text.pop_back();  // '}'
    text += ",\"" + kPatch + "\":" + entry.dump() + "}";
    auto p = write("duplicate_name", assemble(text, fixture_.data));
    VLM_EXPECT_TENSOR_ERROR(io::SafetensorsFile::open(p), ErrorCode::Corrupt, kPatch, "duplicate_name.safetensors", "appears twice");
    // A field given twice inside one entry (nlohmann::json would keep the last silently).
    text = fixture_.header.dump();
    const std::string key = "\"" + kPatch + "\":{";
    const auto at = text.find(key);
    QVERIFY(at != std::string::npos);
    text.insert(at + key.size(), "\"dtype\":\"F16\",");
    p = write("duplicate_field", assemble(text, fixture_.data));
    VLM_EXPECT_TENSOR_ERROR(io::SafetensorsFile::open(p), ErrorCode::Corrupt, kPatch, "duplicate_field.safetensors", "field 'dtype' appears twice");
  }

  void badMetadata() {
    auto p = withHeader("metadata_not_object", [&](Json& h) { h["__metadata__"] = Json::array({1}); });
    VLM_EXPECT_ERROR(io::SafetensorsFile::open(p), ErrorCode::Corrupt, "metadata_not_object.safetensors", "__metadata__");
    p = withHeader("metadata_value", [&](Json& h) { h["__metadata__"]["format"] = 1; });
    VLM_EXPECT_ERROR(io::SafetensorsFile::open(p), ErrorCode::Corrupt, "metadata_value.safetensors", "'format'");
  }
};

QTEST_GUILESS_MAIN(TestSafetensorsErrors)
#include "test_safetensors_errors.moc"
