#!/usr/bin/python3
"""Writes tests/fixtures/augment/*.safetensors for tests/augment/ from YOLOv5
v7.0's own augmentation code (utils/augmentations.py, utils/dataloaders.py)
and OpenCV (Debian python3-opencv), so the C tests need neither.

    git --git-dir=/work/.mirror/ultralytics+yolov5/repo archive v7.0 | tar -x -C /tmp/yolov5-v7.0
    /usr/bin/python3 scripts/gen_augment_fixtures.py --yolov5 /tmp/yolov5-v7.0

Needs numpy, cv2, torch, PIL, yaml (the reference's imports; plotting/pandas
modules are stubbed). Random draws are fed to the reference by replacing
random.random/uniform/randint/choices/shuffle and np.random.uniform/beta:
either with scripted values (unit fixtures: the C test passes the same values
to the pure functions) or with a Python copy of our own Rng
(src/core/rng.c, xoshiro256** seeded by splitmix64) and of the Gamma/Beta
sampler in src/augment/mixup.c, so a reference __getitem__ consumes exactly
the numbers aug_get_item draws for the same seed (end-to-end fixtures).

Images in the fixtures are stored in the channel order our C code uses (RGB);
the reference sees the same pixels in BGR (channels reversed), which is what
cv2.imread would have given it. Channel-agnostic steps (resize, warps,
letterbox, mosaic, mixup) are stored as-is.
"""
import argparse
import contextlib
import math
import os
import random
import sys
import tempfile
import types

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import safetensors_np  # noqa: E402

M64 = (1 << 64) - 1


# ---------------------------------------------------------------- our Rng, in Python
class OurRng:
    """Bit-exact mirror of src/core/rng.c (uses the same libm for log/cos)."""

    def __init__(self, seed):
        x = seed & M64
        self.s = []
        for _ in range(4):
            x = (x + 0x9E3779B97F4A7C15) & M64
            z = x
            z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
            z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
            self.s.append(z ^ (z >> 31))
        self.draws = 0

    @staticmethod
    def _rotl(x, k):
        return ((x << k) | (x >> (64 - k))) & M64

    def u64(self):
        s = self.s
        result = (self._rotl((s[1] * 5) & M64, 7) * 9) & M64
        t = (s[1] << 17) & M64
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = self._rotl(s[3], 45)
        self.draws += 1
        return result

    def uniform(self):
        return float(self.u64() >> 11) * 2.0 ** -53

    def uniform_range(self, lo, hi):
        return lo + (hi - lo) * self.uniform()

    def normal(self):
        u1 = self.uniform()
        u2 = self.uniform()
        return math.sqrt(-2.0 * math.log(1.0 - u1)) * math.cos(6.283185307179586 * u2)

    def integer(self, lo, hi):
        span = (hi - lo + 1) & M64
        limit = M64 - M64 % span
        while True:
            v = self.u64()
            if v < limit:
                return lo + v % span

    def shuffle(self, x):
        for i in range(len(x) - 1, 0, -1):
            j = self.integer(0, i)
            x[i], x[j] = x[j], x[i]

    def gamma(self, shape):
        if shape < 1.0:
            g = self.gamma(shape + 1.0)
            u = self.uniform()
            return g * (1.0 - u) ** (1.0 / shape)
        d = shape - 1.0 / 3.0
        c = 1.0 / math.sqrt(9.0 * d)
        while True:
            x = self.normal()
            v = 1.0 + c * x
            if v <= 0:
                continue
            v = v * v * v
            u = 1.0 - self.uniform()
            if u < 1.0 - 0.0331 * (x * x) * (x * x):
                return d * v
            if math.log(u) < 0.5 * x * x + d * (1.0 - v + math.log(v)):
                return d * v

    def beta(self, a, b):
        x = self.gamma(a)
        y = self.gamma(b)
        return x / (x + y)


