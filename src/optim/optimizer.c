/* SGD (Nesterov), Adam and AdamW steps on flat blocks, as PyTorch 1.13 computes
 * them (see optimizer.h for the formulas). Float32 arithmetic throughout, in
 * torch's operation order; this file is compiled without FP contraction
 * (-std=c11), so every product and sum is rounded separately, as in torch's
 * non-FMA kernels. */
#include "optim/optimizer.h"

#include <emmintrin.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "optim/pyfloat.h"
#include "optim/optim_parallel.h"

const char *optimizer_kind_name(OptimizerKind kind)
{
    switch (kind) {
    case OPTIM_SGD: return "SGD";
    case OPTIM_ADAM: return "Adam";
    case OPTIM_ADAMW: return "AdamW";
    }
    return "?";
}

int optimizer_kind_parse(const char *name, OptimizerKind *out, Error *e)
{
    static const OptimizerKind kinds[] = {OPTIM_SGD, OPTIM_ADAM, OPTIM_ADAMW};
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        if (name && strcmp(name, optimizer_kind_name(kinds[i])) == 0) {
            *out = kinds[i];
            return 0;
        }
    }
    return err_set(e, "--optimizer: '%s' is not one of SGD, Adam, AdamW", name ? name : "(null)");
}

static int check_config(const OptimizerConfig *cfg, Error *e)
{
    if (cfg->kind != OPTIM_SGD && cfg->kind != OPTIM_ADAM && cfg->kind != OPTIM_ADAMW)
        return err_set(e, "optimizer: invalid kind %d", (int)cfg->kind);
    if (!(cfg->lr0 >= 0.0) || !isfinite(cfg->lr0))
        return err_set(e, "optimizer: invalid learning rate lr0 = %g", cfg->lr0);
    if (!(cfg->weight_decay >= 0.0) || !isfinite(cfg->weight_decay))
        return err_set(e, "optimizer: invalid weight_decay %g", cfg->weight_decay);
    if (cfg->kind == OPTIM_SGD) {
        /* torch: SGD(nesterov=True) needs momentum > 0 */
        if (!(cfg->momentum > 0.0) || !isfinite(cfg->momentum))
            return err_set(e, "optimizer: SGD with Nesterov momentum needs momentum > 0 (hyp momentum = %g)",
                           cfg->momentum);
    } else if (!(cfg->momentum >= 0.0 && cfg->momentum < 1.0)) {
        return err_set(e, "optimizer: %s beta1 (hyp momentum) must be in [0, 1), got %g",
                       optimizer_kind_name(cfg->kind), cfg->momentum);
    }
    return 0;
}

static int check_table(const ParamTable *t, Error *e)
{
    for (int k = 0; k < t->n_entries; k++) {
        const ParamEntry *en = &t->entries[k];
        if (en->kind != ENTRY_PARAM) continue;
        if (en->group < 0 || en->group >= PARAM_GROUP_COUNT)
            return err_set(e, "optimizer: parameter %s has no optimizer group (%d)", en->key, en->group);
        if (en->offset > t->n_params || en->numel > t->n_params - en->offset)
            return err_set(e, "optimizer: parameter %s [%zu, +%zu) lies outside the %zu-element block",
                           en->key, en->offset, en->numel, t->n_params);
    }
    return 0;
}

