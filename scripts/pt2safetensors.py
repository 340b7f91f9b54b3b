#!/usr/bin/env python3
"""Converts an ultralytics YOLOv5 .pt checkpoint to yolov5c safetensors weights.

    python3 scripts/pt2safetensors.py IN.pt OUT.safetensors [--model-yaml Y] [--no-ema]

Needs only Python 3 and NumPy: no torch, no ultralytics sources. A .pt is a zip
archive (<any folder>/data.pkl plus one raw file per storage under
<folder>/data/). YOLOv5 pickles whole module objects, so data.pkl is read with
a restricted unpickler that executes nothing: tensors are rebuilt here with
NumPy, plain containers are allowed, model/torch.nn classes become inert
stand-ins that only record their pickled state, and every other global
(os.system, builtins.eval, ...) is refused.

The module tree of the stand-ins is then walked like torch's state_dict():
for each module its parameters, then its persistent buffers, then its child
modules, giving the ultralytics keys (model.0.conv.weight, ..., model.24.anchors,
model.24.m.0.weight, ...). Floating tensors are written as F32, integer ones
(num_batches_tracked) keep their type. Weights come from ckpt['ema'] when it
is present and not None, else ckpt['model'] (--no-ema forces 'model').

Metadata (all strings): format, source, nc, names (JSON list), model_yaml
(JSON of the model's resolved `yaml` dict), stride (JSON list), weights_from
('ema' or 'model') and, when the checkpoint has them, epoch, best_fitness,
ema_updates.
"""
import argparse
import collections
import io
import json
import math
import os
import pickle
import re
import sys
import zipfile

import numpy as np

sys.dont_write_bytecode = True  # leave no __pycache__ next to the scripts
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_np  # noqa: E402  (needs the sys.path line above)

FORMAT = "yolov5c-weights-1"


class ConvertError(Exception):
    """A problem with the input or output; the message names the file and the reason."""


# ---------------------------------------------------------------------------
# Tensor reconstruction (what torch._utils does, on NumPy arrays)
# ---------------------------------------------------------------------------

class StorageType:
    """Dtype tag standing for a torch.*Storage class named in data.pkl."""

    def __init__(self, name, dtype):
        self.name, self.dtype = name, dtype

    def __repr__(self):
        return f"torch.{self.name}"


class TorchDtype:
    """Tag standing for a torch dtype object (torch.float16, ...)."""

    def __init__(self, name, dtype):
        self.name, self.dtype = name, dtype

    def __repr__(self):
        return f"torch.{self.name}"


BF16 = "bfloat16"  # NumPy has no bfloat16: read as uint16 and widened to float32
STORAGE_TYPES = {name: StorageType(name, dt) for name, dt in {
    "DoubleStorage": np.dtype("<f8"), "FloatStorage": np.dtype("<f4"),
    "HalfStorage": np.dtype("<f2"), "BFloat16Storage": BF16,
    "LongStorage": np.dtype("<i8"), "IntStorage": np.dtype("<i4"),
    "ShortStorage": np.dtype("<i2"), "CharStorage": np.dtype("i1"),
    "ByteStorage": np.dtype("u1"), "BoolStorage": np.dtype("?"),
    "UntypedStorage": np.dtype("u1"),
}.items()}
TORCH_DTYPES = {name: TorchDtype(name, dt) for name, dt in {
    "float64": np.dtype("<f8"), "double": np.dtype("<f8"),
    "float32": np.dtype("<f4"), "float": np.dtype("<f4"),
    "float16": np.dtype("<f2"), "half": np.dtype("<f2"), "bfloat16": BF16,
    "int64": np.dtype("<i8"), "long": np.dtype("<i8"),
    "int32": np.dtype("<i4"), "int": np.dtype("<i4"),
    "int16": np.dtype("<i2"), "short": np.dtype("<i2"),
    "int8": np.dtype("i1"), "uint8": np.dtype("u1"), "bool": np.dtype("?"),
}.items()}


MAX_TENSOR_ELEMENTS = 1 << 31  # far above any YOLOv5 tensor (yolov5x's largest is 2.4M)


