#!/usr/bin/env python3
"""Reference fixtures for the evaluation tests (tests/eval), produced by the
real YOLOv5 v7.0 code: non_max_suppression (with torchvision's nms),
scale_boxes / clip_boxes, val.py's process_batch / save_one_txt /
save_one_json, utils/metrics.py's ap_per_class and ConfusionMatrix.

Needs the system Python with PyTorch 1.13, NumPy 1.24 and Debian's
python3-torchvision, and the v7.0 sources extracted outside the repository:

    mkdir -p /tmp/yolov5-v7.0
    git --git-dir=/work/.mirror/ultralytics+yolov5/repo archive v7.0 | tar -x -C /tmp/yolov5-v7.0
    /usr/bin/python3 scripts/gen_eval_fixtures.py [--yolov5 /tmp/yolov5-v7.0] [--out tests/fixtures/eval]

The YOLOv5 code is imported from that directory at run time and never copied
here; val.py's helper functions are taken from its source by name (ast) so the
rest of val.py (model loading, data loaders) need not import. Unavailable
optional imports (pandas, matplotlib, IPython) are stubbed.

Files written (safetensors; metadata values are strings):

nms.safetensors      per case <c>: pred_<c> (B, N, 5+nc) float32 decoded
                     predictions (some cases quantised so that scores and boxes
                     tie often); per setting <c>_<k>: out_<c>_<k> (rows, 6)
                     float32 NMS rows of all images concatenated, count_<c>_<k>
                     (B,) int32; metadata settings_<c> lists
                     "conf,iou,multi_label,agnostic,max_det,classes" per setting
                     (classes '-' or 'a+b+c'), separated by ';'.
boxes.safetensors    scale_boxes / clip_boxes / round / xyxy2xywhn parity.
match.safetensors    process_batch on many small images (ties and duplicates
                     included), and a ConfusionMatrix fed with the same images.
sort.safetensors     torch.argsort(descending=True) and np.argsort of tie-heavy keys.
ap.safetensors       ap_per_class on random stats, plus val.py's final means.
val.safetensors      a small end-to-end validation: predictions and labels of
                     several images -> NMS, native boxes, matching, metrics, the
                     printed table, --save-txt lines and the --save-json text.
"""
import argparse
import ast
import io
import json
import logging
import os
import sys
import types

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import safetensors_np  # noqa: E402


def import_reference(root):
    sys.path.insert(0, root)
    for name in ("IPython", "IPython.display", "pandas", "matplotlib", "matplotlib.pyplot", "seaborn"):
        sys.modules.setdefault(name, types.ModuleType(name))
    pandas = sys.modules["pandas"]
    pandas.options = types.SimpleNamespace(display=types.SimpleNamespace(max_columns=10))
    import utils.general as general
    import utils.metrics as metrics

    # val.py's small helpers, compiled from its source text by name.
    with open(os.path.join(root, "val.py")) as f:
        tree = ast.parse(f.read())
    wanted = {"process_batch", "save_one_txt", "save_one_json"}
    body = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name in wanted]
    ns = {"np": np, "torch": torch, "box_iou": metrics.box_iou, "xyxy2xywh": general.xyxy2xywh}
    exec(compile(ast.Module(body=body, type_ignores=[]), "val.py", "exec"), ns)
    val = types.SimpleNamespace(**{k: ns[k] for k in wanted})
    return general, metrics, val


class TimeLimitGuard(logging.Handler):
    """Fails loudly if non_max_suppression hit its time limit (its output would
    then be truncated and not a valid reference)."""

    def emit(self, record):
        if "time limit" in record.getMessage():
            raise RuntimeError("NMS time limit exceeded while generating fixtures: " + record.getMessage())


# ---------------------------------------------------------------- predictions