@contextlib.contextmanager
def patched(random_fn=None, uniform=None, randint=None, choices=None, shuffle=None, np_uniform=None,
            np_beta=None):
    """Temporarily replaces the reference's random sources."""
    saved = dict(random=random.random, uniform=random.uniform, randint=random.randint, choices=random.choices,
                 shuffle=random.shuffle, np_uniform=np.random.uniform, np_beta=np.random.beta)

    def refuse(*a, **k):
        raise AssertionError("unexpected random draw")

    random.random = random_fn or refuse
    random.uniform = uniform or refuse
    random.randint = randint or refuse
    random.choices = choices or refuse
    random.shuffle = shuffle or refuse
    np.random.uniform = np_uniform or refuse
    np.random.beta = np_beta or refuse
    try:
        yield
    finally:
        random.random, random.uniform, random.randint = saved["random"], saved["uniform"], saved["randint"]
        random.choices, random.shuffle = saved["choices"], saved["shuffle"]
        np.random.uniform, np.random.beta = saved["np_uniform"], saved["np_beta"]


def patched_with_rng(rng):
    """The reference's random sources drawing from our Rng, in our order."""
    return patched(
        random_fn=rng.uniform,
        uniform=lambda a, b: rng.uniform_range(a, b),
        randint=lambda a, b: rng.integer(a, b),
        choices=lambda population, k=1: [population[rng.integer(0, len(population) - 1)] for _ in range(k)],
        shuffle=rng.shuffle,
        np_uniform=lambda lo, hi, size: np.array([rng.uniform_range(lo, hi) for _ in range(size)]),
        np_beta=lambda a, b: rng.beta(a, b))


def scripted(values):
    it = iter(values)
    return lambda *a, **k: next(it)


# ---------------------------------------------------------------- reference import
def import_reference(root):
    sys.path.insert(0, root)
    for name in ("matplotlib", "matplotlib.pyplot", "IPython", "pandas", "seaborn", "thop"):
        sys.modules.setdefault(name, types.ModuleType(name))
    sys.modules["pandas"].options = types.SimpleNamespace(display=types.SimpleNamespace())

    class Tqdm:  # progress bars are irrelevant here
        def __init__(self, it=None, **kw):
            self.it, self.desc = it, kw.get("desc", "")

        def __iter__(self):
            return iter(self.it if self.it is not None else [])

        def close(self):
            pass

    tq = types.ModuleType("tqdm")
    tq.tqdm = Tqdm
    sys.modules["tqdm"] = tq
    import cv2
    import utils.augmentations as A
    import utils.dataloaders as D
    return cv2, A, D