def strided_view(storage, offset, size, stride):
    """Copies the elements of the view (offset, size, stride) of a 1-d storage into a new C-contiguous array."""
    try:
        size = tuple(int(n) for n in size)
        stride = tuple(int(s) for s in stride)
        offset = int(offset)
    except (TypeError, ValueError):
        raise ConvertError(f"tensor with malformed size {size!r} / stride {stride!r}") from None
    if len(size) != len(stride) or offset < 0 or min(size + stride, default=0) < 0:
        raise ConvertError(f"tensor with invalid view: offset {offset}, size {size}, stride {stride}")
    if 0 in size:
        return np.zeros(size, dtype=storage.dtype)
    if math.prod(size) > MAX_TENSOR_ELEMENTS:  # overlapping or zero strides can claim any size
        raise ConvertError(f"tensor of size {size} is implausibly large")
    last = offset + sum((n - 1) * s for n, s in zip(size, stride))
    if last >= storage.size:
        raise ConvertError(f"tensor view (offset {offset}, size {size}, stride {stride}) "
                           f"runs past its storage of {storage.size} elements")
    view = np.lib.stride_tricks.as_strided(storage[offset:], shape=size,
                                           strides=tuple(s * storage.itemsize for s in stride),
                                           writeable=False)
    return np.array(view, order="C")


def check_storage(storage):
    if not isinstance(storage, np.ndarray) or storage.ndim != 1:
        raise ConvertError(f"tensor built from {type(storage).__name__}, not a storage")
    return storage


def rebuild_tensor(storage, storage_offset, size, stride):
    return strided_view(check_storage(storage), storage_offset, size, stride)


def rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False,
                      backward_hooks=None, metadata=None):
    return strided_view(check_storage(storage), storage_offset, size, stride)


def rebuild_parameter(data, requires_grad=False, backward_hooks=None, state=None):
    # Parameters and tensors are both plain arrays here; which dict of the
    # module (_parameters or _buffers) holds them is what tells them apart.
    if not isinstance(data, np.ndarray):
        raise ConvertError(f"parameter built from {type(data).__name__}, not a tensor")
    return data


TENSOR_REBUILDERS = {
    "_rebuild_tensor": rebuild_tensor,
    "_rebuild_tensor_v2": rebuild_tensor_v2,
    "_rebuild_parameter": rebuild_parameter,
    "_rebuild_parameter_with_state": rebuild_parameter,
}


def rebuild_from_type_v2(func, new_type, args, state):
    """torch._tensor._rebuild_from_type_v2: a tensor subclass or a tensor with Python attributes."""
    if func not in TENSOR_REBUILDERS.values():
        raise ConvertError(f"_rebuild_from_type_v2 with unsupported rebuild function {func!r}")
    return func(*args)


# ---------------------------------------------------------------------------
# Inert stand-ins for model classes
# ---------------------------------------------------------------------------

class StandIn:
    """Replaces a class named in the pickle (DetectionModel, Conv, torch.nn.BatchNorm2d, ...).

    Creating or rebuilding one runs no code of the real class: the constructor
    arguments and the pickled state are only recorded. `state` holds the
    object's attributes (for torch modules: _parameters, _buffers, _modules, ...).
    """
    pickle_global = "?"

    def __new__(cls, *args, **kwargs):
        obj = object.__new__(cls)
        obj.args, obj.kwargs = args, kwargs
        obj.state, obj.other_state, obj.items, obj.list = {}, None, {}, []
        return obj

    def __init__(self, *args, **kwargs):
        pass

    def __setstate__(self, state):
        # BUILD: a dict of attributes, or (dict, slots dict), or anything else.
        if (isinstance(state, tuple) and len(state) == 2
                and all(s is None or isinstance(s, dict) for s in state)):
            for part in state:
                self.state.update(part or {})
        elif isinstance(state, dict):
            self.state.update(state)
        else:
            self.other_state = state

    # A pickled dict/list subclass fills itself through these (SETITEMS, APPENDS).
    def __setitem__(self, key, value):
        self.items[key] = value

    def append(self, value):
        self.list.append(value)

    def extend(self, values):
        self.list.extend(values)

    def __repr__(self):
        return f"<stand-in {self.pickle_global}>"


_STAND_IN_CLASSES = {}


def stand_in_class(module, name):
    key = f"{module}.{name}"
    if key not in _STAND_IN_CLASSES:
        _STAND_IN_CLASSES[key] = type(name.replace(".", "_"), (StandIn,), {"pickle_global": key})
    return _STAND_IN_CLASSES[key]


# Modules whose classes become stand-ins: the YOLOv5 sources (also as the pip
# package 'yolov5' and the later 'ultralytics' package) and torch.nn.
STAND_IN_PACKAGES = ("models", "utils", "yolov5", "ultralytics", "torch.nn")
# Single classes outside those that harmlessly appear in checkpoint attributes.
STAND_IN_GLOBALS = {
    "torch.device", "argparse.Namespace", "types.SimpleNamespace",
    "pathlib.Path", "pathlib.PosixPath", "pathlib.WindowsPath",
    "pathlib.PurePath", "pathlib.PurePosixPath", "pathlib.PureWindowsPath",
}


