/* Forward and backward over the op graph. The ops run in graph order; the
 * backward visits them in reverse and each op adds its input gradients into
 * the inputs' gradient buffers (each zeroed just before its first use), which
 * is how a feature map consumed by several ops gets the sum of their
 * gradients. Buffers come from the run's plan (model_plan.c).
 *
 * Conv units run as fused Conv + BN + SiLU layers (nn/conv_bn_act.h) and the
 * Detect convs on the same batched schedule; every layer spreads its work
 * over the task pool's threads itself (nn/task_pool.h). Training runs layer
 * by layer over the whole batch (BatchNorm needs batch statistics); eval runs
 * image by image through the whole network (model_plan_eval.h), one image per
 * thread when the batch allows. */
#include <string.h>

#include "model/detect_decode.h"
#include "model/model_internal.h"
#include "model/model_plan_eval.h"
#include "nn/add.h"
#include "nn/concat.h"
#include "nn/conv2d.h"
#include "nn/conv_bn_act.h"
#include "nn/maxpool.h"
#include "nn/parallel_for.h"
#include "nn/task_pool.h"
#include "nn/thread_scratch.h"
#include "nn/upsample.h"

/* Below this many elements a parallel region costs more than it saves. */
#define PERMUTE_PARALLEL_MIN 65536

static size_t numel(int n, const GraphTensor *t) { return (size_t)n * t->c * t->h * t->w; }

/* Zeroing large buffers (gradients before their first accumulation, dpred)
 * is spread over the threads like any other elementwise pass. */
#define ZERO_PARALLEL_MIN 65536

static void zero_range(const void *ctx, long long lo, long long hi)
{
    memset((float *)ctx + lo, 0, (size_t)(hi - lo) * sizeof(float));
}

static void zero_floats(float *p, size_t count)
{
    parallel_for((long long)count, count, ZERO_PARALLEL_MIN, zero_range, p);
}

/* r: (n, na*no, hw) head conv output <-> p: (n, na, hw, no). Items are
 * (image, anchor) blocks, disjoint. */
typedef struct {
    int na, no;
    size_t hw;
    const float *src;
    float *dst;
} PermuteCtx;

/* dst (cols x rows) = transpose of src (rows x cols), both dense, in square
 * tiles small enough for L1 (a plain loop would stride through the whole
 * source once per column). */
#define TRANSPOSE_TILE 32

static void transpose(const float *src, size_t rows, size_t cols, float *dst)
{
    for (size_t r0 = 0; r0 < rows; r0 += TRANSPOSE_TILE) {
        const size_t r1 = r0 + TRANSPOSE_TILE < rows ? r0 + TRANSPOSE_TILE : rows;
        for (size_t c0 = 0; c0 < cols; c0 += TRANSPOSE_TILE) {
            const size_t c1 = c0 + TRANSPOSE_TILE < cols ? c0 + TRANSPOSE_TILE : cols;
            for (size_t c = c0; c < c1; c++)
                for (size_t r = r0; r < r1; r++) dst[c * rows + r] = src[r * cols + c];
        }
    }
}

static void head_to_pred_range(const void *ctx, long long lo, long long hi)
{
    const PermuteCtx *c = ctx;
    const size_t block = (size_t)c->no * c->hw;
    for (long long item = lo; item < hi; item++)
        transpose(c->src + (size_t)item * block, (size_t)c->no, c->hw, c->dst + (size_t)item * block);
}

static void pred_to_head_range(const void *ctx, long long lo, long long hi)
{
    const PermuteCtx *c = ctx;
    const size_t block = (size_t)c->no * c->hw;
    for (long long item = lo; item < hi; item++)
        transpose(c->src + (size_t)item * block, c->hw, (size_t)c->no, c->dst + (size_t)item * block);
}

static void head_to_pred(int n, int na, int no, size_t hw, const float *r, float *p)
{
    PermuteCtx c = {na, no, hw, r, p};
    parallel_for((long long)n * na, (size_t)n * na * no * hw, PERMUTE_PARALLEL_MIN, head_to_pred_range, &c);
}

static void pred_to_head(int n, int na, int no, size_t hw, const float *p, float *r)
{
    PermuteCtx c = {na, no, hw, p, r};
    parallel_for((long long)n * na, (size_t)n * na * no * hw, PERMUTE_PARALLEL_MIN, pred_to_head_range, &c);
}

