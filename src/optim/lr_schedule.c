/* train.py's accumulate / weight-decay scaling, LambdaLR schedule and warmup
 * (lr_schedule.h), in doubles with Python's and NumPy's operation order. */
#include "optim/lr_schedule.h"

#include <math.h>

#define PI_DOUBLE 3.141592653589793 /* math.pi */

/* Python round() / NumPy round(): half to even (the default rounding mode). */
static double round_half_even(double x)
{
    return nearbyint(x);
}

int nominal_accumulate(int batch_size)
{
    if (batch_size < 1) return 1; /* not a valid batch size; avoids 64/0 */
    double a = round_half_even((double)NOMINAL_BATCH_SIZE / (double)batch_size);
    return a < 1.0 ? 1 : (int)a;
}

double scaled_weight_decay(double weight_decay, int batch_size)
{
    /* hyp['weight_decay'] *= batch_size * accumulate / nbs */
    long long prod = (long long)batch_size * nominal_accumulate(batch_size);
    return weight_decay * ((double)prod / (double)NOMINAL_BATCH_SIZE);
}

int64_t warmup_iterations(double warmup_epochs, int64_t nb)
{
    double r = round_half_even(warmup_epochs * (double)nb);
    return r < (double)WARMUP_MIN_ITERATIONS ? WARMUP_MIN_ITERATIONS : (int64_t)r;
}

int lr_schedule_init(LrSchedule *s, LrScheduleKind kind, const Hyp *h, int epochs, int64_t nb, int batch_size,
                     Error *e)
{
    if (kind != LR_LINEAR && kind != LR_COSINE) return err_set(e, "lr schedule: invalid kind %d", (int)kind);
    if (epochs < 1) return err_set(e, "lr schedule: epochs must be >= 1, got %d", epochs);
    if (nb < 1) return err_set(e, "lr schedule: batches per epoch must be >= 1, got %lld", (long long)nb);
    if (batch_size < 1) return err_set(e, "lr schedule: batch size must be >= 1, got %d", batch_size);
    s->kind = kind;
    s->epochs = epochs;
    s->lr0 = h->lr0;
    s->lrf = h->lrf;
    s->momentum = h->momentum;
    s->warmup_momentum = h->warmup_momentum;
    s->warmup_bias_lr = h->warmup_bias_lr;
    s->batch_size = batch_size;
    s->nb = nb;
    s->nw = warmup_iterations(h->warmup_epochs, nb);
    return 0;
}

double lr_lambda(const LrSchedule *s, int epoch)
{
    double x = (double)epoch, E = (double)s->epochs;
    if (s->kind == LR_COSINE) /* one_cycle(1, lrf, E) */
        return ((1.0 - cos(x * PI_DOUBLE / E)) / 2.0) * (s->lrf - 1.0) + 1.0;
    return (1.0 - x / E) * (1.0 - s->lrf) + s->lrf;
}

/* np.interp(x, [0, x1], [y0, y1]) for x1 > 0: clamped, exact at the ends. */
static double interp(double x, double x1, double y0, double y1)
{
    if (x <= 0.0) return y0;
    if (x >= x1) return y1;
    double slope = (y1 - y0) / (x1 - 0.0);
    return slope * (x - 0.0) + y0;
}

double lr_schedule_initial_lr(const LrSchedule *s)
{
    return s->lr0 * lr_lambda(s, 0);
}

double lr_schedule_epoch_end_lr(const LrSchedule *s, int epoch)
{
    return s->lr0 * lr_lambda(s, epoch);
}

void lr_schedule_at(const LrSchedule *s, int epoch, int64_t ni, SchedulePoint *out)
{
    if (ni <= s->nw) {
        double x = (double)ni, x1 = (double)s->nw;
        double target = s->lr0 * lr_lambda(s, epoch);
        double acc = round_half_even(interp(x, x1, 1.0, (double)NOMINAL_BATCH_SIZE / (double)s->batch_size));
        out->accumulate = acc < 1.0 ? 1 : (int)acc;
        out->lr[PARAM_GROUP_BIAS] = interp(x, x1, s->warmup_bias_lr, target);
        out->lr[PARAM_GROUP_DECAY] = interp(x, x1, 0.0, target);
        out->lr[PARAM_GROUP_BN_WEIGHT] = interp(x, x1, 0.0, target);
        out->momentum = interp(x, x1, s->warmup_momentum, s->momentum);
        out->warmup = 1;
        return;
    }
    /* Warmup's last batch (ni = nw) lies in epoch nw / nb; there it left
     * lr0 * lf(that epoch); later epochs run at what scheduler.step() set at
     * the end of the previous one. */
    int warmup_end_epoch = (int)(s->nw / s->nb);
    double lr = s->lr0 * lr_lambda(s, epoch > warmup_end_epoch ? epoch - 1 : epoch);
    for (int g = 0; g < PARAM_GROUP_COUNT; g++) out->lr[g] = lr;
    out->momentum = s->momentum;
    out->accumulate = nominal_accumulate(s->batch_size);
    out->warmup = 0;
}
