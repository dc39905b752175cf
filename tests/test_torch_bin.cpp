// VLM_TEST_LABELS: fast
// pytorch_model.bin (torch.save zip) reading: the fixture against its safetensors twin, the
// variants torch.save writes (OrderedDict state dicts, Parameters, protocol 4, LibTorch's own
// pickle_save), refusal of pickles that run code, and damaged / foreign containers.
#include "testing.h"

#include <caffe2/serialize/inline_container.h>
#include <torch/csrc/jit/serialization/pickle.h>

#include <unistd.h>

#include <fstream>
#include <set>

#include "error_testing.h"
#include "torch_bin_testing.h"
#include "io/safetensors.h"
#include "io/torch_bin.h"

using namespace vlm;

using test::assembleBin;
using test::readBytes;

namespace {

const std::filesystem::path kFixtureBin = test::dataPath("blip-caption-tiny-bin/pytorch_model.bin");
const std::filesystem::path kFixtureSafetensors = test::dataPath("blip-caption-tiny/model.safetensors");

void writeBytes(const std::filesystem::path& p, std::string_view data) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
}

struct TempDir {
  std::filesystem::path path;
  explicit TempDir(const std::string& name)
      : path(std::filesystem::temp_directory_path() / ("vlm_" + name + "_" + std::to_string(::getpid()))) {
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  std::filesystem::path operator/(const std::string& name) const { return path / name; }
};

std::string fixturePickle() {
  caffe2::serialize::PyTorchStreamReader reader(kFixtureBin.string());
  auto [data, size] = reader.getRecord("data.pkl");
  return std::string(static_cast<const char*>(data.get()), size);
}

// Hand-written protocol-2 pickles, opcode by opcode, for the cases no library writes.
struct Pickle {
  std::string b = std::string("\x80\x02", 2);
  Pickle& raw(std::string_view s) { b += s; return *this; }
  Pickle& str(std::string_view s) {
    b += 'X';
    const auto n = static_cast<uint32_t>(s.size());
    for (int k = 0; k < 4; ++k) b += static_cast<char>((n >> (8 * k)) & 0xFF);
    b += s;
    return *this;
  }
  Pickle& integer(int64_t v) {
    if (v >= 0 && v < 256) {
      b += 'K';
      b += static_cast<char>(v);
    } else {
      b += "\x8a\x08";
      for (int k = 0; k < 8; ++k) b += static_cast<char>((static_cast<uint64_t>(v) >> (8 * k)) & 0xFF);
    }
    return *this;
  }
  Pickle& global(std::string_view module, std::string_view name) {
    b += 'c';
    b += module;
    b += '\n';
    b += name;
    b += '\n';
    return *this;
  }
  Pickle& intTuple(const std::vector<int64_t>& v) {
    b += '(';
    for (auto x : v) integer(x);
    b += 't';
    return *this;
  }
  // torch._utils._rebuild_tensor_v2(storage, offset, sizes, strides, False, OrderedDict())
  Pickle& tensor(const std::string& key, int64_t numel, int64_t offset, const std::vector<int64_t>& sizes,
                 const std::vector<int64_t>& strides, std::string_view storageType = "FloatStorage") {
    global("torch._utils", "_rebuild_tensor_v2");
    b += "((";
    str("storage").global("torch", storageType).str(key).str("cpu").integer(numel);
    b += "tQ";
    integer(offset).intTuple(sizes).intTuple(strides);
    b += '\x89';
    global("collections", "OrderedDict");
    b += ")Rt" "R";
    return *this;
  }
  std::string done() const { return b + "."; }
};

// {"vision_model.embeddings.class_embedding": <the fixture's storage 0: 32 floats>}
const std::string kClassEmbedding = "vision_model.embeddings.class_embedding";
Pickle classEmbeddingEntry() {
  Pickle p;
  p.raw("}(").str(kClassEmbedding).tensor("0", 32, 0, {1, 1, 32}, {32, 32, 1});
  return p;
}

}  // namespace

