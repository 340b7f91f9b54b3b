#!/usr/bin/python3
"""Whole-model parity fixtures: the real ultralytics YOLOv5 v7.0 network, run
by PyTorch, on weights that tests/model/test_model_parity.c loads into the C
model.

    mkdir -p /tmp/yolov5-v7.0
    git --git-dir=/work/.mirror/ultralytics+yolov5/repo archive v7.0 | tar -x -C /tmp/yolov5-v7.0
    /usr/bin/python3 scripts/gen_model_fixtures.py [--yolov5 /tmp/yolov5-v7.0]
    # optional, not committed: the same check on full yolov5n
    /usr/bin/python3 scripts/gen_model_fixtures.py --case yolov5n --cfg models/yolov5n.yaml \\
        --nc 80 --shape 2,3,256,320 --out /tmp/model_parity
    MODEL_PARITY_CASE=/tmp/model_parity/yolov5n ./build/tests/model/test_model_parity

The YOLOv5 sources are imported from the extracted tree at run time, never
copied. Modules they import but model building does not use (cv2, pandas,
matplotlib, ...) are replaced by inert stand-ins when they are not installed.

Per case two files are written to OUT (default tests/fixtures/model_parity):

<case>.weights.safetensors   the model's state_dict (F32, num_batches_tracked
    I64) with the metadata scripts/pt2safetensors.py writes: format, nc, names,
    model_yaml (JSON of the model's yaml dict), stride. BatchNorm affine
    parameters and running statistics are randomised (they are 1/0/0/0.9 after
    a fresh build, which would hide mistakes in eval mode and in BN backward).

<case>.reference.safetensors
    input                the float32 image batch (non-square)
    eval.pred.L          raw Detect output of level L in eval mode, (b, na, ny, nx, no)
    eval.decoded         eval-mode inference output (b, boxes, no)
    train.pred.L         raw Detect output of level L in training mode
    dpred.L              fixed upstream gradient for level L (float32 values)
    after.<key>          every BN running_mean / running_var / num_batches_tracked
                         after the one training forward
    grad.<key>           dL/d(parameter) for L = sum_L sum(train.pred.L * dpred.L)
    grad.input           dL/d(input)
  All references are computed by the v7.0 model converted to float64 from the
  float32 weights and input, then rounded to float32, so what a test measures
  is the C code's own float32 error. The metadata holds, for every reference
  T, "torch_f32_err:T": PyTorch's own float32 error on T (the same model in
  float32) as max|torch_f32 - reference| / max|reference|, a yardstick for
  the tolerances in the test.
"""
import argparse
import copy
import json
import os
import sys


HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import safetensors_np  # noqa: E402
import yolov5_reference  # noqa: E402

FORMAT = "yolov5c-weights-1"


def import_model_class(src):
    return yolov5_reference.import_yolov5(src).Model


# ---------------------------------------------------------------------------
# Fixture generation
# ---------------------------------------------------------------------------

def randomise_batchnorm(model, gen):
    import torch
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5, generator=gen)
                m.bias.uniform_(-0.3, 0.3, generator=gen)
                m.running_mean.normal_(0.0, 0.2, generator=gen)
                m.running_var.uniform_(0.5, 2.0, generator=gen)
                m.num_batches_tracked.fill_(7)


def run_reference(model, x, dpred, dtype):
    """Eval forward, then one training forward + backward, on a copy of model in dtype."""
    import torch
    m = copy.deepcopy(model).to(dtype)
    m.eval()
    with torch.no_grad():
        decoded, raw = m(x.to(dtype))
    out = {"eval.decoded": decoded}
    for i, p in enumerate(raw):
        out[f"eval.pred.{i}"] = p
    m.train()
    xi = x.to(dtype).clone().requires_grad_()
    preds = m(xi)
    loss = sum((p * g.to(dtype)).sum() for p, g in zip(preds, dpred))
    loss.backward()
    for i, p in enumerate(preds):
        out[f"train.pred.{i}"] = p.detach()
    for key, v in m.state_dict().items():
        if ".bn." in key and ("running" in key or "num_batches" in key):
            out[f"after.{key}"] = v
    for key, p in m.named_parameters():
        out[f"grad.{key}"] = p.grad
    out["grad.input"] = xi.grad
    return out


def to_numpy(t):
    import torch
    t = t.detach()
    return t.numpy() if t.dtype == torch.int64 else t.to(torch.float32).numpy()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--yolov5", default="/tmp/yolov5-v7.0", help="extracted YOLOv5 v7.0 tree")
    ap.add_argument("--case", default="tiny")
    ap.add_argument("--cfg", default=os.path.join(ROOT, "tests", "fixtures", "model_parity", "tiny.yaml"))
    ap.add_argument("--nc", type=int, default=3)
    ap.add_argument("--shape", default="2,3,64,96", help="input batch,channels,height,width")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=os.path.join(ROOT, "tests", "fixtures", "model_parity"))
    args = ap.parse_args()

    Model = import_model_class(os.path.abspath(args.yolov5))
    import torch
    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed + 1)
    model = Model(args.cfg, ch=3, nc=args.nc)
    randomise_batchnorm(model, gen)
    names = ["person", "car", "dog"][:args.nc] if args.nc <= 3 else [f"class{i}" for i in range(args.nc)]

    shape = tuple(int(v) for v in args.shape.split(","))
    x = torch.rand(shape, generator=gen)
    det = model.model[-1]
    dpred = []
    for i, s in enumerate(det.stride.tolist()):
        ny, nx = shape[2] // int(s), shape[3] // int(s)
        dpred.append(torch.randn((shape[0], det.na, ny, nx, det.no), generator=gen))

    ref = run_reference(model, x, dpred, torch.float64)
    f32 = run_reference(model, x, dpred, torch.float32)

    os.makedirs(args.out, exist_ok=True)
    weights = {k: to_numpy(v) for k, v in model.state_dict().items()}
    meta = {
        "format": FORMAT,
        "source": f"gen_model_fixtures.py {args.case}",
        "nc": str(args.nc),
        "names": json.dumps(names),
        "model_yaml": json.dumps(model.yaml),
        "stride": json.dumps(det.stride.tolist()),
    }
    wpath = os.path.join(args.out, f"{args.case}.weights.safetensors")
    safetensors_np.save(wpath, weights, meta)

    tensors = {"input": x.numpy()}
    for i, g in enumerate(dpred):
        tensors[f"dpred.{i}"] = g.numpy()
    rmeta = {"case": args.case}
    worst = {}
    for name, t in ref.items():
        tensors[name] = to_numpy(t)
        if t.dtype == torch.int64:
            continue
        scale = float(t.abs().max())
        err = float((f32[name].double() - t).abs().max()) / scale if scale > 0 else 0.0
        rmeta[f"torch_f32_err:{name}"] = repr(err)
        group = name.split(".")[0]
        worst[group] = max(worst.get(group, 0.0), err)
    rpath = os.path.join(args.out, f"{args.case}.reference.safetensors")
    safetensors_np.save(rpath, tensors, rmeta)

    n_params = sum(p.numel() for p in model.parameters())
    print(f"{wpath}: {len(weights)} tensors, {n_params} parameters, {os.path.getsize(wpath)} bytes")
    print(f"{rpath}: {len(tensors)} tensors, {os.path.getsize(rpath)} bytes")
    for group, err in sorted(worst.items()):
        print(f"  torch float32 vs float64, worst max|diff|/max|ref| over {group}.*: {err:.3g}")


if __name__ == "__main__":
    main()
