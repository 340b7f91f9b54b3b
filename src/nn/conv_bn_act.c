/* The fused Conv -> BatchNorm -> SiLU unit and the plain batched conv (see
 * conv_bn_act.h for the plan).
 *
 * Shapes: K = c_in*k*k rows of columns, P = ho*wo output pixels per image,
 * tiles of `rows` output rows (cols = rows*wo pixels), `tiles` per image and
 * n*tiles tasks. For a 1x1 stride-1 unpadded conv the columns are the image
 * itself and a tile is a column range of it (no copy).
 *
 * When there are several tile products, the weights (forward: W; backward:
 * Wᵀ for the input gradient) are packed once per call for the GEMM and every
 * tile's product reuses them (gemm_batch.h): late layers have large weights
 * and few columns per tile, where re-packing per product would cost more than
 * the multiply-adds. */
#include "nn/conv_bn_act.h"

#include <math.h>
#include <omp.h>
#include <string.h>

#include "core/gemm.h"
#include "core/gemm_batch.h"
#include "nn/bn_act_kernels.h"
#include "nn/conv_tile.h"
#include "nn/parallel_for.h"
#include "nn/task_pool.h"
#include "nn/thread_scratch.h"

/* Per-group weight-gradient buffers may take up to this many floats in all;
 * a layer whose c_out*K is larger gets fewer groups (fewer parallel images
 * in its weight gradient). */
#define DW_GROUP_FLOATS (4u << 20)
/* Below this many elements a pass over a batch runs on one thread. */
#define ELEMENTWISE_PARALLEL_MIN 32768

typedef struct {
    int ho, wo, P, K, rows, tiles, tasks, pointwise;
    size_t in_image, out_image;
} Geometry;

static Geometry geometry(const Conv2d *cv, int n, int h, int w)
{
    Geometry g;
    g.ho = conv2d_out_dim(h, cv->k, cv->stride, cv->pad);
    g.wo = conv2d_out_dim(w, cv->k, cv->stride, cv->pad);
    g.P = g.ho * g.wo;
    g.K = cv->c_in * cv->k * cv->k;
    g.rows = conv_tile_rows(cv, g.ho, g.wo);
    g.tiles = g.ho > 0 ? (g.ho + g.rows - 1) / g.rows : 0;
    g.tasks = n * g.tiles;
    g.pointwise = cv->k == 1 && cv->stride == 1 && cv->pad == 0;
    g.in_image = (size_t)cv->c_in * h * w;
    g.out_image = (size_t)cv->c_out * g.P;
    return g;
}

static void tile_rows(const Geometry *g, int t, int *oy0, int *oy1)
{
    *oy0 = t * g->rows;
    *oy1 = *oy0 + g->rows < g->ho ? *oy0 + g->rows : g->ho;
}

/* Images per weight-gradient group: a function of the shapes only. */
static int dw_groups(const Conv2d *cv, int n, const Geometry *g)
{
    size_t per = (size_t)cv->c_out * g->K;
    size_t fit = per ? DW_GROUP_FLOATS / per : (size_t)n;
    if (fit < 1) fit = 1;
    return (size_t)n < fit ? n : (int)fit;
}

static size_t lines(size_t floats) { return thread_scratch_lines(floats); }

/* The caller's scratch, carved in a fixed order (absent parts take nothing). */
typedef struct {
    BnActChannel *chans; /* c_out: the BN transform per channel (fused unit) */
    double *pairs;       /* tasks x c_out x 2: statistics or gradient sums */
    float *dw_groups;    /* groups x c_out x K: weight-gradient partial sums */
    float *packed;       /* the packed weights (W forward, Wᵀ backward) */
    size_t floats;       /* total */
} Scratch;

static Scratch carve(float *base, int c_out, int with_chans, int pair_tasks, size_t dw_floats, size_t packed_floats)
{
    Scratch s;
    size_t at = 0;
    s.chans = with_chans && base ? (BnActChannel *)(base + at) : NULL;
    if (with_chans) at += lines((size_t)c_out * sizeof(BnActChannel) / sizeof(float));
    s.pairs = pair_tasks && base ? (double *)(base + at) : NULL;
    at += lines((size_t)pair_tasks * c_out * 2 * sizeof(double) / sizeof(float));
    s.dw_groups = dw_floats && base ? base + at : NULL;
    at += lines(dw_floats);
    s.packed = packed_floats && base ? base + at : NULL;
    at += lines(packed_floats);
    s.floats = at;
    return s;
}

