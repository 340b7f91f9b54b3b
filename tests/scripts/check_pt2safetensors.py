#!/usr/bin/env python3
"""Helper of test_pt2safetensors.sh (NumPy only). Exit status 0 = check passed.

  compare OUT EXPECTED SUMMARY   converter output vs expected file: tensor names, order,
                                 shapes, dtypes, exact values, metadata; SUMMARY (the
                                 converter's stdout) must give the parameter count
  tensors PT EXPECTED            the converter's loader on loose tensors (views, dtypes)
  make-bad KIND OUT [SRC.pt]     writes a broken or malicious checkpoint for a refusal test
"""
import json
import os
import pickle
import re
import struct
import sys
import zipfile

import numpy as np

sys.dont_write_bytecode = True  # importing the converter must leave no __pycache__ in the tree
ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
import safetensors_np  # noqa: E402

JSON_KEYS = {"names", "model_yaml", "stride", "best_fitness"}


def fail(msg):
    print(f"  {msg}", file=sys.stderr)
    return 1


def compare_arrays(name, got, want):
    if got.dtype != want.dtype:
        return f"{name}: dtype {got.dtype}, expected {want.dtype}"
    if got.shape != want.shape:
        return f"{name}: shape {got.shape}, expected {want.shape}"
    if not np.array_equal(got, want):
        bad = np.argwhere(got != want)
        first = tuple(bad[0]) if bad.size else ()
        return (f"{name}: {len(bad)} values differ, first at {first}: "
                f"{got[first]!r} vs {want[first]!r}")
    return None


def compare(out_path, expected_path, summary_path):
    got, got_meta = safetensors_np.load(out_path)
    want, want_meta = safetensors_np.load(expected_path)
    errors = []
    if list(got) != list(want):
        missing = [k for k in want if k not in got]
        extra = [k for k in got if k not in want]
        first = next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), None)
        errors.append(f"tensor names/order differ: {len(got)} vs {len(want)} expected; "
                      f"missing {missing[:3]}, extra {extra[:3]}, first order difference at index {first}")
    for name in want:
        if name in got:
            err = compare_arrays(name, got[name], want[name])
            if err:
                errors.append(err)
    if set(got_meta) != set(want_meta):
        errors.append(f"metadata keys {sorted(got_meta)}, expected {sorted(want_meta)}")
    for key, value in want_meta.items():
        if key not in got_meta:
            continue
        same = (json.loads(got_meta[key]) == json.loads(value)) if key in JSON_KEYS else got_meta[key] == value
        if not same:
            errors.append(f"metadata {key}: {got_meta[key][:120]!r}, expected {value[:120]!r}")
    # Trainable parameters: every weight/bias (conv, BN gamma/beta, Detect); not the
    # BN running statistics, num_batches_tracked or the anchors.
    n_params = sum(a.size for k, a in want.items() if k.endswith((".weight", ".bias")))
    with open(summary_path) as f:
        summary = f.read()
    m = re.search(r"([\d,]+) parameters", summary)
    if not m or int(m.group(1).replace(",", "")) != n_params:
        errors.append(f"summary {summary.strip()!r} does not report {n_params:,} parameters")
    for e in errors[:10]:
        fail(e)
    return 1 if errors else 0


def tensors(pt_path, expected_path):
    import pt2safetensors
    obj = pt2safetensors.load_checkpoint(pt_path).obj
    want, _ = safetensors_np.load(expected_path)
    if not isinstance(obj, dict) or list(obj) != list(want):
        return fail(f"loaded {type(obj).__name__} with keys {list(obj)[:20] if isinstance(obj, dict) else '-'}, "
                    f"expected {list(want)}")
    errors = [e for e in (compare_arrays(k, np.asarray(obj[k]), want[k]) for k in want) if e]
    for e in errors:
        fail(e)
    return 1 if errors else 0


# --- broken and malicious inputs -------------------------------------------

def unicode_op(s):
    b = s.encode()
    return b"X" + struct.pack("<I", len(b)) + b