def make_predictions(rng, batch, n, nc, width, height, quantise=False):
    """Decoded-Detect-like rows (cx, cy, w, h, obj, cls...): clusters of boxes
    around a few objects (so NMS has work to do) plus background boxes."""
    pred = np.zeros((batch, n, 5 + nc), np.float32)
    for b in range(batch):
        k = int(rng.integers(1, 8))
        objs = np.stack([rng.uniform(0, width, k), rng.uniform(0, height, k),
                         rng.uniform(8, width / 2, k), rng.uniform(8, height / 2, k)], 1)
        ocls = rng.integers(0, nc, k)
        which = rng.integers(0, k, n)
        is_obj = rng.random(n) < 0.7
        o = objs[which]
        cx = o[:, 0] + rng.normal(0, 0.08, n) * o[:, 2]
        cy = o[:, 1] + rng.normal(0, 0.08, n) * o[:, 3]
        w = o[:, 2] * np.exp(rng.normal(0, 0.15, n))
        h = o[:, 3] * np.exp(rng.normal(0, 0.15, n))
        bg = ~is_obj
        cx[bg] = rng.uniform(-20, width + 20, bg.sum())
        cy[bg] = rng.uniform(-20, height + 20, bg.sum())
        w[bg] = rng.uniform(2, width / 3, bg.sum())
        h[bg] = rng.uniform(2, height / 3, bg.sum())
        obj = np.where(is_obj, rng.uniform(0.2, 1.0, n) ** 0.7, rng.random(n) ** 4 * 0.08)
        cls = rng.random((n, nc)) ** 3 * 0.3
        cls[np.arange(n)[is_obj], ocls[which[is_obj]]] = rng.uniform(0.4, 1.0, is_obj.sum())
        if quantise:  # few distinct values: exact ties in scores, identical boxes
            cx, cy = np.round(cx / 8) * 8, np.round(cy / 8) * 8
            w, h = np.maximum(np.round(w / 16) * 16, 8), np.maximum(np.round(h / 16) * 16, 8)
            obj = np.round(obj * 8) / 8
            cls = np.round(cls * 4) / 4
        pred[b, :, 0], pred[b, :, 1], pred[b, :, 2], pred[b, :, 3] = cx, cy, w, h
        pred[b, :, 4] = obj
        pred[b, :, 5:] = cls
    return pred


def nms_fixtures(general, rng):
    cases = {
        # name: (batch, boxes, nc, quantise); quantised cases are stored as
        # float16 (their values are exact in it) to keep the file small
        "c3": (3, 400, 3, False),
        "c80": (2, 150, 80, False),
        "c1": (2, 300, 1, False),
        "ties": (2, 300, 4, True),
        "big": (1, 400, 80, True),  # > 30000 candidates at conf 0.001: max_nms cut
    }
    settings = {
        "c3": [(0.001, 0.6, 1, 0, 300, None), (0.25, 0.45, 0, 0, 1000, None), (0.001, 0.6, 0, 1, 300, None),
               (0.25, 0.45, 1, 1, 7, None), (0.1, 0.3, 1, 0, 300, (0, 2)), (0.001, 0.0, 1, 0, 300, None),
               (0.001, 1.0, 0, 0, 300, None)],
        "c80": [(0.001, 0.6, 1, 0, 300, None), (0.25, 0.45, 0, 0, 1000, None), (0.001, 0.65, 1, 1, 100, None),
                (0.25, 0.45, 1, 0, 1000, (1, 5, 17, 79))],
        "c1": [(0.001, 0.6, 1, 0, 300, None), (0.25, 0.45, 0, 0, 1000, None), (0.5, 0.5, 0, 1, 5, None)],
        "ties": [(0.001, 0.6, 1, 0, 300, None), (0.25, 0.45, 0, 0, 1000, None), (0.001, 0.5, 1, 1, 300, None),
                 (0.125, 0.45, 0, 1, 20, None)],
        "big": [(0.001, 0.6, 1, 0, 300, None), (0.001, 0.6, 1, 1, 1000, None)],
    }
    tensors, meta = {}, {}
    for name, (batch, n, nc, quant) in cases.items():
        pred = make_predictions(rng, batch, n, nc, 640, 480, quant)
        if name == "big":  # every class score high enough to become a candidate
            pred[..., 4] = np.maximum(pred[..., 4], 0.25)
            pred[..., 5:] = np.maximum(pred[..., 5:], 0.125)
        if quant:
            assert np.array_equal(pred.astype(np.float16).astype(np.float32), pred)
            tensors[f"pred_{name}"] = pred.astype(np.float16)
        else:
            tensors[f"pred_{name}"] = pred
        lines = []
        for k, (conf, iou, multi, agn, max_det, classes) in enumerate(settings[name]):
            out = general.non_max_suppression(torch.from_numpy(pred.copy()), conf, iou, classes=classes,
                                              agnostic=bool(agn), multi_label=bool(multi), max_det=max_det)
            counts = np.array([len(o) for o in out], np.int32)
            rows = torch.cat(out, 0).numpy().astype(np.float32).reshape(-1, 6)
            tensors[f"out_{name}_{k}"] = rows
            tensors[f"count_{name}_{k}"] = counts
            cls_txt = "-" if classes is None else "+".join(str(c) for c in classes)
            lines.append(f"{conf!r},{iou!r},{multi},{agn},{max_det},{cls_txt}")
            print(f"  nms {name}/{k}: {counts.tolist()} rows")
        meta[f"settings_{name}"] = ";".join(lines)
        meta[f"count_settings_{name}"] = str(len(lines))
    if "big" in cases:
        pred = tensors["pred_big"][0]
        x = pred[pred[:, 4] > np.float32(0.001)]
        s = x[:, 5:] * x[:, 4:5]
        n_cand = int((s > np.float32(0.001)).sum())
        assert n_cand > 30000, f"big case has only {n_cand} candidates"
        meta["big_candidates"] = str(n_cand)
    return tensors, meta


