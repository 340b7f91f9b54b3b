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

#endif
