/* Planning one run: every feature map's shape for the given image size, every
 * buffer the forward (and in training the backward) touches with the span of
 * steps it is live, and one arena offset per buffer such that buffers live at
 * the same time never share memory.
 *
 * Steps: the forward of op i is step i; step N (N ops) is the end of the
 * forward (decode, or zeroing dpred); the backward of op i is step 2N - i.
 * Lifetimes:
 *   feature map      from its producer to its last forward reader; in training
 *                    also to the backward of each conv or head reading it
 *                    (they need their input for dW; the other ops' backwards
 *                    need only their output gradient or saved state); Detect
 *                    outputs to the end
 *   saved op state   forward to backward of the op (train)
 *   gradient of map  from the backward of its last reader (where it is zeroed)
 *                    to the backward of its producer (train)
 *   dpred, decoded   end of forward to the end
 *   op scratch       its own step only
 * Placement is greedy by size (largest first, each at the lowest offset that
 * does not collide with a placed buffer live at an overlapping step), which is
 * deterministic, so measuring and carving give the same layout.
 *
 * Eval runs are planned per image (model_plan_eval.h): the one-image buffers
 * of one slot are placed as above, further slots are shifted copies of it, and
 * the whole-batch outputs follow the slots. */
#include <omp.h>
#include <string.h>

#include "model/model_internal.h"
#include "model/model_plan_eval.h"
#include "nn/conv2d.h"
#include "nn/conv_bn_act.h"

#define PLAN_ALIGN 64

static size_t align_up(size_t bytes) { return (bytes + PLAN_ALIGN - 1) / PLAN_ALIGN * PLAN_ALIGN; }

/* Floats rounded up to whole 64-byte lines, so sub-buffers of a scratch stay aligned. */
static size_t lines(size_t floats) { return (floats + 15) / 16 * 16; }

int model_plan_capacity(const Graph *g, int nl)
{
    /* Train: data + gradient per tensor; z, a, mean, invstd, argmax, two
     * scratches per op; dpred per level; decoded. Eval: per slot, data per
     * tensor and one scratch per op; then the outputs. */
    int train = 2 * g->n_tensors + 7 * g->n_ops + nl + 1;
    int eval = MODEL_EVAL_MAX_SLOTS * (g->n_tensors + g->n_ops) + g->n_tensors + 1;
    return train > eval ? train : eval;
}

int model_eval_slots(int n)
{
    int threads = omp_get_max_threads();
    int slots = n < threads ? n : threads;
    if (slots > MODEL_EVAL_MAX_SLOTS) slots = MODEL_EVAL_MAX_SLOTS;
    return slots < 2 ? 1 : slots;
}

/* Buffers one eval slot registers: every non-output tensor's data and every
 * op's scratch (walk_eval's order). */
static int eval_slot_buffers(const Model *m)
{
    const Graph *g = &m->graph;
    return g->n_tensors - 1 - m->table.detect.nl + g->n_ops;
}

size_t model_eval_slot_stride(const Model *m, int n)
{
    const PlanBuffer *b = m->graph.plan->bufs;
    if (model_eval_slots(n) < 2) return 0;
    return b[eval_slot_buffers(m)].offset - b[0].offset;
}

/* ------------------------------------------------------------------------ */
/* Shapes                                                                    */

static int largest_stride(const Model *m)
{
    float s = 0;
    for (int l = 0; l < m->cfg.nl; l++)
        if (m->cfg.stride[l] > s) s = m->cfg.stride[l];
    return (int)s;
}

/* Output h, w of every tensor into the planning scratch. */
static int plan_shapes(const Model *m, int h, int w, Error *err)
{
    const Graph *g = &m->graph;
    int *hw = g->plan->hw;
    hw[0] = h;
    hw[1] = w;
    for (int i = 0; i < g->n_ops; i++) {
        const GraphOp *op = &g->ops[i];
        int ih = hw[2 * op->in[0]], iw = hw[2 * op->in[0] + 1];
        int oh = ih, ow = iw;
        switch (op->kind) {
        case OP_CONV: {
            const ConvUnit *u = &m->table.units[op->unit];
            oh = conv2d_out_dim(ih, u->k, u->stride, u->pad);
            ow = conv2d_out_dim(iw, u->k, u->stride, u->pad);
            if (oh < 1 || ow < 1)
                return err_set(err, "model: layer %d (Conv k%d s%d): its %dx%d input is smaller than the kernel "
                                    "(image %dx%d too small)",
                               op->layer, u->k, u->stride, ih, iw, h, w);
            break;
        }
        case OP_ADD:
        case OP_CONCAT:
            for (int j = 1; j < op->n_in; j++) {
                int jh = hw[2 * op->in[j]], jw = hw[2 * op->in[j] + 1];
                if (jh != ih || jw != iw)
                    return err_set(err, "model: layer %d (%s): inputs of %dx%d and %dx%d differ; image sides "
                                        "(%dx%d) must be multiples of %d, the largest stride",
                                   op->layer, module_kind_name(m->cfg.layers[op->layer].kind), ih, iw, jh, jw, h,
                                   w, largest_stride(m));
            }
            break;
        case OP_UPSAMPLE:
            oh = 2 * ih;
            ow = 2 * iw;
            break;
        case OP_MAXPOOL: /* stride 1, padding k/2, odd k: same size */
        case OP_HEAD: break;
        }
        hw[2 * op->out] = oh;
        hw[2 * op->out + 1] = ow;
    }
    return 0;
}

