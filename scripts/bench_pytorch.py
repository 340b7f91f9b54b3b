#!/usr/bin/env python3
"""PyTorch side of yolov5c's benchmark (bench/bench_model.c runs it).

Times the same workloads as the C benchmark under PyTorch on the CPU: a
training step (train-mode forward, the YOLOv5 loss, backward, SGD step) and
an eval-mode forward with the Detect decode, for yolov5n / yolov5s at a given
image size, batch and thread count.

The network is our own PyTorch definition of the YOLOv5 v6.0+ architecture
(docs: /work/shared/spec/yolov5.md sections 1-3), built from the same rows as
models/yolov5*.yaml with the depth/width multiples applied; its parameter
count is checked against the expected totals (n 1,872,157, s 7,235,389)
before anything is timed. The loss is our own compact version of YOLOv5's:
target assignment to anchors and neighbouring cells, CIoU box loss, BCE
objectness and class losses, so the step has the same kind and amount of work.

Each workload runs in a fresh process (so its peak RSS is its own):
    bench_pytorch.py --mode train --model n --img 320 --batch 16 --threads 2
prints one JSON object on stdout:
    {"ok": true, "mode": ..., "model": ..., "img": ..., "batch": ..., "threads": ...,
     "params": ..., "seconds": best seconds per step, "images_per_s": ...,
     "peak_rss_mb": ..., "steps": timed steps, "first_step_seconds": ..., "torch": version}
With --check only the parameter counts are verified (exit 0 when equal).

Timing: the first --warmup steps are not timed; then steps run until
--min-time seconds have passed and --min-steps steps were timed (at most
--max-steps, and none started after --max-time seconds); the figure is the
best step. PyTorch on the CPU takes several steps to reach its speed. With
glibc's default malloc, which unmaps large freed tensors and faults them in
again until its dynamic mmap threshold has adapted, yolov5n 320 batch 16 on
one thread took 3.3, 1.3, 1.1, 0.9, 0.64, then 0.63 s per step (measured):
timing the second step alone, as this script once did, understated PyTorch
by 2x. So the script runs itself with that adaptation done up front
(MALLOC_MMAP_THRESHOLD_ 32 MiB, MALLOC_TRIM_THRESHOLD_ 16 GiB, as PyTorch CPU
tuning guides advise): the steady speed is the same (0.61-0.65 s), reached
by the third step (3.4, 1.1, 0.61, 0.61 s); hence the default of one warm-up
step and at least three timed steps. bench_model.c passes the same.
"""
import argparse
import json
import math
import os
import resource
import sys
import time

# Before torch starts: glibc reads these once, at process start.
MALLOC_ENV = {"MALLOC_MMAP_THRESHOLD_": str(32 << 20), "MALLOC_TRIM_THRESHOLD_": str(16 << 30)}
if __name__ == "__main__" and any(os.environ.get(k) != v for k, v in MALLOC_ENV.items()):
    os.execve(sys.executable, [sys.executable] + sys.argv, {**os.environ, **MALLOC_ENV})

import torch
import torch.nn as nn
import torch.nn.functional as F

EXPECTED_PARAMS = {"n": 1872157, "s": 7235389}
MULTIPLES = {"n": (0.33, 0.25), "s": (0.33, 0.50)}  # (depth, width)
ANCHORS = [[10, 13, 16, 30, 33, 23], [30, 61, 62, 45, 59, 119], [116, 90, 156, 198, 373, 326]]
STRIDES = [8, 16, 32]
NC = 80


# --------------------------------------------------------------------------
# Network


class ConvUnit(nn.Module):
    """Conv2d without bias, BatchNorm (eps 1e-3, momentum 0.03), SiLU."""

    def __init__(self, c_in, c_out, k=1, s=1, p=None):
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, k, s, k // 2 if p is None else p, bias=False)
        self.bn = nn.BatchNorm2d(c_out, eps=1e-3, momentum=0.03)
        self.act = nn.SiLU()

    def forward(self, x):
        return self.act(self.bn(self.conv(x)))


class Residual(nn.Module):
    """1x1 then 3x3 unit, plus the input when `add`."""

    def __init__(self, c, add):
        super().__init__()
        self.a = ConvUnit(c, c, 1)
        self.b = ConvUnit(c, c, 3)
        self.add = add

    def forward(self, x):
        y = self.b(self.a(x))
        return x + y if self.add else y


