#include "io/torch_bin.h"

#include <torch/csrc/jit/serialization/unpickler.h>

#include <ATen/ATen.h>
#include <c10/core/ScalarType.h>
#include <c10/util/Exception.h>
#include <caffe2/serialize/inline_container.h>

#include <array>
#include <charconv>
#include <cstring>
#include <fstream>
#include <limits>
#include <map>
#include <memory>
#include <set>
#include <unordered_map>

#include "common/error.h"

// Why not torch::jit::pickle_load / Unpickler: in LibTorch 1.13 it reads only protocol 2 and
// lacks SETITEM and APPEND (a one-tensor shard fails), turns collections.OrderedDict into None
// (every torch.save(model.state_dict()) fails, pytorch/pytorch#100741), cannot rebuild
// torch._utils._rebuild_parameter, and sizes each storage from the pickle without comparing
// it with the record it reads (a crafted file makes it read past the record). The evaluator
// below is what the safety scan has to be anyway; it builds tensors the way LibTorch does
// (a non-resizable storage over the record, then set_ with offset/sizes/strides).

namespace vlm::io {

namespace {

// ---------------------------------------------------------------------------------------------
// Pickle opcodes (Python's Lib/pickle.py), protocols 0-5.
namespace op {
constexpr uint8_t MARK = '(', STOP = '.', POP = '0', POP_MARK = '1', DUP = '2', FLOAT = 'F',
                  INT = 'I', BININT = 'J', BININT1 = 'K', LONG = 'L', BININT2 = 'M', NONE = 'N',
                  PERSID = 'P', BINPERSID = 'Q', REDUCE = 'R', STRING = 'S', BINSTRING = 'T',
                  SHORT_BINSTRING = 'U', UNICODE = 'V', BINUNICODE = 'X', APPEND = 'a', BUILD = 'b',
                  GLOBAL = 'c', DICT = 'd', EMPTY_DICT = '}', APPENDS = 'e', GET = 'g',
                  BINGET = 'h', INST = 'i', LONG_BINGET = 'j', LIST = 'l', EMPTY_LIST = ']',
                  OBJ = 'o', PUT = 'p', BINPUT = 'q', LONG_BINPUT = 'r', SETITEM = 's', TUPLE = 't',
                  EMPTY_TUPLE = ')', SETITEMS = 'u', BINFLOAT = 'G',
                  // protocol 2
                  PROTO = 0x80, NEWOBJ = 0x81, EXT1 = 0x82, EXT2 = 0x83, EXT4 = 0x84, TUPLE1 = 0x85,
                  TUPLE2 = 0x86, TUPLE3 = 0x87, NEWTRUE = 0x88, NEWFALSE = 0x89, LONG1 = 0x8a,
                  LONG4 = 0x8b,
                  // protocol 3
                  BINBYTES = 'B', SHORT_BINBYTES = 'C',
                  // protocol 4
                  SHORT_BINUNICODE = 0x8c, BINUNICODE8 = 0x8d, BINBYTES8 = 0x8e, EMPTY_SET = 0x8f,
                  ADDITEMS = 0x90, FROZENSET = 0x91, NEWOBJ_EX = 0x92, STACK_GLOBAL = 0x93,
                  MEMOIZE = 0x94, FRAME = 0x95,
                  // protocol 5
                  BYTEARRAY8 = 0x96, NEXT_BUFFER = 0x97, READONLY_BUFFER = 0x98;
}  // namespace op

// ---------------------------------------------------------------------------------------------
// What the globals of a pickle may be.

constexpr const char* kRebuildTensor = "torch._utils._rebuild_tensor_v2";
constexpr const char* kRebuildParameter = "torch._utils._rebuild_parameter";
constexpr const char* kOrderedDict = "collections.OrderedDict";
constexpr const char* kRestoreTypeTag = "torch.jit._pickle.restore_type_tag";

struct StorageType {
  const char* name;
  at::ScalarType dtype;
};
constexpr StorageType kStorageTypes[] = {
    {"DoubleStorage", at::kDouble},   {"FloatStorage", at::kFloat},
    {"HalfStorage", at::kHalf},       {"BFloat16Storage", at::kBFloat16},
    {"LongStorage", at::kLong},       {"IntStorage", at::kInt},
    {"ShortStorage", at::kShort},     {"CharStorage", at::kChar},
    {"ByteStorage", at::kByte},       {"BoolStorage", at::kBool},
    {"ComplexFloatStorage", at::kComplexFloat}, {"ComplexDoubleStorage", at::kComplexDouble},
};

// torch globals that are harmless but describe tensors VLMScope does not rebuild: refused as
// Unsupported (with advice) rather than Unsafe.
const std::set<std::string>& knownUnsupportedGlobals() {
  static const std::set<std::string> names = [] {
    std::set<std::string> s;
    for (const char* n : {"_rebuild_tensor", "_rebuild_tensor_v3", "_rebuild_parameter_with_state",
                          "_rebuild_qtensor", "_rebuild_sparse_tensor", "_rebuild_sparse_csr_tensor",
                          "_rebuild_nested_tensor", "_rebuild_wrapper_subclass",
                          "_rebuild_meta_tensor_no_storage", "_rebuild_device_tensor_from_numpy",
                          "_rebuild_xla_tensor", "_rebuild_mlc_tensor"})
      s.insert(std::string("torch._utils.") + n);
    s.insert("torch._tensor._rebuild_from_type");
    s.insert("torch._tensor._rebuild_from_type_v2");
    s.insert("torch.serialization._get_layout");
    for (const char* n : {"UntypedStorage", "TypedStorage", "ComplexHalfStorage", "QInt8Storage",
                          "QUInt8Storage", "QInt32Storage", "QUInt4x2Storage", "QUInt2x4Storage",
                          "Tensor", "Size", "device", "layout", "strided", "sparse_coo",
                          "sparse_csr", "float32", "float", "float64", "double", "float16", "half",
                          "bfloat16", "int64", "long", "int32", "int", "int16", "short", "int8",
                          "uint8", "uint16", "uint32", "uint64", "bool", "complex32", "chalf",
                          "complex64", "cfloat", "complex128", "cdouble", "float8_e4m3fn",
                          "float8_e5m2", "float8_e4m3fnuz", "float8_e5m2fnuz", "qint8", "quint8",
                          "qint32", "quint4x2", "quint2x4"})
      s.insert(std::string("torch.") + n);
    s.insert("torch.nn.parameter.Parameter");
    s.insert("torch.storage.UntypedStorage");
    s.insert("torch.storage.TypedStorage");
    return s;
  }();
  return names;
}

// ---------------------------------------------------------------------------------------------
// The values the evaluator builds. Containers are shared (memo references alias them).

enum class Kind { None, Bool, Int, BigInt, Float, Str, Bytes, Tuple, List, Dict, Set, Global, Storage, Tensor };

const char* describeKind(Kind k) {
  switch (k) {
    case Kind::None: return "None";
    case Kind::Bool: return "a bool";
    case Kind::Int: return "an int";
    case Kind::BigInt: return "an integer wider than 64 bits";
    case Kind::Float: return "a float";
    case Kind::Str: return "a string";
    case Kind::Bytes: return "bytes";
    case Kind::Tuple: return "a tuple";
    case Kind::List: return "a list";
    case Kind::Dict: return "a dict";
    case Kind::Set: return "a set";
    case Kind::Global: return "a global";
    case Kind::Storage: return "a storage";
    case Kind::Tensor: return "a tensor";
  }
  return "a value";
}

struct Value;
using ValuePtr = std::shared_ptr<Value>;

struct Value {
  Kind kind = Kind::None;
  int64_t i = 0;                // Bool, Int
  double f = 0;                 // Float
  std::string s;                // Str, Bytes; Global: "module.name"; Storage: record key
  std::vector<ValuePtr> items;  // Tuple, List, Set; Dict: key, value, key, value, ...
  bool ordered = false;         // Dict made by collections.OrderedDict
  bool storageType = false;     // Global naming torch.<Type>Storage
  at::ScalarType dtype = at::kFloat;  // Global storage type, Storage, Tensor
  int64_t numel = 0;            // Storage: elements
  ValuePtr storage;             // Tensor
  int64_t offset = 0;           // Tensor, in elements
  std::vector<int64_t> sizes, strides;  // Tensor

