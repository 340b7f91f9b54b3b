#!/usr/bin/env python3
"""Reference fixtures for the optimizer-stage tests (src/optim), produced by
PyTorch 1.13's own torch.optim classes, LambdaLR and clip_grad_norm_, driven
the way YOLOv5 v7.0's train.py drives them, with YOLOv5's smart_optimizer,
ModelEMA, EarlyStopping, one_cycle and fitness imported from the v7.0 tree.

Run with the system Python (PyTorch 1.13, NumPy) after extracting the v7.0
sources outside the repository:

    mkdir -p /tmp/yolov5-v7.0
    git --git-dir=/work/.mirror/ultralytics+yolov5/repo archive v7.0 | tar -x -C /tmp/yolov5-v7.0
    /usr/bin/python3 scripts/gen_optim_fixtures.py [--yolov5 /tmp/yolov5-v7.0] [--out tests/fixtures/optim]

The YOLOv5 code is imported from that directory at run time (its plotting and
notebook imports stubbed) and never copied here.

PyTorch runs with ATEN_CPU_CAPABILITY=default: its vectorized CPU kernels then
use plain float32 multiplies and adds. With the AVX2 kernels `a + alpha*b`
becomes a fused multiply-add, which differs from the C code (compiled without
contraction) in the last bit of some elements; the default kernels make the
reference exactly the IEEE float32 sequence of operations torch's Python
optimizer code describes.

Files (all tensors little-endian; "torch group order" = optimizer.param_groups
order = [biases, decayed weights, BN weights]):

schedule.safetensors -- LambdaLR + train.py warmup simulation per case <c>:
  <c>.ni, <c>.epoch        I64 (n,)   global batch index and epoch of each batch
  <c>.lr                   F64 (n, 3) param_groups lr after the warmup code, torch group order
  <c>.momentum             F64 (n,)   param_groups[0]['momentum'] at that point
  <c>.accumulate           F64 (n,)   train.py's accumulate at that point
  <c>.epoch_end_lr         F64 (E, 3) lr after scheduler.step() at the end of each epoch
  <c>.initial_lr           F64 (3,)   lr right after LambdaLR construction
  <c>.lf                   F64 (E + 1,) lf(0..E)
  metadata <c>.*: kind (linear|cosine), epochs, nb, batch_size, lr0, lrf,
  momentum, warmup_momentum, warmup_bias_lr, warmup_epochs, nw, start_epoch
  (resume cases: optimizer state_dict restored after epoch start_epoch - 1 and
  scheduler.last_epoch = start_epoch - 1, as smart_resume and train.py do).

optim_<case>.safetensors -- a train.py batch loop on a small fake model whose
state_dict looks like YOLOv5's (model.{i}.conv.weight, model.{i}.bn.*,
model.{L}.anchors, model.{L}.m.{j}.weight/bias): per batch, random gradients
are accumulated; when ni - last_opt_step >= accumulate, clip_grad_norm_(10),
optimizer.step(), zero_grad(), ema.update(); zero_grad() at every epoch start.
  entry_kind I32 (0 param, 1 buffer, 2 counter), entry_group I32 (0 decay,
  1 BN weight, 2 bias, -1), entry_numel I64, entry_frozen I32, per state_dict
  entry; metadata keys = the state_dict keys joined by ','
  init_params, init_buffers F32, init_counters I64 -- flat blocks, state_dict order
  step_ni, step_epoch I64 (K,); step_lr F64 (K, 3) torch group order;
  step_momentum F64 (K,) (SGD momentum; Adam: beta1); step_norm F32 (K,)
  the total norm clip_grad_norm_ returned
  step_grad F32 (K, n_params) accumulated gradient before clipping (frozen
  entries hold junk torch never saw: they have no gradient there)
  step_buffers F32 (K, n_buffers) the model's buffers at the EMA update
  ckpt_step I64 (C,) indices of the steps after which these were recorded:
  ckpt_params, ckpt_state0 (momentum_buffer / exp_avg), ckpt_state1
  (exp_avg_sq; Adam variants), ckpt_grad_clipped (n_params each, state of
  frozen entries 0), ckpt_ema_params, ckpt_ema_buffers
  final_steps I64 (n_param_entries,) torch's per-parameter step count
  metadata: optimizer, lr0, lrf, momentum, weight_decay_hyp, weight_decay
  (scaled), batch_size, nb, epochs, nw, freeze (train.py's --freeze list)

clip.safetensors -- clip_grad_norm_(max_norm=10) per case <c>: <c>.numel I64,
  <c>.grad F32 (concatenated tensors), <c>.clipped F32, <c>.norm F32 (1,),
  <c>.norms F32 per-tensor norms.

ema.safetensors -- decay_u I64, decay F64: ModelEMA.decay(u); run_*: ModelEMA
  created with updates=1995 on the fake model, 6 updates with changed weights:
  run_updates0 I64, run_params / run_buffers F32 (6 + 1, n) the model before
  each update (row 0 = creation), run_ema_params / run_ema_buffers F32 (6, n).

early_stop.safetensors -- EarlyStopping per case <c>: <c>.fitness F64 (n,),
  <c>.stop, <c>.possible_stop, <c>.best_epoch I64 (n,); metadata <c>.patience.
  fitness_in F64 (m, 7) result rows, fitness_out F64 (m,) utils.metrics.fitness.

accumulate.safetensors -- batch_size I64, accumulate I64, weight_decay F64
  (hyp 0.0005 scaled as train.py does); nw_warmup_epochs F64, nw_nb I64, nw I64.
"""
import argparse
import os
import sys