def call_pickle(module, name, arg, style="GLOBAL"):
    """Opcodes for {'model': module.name(arg)} (written out by hand; nothing is called here)."""
    if style == "GLOBAL":
        head, fetch = b"\x80\x02", f"c{module}\n{name}\n".encode()
    elif style == "STACK_GLOBAL":
        head, fetch = b"\x80\x04", unicode_op(module) + unicode_op(name) + b"\x93"
    elif style == "INST":  # protocol 0: INST pushes module.name(*args) directly
        return (b"(dp0\nVmodel\np1\n(V" + arg.encode() + b"\ni" + f"{module}\n{name}\n".encode()
                + b"p2\ns.")
    else:
        raise ValueError(style)
    return head + b"}" + unicode_op("model") + fetch + unicode_op(arg) + b"\x85R" + b"s."


def tensor_pickle(numel, offset, size):
    """Opcodes for {'model': _rebuild_tensor_v2(<FloatStorage '0' of numel>, offset, (size,), (1,), ...)}."""
    def small_int(n):
        return b"K" + bytes([n])
    storage = (b"(" + unicode_op("storage") + b"ctorch\nFloatStorage\n" + unicode_op("0")
               + unicode_op("cpu") + small_int(numel) + b"tQ")  # TUPLE, BINPERSID
    return (b"\x80\x02}" + unicode_op("model") + b"ctorch._utils\n_rebuild_tensor_v2\n"
            + b"(" + storage + small_int(offset) + small_int(size) + b"\x85" + small_int(1) + b"\x85"
            + b"\x89" + b"ccollections\nOrderedDict\n)R" + b"tR" + b"s.")


def zip_entries(path):
    with zipfile.ZipFile(path) as z:
        return [(i.filename, z.read(i.filename)) for i in z.infolist()]


def write_zip(path, entries):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        for name, data in entries:
            z.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), data)


def make_bad(kind, out, src=None):
    calls = {
        "eval": ("__builtin__", "eval", "print('pwned')", "GLOBAL"),
        "getattr": ("__builtin__", "getattr", "x", "GLOBAL"),
        "posix": ("posix", "system", "echo pwned", "GLOBAL"),
        "stack_global": ("subprocess", "Popen", "echo", "STACK_GLOBAL"),
        "inst": ("os", "system", "echo pwned", "INST"),
        "torch_hub": ("torch.hub", "load", "x", "GLOBAL"),
    }
    if kind in calls:
        module, name, arg, style = calls[kind]
        write_zip(out, [("archive/data.pkl", call_pickle(module, name, arg, style)),
                        ("archive/version", b"3\n")])
    elif kind == "view_out_of_bounds":  # 4 floats stored, view of 4 from offset 2
        write_zip(out, [("archive/data.pkl", tensor_pickle(4, 2, 4)), ("archive/data/0", b"\0" * 16),
                        ("archive/version", b"3\n")])
    elif kind == "short_storage":  # claims 8 floats, holds 4
        write_zip(out, [("archive/data.pkl", tensor_pickle(8, 0, 4)), ("archive/data/0", b"\0" * 16),
                        ("archive/version", b"3\n")])
    elif kind == "hand_built_tensor":  # the same construction, valid: loads as 4 zeros
        write_zip(out, [("archive/data.pkl", tensor_pickle(4, 0, 4)), ("archive/data/0", b"\0" * 16),
                        ("archive/version", b"3\n")])
    elif kind == "no_pkl":
        write_zip(out, [("archive/version", b"3\n"), ("archive/data/0", b"\0" * 8)])
    elif kind == "no_model":
        write_zip(out, [("archive/data.pkl", pickle.dumps({"epoch": 1, "optimizer": None}, protocol=2)),
                        ("archive/version", b"3\n")])
    elif kind == "missing_storage":  # the first storage of SRC taken out
        entries = zip_entries(src)
        write_zip(out, [(n, d) for n, d in entries if not n.endswith("/data/0")])
    elif kind == "truncated_pkl":  # SRC with data.pkl cut in half
        write_zip(out, [(n, d[:len(d) // 2] if n.endswith("/data.pkl") else d) for n, d in zip_entries(src)])
    elif kind == "renamed":  # SRC with its top-level folder renamed
        write_zip(out, [("some other folder/" + n.split("/", 1)[1], d) for n, d in zip_entries(src)])
    else:
        return fail(f"unknown kind {kind}")
    return 0


def main(argv):
    if len(argv) >= 4 and argv[0] == "compare":
        return compare(*argv[1:4])
    if len(argv) == 3 and argv[0] == "tensors":
        return tensors(argv[1], argv[2])
    if len(argv) in (3, 4) and argv[0] == "make-bad":
        return make_bad(*argv[1:])
    return fail(__doc__)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
