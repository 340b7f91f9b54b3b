#!/usr/bin/python3
"""Parity fixture for `yolov5c val` and `yolov5c detect` (tests/fixtures/val/):
a small model trained by the real YOLOv5 v7.0 code on the built-in shapes
dataset, a few of its validation images, and what v7.0's val.py and
detect.py report for them.

    mkdir -p /tmp/yolov5-v7.0
    git --git-dir=/work/.mirror/ultralytics+yolov5/repo archive v7.0 | tar -x -C /tmp/yolov5-v7.0
    make && /usr/bin/python3 scripts/gen_val_fixtures.py [--yolov5 /tmp/yolov5-v7.0] [--work /tmp/yv5-valfx]

Needs PyTorch, NumPy and OpenCV (never run by CI; the outputs are committed).
The v7.0 sources are run from that tree (train.py, val.py, detect.py; modules
they import only for plotting, logging services or update checks are
stubbed); nothing of them is copied here. Steps:

 1. `./yolov5c dataset --generate-shapes WORK/shapes --img 320 --txt-labels`
    (seed 0: 240 train, 60 val images of coloured shapes, 6 classes);
 2. v7.0 train.py from scratch on it: models/yolov5n.yaml at width 0.125
    (447k parameters), --img 224, --batch-size 8, --epochs 100, --noval, CPU,
    with the nominal batch size set to 8 (train.py hard-codes nbs = 64, which
    with 240 images would step the optimizer four times an epoch; this only
    changes how the weights are made, nothing that is compared). About 30 to
    60 minutes on two busy cores; --skip-train reuses a finished run;
 3. best.pt -> model.safetensors with scripts/pt2safetensors.py, tensors
    stored as F16 (best.pt holds fp16 weights, so this is lossless);
 4. the first 32 validation images (JPEG, as generated) and their YOLO txt
    labels -> images/ and labels/;
 5. val.py's run() on them for each setting in VAL_SETTINGS (rect batches,
    pad 0.5, multi-label NMS; the NMS time limit is lifted so a slow machine
    cannot drop images): P, R, mAP50, mAP50-95 and the per-class rows; and
    once as train.py calls it each epoch (the unfused model, ComputeLoss with
    hyp.scratch-low's gains rescaled as train.py does): the val losses;
 6. detect.py's run() on them for each setting in DETECT_SETTINGS: per image
    the detections (x1, y1, x2, y2 rounded to pixels, conf, class), the boxes
    before rounding (scale_boxes' output), the input shape and the
    class-count text of its console line;
 7. expected.json with all of that, twice: under "jpeg" for the fixture's
    JPEGs as the reference decodes them (OpenCV), under "decoded" for PNG
    copies of the pixels yolov5c decodes from them (a helper compiled against
    build/libyolov5c.a writes them), so the second compares the two pipelines
    on identical input whatever the decoders do.

yolov5c decodes JPEGs with libjpeg-turbo set up as OpenCV sets it up, so the
two references agree; the "decoded" one still isolates a decoder change from
everything after it.
"""
import argparse
import json
import logging
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True

NAMES = ["circle", "square", "triangle", "star", "cross", "ring"]
N_IMAGES = 32
VAL_SETTINGS = [
    # name, img, batch, conf, iou, max_det, single_cls
    ("img320", 320, 16, 0.001, 0.6, 300, False),
    ("img256", 256, 8, 0.001, 0.6, 300, False),
    ("img320_single_cls", 320, 32, 0.001, 0.6, 300, True),
]
# val as the trainer calls it, with the val losses: img, batch, training image size (hyp.obj rescaling).
# One batch holds all 32 images: the losses are means per batch, so they depend on which images share a
# batch, and the rect order of images with equal aspect ratios is NumPy's unstable argsort order.
VAL_LOSS_SETTING = (320, 32, 224)
DETECT_SETTINGS = [
    # name, img, conf, iou, max_det, agnostic
    ("img320", 320, 0.25, 0.45, 1000, False),
    ("img256_conf01", 256, 0.1, 0.45, 1000, False),
]


# ---------------------------------------------------------------------------
# Running the v7.0 sources: stubs for what they import but never need here
# ---------------------------------------------------------------------------