os.environ["ATEN_CPU_CAPABILITY"] = "default"  # before torch is imported, see above

import numpy as np  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import safetensors_np  # noqa: E402

NBS = 64  # train.py's nominal batch size

HYP_LOW = dict(lr0=0.01, lrf=0.01, momentum=0.937, weight_decay=0.0005, warmup_epochs=3.0,
               warmup_momentum=0.8, warmup_bias_lr=0.1)


def import_reference(root):
    """utils.general / utils.torch_utils / utils.metrics from the extracted tree,
    with the modules they import only for plotting or notebooks stubbed."""
    from unittest import mock
    sys.path.insert(0, root)
    for name in ("IPython", "pandas", "matplotlib", "matplotlib.pyplot", "seaborn"):
        sys.modules.setdefault(name, mock.MagicMock(name=name))
    import utils.general
    import utils.metrics
    import utils.torch_utils
    return utils.general, utils.torch_utils, utils.metrics


def linear_lf(hyp, epochs):
    # train.py's linear schedule expression
    return lambda x: (1 - x / epochs) * (1.0 - hyp['lrf']) + hyp['lrf']


def make_lf(general, kind, hyp, epochs):
    return general.one_cycle(1, hyp['lrf'], epochs) if kind == "cosine" else linear_lf(hyp, epochs)


# --------------------------------------------------------------------------
# The fake model: a YOLOv5-shaped state_dict on tiny layers.