/* Pack the weights when more than one product will use them. */
/* Sized for fp32 whatever cv->precision is: a bf16 pack holds two k steps per
 * float and is never larger, so a plan made in one precision serves both. */
static size_t forward_packed_floats(const Conv2d *cv, const Geometry *g)
{
    return g->tasks >= 2 ? gemm_packed_a_floats(GEMM_FP32, cv->c_out, g->K) : 0;
}

static size_t backward_packed_floats(const Conv2d *cv, const Geometry *g)
{
    return g->tasks >= 2 ? gemm_packed_a_floats(GEMM_FP32, g->K, cv->c_out) : 0;
}

static Scratch forward_scratch(const Conv2d *cv, const Geometry *g, int fused, int train, float *base)
{
    return carve(base, cv->c_out, fused, train ? g->tasks : 0, 0, forward_packed_floats(cv, g));
}

static Scratch backward_scratch(const Conv2d *cv, const Geometry *g, int n, int fused, float *base)
{
    return carve(base, cv->c_out, fused, g->tasks, (size_t)dw_groups(cv, n, g) * cv->c_out * g->K,
                 backward_packed_floats(cv, g));
}

size_t conv_bn_act_forward_scratch_floats(const ConvBnAct *u, int n, int h, int w, int train)
{
    Geometry g = geometry(&u->conv, n, h, w);
    return forward_scratch(&u->conv, &g, 1, train, NULL).floats;
}

size_t conv_bn_act_backward_scratch_floats(const ConvBnAct *u, int n, int h, int w)
{
    Geometry g = geometry(&u->conv, n, h, w);
    return backward_scratch(&u->conv, &g, n, 1, NULL).floats;
}

size_t conv2d_batched_forward_scratch_floats(const Conv2d *cv, int n, int h, int w)
{
    Geometry g = geometry(cv, n, h, w);
    return forward_scratch(cv, &g, 0, 0, NULL).floats;
}

size_t conv2d_batched_backward_scratch_floats(const Conv2d *cv, int n, int h, int w)
{
    Geometry g = geometry(cv, n, h, w);
    return backward_scratch(cv, &g, n, 0, NULL).floats;
}

/* ------------------------------------------------------------------------ */
/* Task runner                                                               */

/* Tasks run on the task pool (each on one thread, handed out dynamically, so
 * a thread slowed by other load takes fewer); a single task, or a call from
 * inside a pool task, runs here. */
static void run_tasks(int count, PoolTask fn, const void *ctx)
{
    if (omp_in_parallel()) {
        for (int t = 0; t < count; t++) fn(ctx, t, 0);
        return;
    }
    task_pool_run(count, 0, fn, ctx);
}

/* A product inside a task: on this thread, with the packed weights when there
 * are; otherwise with gemm()'s own threads only when no parallel work is
 * running (a single task: batch-1 layers with one tile). */
static void product(GemmPrecision prec, const float *packed, int ta, int tb, int m, int n, int k, const float *a,
                    int lda, const float *b, int ldb, float beta, float *c, int ldc)
{
    if (packed)
        gemm_serial_packed_a(prec, tb, m, n, k, packed, b, ldb, beta, c, ldc);
    else if (task_pool_in_task() || omp_in_parallel())
        gemm_serial(prec, ta, tb, m, n, k, 1.0f, a, lda, b, ldb, beta, c, ldc);
    else
        gemm_precision(prec, ta, tb, m, n, k, 1.0f, a, lda, b, ldb, beta, c, ldc);
}

/* ------------------------------------------------------------------------ */
/* Forward                                                                   */

typedef struct {
    const Conv2d *cv;
    const Geometry *g;
    int h, w;
    const float *x, *weight, *packed;
    float *out;                 /* z (train) or y (eval, plain) */
    double *stats;              /* train: per task and channel, mean and M2 */
    const BnActChannel *chans;  /* eval: the transform per channel */
    const float *bias;          /* plain conv: added per channel (may be NULL) */
    const BnActKernels *kern;
    int act;
} ForwardCtx;

/* The GEMM's B operand for output rows [oy0, oy1) of image xb: the image itself
 * for a 1x1 stride-1 conv (leading dimension P), else its im2col tile written
 * into col (leading dimension cols). */
