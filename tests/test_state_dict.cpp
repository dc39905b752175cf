// VLM_TEST_LABELS: fast
// StateDict: Hugging Face checkpoint folders in every layout (safetensors, sharded safetensors,
// pytorch_model.bin, sharded .bin), zero-copy safetensors tensors, and the folder/index errors.
#include "testing.h"

#include <torch/csrc/jit/serialization/pickle.h>

#include <unistd.h>

#include <fstream>
#include <sstream>

#include "error_testing.h"
#include "io/safetensors.h"
#include "io/state_dict.h"

using namespace vlm;
namespace fs = std::filesystem;

namespace {

const fs::path kSafetensorsDir = test::dataPath("blip-caption-tiny");
const fs::path kBinDir = test::dataPath("blip-caption-tiny-bin");
const std::string kTied = "text_decoder.cls.predictions.decoder.bias";

struct TempDir {
  fs::path path;
  explicit TempDir(const std::string& name)
      : path(fs::temp_directory_path() / ("vlm_" + name + "_" + std::to_string(::getpid()))) {
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
  fs::path operator/(const std::string& name) const { return path / name; }
};

void writeText(const fs::path& p, const std::string& text) {
  std::ofstream(p, std::ios::binary | std::ios::trunc) << text;
}

// The memory mappings of this process backed by `file`, from /proc/self/maps.
std::vector<std::pair<uintptr_t, uintptr_t>> mappingsOf(const fs::path& file) {
  const std::string target = fs::canonical(file).string();
  std::vector<std::pair<uintptr_t, uintptr_t>> out;
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    const auto slash = line.find('/');
    if (slash == std::string::npos || line.substr(slash) != target) continue;
    std::istringstream in(line);
    std::string range;
    in >> range;
    const auto dash = range.find('-');
    out.emplace_back(std::stoull(range.substr(0, dash), nullptr, 16), std::stoull(range.substr(dash + 1), nullptr, 16));
  }
  return out;
}

bool insideMapping(const at::Tensor& t, const fs::path& file) {
  const auto begin = reinterpret_cast<uintptr_t>(t.data_ptr());
  const auto end = begin + static_cast<uintptr_t>(t.nbytes());
  for (const auto& [lo, hi] : mappingsOf(file))
    if (begin >= lo && end <= hi) return true;
  return false;
}

// The same tensors under the same names (`extra` may hold more names).
void expectSameTensors(const io::StateDict& expected, const io::StateDict& actual) {
  for (const auto& name : expected.names()) {
    QVERIFY2(actual.contains(name), name.c_str());
    const at::Tensor e = expected.get(name);
    const at::Tensor a = actual.get(name);
    QCOMPARE(a.scalar_type(), e.scalar_type());
    QCOMPARE(a.sizes().vec(), e.sizes().vec());
    QVERIFY2(torch::equal(a, e), name.c_str());
  }
}

// A Hugging Face index: {"metadata": {"total_size": ...}, "weight_map": {name: shard}}.
std::string indexJson(const std::map<std::string, std::string>& weightMap, uint64_t totalSize) {
  nlohmann::json j;
  j["metadata"] = {{"total_size", totalSize}};
  j["weight_map"] = weightMap;
  return j.dump(2);
}

}  // namespace

class TestStateDict : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void loadsBothFixtureFolders() {
    const auto st = io::StateDict::loadFolder(kSafetensorsDir);
    const auto bin = io::StateDict::loadFolder(kBinDir);
    QCOMPARE(st.size(), size_t(92));
    QCOMPARE(bin.size(), size_t(93));
    QCOMPARE(st.describe(), std::string("model.safetensors (92 tensors)"));
    QCOMPARE(bin.describe(), std::string("pytorch_model.bin (93 tensors)"));
    QCOMPARE(st.source(), kSafetensorsDir / "model.safetensors");