  explicit Value(Kind k) : kind(k) {}
};

ValuePtr make(Kind k) { return std::make_shared<Value>(k); }

// Python decodes pickled str as UTF-8; so do we (names end up in JSON and on screen).
bool validUtf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t n = 0;
    uint32_t cp = 0;
    if ((c & 0xE0) == 0xC0) { n = 1; cp = c & 0x1Fu; }
    else if ((c & 0xF0) == 0xE0) { n = 2; cp = c & 0x0Fu; }
    else if ((c & 0xF8) == 0xF0) { n = 3; cp = c & 0x07u; }
    else return false;
    if (n >= s.size() - i) return false;
    for (std::size_t k = 1; k <= n; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3Fu);
    }
    const bool overlong = (n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000);
    if (overlong || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += n + 1;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------

class PickleEvaluator {
 public:
  PickleEvaluator(std::string_view data, std::string file) : data_(data), file_(std::move(file)) {}
  ~PickleEvaluator() {
    // Pickles can build reference cycles (a list containing itself) and nestings a million
    // deep (TUPLE1 after TUPLE1): empty every container first, so that nothing is freed
    // recursively and nothing leaks.
    for (const auto& c : containers_) c->items.clear();
  }
  PickleEvaluator(const PickleEvaluator&) = delete;
  PickleEvaluator& operator=(const PickleEvaluator&) = delete;

  std::vector<TorchPickleTensor> run() {
    while (true) {
      if (pos_ >= data_.size())
        fail(ErrorCode::Truncated, "ends without a STOP opcode (truncated?)");
      opPos_ = pos_;
      const uint8_t code = byte();
      if (code == op::STOP) break;
      step(code);
    }
    if (!marks_.empty()) fail(ErrorCode::Corrupt, "a MARK is still open at STOP");
    if (stack_.size() != 1)
      fail(ErrorCode::Corrupt, std::to_string(stack_.size()) + " values on the stack at STOP, expected 1");
    return stateDict(stack_.back());
  }

 private:
  [[noreturn]] void fail(ErrorCode code, const std::string& why, const std::string& tensor = {}) const {
    throw Error(code, file_ + ": data.pkl: " + why + " (opcode at byte " + std::to_string(opPos_) + ")", file_, tensor);
  }
  [[noreturn]] void refuse(const std::string& what) const {
    throw Error(ErrorCode::Unsafe, file_ + ": refused: the pickle " + what + "; only tensors and plain containers are allowed", file_);
  }

  // -- reading the byte stream
  uint8_t byte() {
    if (pos_ >= data_.size()) fail(ErrorCode::Truncated, "ends inside an opcode");
    return static_cast<uint8_t>(data_[pos_++]);
  }
  std::string_view take(uint64_t n) {
    if (n > data_.size() - pos_) fail(ErrorCode::Truncated, "ends inside an opcode (" + std::to_string(n) + " bytes announced)");
    std::string_view s = data_.substr(pos_, n);
    pos_ += n;
    return s;
  }
  uint64_t littleEndian(int n) {
    const std::string_view b = take(n);
    uint64_t v = 0;
    for (int k = n - 1; k >= 0; --k) v = (v << 8) | static_cast<uint8_t>(b[k]);
    return v;
  }
  std::string_view line() {
    const std::size_t nl = data_.find('\n', pos_);
    if (nl == std::string_view::npos) fail(ErrorCode::Truncated, "ends inside a text opcode");
    std::string_view s = data_.substr(pos_, nl - pos_);
    pos_ = nl + 1;
    return s;
  }
  int64_t decimal(std::string_view text) {
    int64_t v = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || end != text.data() + text.size())
      fail(ErrorCode::Corrupt, "'" + std::string(text) + "' is not a decimal integer");
    return v;
  }

  // -- the stack. Like Python's unpickler, a MARK starts a new frame that the opcodes working
  // on the top of the stack cannot reach below.
  std::size_t frameStart() const { return marks_.empty() ? 0 : marks_.back(); }
  void push(ValuePtr v) { stack_.push_back(std::move(v)); }
  ValuePtr pop() {
    if (stack_.size() <= frameStart()) fail(ErrorCode::Corrupt, "stack underflow");
    ValuePtr v = std::move(stack_.back());
    stack_.pop_back();
    return v;
  }
  const ValuePtr& top() const {
    if (stack_.size() <= frameStart()) fail(ErrorCode::Corrupt, "stack underflow");
    return stack_.back();
  }
  std::vector<ValuePtr> popToMark() {
    if (marks_.empty()) fail(ErrorCode::Corrupt, "no MARK to collect items from");
    const std::size_t start = marks_.back();
    marks_.pop_back();
    std::vector<ValuePtr> items(std::make_move_iterator(stack_.begin() + static_cast<std::ptrdiff_t>(start)),
                                std::make_move_iterator(stack_.end()));
    stack_.resize(start);
    return items;
  }
  ValuePtr container(Kind k, std::vector<ValuePtr> items = {}) {
    ValuePtr v = make(k);
    v->items = std::move(items);
    containers_.push_back(v);
    return v;
  }
  Value& expect(const ValuePtr& v, Kind k, const char* what) {
    if (v->kind != k) fail(ErrorCode::Corrupt, std::string(what) + " expects " + describeKind(k) + ", found " + describeKind(v->kind));
    return *v;
  }
  ValuePtr str(std::string_view s, bool checkUtf8) {
    if (checkUtf8 && !validUtf8(s)) fail(ErrorCode::Corrupt, "a string is not valid UTF-8");
    ValuePtr v = make(Kind::Str);
    v->s = s;
    return v;
  }
  ValuePtr integer(int64_t i) {
    ValuePtr v = make(Kind::Int);
    v->i = i;
    return v;
  }
  ValuePtr boolean(bool b) {
    ValuePtr v = make(Kind::Bool);
    v->i = b;
    return v;
  }
  // Little-endian two's complement of LONG1 / LONG4.
  ValuePtr longInteger(std::string_view b) {
    if (b.empty()) return integer(0);
    if (b.size() > 8) {
      // Wider than 64 bits unless the extra bytes only repeat the sign.
      const uint8_t sign = (static_cast<uint8_t>(b.back()) & 0x80) ? 0xFF : 0x00;
      for (std::size_t k = 8; k < b.size(); ++k)
        if (static_cast<uint8_t>(b[k]) != sign) return make(Kind::BigInt);
      if (((static_cast<uint8_t>(b[7]) & 0x80) ? 0xFF : 0x00) != sign) return make(Kind::BigInt);
      b = b.substr(0, 8);
    }
    uint64_t u = 0;
    for (std::size_t k = b.size(); k-- > 0;) u = (u << 8) | static_cast<uint8_t>(b[k]);
    if (b.size() < 8 && (static_cast<uint8_t>(b.back()) & 0x80)) u |= ~uint64_t(0) << (8 * b.size());
    int64_t i = 0;
    std::memcpy(&i, &u, 8);
    return integer(i);
  }
  // Protocol-0 quoted strings with escapes are not worth an escape decoder: nothing writes
  // state dicts with protocol 0.
  ValuePtr textString(std::string_view s, bool quoted) {
    if (quoted) {
      if (s.size() < 2 || s.front() != s.back() || (s.front() != '\'' && s.front() != '"'))
        fail(ErrorCode::Corrupt, "the STRING opcode argument is not quoted");
      s = s.substr(1, s.size() - 2);
    }
    for (char c : s)
      if (c == '\\' || static_cast<unsigned char>(c) >= 0x80)
        fail(ErrorCode::Unsupported, "protocol-0 strings with escapes are not supported; re-save with torch.save (pickle protocol 2)");
    return str(s, false);
  }

  // -- globals and calls
  ValuePtr global(const std::string& module, const std::string& name) {
    const std::string full = module + "." + name;
    ValuePtr g = make(Kind::Global);
    g->s = full;
    if (full == kRebuildTensor || full == kRebuildParameter || full == kOrderedDict || full == kRestoreTypeTag)
      return g;
    if (module == "torch")
      for (const auto& st : kStorageTypes)
        if (name == st.name) {
          g->storageType = true;
          g->dtype = st.dtype;
          return g;
        }
    if (knownUnsupportedGlobals().count(full))
      throw Error(ErrorCode::Unsupported, file_ + ": the pickle uses " + full +
                  ", a kind of tensor VLMScope does not read (quantized, sparse, a tensor subclass, a dtype LibTorch 1.13 lacks, "
                  "or a newer PyTorch layout); convert the checkpoint to safetensors", file_);
    refuse("references " + full);
  }

  ValuePtr call(const ValuePtr& callable, const ValuePtr& args, const char* opcode) {
    if (callable->kind != Kind::Global)
      fail(ErrorCode::Corrupt, std::string(opcode) + " on " + describeKind(callable->kind) + ", which is not a function");
    const std::string& name = callable->s;
    if (callable->storageType) refuse("calls " + name);
    if (args->kind != Kind::Tuple) fail(ErrorCode::Corrupt, std::string(opcode) + " arguments of " + name + " are not a tuple");
    const auto& a = args->items;
    if (name == kRebuildTensor) return rebuildTensor(a);
    if (name == kRebuildParameter) {
      // _rebuild_parameter(data, requires_grad, backward_hooks): the Parameter is its data.
      if (a.size() != 3 || a[0]->kind != Kind::Tensor || a[1]->kind != Kind::Bool || !emptyHooks(*a[2]))
        fail(ErrorCode::Corrupt, "unexpected arguments to " + name);
      return a[0];
    }
    if (name == kOrderedDict) {
      if (!a.empty()) fail(ErrorCode::Unsupported, "collections.OrderedDict is called with arguments (torch.save never does)");
      ValuePtr d = container(Kind::Dict);
      d->ordered = true;
      return d;
    }
    if (name == kRestoreTypeTag) {
      // restore_type_tag(container, "Dict[str, Tensor]") returns the container.
      if (a.size() != 2 || (a[0]->kind != Kind::Dict && a[0]->kind != Kind::List) || a[1]->kind != Kind::Str)
        fail(ErrorCode::Corrupt, "unexpected arguments to " + name);
      return a[0];
    }
    refuse("calls " + name);  // unreachable: global() only lets the names above through
  }

  // cls.__new__(cls, *args) for NEWOBJ / NEWOBJ_EX.
  ValuePtr newObject(const ValuePtr& cls, const ValuePtr& args) {
    if (cls->kind != Kind::Global) fail(ErrorCode::Corrupt, "NEWOBJ on " + std::string(describeKind(cls->kind)) + ", which is not a class");
    if (cls->storageType) refuse("creates " + cls->s);
    if (cls->s != kOrderedDict) fail(ErrorCode::Corrupt, "NEWOBJ on " + cls->s + ", which is not a class");
    if (args->kind != Kind::Tuple || !args->items.empty()) fail(ErrorCode::Unsupported, "collections.OrderedDict is created with arguments");
    ValuePtr d = container(Kind::Dict);
    d->ordered = true;
    return d;
  }

  static bool emptyHooks(const Value& v) {
    return v.kind == Kind::None || (v.kind == Kind::Dict && v.items.empty());
  }

  static bool intTuple(const Value& v, std::vector<int64_t>& out) {
    if (v.kind != Kind::Tuple) return false;
    out.clear();
    for (const auto& e : v.items) {
      if (e->kind != Kind::Int || e->i < 0) return false;
      out.push_back(e->i);
    }
    return true;
  }

  // _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
  ValuePtr rebuildTensor(const std::vector<ValuePtr>& a) {
    if (a.size() != 6 && a.size() != 7) fail(ErrorCode::Corrupt, "_rebuild_tensor_v2 takes 6 or 7 arguments, got " + std::to_string(a.size()));
    ValuePtr t = make(Kind::Tensor);
    if (a[0]->kind != Kind::Storage) fail(ErrorCode::Corrupt, "_rebuild_tensor_v2: the first argument is " + std::string(describeKind(a[0]->kind)) + ", not a storage");
    if (a[1]->kind != Kind::Int || a[1]->i < 0) fail(ErrorCode::Corrupt, "_rebuild_tensor_v2: the storage offset is not a non-negative int");
    if (!intTuple(*a[2], t->sizes)) fail(ErrorCode::Corrupt, "_rebuild_tensor_v2: the size is not a tuple of non-negative ints");
    if (!intTuple(*a[3], t->strides) || t->strides.size() != t->sizes.size())
      fail(ErrorCode::Corrupt, "_rebuild_tensor_v2: the stride is not a tuple of non-negative ints as long as the size");
    if (a[4]->kind != Kind::Bool) fail(ErrorCode::Corrupt, "_rebuild_tensor_v2: requires_grad is not a bool");
    if (!emptyHooks(*a[5])) fail(ErrorCode::Unsupported, "a tensor is saved with backward hooks");
    if (a.size() == 7 && a[6]->kind != Kind::Dict && a[6]->kind != Kind::None)
      fail(ErrorCode::Corrupt, "_rebuild_tensor_v2: the metadata is not a dict");
    t->storage = a[0];
    t->dtype = a[0]->dtype;
    t->offset = a[1]->i;
    // The view must lie inside its storage (LibTorch would refuse it later, with a less clear message).
    unsigned __int128 numel = 1, last = static_cast<unsigned __int128>(t->offset);
    for (std::size_t d = 0; d < t->sizes.size(); ++d) {
      numel *= static_cast<uint64_t>(t->sizes[d]);
      if (numel > (static_cast<unsigned __int128>(1) << 62)) fail(ErrorCode::Corrupt, "a tensor shape is too large");
      if (t->sizes[d] > 0) last += static_cast<unsigned __int128>(t->sizes[d] - 1) * static_cast<uint64_t>(t->strides[d]);
    }
    const auto storageNumel = static_cast<unsigned __int128>(t->storage->numel);
    // An empty view needs no element, only an offset inside (or at the end of) the storage.
    const bool fits = numel == 0 ? static_cast<unsigned __int128>(t->offset) <= storageNumel : last < storageNumel;
    if (!fits)
      fail(ErrorCode::Corrupt, "a tensor view (offset " + std::to_string(t->offset) + ") reaches past the end of its storage '" +
                                   t->storage->s + "' (" + std::to_string(t->storage->numel) + " elements)");
    return t;
  }

  // persistent_load(('storage', torch.<Type>Storage, key, location, numel))
  ValuePtr persistentLoad(const ValuePtr& pid) {
    if (pid->kind != Kind::Tuple || pid->items.empty()) fail(ErrorCode::Corrupt, "a persistent id is not a tuple");
    const auto& p = pid->items;
    if (p[0]->kind != Kind::Str || p[0]->s != "storage") fail(ErrorCode::Unsupported, "a persistent id that is not a storage");
    if (p.size() != 5 || p[1]->kind != Kind::Global || !p[1]->storageType || p[2]->kind != Kind::Str ||
        p[3]->kind != Kind::Str || p[4]->kind != Kind::Int || p[4]->i < 0)
      fail(ErrorCode::Corrupt, "a storage persistent id is not ('storage', torch.<Type>Storage, key, location, numel)");
    const at::ScalarType dtype = p[1]->dtype;
    const int64_t numel = p[4]->i;
    if (static_cast<uint64_t>(numel) > (uint64_t(1) << 62) / c10::elementSize(dtype))
      fail(ErrorCode::Corrupt, "storage '" + p[2]->s + "' is too large");
    const std::string& key = p[2]->s;
    if (key.empty() || key.find('/') != std::string::npos || key.find('\0') != std::string::npos)
      fail(ErrorCode::Corrupt, "storage key '" + key + "' is not a record name");
    auto it = storages_.find(key);
    if (it != storages_.end()) {
      if (it->second->dtype != dtype || it->second->numel != numel)
        fail(ErrorCode::Corrupt, "storage '" + key + "' is described twice with different types or sizes");
      return it->second;
    }
    ValuePtr s = make(Kind::Storage);
    s->s = key;
    s->dtype = dtype;
    s->numel = numel;
    storages_.emplace(key, s);
    return s;
  }

  // -- one opcode
  void step(uint8_t code) {
    switch (code) {
      case op::PROTO: {
        const uint8_t proto = byte();
        if (proto > 5) fail(ErrorCode::Unsupported, "pickle protocol " + std::to_string(proto) + " is newer than 5");
        break;
      }
      case op::FRAME: {
        const uint64_t n = littleEndian(8);
        if (n > data_.size() - pos_) fail(ErrorCode::Truncated, "a frame reaches past the end");
        break;  // frames only group opcodes
      }
      case op::MARK: marks_.push_back(stack_.size()); break;
      case op::POP:
        if (stack_.size() > frameStart()) stack_.pop_back();
        else popToMark();
        break;
      case op::POP_MARK: popToMark(); break;
      case op::DUP: push(top()); break;

      case op::NONE: push(make(Kind::None)); break;
      case op::NEWTRUE: push(boolean(true)); break;
      case op::NEWFALSE: push(boolean(false)); break;
      case op::INT: {
        const std::string_view t = line();
        if (t == "00") push(boolean(false));
        else if (t == "01") push(boolean(true));
        else push(integer(decimal(t)));
        break;
      }
      case op::LONG: {
        std::string_view t = line();
        if (!t.empty() && t.back() == 'L') t.remove_suffix(1);
        int64_t v = 0;
        const auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
        if (ec == std::errc::result_out_of_range) push(make(Kind::BigInt));
        else if (ec != std::errc() || end != t.data() + t.size()) fail(ErrorCode::Corrupt, "LONG argument is not an integer");
        else push(integer(v));
        break;
      }
      case op::BININT: push(integer(static_cast<int32_t>(littleEndian(4)))); break;
      case op::BININT1: push(integer(byte())); break;
      case op::BININT2: push(integer(static_cast<int64_t>(littleEndian(2)))); break;
      case op::LONG1: push(longInteger(take(byte()))); break;
      case op::LONG4: {
        const auto n = static_cast<int32_t>(littleEndian(4));
        if (n < 0) fail(ErrorCode::Corrupt, "LONG4 with a negative length");
        push(longInteger(take(static_cast<uint64_t>(n))));
        break;
      }
      case op::FLOAT: {
        const std::string t(line());
        char* end = nullptr;
        ValuePtr v = make(Kind::Float);
        v->f = std::strtod(t.c_str(), &end);
        if (t.empty() || end != t.c_str() + t.size()) fail(ErrorCode::Corrupt, "FLOAT argument is not a number");
        push(std::move(v));
        break;
      }
      case op::BINFLOAT: {
        const std::string_view b = take(8);
        uint64_t u = 0;
        for (char c : b) u = (u << 8) | static_cast<uint8_t>(c);  // big-endian
        ValuePtr v = make(Kind::Float);
        std::memcpy(&v->f, &u, 8);
        push(std::move(v));
        break;
      }

      case op::STRING: push(textString(line(), true)); break;
      case op::UNICODE: push(textString(line(), false)); break;
      case op::BINSTRING: {
        const auto n = static_cast<int32_t>(littleEndian(4));
        if (n < 0) fail(ErrorCode::Corrupt, "BINSTRING with a negative length");
        push(str(take(static_cast<uint64_t>(n)), true));
        break;
      }
      case op::SHORT_BINSTRING: push(str(take(byte()), true)); break;
      case op::BINUNICODE: push(str(take(littleEndian(4)), true)); break;
      case op::SHORT_BINUNICODE: push(str(take(byte()), true)); break;
      case op::BINUNICODE8: push(str(take(littleEndian(8)), true)); break;
      case op::BINBYTES:
      case op::SHORT_BINBYTES:
      case op::BINBYTES8:
      case op::BYTEARRAY8: {
        const int width = code == op::SHORT_BINBYTES ? 1 : code == op::BINBYTES ? 4 : 8;
        ValuePtr v = make(Kind::Bytes);
        v->s = take(littleEndian(width));
        push(std::move(v));
        break;
      }

      case op::EMPTY_TUPLE: push(container(Kind::Tuple)); break;
      case op::TUPLE: push(container(Kind::Tuple, popToMark())); break;
      case op::TUPLE1:
      case op::TUPLE2:
      case op::TUPLE3: {
        const int n = code - op::TUPLE1 + 1;
        std::vector<ValuePtr> items(n);
        for (int k = n - 1; k >= 0; --k) items[k] = pop();
        push(container(Kind::Tuple, std::move(items)));
        break;
      }
      case op::EMPTY_LIST: push(container(Kind::List)); break;
      case op::LIST: push(container(Kind::List, popToMark())); break;
      case op::APPEND: {
        ValuePtr v = pop();
        expect(top(), Kind::List, "APPEND").items.push_back(std::move(v));
        break;
      }
      case op::APPENDS: {
        std::vector<ValuePtr> items = popToMark();
        auto& list = expect(top(), Kind::List, "APPENDS").items;
        list.insert(list.end(), items.begin(), items.end());
        break;
      }
      case op::EMPTY_DICT: push(container(Kind::Dict)); break;
      case op::DICT: {
        std::vector<ValuePtr> items = popToMark();
        if (items.size() % 2) fail(ErrorCode::Corrupt, "DICT with an odd number of items");
        push(container(Kind::Dict, std::move(items)));
        break;
      }
      case op::SETITEM: {
        ValuePtr v = pop();
        ValuePtr k = pop();
        auto& d = expect(top(), Kind::Dict, "SETITEM").items;
        d.push_back(std::move(k));
        d.push_back(std::move(v));
        break;
      }
      case op::SETITEMS: {
        std::vector<ValuePtr> items = popToMark();
        if (items.size() % 2) fail(ErrorCode::Corrupt, "SETITEMS with an odd number of items");
        auto& d = expect(top(), Kind::Dict, "SETITEMS").items;
        d.insert(d.end(), items.begin(), items.end());
        break;
      }
      case op::EMPTY_SET: push(container(Kind::Set)); break;
      case op::ADDITEMS: {
        std::vector<ValuePtr> items = popToMark();
        auto& s = expect(top(), Kind::Set, "ADDITEMS").items;
        s.insert(s.end(), items.begin(), items.end());
        break;
      }
      case op::FROZENSET: push(container(Kind::Set, popToMark())); break;

      case op::PUT: memo_[static_cast<uint64_t>(decimal(line()))] = top(); break;
      case op::BINPUT: memo_[byte()] = top(); break;
      case op::LONG_BINPUT: memo_[littleEndian(4)] = top(); break;
      case op::MEMOIZE: memo_[memo_.size()] = top(); break;
      case op::GET: getMemo(static_cast<uint64_t>(decimal(line()))); break;
      case op::BINGET: getMemo(byte()); break;
      case op::LONG_BINGET: getMemo(littleEndian(4)); break;

      case op::GLOBAL: {
        const std::string module(line());
        const std::string name(line());
        push(global(module, name));
        break;
      }
      case op::STACK_GLOBAL: {
        ValuePtr name = pop();
        ValuePtr module = pop();
        if (module->kind != Kind::Str || name->kind != Kind::Str) fail(ErrorCode::Corrupt, "STACK_GLOBAL operands are not strings");
        push(global(module->s, name->s));
        break;
      }
      case op::INST: {
        const std::string module(line());
        const std::string name(line());
        ValuePtr cls = global(module, name);
        ValuePtr args = container(Kind::Tuple, popToMark());
        push(call(cls, args, "INST"));
        break;
      }
      case op::OBJ: {
        std::vector<ValuePtr> items = popToMark();
        if (items.empty()) fail(ErrorCode::Corrupt, "OBJ without a class");
        ValuePtr cls = items.front();
        ValuePtr args = container(Kind::Tuple, std::vector<ValuePtr>(items.begin() + 1, items.end()));
        push(call(cls, args, "OBJ"));
        break;
      }
      case op::REDUCE: {
        ValuePtr args = pop();
        ValuePtr callable = pop();
        push(call(callable, args, "REDUCE"));
        break;
      }
      case op::NEWOBJ: {
        ValuePtr args = pop();
        ValuePtr cls = pop();
        push(newObject(cls, args));
        break;
      }
      case op::NEWOBJ_EX: {
        ValuePtr kwargs = pop();
        ValuePtr args = pop();
        ValuePtr cls = pop();
        if (kwargs->kind != Kind::Dict || !kwargs->items.empty()) fail(ErrorCode::Unsupported, "NEWOBJ_EX with keyword arguments");
        push(newObject(cls, args));
        break;
      }
      case op::BUILD: {
        ValuePtr state = pop();
        const ValuePtr& obj = top();
        // Module.state_dict() is an OrderedDict whose `_metadata` attribute (module versions)
        // arrives as BUILD state: dropped, it says nothing about the tensors.
        if (obj->kind == Kind::Dict && obj->ordered) {
          const bool dictState = state->kind == Kind::Dict || state->kind == Kind::None;
          const bool slotState = state->kind == Kind::Tuple && state->items.size() == 2 &&
                                 (state->items[0]->kind == Kind::Dict || state->items[0]->kind == Kind::None) &&
                                 (state->items[1]->kind == Kind::Dict || state->items[1]->kind == Kind::None);
          if (!dictState && !slotState) fail(ErrorCode::Corrupt, "BUILD state of an OrderedDict is not a dict");
          break;
        }
        refuse(obj->kind == Kind::Global ? "sets the state of " + obj->s + " (BUILD)"
                                         : "sets the state of " + std::string(describeKind(obj->kind)) + " (BUILD)");
      }
      case op::PERSID: fail(ErrorCode::Unsupported, "protocol-0 persistent ids are not supported; re-save with torch.save");
      case op::BINPERSID: {
        ValuePtr pid = pop();
        push(persistentLoad(pid));
        break;
      }
      case op::EXT1:
      case op::EXT2:
      case op::EXT4:
        refuse("names a global through the copyreg extension registry (EXT opcodes)");
      case op::NEXT_BUFFER: fail(ErrorCode::Unsupported, "the pickle refers to out-of-band buffers (protocol 5)");
      case op::READONLY_BUFFER: (void)top(); break;
      default: {
        char hex[8];
        std::snprintf(hex, sizeof hex, "0x%02x", code);
        fail(ErrorCode::Corrupt, std::string("unknown pickle opcode ") + hex);
      }
    }
  }

  void getMemo(uint64_t id) {
    auto it = memo_.find(id);
    if (it == memo_.end()) fail(ErrorCode::Corrupt, "memo entry " + std::to_string(id) + " is used before it is set");
    push(it->second);
  }

  // -- the result: {name: tensor}
  std::vector<TorchPickleTensor> stateDict(const ValuePtr& root) {
    if (root->kind != Kind::Dict)
      throw Error(ErrorCode::Unsupported, file_ + ": the pickle holds " + describeKind(root->kind) +
                  ", not a state dict (tensor name -> tensor)", file_);
    std::vector<TorchPickleTensor> out;
    std::set<std::string> seen;
    const auto& items = root->items;
    for (std::size_t k = 0; k + 1 < items.size(); k += 2) {
      const Value& key = *items[k];
      const Value& value = *items[k + 1];
      if (key.kind != Kind::Str)
        throw Error(ErrorCode::Unsupported, file_ + ": the state dict has a key that is " + describeKind(key.kind) + ", not a tensor name", file_);
      if (value.kind != Kind::Tensor) {
        std::string hint = value.kind == Kind::Dict ? " (a nested checkpoint such as {\"model\": {...}}?)" : "";
        throw Error(ErrorCode::Unsupported, file_ + ": entry '" + key.s + "' is " + describeKind(value.kind) + ", not a tensor" + hint +
                    "; VLMScope reads state dicts whose every entry is a tensor", file_, key.s);
      }
      if (!seen.insert(key.s).second)
        throw Error(ErrorCode::Corrupt, file_ + ": tensor '" + key.s + "' appears twice in the state dict", file_, key.s);
      TorchPickleTensor t;
      t.name = key.s;
      t.storageKey = value.storage->s;
      t.dtype = value.dtype;
      t.storageNumel = value.storage->numel;
      t.offset = value.offset;
      t.sizes = value.sizes;
      t.strides = value.strides;
      out.push_back(std::move(t));
    }
    return out;
  }

  std::string_view data_;
  std::string file_;
  std::size_t pos_ = 0;
  std::size_t opPos_ = 0;
  std::vector<ValuePtr> stack_;
  std::vector<std::size_t> marks_;
  std::unordered_map<uint64_t, ValuePtr> memo_;
  std::map<std::string, ValuePtr> storages_;
  std::vector<ValuePtr> containers_;
};

// ---------------------------------------------------------------------------------------------
// The container: a zip as torch.save writes it, not the legacy format, not TorchScript.

std::string firstLine(const c10::Error& e) {
  std::string msg = e.what_without_backtrace();
  if (auto nl = msg.find('\n'); nl != std::string::npos) msg.resize(nl);
  return msg;
}

void checkContainer(const std::filesystem::path& path, const std::string& file, uint64_t size) {
  if (size == 0) throw Error(ErrorCode::Truncated, file + ": empty file", file);
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(ErrorCode::Io, file + ": cannot open for reading", file);
  std::string head(static_cast<std::size_t>(std::min<uint64_t>(size, 512)), '\0');
  in.read(head.data(), static_cast<std::streamsize>(head.size()));
  // End of central directory: 22 bytes + a comment of at most 65535 bytes, at the end.
  const uint64_t tailSize = std::min<uint64_t>(size, 22 + 65535);
  std::string tail(static_cast<std::size_t>(tailSize), '\0');
  in.seekg(static_cast<std::streamoff>(size - tailSize));
  in.read(tail.data(), static_cast<std::streamsize>(tail.size()));
  if (!in) throw Error(ErrorCode::Io, file + ": read failed", file);

  static constexpr char kLegacyAdvice[] =
      "re-save with a current PyTorch (torch.save(torch.load(f), f)) or convert it to safetensors";
  if (head.size() >= 4 && head.compare(0, 4, "PK\x03\x04") == 0) {
    // The end-of-central-directory record must end the file exactly (22 bytes + its comment).
    bool complete = false;
    for (std::size_t at = tail.rfind(std::string("PK\x05\x06", 4)); at != std::string::npos && !complete;
         at = at == 0 ? std::string::npos : tail.rfind(std::string("PK\x05\x06", 4), at - 1)) {
      if (at + 22 > tail.size()) continue;
      const std::size_t commentLen = static_cast<uint8_t>(tail[at + 20]) | (static_cast<uint8_t>(tail[at + 21]) << 8);
      complete = at + 22 + commentLen == tail.size();
    }
    if (!complete)
      throw Error(ErrorCode::Truncated, file + ": the zip archive does not end with its central directory (truncated download?)", file);
    if (head.size() >= 30) {
      const std::size_t nameLen = static_cast<uint8_t>(head[26]) | (static_cast<uint8_t>(head[27]) << 8);
      const std::string first = head.substr(30, std::min<std::size_t>(nameLen, head.size() - 30));
      if (first.find('/') == std::string::npos)
        throw Error(ErrorCode::Unsupported, file + ": a zip archive but not a torch.save checkpoint (its first entry '" + first +
                    "' is not in a folder)", file);
    }
    return;
  }
  if (head.size() >= 4 && head.compare(0, 4, "PK\x05\x06") == 0)
    throw Error(ErrorCode::Unsupported, file + ": an empty zip archive, not a torch.save checkpoint", file);
  static constexpr unsigned char kLegacyMagic[] = {0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46,
                                                   0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19};
  if (head.size() >= sizeof kLegacyMagic && std::memcmp(head.data(), kLegacyMagic, sizeof kLegacyMagic) == 0)
    throw Error(ErrorCode::Unsupported, file + ": the legacy (non-zip) torch.save format of PyTorch < 1.6 or "
                "_use_new_zipfile_serialization=False, which VLMScope does not read; " + kLegacyAdvice, file);
  if (head.size() >= 262 && head.compare(257, 5, "ustar") == 0)
    throw Error(ErrorCode::Unsupported, file + ": the tar-based torch.save format of PyTorch < 0.4, which VLMScope does not read; " +
                kLegacyAdvice, file);
  if (static_cast<uint8_t>(head[0]) == op::PROTO)
    throw Error(ErrorCode::Unsupported, file + ": a bare pickle, not a torch.save zip archive; " + kLegacyAdvice, file);
  throw Error(ErrorCode::Corrupt, file + ": not a PyTorch checkpoint (neither a zip archive nor a pickle)", file);
}

}  // namespace