class CrossStage(nn.Module):
    """Two 1x1 branches (one through `n` residual units), joined and mixed by a 1x1."""

    def __init__(self, c_in, c_out, n, shortcut=True):
        super().__init__()
        hidden = c_out // 2
        self.main_in = ConvUnit(c_in, hidden)
        self.side = ConvUnit(c_in, hidden)
        self.blocks = nn.Sequential(*[Residual(hidden, shortcut) for _ in range(n)])
        self.mix = ConvUnit(2 * hidden, c_out)

    def forward(self, x):
        return self.mix(torch.cat([self.blocks(self.main_in(x)), self.side(x)], 1))


class PyramidPool(nn.Module):
    """1x1 down, three chained 5x5 max-pools, all four joined and mixed by a 1x1."""

    def __init__(self, c_in, c_out, k=5):
        super().__init__()
        hidden = c_in // 2
        self.down = ConvUnit(c_in, hidden)
        self.pool = nn.MaxPool2d(k, 1, k // 2)
        self.mix = ConvUnit(4 * hidden, c_out)

    def forward(self, x):
        x = self.down(x)
        p1 = self.pool(x)
        p2 = self.pool(p1)
        return self.mix(torch.cat([x, p1, p2, self.pool(p2)], 1))


class Heads(nn.Module):
    """One 1x1 conv with bias per level; train: raw (b, a, y, x, no); eval: decoded boxes."""

    def __init__(self, chans):
        super().__init__()
        self.na, self.no = 3, NC + 5
        self.convs = nn.ModuleList(nn.Conv2d(c, self.na * self.no, 1) for c in chans)
        grid_anchors = torch.tensor(ANCHORS, dtype=torch.float32).view(3, 3, 2)
        self.register_buffer("anchors_px", grid_anchors)

    def forward(self, feats):
        outs, decoded = [], []
        for level, (conv, f) in enumerate(zip(self.convs, feats)):
            b, _, ny, nx = f.shape
            p = conv(f).view(b, self.na, self.no, ny, nx).permute(0, 1, 3, 4, 2).contiguous()
            outs.append(p)
            if not self.training:
                s = p.sigmoid()
                yv, xv = torch.meshgrid(torch.arange(ny, dtype=s.dtype), torch.arange(nx, dtype=s.dtype),
                                        indexing="ij")
                grid = torch.stack((xv, yv), 2).view(1, 1, ny, nx, 2) - 0.5
                wh_scale = self.anchors_px[level].view(1, self.na, 1, 1, 2)
                xy = (s[..., :2] * 2 + grid) * STRIDES[level]
                wh = (s[..., 2:4] * 2) ** 2 * wh_scale
                decoded.append(torch.cat((xy, wh, s[..., 4:]), 4).view(b, -1, self.no))
        return outs if self.training else torch.cat(decoded, 1)


def scaled(c, gw):
    return int(math.ceil(c * gw / 8) * 8)


def repeats(n, gd):
    return max(round(n * gd), 1) if n > 1 else n


class YoloV5(nn.Module):
    def __init__(self, size):
        super().__init__()
        gd, gw = MULTIPLES[size]
        w = lambda c: scaled(c, gw)
        d = lambda n: repeats(n, gd)
        self.b0 = ConvUnit(3, w(64), 6, 2, 2)
        self.b1 = ConvUnit(w(64), w(128), 3, 2)
        self.b2 = CrossStage(w(128), w(128), d(3))
        self.b3 = ConvUnit(w(128), w(256), 3, 2)
        self.b4 = CrossStage(w(256), w(256), d(6))
        self.b5 = ConvUnit(w(256), w(512), 3, 2)
        self.b6 = CrossStage(w(512), w(512), d(9))
        self.b7 = ConvUnit(w(512), w(1024), 3, 2)
        self.b8 = CrossStage(w(1024), w(1024), d(3))
        self.b9 = PyramidPool(w(1024), w(1024), 5)
        self.h10 = ConvUnit(w(1024), w(512), 1)
        self.h13 = CrossStage(2 * w(512), w(512), d(3), False)
        self.h14 = ConvUnit(w(512), w(256), 1)
        self.h17 = CrossStage(2 * w(256), w(256), d(3), False)
        self.h18 = ConvUnit(w(256), w(256), 3, 2)
        self.h20 = CrossStage(2 * w(256), w(512), d(3), False)
        self.h21 = ConvUnit(w(512), w(512), 3, 2)
        self.h23 = CrossStage(2 * w(512), w(1024), d(3), False)
        self.detect = Heads([w(256), w(512), w(1024)])

    def forward(self, x):
        x = self.b2(self.b1(self.b0(x)))
        p3 = self.b4(self.b3(x))
        p4 = self.b6(self.b5(p3))
        x10 = self.h10(self.b9(self.b8(self.b7(p4))))
        up = F.interpolate(x10, scale_factor=2.0, mode="nearest")
        x14 = self.h14(self.h13(torch.cat([up, p4], 1)))
        up = F.interpolate(x14, scale_factor=2.0, mode="nearest")
        out3 = self.h17(torch.cat([up, p3], 1))
        out4 = self.h20(torch.cat([self.h18(out3), x14], 1))
        out5 = self.h23(torch.cat([self.h21(out4), x10], 1))
        return self.detect([out3, out4, out5])


# --------------------------------------------------------------------------
# Loss: assignment to the matching anchors of the target's cell and its two
# nearest neighbours, CIoU on the decoded box, BCE objectness (target: the
# detached IoU) and class terms; YOLOv5's default gains and level balance.


def ciou(p, t, eps=1e-7):
    (px, py, pw, ph), (tx, ty, tw, th) = p.unbind(1), t.unbind(1)
    p1x, p2x, p1y, p2y = px - pw / 2, px + pw / 2, py - ph / 2, py + ph / 2
    t1x, t2x, t1y, t2y = tx - tw / 2, tx + tw / 2, ty - th / 2, ty + th / 2
    inter = (torch.min(p2x, t2x) - torch.max(p1x, t1x)).clamp(0) * (torch.min(p2y, t2y) - torch.max(p1y, t1y)).clamp(0)
    union = pw * ph + tw * th - inter + eps
    iou = inter / union
    cw = torch.max(p2x, t2x) - torch.min(p1x, t1x)
    ch = torch.max(p2y, t2y) - torch.min(p1y, t1y)
    diag = cw ** 2 + ch ** 2 + eps
    dist = (px - tx) ** 2 + (py - ty) ** 2
    v = (4 / math.pi ** 2) * (torch.atan(tw / (th + eps)) - torch.atan(pw / (ph + eps))) ** 2
    with torch.no_grad():
        alpha = v / (v - iou + (1 + eps))
    return iou - (dist / diag + v * alpha)


def yolo_loss(preds, targets, anchors_px, batch):
    """preds: per level (b, 3, ny, nx, 85); targets: (nt, 6) [image, class, cx, cy, w, h] normalised."""
    balance, gains = [4.0, 1.0, 0.4], (0.05, 1.0, 0.5)  # box, obj, cls (hyp.scratch-low)
    bce = nn.BCEWithLogitsLoss()
    lbox = lobj = lcls = torch.zeros(())
    offsets = torch.tensor([[0, 0], [1, 0], [0, 1], [-1, 0], [0, -1]], dtype=torch.float32) * 0.5
    for level, p in enumerate(preds):
        _, na, ny, nx, _ = p.shape
        anchors = anchors_px[level] / STRIDES[level]
        scale = torch.tensor([1, 1, nx, ny, nx, ny], dtype=torch.float32)
        t = (targets * scale).unsqueeze(0).repeat(na, 1, 1)  # (na, nt, 6)
        ai = torch.arange(na).view(na, 1).repeat(1, targets.shape[0])
        ratio = t[..., 4:6] / anchors[:, None]
        keep = torch.max(ratio, 1 / ratio).max(2)[0] < 4.0
        t, ai = t[keep], ai[keep]
        gxy = t[:, 2:4]
        gxi = torch.tensor([nx, ny]) - gxy
        j, k = ((gxy % 1 < 0.5) & (gxy > 1)).T
        l, m = ((gxi % 1 < 0.5) & (gxi > 1)).T
        sel = torch.stack((torch.ones_like(j), j, k, l, m))
        t = t.repeat((5, 1, 1))[sel]
        ai = ai.repeat((5, 1))[sel]
        shift = (torch.zeros_like(gxy)[None] + offsets[:, None])[sel]
        gij = (t[:, 2:4] - shift).long()
        gi, gj = gij[:, 0].clamp(0, nx - 1), gij[:, 1].clamp(0, ny - 1)
        b, cls = t[:, 0].long(), t[:, 1].long()
        tobj = torch.zeros(p.shape[:4])
        if b.shape[0]:
            ps = p[b, ai, gj, gi]
            pxy = ps[:, :2].sigmoid() * 2 - 0.5
            pwh = (ps[:, 2:4].sigmoid() * 2) ** 2 * anchors[ai]
            tbox = torch.cat((t[:, 2:4] - torch.stack((gi, gj), 1), t[:, 4:6]), 1)
            iou = ciou(torch.cat((pxy, pwh), 1), tbox)
            lbox = lbox + (1.0 - iou).mean()
            tobj[b, ai, gj, gi] = iou.detach().clamp(0)
            onehot = torch.zeros_like(ps[:, 5:])
            onehot[torch.arange(b.shape[0]), cls] = 1.0
            lcls = lcls + bce(ps[:, 5:], onehot)
        lobj = lobj + bce(p[..., 4], tobj) * balance[level]
    return (lbox * gains[0] + lobj * gains[1] + lcls * gains[2]) * batch


def synthetic_targets(batch, per_image, gen):
    rows = []
    for b in range(batch):
        cxcy = torch.rand(per_image, 2, generator=gen) * 0.8 + 0.1
        wh = torch.rand(per_image, 2, generator=gen) * 0.3 + 0.02
        cls = torch.randint(0, NC, (per_image, 1), generator=gen).float()
        rows.append(torch.cat((torch.full((per_image, 1), float(b)), cls, cxcy, wh), 1))
    return torch.cat(rows, 0)


def make_sgd(model):
    """YOLOv5's three groups: BN weights (no decay), conv weights (decay), biases (no decay)."""
    bn_w, conv_w, biases = [], [], []
    for mod in model.modules():
        if isinstance(mod, nn.BatchNorm2d):
            bn_w.append(mod.weight)
            biases.append(mod.bias)
        elif isinstance(mod, nn.Conv2d):
            conv_w.append(mod.weight)
            if mod.bias is not None:
                biases.append(mod.bias)
    opt = torch.optim.SGD(biases, lr=0.01, momentum=0.937, nesterov=True)
    opt.add_param_group({"params": conv_w, "weight_decay": 5e-4})
    opt.add_param_group({"params": bn_w, "weight_decay": 0.0})
    return opt


# --------------------------------------------------------------------------
# Timing


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def run(args):
    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    model = YoloV5(args.model)
    n_params = sum(p.numel() for p in model.parameters())
    if n_params != EXPECTED_PARAMS[args.model]:
        raise SystemExit(f"yolov5{args.model}: {n_params} parameters, expected {EXPECTED_PARAMS[args.model]}")
    gen = torch.Generator().manual_seed(1)
    images = torch.rand(args.batch, 3, args.img, args.img, generator=gen)
    if args.mode == "train":
        model.train()
        opt = make_sgd(model)
        targets = synthetic_targets(args.batch, 8, gen)

        def step():
            preds = model(images)
            loss = yolo_loss(preds, targets, model.detect.anchors_px, args.batch)
            opt.zero_grad(set_to_none=False)
            loss.backward()
            opt.step()
    else:
        model.eval()

        def step():
            with torch.no_grad():
                model(images)

    first = None
    for _ in range(args.warmup):
        t0 = time.perf_counter()
        step()
        if first is None:
            first = time.perf_counter() - t0
    times, spent = [], 0.0
    while len(times) < args.max_steps and (len(times) < 1 or spent < args.max_time):
        t0 = time.perf_counter()
        step()
        dt = time.perf_counter() - t0
        times.append(dt)
        spent += dt
        if len(times) >= args.min_steps and spent >= args.min_time:
            break
    best = min(times)
    return {"ok": True, "mode": args.mode, "model": args.model, "img": args.img, "batch": args.batch,
            "threads": args.threads, "params": n_params, "seconds": best,
            "images_per_s": args.batch / best, "steps": len(times), "peak_rss_mb": peak_rss_mb(),
            "first_step_seconds": first, "torch": torch.__version__}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mode", choices=["train", "infer"], default="train")
    ap.add_argument("--model", choices=["n", "s"], default="n")
    ap.add_argument("--img", type=int, default=320)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--warmup", type=int, default=1, help="untimed steps first")
    ap.add_argument("--min-steps", type=int, default=3)
    ap.add_argument("--max-steps", type=int, default=50)
    ap.add_argument("--min-time", type=float, default=1.0,
                    help="seconds of timed steps at least")
    ap.add_argument("--max-time", type=float, default=120.0, help="no further step after this many timed seconds")
    ap.add_argument("--check", action="store_true", help="only check the parameter counts")
    args = ap.parse_args()
    if args.check:
        for size, want in EXPECTED_PARAMS.items():
            got = sum(p.numel() for p in YoloV5(size).parameters())
            print(f"yolov5{size}: {got} parameters (expected {want})")
            if got != want:
                sys.exit(1)
        return
    print(json.dumps(run(args)))


if __name__ == "__main__":
    main()