def fake_model(torch, seed):
    nn = torch.nn

    class ConvUnit(nn.Module):
        def __init__(self, c1, c2, k):
            super().__init__()
            self.conv = nn.Conv2d(c1, c2, k, 1, k // 2, bias=False)
            self.bn = nn.BatchNorm2d(c2, eps=1e-3, momentum=0.03)

    class FakeDetect(nn.Module):
        def __init__(self, chs, na, no):
            super().__init__()
            self.register_buffer('anchors', torch.rand(len(chs), na, 2) * 4)
            self.m = nn.ModuleList(nn.Conv2d(c, na * no, 1) for c in chs)

    class FakeModel(nn.Module):
        def __init__(self):
            super().__init__()
            units = [(3, 4, 3), (4, 4, 1), (4, 5, 3), (5, 3, 1)] + [(3, 3, 1)] * 8
            layers = [ConvUnit(*u) for u in units]
            layers.append(FakeDetect((3, 4, 5), 3, 5))
            self.model = nn.Sequential(*layers)

    torch.manual_seed(seed)
    model = FakeModel()
    g = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for k, v in model.state_dict().items():
            if k.endswith('num_batches_tracked'):
                v.fill_(1)
            elif k.endswith('bn.weight'):
                v.copy_(1 + 0.1 * torch.randn(v.shape, generator=g))
            elif k.endswith('running_var'):
                v.copy_(0.5 + torch.rand(v.shape, generator=g))
            elif k.endswith('anchors'):
                pass
            else:
                v.copy_(0.3 * torch.randn(v.shape, generator=g))
    return model


def torch_group_of(optimizer):
    """id(param) -> our PARAM_GROUP number (0 decay, 1 BN weight, 2 bias) from
    the position of its param_group ([biases, decayed, BN weights])."""
    ours = {0: 2, 1: 0, 2: 1}
    return {id(p): ours[j] for j, pg in enumerate(optimizer.param_groups) for p in pg['params']}


def table_of(model, optimizer):
    sd = model.state_dict(keep_vars=True)
    groups = torch_group_of(optimizer)
    keys, kinds, grp, numel, frozen = [], [], [], [], []
    params = dict(model.named_parameters())
    for k, v in sd.items():
        keys.append(k)
        numel.append(v.numel())
        if k in params:
            kinds.append(0)
            grp.append(groups[id(params[k])])
            frozen.append(0 if params[k].requires_grad else 1)
        else:
            kinds.append(1 if v.dtype.is_floating_point else 2)
            grp.append(-1)
            frozen.append(0)
    return keys, np.array(kinds, np.int32), np.array(grp, np.int32), np.array(numel, np.int64), \
        np.array(frozen, np.int32)


def flat(tensors):
    return np.concatenate([t.detach().reshape(-1).numpy() for t in tensors]) if tensors else \
        np.zeros(0, np.float32)


def blocks(model):
    sd = model.state_dict()
    pnames = set(n for n, _ in model.named_parameters())
    params = flat([v for k, v in sd.items() if k in pnames])
    buffers = flat([v for k, v in sd.items() if k not in pnames and v.dtype.is_floating_point])
    counters = np.array([int(v) for k, v in sd.items() if k not in pnames and not v.dtype.is_floating_point],
                        np.int64)
    return params.astype(np.float32), buffers.astype(np.float32), counters


# --------------------------------------------------------------------------

def simulate_schedule(torch, general, ts, case):
    """Runs train.py's lr/momentum/accumulate code path (no forward/backward:
    the values do not depend on them) and records every batch."""
    hyp = dict(HYP_LOW, **case.get('hyp', {}))
    epochs, nb, bs = case['epochs'], case['nb'], case['batch_size']
    start_epoch = case.get('start_epoch', 0)
    model = fake_model(torch, 0)

    def build():
        accumulate = max(round(NBS / bs), 1)
        h = dict(hyp)
        h['weight_decay'] *= bs * accumulate / NBS
        opt = ts.smart_optimizer(model, 'SGD', h['lr0'], h['momentum'], h['weight_decay'])
        lf = make_lf(general, case['kind'], h, epochs)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_lambda=lf)
        return opt, sched, lf, accumulate

    nw = max(round(hyp['warmup_epochs'] * nb), 100)
    rec = dict(ni=[], epoch=[], lr=[], momentum=[], accumulate=[], epoch_end_lr=[])

    def run(opt, sched, lf, accumulate, first_epoch, last_epoch, record):
        sched.last_epoch = first_epoch - 1
        xi = [0, nw]
        for epoch in range(first_epoch, last_epoch):
            for i in range(nb):
                ni = i + nb * epoch
                if ni <= nw:
                    accumulate = max(1, np.interp(ni, xi, [1, NBS / bs]).round())
                    for j, x in enumerate(opt.param_groups):
                        x['lr'] = np.interp(ni, xi, [hyp['warmup_bias_lr'] if j == 0 else 0.0,
                                                     x['initial_lr'] * lf(epoch)])
                        if 'momentum' in x:
                            x['momentum'] = np.interp(ni, xi, [hyp['warmup_momentum'], hyp['momentum']])
                if record:
                    rec['ni'].append(ni)
                    rec['epoch'].append(epoch)
                    rec['lr'].append([float(x['lr']) for x in opt.param_groups])
                    rec['momentum'].append(float(opt.param_groups[0]['momentum']))
                    rec['accumulate'].append(float(accumulate))
            sched.step()
            if record:
                rec['epoch_end_lr'].append([float(x['lr']) for x in opt.param_groups])

    opt, sched, lf, accumulate = build()
    initial_lr = [float(x['lr']) for x in opt.param_groups]
    if start_epoch:
        run(opt, sched, lf, accumulate, 0, start_epoch, False)
        state = opt.state_dict()
        opt, sched, lf, accumulate = build()
        opt.load_state_dict(state)
    run(opt, sched, lf, accumulate, start_epoch, epochs, True)
    out = {
        'ni': np.array(rec['ni'], np.int64), 'epoch': np.array(rec['epoch'], np.int64),
        'lr': np.array(rec['lr'], np.float64), 'momentum': np.array(rec['momentum'], np.float64),
        'accumulate': np.array(rec['accumulate'], np.float64),
        'epoch_end_lr': np.array(rec['epoch_end_lr'], np.float64).reshape(-1, 3),
        'initial_lr': np.array(initial_lr, np.float64),
        'lf': np.array([lf(e) for e in range(epochs + 1)], np.float64),
    }
    meta = dict(kind=case['kind'], epochs=epochs, nb=nb, batch_size=bs, nw=nw, start_epoch=start_epoch)
    for k in ('lr0', 'lrf', 'momentum', 'warmup_momentum', 'warmup_bias_lr', 'warmup_epochs'):
        meta[k] = repr(float(hyp[k]))
    return out, meta


