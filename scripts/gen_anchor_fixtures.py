#!/usr/bin/env python3
"""Reference fixtures for the AutoAnchor tests (tests/anchors), produced by the
real YOLOv5 v7.0 utils/autoanchor.py with SciPy's kmeans, NumPy and PyTorch.

Needs the system Python with PyTorch 1.13, NumPy and Debian's python3-scipy,
and the v7.0 sources extracted outside the repository:

    mkdir -p /tmp/yolov5-v7.0
    git --git-dir=/work/.mirror/ultralytics+yolov5/repo archive v7.0 | tar -x -C /tmp/yolov5-v7.0
    /usr/bin/python3 scripts/gen_anchor_fixtures.py [--yolov5 /tmp/yolov5-v7.0] [--out tests/fixtures/anchors]

utils/autoanchor.py is loaded from that directory at run time and never copied
here. Its imports that need more than torch/numpy/yaml (utils, utils.general,
tqdm) are stubbed with small stand-ins that record what it logs. Every random
draw it makes (NumPy's uniform/random/randn/rand, Python's random.random, the
observation indices scipy's kmeans picks) is recorded, so the C tests can
inject the very same draws and must then reproduce the reference's results.
The nested metric/fitness functions are rebuilt from their code objects with
chosen closure values, so they can be evaluated on chosen anchors.

File written: autoanchor.safetensors (metadata values are strings)

  dataset "main" (the end-to-end check_anchors run, anchor_t 4, img 640):
    shapes (I, 2) int32 image (w, h); label_count (I,) int32; labels (N, 5) f32
    anchors_grid (3, 3, 2) f32 Detect anchors before; stride (3,) f32
    scale (I,) f64            the jitter draws of check_anchors
    wh_check (N, 2) f32       the label sizes check_anchors measured
    wh0 (N, 2) f32, wh (M, 2) f32   kmean_anchors' label sizes, all / >= 2 px
    kmeans_obs (M, 2) f32     the whitened boxes given to scipy's kmeans
    kmeans_init (30, 9) i32   the observation indices of each restart
    kmeans_book (K, 2) f32, kmeans_dist () f32   scipy's result
    mut_mask, mut_normal (A, 9, 2) f64, mut_u (A,) f64   GA draws per attempt
    ga_k (A + 1, 9, 2) f64    the anchors given to anchor_fitness: the initial
                              ones, then each attempt's candidate (one per generation)
    proposed (9, 2) f32       kmean_anchors' result
    anchors_grid_after (3, 3, 2) f32
    metadata log_main: the lines logged, '\\n'-joined (tqdm bar excluded);
             tqdm_desc_main: the progress bar's final description
  metric (nested metric / anchor_fitness / print_results on chosen anchors):
    metric_anchors (S, 9, 2) f32; for t in (4, 3): metric_bpr_t<t>, metric_aat_t<t>
    (S,) f32 on wh_check; fitness_t<t> (S,) f32 on wh; metadata print_t<t>_<s>
    (print_results' lines with wh0)
  tsum_len (L,) i32, tsum_want (L,) f32: torch.sum on one thread of the
    vectors tsum_input(n) generates (the order of its float32 cascade sum)
  kmeans cases <c> in (blobs, dupes):
    km_<c>_obs (P, 2) f32, km_<c>_init (R, k) i32, km_<c>_books (R, k, 2) f32
    (NaN rows for dropped centres), km_<c>_count (R,) i32, km_<c>_dist (R,) f32,
    km_<c>_best_book (K, 2) f32, km_<c>_best_dist () f32
"""
import argparse
import contextlib
import importlib.util
import os
import random
import sys
import types

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import safetensors_np  # noqa: E402


class Recorder:
    def __init__(self):
        self.log = []
        self.draws = []      # (kind, value) in call order
        self.tensors = []    # arrays handed to torch.tensor
        self.kpoints = []    # scipy kmeans initial indices
        self.kmeans_calls = []
        self.desc = ''


REC = Recorder()


def install_stubs():
    """Stand-ins for the imports of utils/autoanchor.py that drag in the rest of YOLOv5."""
    class Logger:
        def info(self, msg):
            REC.log.extend(str(msg).split('\n'))

        warning = info

    utils = types.ModuleType('utils')
    utils.__path__ = []

    class TryExcept(contextlib.ContextDecorator):
        def __init__(self, msg=''):
            self.msg = msg

        def __enter__(self):
            pass

        def __exit__(self, exc_type, value, tb):
            if value:
                REC.log.append(f'{self.msg}: {value}')
            return True

    utils.TryExcept = TryExcept
    general = types.ModuleType('utils.general')
    general.LOGGER = Logger()
    general.TQDM_BAR_FORMAT = ''
    general.colorstr = lambda *a: a[-1]  # plain text, no ANSI codes
    tqdm_mod = types.ModuleType('tqdm')

    class Tqdm:
        def __init__(self, it, **kw):
            self.it, self.desc = it, ''

        def __iter__(self):
            yield from self.it
            REC.desc = self.desc

    tqdm_mod.tqdm = Tqdm
    sys.modules['utils'] = utils
    sys.modules['utils.general'] = general
    sys.modules['tqdm'] = tqdm_mod