def install_stubs(src):
    """v7.0 on sys.path (yolov5_reference: placeholders for the packages that
    are missing), with progress bars and TensorBoard made inert and nothing
    downloaded or installed; returns its utils.general."""
    import types

    import yolov5_reference

    class Writer:  # torch.utils.tensorboard.SummaryWriter: every call does nothing
        def __init__(self, *a, **k):
            pass

        def __getattr__(self, n):
            if n.startswith("__"):
                raise AttributeError(n)
            return lambda *a, **k: None

    class Tqdm:  # progress bars: iterate, print the description once
        def __init__(self, it=None, total=None, desc="", **kw):
            self.it, self.desc = it, desc
            if desc:
                print(desc, flush=True)

        def __iter__(self):
            return iter(self.it if self.it is not None else [])

        def set_description(self, d):
            self.desc = d

        def update(self, n=1):
            pass

        def close(self):
            pass

    yolov5_reference.add_yolov5_to_path(
        src, ("pandas", "IPython", "matplotlib", "seaborn", "thop", "wandb", "clearml", "comet_ml", "git"))
    tq = types.ModuleType("tqdm")
    tq.tqdm = Tqdm
    sys.modules["tqdm"] = tq
    tb = types.ModuleType("torch.utils.tensorboard")
    tb.SummaryWriter = Writer
    sys.modules["torch.utils.tensorboard"] = tb
    import utils.general as G
    G.check_requirements = lambda *a, **k: None  # no pip installs
    G.check_git_info = lambda *a, **k: {}
    G.check_online = lambda: False
    G.check_font = lambda *a, **k: None  # no font download
    return G


def lift_nms_time_limit(G):
    """non_max_suppression with a clock that never advances, so the 0.5 + 0.05*bs
    second limit cannot cut a batch short on a slow machine."""
    import types
    nms = G.non_max_suppression
    frozen = types.SimpleNamespace(time=lambda: 0.0)
    g = dict(nms.__globals__)
    g["time"] = frozen
    G.non_max_suppression = types.FunctionType(nms.__code__, g, nms.__name__, nms.__defaults__, nms.__closure__)


# ---------------------------------------------------------------------------
# Stages run in child processes (each imports the v7.0 tree afresh)
# ---------------------------------------------------------------------------

def stage_train(args):
    install_stubs(args.yolov5)
    path = os.path.join(args.yolov5, "train.py")
    code = open(path).read()
    assert "nbs = 64" in code
    code = code.replace("nbs = 64", f"nbs = {args.batch}")
    sys.argv = [path, "--cfg", args.cfg, "--weights", "", "--data", args.data, "--img", str(args.img),
                "--epochs", str(args.epochs), "--batch-size", str(args.batch), "--workers", "2", "--noplots", "--noval",
                "--device", "cpu", "--project", args.project, "--name", "train", "--exist-ok", "--seed", "0"]
    exec(compile(code, path, "exec"), {"__name__": "__main__", "__file__": path})


