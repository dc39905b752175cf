#!/usr/bin/env python3
"""Makes the data.pkl variants of tests/data/torch-pickles/ and the malicious pickles of
tests/data/bad-bin/ (see the README.md of each folder).

Needs only Python 3's standard library. torch is not imported: a few stand-ins named like
torch's globals (torch._utils._rebuild_tensor_v2, torch.FloatStorage, ...) let the pickle
module write what torch.save writes. The script first checks that re-pickling the fixture's
state dict with them reproduces its data.pkl byte for byte, then writes the variants.
Nothing here unpickles the malicious files: never pickle.load them, they run commands.

    python3 tests/data/torch-pickles/make_pickles.py
"""
import builtins
import collections
import os
import pickle
import pickletools
import subprocess
import sys
import types
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.dirname(HERE)
FIXTURE = os.path.join(DATA, "blip-caption-tiny-bin", "pytorch_model.bin")
BAD = os.path.join(DATA, "bad-bin")

# --- stand-ins for the torch globals torch.save's pickles name ------------------------------
torch = types.ModuleType("torch")
torch_utils = types.ModuleType("torch._utils")
torch._utils = torch_utils
sys.modules["torch"] = torch
sys.modules["torch._utils"] = torch_utils


class Storage:
    """A storage record of the archive: data/<key>, `numel` elements of `storage_type`."""

    def __init__(self, storage_type, key, location, numel):
        self.storage_type, self.key, self.location, self.numel = storage_type, key, location, numel


def _storage_class(name):
    cls = type(name, (), {})
    cls.__module__ = "torch"
    setattr(torch, name, cls)
    return cls


for _name in ("FloatStorage", "HalfStorage", "BFloat16Storage", "LongStorage"):
    _storage_class(_name)


class Tensor:
    """A view of a Storage; pickles exactly as torch.Tensor._reduce_ex_internal does."""

    def __init__(self, storage, offset, size, stride, requires_grad=False):
        self.storage, self.offset, self.size, self.stride = storage, offset, size, stride
        self.requires_grad = requires_grad

    def __reduce_ex__(self, proto):
        return (torch_utils._rebuild_tensor_v2,
                (self.storage, self.offset, self.size, self.stride, self.requires_grad,
                 collections.OrderedDict()))


class Parameter:
    """Pickles as torch.nn.Parameter.__reduce_ex__ (torch 1.13) does."""

    def __init__(self, data, requires_grad=True):
        self.data, self.requires_grad = data, requires_grad

    def __reduce_ex__(self, proto):
        return (torch_utils._rebuild_parameter,
                (self.data, self.requires_grad, collections.OrderedDict()))


def _rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks, metadata=None):
    return Tensor(storage, offset, size, stride, requires_grad)


def _rebuild_parameter(data, requires_grad, hooks):
    return Parameter(data, requires_grad)


for _f in (_rebuild_tensor_v2, _rebuild_parameter):
    _f.__module__ = "torch._utils"
    setattr(torch_utils, _f.__name__, _f)


class TorchPickler(pickle.Pickler):
    """torch.save's pickler: storages become persistent ids."""

    def persistent_id(self, obj):
        if isinstance(obj, Storage):
            return ("storage", obj.storage_type, obj.key, obj.location, obj.numel)
        return None


class FixtureUnpickler(pickle.Unpickler):
    """Reads the (trusted) fixture with the stand-ins only."""

    def find_class(self, module, name):
        if module == "torch._utils" and name == "_rebuild_tensor_v2":
            return _rebuild_tensor_v2
        if module == "torch" and name.endswith("Storage"):
            return getattr(torch, name)
        if module == "collections" and name == "OrderedDict":
            return collections.OrderedDict
        raise pickle.UnpicklingError(f"unexpected global {module}.{name}")

    def persistent_load(self, pid):
        kind, storage_type, key, location, numel = pid
        assert kind == "storage"
        return self.storages.setdefault(key, Storage(storage_type, key, location, numel))


def dumps(obj, protocol=2, fix_imports=True):
    import io
    buf = io.BytesIO()
    TorchPickler(buf, protocol=protocol, fix_imports=fix_imports).dump(obj)
    return buf.getvalue()


def opcodes(data):
    return [(op.name, arg) for op, arg, _ in pickletools.genops(data)]


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)
    print(f"{os.path.relpath(path, DATA)}: {len(data)} bytes")


