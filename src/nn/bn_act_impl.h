/* Bodies of the BnActKernels (bn_act_kernels.h). Included once by each ISA's
 * file, which defines BN_ACT_NAME(x) to give the functions distinct names; the
 * compiler vectorises the loops for that file's instruction set. Only plain
 * float/double arithmetic (no FMA contraction under -std=c11), so every ISA
 * computes the same elementwise values; only the lane order of the sums differs. */
#include "nn/bn_act_kernels.h"
#include "nn/silu_math.h"

static inline void BN_ACT_NAME(mean_m2)(size_t n, const float *x, double *mean, double *m2)
{
    double sum = 0;
#pragma omp simd reduction(+ : sum)
    for (size_t i = 0; i < n; i++) sum += x[i];
    const double mu = n ? sum / (double)n : 0.0;
    double sq = 0;
#pragma omp simd reduction(+ : sq)
    for (size_t i = 0; i < n; i++) {
        const double d = x[i] - mu;
        sq += d * d;
    }
    *mean = mu;
    *m2 = sq;
}

static inline void BN_ACT_NAME(apply)(size_t n, const float *x, const BnActChannel *ch, int act, float *y)
{
    const float mh = ch->mean_hi, ml = ch->mean_lo, scale = ch->scale, shift = ch->shift;
    if (act) {
#pragma omp simd
        for (size_t i = 0; i < n; i++) {
            const float a = ((x[i] - mh) - ml) * scale + shift;
            y[i] = a * silu_sigmoid(a);
        }
    } else {
#pragma omp simd
        for (size_t i = 0; i < n; i++) y[i] = ((x[i] - mh) - ml) * scale + shift;
    }
}

static inline void BN_ACT_NAME(grad_sums)(size_t n, const float *x, float *dy, const BnActChannel *ch, int act,
                                          double *sum_da, double *sum_da_xc)
{
    const float mh = ch->mean_hi, ml = ch->mean_lo, scale = ch->scale, shift = ch->shift;
    const double mean_f = ch->mean_f;
    double s = 0, sc = 0;
    if (act) {
#pragma omp simd reduction(+ : s, sc)
        for (size_t i = 0; i < n; i++) {
            const float a = ((x[i] - mh) - ml) * scale + shift;
            const float sg = silu_sigmoid(a);
            const float da = dy[i] * sg * (1.0f + a * (1.0f - sg));
            dy[i] = da;
            s += da;
            sc += (double)da * ((double)x[i] - mean_f);
        }
    } else {
#pragma omp simd reduction(+ : s, sc)
        for (size_t i = 0; i < n; i++) {
            s += dy[i];
            sc += (double)dy[i] * ((double)x[i] - mean_f);
        }
    }
    *sum_da = s;
    *sum_da_xc = sc;
}

static inline void BN_ACT_NAME(grad_apply)(size_t n, const float *x, const float *da, const BnActChannel *ch,
                                           float *dz)
{
    const float mean_f = ch->mean_f, dscale = ch->dscale, mean_da = ch->mean_da, coef = ch->coef;
#pragma omp simd
    for (size_t i = 0; i < n; i++) dz[i] = dscale * (da[i] - mean_da - (x[i] - mean_f) * coef);
}

#define BN_ACT_TABLE(table_name, label)                                                          \
    const BnActKernels table_name = {label, BN_ACT_NAME(mean_m2), BN_ACT_NAME(apply),            \
                                     BN_ACT_NAME(grad_sums), BN_ACT_NAME(grad_apply)}