static size_t tensor_numel(const Model *m, int n, int t)
{
    const int *hw = m->graph.plan->hw;
    return (size_t)n * m->graph.tensors[t].c * hw[2 * t] * hw[2 * t + 1];
}

static int head_level(const Graph *g, int nl, int t)
{
    for (int l = 0; l < nl; l++)
        if (g->head_out[l] == t) return l;
    return -1;
}

/* ------------------------------------------------------------------------ */
/* Buffers                                                                   */

typedef struct {
    const Graph *g;
    int count;
    unsigned char *base; /* assigning pass: the arena block; NULL while collecting */
} Planner;

/* Registers a buffer (collecting pass) or returns its address (assigning pass). */
static void *buffer(Planner *p, size_t bytes, int start, int end)
{
    int k = p->count++;
    if (k >= p->g->plan->cap) return NULL; /* reported by plan() */
    PlanBuffer *b = &p->g->plan->bufs[k];
    if (!p->base) {
        b->bytes = align_up(bytes);
        b->start = start;
        b->end = end;
        b->offset = 0;
        return NULL;
    }
    return p->base + b->offset;
}

static float *floats(Planner *p, size_t count, int start, int end)
{
    return buffer(p, count * sizeof(float), start, end);
}

/* Last step at which tensor t's data is read. */
static int data_end(const Model *m, int t, int train, int end_of_run)
{
    const Graph *g = &m->graph;
    const GraphTensor *gt = &g->tensors[t];
    const int N = g->n_ops;
    int end = gt->producer;
    if (head_level(g, m->table.detect.nl, t) >= 0) return end_of_run;
    for (int i = gt->producer + 1; i <= gt->last_use; i++) {
        const GraphOp *op = &g->ops[i];
        for (int j = 0; j < op->n_in; j++) {
            if (op->in[j] != t) continue;
            if (i > end) end = i;
            if (train && (op->kind == OP_CONV || op->kind == OP_HEAD) && 2 * N - i > end) end = 2 * N - i;
        }
    }
    return end;
}

/* Scratch floats of op i's forward and backward. */
static void op_scratch(const Model *m, const GraphOp *op, int n, int train, size_t *fwd, size_t *bwd)
{
    const int *hw = m->graph.plan->hw;
    const int ih = hw[2 * op->in[0]], iw = hw[2 * op->in[0] + 1];
    const size_t out = tensor_numel(m, n, op->out);
    *fwd = *bwd = 0;
    if (op->kind == OP_CONV) {
        const ConvUnit *u = &m->table.units[op->unit];
        ConvBnAct cba = model_conv_layer(m, u);
        *fwd = conv_bn_act_forward_scratch_floats(&cba, n, ih, iw, train);
        if (train) *bwd = conv_bn_act_backward_scratch_floats(&cba, n, ih, iw);
    } else if (op->kind == OP_HEAD) {
        Conv2d cv = model_head_conv(m, op->level);
        *fwd = lines(out) + conv2d_batched_forward_scratch_floats(&cv, n, ih, iw); /* output before the permute */
        if (train) *bwd = lines(out) + conv2d_batched_backward_scratch_floats(&cv, n, ih, iw);
    } else if (op->kind == OP_MAXPOOL && !train) {
        *fwd = out; /* int32 arg-max, same count */
    }
}

/* Sets what every run's carve sets besides the buffers. */
static void fill_run(const Model *m, Model *fill, int n, int h, int w, int train, const DetectOutput *out)
{
    const int *hw = m->graph.plan->hw;
    for (int t = 1; t < m->graph.n_tensors; t++) {
        fill->graph.tensors[t].h = hw[2 * t];
        fill->graph.tensors[t].w = hw[2 * t + 1];
    }
    GraphTensor *in = &fill->graph.tensors[0];
    in->h = h;
    in->w = w;
    in->data = NULL;
    in->grad = NULL;
    fill->out = *out;
    fill->run_n = n;
    fill->run_h = h;
    fill->run_w = w;
    fill->run_mode = train ? MODEL_TRAIN : MODEL_EVAL;
}