std::vector<TorchPickleTensor> scanTorchPickle(std::string_view pickle, const std::string& file) {
  if (pickle.size() > kMaxTorchPickle)
    throw Error(ErrorCode::ResourceLimit, file + ": data.pkl has " + std::to_string(pickle.size()) + " bytes, more than the " +
                std::to_string(kMaxTorchPickle) + "-byte limit", file);
  PickleEvaluator evaluator(pickle, file);
  return evaluator.run();
}

namespace {

// LibTorch's unpickler on data.pkl (what torch::jit::readArchiveAndTensors does), with every
// storage record checked against the scan first. Returns nothing when LibTorch cannot build
// this (valid) pickle's structure, or builds something that disagrees with the scan.
std::optional<std::vector<std::pair<std::string, at::Tensor>>> unpickleWithLibTorch(
    caffe2::serialize::PyTorchStreamReader& reader, std::string_view pickle, const std::vector<TorchPickleTensor>& specs,
    const std::string& file) {
  std::map<std::string, std::size_t> recordBytes;
  std::map<std::string, std::string> firstUser;  // storage key -> the first tensor that uses it
  for (const auto& s : specs) {
    recordBytes[s.storageKey] = static_cast<std::size_t>(s.storageNumel) * c10::elementSize(s.dtype);
    firstUser.emplace(s.storageKey, s.name);
  }
  std::size_t consumed = 0;
  auto readPickle = [&](char* buffer, std::size_t len) -> std::size_t {
    if (consumed >= pickle.size()) return 0;
    len = std::min(pickle.size() - consumed, len);
    std::memcpy(buffer, pickle.data() + consumed, len);
    consumed += len;
    return len;
  };
  auto readRecord = [&](const std::string& key) -> at::DataPtr {
    auto it = recordBytes.find(key);
    if (it == recordBytes.end())
      throw Error(ErrorCode::Corrupt, file + ": the pickle uses storage " + key + ", which the scan did not find", file);
    at::DataPtr ptr;
    std::size_t size = 0;
    std::tie(ptr, size) = reader.getRecord("data/" + key);
    if (size != it->second) {
      const std::string& name = firstUser.at(key);
      throw Error(ErrorCode::Corrupt, file + ": tensor '" + name + "': storage record data/" + key + " has " + std::to_string(size) +
                  " bytes but the pickle describes " + std::to_string(it->second), file, name);
    }
    return std::move(ptr);
  };
  c10::IValue root;
  try {
    torch::jit::Unpickler unpickler(readPickle, nullptr, nullptr, readRecord, c10::nullopt);
    unpickler.set_version(reader.version());
    root = unpickler.parse_ivalue();
  } catch (const c10::Error&) {
    return std::nullopt;  // a structure LibTorch 1.13 cannot build (see the header)
  }
  if (!root.isGenericDict()) return std::nullopt;
  std::map<std::string, at::Tensor> byName;
  for (const auto& kv : root.toGenericDict()) {
    if (!kv.key().isString() || !kv.value().isTensor()) return std::nullopt;
    byName[kv.key().toStringRef()] = kv.value().toTensor();
  }
  if (byName.size() != specs.size()) return std::nullopt;
  std::vector<std::pair<std::string, at::Tensor>> out;
  std::map<std::string, at::Storage> storages;  // one storage per record: tied tensors stay tied
  for (const auto& s : specs) {
    auto it = byName.find(s.name);
    if (it == byName.end() || it->second.scalar_type() != s.dtype || it->second.sizes().vec() != s.sizes ||
        (it->second.numel() > 1 && it->second.strides().vec() != s.strides) || it->second.storage_offset() != s.offset)
      return std::nullopt;
    at::Tensor t = it->second.detach();
    auto [st, first] = storages.emplace(s.storageKey, t.storage());
    if (!first && !t.storage().is_alias_of(st->second)) {
      at::Tensor view = at::empty({0}, t.options());
      view.set_(st->second, s.offset, s.sizes, s.strides);
      t = view;
    }
    out.emplace_back(s.name, std::move(t));
  }
  return out;
}

}  // namespace

