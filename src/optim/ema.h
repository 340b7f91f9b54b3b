/* YOLOv5's ModelEMA (utils/torch_utils.py, spec §4.6): an exponential moving
 * average of every floating-point state_dict entry of the training model.
 *
 * The EMA weights are a second set of blocks with the model's layout (a
 * params copy, a buffers copy holding BN running_mean/running_var and the
 * Detect anchors, a counters copy). Creation (train.py: right after the
 * optimizer, before AutoAnchor) copies all three blocks and sets updates to 0
 * (or to a resumed count). After every optimizer step:
 *     updates += 1;  d = decay * (1 - exp(-updates / tau))   (double)
 *     ema = ema*(float)d + (float)(1 - d)*model   for params and buffers
 * each product rounded to float32, then the sum (torch's `v *= d;
 * v += (1 - d) * msd[k]`), which this reproduces bit for bit. Counters
 * (num_batches_tracked) are not averaged: they keep the values copied at
 * creation. Frozen parameters are averaged like the others. The loops are
 * elementwise and OpenMP-parallel; nothing is allocated. */
#ifndef YV5_OPTIM_EMA_H
#define YV5_OPTIM_EMA_H

#include <stddef.h>
#include <stdint.h>

#define EMA_DECAY 0.9999
#define EMA_TAU 2000.0

typedef struct {
    int64_t updates; /* EMA updates so far (checkpoint 'updates') */
    double decay;    /* 0.9999 */
    double tau;      /* 2000 */
} ModelEma;

/* YOLOv5's defaults with the given update count (0 for a new run, the
 * checkpoint's 'updates' on resume). Copying the model's blocks into the EMA
 * blocks is the caller's part of creation. */
void model_ema_init(ModelEma *ema, int64_t updates);

/* The decay used by the update that makes the count `updates`. */
double model_ema_decay(const ModelEma *ema, int64_t updates);

/* One ModelEMA.update(model): increments updates and averages the model's
 * params and buffers into the EMA blocks. Returns the d it used. */
double model_ema_update(ModelEma *ema, float *ema_params, const float *params, size_t n_params,
                        float *ema_buffers, const float *buffers, size_t n_buffers);

#endif
