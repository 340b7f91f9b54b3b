#!/usr/bin/python3
"""Writes the PyTorch reference fixtures for the layers in src/nn/ to
tests/fixtures/nn/<case>.safetensors (read by tests/nn/test_nn_parity.c), plus
tests/fixtures/nn/st_python_dtypes.safetensors (read by
tests/ckpt/test_safetensors.c to check files written by scripts/safetensors_np.py).

Run from anywhere with the system Python (torch 1.13 + NumPy):
    /usr/bin/python3 scripts/gen_nn_fixtures.py
Seeds are fixed, so rerunning reproduces the same bytes on the same torch build.

Every case file holds float32 inputs, parameters and a fixed upstream gradient
`dy`, and the reference outputs and gradients. The references are computed by
PyTorch in float64 from those float32 inputs and then rounded to float32, so a
test compares the C float32 code against (nearly) exact numbers and its error
is its own, not the sum of two float32 errors.

__metadata__ holds the layer configuration and, for every reference tensor T:
  scale:T          the magnitude that float32 rounding error in T is proportional
                   to, so tests can state tolerances as multiples of
                   FLT_EPSILON * scale. For a sum (conv, BN reductions) it is the
                   largest sum of absolute terms, max_i sum_k |term_ik| (computed
                   by rerunning the op on absolute values); for elementwise
                   results it is the largest |term| that enters them.
  torch_f32_err:T  PyTorch's own float32 error on T in the same units
                   (max |torch_f32 - reference| / (FLT_EPSILON * scale)), as a
                   yardstick for the C code's error.
"""
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_np  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT_DIR = os.path.join(ROOT, "tests", "fixtures", "nn")
EPS32 = float(np.finfo(np.float32).eps)
BN_EPS, BN_MOMENTUM = 1e-3, 0.03
F64 = torch.float64


def gen(seed):
    g = torch.Generator()
    g.manual_seed(seed)
    return g


def leaf(t, dtype):
    """A fresh float leaf for autograd (never the caller's tensor itself)."""
    return t.detach().to(dtype).clone().requires_grad_()


def f32(t):
    return t.detach().to(torch.float32).numpy()


class Case:
    """Collects one fixture file: inputs, references with their scales, metadata."""

    def __init__(self, name, layer, **config):
        self.name = name
        self.tensors = {}
        self.meta = {"layer": layer, "generator": "scripts/gen_nn_fixtures.py",
                     "torch": torch.__version__,
                     "reference": "torch float64 on the float32 inputs, rounded to float32"}
        self.meta.update({k: str(v) for k, v in config.items()})

    def input(self, name, t):
        """Stores a float32 input (or an integer tensor as it is)."""
        if isinstance(t, torch.Tensor):
            t = t.detach().numpy()
        self.tensors[name] = t
        return t

    def ref(self, name, ref64, got32, scale):
        """Stores the float64 reference rounded to float32, its error scale and
        torch float32's error in units of EPS32 * scale."""
        ref64 = ref64.detach().to(F64)
        self.tensors[name] = f32(ref64)
        scale = float(scale)
        self.meta["scale:" + name] = repr(scale)
        if got32 is not None:
            # Measured against the stored (rounded) reference, as the C tests do;
            # with scale 0, relative to each element, ignoring differences below
            # FLT_MIN (subnormal results have no relative precision).
            want = ref64.to(torch.float32).to(F64)
            ok = ~torch.isnan(want)
            diff = (got32.detach().to(F64) - want).abs()[ok]
            if scale == 0:
                tiny = float(np.finfo(np.float32).tiny)
                diff = (diff - tiny).clamp(min=0) / want.abs()[ok].clamp(min=tiny)
            err = float(diff.max()) if diff.numel() else 0.0
            self.meta["torch_f32_err:" + name] = "%.3g" % (err / (EPS32 * (scale if scale > 0 else 1)))

    def save(self):
        path = os.path.join(OUT_DIR, self.name + ".safetensors")
        safetensors_np.save(path, self.tensors, self.meta)
        return path


def amax(t):
    return float(t.detach().abs().max()) if t.numel() else 0.0


# ----------------------------------------------------------------- conv2d