SCHEDULE_CASES = {
    'lin_e5_nb30_bs16': dict(kind='linear', epochs=5, nb=30, batch_size=16),
    'cos_e5_nb30_bs16': dict(kind='cosine', epochs=5, nb=30, batch_size=16, hyp=dict(lrf=0.1)),
    'lin_e5_nb150_bs8': dict(kind='linear', epochs=5, nb=150, batch_size=8),
    'cos_e4_nb57_bs24_we2.5': dict(kind='cosine', epochs=4, nb=57, batch_size=24,
                                    hyp=dict(warmup_epochs=2.5, lrf=0.2, lr0=0.02)),
    'lin_e6_nb20_bs64': dict(kind='linear', epochs=6, nb=20, batch_size=64),
    'lin_e5_nb40_bs128': dict(kind='linear', epochs=5, nb=40, batch_size=128,
                              hyp=dict(warmup_bias_lr=0.05, warmup_momentum=0.5)),
    'lin_e5_nb30_bs16_resume2': dict(kind='linear', epochs=5, nb=30, batch_size=16, start_epoch=2),
    'lin_e5_nb30_bs16_resume4': dict(kind='linear', epochs=5, nb=30, batch_size=16, start_epoch=4),
    'cos_e5_nb30_bs16_resume4': dict(kind='cosine', epochs=5, nb=30, batch_size=16, start_epoch=4,
                                     hyp=dict(lrf=0.1)),
}


def write_schedule(torch, general, ts, out_dir):
    tensors, meta = {}, {'cases': ','.join(SCHEDULE_CASES)}
    for name, case in SCHEDULE_CASES.items():
        arrays, m = simulate_schedule(torch, general, ts, case)
        for k, v in arrays.items():
            tensors[f'{name}.{k}'] = v
        for k, v in m.items():
            meta[f'{name}.{k}'] = str(v)
    safetensors_np.save(os.path.join(out_dir, 'schedule.safetensors'), tensors, meta)