int optimizer_init(Optimizer *opt, const OptimizerConfig *cfg, const ParamTable *t,
                   const unsigned char *trainable, Error *e)
{
    memset(opt, 0, sizeof *opt);
    if (check_config(cfg, e) || check_table(t, e)) return -1;
    opt->kind = cfg->kind;
    opt->beta1 = cfg->momentum;
    opt->beta2 = OPTIM_ADAM_BETA2;
    opt->eps = OPTIM_ADAM_EPS;
    for (int g = 0; g < PARAM_GROUP_COUNT; g++) {
        opt->group[g].lr = cfg->lr0;
        opt->group[g].initial_lr = cfg->lr0;
        opt->group[g].momentum = cfg->momentum;
        opt->group[g].weight_decay = g == PARAM_GROUP_DECAY ? cfg->weight_decay : 0.0;
    }
    opt->n_params = t->n_params;
    opt->n_entries = t->n_entries;
    size_t n_alloc = t->n_params ? t->n_params : 1;
    size_t e_alloc = t->n_entries ? (size_t)t->n_entries : 1;
    opt->trainable = calloc(e_alloc, 1);
    opt->segments = calloc(e_alloc, sizeof *opt->segments);
    opt->steps = calloc(e_alloc, sizeof *opt->steps);
    opt->state0 = calloc(n_alloc, sizeof(float));
    if (cfg->kind != OPTIM_SGD) opt->state1 = calloc(n_alloc, sizeof(float));
    if (!opt->trainable || !opt->segments || !opt->steps || !opt->state0 ||
        (cfg->kind != OPTIM_SGD && !opt->state1)) {
        optimizer_free(opt);
        return err_set(e, "optimizer: out of memory for the state of %zu parameters", t->n_params);
    }
    for (int k = 0; k < t->n_entries; k++) {
        const ParamEntry *en = &t->entries[k];
        int on = en->kind == ENTRY_PARAM && (!trainable || trainable[k]);
        opt->trainable[k] = (unsigned char)on;
        if (!on) continue;
        opt->segments[opt->n_segments++] = (OptimSegment){en->offset, en->numel, en->group, k};
    }
    return 0;
}

void optimizer_free(Optimizer *opt)
{
    free(opt->trainable);
    free(opt->segments);
    free(opt->steps);
    free(opt->state0);
    free(opt->state1);
    memset(opt, 0, sizeof *opt);
}

void optimizer_reset_state(Optimizer *opt)
{
    if (opt->state0) memset(opt->state0, 0, opt->n_params * sizeof(float));
    if (opt->state1) memset(opt->state1, 0, opt->n_params * sizeof(float));
    if (opt->steps) memset(opt->steps, 0, (size_t)opt->n_entries * sizeof *opt->steps);
}

void optimizer_set_schedule(Optimizer *opt, const double lr[PARAM_GROUP_COUNT], double momentum)
{
    for (int g = 0; g < PARAM_GROUP_COUNT; g++) {
        opt->group[g].lr = lr[g];
        if (opt->kind == OPTIM_SGD) opt->group[g].momentum = momentum;
    }
}

/* ---- SGD ----------------------------------------------------------------- */

/* One tensor. `first`: the momentum buffer does not exist yet (torch clones
 * d into it). The flags are compile-time constants at each call so the loops
 * are unswitched and vectorized. */
static inline void sgd_slice(float *restrict p, const float *restrict g, float *restrict buf, size_t begin,
                             size_t end, float wd, float mu, float neg_lr, int has_wd, int first)
{
    for (size_t i = begin; i < end; i++) {
        float d = has_wd ? g[i] + wd * p[i] : g[i];
        float b = first ? d : buf[i] * mu + d;
        buf[i] = b;
        d = d + mu * b;
        p[i] = p[i] + neg_lr * d;
    }
}

static inline void sgd_plain_slice(float *restrict p, const float *restrict g, size_t begin, size_t end,
                                   float wd, float neg_lr, int has_wd)
{
    for (size_t i = begin; i < end; i++) {
        float d = has_wd ? g[i] + wd * p[i] : g[i];
        p[i] = p[i] + neg_lr * d;
    }
}

typedef struct {
    const Optimizer *opt;
    float *params;
    const float *grads;
} StepCtx;