def conv_case(name, seed, n, c_in, c_out, h, w, k, s, p, bias):
    g = gen(seed)
    x = torch.randn(n, c_in, h, w, generator=g)
    bound = 1.0 / math.sqrt(c_in * k * k)  # torch's default init range
    weight = (torch.rand(c_out, c_in, k, k, generator=g) * 2 - 1) * bound
    b = (torch.rand(c_out, generator=g) * 2 - 1) * bound if bias else None
    ho, wo = (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
    dy = torch.randn(n, c_out, ho, wo, generator=g)

    def run(dtype, x_, w_, b_, dy_):
        xs = leaf(x_, dtype)
        ws = leaf(w_, dtype)
        bs = leaf(b_, dtype) if b_ is not None else None
        y = F.conv2d(xs, ws, bs, stride=s, padding=p)
        y.backward(dy_.to(dtype))
        return y, xs.grad, ws.grad, (bs.grad if bs is not None else None)

    ref = run(F64, x, weight, b, dy)
    t32 = run(torch.float32, x, weight, b, dy)
    # Each output is a sum; the same op on absolute values gives sum |terms|.
    mag = run(F64, x.abs(), weight.abs(), b.abs() if bias else None, dy.abs())

    c = Case(name, "conv2d", n=n, c_in=c_in, c_out=c_out, h=h, w=w, k=k, stride=s, pad=p,
             bias=int(bias))
    c.input("x", x)
    c.input("weight", weight)
    if bias:
        c.input("bias", b)
    c.input("dy", dy)
    for i, t in enumerate(["y", "dx", "dweight", "dbias"]):
        if ref[i] is not None:
            c.ref(t, ref[i], t32[i], amax(mag[i]))
    return c


# -------------------------------------------------------------- batchnorm

def bn_scales(x, gamma, beta, mean, invstd, dy, xhat):
    """Magnitudes of the terms in BN's float32 computations (max over channels)."""
    dims = (0, 2, 3)
    g, ist = gamma.abs().view(1, -1, 1, 1), invstd.view(1, -1, 1, 1)
    y = (g * ist * (x.abs() + mean.abs().view(1, -1, 1, 1)) + beta.abs().view(1, -1, 1, 1))
    dyxh = (dy * xhat).abs()
    # dx = gamma*invstd*(dy - mean(dy) - xhat*mean(dy*xhat))
    dx = g * ist * (dy.abs() + dy.abs().mean(dims, keepdim=True) + xhat.abs() * dyxh.mean(dims, keepdim=True))
    return {"y": amax(y), "dx": amax(dx), "dgamma": amax(dyxh.sum(dims)), "dbeta": amax(dy.abs().sum(dims))}


def batchnorm_case():
    g = gen(2001)
    n, ch, h, w = 2, 5, 7, 6
    # Channels with offsets and spreads like real activations (and one tight one).
    means = torch.tensor([-3.0, 0.5, 2.0, 8.0, 0.0])
    stds = torch.tensor([0.5, 1.0, 3.0, 2.0, 0.1])
    x = means.view(1, -1, 1, 1) + stds.view(1, -1, 1, 1) * torch.randn(n, ch, h, w, generator=g)
    gamma = torch.rand(ch, generator=g) + 0.5
    gamma[1] = -gamma[1]
    beta = torch.randn(ch, generator=g) * 0.5
    rm0 = torch.randn(ch, generator=g) * 0.5
    rv0 = torch.rand(ch, generator=g) + 0.5
    dy = torch.randn(n, ch, h, w, generator=g)

    def run(dtype):
        xs = leaf(x, dtype)
        gs = leaf(gamma, dtype)
        bs = leaf(beta, dtype)
        rm, rv = rm0.to(dtype).clone(), rv0.to(dtype).clone()
        y = F.batch_norm(xs, rm, rv, gs, bs, training=True, momentum=BN_MOMENTUM, eps=BN_EPS)
        y.backward(dy.to(dtype))
        y_eval = F.batch_norm(x.to(dtype), rm0.to(dtype), rv0.to(dtype), gamma.to(dtype),
                              beta.to(dtype), training=False, eps=BN_EPS)
        return dict(y=y, dx=xs.grad, dgamma=gs.grad, dbeta=bs.grad, running_mean=rm,
                    running_var=rv, y_eval=y_eval)

    ref, t32 = run(F64), run(torch.float32)
    x64, dims = x.to(F64), (0, 2, 3)
    mean = x64.mean(dims)
    var = x64.var(dims, unbiased=False)
    invstd = 1.0 / torch.sqrt(var + BN_EPS)
    xhat = (x64 - mean.view(1, -1, 1, 1)) * invstd.view(1, -1, 1, 1)
    sc = bn_scales(x64, gamma.to(F64), beta.to(F64), mean, invstd, dy.to(F64), xhat)
    m = n * h * w
    sc["running_mean"] = amax((1 - BN_MOMENTUM) * rm0.to(F64).abs() + BN_MOMENTUM * x64.abs().mean(dims))
    sc["running_var"] = amax((1 - BN_MOMENTUM) * rv0.to(F64) + BN_MOMENTUM * var * m / (m - 1))
    rv_eval_ist = 1.0 / torch.sqrt(rv0.to(F64) + BN_EPS)
    sc["y_eval"] = bn_scales(x64, gamma.to(F64), beta.to(F64), rm0.to(F64), rv_eval_ist,
                             dy.to(F64), xhat)["y"]

    c = Case("batchnorm", "batchnorm2d", n=n, c=ch, h=h, w=w, eps=BN_EPS, momentum=BN_MOMENTUM)
    for name, t in [("x", x), ("gamma", gamma), ("beta", beta), ("running_mean_in", rm0),
                    ("running_var_in", rv0), ("dy", dy)]:
        c.input(name, t)
    for name in ["y", "dx", "dgamma", "dbeta", "running_mean", "running_var", "y_eval"]:
        c.ref(name, ref[name], t32[name], sc[name])
    return c


# ------------------------------------------------- Conv block (conv+BN+SiLU)

def conv_block_chain_case():
    """Two YOLOv5 Conv blocks back to back: Conv2d(no bias) -> BN(train) -> SiLU,
    first the stem geometry (k6 s2 p2), then k3 s2 p1."""
    g = gen(3001)
    n, c0, h, w = 2, 3, 20, 18
    blocks = [dict(c_in=3, c_out=10, k=6, s=2, p=2), dict(c_in=10, c_out=14, k=3, s=2, p=1)]
    params = []
    hh, ww = h, w
    for b in blocks:
        bound = 1.0 / math.sqrt(b["c_in"] * b["k"] ** 2)
        wt = (torch.rand(b["c_out"], b["c_in"], b["k"], b["k"], generator=g) * 2 - 1) * bound
        gamma = torch.rand(b["c_out"], generator=g) + 0.5
        beta = torch.randn(b["c_out"], generator=g) * 0.2
        rm = torch.randn(b["c_out"], generator=g) * 0.1
        rv = torch.rand(b["c_out"], generator=g) + 0.5
        params.append((wt, gamma, beta, rm, rv))
        hh, ww = (hh + 2 * b["p"] - b["k"]) // b["s"] + 1, (ww + 2 * b["p"] - b["k"]) // b["s"] + 1
    x = torch.rand(n, c0, h, w, generator=g)  # image-like input in [0, 1)
    dy = torch.randn(n, blocks[-1]["c_out"], hh, ww, generator=g)

    def run(dtype):
        a = leaf(x, dtype)
        inp, leaves, stats = a, [], []
        for b, (wt, gamma, beta, rm, rv) in zip(blocks, params):
            ws, gs, bs = (leaf(t, dtype) for t in (wt, gamma, beta))
            rms, rvs = rm.to(dtype).clone(), rv.to(dtype).clone()
            z = F.conv2d(inp, ws, None, stride=b["s"], padding=b["p"])
            z = F.batch_norm(z, rms, rvs, gs, bs, training=True, momentum=BN_MOMENTUM, eps=BN_EPS)
            inp = F.silu(z)
            leaves.append((ws, gs, bs))
            stats.append((rms, rvs))
        inp.backward(dy.to(dtype))
        out = {"y": inp, "dx": a.grad}
        for i, ((ws, gs, bs), (rms, rvs)) in enumerate(zip(leaves, stats)):
            out.update({f"b{i}.dweight": ws.grad, f"b{i}.dgamma": gs.grad, f"b{i}.dbeta": bs.grad,
                        f"b{i}.running_mean": rms, f"b{i}.running_var": rvs})
        return out

    ref, t32 = run(F64), run(torch.float32)
    c = Case("conv_block_chain", "conv_block_chain", n=n, c=c0, h=h, w=w, blocks=len(blocks),
             eps=BN_EPS, momentum=BN_MOMENTUM,
             **{f"b{i}.{k}": v for i, b in enumerate(blocks) for k, v in b.items()})
    c.input("x", x)
    for i, (wt, gamma, beta, rm, rv) in enumerate(params):
        for name, t in [("weight", wt), ("gamma", gamma), ("beta", beta),
                        ("running_mean_in", rm), ("running_var_in", rv)]:
            c.input(f"b{i}.{name}", t)
    c.input("dy", dy)
    # Errors compose through the chain, so these are judged norm-wise: scale = max |T|.
    for name in ref:
        c.ref(name, ref[name], t32[name], amax(ref[name]))
    return c


# ------------------------------------------------------------ elementwise

def silu_case():
    g = gen(4001)
    body = torch.randn(2, 3, 6, 7, generator=g) * 4
    flat = body.view(-1)
    # Extremes: saturation both ways, exp overflow, around zero, and the zero of
    # the derivative (x ~ -1.2785). (-95 < x < -87.3 is avoided: there sigmoid(x)
    # is subnormal in float32 but x*sigmoid(x) is not, which no float32 formula
    # gets to a few ulp.)
    special = torch.tensor([0.0, -0.0, 1e-30, -1e-30, 1e-6, -1e-6, 20.0, -20.0, 50.0, -50.0,
                            87.0, -87.0, 100.0, -100.0, 1000.0, -1000.0, -1.2785, -1.2784, 3e38, -3e38])
    flat[:special.numel()] = special
    x = body
    dy = torch.randn(x.shape, generator=g)

    def run(dtype):
        xs = leaf(x, dtype)
        y = F.silu(xs)
        y.backward(dy.to(dtype))
        return y, xs.grad

    (y, dx), (y32, dx32) = run(F64), run(torch.float32)
    x64 = x.to(F64)
    sig = torch.sigmoid(x64)
    c = Case("silu", "silu", count=x.numel())
    c.input("x", x)
    c.input("dy", dy)
    # y = x*sigmoid(x) has no cancellation: judged relative to each element
    # (scale 0 leaves the test's relative tolerance alone).
    c.ref("y", y, y32, 0.0)
    # dx = dy*s*(1 + x*(1-s)) cancels near x = -1.28: judged against its terms.
    c.ref("dx", dx, dx32, amax(dy.to(F64).abs() * sig * (1 + x64.abs() * (1 - sig))))
    return c


def add_case():
    g = gen(5001)
    a = torch.randn(2, 3, 4, 5, generator=g)
    b = torch.randn(2, 3, 4, 5, generator=g)
    dy = torch.randn(2, 3, 4, 5, generator=g)
    a64, b64 = leaf(a, F64), leaf(b, F64)
    y = a64 + b64
    y.backward(dy.to(F64))
    c = Case("add", "add", count=a.numel())
    for name, t in [("a", a), ("b", b), ("dy", dy)]:
        c.input(name, t)
    # a+b rounds once, exactly as float32 does: bit-exact.
    c.ref("y", y, a + b, amax(y))
    c.ref("da", a64.grad, None, amax(dy))
    c.ref("db", b64.grad, None, amax(dy))
    return c


def upsample_case():
    g = gen(6001)
    x = torch.randn(2, 3, 5, 4, generator=g)
    dy = torch.randn(2, 3, 10, 8, generator=g)
    xs = leaf(x, F64)
    y = F.interpolate(xs, scale_factor=2, mode="nearest")
    y.backward(dy.to(F64))
    x32 = leaf(x, torch.float32)
    y32 = F.interpolate(x32, scale_factor=2, mode="nearest")
    y32.backward(dy)
    c = Case("upsample", "upsample2x", n=2, c=3, h=5, w=4)
    c.input("x", x)
    c.input("dy", dy)
    c.ref("y", y, y32, amax(y))
    # dx sums a 2x2 block of dy: scale = the largest block sum of |dy|.
    c.ref("dx", xs.grad, x32.grad, amax(F.avg_pool2d(dy.to(F64).abs(), 2) * 4))
    return c


def concat_case():
    g = gen(7001)
    c = Case("concat", "concat", n=2)
    for tag, (h, w), chans in [("c2", (4, 5), [3, 5]), ("c4", (3, 3), [2, 7, 1, 4])]:
        xs = [torch.randn(2, ch, h, w, generator=g) for ch in chans]
        dy = torch.randn(2, sum(chans), h, w, generator=g)
        leaves = [leaf(t, F64) for t in xs]
        y = torch.cat(leaves, 1)
        y.backward(dy.to(F64))
        c.meta[tag + ".channels"] = ",".join(str(ch) for ch in chans)
        c.meta[tag + ".h"], c.meta[tag + ".w"] = str(h), str(w)
        for i, t in enumerate(xs):
            c.input(f"{tag}.x{i}", t)
        c.input(tag + ".dy", dy)
        c.ref(tag + ".y", y, torch.cat(xs, 1), amax(y))
        for i, lf in enumerate(leaves):
            c.ref(f"{tag}.dx{i}", lf.grad, None, amax(lf.grad))
    return c


# ---------------------------------------------------------------- maxpool

def tie_heavy(g, shape, levels=(-1.5, -0.5, 0.0, 0.5, 1.0, 2.0)):
    """Values from a few levels, with constant rectangles (plateaus) and one
    constant plane, so windows have many equal maxima."""
    lv = torch.tensor(levels)
    x = lv[torch.randint(0, len(levels), shape, generator=g)]
    n, c, h, w = shape
    for _ in range(2 * n * c):
        i, j = int(torch.randint(0, n, (1,), generator=g)), int(torch.randint(0, c, (1,), generator=g))
        y0, x0 = int(torch.randint(0, h - 2, (1,), generator=g)), int(torch.randint(0, w - 2, (1,), generator=g))
        hh, ww = int(torch.randint(2, 6, (1,), generator=g)), int(torch.randint(2, 6, (1,), generator=g))
        x[i, j, y0:y0 + hh, x0:x0 + ww] = lv[int(torch.randint(0, len(levels), (1,), generator=g))]
    x[0, c - 1] = -0.5  # whole plane constant (and negative: padding must not win)
    return x


def maxpool_case(name, seed, shape, k, s, p, x=None):
    g = gen(seed)
    if x is None:
        x = tie_heavy(g, shape)
    n, ch, h, w = x.shape
    ho, wo = (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
    dy = torch.randn(n, ch, ho, wo, generator=g)

    def run(dtype, dy_):
        xs = leaf(x, dtype)
        y, idx = F.max_pool2d(xs, k, s, p, return_indices=True)
        y.backward(dy_.to(dtype))
        return y, idx, xs.grad

    y, idx, dx = run(F64, dy)
    y32, idx32, dx32 = run(torch.float32, dy)
    assert torch.equal(idx, idx32)
    _, _, mag = run(F64, dy.abs())  # routing is independent of dy
    c = Case(name, "maxpool2d", n=n, c=ch, h=h, w=w, k=k, stride=s, pad=p)
    c.input("x", x)
    c.input("dy", dy)
    c.ref("y", y, y32, amax(y))
    c.input("argmax", idx.to(torch.int64))
    c.ref("dx", dx, dx32, amax(mag))
    return c


def maxpool_nan_case():
    x = torch.tensor([[1.0, 0.5, 2.0, 0.0, -1.0],
                      [0.0, math.nan, 1.0, math.nan, 3.0],
                      [4.0, 1.0, 1.0, 1.0, 0.0],
                      [0.0, 0.0, 5.0, 0.0, math.nan],
                      [-2.0, 0.0, 0.0, 0.0, 0.0],
                      [1.0, 1.0, 1.0, 1.0, 1.0]]).view(1, 1, 6, 5)
    x = torch.cat([x, x.flip(-1)], 1)
    c = maxpool_case("maxpool_nan", 8101, None, 3, 1, 1, x=x)
    c.meta["note"] = "NaN wins over numbers and a later NaN over an earlier one (PyTorch CPU rule)"
    return c


def sppf_case():
    """SPPF's pool chain: p1 = pool(x), p2 = pool(p1), p3 = pool(p2) with k5 s1 p2,
    y = concat(x, p1, p2, p3); backward through the chain."""
    g = gen(8201)
    x = tie_heavy(g, (2, 4, 10, 9))
    dy = torch.randn(2, 16, 10, 9, generator=g)

    def run(dtype, dy_):
        xs = leaf(x, dtype)
        p1, i1 = F.max_pool2d(xs, 5, 1, 2, return_indices=True)
        p2, i2 = F.max_pool2d(p1, 5, 1, 2, return_indices=True)
        p3, i3 = F.max_pool2d(p2, 5, 1, 2, return_indices=True)
        y = torch.cat([xs, p1, p2, p3], 1)
        y.backward(dy_.to(dtype))
        return dict(y=y, p1=p1, p2=p2, p3=p3, dx=xs.grad), (i1, i2, i3)

    ref, idx = run(F64, dy)
    t32, idx32 = run(torch.float32, dy)
    assert all(torch.equal(a, b) for a, b in zip(idx, idx32))
    mag, _ = run(F64, dy.abs())
    c = Case("sppf", "sppf_pool_chain", n=2, c=4, h=10, w=9, k=5, stride=1, pad=2)
    c.input("x", x)
    c.input("dy", dy)
    for name in ["p1", "p2", "p3", "y"]:
        c.ref(name, ref[name], t32[name], amax(ref[name]))
    for i, t in enumerate(idx):
        c.input(f"argmax{i + 1}", t.to(torch.int64))
    c.ref("dx", ref["dx"], t32["dx"], amax(mag["dx"]))
    return c


# ------------------------------------------------ safetensors dtype sample

def python_dtypes_file():
    """A file written by safetensors_np with every dtype the C reader converts
    or passes through, for tests/ckpt/test_safetensors.c (values listed there)."""
    tensors = {
        "f32": np.array([1.5, -0.0, np.inf, -2.25e-40, 3.4028235e38], np.float32),
        "f16": np.array([1.0, -2.0, 65504.0, 2.0 ** -14, 2.0 ** -24, np.inf, -np.inf, np.nan],
                        np.float16),
        "f64": np.array([0.1, -1e300, 1e-50], np.float64),
        "i64": np.array([[-(2 ** 62), 2 ** 62 + 1], [0, -1]], np.int64),
        "i32": np.array(-7, np.int32),
        "u8": np.array([0, 255, 128], np.uint8),
        "scalar": np.array(0.25, np.float32),
        "empty": np.zeros((0, 4), np.float32),
    }
    meta = {"unicode": "\u03bc=0.5 \u00b7 \u65e5\u672c \U0001f600",
            "quote": 'say "hi" \\ back',
            "multi": "line1\nline2\ttab"}
    path = os.path.join(OUT_DIR, "st_python_dtypes.safetensors")
    safetensors_np.save(path, tensors, meta)
    return path


def main():
    torch.set_num_threads(1)
    os.makedirs(OUT_DIR, exist_ok=True)
    cases = [
        # YOLOv5 stem on an odd-sized input.
        conv_case("conv_stem", 1001, n=2, c_in=3, c_out=12, h=13, w=11, k=6, s=2, p=2, bias=False),
        conv_case("conv_k3s2", 1002, n=2, c_in=5, c_out=7, h=9, w=10, k=3, s=2, p=1, bias=False),
        conv_case("conv_k3s1", 1003, n=2, c_in=6, c_out=10, h=8, w=7, k=3, s=1, p=1, bias=False),
        # Many terms per sum (40*9 = 360).
        conv_case("conv_k3s1_wide", 1004, n=2, c_in=40, c_out=24, h=6, w=6, k=3, s=1, p=1, bias=False),
        conv_case("conv_k1", 1005, n=2, c_in=17, c_out=9, h=5, w=6, k=1, s=1, p=0, bias=False),
        # Detect head: 1x1 with bias, c_out = 3 * (nc + 5) for nc = 2.
        conv_case("conv_k1_bias", 1006, n=2, c_in=19, c_out=21, h=4, w=5, k=1, s=1, p=0, bias=True),
        batchnorm_case(),
        conv_block_chain_case(),
        silu_case(),
        add_case(),
        upsample_case(),
        concat_case(),
        maxpool_case("maxpool_k5", 8001, (2, 3, 9, 8), 5, 1, 2),
        maxpool_case("maxpool_k3s2", 8002, (2, 3, 9, 7), 3, 2, 1),
        maxpool_nan_case(),
        sppf_case(),
    ]
    total = 0
    for c in cases:
        path = c.save()
        size = os.path.getsize(path)
        total += size
        errs = ", ".join(f"{k.split(':', 1)[1]} {v}" for k, v in c.meta.items() if k.startswith("torch_f32_err:"))
        print(f"wrote {os.path.relpath(path, ROOT)} ({size} bytes); torch f32 err/(eps*scale): {errs}")
    path = python_dtypes_file()
    total += os.path.getsize(path)
    print(f"wrote {os.path.relpath(path, ROOT)} ({os.path.getsize(path)} bytes)")
    print(f"total {total} bytes")


if __name__ == "__main__":
    main()