# ---------------------------------------------------------------------------
# NumPy objects (best_fitness is a float64 array) and byte strings
# ---------------------------------------------------------------------------

class NumpyArrayTag:
    """Stands for numpy.ndarray: only accepted as the subtype given to _reconstruct."""


NUMPY_ARRAY = NumpyArrayTag()


def numpy_reconstruct(subtype, shape, dtype):
    if subtype is not NUMPY_ARRAY:
        raise ConvertError(f"numpy _reconstruct of unsupported type {subtype!r}")
    # An empty array that the following BUILD fills via ndarray.__setstate__
    # (which also sets its real shape and dtype).
    return np.ndarray.__new__(np.ndarray, (0,), np.uint8)


def numpy_dtype(spec, align=False, copy=False):
    # Plain numeric dtypes only: no object arrays, records or sub-arrays.
    # Always a fresh copy: the BUILD that follows must not alter NumPy's shared
    # float64/int64/... descriptors.
    try:
        dtype = np.dtype(spec, copy=True)
    except TypeError:
        dtype = None
    if dtype is None or dtype.kind not in "biufc" or dtype.fields is not None or dtype.subdtype is not None:
        raise ConvertError(f"numpy dtype {spec!r:.40} is not a plain numeric type")
    return dtype


def numpy_scalar(dtype, data=None):
    dtype = numpy_dtype(dtype)
    if not isinstance(data, bytes) or len(data) != dtype.itemsize:
        raise ConvertError(f"numpy scalar of dtype {dtype} with {type(data).__name__} data")
    return np.frombuffer(bytes(data), dtype=dtype)[0]


def numpy_frombuffer(buffer, dtype, shape, order="C"):
    # Protocol-5 pickles of arrays (out-of-band buffers are not supported).
    dtype = numpy_dtype(dtype)
    if not isinstance(buffer, (bytes, bytearray)) or order not in ("C", "F"):
        raise ConvertError(f"numpy _frombuffer with unsupported arguments ({type(buffer).__name__}, {order!r})")
    return np.frombuffer(buffer, dtype=dtype).reshape(shape, order=order).copy()


def codecs_encode(text, encoding="utf-8", errors="strict"):
    # Protocol-2 pickles store bytes as _codecs.encode(<str>, 'latin1').
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise ConvertError(f"_codecs.encode with unsupported arguments ({type(text).__name__}, {encoding!r})")
    return text.encode("latin1")


def copyreg_reconstructor(cls, base, state):
    # Protocol 0/1 object pickles: only for stand-in classes.
    if not (isinstance(cls, type) and issubclass(cls, StandIn)) or base is not object:
        raise ConvertError(f"copyreg._reconstructor of unsupported class {cls!r}")
    obj = cls()
    if state is not None:
        obj.__setstate__(state)
    return obj


SAFE_GLOBALS = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor"): rebuild_tensor,
    ("torch._utils", "_rebuild_tensor_v2"): rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): rebuild_parameter,
    ("torch._tensor", "_rebuild_from_type_v2"): rebuild_from_type_v2,
    ("torch", "Size"): tuple,
    ("torch.storage", "UntypedStorage"): STORAGE_TYPES["UntypedStorage"],
    ("_codecs", "encode"): codecs_encode,
    ("copyreg", "_reconstructor"): copyreg_reconstructor,
    ("copy_reg", "_reconstructor"): copyreg_reconstructor,
}
for _np in ("numpy.core.multiarray", "numpy._core.multiarray"):
    SAFE_GLOBALS[(_np, "_reconstruct")] = numpy_reconstruct
    SAFE_GLOBALS[(_np, "scalar")] = numpy_scalar
for _np in ("numpy.core.numeric", "numpy._core.numeric"):
    SAFE_GLOBALS[(_np, "_frombuffer")] = numpy_frombuffer
SAFE_GLOBALS[("numpy", "ndarray")] = NUMPY_ARRAY
SAFE_GLOBALS[("numpy", "dtype")] = numpy_dtype
for _b in ("builtins", "__builtin__"):
    for _name, _obj in (("set", set), ("frozenset", frozenset), ("list", list), ("dict", dict),
                        ("tuple", tuple), ("complex", complex), ("object", object)):
        SAFE_GLOBALS[(_b, _name)] = _obj
for _name, _tag in STORAGE_TYPES.items():
    SAFE_GLOBALS[("torch", _name)] = _tag