static const float *tile_columns(const Conv2d *cv, const Geometry *g, int h, int w, const float *xb, int oy0,
                                 int oy1, float *col, int *ldb)
{
    if (g->pointwise) {
        *ldb = g->P;
        return xb + (size_t)oy0 * g->wo;
    }
    im2col_rows(cv, h, w, g->wo, oy0, oy1, xb, col);
    *ldb = (oy1 - oy0) * g->wo;
    return col;
}

/* One tile: columns, GEMM into the output, then statistics, BN + act, or the
 * bias of a plain conv, while the tile is still in cache. */
static void forward_task(const void *p, int task, int slot)
{
    (void)slot;
    const ForwardCtx *c = p;
    const Geometry *g = c->g;
    const Conv2d *cv = c->cv;
    const int b = task / g->tiles;
    int oy0, oy1;
    tile_rows(g, task % g->tiles, &oy0, &oy1);
    const int cols = (oy1 - oy0) * g->wo;
    const float *xb = c->x + (size_t)b * g->in_image;
    float *ob = c->out + (size_t)b * g->out_image + (size_t)oy0 * g->wo;
    float *col = g->pointwise ? NULL : thread_scratch_floats((size_t)g->K * cols);
    int ldb;
    const float *bsrc = tile_columns(cv, g, c->h, c->w, xb, oy0, oy1, col, &ldb);
    product(cv->precision, c->packed, 0, 0, cv->c_out, cols, g->K, c->weight, g->K, bsrc, ldb, 0.0f, ob, g->P);
    for (int ch = 0; ch < cv->c_out; ch++) {
        float *plane = ob + (size_t)ch * g->P;
        if (c->stats) {
            double *s = c->stats + ((size_t)task * cv->c_out + ch) * 2;
            c->kern->mean_m2((size_t)cols, plane, &s[0], &s[1]);
        } else if (c->chans) {
            c->kern->apply((size_t)cols, plane, &c->chans[ch], c->act, plane);
        } else if (c->bias) {
            const float bv = c->bias[ch];
            for (int i = 0; i < cols; i++) plane[i] += bv;
        }
    }
}

static const float *pack_weights(const Conv2d *cv, const float *packed, int trans, int m, int k,
                                 const float *weight, int ld)
{
    if (!packed) return NULL;
    gemm_pack_a(cv->precision, trans, m, k, weight, ld, (float *)packed);
    return packed;
}

typedef struct {
    const float *z;
    float *y;
    const BnActChannel *chans;
    const BnActKernels *kern;
    int c, act;
    size_t P;
} ApplyCtx;

static void apply_planes(const void *p, long long lo, long long hi)
{
    const ApplyCtx *a = p;
    for (long long plane = lo; plane < hi; plane++) {
        size_t off = (size_t)plane * a->P;
        a->kern->apply(a->P, a->z + off, &a->chans[plane % a->c], a->act, a->y + off);
    }
}