# --------------------------------------------------------------------------

OPTIM_CASES = {
    # name: optimizer, freeze list (train.py --freeze), hyp overrides, batch size, nb, epochs
    'sgd': dict(optimizer='SGD', freeze=[0], hyp={}, batch_size=8, nb=13, epochs=4),
    'adam': dict(optimizer='Adam', freeze=[1, 10], hyp=dict(lr0=0.001, weight_decay=0.01),
                 batch_size=8, nb=13, epochs=4),
    'adamw': dict(optimizer='AdamW', freeze=[0], hyp=dict(lr0=0.001, weight_decay=0.05),
                  batch_size=8, nb=13, epochs=4),
    'sgd_freeze': dict(optimizer='SGD', freeze=[2], hyp=dict(weight_decay=0.005), batch_size=16, nb=9,
                       epochs=3),
}


def simulate_training(torch, general, ts, case, seed):
    hyp = dict(HYP_LOW, **case['hyp'])
    bs, nb, epochs = case['batch_size'], case['nb'], case['epochs']
    model = fake_model(torch, seed)
    freeze = case['freeze']
    freeze = [f'model.{x}.' for x in (freeze if len(freeze) > 1 else range(freeze[0]))]
    for k, v in model.named_parameters():
        v.requires_grad = True
        if any(x in k for x in freeze):
            v.requires_grad = False

    accumulate = max(round(NBS / bs), 1)
    hyp['weight_decay'] *= bs * accumulate / NBS
    optimizer = ts.smart_optimizer(model, case['optimizer'], hyp['lr0'], hyp['momentum'], hyp['weight_decay'])
    lf = linear_lf(hyp, epochs)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda=lf)
    ema = ts.ModelEMA(model)
    keys, kinds, grp, numel, frozen = table_of(model, optimizer)
    init_params, init_buffers, init_counters = blocks(model)

    nw = max(round(hyp['warmup_epochs'] * nb), 100)
    last_opt_step = -1
    scheduler.last_epoch = -1
    g = torch.Generator().manual_seed(seed + 7)
    params = list(model.parameters())
    float_buffers = [v for k, v in model.state_dict().items()
                     if k not in dict(model.named_parameters()) and v.dtype.is_floating_point
                     and not k.endswith('anchors')]
    counters = [v for k, v in model.state_dict().items() if not v.dtype.is_floating_point]
    sigmas = [0.05, 0.2, 0.4, 0.8, 1.5]
    rec = {k: [] for k in ('ni', 'epoch', 'lr', 'momentum', 'norm', 'grad', 'buffers')}
    ck = {k: [] for k in ('step', 'params', 'state0', 'state1', 'grad_clipped', 'ema_params', 'ema_buffers')}
    n_steps = 0
    for epoch in range(epochs):
        optimizer.zero_grad()
        for i in range(nb):
            ni = i + nb * epoch
            if ni <= nw:
                xi = [0, nw]
                accumulate = max(1, np.interp(ni, xi, [1, NBS / bs]).round())
                for j, x in enumerate(optimizer.param_groups):
                    x['lr'] = np.interp(ni, xi, [hyp['warmup_bias_lr'] if j == 0 else 0.0,
                                                 x['initial_lr'] * lf(epoch)])
                    if 'momentum' in x:
                        x['momentum'] = np.interp(ni, xi, [hyp['warmup_momentum'], hyp['momentum']])
            # "backward": gradients accumulate; BN running stats move every batch
            sigma = sigmas[int(torch.randint(len(sigmas), (1,), generator=g))]
            with torch.no_grad():
                for p in params:
                    if p.requires_grad:
                        d = sigma * torch.randn(p.shape, generator=g)
                        if p.grad is None:
                            p.grad = d
                        else:
                            p.grad += d
                for b in float_buffers:
                    b.mul_(0.97).add_(0.03 * torch.randn(b.shape, generator=g))
                for c in counters:
                    c += 1
            if ni - last_opt_step >= accumulate:
                grad_in = flat([p.grad if p.grad is not None else
                                1000 * torch.randn(p.shape, generator=g) for p in params])
                norm = torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=10.0)
                grad_clipped = flat([p.grad if p.grad is not None else torch.zeros(p.shape) for p in params])
                rec['ni'].append(ni)
                rec['epoch'].append(epoch)
                rec['lr'].append([float(x['lr']) for x in optimizer.param_groups])
                pg0 = optimizer.param_groups[0]
                rec['momentum'].append(float(pg0['momentum'] if 'momentum' in pg0 else pg0['betas'][0]))
                rec['norm'].append(float(norm))
                rec['grad'].append(grad_in)
                optimizer.step()
                optimizer.zero_grad()
                ema.update(model)
                last_opt_step = ni
                rec['buffers'].append(blocks(model)[1])
                if n_steps % 4 == 3:
                    record_checkpoint(torch, ck, n_steps, model, optimizer, ema, grad_clipped)
                n_steps += 1
        scheduler.step()
    if not ck['step'] or ck['step'][-1] != n_steps - 1:
        record_checkpoint(torch, ck, n_steps - 1, model, optimizer, ema, grad_clipped)
    final_steps = []
    for p in params:
        st = optimizer.state.get(p, {})
        if 'step' in st:
            final_steps.append(int(st['step']))
        elif 'momentum_buffer' in st:
            final_steps.append(n_steps)  # SGD keeps no count; every step touched it
        else:
            final_steps.append(0)

    tensors = {
        'entry_kind': kinds, 'entry_group': grp, 'entry_numel': numel, 'entry_frozen': frozen,
        'init_params': init_params, 'init_buffers': init_buffers, 'init_counters': init_counters,
        'step_ni': np.array(rec['ni'], np.int64), 'step_epoch': np.array(rec['epoch'], np.int64),
        'step_lr': np.array(rec['lr'], np.float64), 'step_momentum': np.array(rec['momentum'], np.float64),
        'step_norm': np.array(rec['norm'], np.float32), 'step_grad': np.stack(rec['grad']),
        'step_buffers': np.stack(rec['buffers']),
        'ckpt_step': np.array(ck['step'], np.int64),
        'final_steps': np.array(final_steps, np.int64),
    }
    for k in ('params', 'state0', 'state1', 'grad_clipped', 'ema_params', 'ema_buffers'):
        tensors['ckpt_' + k] = np.stack(ck[k])
    meta = dict(keys=','.join(keys), optimizer=case['optimizer'], lr0=repr(hyp['lr0']), lrf=repr(hyp['lrf']),
                momentum=repr(hyp['momentum']), weight_decay_hyp=repr(float(dict(HYP_LOW, **case['hyp'])['weight_decay'])),
                weight_decay=repr(hyp['weight_decay']), batch_size=bs, nb=nb, epochs=epochs, nw=nw,
                warmup_epochs=repr(hyp['warmup_epochs']), warmup_momentum=repr(hyp['warmup_momentum']),
                warmup_bias_lr=repr(hyp['warmup_bias_lr']),
                freeze=','.join(str(x) for x in case['freeze']), steps=n_steps)
    return tensors, meta