for _name, _tag in TORCH_DTYPES.items():
    SAFE_GLOBALS[("torch", _name)] = _tag


class RestrictedUnpickler(pickle._Unpickler):
    """Unpickler whose globals come only from SAFE_GLOBALS or inert stand-ins.

    Built on the pure-Python unpickler: its memo is a dict, so a corrupt
    LONG_BINPUT index cannot make it allocate gigabytes as the C one does.
    """

    def __init__(self, file, storage_reader):
        super().__init__(file, encoding="utf-8")
        self.storage_reader = storage_reader

    def find_class(self, module, name):
        found = SAFE_GLOBALS.get((module, name))
        if found is not None:
            return found
        qualified = f"{module}.{name}"
        if qualified in STAND_IN_GLOBALS or any(
                module == pkg or module.startswith(pkg + ".") for pkg in STAND_IN_PACKAGES):
            return stand_in_class(module, name)
        raise ConvertError(f"data.pkl references forbidden global '{qualified}'; refusing to unpickle it "
                           "(only tensors, plain containers and model classes are allowed)")

    def persistent_load(self, pid):
        if (not isinstance(pid, tuple) or len(pid) != 5 or pid[0] != "storage"
                or not isinstance(pid[1], StorageType)):
            raise ConvertError(f"data.pkl has an unsupported persistent id {pid!r:.200}")
        _, storage_type, key, _location, numel = pid
        return self.storage_reader(storage_type, str(key), numel)


# ---------------------------------------------------------------------------
# Reading the zip archive
# ---------------------------------------------------------------------------

class Checkpoint:
    """The unpickled object of a .pt file and the name of its top-level archive folder."""

    def __init__(self, obj, folder):
        self.obj, self.folder = obj, folder


def load_checkpoint(path):
    """Unpickles a torch zip checkpoint safely; returns a Checkpoint. Raises ConvertError."""
    try:
        archive = zipfile.ZipFile(path)
    except FileNotFoundError:
        raise ConvertError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ConvertError(f"{path}: is a directory") from None
    except zipfile.BadZipFile:
        raise ConvertError(f"{path}: not a zip archive (truncated, or not a torch zip checkpoint; "
                           "the legacy pre-1.6 torch format is not supported)") from None
    except OSError as e:
        raise ConvertError(f"{path}: cannot read: {e.strerror or e}") from None
    with archive:
        pkl_names = [n for n in archive.namelist() if n == "data.pkl" or n.endswith("/data.pkl")]
        if not pkl_names:
            raise ConvertError(f"{path}: zip archive has no data.pkl (not a torch checkpoint)")
        # The top-level folder may have any name; prefer the shallowest data.pkl.
        pkl_name = min(pkl_names, key=lambda n: (n.count("/"), n))
        folder = pkl_name[:-len("data.pkl")]

        def read(name):
            try:
                return archive.read(name)
            except KeyError:
                return None
            except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as e:
                raise ConvertError(f"{path}: corrupt archive entry '{name}': {e}") from None

        order = read(folder + "byteorder")
        big_endian = order is not None and order.strip() == b"big"
        storages = {}

        def storage_reader(storage_type, key, numel):
            if key in storages:
                return storages[key]
            if not isinstance(numel, int) or numel < 0:
                raise ConvertError(f"{path}: storage '{key}' has invalid element count {numel!r}")
            name = f"{folder}data/{key}"
            raw = read(name)
            if raw is None:
                raise ConvertError(f"{path}: storage '{name}' referenced by data.pkl is missing from the archive")
            bf16 = storage_type.dtype is BF16
            dtype = np.dtype("<u2") if bf16 else storage_type.dtype
            if big_endian:
                dtype = dtype.newbyteorder(">")
            if len(raw) < numel * dtype.itemsize:
                raise ConvertError(f"{path}: storage '{name}' has {len(raw)} bytes, "
                                   f"{numel} x {storage_type.name} needs {numel * dtype.itemsize}")
            arr = np.frombuffer(raw, dtype=dtype, count=numel).astype(dtype.newbyteorder("="))
            if bf16:  # bfloat16 is the top half of a float32
                arr = (arr.astype(np.uint32) << 16).view(np.float32)
            storages[key] = arr
            return arr

        data = read(pkl_name)
        try:
            obj = RestrictedUnpickler(io.BytesIO(data), storage_reader).load()
        except ConvertError as e:
            msg = str(e)
            raise ConvertError(msg if msg.startswith(f"{path}:") else f"{path}: {msg}") from None
        except Exception as e:  # whatever a corrupt pickle makes the unpickler raise
            raise ConvertError(f"{path}: cannot unpickle {pkl_name}: {type(e).__name__}: {e}") from None
    return Checkpoint(obj, folder.rstrip("/"))