class RecordingRandom:
    """numpy.random as autoanchor.py sees it, recording each draw."""
    def __getattr__(self, name):
        return getattr(np.random, name)

    def uniform(self, *a, **k):
        v = np.random.uniform(*a, **k)
        REC.draws.append(('uniform', np.array(v)))
        return v

    def random(self, *a, **k):
        v = np.random.random(*a, **k)
        REC.draws.append(('random', np.array(v)))
        return v

    def randn(self, *a):
        v = np.random.randn(*a)
        REC.draws.append(('randn', np.array(v)))
        return v

    def rand(self, *a):
        v = np.random.rand(*a)
        REC.draws.append(('rand', np.array(v)))
        return v


class Proxy:
    def __init__(self, target, **over):
        self._target, self._over = target, over

    def __getattr__(self, name):
        return self._over[name] if name in self._over else getattr(self._target, name)


def load_autoanchor(root):
    install_stubs()
    spec = importlib.util.spec_from_file_location('yolov5_autoanchor', os.path.join(root, 'utils', 'autoanchor.py'))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)

    def py_random():
        v = random.random()
        REC.draws.append(('py_random', np.array(v)))
        return v

    def tensor(x, *a, **k):
        REC.tensors.append(np.array(x, copy=True))
        return torch.tensor(x, *a, **k)

    mod.np = Proxy(np, random=RecordingRandom())
    mod.random = Proxy(random, random=py_random)
    mod.torch = Proxy(torch, tensor=tensor)

    import scipy.cluster.vq as vq
    real_kmeans = vq.kmeans

    def kpoints(data, k, rng):
        idx = rng.choice(data.shape[0], size=k, replace=False)
        REC.kpoints.append(np.array(idx))
        return data[idx]

    def kmeans(obs, k, **kw):
        book, dist = real_kmeans(obs, k, **kw)
        REC.kmeans_calls.append((np.array(obs), np.array(book), np.array(dist)))
        return book, dist

    vq._kpoints = kpoints
    vq.kmeans = kmeans
    return mod


def nested(func, name, **cells):
    """The function `name` defined inside func, with its free variables bound to cells."""
    code = next(c for c in func.__code__.co_consts if isinstance(c, types.CodeType) and c.co_name == name)
    closure = tuple(types.CellType(cells[v]) for v in code.co_freevars)
    return types.FunctionType(code, func.__globals__, name, None, closure)


def make_main_dataset(rng):
    """Images of assorted sizes whose boxes fit the default anchors poorly (long
    thin objects), with some tiny boxes (< 3 px and < 2 px) and empty images."""
    n_img = 48
    shapes = np.stack([rng.integers(200, 1280, n_img), rng.integers(200, 1280, n_img)], 1).astype(np.int64)
    labels = []
    for i in range(n_img):
        n = int(rng.integers(0, 14)) if i % 7 else 0
        rows = []
        for _ in range(n):
            kind = rng.choice(5, p=[0.25, 0.2, 0.3, 0.15, 0.1])
            if kind == 0:    # tall thin
                w, h = rng.uniform(0.005, 0.02), rng.uniform(0.3, 0.9)
            elif kind == 1:  # wide flat
                w, h = rng.uniform(0.3, 0.9), rng.uniform(0.005, 0.02)
            elif kind == 2:  # medium
                w, h = rng.uniform(0.05, 0.2), rng.uniform(0.05, 0.2)
            elif kind == 3:  # large
                w, h = rng.uniform(0.4, 0.95), rng.uniform(0.4, 0.95)
            else:            # tiny (a few below 2 or 3 px once scaled)
                w, h = rng.uniform(0.0005, 0.006), rng.uniform(0.0005, 0.006)
            cx, cy = rng.uniform(w / 2, 1 - w / 2), rng.uniform(h / 2, 1 - h / 2)
            rows.append([rng.integers(0, 3), cx, cy, w, h])
        labels.append(np.array(rows, dtype=np.float32).reshape(-1, 5))
    return shapes, labels


