#!/usr/bin/env python3
"""Writes the reference checkpoints that tests/scripts/test_pt2safetensors.sh converts.

Needs PyTorch and the ultralytics YOLOv5 v7.0 sources (never run by CI; the
outputs are committed under tests/fixtures/ckpt/):

    git --git-dir=/work/.mirror/ultralytics+yolov5/repo archive v7.0 | tar -x -C /tmp/yolov5-v7.0
    /usr/bin/python3 scripts/make_reference_checkpoint.py --yolov5 /tmp/yolov5-v7.0

Fixtures written (into --out, default tests/fixtures/ckpt):
  train_tiny.pt                  a checkpoint exactly as v7.0 train.py saves one after a few
                                 real SGD steps: model and ema as fp16 module objects,
                                 optimizer state_dict, opt dict, numpy best_fitness, names dict
  train_tiny.ema.expected.safetensors    torch's float32 state_dict of ckpt['ema'] (+ expected metadata)
  train_tiny.model.expected.safetensors  the same for ckpt['model'] (what --no-ema takes)
  release_tiny.pt                the same checkpoint after v7.0 strip_optimizer (model = ema,
                                 ema/optimizer/updates/best_fitness None, epoch -1), with
                                 names as a list as in older release files
  release_tiny.expected.safetensors
  tensors.pt                     torch.save of loose tensors: views with offsets, transposed and
                                 zero strides, shared storages, every storage dtype
  tensors.expected.safetensors   their values, contiguous (bfloat16 widened to float32)
  malicious_os_system.pt         a zip whose data.pkl calls os.system, built from raw pickle
                                 opcodes (nothing is executed; the converter must refuse it)

The model is tests/fixtures/ckpt/yolov5-tiny.yaml (yolov5n's graph at 1/64 width, nc=3).
--full-yolov5n DIR instead writes DIR/yolov5n_train.pt (+ .ema.expected.safetensors): a
full-size yolov5n (nc=80) checkpoint for a manual check; too big to commit.

Third-party modules the YOLOv5 sources import but that building a model does not use
(cv2, pandas, matplotlib, torchvision, ...) are replaced by inert stubs when missing.
"""
import argparse
import json
import os
import struct
import sys
import zipfile
from copy import deepcopy
from datetime import datetime

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import safetensors_np  # noqa: E402
import yolov5_reference  # noqa: E402

FORMAT = "yolov5c-weights-1"
FIXED_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


def import_yolov5(src):
    yolov5_reference.import_yolov5(src)  # the pickled classes must come from here


# ---------------------------------------------------------------------------
# Checkpoints as v7.0 train.py writes them
# ---------------------------------------------------------------------------

def train_checkpoint(cfg, nc, src, steps, imgsz=64, batch=2, seed=0):
    """Builds the model, runs `steps` real training steps, returns train.py's ckpt dict."""
    import numpy as np
    import torch
    import yaml
    from models.yolo import Model
    from utils.general import init_seeds, labels_to_class_weights
    from utils.loss import ComputeLoss
    from utils.torch_utils import ModelEMA, de_parallel, smart_optimizer

    init_seeds(seed)
    with open(os.path.join(src, "data/hyps/hyp.scratch-low.yaml")) as f:
        hyp = yaml.safe_load(f)
    opt_hyp = hyp.copy()
    model = Model(cfg, ch=3, nc=nc, anchors=hyp.get("anchors"))
    names = {i: f"class{i}" for i in range(nc)}
    # Attribute set-up of train.py (v7.0 lines 231-241), with made-up labels.
    nl = de_parallel(model).model[-1].nl
    hyp["box"] *= 3 / nl
    hyp["cls"] *= nc / 80 * 3 / nl
    hyp["obj"] *= (imgsz / 640) ** 2 * 3 / nl
    hyp["label_smoothing"] = 0.0
    rng = np.random.default_rng(seed)
    labels = [np.concatenate([rng.integers(0, nc, (3, 1)), rng.random((3, 4))], 1).astype(np.float32)
              for _ in range(4)]
    model.nc = nc
    model.hyp = hyp
    model.class_weights = labels_to_class_weights(labels, nc) * nc
    model.names = names

    optimizer = smart_optimizer(model, "SGD", hyp["lr0"], hyp["momentum"], hyp["weight_decay"])
    ema = ModelEMA(model)
    compute_loss = ComputeLoss(model)
    model.train()
    for step in range(steps):
        imgs = torch.rand(batch, 3, imgsz, imgsz)
        targets = torch.tensor([[i % batch, i % nc, 0.3 + 0.1 * i, 0.5, 0.2 + 0.05 * i, 0.3]
                                for i in range(4)], dtype=torch.float32)
        loss, _ = compute_loss(model(imgs), targets)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        ema.update(model)
    ema.update_attr(model, include=["yaml", "nc", "hyp", "names", "stride", "class_weights"])

    opt = {  # vars(opt) of a train.py run (the options that matter; same types as argparse gives)
        "weights": "", "cfg": os.path.basename(cfg), "data": "data/coco128.yaml", "hyp": opt_hyp, "epochs": 3,
        "batch_size": batch, "imgsz": imgsz, "rect": False, "resume": False, "nosave": False,
        "noval": False, "noautoanchor": False, "noplots": True, "evolve": None, "bucket": "",
        "cache": None, "image_weights": False, "device": "cpu", "multi_scale": False,
        "single_cls": False, "optimizer": "SGD", "sync_bn": False, "workers": 0,
        "project": "runs/train", "name": "exp", "exist_ok": False, "quad": False, "cos_lr": False,
        "label_smoothing": 0.0, "patience": 100, "freeze": [0], "save_period": -1, "seed": seed,
        "local_rank": -1, "entity": None, "upload_dataset": False, "bbox_interval": -1,
        "artifact_alias": "latest", "save_dir": "runs/train/exp",
    }
    best_fitness = np.array([0.0123456789])  # fitness() returns a (1,) float64 array
    return {
        "epoch": 2,
        "best_fitness": best_fitness,
        "model": deepcopy(de_parallel(model)).half(),
        "ema": deepcopy(ema.ema).half(),
        "updates": ema.updates,
        "optimizer": optimizer.state_dict(),
        "opt": opt,
        "git": {},
        "date": datetime(2023, 1, 1, 12, 0, 0).isoformat(),
    }