def record_checkpoint(torch, ck, step, model, optimizer, ema, grad_clipped):
    params = list(model.parameters())

    def state(key):
        return flat([optimizer.state[p][key] if key in optimizer.state.get(p, {}) else torch.zeros(p.shape)
                     for p in params])

    kind = type(optimizer).__name__
    ck['step'].append(step)
    ck['params'].append(flat(params))
    ck['state0'].append(state('momentum_buffer' if kind == 'SGD' else 'exp_avg'))
    ck['state1'].append(state('exp_avg_sq') if kind != 'SGD' else np.zeros(sum(p.numel() for p in params),
                                                                            np.float32))
    ck['grad_clipped'].append(grad_clipped)
    ep, eb, _ = blocks(ema.ema)
    ck['ema_params'].append(ep)
    ck['ema_buffers'].append(eb)


def write_optim(torch, general, ts, out_dir):
    for seed, (name, case) in enumerate(OPTIM_CASES.items()):
        tensors, meta = simulate_training(torch, general, ts, case, 10 + seed)
        safetensors_np.save(os.path.join(out_dir, f'optim_{name}.safetensors'), tensors, meta)


# --------------------------------------------------------------------------

def write_clip(torch, out_dir):
    g = torch.Generator().manual_seed(3)
    shapes = [(1031,), (3, 4, 3, 3), (7,), (1,), (16, 8), (13,), (301,)]

    def grads(scale):
        return [scale * torch.randn(s, generator=g) for s in shapes]

    cases = {
        'clip': grads(0.2),             # total norm ~ 16: clipped
        'noclip': grads(0.05),          # ~ 4: untouched
        'near': None,                   # norm just under 10
        'inf': grads(0.2),
        'nan': grads(0.2),
        'zero': [torch.zeros(s) for s in shapes],
        'huge': grads(1e18),            # squares overflow float32 -> inf norm
        'tiny': grads(1e-25),           # squares underflow
    }
    base = grads(0.1)
    n = torch.norm(torch.stack([torch.norm(t) for t in base]))
    cases['near'] = [t * (9.9999 / n) for t in base]
    cases['inf'][2][3] = float('inf')
    cases['nan'][5][0] = float('nan')
    tensors, meta = {}, {'cases': ','.join(cases)}
    for name, gl in cases.items():
        ps = [torch.nn.Parameter(torch.zeros(t.shape)) for t in gl]
        for p, t in zip(ps, gl):
            p.grad = t.clone()
        norms = [float(torch.norm(t)) for t in gl]
        norm = torch.nn.utils.clip_grad_norm_(ps, max_norm=10.0)
        tensors[f'{name}.numel'] = np.array([t.numel() for t in gl], np.int64)
        tensors[f'{name}.grad'] = flat(gl)
        tensors[f'{name}.clipped'] = flat([p.grad for p in ps])
        tensors[f'{name}.norm'] = np.array([float(norm)], np.float32)
        tensors[f'{name}.norms'] = np.array(norms, np.float32)
    safetensors_np.save(os.path.join(out_dir, 'clip.safetensors'), tensors, meta)