# ---------------------------------------------------------------- sort orders

def sort_fixtures(rng):
    """torch.argsort(descending=True) and np.argsort on tie-heavy keys: the
    orders eval/sort_order.c reproduces."""
    tensors = {}
    sizes = [1, 2, 16, 17, 40, 100, 1000, 5000]
    for k, n in enumerate(sizes):
        levels = int(rng.integers(1, 12))
        keys = (rng.integers(0, levels, n) / levels).astype(np.float32)
        if k == 5:
            keys = np.sort(keys)[::-1].copy()  # already in order
        if k == 6:
            keys = np.sort(keys).copy()  # reversed
        tensors[f"keys_{k}"] = keys
        tensors[f"torch_{k}"] = torch.from_numpy(keys).argsort(descending=True).numpy().astype(np.int32)
        tensors[f"numpy_{k}"] = np.argsort(keys).astype(np.int32)
    return tensors, {"cases": str(len(sizes))}


# ---------------------------------------------------------------- boxes

def boxes_fixtures(general, rng):
    n = 300
    x1 = rng.uniform(-60, 700, n)
    y1 = rng.uniform(-60, 540, n)
    boxes = np.stack([x1, y1, x1 + rng.uniform(0, 300, n), y1 + rng.uniform(0, 300, n)], 1).astype(np.float32)
    boxes[::17] = np.round(boxes[::17] * 2) / 2  # some .5 values for round-half-even
    tensors = {"boxes": boxes}
    meta = {}
    # val: ratio_pad from the loader ((h/h0, w/w0), (dw, dh)) with original h0 x w0.
    cases = [((640, 480), (427, 640), ((480 / 640 * 427 / 427, 640 / 640), (0.0, 26.5))),
             ((672, 512), (1080, 720), ((512 / 1080 * 1.0, 512 / 1080), (80.3, 0.0))),
             ((640, 640), (333, 500), ((1.28, 1.28), (0.0, 106.88))),
             ((320, 256), (999, 777), ((0.25625625625625625, 0.25625625625625625), (30.4, 2.0)))]
    for k, (img1, img0, ratio_pad) in enumerate(cases):
        out = general.scale_boxes(img1, torch.from_numpy(boxes.copy()), img0, ratio_pad).numpy()
        tensors[f"val_{k}"] = out
        meta[f"val_{k}"] = ",".join(repr(float(v)) for v in (img0[0], img0[1], ratio_pad[0][0], ratio_pad[0][1],
                                                                  ratio_pad[1][0], ratio_pad[1][1]))
    # detect: ratio_pad None, then .round()
    dcases = [((480, 640), (427, 640)), ((640, 640), (1080, 1920)), ((640, 512), (800, 600)), ((384, 640), (333, 501))]
    for k, (img1, img0) in enumerate(dcases):
        out = general.scale_boxes(img1, torch.from_numpy(boxes.copy()), img0).round().numpy()
        tensors[f"fit_{k}"] = out
        meta[f"fit_{k}"] = ",".join(str(v) for v in (img1[0], img1[1], img0[0], img0[1]))
    # xywh <-> xyxy
    tensors["xywh"] = general.xyxy2xywh(torch.from_numpy(boxes.copy())).numpy()
    tensors["xyxy_back"] = general.xywh2xyxy(torch.from_numpy(tensors["xywh"].copy())).numpy()
    return tensors, meta