    // names(): sorted, and the file's own list.
    auto file = io::SafetensorsFile::open(kSafetensorsDir / "model.safetensors");
    std::vector<std::string> expected;
    for (const auto& info : file->tensors()) expected.push_back(info.name);
    std::sort(expected.begin(), expected.end());
    QCOMPARE(st.names(), expected);

    expectSameTensors(st, bin);
    QVERIFY(!st.contains(kTied));
    QVERIFY(bin.contains(kTied));
    QVERIFY(torch::equal(bin.get(kTied), st.get("text_decoder.cls.predictions.bias")));
    for (const auto& name : st.names()) {
      QCOMPARE(st.fileOf(name), kSafetensorsDir / "model.safetensors");
      QCOMPARE(bin.fileOf(name), kBinDir / "pytorch_model.bin");
    }
    // loadFile on the files themselves gives the same.
    QCOMPARE(io::StateDict::loadFile(kSafetensorsDir / "model.safetensors").names(), st.names());
    QCOMPARE(io::StateDict::loadFile(kBinDir / "pytorch_model.bin").names(), bin.names());
  }

  void safetensorsTensorsAreViewsOfTheMapping() {
    auto file = io::SafetensorsFile::open(kSafetensorsDir / "model.safetensors");
    at::Tensor kept;
    {
      const auto st = io::StateDict::loadFolder(kSafetensorsDir);
      for (const auto& info : file->tensors()) {
        const at::Tensor t = st.get(info.name);
        // Inside a mapping of model.safetensors (as /proc/self/maps tells), not a copy.
        QVERIFY2(insideMapping(t, kSafetensorsDir / "model.safetensors"), info.name.c_str());
        QCOMPARE(t.nbytes(), info.end - info.begin);
        QVERIFY(std::memcmp(t.data_ptr(), file->bytes(info).data(), t.nbytes()) == 0);
        QCOMPARE(st.get(info.name).data_ptr(), t.data_ptr());  // the same view every time
      }
      kept = st.get("vision_model.embeddings.patch_embedding.weight");
    }
    // The tensor keeps its mapping alive after the StateDict is gone.
    QVERIFY(insideMapping(kept, kSafetensorsDir / "model.safetensors"));
    QVERIFY(torch::equal(kept, file->tensor("vision_model.embeddings.patch_embedding.weight")));
  }

  void loadsShardedSafetensors() {
    TempDir dir("sd_sharded_st");
    const auto whole = io::StateDict::loadFolder(kSafetensorsDir);
    std::vector<std::pair<std::string, at::Tensor>> shard[2];
    std::map<std::string, std::string> weightMap;
    uint64_t total = 0;
    const std::string shardName[2] = {"model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"};
    const auto names = whole.names();
    for (std::size_t i = 0; i < names.size(); ++i) {
      const int s = i < names.size() / 3 ? 0 : 1;  // unequal halves
      shard[s].emplace_back(names[i], whole.get(names[i]));
      weightMap[names[i]] = shardName[s];
      total += whole.get(names[i]).nbytes();
    }
    for (int s = 0; s < 2; ++s) io::writeSafetensors(dir / shardName[s], shard[s], {{"format", "pt"}});
    writeText(dir / "model.safetensors.index.json", indexJson(weightMap, total));
    // A .bin next to it is ignored: safetensors first.
    fs::create_symlink(kBinDir / "pytorch_model.bin", dir / "pytorch_model.bin");

    const auto sharded = io::StateDict::loadFolder(dir.path);
    QCOMPARE(sharded.describe(), std::string("model.safetensors.index.json (2 shards, 92 tensors)"));
    QCOMPARE(sharded.source(), dir / "model.safetensors.index.json");
    QCOMPARE(sharded.names(), names);
    expectSameTensors(whole, sharded);
    for (const auto& name : names) {
      QCOMPARE(sharded.fileOf(name), dir / weightMap.at(name));
      QVERIFY2(insideMapping(sharded.get(name), dir / weightMap.at(name)), name.c_str());
    }
    QCOMPARE(io::StateDict::loadFile(dir / "model.safetensors.index.json").names(), names);
  }

  void loadsShardedBin() {
    // Two real shards written by LibTorch's torch::pickle_save (the torch.save zip layout),
    // the tied pair split across them.
    TempDir dir("sd_sharded_bin");
    const auto whole = io::StateDict::loadFolder(kBinDir);
    const std::string shardName[2] = {"pytorch_model-00001-of-00002.bin", "pytorch_model-00002-of-00002.bin"};
    c10::Dict<std::string, at::Tensor> shard[2];
    std::map<std::string, std::string> weightMap;
    for (const auto& name : whole.names()) {
      const int s = (name == kTied || name.rfind("vision_model.", 0) == 0) ? 0 : 1;
      shard[s].insert(name, whole.get(name));
      weightMap[name] = shardName[s];
    }
    QCOMPARE(weightMap.at("text_decoder.cls.predictions.bias"), shardName[1]);
    for (int s = 0; s < 2; ++s) {
      const std::vector<char> bytes = torch::jit::pickle_save(c10::IValue(shard[s]));
      std::ofstream(dir / shardName[s], std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    }
    writeText(dir / "pytorch_model.bin.index.json", indexJson(weightMap, 0));

    const auto sharded = io::StateDict::loadFolder(dir.path);
    QCOMPARE(sharded.describe(), std::string("pytorch_model.bin.index.json (2 shards, 93 tensors)"));
    QCOMPARE(sharded.names(), whole.names());
    expectSameTensors(whole, sharded);
    for (const auto& [name, shardFile] : weightMap) QCOMPARE(sharded.fileOf(name), dir / shardFile);

    // An index pointing several names at one file: both shards may be the same archive.
    TempDir same("sd_sharded_bin_same");
    fs::copy_file(kBinDir / "pytorch_model.bin", same / "a.bin");
    fs::copy_file(kBinDir / "pytorch_model.bin", same / "b.bin");
    std::map<std::string, std::string> alternating;
    int i = 0;
    for (const auto& name : whole.names()) alternating[name] = (i++ % 2) ? "b.bin" : "a.bin";
    writeText(same / "pytorch_model.bin.index.json", indexJson(alternating, 0));
    const auto fromCopies = io::StateDict::loadFolder(same.path);
    QCOMPARE(fromCopies.names(), whole.names());
    expectSameTensors(whole, fromCopies);
    for (const auto& [name, shardFile] : alternating) QCOMPARE(fromCopies.fileOf(name), same / shardFile);
  }

  void prefersSafetensorsOverBin() {
    TempDir dir("sd_both");
    fs::create_symlink(kSafetensorsDir / "model.safetensors", dir / "model.safetensors");
    fs::create_symlink(kBinDir / "pytorch_model.bin", dir / "pytorch_model.bin");
    const auto sd = io::StateDict::loadFolder(dir.path);
    QCOMPARE(sd.describe(), std::string("model.safetensors (92 tensors)"));
    QCOMPARE(sd.fileOf("vision_model.post_layernorm.weight"), dir / "model.safetensors");
  }

  void folderErrors() {
    TempDir dir("sd_errors");
    VLM_EXPECT_ERROR(io::StateDict::loadFolder(dir / "absent"), ErrorCode::NotFound, (dir / "absent").string(), "no such folder");
    writeText(dir / "config.json", "{}");
    VLM_EXPECT_ERROR(io::StateDict::loadFolder(dir / "config.json"), ErrorCode::NotFound, "config.json", "not a folder");
    // A folder without weights: the message lists what was looked for.
    VLM_EXPECT_ERROR(io::StateDict::loadFolder(dir.path), ErrorCode::NotFound, dir.path.string(), "model.safetensors",
                     "model.safetensors.index.json", "pytorch_model.bin", "pytorch_model.bin.index.json");
    VLM_EXPECT_ERROR(io::StateDict::loadFile(dir / "config.json"), ErrorCode::InvalidArgument, "config.json");
    // The file readers' errors come through.
    const std::string st = [] {
      std::ifstream in(kSafetensorsDir / "model.safetensors", std::ios::binary);
      return std::string(std::istreambuf_iterator<char>(in), {});
    }();
    writeText(dir / "model.safetensors", st.substr(0, st.size() / 2));
    VLM_EXPECT_ERROR(io::StateDict::loadFolder(dir.path), ErrorCode::Truncated, "model.safetensors");
  }

  void indexErrors() {
    TempDir dir("sd_index_errors");
    const fs::path index = dir / "model.safetensors.index.json";
    fs::create_symlink(kSafetensorsDir / "model.safetensors", dir / "model-00001-of-00001.safetensors");
    const std::string present = "vision_model.post_layernorm.weight";

    writeText(index, indexJson({{present, "model-00001-of-00001.safetensors"}, {"x.weight", "model-00002-of-00002.safetensors"}}, 0));
    VLM_EXPECT_TENSOR_ERROR(io::StateDict::loadFolder(dir.path), ErrorCode::NotFound, "x.weight", "model.safetensors.index.json",
                            "model-00002-of-00002.safetensors", "does not exist");

    writeText(index, indexJson({{present, "model-00001-of-00001.safetensors"}, {"no.such.tensor", "model-00001-of-00001.safetensors"}}, 0));
    VLM_EXPECT_TENSOR_ERROR(io::StateDict::loadFolder(dir.path), ErrorCode::MissingTensor, "no.such.tensor",
                            "model.safetensors.index.json", "model-00001-of-00001.safetensors");

    writeText(index, "{\"weight_map\": {");
    VLM_EXPECT_ERROR(io::StateDict::loadFolder(dir.path), ErrorCode::Corrupt, "model.safetensors.index.json", "not valid JSON");
    writeText(index, "{\"metadata\": {}}");
    VLM_EXPECT_ERROR(io::StateDict::loadFolder(dir.path), ErrorCode::Corrupt, "model.safetensors.index.json", "weight_map");
    writeText(index, "{\"weight_map\": {}}");
    VLM_EXPECT_ERROR(io::StateDict::loadFolder(dir.path), ErrorCode::Corrupt, "model.safetensors.index.json", "empty");
    writeText(index, "{\"weight_map\": {\"a\": 3}}");
    VLM_EXPECT_TENSOR_ERROR(io::StateDict::loadFolder(dir.path), ErrorCode::Corrupt, "a", "model.safetensors.index.json");
    for (const char* outside : {"../model.safetensors", "/etc/passwd.safetensors", "sub/../../x.safetensors", "notes.txt"}) {
      writeText(index, indexJson({{present, outside}}, 0));
      VLM_EXPECT_ERROR(io::StateDict::loadFolder(dir.path), ErrorCode::Corrupt, "model.safetensors.index.json", outside);
    }

    // The index wins over nothing else: a valid one loads.
    writeText(index, indexJson({{present, "model-00001-of-00001.safetensors"}}, 0));
    const auto sd = io::StateDict::loadFolder(dir.path);
    QCOMPARE(sd.size(), size_t(1));  // the weight_map is the table of contents
    QCOMPARE(sd.describe(), std::string("model.safetensors.index.json (1 shard, 1 tensor)"));
  }

  void missingTensorNamesTheCheckpoint() {
    const auto sd = io::StateDict::loadFolder(kSafetensorsDir);
    VLM_EXPECT_TENSOR_ERROR(sd.get("no.such.tensor"), ErrorCode::MissingTensor, "no.such.tensor", "model.safetensors",
                            "92 tensors");
    VLM_EXPECT_TENSOR_ERROR(sd.fileOf("no.such.tensor"), ErrorCode::MissingTensor, "no.such.tensor", "model.safetensors");
    const auto bin = io::StateDict::loadFolder(kBinDir);
    VLM_EXPECT_TENSOR_ERROR(bin.get("no.such.tensor"), ErrorCode::MissingTensor, "no.such.tensor", "pytorch_model.bin");
  }
};

QTEST_GUILESS_MAIN(TestStateDict)
#include "test_state_dict.moc"