def write_ema(torch, ts, out_dir):
    us = [1, 2, 10, 100, 1000, 2000, 10000, 100000]
    model = fake_model(torch, 5)
    ema = ts.ModelEMA(model, updates=1995)
    tensors = {'decay_u': np.array(us, np.int64),
               'decay': np.array([ema.decay(u) for u in us], np.float64)}
    g = torch.Generator().manual_seed(9)
    rows_p, rows_b, ema_p, ema_b = [], [], [], []
    p0, b0, _ = blocks(model)
    rows_p.append(p0)
    rows_b.append(b0)
    for _ in range(6):
        with torch.no_grad():
            for k, v in model.state_dict().items():
                if v.dtype.is_floating_point:
                    v.add_(0.5 * torch.randn(v.shape, generator=g))
        ema.update(model)
        p, b, _ = blocks(model)
        rows_p.append(p)
        rows_b.append(b)
        ep, eb, _ = blocks(ema.ema)
        ema_p.append(ep)
        ema_b.append(eb)
    tensors.update(run_updates0=np.array([1995], np.int64), run_params=np.stack(rows_p),
                   run_buffers=np.stack(rows_b), run_ema_params=np.stack(ema_p), run_ema_buffers=np.stack(ema_b))
    safetensors_np.save(os.path.join(out_dir, 'ema.safetensors'), tensors)


