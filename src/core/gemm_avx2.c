/* AVX2 + FMA micro-kernel: a 6 x 16 tile (12 ymm accumulators, 2 ymm of B, one
 * broadcast of A per row and k step). Edge tiles run a copy specialised for the
 * number of rows and 8-column vectors they have, with masked C access on the last
 * vector, so nothing outside the mr x nr tile of C is touched. */
#include <immintrin.h>

#include "gemm_internal.h"

#define MR 6
#define NV 2 /* vectors of 8 floats per row of the tile */
#define NR (NV * 8)

static inline __m256i column_mask(int cols)
{
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(cols), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/* rows and vecs are compile-time constants after inlining into the cases below. */
static inline __attribute__((always_inline)) void tile(const int rows, const int vecs, int kc,
                                                       const float *restrict a, const float *restrict b,
                                                       ptrdiff_t b_step, float *restrict c, ptrdiff_t ldc,
                                                       float alpha, float beta, int last_cols)
{
    __m256 acc[MR][NV];
#pragma GCC unroll 16
    for (int i = 0; i < rows; i++)
#pragma GCC unroll 16
        for (int j = 0; j < vecs; j++) acc[i][j] = _mm256_setzero_ps();
            /* Not unrolled: with only 16 ymm registers, unrolling lets GCC load the next
             * step's B early and spill an accumulator (half speed, measured). */
#pragma GCC unroll 1
    for (int p = 0; p < kc; p++) {
        __m256 bv[NV];
#pragma GCC unroll 16
        for (int j = 0; j < vecs; j++) bv[j] = _mm256_loadu_ps(b + p * b_step + j * 8);
#pragma GCC unroll 16
        for (int i = 0; i < rows; i++) {
            __m256 av = _mm256_broadcast_ss(a + p * MR + i);
#pragma GCC unroll 16
            for (int j = 0; j < vecs; j++) acc[i][j] = _mm256_fmadd_ps(av, bv[j], acc[i][j]);
        }
    }
    /* Masked access on every vector (all lanes but on the last one): branch-free,
     * which keeps the compiler from spilling the accumulators; this runs once per
     * kc steps, so vmaskmov's cost does not matter. */
    const __m256 alpha_v = _mm256_set1_ps(alpha), beta_v = _mm256_set1_ps(beta);
    const __m256i last_mask = column_mask(last_cols), all = _mm256_set1_epi32(-1);
#pragma GCC unroll 16
    for (int i = 0; i < rows; i++) {
        float *ci = c + i * ldc;
#pragma GCC unroll 16
        for (int j = 0; j < vecs; j++) {
            __m256i mask = j == vecs - 1 ? last_mask : all;
            __m256 r = _mm256_mul_ps(acc[i][j], alpha_v);
            if (beta != 0.0f)
                r = _mm256_fmadd_ps(acc[i][j], alpha_v,
                                    _mm256_mul_ps(_mm256_maskload_ps(ci + j * 8, mask), beta_v));
            _mm256_maskstore_ps(ci + j * 8, mask, r);
        }
    }
}

static void kernel_6x16(int kc, const float *a, const float *b, ptrdiff_t b_step, float *c, ptrdiff_t ldc,
                        float alpha, float beta, int mr, int nr)
{
    int vecs = (nr + 7) / 8, last_cols = nr - (vecs - 1) * 8;
#define CASE(r, v)                                                    \
    case (r)*4 + (v):                                                 \
        tile(r, v, kc, a, b, b_step, c, ldc, alpha, beta, last_cols); \
        break;
#define ROWS(v) CASE(1, v) CASE(2, v) CASE(3, v) CASE(4, v) CASE(5, v) CASE(6, v)
    switch (mr * 4 + vecs) {
        ROWS(1)
        ROWS(2)
    default: break;
    }
#undef ROWS
#undef CASE
}

const GemmKernel gemm_kernel_avx2 = {
    .name = "avx2 6x16",
    .isa = ISA_AVX2,
    .mr = MR,
    .nr = NR,
    .kc = 256,
    .mc = 144,
    .nc = 2048,
    .kernel = kernel_6x16,
    .pack = gemm_pack_generic,
};