# ---------------------------------------------------------------------------
# Model tree -> state_dict
# ---------------------------------------------------------------------------

def is_module(obj):
    return isinstance(obj, StandIn) and isinstance(obj.state.get("_modules"), dict)


def state_dict(module, prefix="", parents=()):
    """[(key, array, is_parameter)] in torch state_dict order."""
    if any(module is p for p in parents):
        raise ConvertError(f"module {prefix.rstrip('.')} contains itself")
    out = []
    st = module.state
    non_persistent = st.get("_non_persistent_buffers_set") or set()
    if not isinstance(non_persistent, (set, frozenset)):
        raise ConvertError(f"module {prefix or '<root>'} has a malformed _non_persistent_buffers_set")
    for kind, is_param in (("_parameters", True), ("_buffers", False)):
        entries = st.get(kind) or {}
        if not isinstance(entries, dict):
            raise ConvertError(f"module {prefix or '<root>'} ({module.pickle_global}) has a malformed {kind}")
        for name, value in entries.items():
            if value is None or (not is_param and name in non_persistent):
                continue
            if not isinstance(value, np.ndarray):
                raise ConvertError(f"{prefix}{name}: expected a tensor, found {type(value).__name__}")
            out.append((prefix + name, value, is_param))
    for name, child in st["_modules"].items():
        if child is None:
            continue
        if not is_module(child):
            raise ConvertError(f"{prefix}{name}: expected a torch module, found {child!r:.80}")
        out.extend(state_dict(child, f"{prefix}{name}.", parents + (module,)))
    return out


def find_detect(module, prefix=""):
    """(key prefix, module) of the Detect head: the last module with an 'anchors' buffer, or None."""
    found = (prefix, module) if "anchors" in (module.state.get("_buffers") or {}) else None
    for name, child in module.state["_modules"].items():
        if is_module(child):
            found = find_detect(child, f"{prefix}{name}.") or found
    return found


def to_list(value):
    """A tensor/array/list attribute as a plain Python list of numbers."""
    if isinstance(value, np.ndarray):
        value = value.astype(np.float64).reshape(-1).tolist()
    return [int(v) if float(v).is_integer() else float(v) for v in value]


def scalar_float(value):
    if isinstance(value, np.ndarray):
        if value.size != 1:
            raise ValueError(f"array of shape {value.shape}")
        value = value.reshape(-1)[0]
    return float(value)


def names_list(names, nc, where):
    if names is None:
        return [str(i) for i in range(nc)]
    if isinstance(names, dict):
        try:
            keys = sorted(int(k) for k in names)
        except (TypeError, ValueError):
            raise ConvertError(f"{where}: model.names keys are not class indices") from None
        if keys != list(range(len(keys))):
            raise ConvertError(f"{where}: model.names indices are not 0..{len(keys) - 1}")
        by_index = {int(k): v for k, v in names.items()}
        names = [by_index[i] for i in keys]
    if not isinstance(names, (list, tuple)):
        raise ConvertError(f"{where}: model.names is a {type(names).__name__}, not a list or dict")
    return [str(n) for n in names]


# ---------------------------------------------------------------------------
# A small YAML reader for model definitions (--model-yaml); no PyYAML needed
# ---------------------------------------------------------------------------

_YAML_NULL = {"", "~", "null", "Null", "NULL"}
_YAML_TRUE = {"yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"}
_YAML_FALSE = {"no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"}
_YAML_INT = re.compile(r"[-+]?(0|[1-9][0-9_]*)$")
_YAML_FLOAT = re.compile(r"[-+]?([0-9][0-9_]*)?\.[0-9_]*([eE][-+][0-9]+)?$")
_YAML_SPECIAL = {".inf": math.inf, ".Inf": math.inf, ".INF": math.inf, ".nan": math.nan,
                 ".NaN": math.nan, ".NAN": math.nan}


def yaml_scalar(text):
    """Resolves a plain scalar the way PyYAML's safe_load does (YAML 1.1 core types)."""
    if text in _YAML_NULL:
        return None
    if text in _YAML_TRUE:
        return True
    if text in _YAML_FALSE:
        return False
    if _YAML_INT.match(text):
        return int(text.replace("_", ""))
    if _YAML_FLOAT.match(text) and any(c.isdigit() for c in text):
        return float(text.replace("_", ""))
    sign = -1.0 if text[:1] == "-" else 1.0
    special = _YAML_SPECIAL.get(text.lstrip("+-"))
    if special is not None and (text[:1] not in "+-" or special == math.inf):
        return sign * special
    return text


