/* Forward and backward over the op graph. The ops run in graph order; the
 * backward visits them in reverse and each op adds its input gradients into
 * the inputs' gradient buffers (each zeroed just before its first use), which
 * is how a feature map consumed by several ops gets the sum of their
 * gradients. Buffers come from the run's plan (model_plan.c). */
#include <string.h>

#include "model/detect_decode.h"
#include "model/model_internal.h"
#include "nn/add.h"
#include "nn/batchnorm.h"
#include "nn/concat.h"
#include "nn/conv2d.h"
#include "nn/maxpool.h"
#include "nn/silu.h"
#include "nn/upsample.h"

/* Below this many elements a parallel region costs more than it saves. */
#define PERMUTE_PARALLEL_MIN 65536

static Conv2d unit_conv(const ConvUnit *u)
{
    Conv2d cv = {u->c_in, u->c_out, u->k, u->stride, u->pad};
    return cv;
}

static size_t numel(int n, const GraphTensor *t) { return (size_t)n * t->c * t->h * t->w; }

/* r: (n, na*no, hw) head conv output <-> p: (n, na, hw, no). */
static void head_to_pred(int n, int na, int no, size_t hw, const float *r, float *p)
{
#pragma omp parallel for collapse(2) schedule(static) if ((size_t)n * na * no * hw >= PERMUTE_PARALLEL_MIN)
    for (int b = 0; b < n; b++) {
        for (int a = 0; a < na; a++) {
            const float *src = r + ((size_t)b * na + a) * no * hw;
            float *dst = p + ((size_t)b * na + a) * hw * no;
            for (size_t i = 0; i < hw; i++)
                for (int k = 0; k < no; k++) dst[i * no + k] = src[(size_t)k * hw + i];
        }
    }
}

static void pred_to_head(int n, int na, int no, size_t hw, const float *p, float *r)
{
#pragma omp parallel for collapse(2) schedule(static) if ((size_t)n * na * no * hw >= PERMUTE_PARALLEL_MIN)
    for (int b = 0; b < n; b++) {
        for (int a = 0; a < na; a++) {
            const float *src = p + ((size_t)b * na + a) * hw * no;
            float *dst = r + ((size_t)b * na + a) * no * hw;
            for (int k = 0; k < no; k++)
                for (size_t i = 0; i < hw; i++) dst[(size_t)k * hw + i] = src[i * no + k];
        }
    }
}

/* ------------------------------------------------------------------------ */
/* Forward                                                                   */

static void conv_forward(Model *m, const GraphOp *op, int n, int train)
{
    const ConvUnit *u = &m->table.units[op->unit];
    const GraphTensor *x = &m->graph.tensors[op->in[0]];
    const GraphTensor *y = &m->graph.tensors[op->out];
    const Conv2d cv = unit_conv(u);
    const BatchNorm bn = {u->c_out, MODEL_BN_EPS, MODEL_BN_MOMENTUM};
    const int hw = y->h * y->w;
    const size_t count = numel(n, y);
    const float *gamma = m->params + u->gamma, *beta = m->params + u->beta;
    if (train) {
        conv2d_forward(&cv, n, x->h, x->w, x->data, m->params + u->weight, NULL, op->z, op->scratch);
        batchnorm_forward_train(&bn, n, hw, op->z, gamma, beta, m->buffers + u->running_mean,
                                m->buffers + u->running_var, op->a, op->mean, op->invstd);
        m->counters[u->num_batches_tracked] += 1;
        if (u->act) silu_forward(count, op->a, y->data);
    } else {
        conv2d_forward(&cv, n, x->h, x->w, x->data, m->params + u->weight, NULL, y->data, op->scratch);
        batchnorm_forward_eval(&bn, n, hw, y->data, gamma, beta, m->buffers + u->running_mean,
                               m->buffers + u->running_var, y->data);
        if (u->act) silu_forward(count, y->data, y->data);
    }
}

static void head_forward(Model *m, const GraphOp *op, int n)
{
    const DetectParams *d = &m->table.detect;
    const DetectHead *hd = &d->head[op->level];
    const GraphTensor *x = &m->graph.tensors[op->in[0]];
    const GraphTensor *p = &m->graph.tensors[op->out];
    const Conv2d cv = {hd->c_in, d->na * d->no, 1, 1, 0};
    const size_t hw = (size_t)p->h * p->w;
    float *r = op->scratch;
    float *cols = r + (numel(n, p) + 15) / 16 * 16;
    conv2d_forward(&cv, n, x->h, x->w, x->data, m->params + hd->weight, m->params + hd->bias, r, cols);
    head_to_pred(n, d->na, d->no, hw, r, p->data);
}