def write_early_stop(ts, metrics, out_dir):
    cases = {
        'improving': (30, [0.1, 0.2, 0.3, 0.4, 0.5]),
        'plateau_p3': (3, [0.1, 0.5, 0.4, 0.3, 0.2, 0.6, 0.1, 0.1, 0.1, 0.1]),
        'ties_p2': (2, [0.2, 0.2, 0.1, 0.2, 0.1, 0.1, 0.05]),
        'zeros_p2': (2, [0.0, 0.0, 0.0, 0.0]),
        'p1': (1, [0.3, 0.2, 0.4]),
        'p0_never': (0, [0.5] + [0.1] * 12),
        'neg_fitness_p2': (2, [-0.1, -0.2, -0.3, 0.0, -1.0, -1.0]),
        'nan_p2': (2, [0.2, float('nan'), float('nan'), 0.3]),
    }
    tensors, meta = {}, {'cases': ','.join(cases)}
    for name, (patience, fits) in cases.items():
        st = ts.EarlyStopping(patience=patience)
        stop, possible, best = [], [], []
        for epoch, fi in enumerate(fits):
            stop.append(int(st(epoch=epoch, fitness=fi)))
            possible.append(int(st.possible_stop))
            best.append(st.best_epoch)
        tensors[f'{name}.fitness'] = np.array(fits, np.float64)
        tensors[f'{name}.stop'] = np.array(stop, np.int64)
        tensors[f'{name}.possible_stop'] = np.array(possible, np.int64)
        tensors[f'{name}.best_epoch'] = np.array(best, np.int64)
        meta[f'{name}.patience'] = str(patience)
    rng = np.random.default_rng(4)
    rows = rng.uniform(0, 1, size=(12, 7))
    rows[0, :4] = [0.0, 0.0, 0.0, 0.0]
    rows[1, :4] = [1.0, 1.0, 1.0, 1.0]
    rows[2, :4] = [0.3, 0.7, 0.123456789, 0.0987654321]
    tensors['fitness_in'] = rows
    tensors['fitness_out'] = np.array([float(metrics.fitness(r.reshape(1, -1))[0]) for r in rows], np.float64)
    safetensors_np.save(os.path.join(out_dir, 'early_stop.safetensors'), tensors, meta)


def write_accumulate(out_dir):
    bss = [1, 2, 3, 5, 8, 12, 16, 20, 24, 32, 40, 48, 64, 96, 100, 128, 200, 256]
    acc, wd = [], []
    for bs in bss:
        a = max(round(NBS / bs), 1)  # train.py
        h = dict(HYP_LOW)
        h['weight_decay'] *= bs * a / NBS
        acc.append(a)
        wd.append(h['weight_decay'])
    pairs = [(3.0, 8), (3.0, 30), (3.0, 34), (3.0, 40), (2.5, 57), (3.5, 41), (0.0, 5), (1.5, 101),
             (0.5, 401), (2.5, 59)]
    nw = [max(round(we * nb), 100) for we, nb in pairs]
    tensors = dict(batch_size=np.array(bss, np.int64), accumulate=np.array(acc, np.int64),
                   weight_decay=np.array(wd, np.float64),
                   nw_warmup_epochs=np.array([p[0] for p in pairs], np.float64),
                   nw_nb=np.array([p[1] for p in pairs], np.int64), nw=np.array(nw, np.int64))
    safetensors_np.save(os.path.join(out_dir, 'accumulate.safetensors'), tensors)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--yolov5', default='/tmp/yolov5-v7.0')
    ap.add_argument('--out', default=os.path.join(HERE, '..', 'tests', 'fixtures', 'optim'))
    args = ap.parse_args()
    import torch
    torch.set_num_threads(1)
    general, ts, metrics = import_reference(args.yolov5)
    os.makedirs(args.out, exist_ok=True)
    write_schedule(torch, general, ts, args.out)
    write_optim(torch, general, ts, args.out)
    write_clip(torch, args.out)
    write_ema(torch, ts, args.out)
    write_early_stop(ts, metrics, args.out)
    write_accumulate(args.out)
    print('wrote', sorted(os.listdir(args.out)))


if __name__ == '__main__':
    main()