def default_model():
    anchors_px = torch.tensor([[10, 13, 16, 30, 33, 23], [30, 61, 62, 45, 59, 119],
                               [116, 90, 156, 198, 373, 326]], dtype=torch.float32).view(3, 3, 2)
    stride = torch.tensor([8.0, 16.0, 32.0])
    detect = types.SimpleNamespace(anchors=anchors_px / stride.view(-1, 1, 1), stride=stride)
    return types.SimpleNamespace(model=[detect])


def main_case(mod, out, meta):
    rng = np.random.default_rng(20240601)
    shapes, labels = make_main_dataset(rng)
    dataset = types.SimpleNamespace(shapes=shapes, labels=labels)
    model = default_model()
    detect = model.model[-1]
    anchors_before = detect.anchors.clone()

    np.random.seed(7)
    random.seed(7)
    REC.__init__()
    proposed = []
    real_kmean_anchors = mod.kmean_anchors

    def kmean_anchors(*a, **k):
        r = real_kmean_anchors(*a, **k)
        proposed.append(np.array(r))
        return r

    mod.kmean_anchors = kmean_anchors
    mod.check_anchors(dataset, model, thr=4.0, imgsz=640)
    mod.kmean_anchors = real_kmean_anchors

    kinds = [d[0] for d in REC.draws]
    assert kinds[0] == 'uniform', kinds[:3]
    scale = REC.draws[0][1].reshape(-1)
    ga = REC.draws[1:]
    assert len(ga) % 3 == 0 and all(ga[i][0] == 'random' and ga[i + 1][0] == 'py_random' and ga[i + 2][0] == 'randn'
                                   for i in range(0, len(ga), 3)), 'unexpected draw order'
    mut_mask = np.stack([ga[i][1] for i in range(0, len(ga), 3)])
    mut_u = np.array([float(ga[i + 1][1]) for i in range(0, len(ga), 3)])
    mut_normal = np.stack([ga[i + 2][1] for i in range(0, len(ga), 3)])
    # torch.tensor calls: check_anchors' wh, kmean_anchors' wh and wh0, then
    # anchor_fitness(k) once initially and once per generation.
    wh_check = REC.tensors[0].astype(np.float32)
    wh, wh0 = REC.tensors[1], REC.tensors[2]
    # (The last call converts the returned anchors in check_anchors.)
    assert len(REC.tensors) == 3 + 1 + len(mut_u) + 1, len(REC.tensors)
    ga_k = np.stack([t.astype(np.float64) for t in REC.tensors[3:-1]])
    assert len(REC.kmeans_calls) == 1 and len(REC.kpoints) == 30
    km_obs, km_book, km_dist = REC.kmeans_calls[0]

    n_lab = np.array([len(l) for l in labels], dtype=np.int32)
    out.update({
        'shapes': shapes.astype(np.int32), 'label_count': n_lab,
        'labels': np.concatenate(labels).astype(np.float32),
        'anchors_grid': anchors_before.numpy(), 'stride': detect.stride.numpy(),
        'scale': scale.astype(np.float64), 'wh_check': wh_check,
        'wh0': wh0.astype(np.float32), 'wh': wh.astype(np.float32),
        'kmeans_obs': km_obs.astype(np.float32), 'kmeans_init': np.stack(REC.kpoints).astype(np.int32),
        'kmeans_book': km_book.astype(np.float32), 'kmeans_dist': np.array(km_dist, dtype=np.float32),
        'mut_mask': mut_mask, 'mut_u': mut_u, 'mut_normal': mut_normal,
        'ga_k': ga_k, 'proposed': proposed[0].astype(np.float32),
        'anchors_grid_after': detect.anchors.numpy().copy(),
    })
    meta['log_main'] = '\n'.join(REC.log)
    meta['tqdm_desc_main'] = REC.desc
    print('main: %d images, %d labels, %d kept for kmeans; %d GA attempts' % (len(labels), len(wh0), len(wh), len(mut_u)))
    for line in REC.log:
        print('   |', line)
    return wh_check, wh, wh0


