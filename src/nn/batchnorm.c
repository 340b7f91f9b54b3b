/* BatchNorm2d, per channel and OpenMP over channels. Statistics and the backward
 * reductions are summed in double (two passes for the variance), as PyTorch's CPU
 * kernel does, so they are accurate even when |mean| >> std; the per-element
 * transforms run in float. Each channel is owned by one thread and summed in a
 * fixed order, so results do not depend on the thread count. */
#include "batchnorm.h"

#include <math.h>
#include <stddef.h>

/* Below this many elements a parallel region costs more than it saves. */
#define BN_PARALLEL_MIN 32768

void batchnorm_forward_train(const BatchNorm *bn, int n, int hw, const float *x, const float *gamma,
                             const float *beta, float *running_mean, float *running_var, float *y,
                             float *save_mean, float *save_invstd)
{
    const int c = bn->c;
    const size_t count = (size_t)n * hw; /* M, elements per channel */
    if (count == 0) return;
    const size_t image = (size_t)c * hw;
    /* Unbiased running variance needs M/(M-1); with a single element the batch
     * variance is 0 and the factor is undefined, so the biased value is used. */
    const double unbias = count > 1 ? (double)count / (double)(count - 1) : 1.0;
    const double momentum = bn->momentum;

#pragma omp parallel for schedule(static) if ((size_t)c * count >= BN_PARALLEL_MIN)
    for (int ch = 0; ch < c; ch++) {
        double sum = 0;
        for (int b = 0; b < n; b++) {
            const float *xc = x + (size_t)b * image + (size_t)ch * hw;
#pragma omp simd reduction(+ : sum)
            for (int i = 0; i < hw; i++) sum += xc[i];
        }
        const double mean = sum / (double)count;
        double sq = 0;
        for (int b = 0; b < n; b++) {
            const float *xc = x + (size_t)b * image + (size_t)ch * hw;
#pragma omp simd reduction(+ : sq)
            for (int i = 0; i < hw; i++) {
                double d = xc[i] - mean;
                sq += d * d;
            }
        }
        const double var = sq / (double)count; /* biased, used to normalise */
        const double invstd = 1.0 / sqrt(var + (double)bn->eps);
        save_mean[ch] = (float)mean;
        save_invstd[ch] = (float)invstd;
        if (running_mean)
            running_mean[ch] = (float)((1.0 - momentum) * running_mean[ch] + momentum * mean);
        if (running_var)
            running_var[ch] =
                (float)((1.0 - momentum) * running_var[ch] + momentum * var * unbias);

        /* The mean as a float pair: x − hi is exact for x near the mean (Sterbenz),
         * so a large |mean| costs no accuracy in x − μ. */
        const float mean_hi = (float)mean;
        const float mean_lo = (float)(mean - (double)mean_hi);
        const float scale = (float)((double)gamma[ch] * invstd);
        const float shift = beta[ch];
        for (int b = 0; b < n; b++) {
            const float *xc = x + (size_t)b * image + (size_t)ch * hw;
            float *yc = y + (size_t)b * image + (size_t)ch * hw;
            for (int i = 0; i < hw; i++) yc[i] = ((xc[i] - mean_hi) - mean_lo) * scale + shift;
        }
    }
}

void batchnorm_forward_eval(const BatchNorm *bn, int n, int hw, const float *x, const float *gamma,
                            const float *beta, const float *running_mean,
                            const float *running_var, float *y)
{
    const int c = bn->c;
    const size_t count = (size_t)n * hw;
    if (count == 0) return;
    const size_t image = (size_t)c * hw;
#pragma omp parallel for schedule(static) if ((size_t)c * count >= BN_PARALLEL_MIN)
    for (int ch = 0; ch < c; ch++) {
        const float mean_f = running_mean[ch];
        const float scale =
            (float)((double)gamma[ch] / sqrt((double)running_var[ch] + (double)bn->eps));
        const float shift = beta[ch];
        for (int b = 0; b < n; b++) {
            const float *xc = x + (size_t)b * image + (size_t)ch * hw;
            float *yc = y + (size_t)b * image + (size_t)ch * hw;
            for (int i = 0; i < hw; i++) yc[i] = (xc[i] - mean_f) * scale + shift;
        }
    }
}

void batchnorm_backward(const BatchNorm *bn, int n, int hw, const float *x, const float *gamma,
                        const float *save_mean, const float *save_invstd, const float *dy,
                        float *dx, float *dgamma, float *dbeta)
{
    const int c = bn->c;
    const size_t count = (size_t)n * hw;
    if (count == 0 || (!dx && !dgamma && !dbeta)) return;
    const size_t image = (size_t)c * hw;
#pragma omp parallel for schedule(static) if ((size_t)c * count >= BN_PARALLEL_MIN)
    for (int ch = 0; ch < c; ch++) {
        const float mean_f = save_mean[ch];
        const double invstd = save_invstd[ch];
        double sum_dy = 0, sum_dy_centered = 0; /* Σ dy and Σ dy·(x − μ) */
        for (int b = 0; b < n; b++) {
            const float *xc = x + (size_t)b * image + (size_t)ch * hw;
            const float *gc = dy + (size_t)b * image + (size_t)ch * hw;
#pragma omp simd reduction(+ : sum_dy, sum_dy_centered)
            for (int i = 0; i < hw; i++) {
                sum_dy += gc[i];
                sum_dy_centered += (double)gc[i] * ((double)xc[i] - (double)mean_f);
            }
        }
        const double sum_dy_xhat = sum_dy_centered * invstd; /* Σ dy·x̂ */
        if (dgamma) dgamma[ch] += (float)sum_dy_xhat;
        if (dbeta) dbeta[ch] += (float)sum_dy;
        if (!dx) continue;
        /* dx = γ·invstd·(dy − mean(dy) − x̂·mean(dy·x̂)), with x̂ = (x − μ)·invstd. */
        const float scale = (float)((double)gamma[ch] * invstd);
        const float mean_dy = (float)(sum_dy / (double)count);
        const float centered_coef = (float)(sum_dy_xhat / (double)count * invstd);
        for (int b = 0; b < n; b++) {
            const float *xc = x + (size_t)b * image + (size_t)ch * hw;
            const float *gc = dy + (size_t)b * image + (size_t)ch * hw;
            float *dc = dx + (size_t)b * image + (size_t)ch * hw;
            for (int i = 0; i < hw; i++)
                dc[i] += scale * (gc[i] - mean_dy - (xc[i] - mean_f) * centered_coef);
        }
    }
}
