#!/usr/bin/env python3
"""Reference fixtures for the loss tests, produced by the real YOLOv5 v7.0 loss.

Run with the system Python (PyTorch 1.13, NumPy) after extracting the v7.0
sources outside the repository:

    mkdir -p /tmp/yolov5-v7.0
    git --git-dir=/work/.mirror/ultralytics+yolov5/repo archive v7.0 | tar -x -C /tmp/yolov5-v7.0
    /usr/bin/python3 scripts/gen_loss_fixtures.py [--yolov5 /tmp/yolov5-v7.0] [--out tests/fixtures/loss]

The YOLOv5 code is imported from that directory at run time and never copied
here. Each case writes tests/fixtures/loss/<case>.safetensors holding:

  pred_<i>     float32 (B, na, ny, nx, no)   raw predictions of level i
  targets      float32 (nt, 6)               [image, class, cx, cy, w, h]
  anchors      float32 (nl, na, 2)           grid units
  grad_<i>     float32 like pred_<i>         d(total loss)/d(pred), by autograd
  grad64_<i>   float32 like pred_<i>         the same from a float64 run on the same
                                             assignment (rounded to float32)
  items        float32 (3,)                  box, obj, cls loss items
  total        float32 (1,)                  total loss (items summed, times B)
  tidx_<i>     int32 (n, 4)                  assigned rows: image, anchor, gj, gi
  tbox_<i>     float32 (n, 4)                target box relative to the cell
  tanch_<i>    float32 (n, 2)                anchor of each row (grid units)
  tcls_<i>     int32 (n,)                    class of each row
  balance_after float32 (nl,)               (autobalance cases) balance after the call

and metadata (strings): nl, na, nc, batch, ny, nx, strides, the gains and
options, and for autobalance cases `calls` (the fixture holds the outputs of the
last of that many calls on the same predictions).

Variants the reference has no switch for (DIoU/GIoU/plain IoU box loss) are made
by loading utils/loss.py's source from the extracted tree, changing the flags of
its single bbox_iou call, and executing that patched text as a separate module.

box_iou.safetensors holds box pairs (float64, xywh) with the value and the
gradient w.r.t. the first box of utils.metrics.bbox_iou for each variant,
including exact ties (identical boxes, shared edges, touching boxes).
"""
import argparse
import os
import sys
import types

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import safetensors_np  # noqa: E402

ANCHORS_P5 = [[10, 13, 16, 30, 33, 23], [30, 61, 62, 45, 59, 119], [116, 90, 156, 198, 373, 326]]
ANCHORS_P6 = [[19, 27, 44, 40, 38, 94], [96, 68, 86, 152, 180, 137], [140, 301, 303, 264, 238, 542],
              [436, 615, 739, 380, 925, 720]]

SCRATCH_LOW = dict(box=0.05, cls=0.5, cls_pw=1.0, obj=1.0, obj_pw=1.0, iou_t=0.2, anchor_t=4.0,
                   fl_gamma=0.0, label_smoothing=0.0)

IOU_FLAGS = {"ciou": "CIoU=True", "diou": "DIoU=True", "giou": "GIoU=True", "iou": ""}


def import_reference(root):
    """Imports utils.loss / utils.metrics from the extracted v7.0 tree, stubbing
    the plotting and torch_utils imports the loss does not need."""
    sys.path.insert(0, root)
    for name in ("matplotlib", "matplotlib.pyplot"):
        sys.modules.setdefault(name, types.ModuleType(name))
    torch_utils = types.ModuleType("utils.torch_utils")
    torch_utils.de_parallel = lambda model: model
    sys.modules["utils.torch_utils"] = torch_utils
    import utils.loss
    import utils.metrics
    return utils.loss, utils.metrics


def loss_class_for(root, iou_loss):
    """ComputeLoss with its bbox_iou call switched to another IoU variant."""
    import utils.loss
    if iou_loss == "ciou":
        return utils.loss.ComputeLoss
    path = os.path.join(root, "utils", "loss.py")
    with open(path) as f:
        source = f.read()
    call = "bbox_iou(pbox, tbox[i], CIoU=True)"
    if source.count(call) != 1:
        raise SystemExit(f"{path}: expected exactly one '{call}'")
    flag = IOU_FLAGS[iou_loss]
    source = source.replace(call, f"bbox_iou(pbox, tbox[i]{', ' + flag if flag else ''})")
    module = types.ModuleType(f"utils.loss_{iou_loss}")
    module.__file__ = path
    exec(compile(source, path, "exec"), module.__dict__)
    return module.ComputeLoss