static DetectOutput detect_shapes(const Model *m, int n)
{
    const Graph *g = &m->graph;
    const int *hw = g->plan->hw;
    DetectOutput out = {.n = n, .nl = m->table.detect.nl, .na = m->table.detect.na, .no = m->table.detect.no};
    for (int l = 0; l < out.nl; l++) {
        int t = g->head_out[l];
        out.h[l] = hw[2 * t];
        out.w[l] = hw[2 * t + 1];
        out.numel[l] = tensor_numel(m, n, t);
        out.n_boxes += (size_t)out.na * out.h[l] * out.w[l];
    }
    return out;
}

/* The eval run's buffers (model_plan_eval.h): `slots` copies of the one-image
 * buffers, registered slot after slot in the same order, then the whole-batch
 * Detect outputs and decoded boxes. The carve fills slot 0's addresses. */
static void walk_eval(const Model *m, Model *fill, Planner *p, int n, int h, int w, int slots)
{
    const Graph *g = &m->graph;
    const int N = g->n_ops, nl = m->table.detect.nl;
    for (int s = 0; s < slots; s++) {
        for (int t = 1; t < g->n_tensors; t++) {
            if (head_level(g, nl, t) >= 0) continue;
            const GraphTensor *gt = &g->tensors[t];
            float *data = floats(p, tensor_numel(m, 1, t), gt->producer, data_end(m, t, 0, N));
            if (fill && s == 0) {
                fill->graph.tensors[t].data = data;
                fill->graph.tensors[t].grad = NULL;
            }
        }
        for (int i = 0; i < N; i++) {
            size_t fwd, bwd;
            op_scratch(m, &g->ops[i], 1, 0, &fwd, &bwd);
            float *scratch = floats(p, fwd, i, i);
            if (fill && s == 0) {
                GraphOp *fo = &fill->graph.ops[i];
                fo->z = fo->a = fo->mean = fo->invstd = fo->scratch_bwd = NULL;
                fo->argmax = NULL;
                fo->scratch = scratch;
            }
        }
    }
    DetectOutput out = detect_shapes(m, n);
    for (int l = 0; l < nl; l++) {
        int t = g->head_out[l];
        float *data = floats(p, out.numel[l], g->tensors[t].producer, N);
        out.pred[l] = data;
        if (fill) {
            fill->graph.tensors[t].data = data;
            fill->graph.tensors[t].grad = NULL;
        }
    }
    out.decoded = floats(p, (size_t)n * out.n_boxes * out.no, N, N);
    if (fill) fill_run(m, fill, n, h, w, 0, &out);
}

/* Walks every buffer of a training run in a fixed order. With fill == NULL
 * only registers them; otherwise stores the returned addresses into fill. */
static void walk_train(const Model *m, Model *fill, Planner *p, int n, int h, int w)
{
    const Graph *g = &m->graph;
    const int N = g->n_ops, nl = m->table.detect.nl;
    const int end_of_run = 2 * N;

    for (int t = 1; t < g->n_tensors; t++) {
        const GraphTensor *gt = &g->tensors[t];
        float *data = floats(p, tensor_numel(m, n, t), gt->producer, data_end(m, t, 1, end_of_run));
        float *grad = NULL;
        if (head_level(g, nl, t) < 0) {
            int first = gt->last_use >= 0 ? gt->last_use : gt->producer; /* first backward to touch it */
            grad = floats(p, tensor_numel(m, n, t), 2 * N - first, 2 * N - gt->producer);
        }
        if (fill) {
            fill->graph.tensors[t].data = data;
            fill->graph.tensors[t].grad = grad;
        }
    }

    for (int i = 0; i < N; i++) {
        const GraphOp *op = &g->ops[i];
        const int saved_end = 2 * N - i;
        float *z = NULL, *mean = NULL, *invstd = NULL;
        int32_t *argmax = NULL;
        if (op->kind == OP_CONV) {
            const ConvUnit *u = &m->table.units[op->unit];
            size_t out = tensor_numel(m, n, op->out);
            z = floats(p, out, i, saved_end);
            mean = floats(p, 3 * (size_t)u->c_out, i, saved_end); /* mean, then the BN transform */
            invstd = floats(p, (size_t)u->c_out, i, saved_end);
        } else if (op->kind == OP_MAXPOOL) {
            argmax = buffer(p, tensor_numel(m, n, op->out) * sizeof(int32_t), i, saved_end);
        }
        size_t fwd, bwd;
        op_scratch(m, op, n, 1, &fwd, &bwd);
        float *scratch = floats(p, fwd, i, i);
        float *scratch_bwd = floats(p, bwd, 2 * N - i, 2 * N - i);
        if (fill) {
            GraphOp *fo = &fill->graph.ops[i];
            fo->z = z;
            fo->a = NULL; /* the fused conv unit recomputes its activation input */
            fo->mean = mean;
            fo->invstd = invstd;
            fo->argmax = argmax;
            fo->scratch = scratch;
            fo->scratch_bwd = scratch_bwd;
        }
    }

    DetectOutput out = detect_shapes(m, n);
    for (int l = 0; l < nl; l++) {
        out.pred[l] = fill ? fill->graph.tensors[g->head_out[l]].data : NULL;
        out.dpred[l] = floats(p, out.numel[l], N, end_of_run);
    }
    if (fill) fill_run(m, fill, n, h, w, 1, &out);
}