std::vector<std::pair<std::string, at::Tensor>> readTorchBin(const std::filesystem::path& path, TorchBinReader* usedReader) {
  namespace fs = std::filesystem;
  const std::string file = path.string();
  std::error_code ec;
  if (!fs::exists(path, ec)) throw Error(ErrorCode::NotFound, file + ": no such file", file);
  if (!fs::is_regular_file(path, ec)) throw Error(ErrorCode::Io, file + ": not a regular file", file);
  const uint64_t size = fs::file_size(path, ec);
  if (ec) throw Error(ErrorCode::Io, file + ": cannot read its size: " + ec.message(), file);
  checkContainer(path, file, size);

  std::unique_ptr<caffe2::serialize::PyTorchStreamReader> reader;
  try {
    reader = std::make_unique<caffe2::serialize::PyTorchStreamReader>(file);
  } catch (const c10::Error& e) {
    const std::string msg = firstLine(e);
    if (msg.find("version") != std::string::npos)
      throw Error(ErrorCode::Unsupported, file + ": a zip archive but not a torch.save checkpoint of a supported version (" + msg + ")", file);
    throw Error(ErrorCode::Corrupt, file + ": unreadable zip archive (" + msg + ")", file);
  }

  try {
    bool torchScript = reader->hasRecord("constants.pkl");
    for (const auto& r : reader->getAllRecords()) torchScript = torchScript || r.rfind("code/", 0) == 0;
    if (torchScript)
      throw Error(ErrorCode::Unsupported, file + ": a TorchScript archive (torch.jit.save), not a state dict; save model.state_dict() with torch.save instead", file);
    if (!reader->hasRecord("data.pkl"))
      throw Error(ErrorCode::Unsupported, file + ": a zip archive but not a torch.save checkpoint (no data.pkl)", file);

    // data.pkl is read once: the scan validates it, LibTorch's unpickler then builds it.
    auto [pickleData, pickleSize] = reader->getRecord("data.pkl");
    const std::string_view pickle(static_cast<const char*>(pickleData.get()), pickleSize);
    const std::vector<TorchPickleTensor> specs = scanTorchPickle(pickle, file);

    if (auto viaLibTorch = unpickleWithLibTorch(*reader, pickle, specs, file)) {
      if (usedReader) *usedReader = TorchBinReader::LibTorchUnpickler;
      return std::move(*viaLibTorch);
    }
    if (usedReader) *usedReader = TorchBinReader::Scan;
    std::map<std::string, at::Storage> storages;
    std::vector<std::pair<std::string, at::Tensor>> out;
    out.reserve(specs.size());
    for (const auto& spec : specs) {
      auto it = storages.find(spec.storageKey);
      if (it == storages.end()) {
        const std::string record = "data/" + spec.storageKey;
        const std::size_t nbytes = static_cast<std::size_t>(spec.storageNumel) * c10::elementSize(spec.dtype);
        at::Storage storage;
        if (nbytes == 0) {
          storage = at::empty({0}, at::TensorOptions().dtype(spec.dtype)).storage();
        } else {
          if (!reader->hasRecord(record))
            throw Error(ErrorCode::Corrupt, file + ": tensor '" + spec.name + "': its storage record " + record + " is missing from the archive", file, spec.name);
          at::DataPtr data;
          std::size_t recordSize = 0;
          try {
            std::tie(data, recordSize) = reader->getRecord(record);
          } catch (const c10::Error& e) {
            throw Error(ErrorCode::Corrupt, file + ": tensor '" + spec.name + "': storage record " + record + " cannot be read (" + firstLine(e) + ")", file, spec.name);
          }
          if (recordSize != nbytes)
            throw Error(ErrorCode::Corrupt, file + ": tensor '" + spec.name + "': storage record " + record + " has " + std::to_string(recordSize) +
                        " bytes but the pickle describes " + std::to_string(nbytes), file, spec.name);
          storage = at::Storage(at::Storage::use_byte_size_t(), nbytes, std::move(data), /*allocator=*/nullptr, /*resizable=*/false);
        }
        it = storages.emplace(spec.storageKey, std::move(storage)).first;
      }
      at::Tensor t = at::empty({0}, at::TensorOptions().dtype(spec.dtype));
      t.set_(it->second, spec.offset, spec.sizes, spec.strides);
      out.emplace_back(spec.name, std::move(t));
    }
    return out;
  } catch (const c10::Error& e) {
    throw Error(ErrorCode::Corrupt, file + ": " + firstLine(e), file);
  }
}

}  // namespace vlm::io