void conv_bn_act_forward_train(const ConvBnAct *u, int n, int h, int w, const float *x, const float *weight,
                               const float *gamma, const float *beta, float *running_mean, float *running_var,
                               float *z, float *y, float *save_mean, float *save_invstd, float *save_affine,
                               float *scratch)
{
    const Conv2d *cv = &u->conv;
    const Geometry g = geometry(cv, n, h, w);
    const int c_out = cv->c_out;
    if (n <= 0 || g.P <= 0 || c_out <= 0) return;
    Scratch s = forward_scratch(cv, &g, 1, 1, scratch);
    const BnActKernels *kern = bn_act_kernels();
    const float *packed = pack_weights(cv, s.packed, 0, c_out, g.K, weight, g.K);

    ForwardCtx fc = {cv, &g, h, w, x, weight, packed, z, s.pairs, NULL, NULL, kern, u->act};
    run_tasks(g.tasks, forward_task, &fc);

    /* Batch statistics: the mean of the task means weighted by their sizes,
     * then M2 = Σ (M2_t + n_t (mean_t − mean)²), both in task order. */
    double count = (double)n * g.P;
    /* Per channel (mean, M2) into task 0's pair of that channel, which no
     * other channel reads. */
    for (int ch = 0; ch < c_out; ch++) {
        double weighted = 0;
        for (int task = 0; task < g.tasks; task++) {
            int oy0, oy1;
            tile_rows(&g, task % g.tiles, &oy0, &oy1);
            weighted += (double)(oy1 - oy0) * g.wo * s.pairs[((size_t)task * c_out + ch) * 2];
        }
        const double mean = weighted / count;
        double m2 = 0;
        for (int task = 0; task < g.tasks; task++) {
            int oy0, oy1;
            tile_rows(&g, task % g.tiles, &oy0, &oy1);
            const double *st = s.pairs + ((size_t)task * c_out + ch) * 2;
            const double d = st[0] - mean;
            m2 += st[1] + (double)(oy1 - oy0) * g.wo * d * d;
        }
        s.pairs[(size_t)ch * 2] = mean;
        s.pairs[(size_t)ch * 2 + 1] = m2;
    }
    if (u->sync) u->sync->stats(u->sync->ctx, c_out, &count, s.pairs);
    const double unbias = count > 1 ? count / (count - 1) : 1.0;
    const double momentum = u->momentum;
    for (int ch = 0; ch < c_out; ch++) {
        const double mean = s.pairs[(size_t)ch * 2], m2 = s.pairs[(size_t)ch * 2 + 1];
        const double var = m2 / count; /* biased, used to normalise */
        const double invstd = 1.0 / sqrt(var + (double)u->eps);
        save_mean[ch] = (float)mean;
        save_invstd[ch] = (float)invstd;
        if (running_mean)
            running_mean[ch] = (float)((1.0 - momentum) * running_mean[ch] + momentum * mean);
        if (running_var)
            running_var[ch] = (float)((1.0 - momentum) * running_var[ch] + momentum * var * unbias);
        /* As batchnorm_forward_train: the mean as a float pair, so a large
         * |mean| costs no accuracy in z − μ. */
        BnActChannel *cc = &s.chans[ch];
        memset(cc, 0, sizeof *cc);
        cc->mean_hi = (float)mean;
        cc->mean_lo = (float)(mean - (double)cc->mean_hi);
        cc->scale = (float)((double)gamma[ch] * invstd);
        cc->shift = beta[ch];
        save_affine[ch] = cc->mean_lo;
        save_affine[c_out + ch] = cc->scale;
    }

    ApplyCtx ac = {z, y, s.chans, kern, c_out, u->act, (size_t)g.P};
    parallel_for((long long)n * c_out, (size_t)n * g.out_image, ELEMENTWISE_PARALLEL_MIN, apply_planes, &ac);
}

void conv_bn_act_forward_eval(const ConvBnAct *u, int n, int h, int w, const float *x, const float *weight,
                              const float *gamma, const float *beta, const float *running_mean,
                              const float *running_var, float *y, float *scratch)
{
    const Conv2d *cv = &u->conv;
    const Geometry g = geometry(cv, n, h, w);
    const int c_out = cv->c_out;
    if (n <= 0 || g.P <= 0 || c_out <= 0) return;
    Scratch s = forward_scratch(cv, &g, 1, 0, scratch);
    for (int ch = 0; ch < c_out; ch++) {
        /* As batchnorm_forward_eval: (z − mean)·scale + shift. */
        BnActChannel *cc = &s.chans[ch];
        memset(cc, 0, sizeof *cc);
        cc->mean_hi = running_mean[ch];
        cc->mean_lo = 0.0f;
        cc->scale = (float)((double)gamma[ch] / sqrt((double)running_var[ch] + (double)u->eps));
        cc->shift = beta[ch];
    }
    const float *packed = pack_weights(cv, s.packed, 0, c_out, g.K, weight, g.K);
    ForwardCtx fc = {cv, &g, h, w, x, weight, packed, y, NULL, s.chans, NULL, bn_act_kernels(), u->act};
    run_tasks(g.tasks, forward_task, &fc);
}

void conv2d_forward_batched(const Conv2d *cv, int n, int h, int w, const float *x, const float *weight,
                            const float *bias, float *y, float *scratch)
{
    const Geometry g = geometry(cv, n, h, w);
    if (n <= 0 || g.P <= 0 || cv->c_out <= 0) return;
    Scratch s = forward_scratch(cv, &g, 0, 0, scratch);
    const float *packed = pack_weights(cv, s.packed, 0, cv->c_out, g.K, weight, g.K);
    ForwardCtx fc = {cv, &g, h, w, x, weight, packed, y, NULL, NULL, bias, NULL, 0};
    run_tasks(g.tasks, forward_task, &fc);
}

