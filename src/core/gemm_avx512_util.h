/* AVX-512 helpers shared by the fp32 and bf16 GEMM kernels (gemm_avx512.c,
 * gemm_avx512bf16.c). Include only from files compiled with the AVX-512 flags. */
#ifndef YV5_GEMM_AVX512_UTIL_H
#define YV5_GEMM_AVX512_UTIL_H

#include <immintrin.h>

/* In-register transpose of a 16 x 16 block: r[i] lane j becomes r[j] lane i. */
static inline __attribute__((always_inline)) void transpose16(__m512 r[16])
{
    __m512 t[16];
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 16; i += 4) {
        r[i] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t[i]), _mm512_castps_pd(t[i + 2])));
        r[i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t[i]), _mm512_castps_pd(t[i + 2])));
        r[i + 2] =
            _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t[i + 1]), _mm512_castps_pd(t[i + 3])));
        r[i + 3] =
            _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t[i + 1]), _mm512_castps_pd(t[i + 3])));
    }
    /* Rows 0-3 now hold, per 128-bit lane L, elements (4q + 0..3) of rows 4L..4L+3
     * of the original block group 0; combine 128-bit lanes across groups. */
    for (int i = 0; i < 16; i += 8)
        for (int j = 0; j < 4; j++) {
            t[i + j] = _mm512_shuffle_f32x4(r[i + j], r[i + j + 4], 0x88);
            t[i + j + 4] = _mm512_shuffle_f32x4(r[i + j], r[i + j + 4], 0xdd);
        }
    for (int j = 0; j < 8; j++) {
        r[j] = _mm512_shuffle_f32x4(t[j], t[j + 8], 0x88);
        r[j + 8] = _mm512_shuffle_f32x4(t[j], t[j + 8], 0xdd);
    }
}

/* One row of a register tile to C: ci[0 .. 16 * vecs) (the last vector under
 * last_mask) = alpha * acc + beta * ci, where beta == 0 means ci is not read.
 * vecs is a compile-time constant after inlining. */
static inline __attribute__((always_inline)) void store_row(const int vecs, const __m512 *acc, float *ci,
                                                            float alpha, float beta, __mmask16 last_mask)
{
    const __m512 alpha_v = _mm512_set1_ps(alpha), beta_v = _mm512_set1_ps(beta);
#pragma GCC unroll 16
    for (int j = 0; j < vecs; j++) {
        __mmask16 mask = j == vecs - 1 ? last_mask : (__mmask16)0xFFFF;
        __m512 r;
        if (beta == 0.0f) {
            r = _mm512_mul_ps(acc[j], alpha_v);
        } else {
            __m512 old = _mm512_maskz_loadu_ps(mask, ci + j * 16);
            r = _mm512_fmadd_ps(acc[j], alpha_v, _mm512_mul_ps(old, beta_v));
        }
        _mm512_mask_storeu_ps(ci + j * 16, mask, r);
    }
}

static inline __mmask16 first_lanes(int count)
{
    return count >= 16 ? (__mmask16)0xFFFF : count <= 0 ? (__mmask16)0 : (__mmask16)((1u << count) - 1u);
}

/* Micro-kernel dispatch (used by gemm_avx512.c and gemm_avx512bf16.c). */
#define CASE(r, v)                                                         \
    case (r)*8 + (v):                                                      \
        tile(r, v, MR_, kc, a, b, b_step, c, ldc, alpha, beta, last_mask); \
        break;
#define ROWS_1(v) CASE(1, v)
#define ROWS_2(v) ROWS_1(v) CASE(2, v)
#define ROWS_3(v) ROWS_2(v) CASE(3, v)
#define ROWS_4(v) ROWS_3(v) CASE(4, v)
#define ROWS_5(v) ROWS_4(v) CASE(5, v)
#define ROWS_6(v) ROWS_5(v) CASE(6, v)
#define ROWS_7(v) ROWS_6(v) CASE(7, v)
#define ROWS_8(v) ROWS_7(v) CASE(8, v)
#define ROWS_9(v) ROWS_8(v) CASE(9, v)
#define ROWS_10(v) ROWS_9(v) CASE(10, v)
#define ROWS_11(v) ROWS_10(v) CASE(11, v)
#define ROWS_12(v) ROWS_11(v) CASE(12, v)
#define ROWS_13(v) ROWS_12(v) CASE(13, v)
#define ROWS_14(v) ROWS_13(v) CASE(14, v)
#define VECS_1(R) R(1)
#define VECS_2(R) VECS_1(R) R(2)
#define VECS_3(R) VECS_2(R) R(3)
#define VECS_4(R) VECS_3(R) R(4)

/* Defines a GemmMicroKernel `name` that dispatches an mr x nr tile (mr <= the
 * rows of ROWS_LIST, nr <= 16 x the vectors of VECS_LIST) to its specialisation
 * tile(rows, vecs, MR, ...), which the including file defines: each edge tile
 * gets its own copy with constant loop bounds. */
#define DEFINE_KERNEL(name, ROWS_LIST, VECS_LIST, MR_VALUE)                                             \
    static void name(int kc, const float *a, const float *b, ptrdiff_t b_step, float *c, ptrdiff_t ldc, \
                     float alpha, float beta, int mr, int nr)                                           \
    {                                                                                                   \
        enum { MR_ = MR_VALUE };                                                                        \
        int vecs = (nr + 15) / 16, last_cols = nr - (vecs - 1) * 16;                                    \
        __mmask16 last_mask = (__mmask16)((1u << last_cols) - 1u);                                      \
        switch (mr * 8 + vecs) {                                                                        \
            VECS_LIST(ROWS_LIST)                                                                        \
        default: break;                                                                                 \
        }                                                                                               \
    }

#endif