# ---------------------------------------------------------------- process_batch / confusion

def random_image_boxes(rng, nc, quant):
    """Detections and labels of one image, drawn around shared objects so IoUs
    spread over the thresholds; duplicates and exact IoU ties when quant."""
    k = int(rng.integers(0, 6))
    m = int(rng.integers(0, 10))
    n = int(rng.integers(0, 40))
    W, H = 640.0, 480.0
    centres = np.stack([rng.uniform(50, W - 50, max(k, 1)), rng.uniform(50, H - 50, max(k, 1)),
                        rng.uniform(20, 200, max(k, 1)), rng.uniform(20, 200, max(k, 1))], 1)
    ocls = rng.integers(0, nc, max(k, 1))

    def boxes_near(count, jitter):
        which = rng.integers(0, len(centres), count)
        c = centres[which]
        cx = c[:, 0] + rng.normal(0, jitter, count) * c[:, 2]
        cy = c[:, 1] + rng.normal(0, jitter, count) * c[:, 3]
        w = c[:, 2] * np.exp(rng.normal(0, jitter, count))
        h = c[:, 3] * np.exp(rng.normal(0, jitter, count))
        if quant:
            cx, cy, w, h = np.round(cx / 10) * 10, np.round(cy / 10) * 10, np.round(w / 20) * 20 + 20, np.round(h / 20) * 20 + 20
        xyxy = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], 1)
        return xyxy, ocls[which]

    lab_xyxy, lab_cls = boxes_near(m, 0.02)
    det_xyxy, det_cls = boxes_near(n, 0.1)
    flip = rng.random(n) < 0.2
    det_cls = np.where(flip, rng.integers(0, nc, n), det_cls)
    conf = rng.random(n)
    if quant:
        conf = np.round(conf * 5) / 5
        if m > 1:
            lab_xyxy[-1], lab_cls[-1] = lab_xyxy[0], lab_cls[0]  # duplicate label
        if n > 2:
            det_xyxy[1], det_cls[1] = det_xyxy[0], det_cls[0]  # duplicate detection
    conf = np.sort(conf)[::-1]  # NMS output order
    det = np.concatenate([det_xyxy, conf[:, None], det_cls[:, None]], 1).astype(np.float32)
    lab = np.concatenate([lab_cls[:, None], lab_xyxy], 1).astype(np.float32)
    return det.reshape(-1, 6), lab.reshape(-1, 5)


def match_fixtures(metrics, val, rng):
    nc = 4
    iouv = torch.linspace(0.5, 0.95, 10)
    dets, labs, dcount, lcount, corrects = [], [], [], [], []
    cm = metrics.ConfusionMatrix(nc=nc)
    for i in range(160):
        det, lab = random_image_boxes(rng, nc, quant=(i % 3 == 0))
        if i % 10 == 5:  # one big image: more than 16 pairs per threshold, ties in IoU
            det = np.concatenate([det] * 3, 0)[:60]
            lab = np.concatenate([lab] * 2, 0)
        correct = val.process_batch(torch.from_numpy(det), torch.from_numpy(lab), iouv).numpy()
        dets.append(det)
        labs.append(lab)
        dcount.append(len(det))
        lcount.append(len(lab))
        corrects.append(correct.astype(np.uint8).reshape(-1, 10))
        # as val.py feeds it: detections=None for an image without detections
        if len(lab):
            if len(det) == 0:
                cm.process_batch(None, torch.from_numpy(lab[:, 0]))
            else:
                cm.process_batch(torch.from_numpy(det), torch.from_numpy(lab))
    tensors = {
        "det": np.concatenate(dets, 0).astype(np.float32).reshape(-1, 6),
        "lab": np.concatenate(labs, 0).astype(np.float32).reshape(-1, 5),
        "det_count": np.array(dcount, np.int32),
        "lab_count": np.array(lcount, np.int32),
        "correct": np.concatenate(corrects, 0).reshape(-1, 10),
        "confusion": cm.matrix.astype(np.float64),
        "iouv": iouv.numpy(),
    }
    buf = io.StringIO()
    saved = sys.stdout
    sys.stdout = buf
    try:
        cm.print()
    finally:
        sys.stdout = saved
    meta = {"nc": str(nc), "confusion_print": buf.getvalue()}
    tp, fp = cm.tp_fp()
    tensors["confusion_tp"], tensors["confusion_fp"] = tp, fp
    return tensors, meta