/* ------------------------------------------------------------------------ */
/* Forward                                                                   */

ConvBnAct model_conv_layer(const Model *m, const ConvUnit *u)
{
    ConvBnAct cba = {{u->c_in, u->c_out, u->k, u->stride, u->pad, m->precision}, u->act, MODEL_BN_EPS,
                     MODEL_BN_MOMENTUM, NULL};
    return cba;
}

Conv2d model_head_conv(const Model *m, int level)
{
    const DetectParams *d = &m->table.detect;
    Conv2d cv = {d->head[level].c_in, d->na * d->no, 1, 1, 0, m->precision};
    return cv;
}

/* Where one forward pass over the graph reads and writes: the whole batch
 * (training; the graph's pointers as carved), or one image of an eval batch
 * in one slot of the per-image plan (model_plan_eval.h): slot buffers shifted
 * by `shift` bytes, the input and the Detect outputs at the image's slice. */
typedef struct {
    int n;         /* images in the pass */
    int image;     /* eval: the image; -1: whole batch */
    size_t shift;  /* eval: slot * slot stride */
    int train;
} Pass;

static float *shifted(const Pass *ps, float *p) { return p ? (float *)((char *)p + ps->shift) : NULL; }

static float *data_of(const Model *m, const Pass *ps, int t)
{
    const GraphTensor *gt = &m->graph.tensors[t];
    if (ps->image < 0) return gt->data;
    if (t == 0 || (gt->producer >= 0 && m->graph.ops[gt->producer].kind == OP_HEAD))
        return gt->data + (size_t)ps->image * gt->c * gt->h * gt->w;
    return shifted(ps, gt->data);
}

/* Conv -> BN -> SiLU as one fused layer (nn/conv_bn_act.h). The saved state
 * is z (conv output) and, in op->mean, the batch mean followed by the 2*c_out
 * floats of the BN transform (save_affine); the SiLU input is recomputed. */
static void conv_forward(Model *m, const GraphOp *op, const Pass *ps)
{
    const ConvUnit *u = &m->table.units[op->unit];
    const GraphTensor *x = &m->graph.tensors[op->in[0]];
    ConvBnAct cba = model_conv_layer(m, u);
    if (ps->train) cba.sync = m->bn_sync;
    const float *w = m->params + u->weight, *gamma = m->params + u->gamma, *beta = m->params + u->beta;
    const float *xd = data_of(m, ps, op->in[0]);
    float *yd = data_of(m, ps, op->out);
    if (ps->train) {
        conv_bn_act_forward_train(&cba, ps->n, x->h, x->w, xd, w, gamma, beta, m->buffers + u->running_mean,
                                  m->buffers + u->running_var, op->z, yd, op->mean, op->invstd,
                                  op->mean + u->c_out, op->scratch);
        m->counters[u->num_batches_tracked] += 1;
    } else {
        conv_bn_act_forward_eval(&cba, ps->n, x->h, x->w, xd, w, gamma, beta, m->buffers + u->running_mean,
                                 m->buffers + u->running_var, yd, shifted(ps, op->scratch));
    }
}

static void head_forward(Model *m, const GraphOp *op, const Pass *ps)
{
    const DetectParams *d = &m->table.detect;
    const DetectHead *hd = &d->head[op->level];
    const GraphTensor *x = &m->graph.tensors[op->in[0]];
    const GraphTensor *p = &m->graph.tensors[op->out];
    const Conv2d cv = model_head_conv(m, op->level);
    const size_t hw = (size_t)p->h * p->w;
    float *r = shifted(ps, op->scratch);
    float *conv_scratch = r + (numel(ps->n, p) + 15) / 16 * 16;
    conv2d_forward_batched(&cv, ps->n, x->h, x->w, data_of(m, ps, op->in[0]), m->params + hd->weight,
                           m->params + hd->bias, r, conv_scratch);
    head_to_pred(ps->n, d->na, d->no, hw, r, data_of(m, ps, op->out));
}

