#!/usr/bin/python3
"""Reference fixtures for the trainer tests (tests/train): YOLOv5 v7.0's own
training step, run by PyTorch 1.13 on a tiny model and fixed batches, so the
C trainer can be compared step for step.

    mkdir -p /tmp/yolov5-v7.0
    git --git-dir=/work/.mirror/ultralytics+yolov5/repo archive v7.0 | tar -x -C /tmp/yolov5-v7.0
    /usr/bin/python3 scripts/gen_train_fixtures.py [--yolov5 /tmp/yolov5-v7.0] [--out tests/fixtures/train]

The v7.0 classes (Model, ComputeLoss, smart_optimizer, ModelEMA) are imported
from that tree at run time (modules they import only for plotting are
stubbed); nothing of it is copied here. What train.py does around them -- the
start-up order (optimizer, LambdaLR, EMA, model.half().float(), gain
rescaling, ComputeLoss), the warmup expressions, the accumulate condition,
clip_grad_norm_(10), optimizer.step, zero_grad, ema.update and the running
loss means -- is re-enacted below in train.py's order, with the batches fed
directly instead of through the data loader (augmentation off).

PyTorch runs with ATEN_CPU_CAPABILITY=default (plain float32 multiplies and
adds in its vectorized kernels, as the C code compiles them).

step.safetensors, per case <c> in {sgd, adamw}:
  images            U8 (4, 2, 3, 64, 64): the batches, RGB; the network sees images / 255
  targets.<i>       F32 (n, 6): targets of batch i (image, class, cx, cy, w, h)
  init.<key>        the model's state_dict after Model() (stride probe included), before
                    train.py's start-up (F32; num_batches_tracked I64); every case starts here
  <c>.step1.<key>   (sgd) params and buffers right after the first optimizer step
  <c>.step1.momentum.<key>  momentum_buffer / exp_avg after the first step: for SGD the
                    clipped gradient plus weight decay (the buffer starts as d)
  <c>.final.<key>, <c>.final.momentum.<key>, <c>.final.adam_v.<key> (AdamW),
  <c>.final.ema.<key>   after the last batch
  <c>.batch_items   F64 (B, 3) loss_items of each batch (box, obj, cls)
  <c>.batch_lr      F64 (B, 3) param_groups lr used by each batch (torch group order)
  <c>.batch_momentum F64 (B,) group momentum (SGD) used by each batch
  <c>.batch_accumulate I64 (B,), <c>.batch_stepped I64 (B,)
  <c>.step_norm     F32 (S,) total norm returned by clip_grad_norm_ at each step
  <c>.epoch_mloss   F32 (E, 3) running means at the end of each epoch
  <c>.epoch_lr      F64 (E, 3) the x/lr0..2 values logged for each epoch
  metadata <c>.*: optimizer, epochs (schedule length), epochs_run, batch_size, nb, imgsz,
  cos_lr, lr0, ema_updates, cfg (repository path of the model YAML), hyp (the unscaled
  hyperparameters as JSON: hyps/hyp.scratch-low.yaml with the case's overrides)

resize.safetensors -- F.interpolate(mode='bilinear', align_corners=False) of
  input F32 (1, 2, 10, 12) to out_<h>x<w> for several sizes.
"""
import argparse
import json
import os
import sys

os.environ["ATEN_CPU_CAPABILITY"] = "default"  # before torch is imported

import numpy as np  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import safetensors_np  # noqa: E402
import yolov5_reference  # noqa: E402

CFG = "tests/fixtures/ckpt/yolov5-tiny.yaml"
NBS = 64
IMGSZ = 64


def import_reference(root):
    """The v7.0 Model, ComputeLoss and torch_utils (smart_optimizer, ModelEMA),
    imported by the shared importer (placeholders for missing packages)."""
    Model = yolov5_reference.import_yolov5(root).Model
    import utils.loss
    import utils.torch_utils
    return Model, utils.loss.ComputeLoss, utils.torch_utils