/* ------------------------------------------------------------------------ */
/* Backward                                                                  */

typedef struct {
    const Conv2d *cv;
    const Geometry *g;
    int n, h, w, groups, want_dw, act;
    const float *x, *weight, *packed_t, *z;
    float *dy; /* fused unit: turned into dL/da by the first pass */
    float *dx, *dw_groups;
    double *sums;
    const BnActChannel *chans; /* NULL: plain conv, dL/dz = dy */
    const BnActKernels *kern;
} BackwardCtx;

/* Fused unit: the BN backward's sums Σ da and Σ da·(z − mean), one pair per
 * (tile task, channel) as the forward's statistics. A pool task walks whole
 * planes of one image (a run of channels, every tile of each), so each pass
 * streams through contiguous memory instead of hopping between channels every
 * tile's few rows; each tile still gets its own kernel call and its own pair,
 * so the sums are those of a walk tile by tile. */
typedef struct {
    const BackwardCtx *bc;
    int chans_per_task, chunks; /* channel runs per image */
} GradSumsCtx;

/* Planes of at least this many floats per pool task (fewer, longer tasks on
 * the late layers' small planes). */
#define GRAD_SUMS_TASK_FLOATS 16384

static void grad_sums_task(const void *p, int task, int slot)
{
    (void)slot;
    const GradSumsCtx *gc = p;
    const BackwardCtx *c = gc->bc;
    const Geometry *g = c->g;
    const int c_out = c->cv->c_out;
    const int b = task / gc->chunks;
    const int ch0 = task % gc->chunks * gc->chans_per_task;
    const int ch1 = ch0 + gc->chans_per_task < c_out ? ch0 + gc->chans_per_task : c_out;
    for (int ch = ch0; ch < ch1; ch++) {
        for (int t = 0; t < g->tiles; t++) {
            int oy0, oy1;
            tile_rows(g, t, &oy0, &oy1);
            const size_t cols = (size_t)(oy1 - oy0) * g->wo;
            const size_t off = (size_t)b * g->out_image + (size_t)ch * g->P + (size_t)oy0 * g->wo;
            double *s = c->sums + (((size_t)b * g->tiles + t) * c_out + ch) * 2;
            c->kern->grad_sums(cols, c->z + off, c->dy + off, &c->chans[ch], c->act, &s[0], &s[1]);
        }
    }
}

static void run_grad_sums(const BackwardCtx *bc)
{
    const int c_out = bc->cv->c_out;
    const size_t P = (size_t)bc->g->P;
    const size_t wanted = (GRAD_SUMS_TASK_FLOATS + P - 1) / P;
    const int per_task = wanted < (size_t)c_out ? (int)wanted : c_out;
    GradSumsCtx gc = {bc, per_task, (c_out + per_task - 1) / per_task};
    run_tasks(bc->n * gc.chunks, grad_sums_task, &gc);
}

/* Plain conv, per task: Σ dy per channel (the bias gradient's partial sums). */
static void bias_sums_task(const void *p, int task, int slot)
{
    (void)slot;
    const BackwardCtx *c = p;
    const Geometry *g = c->g;
    const int c_out = c->cv->c_out;
    const int b = task / g->tiles;
    int oy0, oy1;
    tile_rows(g, task % g->tiles, &oy0, &oy1);
    const size_t cols = (size_t)(oy1 - oy0) * g->wo;
    const size_t base = (size_t)b * g->out_image + (size_t)oy0 * g->wo;
    for (int ch = 0; ch < c_out; ch++) {
        const float *d = c->dy + base + (size_t)ch * g->P;
        double acc = 0;
#pragma omp simd reduction(+ : acc)
        for (size_t i = 0; i < cols; i++) acc += d[i];
        c->sums[(size_t)task * c_out + ch] = acc;
    }
}

/* Per group of images: dL/dz tile by tile, then the weight gradient into the
 * group's buffer and the input gradient into dx. */