/* The SGD update of the flat elements [lo, hi). */
static void sgd_range(const void *p, long long lo, long long hi)
{
    const StepCtx *c = p;
    const Optimizer *opt = c->opt;
    for (int s = 0; s < opt->n_segments; s++) {
        const OptimSegment *sg = &opt->segments[s];
        size_t b, en;
        if (!range_overlap(sg->offset, sg->numel, (size_t)lo, (size_t)hi, &b, &en)) continue;
        const OptimGroup *gr = &opt->group[sg->group];
        float *prm = c->params + sg->offset, *buf = opt->state0 + sg->offset;
        const float *g = c->grads + sg->offset;
        float wd = (float)gr->weight_decay, mu = (float)gr->momentum, neg_lr = (float)(-gr->lr);
        int has_wd = gr->weight_decay != 0.0;
        if (gr->momentum == 0.0) {
            if (has_wd) sgd_plain_slice(prm, g, b, en, wd, neg_lr, 1);
            else sgd_plain_slice(prm, g, b, en, wd, neg_lr, 0);
            continue;
        }
        int first = opt->steps[sg->entry] == 0;
        if (has_wd) {
            if (first) sgd_slice(prm, g, buf, b, en, wd, mu, neg_lr, 1, 1);
            else sgd_slice(prm, g, buf, b, en, wd, mu, neg_lr, 1, 0);
        } else {
            if (first) sgd_slice(prm, g, buf, b, en, wd, mu, neg_lr, 0, 1);
            else sgd_slice(prm, g, buf, b, en, wd, mu, neg_lr, 0, 0);
        }
    }
}

static void sgd_step(Optimizer *opt, float *params, const float *grads)
{
    const StepCtx c = {opt, params, grads};
    parallel_for((long long)opt->n_params, opt->n_params, OPTIM_PARALLEL_MIN, sgd_range, &c);
    for (int s = 0; s < opt->n_segments; s++)
        if (opt->group[opt->segments[s].group].momentum != 0.0) opt->steps[opt->segments[s].entry]++;
}

/* ---- Adam / AdamW -------------------------------------------------------- */

typedef struct {
    float decay_mul;      /* AdamW: 1 - lr*wd */
    float wd;             /* Adam: L2 coefficient */
    float b1, one_minus_b1, b2, one_minus_b2;
    float bc2_sqrt;       /* sqrt(1 - b2^t) */
    float eps;
    float neg_step_size;  /* -(lr / (1 - b1^t)) */
    int l2, decoupled;
} AdamScalars;

static AdamScalars adam_scalars(const Optimizer *opt, const OptimGroup *gr, int64_t step)
{
    AdamScalars s;
    double t = (double)step; /* torch keeps step as a float tensor and reads it back as a Python float */
    double bc1 = 1.0 - pow(opt->beta1, t);
    double bc2 = 1.0 - pow(opt->beta2, t);
    double step_size = gr->lr / bc1;
    s.decoupled = opt->kind == OPTIM_ADAMW;
    s.l2 = opt->kind == OPTIM_ADAM && gr->weight_decay != 0.0;
    s.decay_mul = (float)(1.0 - gr->lr * gr->weight_decay);
    s.wd = (float)gr->weight_decay;
    s.b1 = (float)opt->beta1;
    s.one_minus_b1 = (float)(1.0 - opt->beta1);
    s.b2 = (float)opt->beta2;
    s.one_minus_b2 = (float)(1.0 - opt->beta2);
    s.bc2_sqrt = (float)sqrt(bc2);
    s.eps = (float)opt->eps;
    s.neg_step_size = (float)(-step_size);
    return s;
}

/* One element, the reference formula (also the tail of the SSE loop). */
static inline void adam_element(float *p, const float *g, float *m, float *v, const AdamScalars *s, int l2,
                                int decoupled)
{
    float pi = *p;
    if (decoupled) pi = pi * s->decay_mul;
    float gi = l2 ? *g + s->wd * pi : *g;
    float mi = *m * s->b1 + s->one_minus_b1 * gi;
    float vi = *v * s->b2 + s->one_minus_b2 * gi * gi;
    float denom = sqrtf(vi) / s->bc2_sqrt + s->eps;
    *m = mi;
    *v = vi;
    *p = pi + s->neg_step_size * mi / denom;
}

/* The same operations four lanes at a time with SSE2 (baseline x86-64): GCC
 * does not vectorize sqrtf while it must keep errno, and the flags are not
 * ours to change. Every intrinsic is one correctly rounded float32 operation,
 * so the lanes equal adam_element bit for bit. */
