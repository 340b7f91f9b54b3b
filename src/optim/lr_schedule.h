/* Batch-size scaling, learning-rate schedule and warmup of YOLOv5 v7.0's
 * train.py (spec §4.2, §4.4), as pure functions of (epoch, ni) so that a
 * resumed run gets the same values as an uninterrupted one.
 *
 * Scaling (once, at start): nbs = 64, accumulate = max(round(64 / bs), 1),
 * weight_decay *= bs * accumulate / 64. Python's round is half-to-even.
 *
 * Schedule: lf(e) = (1 - e/E)(1 - lrf) + lrf (linear, default) or
 * ((1 - cos(e*pi/E)) / 2)(lrf - 1) + 1 (--cos-lr), E = epochs. LambdaLR sets
 * every group's lr to lr0 * lf(0) when built, and scheduler.step() at the end
 * of epoch e sets lr0 * lf(e); train.py resets last_epoch to start_epoch - 1,
 * so after warmup epoch e trains at lr0 * lf(e - 1) (one-epoch lag).
 *
 * Warmup, at the start of every batch with ni = i + nb*epoch <= nw,
 * nw = max(round(warmup_epochs * nb), 100), with NumPy's interp over [0, nw]:
 *   accumulate = max(1, round(interp(ni, [1, 64/bs])))
 *   lr (bias group) = interp(ni, [warmup_bias_lr, lr0 * lf(epoch)])
 *   lr (other groups) = interp(ni, [0, lr0 * lf(epoch)])
 *   momentum (SGD) = interp(ni, [warmup_momentum, momentum])
 * After warmup the values stay what the last writer left: lr0 * lf(epoch) in
 * the epoch that contains ni = nw, lr0 * lf(epoch - 1) in later epochs (also
 * after a resume, which restores the lr saved with the optimizer), momentum =
 * hyp momentum, accumulate = max(round(64 / bs), 1).
 *
 * The optimizer steps on batch ni when ni - last_opt_step >= accumulate, with
 * last_opt_step = -1 at the start of (and on resuming) a run. */
#ifndef YV5_OPTIM_LR_SCHEDULE_H
#define YV5_OPTIM_LR_SCHEDULE_H

#include <stdint.h>

#include "core/error.h"
#include "hyp/hyp.h"
#include "model/param_table.h"

#define NOMINAL_BATCH_SIZE 64
#define WARMUP_MIN_ITERATIONS 100

/* max(round(64 / batch_size), 1) for batch_size >= 1 (1 otherwise). */
int nominal_accumulate(int batch_size);
/* weight_decay * (batch_size * accumulate / 64), as train.py scales the hyp. */
double scaled_weight_decay(double weight_decay, int batch_size);
/* max(round(warmup_epochs * nb), 100). */
int64_t warmup_iterations(double warmup_epochs, int64_t nb);

typedef enum { LR_LINEAR = 0, LR_COSINE = 1 } LrScheduleKind;

typedef struct {
    LrScheduleKind kind;
    int epochs;             /* E */
    double lr0, lrf;
    double momentum, warmup_momentum, warmup_bias_lr;
    int batch_size;
    int64_t nb;             /* batches per epoch, ceil(n_images / batch_size) */
    int64_t nw;             /* warmup iterations */
} LrSchedule;

/* Fills s from the (unscaled) hyp: lr0, lrf, momentum, warmup_momentum,
 * warmup_bias_lr and nw from warmup_epochs. Rejects epochs < 1, nb < 1,
 * batch_size < 1. */
int lr_schedule_init(LrSchedule *s, LrScheduleKind kind, const Hyp *h, int epochs, int64_t nb, int batch_size,
                     Error *e);

/* lf(epoch), the LambdaLR multiplier. */
double lr_lambda(const LrSchedule *s, int epoch);

typedef struct {
    double lr[PARAM_GROUP_COUNT]; /* by PARAM_GROUP_* */
    double momentum;              /* SGD momentum (Adam/AdamW ignore it) */
    int accumulate;               /* batches per optimizer step */
    int warmup;                   /* 1 while ni <= nw */
} SchedulePoint;

/* The values train.py has set when batch ni of `epoch` runs its forward. */
void lr_schedule_at(const LrSchedule *s, int epoch, int64_t ni, SchedulePoint *out);

/* Every group's lr right after LambdaLR's construction: lr0 * lf(0). */
double lr_schedule_initial_lr(const LrSchedule *s);
/* Every group's lr after scheduler.step() at the end of `epoch` (what the
 * checkpoint of that epoch stores): lr0 * lf(epoch). */
double lr_schedule_epoch_end_lr(const LrSchedule *s, int epoch);

/* train.py's step condition. */
static inline int optimizer_step_due(int64_t ni, int64_t last_opt_step, int accumulate)
{
    return ni - last_opt_step >= accumulate;
}

#endif