def stage_reference(args):
    G = install_stubs(args.yolov5)
    lift_nms_time_limit(G)
    import types
    import export  # its export_formats() table is a pandas DataFrame: give the suffix column directly
    export.export_formats = lambda: types.SimpleNamespace(Suffix=[
        ".pt", ".torchscript", ".onnx", "_openvino_model", ".engine", ".mlmodel", "_saved_model", ".pb",
        ".tflite", "_edgetpu.tflite", "_web_model", "_paddle_model"])
    import val as V
    import detect as D
    import utils.metrics as M

    captured = {}
    ap_per_class = M.ap_per_class

    def capture_ap(*a, **k):
        out = ap_per_class(*a, **k)
        captured["ap"] = out
        return out

    V.ap_per_class = capture_ap
    result = {"val": [], "detect": []}
    for name, img, batch, conf, iou, max_det, single_cls in VAL_SETTINGS:
        captured.clear()
        (mp, mr, map50, map_, *_), maps, _ = V.run(
            data=args.data, weights=args.weights, batch_size=batch, imgsz=img, conf_thres=conf, iou_thres=iou,
            max_det=max_det, task="val", device="cpu", workers=0, single_cls=single_cls, verbose=True,
            project=os.path.join(args.project, "val"), name=name, exist_ok=True, half=False, plots=False)
        per_class = []
        if "ap" in captured:
            tp, fp, p, r, f1, ap, ap_class = captured["ap"]
            for i, c in enumerate(ap_class):
                per_class.append({"class": int(c), "p": float(p[i]), "r": float(r[i]), "map50": float(ap[i, 0]),
                                  "map": float(ap[i].mean())})
        result["val"].append({"name": name, "img": img, "batch": batch, "conf": conf, "iou": iou,
                              "max_det": max_det, "single_cls": single_cls, "p": float(mp), "r": float(mr),
                              "map50": float(map50), "map": float(map_), "per_class": per_class})

    # val as train.py runs it each epoch: the (unfused) model passed in, a rect
    # loader with pad 0.5, and ComputeLoss with the hyp gains train.py uses
    # (hyp.scratch-low rescaled for nl, nc and the training size)
    import torch
    import yaml
    from pathlib import Path
    from models.experimental import attempt_load
    from utils.dataloaders import create_dataloader
    from utils.loss import ComputeLoss
    img, batch, train_img = VAL_LOSS_SETTING
    model = attempt_load(args.weights, device=torch.device("cpu"), fuse=False)
    with open(os.path.join(args.yolov5, "data/hyps/hyp.scratch-low.yaml")) as f:
        hyp = yaml.safe_load(f)
    nl, nc = model.model[-1].nl, len(NAMES)
    hyp["box"] *= 3 / nl
    hyp["cls"] *= nc / 80 * 3 / nl
    hyp["obj"] *= (train_img / 640) ** 2 * 3 / nl
    hyp["label_smoothing"] = 0.0
    model.nc, model.hyp = nc, hyp
    loader = create_dataloader(args.images, img, batch, 32, False, hyp=hyp, rect=True, rank=-1, workers=0, pad=0.5,
                               prefix="val: ")[0]
    captured.clear()
    (mp, mr, map50, map_, box, obj, cls), _, _ = V.run(
        data={"nc": nc, "val": args.images, "names": NAMES}, batch_size=batch, imgsz=img, half=False, model=model,
        single_cls=False, dataloader=loader, save_dir=Path(args.project) / "val_losses", plots=False,
        compute_loss=ComputeLoss(model))
    result["val_losses"] = {"img": img, "batch": batch, "train_img": train_img, "box": box, "obj": obj, "cls": cls,
                            "p": float(mp), "r": float(mr), "map50": float(map50), "map": float(map_)}

    # detect: keep references to the NMS outputs (detect.py rescales and
    # rounds them in place) and the console lines
    for name, img, conf, iou, max_det, agnostic in DETECT_SETTINGS:
        outputs = []
        nms = D.non_max_suppression

        def keep(*a, **k):
            out = nms(*a, **k)
            outputs.extend(out)
            return out

        D.non_max_suppression = keep
        subpixel = []  # scale_boxes' output before detect.py rounds it, one per image with detections
        scale_boxes = D.scale_boxes

        def keep_scaled(*a, **k):
            out = scale_boxes(*a, **k)
            subpixel.append(out.clone())
            return out

        D.scale_boxes = keep_scaled
        lines = []

        class Grab(logging.Handler):
            def emit(self, record):
                lines.append(record.getMessage())

        handler = Grab()
        G.LOGGER.addHandler(handler)
        D.run(weights=args.weights, source=args.images, imgsz=(img, img), conf_thres=conf, iou_thres=iou,
              max_det=max_det, device="cpu", nosave=True, agnostic_nms=agnostic,
              project=os.path.join(args.project, "detect"), name=name, exist_ok=True)
        G.LOGGER.removeHandler(handler)
        D.non_max_suppression = nms
        D.scale_boxes = scale_boxes
        files = sorted(f for f in os.listdir(args.images) if f.endswith((".jpg", ".png")))
        image_lines = [s for s in lines if s.startswith("image ")]
        assert len(outputs) == len(files) == len(image_lines), (len(outputs), len(files), len(image_lines))
        images = []
        scaled = iter(subpixel)
        for f, det, line in zip(files, outputs, image_lines):
            exact = next(scaled).tolist() if len(det) else []
            # "image k/N /path/f.jpg: 320x320 2 circles, 1 star, 12.3ms"
            tail = line.split(": ", 1)[1]
            shape, rest = tail.split(" ", 1)
            counts = rest[:rest.rfind(", ") + 2] if "(no detections)" not in rest else ""
            images.append({"file": f, "shape": shape, "counts": counts,
                           "boxes": [[float(v) for v in row] for row in det.tolist()],
                           "subpixel": [[float(v) for v in row] for row in exact]})
        result["detect"].append({"name": name, "img": img, "conf": conf, "iou": iou, "max_det": max_det,
                                 "agnostic": agnostic, "images": images})
    with open(args.out_json, "w") as f:
        json.dump(result, f, indent=1)