def make_model(torch, nc, anchors_px, strides, hyp):
    """The few attributes ComputeLoss reads from a model."""
    nl = len(anchors_px)
    detect = types.SimpleNamespace()
    detect.nc, detect.nl, detect.na = nc, nl, len(anchors_px[0]) // 2
    stride = torch.tensor(strides, dtype=torch.float32)
    # Same arithmetic as the Detect buffer: pixels as float32, divided by the stride.
    detect.anchors = torch.tensor(anchors_px).float().view(nl, -1, 2) / stride.view(-1, 1, 1)
    detect.stride = stride
    model = torch.nn.Module()
    model.dummy = torch.nn.Parameter(torch.zeros(1))
    model.hyp = dict(hyp)
    model.model = [detect]
    return model


def random_targets(rng, batch, nc, count, skip_images=()):
    rows = []
    images = [b for b in range(batch) if b not in skip_images]
    for _ in range(count):
        b = images[rng.integers(len(images))]
        w, h = rng.uniform(0.04, 0.7, size=2)
        cx, cy = rng.uniform(0.0, 1.0, size=2)
        rows.append([b, rng.integers(nc), cx, cy, w, h])
    return rows


def edge_targets(nc):
    """Targets on cell borders, half-cells and image edges for a 64x64 input
    (grids 8, 4, 2): exact integers and halves in grid units at every level."""
    r = []
    c = lambda i: i % nc  # noqa: E731
    r.append([0, c(0), 0.5, 0.5, 0.25, 0.25])        # image centre: integer gx at every level
    r.append([0, c(1), 0.0, 0.0, 0.2, 0.3])          # top-left corner
    r.append([0, c(2), 1.0, 1.0, 0.3, 0.2])          # bottom-right corner: gx == nx, clamped
    r.append([0, c(3), 1.0, 0.0, 0.15, 0.4])         # top-right corner
    r.append([2, c(4), 0.0625, 0.9375, 0.2, 0.2])    # half-cell centres at P3
    r.append([2, c(5), 0.125, 0.875, 0.3, 0.3])      # gx == 1 exactly at P3 (gx > 1 false)
    r.append([2, c(6), 0.1875, 0.8125, 0.5, 0.5])    # fraction 0.5 at P3
    r.append([2, c(7), 0.25, 0.75, 0.625, 0.1])      # w = 5/8: ratio exactly 4 to P3 anchor 0
    r.append([2, c(8), 0.999, 0.001, 0.1, 0.1])      # just inside the edges
    r.append([2, c(9), 0.3, 0.3, 0.01, 0.01])        # too small for every anchor
    r.append([0, c(10), 0.3, 0.6, 0.99, 0.99])       # nearly the whole image
    r.append([0, c(11), 0.5, 0.5, 0.25, 0.25])       # duplicate of row 0: same cells
    r.append([0, c(12), 0.53, 0.47, 0.3, 0.2])       # shares cells with rows 0/11
    r.append([2, c(13), 0.5, 0.5, 1.0, 1.0])         # full image box
    return r


def case_specs():
    specs = []

    def add(name, **kw):
        base = dict(name=name, nc=4, batch=2, height=64, width=64, anchors=ANCHORS_P5,
                    strides=[8.0, 16.0, 32.0], hyp=dict(SCRATCH_LOW), iou_loss="ciou",
                    balance=None, autobalance=False, sort_obj_iou=False, gr=1.0, calls=1,
                    targets=None, ntargets=10, seed=len(specs) + 1, skip_images=())
        base.update(kw)
        specs.append(base)

    add("default", ntargets=12)
    add("edges", nc=5, batch=3, targets=edge_targets(5))
    add("empty_image", batch=3, ntargets=8, skip_images=(1,))
    add("no_targets", targets=[])
    add("nc1", nc=1, ntargets=9)
    add("label_smoothing", hyp=dict(SCRATCH_LOW, label_smoothing=0.1))
    add("focal", hyp=dict(SCRATCH_LOW, fl_gamma=1.5))
    add("pos_weight", hyp=dict(SCRATCH_LOW, cls_pw=2.0, obj_pw=0.7, cls=0.3, obj=0.7))
    add("balance_anchor_t", balance=[2.0, 1.5, 0.3], hyp=dict(SCRATCH_LOW, anchor_t=2.9), ntargets=14)
    for v in ("diou", "giou", "iou"):
        add(v, iou_loss=v, ntargets=11)
    add("nonsquare", height=64, width=128, batch=3, ntargets=12, nc=3,
        hyp=dict(SCRATCH_LOW, box=0.05 * 0.75, cls=0.5 * 3 / 80, obj=0.01))
    # P6 anchors quartered so that a 64x64 input has targets at every level (1x1 grid at P6).
    add("nl4", anchors=[[a / 4 for a in lv] for lv in ANCHORS_P6], strides=[8.0, 16.0, 32.0, 64.0],
        ntargets=12)
    add("autobalance", autobalance=True, calls=3, ntargets=9)
    add("sort_gr", sort_obj_iou=True, gr=0.5, ntargets=16, batch=1)
    return specs


