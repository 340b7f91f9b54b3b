/* ModelEMA update with torch's float32 rounding (see ema.h). */
#include "optim/ema.h"

#include <math.h>

#include "optim/thread_share.h"

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

double model_ema_update(ModelEma *ema, float *ema_params, const float *params, size_t n_params,
                        float *ema_buffers, const float *buffers, size_t n_buffers)
{
    ema->updates++;
    double d = model_ema_decay(ema, ema->updates);
    float df = (float)d, omd = (float)(1.0 - d);
#pragma omp parallel if (n_params + n_buffers >= OPTIM_PARALLEL_MIN)
    {
        int tid = OPTIM_THREAD_ID(), nth = OPTIM_THREAD_COUNT();
        size_t b, e;
        thread_share(n_params, tid, nth, &b, &e);
        blend(ema_params, params, b, e, df, omd);
        thread_share(n_buffers, tid, nth, &b, &e);
        blend(ema_buffers, buffers, b, e, df, omd);
    }
    return d;
}