static void op_forward(Model *m, const GraphOp *op, const Pass *ps)
{
    const GraphTensor *ts = m->graph.tensors;
    const GraphTensor *x = &ts[op->in[0]], *y = &ts[op->out];
    const int n = ps->n;
    switch (op->kind) {
    case OP_CONV: conv_forward(m, op, ps); break;
    case OP_ADD:
        add_forward(numel(n, y), data_of(m, ps, op->in[0]), data_of(m, ps, op->in[1]), data_of(m, ps, op->out));
        break;
    case OP_CONCAT: {
        const float *xs[MODEL_MAX_INPUTS];
        int cs[MODEL_MAX_INPUTS];
        for (int j = 0; j < op->n_in; j++) {
            xs[j] = data_of(m, ps, op->in[j]);
            cs[j] = ts[op->in[j]].c;
        }
        concat_forward(n, y->h * y->w, op->n_in, xs, cs, data_of(m, ps, op->out));
        break;
    }
    case OP_MAXPOOL: {
        const MaxPool2d pool = {op->pool_k, 1, op->pool_k / 2};
        /* Eval runs keep no arg-max: the op's scratch takes it. */
        int32_t *argmax = ps->train ? op->argmax : (int32_t *)shifted(ps, op->scratch);
        maxpool2d_forward(&pool, n * x->c, x->h, x->w, data_of(m, ps, op->in[0]), data_of(m, ps, op->out),
                          argmax);
        break;
    }
    case OP_UPSAMPLE:
        upsample2x_forward(n * x->c, x->h, x->w, data_of(m, ps, op->in[0]), data_of(m, ps, op->out));
        break;
    case OP_HEAD: head_forward(m, op, ps); break;
    }
}

typedef struct {
    Model *m;
    size_t stride;
} EvalCtx;

static void eval_image(const void *p, int image, int slot)
{
    const EvalCtx *c = p;
    Pass ps = {1, image, (size_t)slot * c->stride, 0};
    for (int i = 0; i < c->m->graph.n_ops; i++) op_forward(c->m, &c->m->graph.ops[i], &ps);
}

/* Eval: every image through the whole network in turn, so its maps stay in
 * cache from layer to layer; with several slots, whole images per thread
 * (handed out dynamically by the task pool, slot = the thread's place) and
 * one-thread layers inside. With one slot the images go in order and each
 * layer spreads over the threads. */
static void eval_images(Model *m, int n)
{
    const int slots = model_eval_slots(n);
    EvalCtx c = {m, model_eval_slot_stride(m, n)};
    if (slots < 2) {
        for (int b = 0; b < n; b++) eval_image(&c, b, 0);
        return;
    }
    task_pool_run(n, slots, eval_image, &c);
}