static void adam_slice(float *restrict p, const float *restrict g, float *restrict m, float *restrict v,
                       size_t begin, size_t end, const AdamScalars *s)
{
    const int l2 = s->l2, decoupled = s->decoupled;
    const __m128 wd = _mm_set1_ps(s->wd), decay_mul = _mm_set1_ps(s->decay_mul), b1 = _mm_set1_ps(s->b1),
                 omb1 = _mm_set1_ps(s->one_minus_b1), b2 = _mm_set1_ps(s->b2),
                 omb2 = _mm_set1_ps(s->one_minus_b2), c2 = _mm_set1_ps(s->bc2_sqrt), eps = _mm_set1_ps(s->eps),
                 nss = _mm_set1_ps(s->neg_step_size);
    size_t i = begin;
    for (; i + 4 <= end; i += 4) {
        __m128 pi = _mm_loadu_ps(p + i);
        if (decoupled) pi = _mm_mul_ps(pi, decay_mul);
        __m128 gi = _mm_loadu_ps(g + i);
        if (l2) gi = _mm_add_ps(gi, _mm_mul_ps(wd, pi));
        __m128 mi = _mm_add_ps(_mm_mul_ps(_mm_loadu_ps(m + i), b1), _mm_mul_ps(omb1, gi));
        __m128 vi = _mm_add_ps(_mm_mul_ps(_mm_loadu_ps(v + i), b2), _mm_mul_ps(_mm_mul_ps(omb2, gi), gi));
        __m128 denom = _mm_add_ps(_mm_div_ps(_mm_sqrt_ps(vi), c2), eps);
        _mm_storeu_ps(m + i, mi);
        _mm_storeu_ps(v + i, vi);
        _mm_storeu_ps(p + i, _mm_add_ps(pi, _mm_div_ps(_mm_mul_ps(nss, mi), denom)));
    }
    for (; i < end; i++) adam_element(p + i, g + i, m + i, v + i, s, l2, decoupled);
}

/* The Adam/AdamW update of the flat elements [lo, hi). */
static void adam_range(const void *p, long long lo, long long hi)
{
    const StepCtx *c = p;
    const Optimizer *opt = c->opt;
    for (int s = 0; s < opt->n_segments; s++) {
        const OptimSegment *sg = &opt->segments[s];
        size_t b, en;
        if (!range_overlap(sg->offset, sg->numel, (size_t)lo, (size_t)hi, &b, &en)) continue;
        AdamScalars sc = adam_scalars(opt, &opt->group[sg->group], opt->steps[sg->entry] + 1);
        size_t o = sg->offset;
        adam_slice(c->params + o, c->grads + o, opt->state0 + o, opt->state1 + o, b, en, &sc);
    }
}

static void adam_step(Optimizer *opt, float *params, const float *grads)
{
    const StepCtx c = {opt, params, grads};
    parallel_for((long long)opt->n_params, opt->n_params, OPTIM_PARALLEL_MIN, adam_range, &c);
    for (int s = 0; s < opt->n_segments; s++) opt->steps[opt->segments[s].entry]++;
}

void optimizer_step(Optimizer *opt, float *params, const float *grads)
{
    if (opt->kind == OPTIM_SGD) sgd_step(opt, params, grads);
    else adam_step(opt, params, grads);
}

void optimizer_summary(const Optimizer *opt, const ParamTable *t, char *out, size_t cap)
{
    int count[PARAM_GROUP_COUNT] = {0};
    for (int k = 0; k < t->n_entries; k++) {
        const ParamEntry *en = &t->entries[k];
        if (en->kind == ENTRY_PARAM && en->group >= 0 && en->group < PARAM_GROUP_COUNT) count[en->group]++;
    }
    char lr[32], decay[32];
    py_float_repr(opt->group[PARAM_GROUP_DECAY].initial_lr, lr, sizeof lr);
    py_float_repr(opt->group[PARAM_GROUP_DECAY].weight_decay, decay, sizeof decay);
    snprintf(out, cap, "%s(lr=%s) with parameter groups %d weight(decay=0.0), %d weight(decay=%s), %d bias",
             optimizer_kind_name(opt->kind), lr, count[PARAM_GROUP_BN_WEIGHT], count[PARAM_GROUP_DECAY], decay,
             count[PARAM_GROUP_BIAS]);
}
