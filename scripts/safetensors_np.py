"""Minimal safetensors reader/writer on NumPy alone (no `safetensors` package).

Format: 8-byte little-endian header length, a JSON header mapping tensor names
to dtype/shape/data_offsets (plus an optional "__metadata__" of strings), then
the raw little-endian tensor bytes.
"""
import json
import os
import struct

import numpy as np

DTYPES = {
    "F64": np.float64, "F32": np.float32, "F16": np.float16,
    "I64": np.int64, "I32": np.int32, "I16": np.int16, "I8": np.int8,
    "U8": np.uint8, "BOOL": np.bool_,
}
NAMES = {np.dtype(v).str: k for k, v in DTYPES.items()}


def save(path, tensors, metadata=None):
    """Writes {name: ndarray} (in insertion order) atomically: temp file, fsync, rename."""
    header, chunks, offset = {}, [], 0
    for name, arr in tensors.items():
        arr = np.asarray(arr)
        if not arr.flags.c_contiguous:  # (ascontiguousarray would turn 0-d into 1-d)
            arr = arr.copy(order="C")
        if arr.dtype.byteorder == ">":
            arr = arr.astype(arr.dtype.newbyteorder("<"))
        key = arr.dtype.str
        if key not in NAMES:
            raise ValueError(f"{name}: unsupported dtype {arr.dtype}")
        data = arr.tobytes()
        header[name] = {"dtype": NAMES[key], "shape": list(arr.shape),
                        "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for c in chunks:
            f.write(c)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def load(path):
    """Returns ({name: ndarray}, metadata dict) with tensors in file order."""
    with open(path, "rb") as f:
        blob = f.read()
    if len(blob) < 8:
        raise ValueError(f"{path}: too short for a safetensors header")
    (n,) = struct.unpack("<Q", blob[:8])
    if 8 + n > len(blob):
        raise ValueError(f"{path}: header length {n} exceeds file size {len(blob)}")
    header = json.loads(blob[8:8 + n])
    meta = header.pop("__metadata__", {}) or {}
    base = 8 + n
    items = sorted(header.items(), key=lambda kv: kv[1]["data_offsets"][0])
    out = {}
    for name, h in items:
        b, e = h["data_offsets"]
        dt = np.dtype(DTYPES[h["dtype"]]).newbyteorder("<")
        out[name] = np.frombuffer(blob[base + b:base + e], dtype=dt).reshape(tuple(h["shape"])).copy()
    return out, meta