# ---------------------------------------------------------------------------
# Orchestration
# ---------------------------------------------------------------------------

def run(cmd, **kw):
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, **kw)


DECODE_HELPER = r"""
/* Writes each image as yolov5c decodes it (data/image.h) to DIR/<stem>.png. */
#include <stdio.h>
#include <string.h>
#include <stb/stb_image_write.h>
#include "data/image.h"
int main(int argc, char **argv)
{
    for (int i = 2; i < argc; i++) {
        ImageU8 im;
        Error e;
        if (image_load(argv[i], &im, NULL, &e) != 0) { fprintf(stderr, "%s\n", e.msg); return 1; }
        const char *name = strrchr(argv[i], '/') ? strrchr(argv[i], '/') + 1 : argv[i];
        char out[4096];
        snprintf(out, sizeof out, "%s/%.*s.png", argv[1], (int)(strrchr(name, '.') - name), name);
        if (!stbi_write_png(out, im.width, im.height, 3, im.pixels, im.width * 3)) return 1;
        image_free(&im);
    }
    return 0;
}
"""


def build_decode_helper(work):
    """Compiles DECODE_HELPER against the library `make` built."""
    src = os.path.join(work, "decode_png.c")
    exe = os.path.join(work, "decode_png")
    with open(src, "w") as f:
        f.write(DECODE_HELPER)
    run(["cc", "-O2", "-std=c11", "-D_POSIX_C_SOURCE=200809L", "-fopenmp", "-I", os.path.join(ROOT, "src"), src,
         os.path.join(ROOT, "build/libyolov5c.a"), "-lyaml", "-lcjson", "-lstb", "-ljpeg", "-lm", "-o", exe])
    return exe


def compact(x):
    """Floats of boxes and confidences to 7 significant digits (float32 precision) to keep the file small."""
    if isinstance(x, float):
        return float(f"{x:.9g}")
    if isinstance(x, list):
        return [compact(v) for v in x]
    if isinstance(x, dict):
        return {k: compact(v) for k, v in x.items()}
    return x