static void grad_group_task(const void *p, int group, int slot)
{
    (void)slot;
    const BackwardCtx *c = p;
    const Geometry *g = c->g;
    const Conv2d *cv = c->cv;
    const int c_out = cv->c_out, K = g->K;
    const int b0 = (int)((long long)c->n * group / c->groups), b1 = (int)((long long)c->n * (group + 1) / c->groups);
    float *dwg = c->dw_groups + (size_t)group * c_out * K;
    const size_t max_cols = (size_t)g->rows * g->wo;
    /* This thread's tiles: dz (c_out x cols), columns and their gradient (K x cols each). */
    const size_t dz_floats = c->chans ? lines((size_t)c_out * max_cols) : 0;
    const size_t col_floats = g->pointwise ? 0 : lines((size_t)K * max_cols);
    float *dz = thread_scratch_floats(dz_floats + 2 * col_floats);
    float *col = dz + dz_floats, *dcol = col + col_floats;
    int first = 1;
    for (int b = b0; b < b1; b++) {
        const float *xb = c->x + (size_t)b * g->in_image;
        float *dxb = c->dx ? c->dx + (size_t)b * g->in_image : NULL;
        for (int t = 0; t < g->tiles; t++) {
            int oy0, oy1;
            tile_rows(g, t, &oy0, &oy1);
            const int cols = (oy1 - oy0) * g->wo;
            const size_t base = (size_t)b * g->out_image + (size_t)oy0 * g->wo;
            /* dL/dz: computed into the tile (fused unit), or dy itself (plain conv). */
            const float *dzp = dz;
            int ldz = cols;
            if (c->chans) {
                for (int ch = 0; ch < c_out; ch++) {
                    const size_t off = base + (size_t)ch * g->P;
                    c->kern->grad_apply((size_t)cols, c->z + off, c->dy + off, &c->chans[ch],
                                        dz + (size_t)ch * cols);
                }
            } else {
                dzp = c->dy + base;
                ldz = g->P;
            }
            if (c->want_dw) {
                int ldb;
                const float *bsrc = tile_columns(cv, g, c->h, c->w, xb, oy0, oy1, col, &ldb);
                product(cv->precision, NULL, 0, 1, c_out, K, cols, dzp, ldz, bsrc, ldb, first ? 0.0f : 1.0f, dwg, K);
                first = 0;
            }
            if (!dxb) continue;
            if (g->pointwise) {
                product(cv->precision, c->packed_t, 1, 0, K, cols, c_out, c->weight, K, dzp, ldz, 1.0f,
                        dxb + (size_t)oy0 * g->wo, g->P);
            } else {
                product(cv->precision, c->packed_t, 1, 0, K, cols, c_out, c->weight, K, dzp, ldz, 0.0f, dcol, cols);
                col2im_rows_add(cv, c->h, c->w, g->wo, oy0, oy1, dcol, dxb);
            }
        }
    }
}

typedef struct {
    const float *groups_buf;
    int groups;
    size_t count;
    float *out;
} GroupSumCtx;

/* Elements per block of the group sum: each element still adds its groups in
 * order, but a block at a time, so the loops run down contiguous rows (and
 * vectorise) instead of striding across all the groups for every element. */
#define GROUP_SUM_BLOCK 256

static void group_sum_range(const void *p, long long lo, long long hi)
{
    const GroupSumCtx *c = p;
    float acc[GROUP_SUM_BLOCK];
    for (long long b0 = lo; b0 < hi; b0 += GROUP_SUM_BLOCK) {
        const size_t len = hi - b0 < GROUP_SUM_BLOCK ? (size_t)(hi - b0) : GROUP_SUM_BLOCK;
        const float *first = c->groups_buf + b0;
        for (size_t i = 0; i < len; i++) acc[i] = first[i];
        for (int gi = 1; gi < c->groups; gi++) {
            const float *row = c->groups_buf + (size_t)gi * c->count + b0;
            for (size_t i = 0; i < len; i++) acc[i] += row[i];
        }
        float *out = c->out + b0;
        for (size_t i = 0; i < len; i++) out[i] += acc[i];
    }
}

/* The gradient products of both backwards, then dweight += the group sums,
 * added in group order (elementwise: any split of the elements). */
static void grad_products(BackwardCtx *bc, float *dweight)
{
    const Conv2d *cv = bc->cv;
    const Geometry *g = bc->g;
    if (!dweight && !bc->dx) return;
    if (bc->dx && bc->packed_t) gemm_pack_a(cv->precision, 1, g->K, cv->c_out, bc->weight, g->K, (float *)bc->packed_t);
    run_tasks(bc->groups, grad_group_task, bc);
    if (!dweight) return;
    GroupSumCtx c = {bc->dw_groups, bc->groups, (size_t)cv->c_out * g->K, dweight};
    parallel_for((long long)c.count, c.count * bc->groups, ELEMENTWISE_PARALLEL_MIN, group_sum_range, &c);
}