def strip_yaml_comment(line):
    quote = None
    for i, c in enumerate(line):
        if quote:
            if c == quote:
                quote = None
        elif c in "'\"":
            quote = c
        elif c == "#" and (i == 0 or line[i - 1] in " \t"):
            return line[:i].rstrip()
    return line.rstrip()


class FlowParser:
    """Parses one YAML flow value: [..], {..}, quoted or plain scalar."""

    def __init__(self, text, where):
        self.text, self.pos, self.where = text, 0, where

    def fail(self, why):
        raise ConvertError(f"{self.where}: {why} near '{self.text[self.pos:self.pos + 30]}'")

    def skip(self):
        while self.pos < len(self.text) and self.text[self.pos] in " \t\n":
            self.pos += 1

    def value(self, stops):
        self.skip()
        c = self.text[self.pos:self.pos + 1]
        if c == "[":
            return self.sequence()
        if c == "{":
            return self.mapping()
        if c in ("'", '"'):
            return self.quoted()
        if c in ("&", "*", "!", "|", ">"):
            self.fail("unsupported YAML construct")
        start = self.pos
        while self.pos < len(self.text) and self.text[self.pos] not in stops:
            if self.text[self.pos] == ":" and ":" in stops and self.text[self.pos + 1:self.pos + 2] in (" ", ""):
                break
            self.pos += 1
        return yaml_scalar(self.text[start:self.pos].strip())

    def quoted(self):
        q = self.text[self.pos]
        self.pos += 1
        out = []
        while True:
            if self.pos >= len(self.text):
                self.fail("unterminated string")
            c = self.text[self.pos]
            if c == q:
                if q == "'" and self.text[self.pos + 1:self.pos + 2] == "'":
                    out.append("'")
                    self.pos += 2
                    continue
                self.pos += 1
                return "".join(out)
            if c == "\\" and q == '"':
                esc = self.text[self.pos + 1:self.pos + 2]
                out.append({"n": "\n", "t": "\t", '"': '"', "\\": "\\", "/": "/"}.get(esc, "\\" + esc))
                self.pos += 2
                continue
            out.append(c)
            self.pos += 1

    def sequence(self):
        self.pos += 1
        items = []
        while True:
            self.skip()
            if self.text[self.pos:self.pos + 1] == "]":
                self.pos += 1
                return items
            items.append(self.value(",]"))
            self.skip()
            c = self.text[self.pos:self.pos + 1]
            if c == ",":
                self.pos += 1
            elif c != "]":
                self.fail("expected ',' or ']'")

    def mapping(self):
        self.pos += 1
        out = {}
        while True:
            self.skip()
            if self.text[self.pos:self.pos + 1] == "}":
                self.pos += 1
                return out
            key = self.value(":,}")
            self.skip()
            if self.text[self.pos:self.pos + 1] != ":":
                self.fail("expected ':' in flow mapping")
            self.pos += 1
            out[key] = self.value(",}")
            self.skip()
            c = self.text[self.pos:self.pos + 1]
            if c == ",":
                self.pos += 1
            elif c != "}":
                self.fail("expected ',' or '}'")

    def whole(self):
        v = self.value("")
        self.skip()
        if self.pos != len(self.text):
            self.fail("unexpected text after value")
        return v