# ---------------------------------------------------------------- ap_per_class

def val_means(metrics, stats, nc):
    """val.py's end-of-run arithmetic on ap_per_class's outputs."""
    mp = mr = map50 = map_ = 0.0
    ap_class = []
    if len(stats) and stats[0].any():
        tp, fp, p, r, f1, ap, ap_class = metrics.ap_per_class(*stats, plot=False, names={})
        ap50, ap = ap[:, 0], ap.mean(1)
        mp, mr, map50, map_ = p.mean(), r.mean(), ap50.mean(), ap.mean()
    maps = np.zeros(nc) + map_
    for i, c in enumerate(ap_class):
        maps[c] = ap[i]
    fit = metrics.fitness(np.array([mp, mr, map50, map_, 0, 0, 0]).reshape(1, -1))[0]
    return np.array([mp, mr, map50, map_, fit], np.float64), maps


def ap_fixtures(metrics, rng):
    captured = []
    orig_smooth = metrics.smooth

    def smooth_spy(y, f=0.05):
        out = orig_smooth(y, f)
        captured.append(out)
        return out

    metrics.smooth = smooth_spy
    tensors, meta = {}, {}
    cases = []
    for k in range(12):
        n = int(rng.integers(1, 1000))
        nc = int(rng.integers(1, 12))
        n_t = int(rng.integers(1, 400))
        target_cls = rng.integers(0, nc, n_t)
        pred_cls = rng.integers(0, nc + (1 if k % 4 == 1 else 0), n)  # k%4==1: a class with no labels
        if k % 4 == 2 and nc > 1:  # a labelled class with no predictions
            pred_cls[pred_cls == 0] = 1
        conf = rng.random(n).astype(np.float32)
        if k % 3 == 0:
            conf = (np.round(conf * 20) / 20).astype(np.float32)  # ties
        p_true = rng.uniform(0.2, 0.9)
        base = rng.random(n) < p_true * conf ** 0.5
        iou = rng.random(n)
        tp = np.stack([base & (iou > j / 12) for j in range(10)], 1)
        cases.append((tp, conf, pred_cls.astype(np.float32), target_cls.astype(np.float32), nc))
    # hand-picked: one prediction, one label
    cases.append((np.ones((1, 10), bool), np.array([0.5], np.float32), np.array([0.0], np.float32),
                  np.array([0.0], np.float32), 1))
    # perfect detector
    cases.append((np.ones((5, 10), bool), np.array([0.9, 0.8, 0.7, 0.6, 0.5], np.float32),
                  np.array([0, 1, 0, 1, 2], np.float32), np.array([0, 0, 1, 1, 2], np.float32), 3))
    for k, (tp, conf, pred_cls, target_cls, nc) in enumerate(cases):
        captured.clear()
        tpc, fpc, p, r, f1, ap, classes = metrics.ap_per_class(tp, conf, pred_cls, target_cls, plot=False, names={})
        best = int(captured[-1].argmax())
        means, maps = val_means(metrics, [tp, conf, pred_cls, target_cls], nc)
        tensors.update({
            f"tp_{k}": tp.astype(np.uint8), f"conf_{k}": conf, f"pcls_{k}": pred_cls.astype(np.int32),
            f"tcls_{k}": target_cls.astype(np.int32),
            f"out_p_{k}": p, f"out_r_{k}": r, f"out_f1_{k}": f1, f"out_ap_{k}": ap,
            f"out_classes_{k}": classes.astype(np.int32), f"out_tp_{k}": tpc, f"out_fp_{k}": fpc,
            f"out_best_{k}": np.array([best], np.int32), f"out_means_{k}": means, f"out_maps_{k}": maps,
        })
        meta[f"nc_{k}"] = str(nc)
    meta["cases"] = str(len(cases))
    metrics.smooth = orig_smooth
    return tensors, meta


