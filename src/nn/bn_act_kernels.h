/* Per-plane kernels of the fused BatchNorm + activation (SiLU or identity)
 * that conv_bn_act.c runs on each (image, channel) run of a conv output. One
 * table per ISA (bn_act_generic.c, bn_act_avx2.c, bn_act_avx512.c compile the
 * same bodies, bn_act_impl.h, with their own flags); bn_act_kernels() picks the
 * best the CPU has (YV5_ISA caps it, as for the GEMM).
 *
 * The arithmetic is the unfused layers' (batchnorm.c, silu.c), operation for
 * operation, so the fused path gives the same values: the normalised value
 *     a = ((z - mean_hi) - mean_lo) * scale + shift
 * (mean split into a float pair; mean_lo = 0 in eval mode), y = a·σ(a), and in
 * the backward da = dy·σ(a)·(1 + a·(1 − σ(a))) with a recomputed from z (not
 * stored), written over dy by the pass that takes the BN sums, then
 * dz = dscale·(da − mean_da − (z − mean_f)·coef).
 * Sums are in double; a vector loop adds lanes in a fixed order, so a plane's
 * sums depend on the ISA but never on threads. */
#ifndef YV5_BN_ACT_KERNELS_H
#define YV5_BN_ACT_KERNELS_H

#include <stddef.h>

/* What one channel's transforms need (from the batch or running statistics). */
typedef struct {
    float mean_hi, mean_lo; /* mean = hi + lo (lo 0 in eval mode) */
    float scale, shift;     /* gamma * invstd, beta */
    /* Backward only. */
    float mean_f;           /* the saved float mean (x − mean_f in the gradient sums) */
    float dscale;           /* gamma * invstd, as the BN backward rounds it */
    float mean_da;          /* Σ da / M */
    float coef;             /* Σ da·x̂ / M · invstd */
} BnActChannel;

typedef struct {
    const char *name;
    /* mean and Σ (x − mean)² of x[0..n), two passes in double. */
    void (*mean_m2)(size_t n, const float *x, double *mean, double *m2);
    /* y[i] = act(a(x[i])); y may alias x. */
    void (*apply)(size_t n, const float *x, const BnActChannel *ch, int act, float *y);
    /* dy[i] becomes da[i] (computed as above; unchanged when !act), and
     * Σ da and Σ da·(x − mean_f) over the plane are returned. */
    void (*grad_sums)(size_t n, const float *x, float *dy, const BnActChannel *ch, int act, double *sum_da,
                      double *sum_da_xc);
    /* dz[i] = dscale·(da[i] − mean_da − (x[i] − mean_f)·coef); dz may alias da. */
    void (*grad_apply)(size_t n, const float *x, const float *da, const BnActChannel *ch, float *dz);
} BnActKernels;

extern const BnActKernels bn_act_kernels_generic;
extern const BnActKernels bn_act_kernels_avx2;
extern const BnActKernels bn_act_kernels_avx512;

/* The best table for this CPU (cached after the first call). */
const BnActKernels *bn_act_kernels(void);

#endif
