/* ModelEMA update with torch's float32 rounding (see ema.h). */
#include "optim/ema.h"

#include <math.h>

#include "optim/optim_parallel.h"

void model_ema_init(ModelEma *ema, int64_t updates)
{
    ema->updates = updates;
    ema->decay = EMA_DECAY;
    ema->tau = EMA_TAU;
}

double model_ema_decay(const ModelEma *ema, int64_t updates)
{
    /* Python: decay * (1 - math.exp(-x / tau)) with x an int */
    return ema->decay * (1.0 - exp((double)(-updates) / ema->tau));
}

static void blend(float *restrict ema, const float *restrict model, size_t begin, size_t end, float d,
                  float one_minus_d)
{
    for (size_t i = begin; i < end; i++) ema[i] = ema[i] * d + one_minus_d * model[i];
}

typedef struct {
    float *ema_params;
    const float *params;
    size_t n_params;
    float *ema_buffers;
    const float *buffers;
    size_t n_buffers;
    float d, one_minus_d;
} BlendCtx;

/* Elements [lo, hi) of params followed by buffers. */
static void blend_range(const void *p, long long lo, long long hi)
{
    const BlendCtx *c = p;
    size_t b, e;
    if (range_overlap(0, c->n_params, (size_t)lo, (size_t)hi, &b, &e))
        blend(c->ema_params, c->params, b, e, c->d, c->one_minus_d);
    if (range_overlap(c->n_params, c->n_buffers, (size_t)lo, (size_t)hi, &b, &e))
        blend(c->ema_buffers, c->buffers, b, e, c->d, c->one_minus_d);
}

double model_ema_update(ModelEma *ema, float *ema_params, const float *params, size_t n_params,
                        float *ema_buffers, const float *buffers, size_t n_buffers)
{
    ema->updates++;
    double d = model_ema_decay(ema, ema->updates);
    const BlendCtx c = {ema_params, params, n_params, ema_buffers, buffers, n_buffers, (float)d, (float)(1.0 - d)};
    const size_t total = n_params + n_buffers;
    parallel_for((long long)total, total, OPTIM_PARALLEL_MIN, blend_range, &c);
    return d;
}