def make_batches(rng, nb, bs, nc):
    """Random textured images with a few filled rectangles, and their targets."""
    images = rng.integers(0, 256, size=(nb, bs, 3, IMGSZ, IMGSZ), dtype=np.uint8)
    images = (images // 4 + 64).astype(np.uint8)
    targets = []
    for b in range(nb):
        rows = []
        for k in range(bs):
            for _ in range(int(rng.integers(1, 4))):
                w, h = rng.uniform(0.1, 0.6), rng.uniform(0.1, 0.6)
                cx, cy = rng.uniform(w / 2, 1 - w / 2), rng.uniform(h / 2, 1 - h / 2)
                c = int(rng.integers(0, nc))
                x1, x2 = int((cx - w / 2) * IMGSZ), int((cx + w / 2) * IMGSZ)
                y1, y2 = int((cy - h / 2) * IMGSZ), int((cy + h / 2) * IMGSZ)
                images[b, k, c, y1:y2, x1:x2] = 230
                rows.append([k, c, cx, cy, w, h])
        targets.append(np.array(rows, np.float32))
    return images, targets


def run_case(torch, Model, ComputeLoss, ts, name, case, hyp_file):
    import yaml
    torch.manual_seed(0)
    nc, bs, nb = 3, case["batch_size"], case["nb"]
    model = Model(os.path.join(ROOT, CFG), ch=3, nc=nc)
    out, meta = {}, {}
    for k, v in model.state_dict().items():  # the same for every case (same seed)
        out[f"init.{k}"] = v.detach().clone().numpy()
    images, targets = make_batches(np.random.default_rng(100), NB_SHARED, BS_SHARED, nc)
    assert bs == BS_SHARED and nb <= NB_SHARED
    out["images"] = images
    for i, t in enumerate(targets):
        out[f"targets.{i}"] = t

    with open(hyp_file) as f:
        hyp = yaml.safe_load(f)
    hyp.update(case.get("hyp", {}))
    meta[f"{name}.hyp"] = json.dumps(hyp)
    epochs = case["epochs"]
    # ---- train.py start-up, in its order ----
    accumulate = max(round(NBS / bs), 1)
    hyp["weight_decay"] *= bs * accumulate / NBS
    optimizer = ts.smart_optimizer(model, case["optimizer"], hyp["lr0"], hyp["momentum"], hyp["weight_decay"])
    if case.get("cos_lr"):
        import math
        lf = lambda x: ((1 - math.cos(x * math.pi / epochs)) / 2) * (hyp["lrf"] - 1) + 1  # one_cycle(1, lrf, E)
    else:
        lf = lambda x: (1 - x / epochs) * (1.0 - hyp["lrf"]) + hyp["lrf"]
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda=lf)
    ema = ts.ModelEMA(model)
    model.half().float()
    nl = model.model[-1].nl
    hyp["box"] *= 3 / nl
    hyp["cls"] *= nc / 80 * 3 / nl
    hyp["obj"] *= (IMGSZ / 640) ** 2 * 3 / nl
    hyp["label_smoothing"] = 0.0
    model.nc = nc
    model.hyp = hyp
    nw = max(round(hyp["warmup_epochs"] * nb), 100)
    last_opt_step = -1
    scheduler.last_epoch = -1
    compute_loss = ComputeLoss(model)
    params = dict(model.named_parameters())
    name_of = {id(p): k for k, p in params.items()}

    def state_of(key_kind):
        res = {}
        for group in optimizer.param_groups:
            for p in group["params"]:
                st = optimizer.state.get(p, {})
                if key_kind in st:
                    res[name_of[id(p)]] = st[key_kind].detach().clone().numpy()
        return res

    rec = dict(items=[], lr=[], mom=[], acc=[], stepped=[], norm=[], mloss=[], elr=[])
    steps = 0
    first_state = "momentum_buffer" if case["optimizer"] == "SGD" else "exp_avg"
    for epoch in range(case["epochs_run"]):
        model.train()
        mloss = torch.zeros(3)
        optimizer.zero_grad()
        for i in range(nb):
            ni = i + nb * epoch
            imgs = torch.from_numpy(images[i]).float() / 255
            if ni <= nw:
                xi = [0, nw]
                accumulate = max(1, np.interp(ni, xi, [1, NBS / bs]).round())
                for j, x in enumerate(optimizer.param_groups):
                    x["lr"] = np.interp(ni, xi, [hyp["warmup_bias_lr"] if j == 0 else 0.0, x["initial_lr"] * lf(epoch)])
                    if "momentum" in x:
                        x["momentum"] = np.interp(ni, xi, [hyp["warmup_momentum"], hyp["momentum"]])
            rec["lr"].append([float(x["lr"]) for x in optimizer.param_groups])
            g0 = optimizer.param_groups[0]
            rec["mom"].append(float(g0["momentum"] if "momentum" in g0 else g0["betas"][0]))
            rec["acc"].append(int(accumulate))
            pred = model(imgs)
            loss, loss_items = compute_loss(pred, torch.from_numpy(targets[i]))
            loss.backward()
            stepped = 0
            if ni - last_opt_step >= accumulate:
                norm = torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=10.0)
                optimizer.step()
                optimizer.zero_grad()
                ema.update(model)
                last_opt_step = ni
                stepped = 1
                steps += 1
                rec["norm"].append(float(norm))
                if steps == 1 and case.get("record_step1"):
                    for k, v in model.state_dict().items():
                        if v.dtype.is_floating_point:
                            out[f"{name}.step1.{k}"] = v.detach().clone().numpy()
                    for k, v in state_of(first_state).items():
                        out[f"{name}.step1.momentum.{k}"] = v
            rec["stepped"].append(stepped)
            rec["items"].append([float(v) for v in loss_items])
            mloss = (mloss * i + loss_items) / (i + 1)
        rec["elr"].append([float(x["lr"]) for x in optimizer.param_groups])
        scheduler.step()
        rec["mloss"].append(mloss.numpy().astype(np.float32))
    for k, v in model.state_dict().items():
        out[f"{name}.final.{k}"] = v.detach().clone().numpy()
    for k, v in state_of(first_state).items():
        out[f"{name}.final.momentum.{k}"] = v
    if case["optimizer"] != "SGD":
        for k, v in state_of("exp_avg_sq").items():
            out[f"{name}.final.adam_v.{k}"] = v
    for k, v in ema.ema.state_dict().items():
        out[f"{name}.final.ema.{k}"] = v.detach().clone().numpy()
    out[f"{name}.batch_items"] = np.array(rec["items"], np.float64)
    out[f"{name}.batch_lr"] = np.array(rec["lr"], np.float64)
    out[f"{name}.batch_momentum"] = np.array(rec["mom"], np.float64)
    out[f"{name}.batch_accumulate"] = np.array(rec["acc"], np.int64)
    out[f"{name}.batch_stepped"] = np.array(rec["stepped"], np.int64)
    out[f"{name}.step_norm"] = np.array(rec["norm"], np.float32)
    out[f"{name}.epoch_mloss"] = np.array(rec["mloss"], np.float32).reshape(-1, 3)
    out[f"{name}.epoch_lr"] = np.array(rec["elr"], np.float64)
    for k, v in dict(optimizer=case["optimizer"], epochs=epochs, epochs_run=case["epochs_run"], batch_size=bs, nb=nb,
                     imgsz=IMGSZ, cos_lr=int(bool(case.get("cos_lr"))), lr0=repr(float(hyp["lr0"])),
                     ema_updates=ema.updates, cfg=CFG).items():
        meta[f"{name}.{k}"] = v
    print(f"{name}: {steps} optimizer steps, accumulate per batch {rec['acc']}, norms {rec['norm']}")
    return out, meta