static void op_forward(Model *m, const GraphOp *op, int n, int train)
{
    const GraphTensor *ts = m->graph.tensors;
    const GraphTensor *x = &ts[op->in[0]], *y = &ts[op->out];
    switch (op->kind) {
    case OP_CONV: conv_forward(m, op, n, train); break;
    case OP_ADD: add_forward(numel(n, y), x->data, ts[op->in[1]].data, y->data); break;
    case OP_CONCAT: {
        const float *xs[MODEL_MAX_INPUTS];
        int cs[MODEL_MAX_INPUTS];
        for (int j = 0; j < op->n_in; j++) {
            xs[j] = ts[op->in[j]].data;
            cs[j] = ts[op->in[j]].c;
        }
        concat_forward(n, y->h * y->w, op->n_in, xs, cs, y->data);
        break;
    }
    case OP_MAXPOOL: {
        const MaxPool2d pool = {op->pool_k, 1, op->pool_k / 2};
        /* Eval runs keep no arg-max: the op's scratch takes it. */
        int32_t *argmax = train ? op->argmax : (int32_t *)op->scratch;
        maxpool2d_forward(&pool, n * x->c, x->h, x->w, x->data, y->data, argmax);
        break;
    }
    case OP_UPSAMPLE: upsample2x_forward(n * x->c, x->h, x->w, x->data, y->data); break;
    case OP_HEAD: head_forward(m, op, n); break;
    }
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
    for (int i = 0; i < m->graph.n_ops; i++) op_forward(m, &m->graph.ops[i], n, train);

    DetectOutput *out = &m->out;
    if (train) {
        for (int l = 0; l < out->nl; l++) memset(out->dpred[l], 0, out->numel[l] * sizeof(float));
    } else {
        DetectGeometry geo = {out->nl, out->na, out->no, out->h, out->w, m->buffers + m->table.detect.anchors,
                              m->stride};
        detect_decode(&geo, n, (const float *const *)out->pred, out->decoded);
    }
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
    const Conv2d cv = unit_conv(u);
    const BatchNorm bn = {u->c_out, MODEL_BN_EPS, MODEL_BN_MOMENTUM};
    const int hw = y->h * y->w;
    const size_t count = numel(n, y), stride = (count + 15) / 16 * 16;
    float *dz = op->scratch_bwd;
    float *da = y->grad;
    float *cols = dz + stride;
    if (u->act) {
        da = dz + stride;
        cols = da + stride;
        memset(da, 0, count * sizeof(float));
        silu_backward(count, op->a, y->grad, da);
    }
    memset(dz, 0, count * sizeof(float));
    batchnorm_backward(&bn, n, hw, op->z, m->params + u->gamma, op->mean, op->invstd, da, dz, m->grads + u->gamma,
                       m->grads + u->beta);
    conv2d_backward(&cv, n, x->h, x->w, x->data, m->params + u->weight, dz, x->grad, m->grads + u->weight, NULL,
                    cols);
}

static void head_backward(Model *m, const GraphOp *op, int n, const float *dp)
{
    const DetectParams *d = &m->table.detect;
    const DetectHead *hd = &d->head[op->level];
    const GraphTensor *x = &m->graph.tensors[op->in[0]];
    const GraphTensor *p = &m->graph.tensors[op->out];
    const Conv2d cv = {hd->c_in, d->na * d->no, 1, 1, 0};
    float *dr = op->scratch_bwd;
    float *cols = dr + (numel(n, p) + 15) / 16 * 16;
    pred_to_head(n, d->na, d->no, (size_t)p->h * p->w, dp, dr);
    conv2d_backward(&cv, n, x->h, x->w, x->data, m->params + hd->weight, dr, x->grad, m->grads + hd->weight,
                    m->grads + hd->bias, cols);
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
        if (op->in[j] > 0 && t->last_use == index && !seen) memset(t->grad, 0, numel(n, t) * sizeof(float));
    }
    GraphTensor *out = &ts[op->out];
    if (out->last_use < 0 && out->grad) memset(out->grad, 0, numel(n, out) * sizeof(float));
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
    return 0;
}