# ---------------------------------------------------------------- test images
def smooth_image(rng, h, w):
    """Smooth colour field plus a few flat rectangles (BGR/RGB agnostic)."""
    import cv2
    small = rng.integers(0, 256, (max(2, h // 6), max(2, w // 6), 3), dtype=np.uint8)
    im = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC).astype(np.int32)
    im += rng.integers(-12, 13, im.shape)
    for _ in range(3):
        y0, x0 = int(rng.integers(0, h)), int(rng.integers(0, w))
        im[y0:y0 + max(1, h // 4), x0:x0 + max(1, w // 4)] = rng.integers(0, 256, 3)
    return np.clip(im, 0, 255).astype(np.uint8)


class Writer:
    def __init__(self, out_dir):
        self.out_dir = out_dir
        self.sizes = {}

    def save(self, name, tensors, meta=None):
        path = os.path.join(self.out_dir, name)
        safetensors_np.save(path, tensors, meta or {})
        self.sizes[name] = os.path.getsize(path)


# ---------------------------------------------------------------- kernels
def gen_resize(cv2, w, rng):
    srcs = [smooth_image(rng, 37, 50), rng.integers(0, 256, (1, 9, 3), dtype=np.uint8),
            rng.integers(0, 256, (9, 1, 3), dtype=np.uint8), smooth_image(rng, 60, 42),
            rng.integers(0, 256, (23, 31, 3), dtype=np.uint8)]
    # (src, dst_w, dst_h, interp): shrink/enlarge both modes, exact 2x (linear becomes area),
    # integer 3x area, non-integer area, 1xN, odd sizes.
    cases = [(0, 32, 23, 1), (0, 32, 23, 3), (0, 64, 47, 1), (0, 77, 12, 1), (1, 33, 4, 1), (1, 3, 1, 3),
             (2, 5, 40, 1), (3, 21, 30, 1), (3, 21, 30, 3), (3, 14, 20, 3), (3, 14, 20, 1), (4, 17, 13, 3),
             (4, 17, 13, 1), (4, 62, 46, 1), (0, 50, 37, 1), (4, 31, 5, 3)]
    t = {f"src.{i}": s for i, s in enumerate(srcs)}
    for k, (si, dw, dh, it) in enumerate(cases):
        t[f"case.{k}.params"] = np.array([si, dw, dh, it], np.int32)
        t[f"case.{k}.out"] = cv2.resize(srcs[si], (dw, dh), interpolation=it)
    w.save("resize.safetensors", t, {"cases": len(cases), "sources": len(srcs)})


def gen_warp(cv2, A, w, rng):
    t = {}
    srcs = [smooth_image(rng, 40, 52), rng.integers(0, 256, (1, 17, 3), dtype=np.uint8),
            smooth_image(rng, 64, 64)]
    for i, s in enumerate(srcs):
        t[f"src.{i}"] = s
    # Kernel cases: (src, out_w, out_h, M 3x3, perspective?)
    def mat(cx, cy, angle, scale, shx, shy, px, py, tx, ty):
        C = np.eye(3)
        C[0, 2], C[1, 2] = -cx, -cy
        P = np.eye(3)
        P[2, 0], P[2, 1] = px, py
        R = np.eye(3)
        R[:2] = cv2.getRotationMatrix2D(angle=angle, center=(0, 0), scale=scale)
        S = np.eye(3)
        S[0, 1], S[1, 0] = math.tan(shx * math.pi / 180), math.tan(shy * math.pi / 180)
        T = np.eye(3)
        T[0, 2], T[1, 2] = tx, ty
        return T @ S @ R @ P @ C

    kcases = [(0, 48, 36, mat(26, 20, 17.0, 0.9, 4, -3, 0, 0, 24, 18), 0),
              (0, 30, 50, mat(26, 20, -95.0, 1.3, 0, 0, 0, 0, 15, 25), 0),
              (1, 20, 9, mat(8.5, 0.5, 30.0, 2.0, 0, 0, 0, 0, 10, 4), 0),
              (2, 32, 32, mat(32, 32, 0.0, 0.75, 0, 0, 0, 0, 20, 12), 0),
              (0, 52, 40, mat(26, 20, 5.0, 1.0, 2, 1, 1e-3, -8e-4, 26, 20), 1),
              (2, 40, 30, mat(32, 32, -12.0, 0.6, 0, 0, -2e-3, 1e-3, 20, 15), 1)]
    for k, (si, ow, oh, M, persp) in enumerate(kcases):
        if persp:
            out = cv2.warpPerspective(srcs[si], M, dsize=(ow, oh), borderValue=(114, 114, 114))
        else:
            out = cv2.warpAffine(srcs[si], M[:2], dsize=(ow, oh), borderValue=(114, 114, 114))
        t[f"kernel.{k}.params"] = np.array([si, ow, oh, persp], np.int32)
        t[f"kernel.{k}.M"] = M
        t[f"kernel.{k}.out"] = out

    # random_perspective with scripted draws: (src, targets, draws, hyp perspective, border)
    tg0 = np.array([[0, 5, 5, 20, 18], [1, 30, 10, 50, 35], [2, 40, 30, 41.5, 31],   # tiny one
                    [3, 0, 0, 52, 40], [4, 48, 2, 52, 6]], np.float32)
    tg2 = np.array([[0, 10, 10, 30, 40], [5, 60, 60, 64, 64], [1, 0, 20, 64, 22.5]], np.float32)
    pcases = [
        (0, tg0, [0.0, 0.0, 12.5, 0.8, 3.0, -2.0, 0.55, 0.45], 0.0, (0, 0)),
        (2, tg2, [0.0, 0.0, 0.0, 1.3, 0.0, 0.0, 0.6, 0.4], 0.0, (-16, -16)),
        (2, tg2, [0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.5, 0.5], 0.0, (0, 0)),          # identity: no warp
        (0, tg0[:0], [0.0, 0.0, -30.0, 1.1, 0.0, 0.0, 0.3, 0.7], 0.0, (0, 0)),     # no labels
        (0, tg0, [0.0, 0.0, 0.0, 0.5, 0.0, 0.0, 0.9, 0.95], 0.0, (0, 0)),         # shifted mostly out
        (0, tg0, [5e-4, -4e-4, 8.0, 0.9, 1.0, 2.0, 0.5, 0.5], 1e-3, (0, 0)),      # warpPerspective
    ]
    for k, (si, tg, draws, persp, border) in enumerate(pcases):
        with patched(uniform=scripted(draws)):
            im, out_t = A.random_perspective(srcs[si].copy(), tg.copy(), (), degrees=10, translate=.1,
                                             scale=.5, shear=5, perspective=persp, border=border)
        t[f"persp.{k}.params"] = np.array([si, border[1], border[0], 1 if persp else 0], np.int32)
        t[f"persp.{k}.draws"] = np.array(draws, np.float64)
        t[f"persp.{k}.targets"] = tg.reshape(-1, 5)
        t[f"persp.{k}.out"] = im
        t[f"persp.{k}.out_targets"] = np.asarray(out_t, np.float32).reshape(-1, 5)

    # box_candidates on hand-picked edges: (box1 xyxy, box2 xyxy)
    b1 = np.array([[0, 0, 10, 10], [0, 0, 10, 10], [0, 0, 10, 10], [0, 0, 100, 1], [0, 0, 3, 3],
                   [0, 0, 10, 10], [0, 0, 200, 2.5], [5, 5, 5, 5], [0, 0, 30, 30]], np.float32)
    b2 = np.array([[0, 0, 2, 5], [0, 0, 2.0001, 5], [0, 0, 3.1622, 3.1622], [0, 0, 250, 2.5],
                   [0, 0, 2.5, 2.5], [0, 0, 3.17, 3.17], [0, 0, 251, 2.5], [1, 1, 4, 4],
                   [0, 0, 9.4868, 9.4868]], np.float64)
    t["cand.box1"] = b1
    t["cand.box2"] = b2
    t["cand.keep"] = A.box_candidates(b1.T, b2.T).astype(np.uint8)
    # the same scaled by 0.7 as random_perspective does (float32 box1 * s)
    t["cand.keep_s07"] = A.box_candidates(b1.T * 0.7, b2.T).astype(np.uint8)
    w.save("warp.safetensors", t, {"sources": len(srcs), "kernels": len(kcases), "persp": len(pcases)})


def gen_hsv(cv2, A, w, rng):
    t = {}
    cases = [(3, 13, [0.3, -0.8, 0.9], [0.015, 0.7, 0.4]), (4, 40, [-0.9, 0.95, -0.2], [0.015, 0.7, 0.4]),
             (2, 64, [0.99, 0.5, 0.7], [0.5, 0.9, 0.9]), (5, 100, [-0.6, -0.99, 0.1], [0.8, 0.5, 0.5]),
             (1, 33, [0.2, 0.2, -0.95], [0.1, 0.7, 0.9]), (6, 31, [0.0, 0.0, 0.0], [0.015, 0.7, 0.4])]
    for k, (h, wd, u, gains) in enumerate(cases):
        rgb = rng.integers(0, 256, (h, wd, 3), dtype=np.uint8)
        rgb[0, :3] = [[0, 0, 0], [255, 255, 255], [128, 128, 128]]  # greys: s = 0
        bgr = np.ascontiguousarray(rgb[:, :, ::-1])
        with patched(np_uniform=lambda lo, hi, size, u=u: np.array(u, np.float64)):
            A.augment_hsv(bgr, hgain=gains[0], sgain=gains[1], vgain=gains[2])
        t[f"case.{k}.in"] = rgb
        t[f"case.{k}.u"] = np.array(u, np.float64)
        t[f"case.{k}.hyp"] = np.array(gains, np.float64)
        t[f"case.{k}.out"] = np.ascontiguousarray(bgr[:, :, ::-1])
    w.save("hsv.safetensors", t, {"cases": len(cases)})


def gen_letterbox(A, w, rng):
    t = {}
    # (h, w, target (h, w), auto, scaleFill, scaleup, stride)
    cases = [(24, 32, (32, 32), 0, 0, 1, 32), (15, 25, (32, 32), 0, 0, 1, 32), (15, 25, (32, 32), 0, 0, 0, 32),
             (28, 45, (32, 48), 0, 0, 0, 32), (50, 18, (32, 32), 1, 0, 1, 32), (22, 30, (32, 32), 0, 1, 1, 32),
             (17, 32, (32, 32), 0, 0, 1, 32), (1, 25, (32, 32), 0, 0, 1, 32), (20, 38, (48, 32), 0, 0, 1, 32),
             (35, 35, (32, 32), 0, 0, 0, 32), (23, 7, (32, 32), 1, 0, 1, 16), (40, 30, (32, 32), 0, 0, 1, 32)]
    for k, (h, wd, shape, auto, fill, up, stride) in enumerate(cases):
        im = smooth_image(rng, h, wd)
        out, ratio, pad = A.letterbox(im, shape, auto=bool(auto), scaleFill=bool(fill), scaleup=bool(up),
                                      stride=stride)
        t[f"case.{k}.in"] = im
        t[f"case.{k}.params"] = np.array([shape[0], shape[1], auto, fill, up, stride], np.int32)
        t[f"case.{k}.out"] = out
        t[f"case.{k}.ratio_pad"] = np.array([ratio[0], ratio[1], pad[0], pad[1]], np.float64)
    w.save("letterbox.safetensors", t, {"cases": len(cases)})


def stub_dataset(D, img_size, augment, ims=None, labels=None, hyp=None):
    """An object with the attributes load_image/load_mosaic read."""
    ds = object.__new__(D.LoadImagesAndLabels)
    ds.img_size, ds.augment, ds.hyp = img_size, augment, hyp
    ds.mosaic_border = [-img_size // 2, -img_size // 2]
    n = len(ims) if ims is not None else 1
    ds.ims = [None] * n
    ds.im_files = [f"/nonexistent/{i}.png" for i in range(n)]
    ds.npy_files = [None] * n
    ds.labels = labels or [np.zeros((0, 5), np.float32)] * n
    ds.segments = [[] for _ in range(n)]
    ds.indices = range(n)
    ds.n = n
    return ds


def gen_load(cv2, D, w, rng):
    t = {}
    # Sizes: the reference's load_image with cv2.resize replaced by a recorder.
    longs = [154, 303, 308, 319, 581, 606, 640, 641, 1000, 1280, 100, 3999, 2000, 1919, 9, 1]
    shapes = []
    for L in longs:
        shapes += [(L, max(1, (L * 3) // 4)), (max(1, (L * 2) // 3), L)]
    shapes += [(480, 640), (427, 640), (10, 700), (700, 5)]
    got = []
    real_resize, real_load = cv2.resize, np.load
    for (h0, w0) in shapes:
        for augment in (0, 1):
            ds = stub_dataset(D, 640, augment)
            ds.npy_files = [types.SimpleNamespace(exists=lambda: True)]
            rec = {}

            def fake_resize(im, dsize, interpolation=None, rec=rec):
                rec["size"], rec["interp"] = dsize, interpolation
                return np.zeros((max(dsize[1], 1), max(dsize[0], 1), 3), np.uint8)

            cv2.resize = fake_resize
            np.load = lambda f, h0=h0, w0=w0: np.zeros((h0, w0, 3), np.uint8)
            try:
                ds.load_image(0)
            finally:
                cv2.resize, np.load = real_resize, real_load
            size = rec.get("size", (w0, h0))
            got.append([h0, w0, augment, size[1], size[0], rec.get("interp", -1)])
    t["sizes"] = np.array(got, np.int32)  # h0, w0, augment, h, w, interp (-1: not resized)

    # Pixels: the real load_image on small images.
    pcases = [(50, 37, 32, 1), (50, 37, 32, 0), (20, 13, 32, 0), (96, 64, 48, 0), (96, 64, 48, 1),
              (45, 45, 45, 1), (2, 40, 32, 0), (1, 20, 32, 1), (70, 33, 64, 0)]
    for k, (h0, w0, size, augment) in enumerate(pcases):
        im = smooth_image(rng, h0, w0)
        ds = stub_dataset(D, size, augment)
        ds.npy_files = [types.SimpleNamespace(exists=lambda: True)]
        np.load = lambda f, im=im: im.copy()
        try:
            out, hw0, hw = ds.load_image(0)
        finally:
            np.load = real_load
        t[f"pix.{k}.in"] = im
        t[f"pix.{k}.params"] = np.array([size, augment], np.int32)
        t[f"pix.{k}.out"] = out
    w.save("load.safetensors", t, {"pix": len(pcases)})


def gen_mosaic(D, w, rng):
    t = {}
    s = 32
    tiles = [smooth_image(rng, 32, 24), smooth_image(rng, 20, 32), smooth_image(rng, 10, 15),
             smooth_image(rng, 32, 32)]
    labels = [np.array([[0, 0.5, 0.5, 0.4, 0.3], [1, 0.1, 0.9, 0.2, 0.2]], np.float32),
              np.array([[2, 0.7, 0.3, 0.5, 0.5]], np.float32), np.zeros((0, 5), np.float32),
              np.array([[3, 0.05, 0.05, 0.1, 0.1], [4, 0.95, 0.5, 0.1, 0.9], [5, 0.5, 0.5, 1.0, 1.0]],
                       np.float32)]
    for i in range(4):
        t[f"tile.{i}"] = tiles[i]
        t[f"labels.{i}"] = labels[i]
    # (yc, xc, shuffled order)
    cases = [(16, 47, [0, 1, 2, 3]), (35, 20, [3, 2, 1, 0]), (47, 47, [1, 3, 0, 2]), (16, 16, [2, 0, 3, 1]),
             (25, 30, [3, 3, 3, 3])]
    for k, (yc, xc, order) in enumerate(cases):
        ds = stub_dataset(D, s, True, ims=tiles, labels=labels, hyp={"copy_paste": 0.0, "degrees": 0,
                                                                      "translate": 0, "scale": 0, "shear": 0,
                                                                      "perspective": 0})
        ds.ims = tiles
        ds.im_hw0 = [im.shape[:2] for im in tiles]
        ds.im_hw = [im.shape[:2] for im in tiles]
        captured = {}

        def capture(img4, labels4, segments4, **kw):
            captured["img"], captured["labels"] = img4.copy(), labels4.copy()
            return img4, labels4

        real = D.random_perspective
        D.random_perspective = capture
        try:
            with patched(uniform=scripted([yc + 0.7, xc + 0.2]), choices=scripted([order[1:]]),
                         shuffle=lambda x, order=order: x.__setitem__(slice(None), order)):
                ds.load_mosaic(order[0])
        finally:
            D.random_perspective = real
        t[f"case.{k}.params"] = np.array([yc, xc] + order, np.int32)
        t[f"case.{k}.canvas"] = captured["img"]
        t[f"case.{k}.labels"] = captured["labels"].reshape(-1, 5)
    w.save("mosaic.safetensors", t, {"cases": len(cases), "img_size": s})


def gen_mixup(A, w, rng):
    t = {}
    a, b = smooth_image(rng, 20, 30), smooth_image(rng, 20, 30)
    b[:2] = 255
    a[:2, :5] = 255
    la = np.array([[0, 1, 2, 3, 4]], np.float32)
    lb = np.array([[5, 6, 7, 8, 9], [1, 2, 3, 4, 5]], np.float32)
    t["a"], t["b"], t["la"], t["lb"] = a, b, la, lb
    rs = [0.5, 0.37, 0.6123456789, 0.999, 0.0001]
    for k, r in enumerate(rs):
        with patched(np_beta=lambda x, y, r=r: r):
            out, lab = A.mixup(a.copy(), la.copy(), b.copy(), lb.copy())
        t[f"case.{k}.r"] = np.array([r], np.float64)
        t[f"case.{k}.out"] = out
        t[f"case.{k}.labels"] = lab
    w.save("mixup.safetensors", t, {"cases": len(rs)})


# ---------------------------------------------------------------- end to end
DATASET = [(48, 64), (80, 60), (30, 50), (64, 64), (100, 37), (57, 91)]


def write_dataset(cv2, root, rng):
    """A tiny YOLO-format dataset on disk (PNG, so decoding is exact)."""
    os.makedirs(os.path.join(root, "images"), exist_ok=True)
    os.makedirs(os.path.join(root, "labels"), exist_ok=True)
    for i, (h, wd) in enumerate(DATASET):
        im = smooth_image(rng, h, wd)
        cv2.imwrite(os.path.join(root, "images", f"{i:03d}.png"), im)
        rows = []
        if i != 3:  # image 3 is a background image
            for _ in range(int(rng.integers(1, 5))):
                bw, bh = rng.uniform(0.1, 0.6), rng.uniform(0.1, 0.6)
                cx, cy = rng.uniform(bw / 2, 1 - bw / 2), rng.uniform(bh / 2, 1 - bh / 2)
                rows.append(f"{int(rng.integers(0, 6))} {cx:.6f} {cy:.6f} {bw:.6f} {bh:.6f}")
            rows.append(f"{i % 6} 0.500000 0.500000 {2.0 / wd:.6f} {2.0 / h:.6f}")  # 2 px: filtered
        with open(os.path.join(root, "labels", f"{i:03d}.txt"), "w") as f:
            f.write("\n".join(rows) + ("\n" if rows else ""))


HYP_KEYS = ["hsv_h", "hsv_s", "hsv_v", "degrees", "translate", "scale", "shear", "perspective", "flipud", "fliplr",
            "mosaic", "mixup"]


def gen_e2e(cv2, D, w, rng):
    t = {}
    img_size, val_size = 64, 32
    with tempfile.TemporaryDirectory() as root:
        write_dataset(cv2, root, rng)
        images_dir = os.path.join(root, "images")
        base = dict(hsv_h=0.015, hsv_s=0.7, hsv_v=0.4, degrees=0.0, translate=0.1, scale=0.5, shear=0.0,
                    perspective=0.0, flipud=0.0, fliplr=0.5, mosaic=1.0, mixup=0.0, copy_paste=0.0)
        variants = [dict(base), dict(base, mixup=1.0, degrees=10.0, shear=5.0, translate=0.2, scale=0.9,
                                     flipud=0.5, hsv_h=0.5),
                    dict(base, mosaic=0.0, degrees=5.0, flipud=0.5), dict(base, hsv_h=0.0, hsv_s=0.0, hsv_v=0.0,
                                                                          mosaic=0.5, mixup=0.5)]
        train = {}
        for vi, hyp in enumerate(variants):
            train[vi] = D.LoadImagesAndLabels(images_dir, img_size=img_size, batch_size=4, augment=True, hyp=hyp,
                                              rect=False, stride=32, pad=0.0)
        ds0 = train[0]
        for i, f in enumerate(ds0.im_files):
            bgr = cv2.imread(f)
            t[f"img.{i}"] = np.ascontiguousarray(bgr[:, :, ::-1])
            t[f"labels.{i}"] = ds0.labels[i].reshape(-1, 5).astype(np.float32)
        k = 0
        for vi, hyp in enumerate(variants):
            for seed, index in [(1, 0), (2, 1), (3, 2), (4, 3), (5, 4), (6, 5)][:[5, 4, 4, 3][vi]]:
                rng_ = OurRng(seed + 1000 * vi)
                with patched_with_rng(rng_):
                    img, labels_out, _, shapes = train[vi][index]
                t[f"case.{k}.params"] = np.array([seed + 1000 * vi, index] + [hyp[x] for x in HYP_KEYS],
                                                 np.float64)
                t[f"case.{k}.img"] = img.numpy()
                t[f"case.{k}.labels"] = labels_out.numpy().reshape(-1, 6)
                t[f"case.{k}.draws"] = np.array([rng_.draws], np.int64)
                k += 1
        n_cases = k

        # Validation: rect batches, pad 0.5, no augmentation.
        val = D.LoadImagesAndLabels(images_dir, img_size=val_size, batch_size=2, augment=False, hyp=None,
                                    rect=True, stride=32, pad=0.5)
        order = [ds0.im_files.index(f) for f in val.im_files]
        t["val.order"] = np.array(order, np.int32)
        t["val.batch_shapes"] = np.asarray(val.batch_shapes, np.int32)
        for i in range(len(val.im_files)):
            with patched():
                img, labels_out, _, shapes = val[i]
            (h0, w0), ((rh, rw), (pw, ph)) = shapes
            t[f"val.{i}.img"] = img.numpy()
            t[f"val.{i}.labels"] = labels_out.numpy().reshape(-1, 6)
            t[f"val.{i}.shapes"] = np.array([h0, w0, rh, rw, pw, ph], np.float64)
        # Rect shapes of a training-style call (pad 0) on the same images.
        rect_train = D.LoadImagesAndLabels(images_dir, img_size=img_size, batch_size=4, augment=False, hyp=None,
                                           rect=True, stride=32, pad=0.0)
        t["rect_train.batch_shapes"] = np.asarray(rect_train.batch_shapes, np.int32)
    w.save("e2e.safetensors", t, {"images": len(DATASET), "cases": n_cases, "img_size": img_size,
                                  "val_size": val_size,
                                  "hyp_keys": " ".join(HYP_KEYS)})


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--yolov5", default="/tmp/yolov5-v7.0", help="extracted ultralytics/yolov5 v7.0 tree")
    ap.add_argument("--out", default=os.path.join(HERE, "..", "tests", "fixtures", "augment"))
    args = ap.parse_args()
    cv2, A, D = import_reference(os.path.abspath(args.yolov5))
    cv2.setNumThreads(1)
    os.makedirs(args.out, exist_ok=True)
    w = Writer(args.out)
    gen_resize(cv2, w, np.random.default_rng(1))
    gen_warp(cv2, A, w, np.random.default_rng(2))
    gen_hsv(cv2, A, w, np.random.default_rng(3))
    gen_letterbox(A, w, np.random.default_rng(4))
    gen_load(cv2, D, w, np.random.default_rng(5))
    gen_mosaic(D, w, np.random.default_rng(6))
    gen_mixup(A, w, np.random.default_rng(7))
    gen_e2e(cv2, D, w, np.random.default_rng(8))
    total = sum(w.sizes.values())
    for name, size in sorted(w.sizes.items()):
        print(f"{name:24s} {size:8d} bytes")
    print(f"{'total':24s} {total:8d} bytes (OpenCV {cv2.__version__})")


if __name__ == "__main__":
    main()