def parse_yaml(text, where):
    """Block mappings/sequences whose leaves are flow values: enough for YOLOv5 model YAMLs."""
    lines = []
    for raw in text.splitlines():
        line = strip_yaml_comment(raw.replace("\t", "    "))
        if line.strip() and line.strip() not in ("---", "..."):
            lines.append((len(line) - len(line.lstrip(" ")), line.strip()))

    def block(i, indent):
        """Parses the block starting at lines[i] (indentation `indent`); returns (value, next i)."""
        is_seq = lines[i][1].startswith("- ") or lines[i][1] == "-"
        out = [] if is_seq else {}
        while i < len(lines) and lines[i][0] == indent:
            text = lines[i][1]
            if is_seq:
                if not (text.startswith("- ") or text == "-"):
                    raise ConvertError(f"{where}: mixed sequence and mapping at '{text}'")
                rest = text[1:].strip()
                i += 1
                if rest:
                    rest, i = continue_flow(rest, i, indent)
                    out.append(FlowParser(rest, where).whole())
                elif i < len(lines) and lines[i][0] > indent:
                    value, i = block(i, lines[i][0])
                    out.append(value)
                else:
                    out.append(None)
            else:
                parser = FlowParser(text, where)
                key = parser.value(":")
                if text[parser.pos:parser.pos + 1] != ":":
                    raise ConvertError(f"{where}: expected 'key: value' at '{text}'")
                rest = text[parser.pos + 1:].strip()
                i += 1
                if rest:
                    rest, i = continue_flow(rest, i, indent)
                    out[key] = FlowParser(rest, where).whole()
                elif i < len(lines) and lines[i][0] > indent:
                    value_indent = lines[i][0]
                    if lines[i][1].startswith("[") or lines[i][1].startswith("{"):
                        flow, i = continue_flow(lines[i][1], i + 1, indent)
                        out[key] = FlowParser(flow, where).whole()
                    else:
                        out[key], i = block(i, value_indent)
                elif i < len(lines) and lines[i][0] == indent and lines[i][1].startswith("- "):
                    out[key], i = block(i, indent)  # sequence at the key's own indentation
                else:
                    out[key] = None
        if i < len(lines) and lines[i][0] > indent:
            raise ConvertError(f"{where}: unexpected indentation at '{lines[i][1]}'")
        return out, i

    def continue_flow(text, i, indent):
        """Joins the continuation lines of a flow collection spanning several lines."""
        if not text.startswith(("[", "{")):
            return text, i
        while not flow_closed(text) and i < len(lines) and lines[i][0] > indent:
            text += " " + lines[i][1]
            i += 1
        return text, i

    def flow_closed(text):
        depth, quote = 0, None
        for c in text:
            if quote:
                quote = None if c == quote else quote
            elif c in "'\"":
                quote = c
            elif c in "[{":
                depth += 1
            elif c in "]}":
                depth -= 1
        return depth <= 0

    if not lines:
        raise ConvertError(f"{where}: empty YAML")
    value, i = block(0, lines[0][0])
    if i != len(lines):
        raise ConvertError(f"{where}: unexpected text at '{lines[i][1]}'")
    return value