NB_SHARED, BS_SHARED = 4, 2
CASES = {
    # 2 epochs of 4 batches of 2: steps at ni 0, 1, 3 (accumulate 2), 6 (accumulate 3);
    # batch 7's gradient is dropped by the next epoch's zero_grad. Larger loss
    # gains than the defaults (which nearly vanish at 64 px) so that gradient
    # clipping engages.
    "sgd": dict(optimizer="SGD", batch_size=2, nb=4, epochs=3, epochs_run=2, record_step1=True,
                hyp=dict(obj=90.0, cls=4.0, box=0.2)),
    "adamw": dict(optimizer="AdamW", batch_size=2, nb=2, epochs=2, epochs_run=1, cos_lr=True,
                  hyp=dict(lr0=0.001, obj=20.0)),
}


def write_resize(torch, out_dir):
    import torch.nn.functional as F
    g = torch.Generator().manual_seed(5)
    x = torch.rand((1, 2, 10, 12), generator=g)
    out = {"input": x.numpy()}
    for h, w in ((16, 16), (8, 20), (10, 12), (7, 9), (32, 48), (13, 12), (5, 6)):
        out[f"out_{h}x{w}"] = F.interpolate(x, size=(h, w), mode="bilinear", align_corners=False).numpy()
    safetensors_np.save(os.path.join(out_dir, "resize.safetensors"), out)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--yolov5", default="/tmp/yolov5-v7.0")
    ap.add_argument("--out", default=os.path.join(ROOT, "tests", "fixtures", "train"))
    args = ap.parse_args()
    import torch
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    Model, ComputeLoss, ts = import_reference(os.path.abspath(args.yolov5))
    os.makedirs(args.out, exist_ok=True)
    tensors, meta = {}, {"cases": ",".join(CASES)}
    for name, case in CASES.items():
        t, m = run_case(torch, Model, ComputeLoss, ts, name, case, os.path.join(ROOT, "hyps", "hyp.scratch-low.yaml"))
        tensors.update(t)
        meta.update(m)
    safetensors_np.save(os.path.join(args.out, "step.safetensors"), tensors, meta)
    write_resize(torch, args.out)
    for f in sorted(os.listdir(args.out)):
        print(f, os.path.getsize(os.path.join(args.out, f)), "bytes")


if __name__ == "__main__":
    main()