int model_forward(Model *m, const float *images, int n, int h, int w, ModelMode mode, Error *err)
{
    m->run_valid = 0;
    size_t bytes;
    if (model_plan_measure(m, n, h, w, mode, &bytes, err) != 0) return -1;
    if (bytes > m->arena.cap) {
        /* A bigger step than any reserved: grow once (model_reserve avoids this). */
        arena_free(&m->arena);
        if (arena_init(&m->arena, bytes) != 0)
            return err_set(err, "model: out of memory for %.1f MiB of activations (batch %d, %dx%d)",
                           (double)bytes / (1 << 20), n, h, w);
    }
    if (model_plan_carve(m, n, h, w, mode, err) != 0) return -1;
    const int train = mode == MODEL_TRAIN;
    m->graph.tensors[0].data = (float *)images; /* read only */
    if (train) {
        Pass ps = {n, -1, 0, 1};
        for (int i = 0; i < m->graph.n_ops; i++) op_forward(m, &m->graph.ops[i], &ps);
    } else {
        eval_images(m, n);
    }

    DetectOutput *out = &m->out;
    if (train) {
        for (int l = 0; l < out->nl; l++) zero_floats(out->dpred[l], out->numel[l]);
    } else {
        DetectGeometry geo = {out->nl, out->na, out->no, out->h, out->w, m->buffers + m->table.detect.anchors,
                              m->stride};
        detect_decode(&geo, n, (const float *const *)out->pred, out->decoded);
    }
    thread_caches_sync(); /* later passes allocate nothing, whichever thread runs which task */
    m->run_valid = 1;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Backward                                                                  */

static void conv_backward(Model *m, const GraphOp *op, int n)
{
    const ConvUnit *u = &m->table.units[op->unit];
    const GraphTensor *x = &m->graph.tensors[op->in[0]];
    const GraphTensor *y = &m->graph.tensors[op->out];
    ConvBnAct cba = model_conv_layer(m, u);
    cba.sync = m->bn_sync;
    conv_bn_act_backward(&cba, n, x->h, x->w, x->data, m->params + u->weight, m->params + u->gamma,
                         m->params + u->beta, op->z, op->mean, op->invstd, op->mean + u->c_out, y->grad, x->grad,
                         m->grads + u->weight, m->grads + u->gamma, m->grads + u->beta, op->scratch_bwd);
}

static void head_backward(Model *m, const GraphOp *op, int n, const float *dp)
{
    const DetectParams *d = &m->table.detect;
    const DetectHead *hd = &d->head[op->level];
    const GraphTensor *x = &m->graph.tensors[op->in[0]];
    const GraphTensor *p = &m->graph.tensors[op->out];
    const Conv2d cv = model_head_conv(m, op->level);
    float *dr = op->scratch_bwd;
    float *cols = dr + (numel(n, p) + 15) / 16 * 16;
    pred_to_head(n, d->na, d->no, (size_t)p->h * p->w, dp, dr);
    conv2d_backward_batched(&cv, n, x->h, x->w, x->data, m->params + hd->weight, dr, x->grad,
                            m->grads + hd->weight, m->grads + hd->bias, cols);
}

static void op_backward(Model *m, const GraphOp *op, int n, const float *const *dpred)
{
    const GraphTensor *ts = m->graph.tensors;
    const GraphTensor *x = &ts[op->in[0]], *y = &ts[op->out];
    switch (op->kind) {
    case OP_CONV: conv_backward(m, op, n); break;
    case OP_ADD: add_backward(numel(n, y), y->grad, x->grad, ts[op->in[1]].grad); break;
    case OP_CONCAT: {
        float *dxs[MODEL_MAX_INPUTS];
        int cs[MODEL_MAX_INPUTS];
        for (int j = 0; j < op->n_in; j++) {
            dxs[j] = ts[op->in[j]].grad;
            cs[j] = ts[op->in[j]].c;
        }
        concat_backward(n, y->h * y->w, op->n_in, cs, y->grad, dxs);
        break;
    }
    case OP_MAXPOOL: {
        const MaxPool2d pool = {op->pool_k, 1, op->pool_k / 2};
        if (x->grad) maxpool2d_backward(&pool, n * x->c, x->h, x->w, op->argmax, y->grad, x->grad);
        break;
    }
    case OP_UPSAMPLE:
        if (x->grad) upsample2x_backward(n * x->c, x->h, x->w, y->grad, x->grad);
        break;
    case OP_HEAD: head_backward(m, op, n, dpred[op->level]); break;
    }
}

/* Zeroes the gradients this op's backward is the first to add into: those
 * of inputs it is the last forward reader of, and its own output's when no
 * op reads it (nothing will have added to it). */
static void zero_first_touched(Model *m, const GraphOp *op, int index)
{
    GraphTensor *ts = m->graph.tensors;
    const int n = m->run_n;
    for (int j = 0; j < op->n_in; j++) {
        GraphTensor *t = &ts[op->in[j]];
        int seen = 0;
        for (int k = 0; k < j; k++) seen |= op->in[k] == op->in[j];
        if (op->in[j] > 0 && t->last_use == index && !seen) zero_floats(t->grad, numel(n, t));
    }
    GraphTensor *out = &ts[op->out];
    if (out->last_use < 0 && out->grad) zero_floats(out->grad, numel(n, out));
}

int model_backward(Model *m, const float *const *dpred, float *dinput, Error *err)
{
    if (!m->run_valid || m->run_mode != MODEL_TRAIN)
        return err_set(err, "model: backward needs a train-mode forward first (one backward per forward)");
    const float *dp[MODEL_MAX_LEVELS];
    for (int l = 0; l < m->out.nl; l++) dp[l] = dpred ? dpred[l] : m->out.dpred[l];
    m->graph.tensors[0].grad = dinput;
    const int n = m->run_n;
    for (int i = m->graph.n_ops - 1; i >= 0; i--) {
        const GraphOp *op = &m->graph.ops[i];
        zero_first_touched(m, op, i);
        op_backward(m, op, n, dp);
    }
    m->graph.tensors[0].grad = NULL;
    /* The backward reused the memory of the state it consumed. */
    m->run_valid = 0;
    thread_caches_sync();
    return 0;
}
