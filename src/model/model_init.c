/* Initial weights as PyTorch's constructors and YOLOv5's model build leave
 * them (spec §2.7-2.8). Draws come from the caller's Rng in construction
 * order: each conv unit's weight in state_dict order, then per Detect level
 * its weight and its bias. The distributions match PyTorch's; its generator's
 * exact stream is not reproduced. */
#include <math.h>
#include <string.h>

#include "model/model.h"

static void fill_uniform(Rng *rng, float *dst, size_t count, double bound)
{
    for (size_t i = 0; i < count; i++) dst[i] = (float)rng_uniform_range(rng, -bound, bound);
}

void model_init_weights(Model *m, Rng *rng)
{
    const ParamTable *t = &m->table;
    for (int i = 0; i < t->n_units; i++) {
        const ConvUnit *u = &t->units[i];
        /* kaiming_uniform_(a=sqrt(5)) reduces to U(-1/sqrt(fan_in), 1/sqrt(fan_in)). */
        const size_t fan_in = (size_t)u->c_in * u->k * u->k;
        fill_uniform(rng, m->params + u->weight, (size_t)u->c_out * fan_in, 1.0 / sqrt((double)fan_in));
        for (int c = 0; c < u->c_out; c++) {
            m->params[u->gamma + c] = 1.0f;
            m->params[u->beta + c] = 0.0f;
            /* The stride probe (a training-mode forward of a zero image with
             * BN momentum still 0.1) leaves mean 0, var 0.9*1 + 0.1*0, one batch. */
            m->buffers[u->running_mean + c] = 0.0f;
            m->buffers[u->running_var + c] = 0.9f;
        }
        m->counters[u->num_batches_tracked] = 1;
    }

    const DetectParams *d = &t->detect;
    const int rows = d->na * d->no;
    for (int l = 0; l < d->nl; l++) {
        const DetectHead *h = &d->head[l];
        const double bound = 1.0 / sqrt((double)h->c_in);
        fill_uniform(rng, m->params + h->weight, (size_t)rows * h->c_in, bound);
        fill_uniform(rng, m->params + h->bias, (size_t)rows, bound);
    }

    /* _initialize_biases: priors added on top of the random bias, per anchor
     * row a*no + k. The objectness prior is computed from the float32 stride
     * as the reference does (8 / (640 / s)^2 in float32, then its log). */
    const double cls_prior = log(0.6 / ((double)m->nc - 0.99999));
    for (int l = 0; l < d->nl; l++) {
        const float cells = 640.0f / m->stride[l];
        const double obj_prior = log((double)(8.0f / (cells * cells)));
        float *bias = m->params + d->head[l].bias;
        for (int a = 0; a < d->na; a++) {
            bias[a * d->no + 4] += (float)obj_prior;
            for (int c = 0; c < m->nc; c++) bias[a * d->no + 5 + c] += (float)cls_prior;
        }
    }

    model_config_anchors_grid(&m->cfg, m->buffers + d->anchors);
    memset(m->grads, 0, t->n_params * sizeof(float));
}