class TestTorchBin : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void readsTheFixtureLikeItsSafetensorsTwin() {
    io::TorchBinReader used = io::TorchBinReader::Scan;
    const auto bin = io::readTorchBin(kFixtureBin, &used);
    // transformers' save_pretrained writes a plain dict: LibTorch's own unpickler builds it
    QVERIFY(used == io::TorchBinReader::LibTorchUnpickler);
    auto st = io::SafetensorsFile::open(kFixtureSafetensors);
    QCOMPARE(st->tensors().size(), size_t(92));
    QCOMPARE(bin.size(), size_t(93));  // + the tied text_decoder.cls.predictions.decoder.bias
    std::map<std::string, at::Tensor> byName(bin.begin(), bin.end());
    QCOMPARE(byName.size(), bin.size());
    for (const auto& info : st->tensors()) {
      QVERIFY2(byName.count(info.name), info.name.c_str());
      const at::Tensor& b = byName.at(info.name);
      const at::Tensor s = st->tensor(info);
      QCOMPARE(b.scalar_type(), s.scalar_type());
      QCOMPARE(b.sizes().vec(), s.sizes().vec());
      QVERIFY2(torch::equal(b, s), info.name.c_str());
      QVERIFY(b.device().is_cpu());
      QVERIFY(!b.requires_grad());
    }
    const std::string tied = "text_decoder.cls.predictions.decoder.bias";
    QVERIFY(!st->find(tied));
    QVERIFY(byName.count(tied));
    const at::Tensor& bias = byName.at("text_decoder.cls.predictions.bias");
    QVERIFY(torch::equal(byName.at(tied), bias));
    // Tied in the file (one storage record), tied in memory.
    QCOMPARE(byName.at(tied).data_ptr(), bias.data_ptr());
  }

  void scanDescribesTheFixturePickle() {
    const auto specs = io::scanTorchPickle(fixturePickle(), "pytorch_model.bin");
    QCOMPARE(specs.size(), size_t(93));
    // As pickletools shows the fixture's first entry.
    QCOMPARE(specs[0].name, kClassEmbedding);
    QCOMPARE(specs[0].storageKey, std::string("0"));
    QCOMPARE(specs[0].dtype, at::kFloat);
    QCOMPARE(specs[0].storageNumel, int64_t(32));
    QCOMPARE(specs[0].offset, int64_t(0));
    QCOMPARE(specs[0].sizes, (std::vector<int64_t>{1, 1, 32}));
    QCOMPARE(specs[0].strides, (std::vector<int64_t>{32, 32, 1}));
    std::map<std::string, std::string> keyOf;
    for (const auto& s : specs) keyOf[s.name] = s.storageKey;
    QCOMPARE(keyOf.at("text_decoder.cls.predictions.decoder.bias"), keyOf.at("text_decoder.cls.predictions.bias"));
  }

  void readsStateDictVariants() {
    TempDir dir("torchbin_variants");
    const auto reference = io::readTorchBin(kFixtureBin);
    for (const char* variant : {"ordered_dict_metadata.pkl", "protocol4.pkl"}) {
      const auto path = assembleBin(dir / (std::string(variant) + ".bin"), readBytes(test::dataPath("torch-pickles") / variant));
      io::TorchBinReader used = io::TorchBinReader::LibTorchUnpickler;
      const auto got = io::readTorchBin(path, &used);
      qInfo("%s: %s", variant, used == io::TorchBinReader::Scan ? "built from the scan" : "LibTorch's unpickler");
      QCOMPARE(got.size(), reference.size());
      for (std::size_t i = 0; i < got.size(); ++i) {
        QCOMPARE(got[i].first, reference[i].first);  // pickle order is kept
        QVERIFY2(torch::equal(got[i].second, reference[i].second), got[i].first.c_str());
      }
    }
    // One nn.Parameter: SETITEM + _rebuild_parameter.
    const auto path = assembleBin(dir / "parameter.bin", readBytes(test::dataPath("torch-pickles/parameter_single.pkl")));
    const auto got = io::readTorchBin(path);
    QCOMPARE(got.size(), size_t(1));
    QCOMPARE(got[0].first, kClassEmbedding);
    QVERIFY(torch::equal(got[0].second, reference[0].second));
  }

  void readsLibTorchPickleSave() {
    // torch::pickle_save writes the torch.save zip layout, wrapping the dict in
    // torch.jit._pickle.restore_type_tag and memoizing shared storages.
    TempDir dir("torchbin_pickle_save");
    const at::Tensor base = at::arange(24, at::kLong).reshape({4, 6});
    std::vector<std::pair<std::string, at::Tensor>> tensors = {
        {"f32", at::randn({3, 5})},
        {"f64", at::randn({2}, at::kDouble)},
        {"f16", at::randn({7}).to(at::kHalf)},
        {"bf16", at::randn({2, 2}).to(at::kBFloat16)},
        {"i64", base},
        {"i64.row", base[2]},                 // a view at an offset of base's storage
        {"i64.t", base.t()},                  // non-contiguous strides
        {"i32", at::arange(-4, 4, at::kInt)},
        {"i16", at::arange(-4, 4, at::kShort)},
        {"i8", at::arange(-4, 4, at::kChar)},
        {"u8", at::arange(250, 256, at::kLong).to(at::kByte)},
        {"bool", at::arange(5, at::kLong).remainder(2).to(at::kBool)},
        {"c64", at::randn({3}, at::kComplexFloat)},
        {"empty", at::empty({0, 4})},
        {"scalar", at::tensor(2.5f).reshape({})},
    };
    c10::Dict<std::string, at::Tensor> dict;
    for (const auto& [n, t] : tensors) dict.insert(n, t);
    const std::vector<char> bytes = torch::jit::pickle_save(c10::IValue(dict));
    const auto path = dir / "saved.bin";
    writeBytes(path, std::string_view(bytes.data(), bytes.size()));

    const auto got = io::readTorchBin(path);
    QCOMPARE(got.size(), tensors.size());
    std::map<std::string, at::Tensor> byName(got.begin(), got.end());
    for (const auto& [n, t] : tensors) {
      QVERIFY2(byName.count(n), n.c_str());
      const at::Tensor& g = byName.at(n);
      QCOMPARE(g.scalar_type(), t.scalar_type());
      QCOMPARE(g.sizes().vec(), t.sizes().vec());
      QCOMPARE(g.strides().vec(), t.strides().vec());
      QVERIFY2(torch::equal(g, t), n.c_str());
    }
    // Views of one storage stay views of one storage.
    QCOMPARE(byName.at("i64.row").storage().data(), byName.at("i64").storage().data());
    QCOMPARE(byName.at("i64.row").storage_offset(), int64_t(12));
    QCOMPARE(byName.at("i64.t").storage().data(), byName.at("i64").storage().data());
  }

  void refusesPicklesThatRunCode() {
    TempDir dir("torchbin_malicious");
    const std::filesystem::path marker = "/tmp/vlmscope_pwned";
    std::filesystem::remove(marker);

    // Control: the same assembly with the genuine data.pkl is a valid checkpoint, so the
    // refusals below come from the payload alone.
    QCOMPARE(io::readTorchBin(assembleBin(dir / "genuine.bin", fixturePickle())).size(), size_t(93));

    const std::pair<const char*, const char*> cases[] = {
        {"os_system_global.pkl", "os.system"},
        {"builtins_eval_stack_global.pkl", "builtins.eval"},
        {"subprocess_popen_reduce.pkl", "subprocess.Popen"},
    };
    for (const auto& [file, global] : cases) {
      const std::string pickle = readBytes(test::dataPath("bad-bin") / file);
      QVERIFY2(pickle.size() > 9000, file);  // the fixture's tensors + the payload
      const auto path = assembleBin(dir / (std::string(file) + ".bin"), pickle);
      VLM_EXPECT_ERROR(io::readTorchBin(path), ErrorCode::Unsafe, path.filename().string(), "refused",
                       std::string("references ") + global, "only tensors and plain containers are allowed");
      VLM_EXPECT_ERROR(io::scanTorchPickle(pickle, "x.bin"), ErrorCode::Unsafe, "x.bin", global);
    }
    QVERIFY2(!std::filesystem::exists(marker), "a payload ran");
  }

  void refusesOtherWaysToReachCode() {
    const std::string f = "crafted.bin";
    auto scan = [&](const std::string& pickle) { return io::scanTorchPickle(pickle, f); };
    // INST os.system (protocol 0 style call).
    VLM_EXPECT_ERROR(scan(Pickle().raw("(").str("id").raw("ios\nsystem\n").done()), ErrorCode::Unsafe, f, "os.system");
    // torch.storage._load_from_bytes runs a nested unrestricted torch.load.
    VLM_EXPECT_ERROR(scan(Pickle().global("torch.storage", "_load_from_bytes").str("x").raw("\x85R").done()), ErrorCode::Unsafe, f,
                     "torch.storage._load_from_bytes");
    // torch.save(model) pickles the model's class.
    VLM_EXPECT_ERROR(scan(Pickle().global("__main__", "Net").raw(")\x81").done()), ErrorCode::Unsafe, f, "__main__.Net");
    // An allowed global called in a way torch.save never does.
    VLM_EXPECT_ERROR(scan(Pickle().global("torch", "FloatStorage").integer(10).raw("\x85R").done()), ErrorCode::Unsafe, f,
                     "calls torch.FloatStorage");
    // BUILD (set state) on something other than an OrderedDict.
    VLM_EXPECT_ERROR(scan(Pickle().global("torch", "FloatStorage").raw("}b").done()), ErrorCode::Unsafe, f, "BUILD");
    VLM_EXPECT_ERROR(scan(classEmbeddingEntry().raw("}b").raw("u").done()), ErrorCode::Unsafe, f, "BUILD");
    // The copyreg extension registry can name any global.
    VLM_EXPECT_ERROR(scan(Pickle().raw("\x82\x01)R").done()), ErrorCode::Unsafe, f, "extension registry");
    // Well-known torch globals that are harmless but describe tensors VLMScope cannot build.
    VLM_EXPECT_ERROR(scan(Pickle().global("torch._utils", "_rebuild_tensor_v3").done()), ErrorCode::Unsupported, f,
                     "torch._utils._rebuild_tensor_v3", "safetensors");
    VLM_EXPECT_ERROR(scan(Pickle().global("torch", "QInt8Storage").done()), ErrorCode::Unsupported, f, "torch.QInt8Storage");
  }

  void refusesWhatIsNotAStateDictOfTensors() {
    const std::string f = "crafted.bin";
    auto scan = [&](const std::string& pickle) { return io::scanTorchPickle(pickle, f); };
    // The control: the builder's output is accepted.
    QCOMPARE(scan(classEmbeddingEntry().raw("u").done()).size(), size_t(1));
    // Decision: a non-tensor entry refuses the whole file (Unsupported, naming the entry)
    // rather than loading a checkpoint with something silently left out.
    VLM_EXPECT_TENSOR_ERROR(scan(classEmbeddingEntry().str("epoch").integer(3).raw("u").done()), ErrorCode::Unsupported, "epoch",
                            f, "an int, not a tensor");
    VLM_EXPECT_TENSOR_ERROR(scan(Pickle().raw("}(").str("model").raw("}").raw("u").done()), ErrorCode::Unsupported, "model", f,
                            "nested checkpoint");
    VLM_EXPECT_ERROR(scan(Pickle().raw("]").done()), ErrorCode::Unsupported, f, "a list, not a state dict");
    VLM_EXPECT_ERROR(scan(Pickle().raw("}(").integer(1).raw("Nu").done()), ErrorCode::Unsupported, f, "not a tensor name");
  }

  void rejectsMalformedPickles() {
    const std::string f = "crafted.bin";
    auto scan = [&](const std::string& pickle) { return io::scanTorchPickle(pickle, f); };
    const std::string whole = classEmbeddingEntry().raw("u").done();
    VLM_EXPECT_ERROR(scan(whole.substr(0, whole.size() - 1)), ErrorCode::Truncated, f, "STOP");
    VLM_EXPECT_ERROR(scan(whole.substr(0, 60)), ErrorCode::Truncated, f);
    VLM_EXPECT_ERROR(scan(Pickle().raw("\xff").done()), ErrorCode::Corrupt, f, "unknown pickle opcode 0xff");
    VLM_EXPECT_ERROR(scan(Pickle().raw("h\x07").done()), ErrorCode::Corrupt, f, "memo entry 7");
    VLM_EXPECT_ERROR(scan(Pickle().raw("t").done()), ErrorCode::Corrupt, f, "MARK");
    VLM_EXPECT_ERROR(scan(Pickle().raw("u").done()), ErrorCode::Corrupt, f);
    VLM_EXPECT_ERROR(scan(Pickle().raw("}}").done()), ErrorCode::Corrupt, f, "2 values on the stack");
    VLM_EXPECT_ERROR(scan(Pickle().raw("}(").str("a").raw("u").done()), ErrorCode::Corrupt, f, "odd number");
    // A tensor view that reaches past its storage; a storage described twice differently.
    VLM_EXPECT_ERROR(scan(Pickle().raw("}(").str("w").tensor("0", 32, 8, {5, 5}, {5, 1}).raw("u").done()), ErrorCode::Corrupt, f,
                     "past the end of its storage '0'");
    VLM_EXPECT_ERROR(scan(classEmbeddingEntry().str("w").tensor("0", 64, 0, {64}, {1}).raw("u").done()), ErrorCode::Corrupt, f,
                     "storage '0' is described twice");
    VLM_EXPECT_TENSOR_ERROR(scan(classEmbeddingEntry().str(kClassEmbedding).tensor("0", 32, 0, {32}, {1}).raw("u").done()),
                            ErrorCode::Corrupt, kClassEmbedding, f, "appears twice");
    VLM_EXPECT_ERROR(scan(Pickle().raw("}(").str("w").tensor("0", 32, 0, {32}, {1}, "FloatStorage").raw("u").done().insert(2, "\x80\x07")),
                     ErrorCode::Unsupported, f, "protocol 7");
    // Deep nesting and self-reference are evaluated and freed without recursion.
    VLM_EXPECT_ERROR(scan(Pickle().raw("N").raw(std::string(300'000, '\x85')).done()), ErrorCode::Unsupported, f, "a tuple");
    VLM_EXPECT_ERROR(scan(Pickle().raw(std::string_view("]q\x00h\x00" "a", 6)).done()), ErrorCode::Unsupported, f, "a list");
  }

  void checksStorageRecordsAgainstThePickle() {
    TempDir dir("torchbin_records");
    // The pickle says storage 0 holds 1000 floats; its record has 32 (128 bytes). LibTorch's
    // own unpickler would size the storage from the pickle and read past the record.
    auto path = assembleBin(dir / "oversized.bin", Pickle().raw("}(").str("w").tensor("0", 1000, 0, {1000}, {1}).raw("u").done());
    VLM_EXPECT_TENSOR_ERROR(io::readTorchBin(path), ErrorCode::Corrupt, "w", "oversized.bin", "data/0", "128 bytes");
    path = assembleBin(dir / "missing.bin", classEmbeddingEntry().raw("u").done(), {"data/0"});
    VLM_EXPECT_TENSOR_ERROR(io::readTorchBin(path), ErrorCode::Corrupt, kClassEmbedding, "missing.bin", "data/0", "missing");
  }

  void rejectsDamagedAndForeignContainers() {
    TempDir dir("torchbin_containers");
    const std::string good = readBytes(kFixtureBin);
    VLM_EXPECT_ERROR(io::readTorchBin(dir / "absent.bin"), ErrorCode::NotFound, "absent.bin");
    writeBytes(dir / "empty.bin", "");
    VLM_EXPECT_ERROR(io::readTorchBin(dir / "empty.bin"), ErrorCode::Truncated, "empty.bin");
    writeBytes(dir / "half.bin", std::string_view(good).substr(0, good.size() / 2));
    VLM_EXPECT_ERROR(io::readTorchBin(dir / "half.bin"), ErrorCode::Truncated, "half.bin", "truncated");
    writeBytes(dir / "short.bin", std::string_view(good).substr(0, good.size() - 1));
    VLM_EXPECT_ERROR(io::readTorchBin(dir / "short.bin"), ErrorCode::Truncated, "short.bin");
    // The legacy format: the pickled magic number 0x1950a86a20f9469cfc6c, the protocol
    // version, system info, the object, the storage keys, then raw storages.
    std::string legacy = "\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19.\x80\x02M\xe9\x03.";
    legacy += Pickle().raw("}").done();
    writeBytes(dir / "legacy.bin", legacy);
    VLM_EXPECT_ERROR(io::readTorchBin(dir / "legacy.bin"), ErrorCode::Unsupported, "legacy.bin", "legacy",
                     "re-save with a current PyTorch");
    writeBytes(dir / "bare.bin", fixturePickle());
    VLM_EXPECT_ERROR(io::readTorchBin(dir / "bare.bin"), ErrorCode::Unsupported, "bare.bin", "re-save with a current PyTorch");
    writeBytes(dir / "noise.bin", "this is not a checkpoint at all");
    VLM_EXPECT_ERROR(io::readTorchBin(dir / "noise.bin"), ErrorCode::Corrupt, "noise.bin", "not a PyTorch checkpoint");
    // A zip whose entries are not in a folder; one in torch's layout without data.pkl; a
    // TorchScript archive.
    VLM_EXPECT_ERROR(io::readTorchBin(test::dataPath("bad-bin/not_torch.zip")), ErrorCode::Unsupported, "not_torch.zip",
                     "not a torch.save checkpoint");
    {
      caffe2::serialize::PyTorchStreamWriter writer((dir / "nopickle.bin").string());
      writer.writeRecord("notes.txt", "hello", 5);
      writer.writeEndOfFile();
    }
    VLM_EXPECT_ERROR(io::readTorchBin(dir / "nopickle.bin"), ErrorCode::Unsupported, "nopickle.bin", "no data.pkl");
    {
      caffe2::serialize::PyTorchStreamWriter writer((dir / "script.pt").string());
      const std::string pkl = Pickle().raw("}").done();
      writer.writeRecord("data.pkl", pkl.data(), pkl.size());
      writer.writeRecord("constants.pkl", pkl.data(), pkl.size());
      writer.writeRecord("code/__torch__.py", "", 0);
      writer.writeEndOfFile();
    }
    VLM_EXPECT_ERROR(io::readTorchBin(dir / "script.pt"), ErrorCode::Unsupported, "script.pt", "TorchScript");
  }
};

QTEST_GUILESS_MAIN(TestTorchBin)
#include "test_torch_bin.moc"