def strip_to_release(path_in, path_out):
    """v7.0 strip_optimizer(), plus names as a list (the format of pre-v7.0 release files)."""
    import torch
    x = torch.load(path_in, map_location="cpu")
    if x.get("ema"):
        x["model"] = x["ema"]
    for k in "optimizer", "best_fitness", "ema", "updates":
        x[k] = None
    x["epoch"] = -1
    x["model"].half()
    for p in x["model"].parameters():
        p.requires_grad = False
    x["model"].names = [x["model"].names[i] for i in range(len(x["model"].names))]
    torch.save(x, path_out)


def write_expected(pt_path, out_path, take):
    """Loads pt_path with torch and writes ckpt[take].float().state_dict() + the metadata the converter must write."""
    import torch
    ckpt = torch.load(pt_path, map_location="cpu")
    model = ckpt[take].float()
    sd = model.state_dict()
    tensors = {k: v.detach().cpu().numpy() for k, v in sd.items()}
    names = model.names
    if isinstance(names, dict):
        names = [names[i] for i in range(len(names))]
    meta = {
        "format": FORMAT,
        "source": os.path.basename(pt_path),
        "weights_from": take,
        "nc": str(model.nc),
        "names": json.dumps(names),
        "model_yaml": json.dumps(model.yaml),
        "stride": json.dumps(model.stride.tolist()),
    }
    if isinstance(ckpt.get("epoch"), int):
        meta["epoch"] = str(ckpt["epoch"])
    if ckpt.get("best_fitness") is not None:
        meta["best_fitness"] = json.dumps(float(ckpt["best_fitness"].reshape(-1)[0]))
    if ckpt.get("updates") is not None:
        meta["ema_updates"] = str(ckpt["updates"])
    safetensors_np.save(out_path, tensors, meta)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"  {os.path.basename(out_path)}: {len(tensors)} tensors, {n_params:,} parameters")


# ---------------------------------------------------------------------------
# Loose tensors and the malicious file
# ---------------------------------------------------------------------------