/* Greedy placement (see the top of the file) of buffers [first, first +
 * count); returns the bytes spanned. */
static size_t place(const Graph *g, int first, int count)
{
    PlanBuffer *b = g->plan->bufs + first;
    int *by_size = g->plan->order;          /* placement order */
    int *by_offset = g->plan->order + count; /* placed so far, by offset */
    for (int k = 0; k < count; k++) {
        /* Insertion sort: larger first, then registration order (stable). */
        int j = k;
        while (j > 0 && b[by_size[j - 1]].bytes < b[k].bytes) {
            by_size[j] = by_size[j - 1];
            j--;
        }
        by_size[j] = k;
    }
    size_t total = 0;
    int placed = 0;
    for (int s = 0; s < count; s++) {
        PlanBuffer *cur = &b[by_size[s]];
        if (cur->bytes == 0) {
            cur->offset = 0;
            continue;
        }
        size_t offset = 0;
        for (int j = 0; j < placed; j++) {
            const PlanBuffer *o = &b[by_offset[j]];
            if (o->end < cur->start || cur->end < o->start) continue; /* never live together */
            if (offset + cur->bytes <= o->offset) break;                /* fits in the gap before o */
            if (o->offset + o->bytes > offset) offset = o->offset + o->bytes;
        }
        cur->offset = offset;
        int j = placed++;
        while (j > 0 && b[by_offset[j - 1]].offset > offset) {
            by_offset[j] = by_offset[j - 1];
            j--;
        }
        by_offset[j] = by_size[s];
        if (offset + cur->bytes > total) total = offset + cur->bytes;
    }
    return total;
}

static int plan(const Model *m, int n, int h, int w, ModelMode mode, size_t *bytes, Error *err)
{
    if (n < 1) return err_set(err, "model: batch size %d must be positive", n);
    if (plan_shapes(m, h, w, err) != 0) return -1;
    Planner p = {.g = &m->graph};
    const int slots = mode == MODEL_TRAIN ? 0 : model_eval_slots(n);
    if (mode == MODEL_TRAIN)
        walk_train(m, NULL, &p, n, h, w);
    else
        walk_eval(m, NULL, &p, n, h, w, slots);
    if (p.count > m->graph.plan->cap) /* cannot happen: model_plan_capacity counts every kind */
        return err_set(err, "model: %d planned buffers exceed the capacity %d", p.count, m->graph.plan->cap);
    m->graph.plan->count = p.count;
    if (mode == MODEL_TRAIN) {
        *bytes = place(&m->graph, 0, p.count);
        return 0;
    }
    /* Eval: slot 0 by the greedy placement, the other slots as shifted copies
     * of it, the outputs after the last slot. */
    PlanBuffer *b = m->graph.plan->bufs;
    const int per_slot = eval_slot_buffers(m);
    const size_t stride = align_up(place(&m->graph, 0, per_slot));
    for (int s = 1; s < slots; s++)
        for (int j = 0; j < per_slot; j++) b[s * per_slot + j].offset = b[j].offset + (size_t)s * stride;
    const int first_out = slots * per_slot;
    const size_t out_bytes = place(&m->graph, first_out, p.count - first_out);
    for (int k = first_out; k < p.count; k++) b[k].offset += (size_t)slots * stride;
    *bytes = (size_t)slots * stride + out_bytes;
    return 0;
}

int model_plan_measure(const Model *m, int n, int h, int w, ModelMode mode, size_t *bytes, Error *err)
{
    if (plan(m, n, h, w, mode, bytes, err) != 0) return -1;
    if (*bytes == 0) *bytes = PLAN_ALIGN;
    return 0;
}

int model_plan_carve(Model *m, int n, int h, int w, ModelMode mode, Error *err)
{
    size_t bytes;
    if (plan(m, n, h, w, mode, &bytes, err) != 0) return -1;
    arena_reset_to(&m->arena, 0);
    unsigned char *base = arena_bytes(&m->arena, bytes ? bytes : PLAN_ALIGN);
    if (!base) return err_set(err, "model: activation arena too small for batch %d at %dx%d", n, h, w);
    Planner p = {.g = &m->graph, .base = base};
    if (mode == MODEL_TRAIN)
        walk_train(m, m, &p, n, h, w);
    else
        walk_eval(m, m, &p, n, h, w, model_eval_slots(n));
    return 0;
}
