/* BatchNorm2d, per channel and OpenMP over channels. Statistics and the backward
 * reductions are summed in double (two passes for the variance), as PyTorch's CPU
 * kernel does, so they are accurate even when |mean| >> std; the per-element
 * transforms run in float. Each channel is owned by one thread and summed in a
 * fixed order, so results do not depend on the thread count. */
#include "batchnorm.h"

#include <math.h>
#include <stddef.h>

#include "nn/parallel_for.h"

/* Below this many elements a parallel region costs more than it saves. */
#define BN_PARALLEL_MIN 32768

typedef struct {
    const BatchNorm *bn;
    int n, hw;
    size_t count, image;
    const float *x, *gamma, *beta, *running_mean_in, *running_var_in, *save_mean_in, *save_invstd_in, *dy;
    float *running_mean, *running_var, *y, *save_mean, *save_invstd, *dx, *dgamma, *dbeta;
} BnCtx;

/* One channel per item, summed in a fixed order: independent of the split. */
static void train_range(const void *p, long long lo, long long hi)
{
    const BnCtx *c = p;
    const int n = c->n, hw = c->hw;
    const size_t count = c->count, image = c->image;
    /* Unbiased running variance needs M/(M-1); with a single element the batch
     * variance is 0 and the factor is undefined, so the biased value is used. */
    const double unbias = count > 1 ? (double)count / (double)(count - 1) : 1.0;
    const double momentum = c->bn->momentum;
    for (long long ch = lo; ch < hi; ch++) {
        double sum = 0;
        for (int b = 0; b < n; b++) {
            const float *xc = c->x + (size_t)b * image + (size_t)ch * hw;
#pragma omp simd reduction(+ : sum)
            for (int i = 0; i < hw; i++) sum += xc[i];
        }
        const double mean = sum / (double)count;
        double sq = 0;
        for (int b = 0; b < n; b++) {
            const float *xc = c->x + (size_t)b * image + (size_t)ch * hw;
#pragma omp simd reduction(+ : sq)
            for (int i = 0; i < hw; i++) {
                double d = xc[i] - mean;
                sq += d * d;
            }
        }
        const double var = sq / (double)count; /* biased, used to normalise */
        const double invstd = 1.0 / sqrt(var + (double)c->bn->eps);
        c->save_mean[ch] = (float)mean;
        c->save_invstd[ch] = (float)invstd;
        if (c->running_mean)
            c->running_mean[ch] = (float)((1.0 - momentum) * c->running_mean[ch] + momentum * mean);
        if (c->running_var)
            c->running_var[ch] = (float)((1.0 - momentum) * c->running_var[ch] + momentum * var * unbias);

        /* The mean as a float pair: x − hi is exact for x near the mean (Sterbenz),
         * so a large |mean| costs no accuracy in x − μ. */
        const float mean_hi = (float)mean;
        const float mean_lo = (float)(mean - (double)mean_hi);
        const float scale = (float)((double)c->gamma[ch] * invstd);
        const float shift = c->beta[ch];
        for (int b = 0; b < n; b++) {
            const float *xc = c->x + (size_t)b * image + (size_t)ch * hw;
            float *yc = c->y + (size_t)b * image + (size_t)ch * hw;
            for (int i = 0; i < hw; i++) yc[i] = ((xc[i] - mean_hi) - mean_lo) * scale + shift;
        }
    }
}

void batchnorm_forward_train(const BatchNorm *bn, int n, int hw, const float *x, const float *gamma,
                             const float *beta, float *running_mean, float *running_var, float *y,
                             float *save_mean, float *save_invstd)
{
    const size_t count = (size_t)n * hw; /* M, elements per channel */
    if (count == 0) return;
    BnCtx c = {.bn = bn, .n = n, .hw = hw, .count = count, .image = (size_t)bn->c * hw, .x = x, .gamma = gamma,
               .beta = beta, .running_mean = running_mean, .running_var = running_var, .y = y,
               .save_mean = save_mean, .save_invstd = save_invstd};
    parallel_for(bn->c, (size_t)bn->c * count, BN_PARALLEL_MIN, train_range, &c);
}

