/* clip_grad_norm_ with PyTorch 1.13's float32 reduction order (clip_grad.h). */
#include "optim/clip_grad.h"

#include <math.h>

#include "optim/optim_parallel.h"

#define NORM_LANES 8 /* Vectorized<float>::size() of torch's 256-bit kernels */

float torch_l2_norm_f32(const float *x, size_t n)
{
    float acc[NORM_LANES] = {0};
    size_t body = n - n % NORM_LANES;
    for (size_t i = 0; i < body; i += NORM_LANES)
        for (int l = 0; l < NORM_LANES; l++) acc[l] += x[i + (size_t)l] * x[i + (size_t)l];
    float s = acc[0];
    for (int l = 1; l < NORM_LANES; l++) s = s + acc[l];
    for (size_t i = body; i < n; i++) s += x[i] * x[i];
    return sqrtf(s);
}

static int is_trainable(const ParamTable *t, const unsigned char *trainable, int k)
{
    return t->entries[k].kind == ENTRY_PARAM && (!trainable || trainable[k]);
}

typedef struct {
    const ParamTable *t;
    const unsigned char *trainable;
    float *grads;
    float *entry_norms;
    float coef;
} ClipCtx;

/* Task k: the norm of entry k's gradient (tasks of very unequal size, hence
 * one entry per task). */
static void entry_norm_task(const void *p, int k, int slot)
{
    (void)slot;
    const ClipCtx *c = p;
    const ParamEntry *en = &c->t->entries[k];
    c->entry_norms[k] = is_trainable(c->t, c->trainable, k) ? torch_l2_norm_f32(c->grads + en->offset, en->numel) : 0.0f;
}

/* Scales the trainable gradients among the flat elements [lo, hi). */
static void scale_range(const void *p, long long lo, long long hi)
{
    const ClipCtx *c = p;
    for (int k = 0; k < c->t->n_entries; k++) {
        if (!is_trainable(c->t, c->trainable, k)) continue;
        const ParamEntry *en = &c->t->entries[k];
        size_t b, end;
        if (!range_overlap(en->offset, en->numel, (size_t)lo, (size_t)hi, &b, &end)) continue;
        float *g = c->grads + en->offset;
        for (size_t i = b; i < end; i++) g[i] *= c->coef;
    }
}

int clip_grad_norm(const ParamTable *t, const unsigned char *trainable, float *grads, float max_norm,
                   float *entry_norms, ClipResult *res, Error *e)
{
    const int n = t->n_entries;
    ClipCtx c = {t, trainable, grads, entry_norms, 1.0f};
    parallel_for_items(n, t->n_params, OPTIM_PARALLEL_MIN, entry_norm_task, &c);

    /* The norm of the stacked per-tensor norms, same lanes as above. */
    float acc[NORM_LANES] = {0};
    int count = 0;
    for (int k = 0; k < n; k++)
        if (is_trainable(t, trainable, k)) count++;
    int body = count - count % NORM_LANES, j = 0;
    float s = 0.0f;
    for (int k = 0; k < n; k++) {
        if (!is_trainable(t, trainable, k)) continue;
        float v = entry_norms[k];
        if (j < body) {
            acc[j % NORM_LANES] += v * v;
        } else {
            if (j == body) {
                s = acc[0];
                for (int l = 1; l < NORM_LANES; l++) s = s + acc[l];
            }
            s += v * v;
        }
        j++;
    }
    if (count == body) { /* no tail: the lanes were never folded */
        s = acc[0];
        for (int l = 1; l < NORM_LANES; l++) s = s + acc[l];
    }
    float total = sqrtf(s);
    res->total_norm = total;
    res->coef = 1.0f;
    res->clipped = 0;

    if (!isfinite(total)) {
        for (int k = 0; k < n; k++) {
            if (is_trainable(t, trainable, k) && !isfinite(entry_norms[k]))
                return err_set(e, "gradient norm of %s is %g (non-finite gradient)", t->entries[k].key,
                               (double)entry_norms[k]);
        }
        return err_set(e, "total gradient norm is %g: the sum of squares overflowed float32", (double)total);
    }

    float coef = (1.0f / (total + 1e-6f)) * max_norm;
    if (!(coef < 1.0f)) return 0; /* torch multiplies by min(coef, 1) = 1: no change */
    res->coef = coef;
    res->clipped = 1;
    c.coef = coef;
    parallel_for((long long)t->n_params, t->n_params, OPTIM_PARALLEL_MIN, scale_range, &c);
    return 0;
}