def metric_case(mod, out, meta, wh_check, wh, wh0):
    rng = np.random.default_rng(99)
    sets = [np.array([10, 13, 16, 30, 33, 23, 30, 61, 62, 45, 59, 119, 116, 90, 156, 198, 373, 326], np.float32)
            .reshape(9, 2), out['proposed']]
    for _ in range(4):
        k = rng.uniform(2, 600, (9, 2)).astype(np.float32)
        sets.append(k[np.argsort(k.prod(1))])
    sets.append(np.full((9, 2), 2.0, np.float32))
    anchors = np.stack(sets).astype(np.float32)
    out['metric_anchors'] = anchors
    check = mod.check_anchors.__wrapped__
    for t in (4.0, 3.0):
        tag = 't%d' % t
        metric = nested(check, 'metric', thr=t, wh=torch.tensor(wh_check))
        km_metric = nested(mod.kmean_anchors, 'metric')
        fitness = nested(mod.kmean_anchors, 'anchor_fitness', metric=km_metric, thr=1 / t,
                         wh=torch.tensor(wh, dtype=torch.float32))
        printer = nested(mod.kmean_anchors, 'print_results', metric=km_metric, thr=1 / t,
                         wh0=torch.tensor(wh0, dtype=torch.float32), n=9, img_size=640)
        bpr, aat, fit = [], [], []
        for s, k in enumerate(anchors):
            b, a = metric(torch.tensor(k))
            bpr.append(float(b))
            aat.append(float(a))
            fit.append(float(fitness(k)))
            REC.log = []
            printer(k.astype(np.float64), True)
            meta['print_%s_%d' % (tag, s)] = '\n'.join(REC.log)
        out['metric_bpr_' + tag] = np.array(bpr, np.float32)
        out['metric_aat_' + tag] = np.array(aat, np.float32)
        out['fitness_' + tag] = np.array(fit, np.float32)


def kmeans_case(out, name, obs, k, restarts, seed):
    import scipy.cluster.vq as vq
    REC.kpoints = []
    REC.kmeans_calls = []
    book, dist = vq.kmeans(obs, k, iter=restarts, seed=np.random.RandomState(seed))
    init = np.stack(REC.kpoints).astype(np.int32)
    books = np.full((restarts, k, 2), np.nan, np.float32)
    counts, dists = [], []
    for r in range(restarts):
        b, d = vq._kmeans(obs, obs[init[r]])
        books[r, :len(b)] = b
        counts.append(len(b))
        dists.append(d)
    out.update({'km_%s_obs' % name: obs, 'km_%s_init' % name: init, 'km_%s_books' % name: books,
                'km_%s_count' % name: np.array(counts, np.int32), 'km_%s_dist' % name: np.array(dists, np.float32),
                'km_%s_best_book' % name: np.asarray(book, np.float32),
                'km_%s_best_dist' % name: np.array(dist, np.float32)})
    print('kmeans %s: %d points, counts %s, best distortion %.6f' % (name, len(obs), sorted(set(counts)), dist))


def tsum_input(n):
    """The vectors summed for tsum_want, generated (not stored): x_i = h_i / 2^24
    with h_i = (i * 2654435761 mod 2^32) >> 8, and 0 where (h_i >> 3) % 5 == 0."""
    h = (np.arange(n, dtype=np.uint64) * np.uint64(2654435761)) % np.uint64(1 << 32) >> np.uint64(8)
    x = h.astype(np.float32) * np.float32(2.0 ** -24)
    x[(h >> np.uint64(3)) % np.uint64(5) == 0] = 0
    return x


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--yolov5', default='/tmp/yolov5-v7.0')
    ap.add_argument('--out', default=os.path.join(HERE, '..', 'tests', 'fixtures', 'anchors'))
    args = ap.parse_args()
    torch.set_num_threads(1)
    mod = load_autoanchor(args.yolov5)
    out, meta = {}, {}
    wh_check, wh, wh0 = main_case(mod, out, meta)
    metric_case(mod, out, meta, wh_check, wh, wh0)

    rng = np.random.default_rng(5)
    centres = rng.uniform(0, 6, (9, 2))
    blobs = np.concatenate([c + rng.normal(0, 0.35, (int(rng.integers(60, 300)), 2)) for c in centres])
    kmeans_case(out, 'blobs', blobs.astype(np.float32), 9, 30, 11)
    distinct = np.array([[0.5, 0.7], [1.5, 1.1], [2.5, 3.0]], np.float32)
    dupes = distinct[rng.integers(0, 3, 40)]
    kmeans_case(out, 'dupes', dupes.astype(np.float32), 9, 10, 3)

    # torch.sum on float32 vectors of many lengths (one thread): the order of
    # its cascade summation, which decides the GA's near-ties.
    lengths = [1, 3, 4, 5, 7, 8, 9, 31, 32, 33, 127, 128, 129, 511, 512, 513, 1000, 4099, 16383, 16385,
               20000, 65536, 140003, 300001]
    out['tsum_len'] = np.array(lengths, np.int32)
    out['tsum_want'] = np.array([float(torch.from_numpy(tsum_input(n)).sum()) for n in lengths], np.float32)

    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, 'autoanchor.safetensors')
    safetensors_np.save(path, out, meta)
    print('wrote', os.path.relpath(path), '(%d tensors)' % len(out))


if __name__ == '__main__':
    main()