def main():
    with zipfile.ZipFile(FIXTURE) as z:
        original = z.read("pytorch_model/data.pkl")
    unpickler = FixtureUnpickler(__import__("io").BytesIO(original))
    unpickler.storages = {}
    state = unpickler.load()
    assert dumps(state) == original, "the stand-ins do not reproduce torch.save's bytes"
    names = list(state)

    # --- good variants ------------------------------------------------------------------
    # torch.save(model.state_dict()): an OrderedDict whose _metadata attribute holds the
    # modules' versions; pickled as OrderedDict() + SETITEMS + BUILD({'_metadata': ...}).
    ordered = collections.OrderedDict(state)
    modules = sorted({n.rsplit(".", 1)[0] for n in names} | {""})
    ordered._metadata = collections.OrderedDict((m, {"version": 1}) for m in modules)
    data = dumps(ordered)
    assert ("BUILD", None) in opcodes(data) and ("GLOBAL", "collections OrderedDict") in opcodes(data)
    write(os.path.join(HERE, "ordered_dict_metadata.pkl"), data)

    # One entry holding a torch.nn.Parameter: SETITEM (not SETITEMS) + _rebuild_parameter.
    name = "vision_model.embeddings.class_embedding"
    data = dumps({name: Parameter(state[name])})
    ops = opcodes(data)
    assert ("SETITEM", None) in ops and ("GLOBAL", "torch._utils _rebuild_parameter") in ops
    write(os.path.join(HERE, "parameter_single.pkl"), data)

    # The whole state dict with pickle protocol 4 (torch.save(..., pickle_protocol=4)):
    # FRAME, SHORT_BINUNICODE, MEMOIZE, STACK_GLOBAL.
    data = dumps(state, protocol=4)
    ops = {n for n, _ in opcodes(data)}
    assert {"FRAME", "SHORT_BINUNICODE", "MEMOIZE", "STACK_GLOBAL"} <= ops
    write(os.path.join(HERE, "protocol4.pkl"), data)

    # --- malicious variants: the fixture's state dict plus one entry that runs a command -----
    half = len(names) // 2

    def with_entry(key, value):
        out = {}
        for i, n in enumerate(names):
            if i == half:
                out[key] = value
            out[n] = state[n]
        return out

    # GLOBAL 'os system': os.system's __module__ is 'posix', so the pickle module would
    # write 'posix system'; os.system is swapped for a function that says it is os.system
    # while pickling, as attack files write it by hand.
    class OsSystem:
        def __reduce__(self):
            return (os.system, ("echo pwned > /tmp/vlmscope_pwned",))

    real_system = os.system

    def system(command):
        raise RuntimeError("never called")

    system.__module__, system.__qualname__ = "os", "system"
    os.system = system
    try:
        data = dumps(with_entry("evil", OsSystem()))
    finally:
        os.system = real_system
    assert ("GLOBAL", "os system") in opcodes(data)
    write(os.path.join(BAD, "os_system_global.pkl"), data)

    # STACK_GLOBAL builtins.eval (pickle protocol 4 names globals with STACK_GLOBAL).
    class Eval:
        def __reduce__(self):
            return (builtins.eval, ("__import__('os').system('echo pwned > /tmp/vlmscope_pwned')",))

    data = dumps(with_entry("evil", Eval()), protocol=4)
    ops = opcodes(data)
    assert ("STACK_GLOBAL", None) in ops and ("SHORT_BINUNICODE", "eval") in ops
    write(os.path.join(BAD, "builtins_eval_stack_global.pkl"), data)

    # An object whose __reduce__ returns subprocess.Popen: GLOBAL 'subprocess Popen' + REDUCE.
    # (With protocol 2 the pickle module renames subprocess to its Python 2 name 'commands'
    # unless fix_imports=False.)
    class Popen:
        def __reduce__(self):
            return (subprocess.Popen, (["sh", "-c", "echo pwned > /tmp/vlmscope_pwned"],))

    data = dumps(with_entry("evil", Popen()), fix_imports=False)
    assert ("GLOBAL", "subprocess Popen") in opcodes(data)
    write(os.path.join(BAD, "subprocess_popen_reduce.pkl"), data)

    # --- a zip archive that is not a torch.save checkpoint (its entry is not in a folder) ------
    import io
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        z.writestr(zipfile.ZipInfo("notes.txt", date_time=(1980, 1, 1, 0, 0, 0)), b"not a checkpoint\n")
    write(os.path.join(BAD, "not_torch.zip"), buf.getvalue())


if __name__ == "__main__":
    main()
