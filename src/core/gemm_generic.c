/* Portable C micro-kernel (baseline x86-64, or any target): a 4 x 8 register tile
 * written so that the compiler keeps the 32 accumulators in SSE registers. */
#include "gemm_internal.h"

#define MR 4
#define NR 8

/* Rows and columns are compile-time constants after inlining, so the loops
 * unroll and the accumulators live in registers. The multiply and the add stay
 * separate (no fma(): a libm call without hardware FMA). */
static inline __attribute__((always_inline)) void tile(int kc, const float *restrict a,
                                                       const float *restrict b, ptrdiff_t b_step,
                                                       float *restrict c, ptrdiff_t ldc, float alpha,
                                                       float beta, int mr, int nr)
{
    float acc[MR][NR] = {{0}};
    for (int p = 0; p < kc; p++) {
        const float *ap = a + p * MR, *bp = b + p * b_step;
        for (int i = 0; i < MR; i++)
            for (int j = 0; j < NR; j++) acc[i][j] += ap[i] * bp[j];
    }
    for (int i = 0; i < mr; i++) {
        float *ci = c + i * ldc;
        if (beta == 0.0f)
            for (int j = 0; j < nr; j++) ci[j] = alpha * acc[i][j];
        else
            for (int j = 0; j < nr; j++) ci[j] = alpha * acc[i][j] + beta * ci[j];
    }
}

void gemm_pack_generic(int k_contiguous, const float *src, ptrdiff_t ld, int extent, int kc, int width,
                       float *dst)
{
    for (int x0 = 0; x0 < extent; x0 += width) {
        int w = extent - x0 < width ? extent - x0 : width;
        float *d = dst + (size_t)x0 * kc;
        if (k_contiguous) { /* read each line along k, scatter with stride `width` */
            for (int x = 0; x < w; x++) {
                const float *line = src + (ptrdiff_t)(x0 + x) * ld;
                for (int p = 0; p < kc; p++) d[(size_t)p * width + x] = line[p];
            }
            for (int x = w; x < width; x++)
                for (int p = 0; p < kc; p++) d[(size_t)p * width + x] = 0.0f;
        } else { /* each k step is a contiguous run of w elements */
            for (int p = 0; p < kc; p++) {
                const float *run = src + (ptrdiff_t)p * ld + x0;
                float *dp = d + (size_t)p * width;
                for (int x = 0; x < w; x++) dp[x] = run[x];
                for (int x = w; x < width; x++) dp[x] = 0.0f;
            }
        }
    }
}

static void kernel_4x8(int kc, const float *a, const float *b, ptrdiff_t b_step, float *c, ptrdiff_t ldc,
                       float alpha, float beta, int mr, int nr)
{
    if (mr == MR && nr == NR)
        tile(kc, a, b, b_step, c, ldc, alpha, beta, MR, NR);
    else
        tile(kc, a, b, b_step, c, ldc, alpha, beta, mr, nr);
}

const GemmKernel gemm_kernel_generic = {
    .name = "generic 4x8",
    .isa = ISA_GENERIC,
    .mr = MR,
    .nr = NR,
    .kc = 256,
    .mc = 128,
    .nc = 2048,
    .kernel = kernel_4x8,
    .pack = gemm_pack_generic,
};