# ---------------------------------------------------------------- end-to-end val

def val_fixtures(general, metrics, val, rng):
    nc, names = 5, ["person", "bicycle", "traffic light", "a,b", "zebra"]
    images = [  # (input h, w), original (h0, w0), stem
        ((480, 640), (427, 640), "000000000139"),
        ((640, 480), (640, 480), "img_b"),
        ((480, 640), (360, 500), "42"),
        ((384, 640), (300, 500), "zebra crossing"),
        ((640, 640), (1000, 1000), "0"),
        ((480, 640), (433, 577), "caf\u00e9"),
    ]
    n_boxes = 100
    iouv = torch.linspace(0.5, 0.95, 10)
    tensors, meta = {}, {}
    stats, seen, jdict = [], 0, []
    txt = []
    cm = metrics.ConfusionMatrix(nc=nc)
    for i, ((h, w), (h0, w0), stem) in enumerate(images):
        pred = make_predictions(rng, 1, n_boxes, nc, w, h)
        # labels: a few objects, normalised (class, cx, cy, w, h) to the input image
        m = 0 if i == 4 else int(rng.integers(1, 8))
        lab = np.zeros((m, 5), np.float32)
        lab[:, 0] = rng.integers(0, nc, m)
        lab[:, 1:3] = rng.uniform(0.1, 0.9, (m, 2))
        lab[:, 3:5] = rng.uniform(0.05, 0.4, (m, 2))
        if m:  # put predictions on the labels so something matches
            for j in range(min(m, 3)):
                pred[0, j * 10:(j + 1) * 10, 0] = lab[j, 1] * w + rng.normal(0, 3, 10)
                pred[0, j * 10:(j + 1) * 10, 1] = lab[j, 2] * h + rng.normal(0, 3, 10)
                pred[0, j * 10:(j + 1) * 10, 2] = lab[j, 3] * w * np.exp(rng.normal(0, 0.05, 10))
                pred[0, j * 10:(j + 1) * 10, 3] = lab[j, 4] * h * np.exp(rng.normal(0, 0.05, 10))
                pred[0, j * 10:(j + 1) * 10, 5 + int(lab[j, 0])] = 0.9
        if i == 2:
            pred[..., 4] = 0.0005  # nothing passes conf 0.001: an image without detections
        # ratio_pad as the rect loader gives it: ((h/h0, w/w0), (dw, dh)) with
        # the letterboxed image h x w holding the resized original
        r = min(h / h0, w / w0)
        new_w, new_h = int(round(w0 * r)), int(round(h0 * r))
        dw, dh = (w - new_w) / 2, (h - new_h) / 2
        ratio_pad = ((new_h / h0, new_w / w0), (dw, dh))
        tensors[f"pred_{i}"] = pred[0]
        tensors[f"labels_{i}"] = lab
        meta[f"image_{i}"] = ",".join([str(h), str(w), str(h0), str(w0), repr(ratio_pad[0][0]), repr(ratio_pad[0][1]),
                                       repr(dw), repr(dh), stem])

        targets = torch.from_numpy(lab.copy())
        targets[:, 1:] *= torch.tensor((w, h, w, h))
        out = general.non_max_suppression(torch.from_numpy(pred.copy()), 0.001, 0.6, labels=[], multi_label=True,
                                          agnostic=False, max_det=300)
        p = out[0]
        labels = targets
        nl, npr = labels.shape[0], p.shape[0]
        correct = torch.zeros(npr, 10, dtype=torch.bool)
        seen += 1
        tensors[f"nms_{i}"] = p.numpy().reshape(-1, 6)
        if npr == 0:
            if nl:
                stats.append((correct, *torch.zeros((2, 0)), labels[:, 0]))
                cm.process_batch(detections=None, labels=labels[:, 0])
            tensors[f"native_{i}"] = np.zeros((0, 6), np.float32)
            tensors[f"correct_{i}"] = np.zeros((0, 10), np.uint8)
            continue
        predn = p.clone()
        general.scale_boxes((h, w), predn[:, :4], (h0, w0), ratio_pad)
        if nl:
            tbox = general.xywh2xyxy(labels[:, 1:5])
            general.scale_boxes((h, w), tbox, (h0, w0), ratio_pad)
            labelsn = torch.cat((labels[:, 0:1], tbox), 1)
            correct = val.process_batch(predn, labelsn, iouv)
            cm.process_batch(predn, labelsn)
            tensors[f"labels_native_{i}"] = labelsn.numpy()
        stats.append((correct, p[:, 4], p[:, 5], labels[:, 0]))
        tensors[f"native_{i}"] = predn.numpy()
        tensors[f"correct_{i}"] = correct.numpy().astype(np.uint8)
        # --save-txt with and without conf, and --save-json
        for save_conf in (0, 1):
            path = f"/tmp/gen_eval_txt_{os.getpid()}.txt"
            if os.path.exists(path):
                os.remove(path)
            val.save_one_txt(predn, bool(save_conf), (h0, w0), path)
            with open(path) as f:
                txt.append(f.read())
            os.remove(path)
        from pathlib import Path
        val.save_one_json(predn, jdict, Path(f"/x/{stem}.jpg"), general.coco80_to_coco91_class())

    stats_np = [torch.cat(x, 0).numpy() for x in zip(*stats)]
    means, maps = val_means(metrics, stats_np, nc)
    nt = np.bincount(stats_np[3].astype(int), minlength=nc)
    # the printed table, as val.py formats it
    pf = "%22s" + "%11i" * 2 + "%11.3g" * 4
    lines = [("%22s" + "%11s" * 6) % ("Class", "Images", "Instances", "P", "R", "mAP50", "mAP50-95")]
    lines.append(pf % ("all", seen, nt.sum(), *means[:4]))
    tp, fp, p, r, f1, ap, ap_class = metrics.ap_per_class(*stats_np, plot=False, names={})
    ap50, ap = ap[:, 0], ap.mean(1)
    for i, c in enumerate(ap_class):
        lines.append(pf % (names[c], seen, nt[c], p[i], r[i], ap50[i], ap[i]))
    tensors["means"] = means
    tensors["maps"] = maps
    tensors["confusion"] = cm.matrix
    meta.update({
        "nc": str(nc), "names": "|".join(names), "images": str(len(images)),
        "table": "\n".join(lines) + "\n",
        "txt": "".join(txt),
        "json": json.dumps(jdict),
    })
    return tensors, meta


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--yolov5", default="/tmp/yolov5-v7.0")
    ap.add_argument("--out", default=os.path.join(HERE, "..", "tests", "fixtures", "eval"))
    args = ap.parse_args()
    general, metrics, val = import_reference(args.yolov5)
    general.LOGGER.addHandler(TimeLimitGuard())
    torch.set_num_threads(1)
    os.makedirs(args.out, exist_ok=True)
    rng = np.random.default_rng(20240607)
    for name, fn in (("sort", lambda: sort_fixtures(rng)), ("nms", lambda: nms_fixtures(general, rng)), ("boxes", lambda: boxes_fixtures(general, rng)),
                     ("match", lambda: match_fixtures(metrics, val, rng)), ("ap", lambda: ap_fixtures(metrics, rng)),
                     ("val", lambda: val_fixtures(general, metrics, val, rng))):
        tensors, meta = fn()
        path = os.path.join(args.out, f"{name}.safetensors")
        safetensors_np.save(path, tensors, meta)
        print(f"{path}: {os.path.getsize(path)} bytes")


if __name__ == "__main__":
    main()