def run_case(torch, root, spec, out_dir):
    rng = np.random.default_rng(1000 + spec["seed"])
    gen = torch.Generator().manual_seed(spec["seed"])
    nc, B = spec["nc"], spec["batch"]
    nl = len(spec["anchors"])
    strides = spec["strides"]
    hyp = spec["hyp"]
    cls = loss_class_for(root, spec["iou_loss"])
    model = make_model(torch, nc, spec["anchors"], strides, hyp)
    loss = cls(model, autobalance=spec["autobalance"])
    loss.sort_obj_iou = spec["sort_obj_iou"]  # read per call; shadows the class attribute
    loss.gr = spec["gr"]
    if spec["balance"] is not None:
        loss.balance = list(spec["balance"])
    na = loss.na

    if spec["targets"] is None:
        rows = random_targets(rng, B, nc, spec["ntargets"], spec["skip_images"])
        if rows:  # a second target in the same spot (another class): shared cells
            dup = list(rows[0])
            dup[1] = (dup[1] + 1) % nc
            rows.append(dup)
    else:
        rows = spec["targets"]
    targets = torch.tensor(np.array(rows, dtype=np.float32).reshape(-1, 6))

    preds = []
    for s in strides:
        ny, nx = int(spec["height"] // s), int(spec["width"] // s)
        z = torch.randn((B, na, ny, nx, nc + 5), generator=gen) * 1.5
        z[..., 4] -= 2.0  # objectness logits lean negative, as after the bias prior
        preds.append(z.float())

    balance_before = list(loss.balance)
    for _ in range(spec["calls"]):
        p = [z.clone().requires_grad_(True) for z in preds]
        total, items = loss(p, targets)
        total.backward()
    tcls, tbox, indices, anch = loss.build_targets(p, targets)

    # The same loss in float64 on the same assignment, for an element-wise
    # gradient check (the float32 run's gradient is only good to ~1e-7 of its
    # largest element). build_targets stays float32, as in training, and is
    # substituted on the instance; the loss code itself runs unchanged.
    loss64 = cls(model, autobalance=spec["autobalance"])
    loss64.sort_obj_iou, loss64.gr = spec["sort_obj_iou"], spec["gr"]
    if spec["balance"] is not None:
        loss64.balance = list(spec["balance"])
    loss64.anchors = loss64.anchors.double()
    assigned = (tcls, [t.double() for t in tbox], indices, [a.double() for a in anch])
    loss64.build_targets = lambda p_, t_: assigned
    for _ in range(spec["calls"]):
        p64 = [z.double().requires_grad_(True) for z in preds]
        total64, _ = loss64(p64, targets.double())
        total64.backward()

    tensors = {}
    for i in range(nl):
        tensors[f"pred_{i}"] = preds[i].numpy()
    tensors["targets"] = targets.numpy()
    tensors["anchors"] = loss.anchors.numpy().astype(np.float32)
    for i in range(nl):
        tensors[f"grad_{i}"] = p[i].grad.numpy()
    for i in range(nl):
        tensors[f"grad64_{i}"] = p64[i].grad.numpy().astype(np.float32)
    tensors["items"] = items.numpy().astype(np.float32)
    tensors["total"] = total.detach().numpy().astype(np.float32)
    for i in range(nl):
        b, a, gj, gi = indices[i]
        tensors[f"tidx_{i}"] = torch.stack((b, a, gj, gi), 1).numpy().astype(np.int32).reshape(-1, 4)
        tensors[f"tbox_{i}"] = tbox[i].numpy().astype(np.float32).reshape(-1, 4)
        tensors[f"tanch_{i}"] = anch[i].numpy().astype(np.float32).reshape(-1, 2)
        tensors[f"tcls_{i}"] = tcls[i].numpy().astype(np.int32).reshape(-1)
    if spec["autobalance"]:
        tensors["balance_after"] = np.array(loss.balance, dtype=np.float32)

    fmt = lambda xs: ",".join(repr(float(x)) for x in xs)  # noqa: E731
    meta = {
        "nl": nl, "na": na, "nc": nc, "batch": B,
        "ny": ",".join(str(int(spec["height"] // s)) for s in strides),
        "nx": ",".join(str(int(spec["width"] // s)) for s in strides),
        "strides": fmt(strides),
        "box": repr(hyp["box"]), "obj": repr(hyp["obj"]), "cls": repr(hyp["cls"]),
        "cls_pw": repr(hyp["cls_pw"]), "obj_pw": repr(hyp["obj_pw"]),
        "anchor_t": repr(hyp["anchor_t"]), "fl_gamma": repr(hyp["fl_gamma"]),
        "label_smoothing": repr(hyp["label_smoothing"]),
        "iou_loss": spec["iou_loss"],
        "balance": fmt(balance_before),
        "autobalance": int(spec["autobalance"]), "sort_obj_iou": int(spec["sort_obj_iou"]),
        "gr": repr(spec["gr"]), "calls": spec["calls"],
        "source": "ultralytics/yolov5 v7.0 utils/loss.py ComputeLoss, torch " + torch.__version__,
    }
    path = os.path.join(out_dir, spec["name"] + ".safetensors")
    safetensors_np.save(path, tensors, meta)
    counts = [int(indices[i][0].shape[0]) for i in range(nl)]
    print(f"{spec['name']:18s} nt={targets.shape[0]:2d} rows/level={counts} items={items.numpy()}")


def box_pairs():
    """xywh pairs (box1 = prediction, box2 = target) in dyadic values, so ties
    are exact in float64: identical, shared edges, touching, disjoint, nested,
    plus random pairs."""
    pairs = [
        [1.0, 1.0, 2.0, 2.0, 1.0, 1.0, 2.0, 2.0],      # identical
        [1.0, 1.0, 2.0, 2.0, 1.5, 1.0, 3.0, 2.0],      # shared left edge, same y extent
        [1.0, 1.0, 2.0, 2.0, 3.0, 1.0, 2.0, 2.0],      # touching (iw == 0)
        [1.0, 1.0, 2.0, 2.0, 5.0, 4.0, 2.0, 2.0],      # disjoint
        [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 4.0, 4.0],      # box1 inside box2, same centre
        [1.0, 1.0, 4.0, 4.0, 1.25, 0.75, 1.0, 0.5],    # box2 inside box1
        [0.5, 0.5, 1.0, 2.0, 0.5, 0.5, 2.0, 1.0],      # cross shape
        [0.25, 0.75, 0.5, 0.5, 0.75, 0.25, 0.5, 0.5],  # corner touching at a point
        [1.0, 1.0, 2.0, 2.0, 1.0, 2.0, 2.0, 2.0],      # touching in y, same x extent
        [2.0, 1.0, 2.0, 2.0, 1.0, 1.0, 4.0, 2.0],      # shared right edge
    ]
    rng = np.random.default_rng(7)
    for _ in range(22):
        x1, y1 = rng.uniform(-0.5, 1.5, 2)
        w1, h1 = rng.uniform(0.05, 4.0, 2)
        x2, y2 = rng.uniform(-0.5, 1.5, 2)
        w2, h2 = rng.uniform(0.05, 4.0, 2)
        pairs.append([x1, y1, w1, h1, x2, y2, w2, h2])
    return np.array(pairs, dtype=np.float64)


def run_box_iou(torch, metrics, out_dir):
    pairs = box_pairs()
    tensors = {"pairs": pairs}
    for variant, flag in IOU_FLAGS.items():
        kw = {flag.split("=")[0]: True} if flag else {}
        values, grads = [], []
        for row in pairs:
            b1 = torch.tensor(row[None, :4], dtype=torch.float64, requires_grad=True)
            b2 = torch.tensor(row[None, 4:], dtype=torch.float64)
            v = metrics.bbox_iou(b1, b2, **kw).sum()
            v.backward()
            values.append(v.item())
            grads.append(b1.grad.numpy()[0])
        tensors[f"value_{variant}"] = np.array(values, dtype=np.float64)
        tensors[f"grad_{variant}"] = np.array(grads, dtype=np.float64)
    meta = {"source": "ultralytics/yolov5 v7.0 utils/metrics.py bbox_iou (xywh), float64 autograd"}
    safetensors_np.save(os.path.join(out_dir, "box_iou.safetensors"), tensors, meta)
    print(f"box_iou            pairs={len(pairs)}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--yolov5", default="/tmp/yolov5-v7.0", help="extracted YOLOv5 v7.0 tree")
    ap.add_argument("--out", default=os.path.join(HERE, "..", "tests", "fixtures", "loss"))
    args = ap.parse_args()
    import torch
    torch.use_deterministic_algorithms(True)
    _, metrics = import_reference(os.path.abspath(args.yolov5))
    os.makedirs(args.out, exist_ok=True)
    run_box_iou(torch, metrics, args.out)
    for spec in case_specs():
        run_case(torch, os.path.abspath(args.yolov5), spec, args.out)


if __name__ == "__main__":
    main()