def write_model_f16(src_path, dst_path):
    import numpy as np
    import safetensors_np
    tensors, meta = safetensors_np.load(src_path)
    out = {}
    for k, v in tensors.items():
        if v.dtype == np.float32:
            h = v.astype(np.float16)
            assert np.array_equal(h.astype(np.float32), v), f"{k} is not fp16-exact"
            v = h
        out[k] = v
    safetensors_np.save(dst_path, out, meta)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--yolov5", default="/tmp/yolov5-v7.0")
    ap.add_argument("--work", default="/tmp/yv5-valfx")
    ap.add_argument("--out", default=os.path.join(ROOT, "tests/fixtures/val"))
    ap.add_argument("--bin", default=os.path.join(ROOT, "yolov5c"))
    ap.add_argument("--epochs", type=int, default=100)
    ap.add_argument("--img", type=int, default=224)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--skip-train", action="store_true", help="reuse WORK/runs/train/weights/best.pt")
    ap.add_argument("--stage", choices=["train", "reference"], help=argparse.SUPPRESS)
    ap.add_argument("--cfg", help=argparse.SUPPRESS)
    ap.add_argument("--data", help=argparse.SUPPRESS)
    ap.add_argument("--project", help=argparse.SUPPRESS)
    ap.add_argument("--weights", help=argparse.SUPPRESS)
    ap.add_argument("--images", help=argparse.SUPPRESS)
    ap.add_argument("--out-json", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.stage == "train":
        return stage_train(args)
    if args.stage == "reference":
        return stage_reference(args)

    work = os.path.abspath(args.work)
    out = os.path.abspath(args.out)
    os.makedirs(work, exist_ok=True)
    me = [sys.executable, os.path.abspath(__file__), "--yolov5", os.path.abspath(args.yolov5)]
    shapes = os.path.join(work, "shapes")
    project = os.path.join(work, "runs")
    best = os.path.join(project, "train", "weights", "best.pt")
    if not args.skip_train:
        shutil.rmtree(shapes, ignore_errors=True)
        run([args.bin, "dataset", "--generate-shapes", shapes, "--img", "320", "--txt-labels"])
        train_yaml = os.path.join(work, "shapes_train.yaml")
        with open(train_yaml, "w") as f:
            f.write(f"path: {shapes}\ntrain: images/train\nval: images/val\nnc: {len(NAMES)}\n"
                    f"names: [{', '.join(NAMES)}]\n")
        cfg = os.path.join(work, "yolov5-shapes.yaml")
        with open(os.path.join(args.yolov5, "models/yolov5n.yaml")) as f:
            text = f.read()
        text = text.replace("width_multiple: 0.25", "width_multiple: 0.125").replace("nc: 80", f"nc: {len(NAMES)}")
        with open(cfg, "w") as f:
            f.write(text)
        run(me + ["--stage", "train", "--cfg", cfg, "--data", train_yaml, "--img", str(args.img), "--epochs",
                  str(args.epochs), "--batch", str(args.batch), "--project", project], cwd=work)

    # fixture files
    for sub in ("images", "labels"):
        shutil.rmtree(os.path.join(out, sub), ignore_errors=True)
        os.makedirs(os.path.join(out, sub))
    files = sorted(f for f in os.listdir(os.path.join(shapes, "images/val")) if f.endswith(".jpg"))[:N_IMAGES]
    for f in files:
        stem = f[:-4]
        shutil.copy(os.path.join(shapes, "images/val", f), os.path.join(out, "images", f))
        label = os.path.join(shapes, "labels/val", stem + ".txt")
        if os.path.exists(label):
            shutil.copy(label, os.path.join(out, "labels", stem + ".txt"))
    model32 = os.path.join(work, "model_f32.safetensors")
    run([sys.executable, os.path.join(HERE, "pt2safetensors.py"), best, model32])
    write_model_f16(model32, os.path.join(out, "model.safetensors"))

    # The reference twice: on the JPEGs (each side decodes them itself) and on
    # PNGs of the pixels yolov5c decodes from them (the same input to both).
    decoded = os.path.join(work, "decoded")
    shutil.rmtree(decoded, ignore_errors=True)
    os.makedirs(os.path.join(decoded, "images"))
    shutil.copytree(os.path.join(out, "labels"), os.path.join(decoded, "labels"))
    helper = build_decode_helper(work)
    run([helper, os.path.join(decoded, "images")] + [os.path.join(out, "images", f) for f in files])
    expected = {}
    for key, root, images in (("jpeg", out, os.path.join(out, "images")),
                              ("decoded", decoded, os.path.join(decoded, "images"))):
        data = os.path.join(work, f"fixture_{key}.yaml")
        with open(data, "w") as f:
            f.write(f"path: {root}\ntrain: images\nval: images\nnc: {len(NAMES)}\nnames: [{', '.join(NAMES)}]\n")
        part = os.path.join(work, f"expected_{key}.json")
        run(me + ["--stage", "reference", "--data", data, "--weights", best, "--images", images, "--project",
                  os.path.join(project, key), "--out-json", part], cwd=work)
        for cache in ("labels.cache", "images.cache"):  # written by the reference's dataloader
            if os.path.exists(os.path.join(root, cache)):
                os.remove(os.path.join(root, cache))
        with open(part) as f:
            expected[key] = json.load(f)
    for setting in expected["decoded"]["detect"]:  # name the images as the fixture does
        for im in setting["images"]:
            im["file"] = im["file"][:-4] + ".jpg"
    with open(os.path.join(out, "expected.json"), "w") as f:
        json.dump(compact(expected), f, separators=(",", ":"))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