def write_tensors(out_dir):
    import numpy as np
    import torch
    base = torch.arange(24, dtype=torch.float16).reshape(4, 6) / 4
    shared = torch.arange(10, dtype=torch.float32) - 2.5
    tensors = {
        "f16_base": base,
        "f16_transposed_slice": base[1:, ::2].t(),             # offset 6, strides (2, 6)
        "f32_offset_view": shared[3:7],                         # storage offset 3
        "f32_reshaped_view": shared[1:9].view(2, 2, 2),        # same storage, offset 1
        "f32_expanded": torch.tensor([1.0, -2.0, 0.5]).expand(2, 3),  # stride 0
        "f64": torch.tensor([[1.5, -2.25], [1e-300, 3.0]], dtype=torch.float64),
        "bf16": torch.tensor([1.0, -0.5, 3.140625, 65280.0], dtype=torch.bfloat16),
        "i64_scalar": torch.tensor(7, dtype=torch.int64),
        "i32": torch.tensor([-(2 ** 31), 2 ** 31 - 1], dtype=torch.int32),
        "i16": torch.tensor([-300, 300], dtype=torch.int16),
        "i8": torch.tensor([-128, 127], dtype=torch.int8),
        "u8": torch.tensor([0, 255], dtype=torch.uint8),
        "bool": torch.tensor([True, False, True]),
        "empty": torch.zeros(0, 3),
        "parameter": torch.nn.Parameter(torch.full((2, 2), 0.25)),
    }
    path = os.path.join(out_dir, "tensors.pt")
    torch.save(tensors, path)
    expected = {}
    for k, v in tensors.items():
        v = v.detach()
        expected[k] = (v.float() if v.dtype == torch.bfloat16 else v).contiguous().numpy().copy()
    safetensors_np.save(os.path.join(out_dir, "tensors.expected.safetensors"), expected)
    assert np.array_equal(expected["f16_transposed_slice"], base.numpy()[1:, ::2].T)


def pickle_os_system_bytes():
    """data.pkl of {'model': os.system('echo pwned')}, spelled out opcode by opcode."""
    def unicode(s):
        b = s.encode()
        return b"X" + struct.pack("<I", len(b)) + b
    return (b"\x80\x02"                  # PROTO 2
            + b"}"                      # EMPTY_DICT
            + unicode("model")
            + b"cos\nsystem\n"          # GLOBAL os.system
            + unicode("echo pwned")
            + b"\x85"                   # TUPLE1
            + b"R"                      # REDUCE: the call a real unpickler would make
            + b"s"                      # SETITEM
            + b".")                     # STOP


def write_zip(path, folder, entries):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        for name, data in entries:
            info = zipfile.ZipInfo(f"{folder}/{name}", date_time=FIXED_ZIP_TIME)
            z.writestr(info, data)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--yolov5", default="/tmp/yolov5-v7.0", help="extracted ultralytics v7.0 sources")
    parser.add_argument("--out", default=os.path.join(REPO, "tests/fixtures/ckpt"))
    parser.add_argument("--full-yolov5n", metavar="DIR",
                        help="write a full-size yolov5n checkpoint to DIR instead of the fixtures")
    args = parser.parse_args()
    if not os.path.isfile(os.path.join(args.yolov5, "models/yolo.py")):
        sys.exit(f"{args.yolov5}: not a YOLOv5 source tree (extract v7.0 from the mirror first)")
    import_yolov5(args.yolov5)
    import torch
    torch.set_num_threads(1)

    if args.full_yolov5n:
        os.makedirs(args.full_yolov5n, exist_ok=True)
        pt = os.path.join(args.full_yolov5n, "yolov5n_train.pt")
        ckpt = train_checkpoint(os.path.join(args.yolov5, "models/yolov5n.yaml"), 80, args.yolov5,
                                steps=1, imgsz=128)
        torch.save(ckpt, pt)
        print(f"{pt}: {os.path.getsize(pt):,} bytes")
        write_expected(pt, pt.replace(".pt", ".ema.expected.safetensors"), "ema")
        return

    out = args.out
    os.makedirs(out, exist_ok=True)
    cfg = os.path.join(REPO, "tests/fixtures/ckpt/yolov5-tiny.yaml")
    train_pt = os.path.join(out, "train_tiny.pt")
    release_pt = os.path.join(out, "release_tiny.pt")
    torch.save(train_checkpoint(cfg, 3, args.yolov5, steps=3), train_pt)
    write_expected(train_pt, os.path.join(out, "train_tiny.ema.expected.safetensors"), "ema")
    write_expected(train_pt, os.path.join(out, "train_tiny.model.expected.safetensors"), "model")
    strip_to_release(train_pt, release_pt)
    write_expected(release_pt, os.path.join(out, "release_tiny.expected.safetensors"), "model")
    write_tensors(out)
    write_zip(os.path.join(out, "malicious_os_system.pt"), "malicious_os_system",
              [("data.pkl", pickle_os_system_bytes()), ("version", b"3\n")])
    total = 0
    for name in sorted(os.listdir(out)):
        size = os.path.getsize(os.path.join(out, name))
        total += size
        print(f"  {name}: {size:,} bytes")
    print(f"total {total:,} bytes")


if __name__ == "__main__":
    main()