static void eval_range(const void *p, long long lo, long long hi)
{
    const BnCtx *c = p;
    for (long long ch = lo; ch < hi; ch++) {
        const float mean_f = c->running_mean_in[ch];
        const float scale =
            (float)((double)c->gamma[ch] / sqrt((double)c->running_var_in[ch] + (double)c->bn->eps));
        const float shift = c->beta[ch];
        for (int b = 0; b < c->n; b++) {
            const float *xc = c->x + (size_t)b * c->image + (size_t)ch * c->hw;
            float *yc = c->y + (size_t)b * c->image + (size_t)ch * c->hw;
            for (int i = 0; i < c->hw; i++) yc[i] = (xc[i] - mean_f) * scale + shift;
        }
    }
}

void batchnorm_forward_eval(const BatchNorm *bn, int n, int hw, const float *x, const float *gamma,
                            const float *beta, const float *running_mean,
                            const float *running_var, float *y)
{
    const size_t count = (size_t)n * hw;
    if (count == 0) return;
    BnCtx c = {.bn = bn, .n = n, .hw = hw, .count = count, .image = (size_t)bn->c * hw, .x = x, .gamma = gamma,
               .beta = beta, .running_mean_in = running_mean, .running_var_in = running_var, .y = y};
    parallel_for(bn->c, (size_t)bn->c * count, BN_PARALLEL_MIN, eval_range, &c);
}

static void backward_range(const void *p, long long lo, long long hi)
{
    const BnCtx *c = p;
    const int n = c->n, hw = c->hw;
    const size_t count = c->count, image = c->image;
    for (long long ch = lo; ch < hi; ch++) {
        const float mean_f = c->save_mean_in[ch];
        const double invstd = c->save_invstd_in[ch];
        double sum_dy = 0, sum_dy_centered = 0; /* Σ dy and Σ dy·(x − μ) */
        for (int b = 0; b < n; b++) {
            const float *xc = c->x + (size_t)b * image + (size_t)ch * hw;
            const float *gc = c->dy + (size_t)b * image + (size_t)ch * hw;
#pragma omp simd reduction(+ : sum_dy, sum_dy_centered)
            for (int i = 0; i < hw; i++) {
                sum_dy += gc[i];
                sum_dy_centered += (double)gc[i] * ((double)xc[i] - (double)mean_f);
            }
        }
        const double sum_dy_xhat = sum_dy_centered * invstd; /* Σ dy·x̂ */
        if (c->dgamma) c->dgamma[ch] += (float)sum_dy_xhat;
        if (c->dbeta) c->dbeta[ch] += (float)sum_dy;
        if (!c->dx) continue;
        /* dx = γ·invstd·(dy − mean(dy) − x̂·mean(dy·x̂)), with x̂ = (x − μ)·invstd. */
        const float scale = (float)((double)c->gamma[ch] * invstd);
        const float mean_dy = (float)(sum_dy / (double)count);
        const float centered_coef = (float)(sum_dy_xhat / (double)count * invstd);
        for (int b = 0; b < n; b++) {
            const float *xc = c->x + (size_t)b * image + (size_t)ch * hw;
            const float *gc = c->dy + (size_t)b * image + (size_t)ch * hw;
            float *dc = c->dx + (size_t)b * image + (size_t)ch * hw;
            for (int i = 0; i < hw; i++)
                dc[i] += scale * (gc[i] - mean_dy - (xc[i] - mean_f) * centered_coef);
        }
    }
}

void batchnorm_backward(const BatchNorm *bn, int n, int hw, const float *x, const float *gamma,
                        const float *save_mean, const float *save_invstd, const float *dy,
                        float *dx, float *dgamma, float *dbeta)
{
    const size_t count = (size_t)n * hw;
    if (count == 0 || (!dx && !dgamma && !dbeta)) return;
    BnCtx c = {.bn = bn, .n = n, .hw = hw, .count = count, .image = (size_t)bn->c * hw, .x = x, .gamma = gamma,
               .save_mean_in = save_mean, .save_invstd_in = save_invstd, .dy = dy, .dx = dx, .dgamma = dgamma,
               .dbeta = dbeta};
    parallel_for(bn->c, (size_t)bn->c * count, BN_PARALLEL_MIN, backward_range, &c);
}