def read_model_yaml(path, nc):
    """The model definition as ultralytics keeps it on the model: file contents plus nc and ch."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise ConvertError(f"{path}: cannot read: {e.strerror or e}") from None
    cfg = parse_yaml(text, path)
    if not isinstance(cfg, dict) or "backbone" not in cfg or "head" not in cfg:
        raise ConvertError(f"{path}: not a YOLOv5 model definition (needs backbone and head)")
    cfg.setdefault("ch", 3)
    if cfg.get("nc") != nc:
        print(f"pt2safetensors: note: {path} has nc={cfg.get('nc')}, using the checkpoint's nc={nc}",
              file=sys.stderr)
        cfg["nc"] = nc
    return cfg


# ---------------------------------------------------------------------------
# Conversion
# ---------------------------------------------------------------------------

def convert(in_path, out_path, model_yaml_path=None, use_ema=True):
    """Converts; returns the one-line summary. Raises ConvertError."""
    ckpt = load_checkpoint(in_path).obj
    try:
        return convert_checkpoint(ckpt, in_path, out_path, model_yaml_path, use_ema)
    except (TypeError, ValueError, AttributeError, KeyError, IndexError, RecursionError) as e:
        # An unpickled object of an unexpected type where the model tree should be.
        raise ConvertError(f"{in_path}: unexpected checkpoint structure ({type(e).__name__}: {e})") from None


def convert_checkpoint(ckpt, in_path, out_path, model_yaml_path, use_ema):
    if not isinstance(ckpt, dict):
        raise ConvertError(f"{in_path}: checkpoint is a {type(ckpt).__name__}, not a dict with 'model'/'ema'")
    taken = "ema" if use_ema and ckpt.get("ema") is not None else "model"
    model = ckpt.get(taken)
    if model is None and ckpt.get("ema") is None:
        raise ConvertError(f"{in_path}: checkpoint has no 'model' or 'ema' entry (keys: "
                           f"{', '.join(map(str, ckpt.keys())) or 'none'})")
    if model is None:
        raise ConvertError(f"{in_path}: ckpt['model'] is empty; only ckpt['ema'] holds weights (drop --no-ema)")
    if not is_module(model):
        raise ConvertError(f"{in_path}: ckpt['{taken}'] is {model!r:.80}, not a pickled model")

    entries = state_dict(model)
    if not entries:
        raise ConvertError(f"{in_path}: ckpt['{taken}'] has no tensors")
    tensors = collections.OrderedDict()
    n_params = 0
    for key, arr, is_param in entries:
        tensors[key] = arr.astype(np.float32) if arr.dtype.kind == "f" else arr
        if is_param:
            n_params += arr.size

    detect = find_detect(model)
    if detect is None:
        raise ConvertError(f"{in_path}: ckpt['{taken}'] has no Detect head (no module with an 'anchors' buffer)")
    head_prefix, head = detect[0], detect[1].state
    attrs = model.state
    cfg = attrs.get("yaml")
    nc = attrs.get("nc")
    if nc is None:
        nc = cfg.get("nc") if isinstance(cfg, dict) and cfg.get("nc") is not None else head.get("nc")
    if isinstance(nc, np.integer):
        nc = int(nc)
    if not isinstance(nc, int) or isinstance(nc, bool) or nc < 1:
        raise ConvertError(f"{in_path}: cannot tell the number of classes (model.nc = {nc!r})")
    anchors = head["_buffers"]["anchors"]
    na = anchors.shape[1] if anchors.ndim == 3 else head.get("na")
    head_out = [arr.shape[0] for key, arr, _ in entries
                if key.startswith(head_prefix + "m.") and key.endswith(".weight")]
    if na and head_out and any(n != na * (nc + 5) for n in head_out):
        raise ConvertError(f"{in_path}: nc={nc} does not match the Detect head outputs {head_out} "
                           f"({na} anchors x (nc + 5) expected)")

    if model_yaml_path is not None:
        own, cfg = cfg, read_model_yaml(model_yaml_path, nc)
        if isinstance(own, dict) and own != cfg:
            print(f"pt2safetensors: note: {model_yaml_path} differs from the model definition stored in "
                  f"{in_path}; storing the file's", file=sys.stderr)
    elif not isinstance(cfg, dict):
        raise ConvertError(f"{in_path}: ckpt['{taken}'] has no 'yaml' model definition; pass --model-yaml")
    stride = attrs.get("stride")
    if stride is None:
        stride = head.get("stride")
    if stride is None:
        raise ConvertError(f"{in_path}: ckpt['{taken}'] has no stride attribute")

    names = names_list(attrs.get("names"), nc, in_path)
    if len(names) != nc:
        print(f"pt2safetensors: warning: {in_path}: {len(names)} names for nc={nc}", file=sys.stderr)
    meta = collections.OrderedDict()
    meta["format"] = FORMAT
    meta["source"] = os.path.basename(in_path)
    meta["weights_from"] = taken
    meta["nc"] = str(nc)
    meta["names"] = json.dumps(names, ensure_ascii=False)
    try:
        meta["model_yaml"] = json.dumps(cfg, ensure_ascii=False)
        meta["stride"] = json.dumps(to_list(stride))
    except (TypeError, ValueError) as e:
        raise ConvertError(f"{in_path}: model attribute not representable as JSON: {e}") from None
    if isinstance(ckpt.get("epoch"), int):
        meta["epoch"] = str(ckpt["epoch"])
    if ckpt.get("best_fitness") is not None:
        try:
            meta["best_fitness"] = json.dumps(scalar_float(ckpt["best_fitness"]))
        except (TypeError, ValueError):
            print(f"pt2safetensors: warning: {in_path}: best_fitness {ckpt['best_fitness']!r:.40} "
                  "is not a number; left out", file=sys.stderr)
    if isinstance(ckpt.get("updates"), int):
        meta["ema_updates"] = str(ckpt["updates"])

    try:
        safetensors_np.save(out_path, tensors, meta)
    except OSError as e:
        raise ConvertError(f"{out_path}: cannot write: {e.strerror or e}") from None
    epoch = f", epoch {meta['epoch']}" if "epoch" in meta else ""
    return (f"{out_path}: {len(tensors)} tensors, {n_params:,} parameters, nc={nc}, "
            f"weights from ckpt['{taken}']{epoch} of {meta['source']}")


def main(argv=None):
    parser = argparse.ArgumentParser(description="Convert an ultralytics YOLOv5 .pt checkpoint to "
                                                 "yolov5c safetensors weights (NumPy only, executes nothing "
                                                 "from the checkpoint).")
    parser.add_argument("input", help="YOLOv5 checkpoint (.pt, torch zip format)")
    parser.add_argument("output", help="safetensors file to write")
    parser.add_argument("--model-yaml", help="model definition YAML to store instead of the checkpoint's own")
    parser.add_argument("--no-ema", action="store_true", help="take ckpt['model'] even when ckpt['ema'] is present")
    args = parser.parse_args(argv)
    try:
        print(convert(args.input, args.output, args.model_yaml, use_ema=not args.no_ema))
    except ConvertError as e:
        print(f"pt2safetensors: error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