void conv_bn_act_backward(const ConvBnAct *u, int n, int h, int w, const float *x, const float *weight,
                          const float *gamma, const float *beta, const float *z, const float *save_mean,
                          const float *save_invstd, const float *save_affine, float *dy, float *dx,
                          float *dweight, float *dgamma, float *dbeta, float *scratch)
{
    const Conv2d *cv = &u->conv;
    const Geometry g = geometry(cv, n, h, w);
    const int c_out = cv->c_out;
    if (n <= 0 || g.P <= 0 || c_out <= 0) return;
    Scratch s = backward_scratch(cv, &g, n, 1, scratch);

    /* The forward's transform exactly as it was applied, so the recomputed
     * activation input is bit-identical to the forward's. */
    for (int ch = 0; ch < c_out; ch++) {
        BnActChannel *cc = &s.chans[ch];
        memset(cc, 0, sizeof *cc);
        cc->mean_hi = save_mean[ch];
        cc->mean_lo = save_affine[ch];
        cc->scale = save_affine[c_out + ch];
        cc->shift = beta[ch];
        cc->mean_f = save_mean[ch];
    }
    BackwardCtx bc = {cv, &g, n, h, w, dw_groups(cv, n, &g), dweight != NULL, u->act, x, weight, s.packed, z, dy,
                      dx, s.dw_groups, s.pairs, s.chans, bn_act_kernels()};
    run_grad_sums(&bc);

    /* As batchnorm_backward: dgamma += Σ dy·x̂, dbeta += Σ dy, and the
     * coefficients of dz = γ·invstd·(da − mean(da) − x̂·mean(da·x̂)). */
    double count = (double)n * g.P;
    for (int ch = 0; ch < c_out; ch++) {
        double sum_da = 0, sum_da_xc = 0;
        for (int task = 0; task < g.tasks; task++) {
            const double *st = s.pairs + ((size_t)task * c_out + ch) * 2;
            sum_da += st[0];
            sum_da_xc += st[1];
        }
        const double invstd = save_invstd[ch];
        /* dgamma and dbeta from this process's batch: the gradient sum over
         * processes adds the others'. */
        if (dgamma) dgamma[ch] += (float)(sum_da_xc * invstd);
        if (dbeta) dbeta[ch] += (float)sum_da;
        s.pairs[(size_t)ch * 2] = sum_da; /* task 0's pair, already read */
        s.pairs[(size_t)ch * 2 + 1] = sum_da_xc;
    }
    if (u->sync) u->sync->sums(u->sync->ctx, c_out, &count, s.pairs);
    for (int ch = 0; ch < c_out; ch++) {
        const double sum_da = s.pairs[(size_t)ch * 2], sum_da_xc = s.pairs[(size_t)ch * 2 + 1];
        const double invstd = save_invstd[ch];
        const double sum_da_xhat = sum_da_xc * invstd;
        BnActChannel *cc = &s.chans[ch];
        cc->dscale = (float)((double)gamma[ch] * invstd);
        cc->mean_da = (float)(sum_da / count);
        cc->coef = (float)(sum_da_xhat / count * invstd);
    }
    grad_products(&bc, dweight);
}

void conv2d_backward_batched(const Conv2d *cv, int n, int h, int w, const float *x, const float *weight,
                             const float *dy, float *dx, float *dweight, float *dbias, float *scratch)
{
    const Geometry g = geometry(cv, n, h, w);
    const int c_out = cv->c_out;
    if (n <= 0 || g.P <= 0 || c_out <= 0) return;
    Scratch s = backward_scratch(cv, &g, n, 0, scratch);
    BackwardCtx bc = {cv, &g, n, h, w, dw_groups(cv, n, &g), dweight != NULL, 0, x, weight, s.packed, NULL,
                      (float *)dy, dx, s.dw_groups, s.pairs, NULL, NULL}; /* read only here */
    if (dbias) {
        run_tasks(g.tasks, bias_sums_task, &bc);
        for (int ch = 0; ch < c_out; ch++) {
            double acc = 0;
            for (int task = 0; task < g.tasks; task++) acc += s.pairs[(size_t)task * c_out + ch];
            dbias[ch] += (float)acc;
        }
    }
    grad_products(&bc, dweight);
}
