/* AVX-512 row kernels of conv_tile_kernels.h: permutes for the stride-2
 * gathers, masked adds into the even lanes for the stride-2 accumulations
 * (odd lanes are neither changed nor written). */
#include <immintrin.h>

#include "nn/conv_tile_kernels.h"

static inline __mmask16 first(int lanes)
{
    return lanes >= 16 ? (__mmask16)0xFFFF : lanes <= 0 ? (__mmask16)0 : (__mmask16)((1u << lanes) - 1);
}

static void gather2(float *dst, const float *src, int count)
{
    const __m512i evens = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
    for (int i = 0; i < count; i += 16) {
        const int left = count - i, span = 2 * left - 1; /* inputs this chunk reads */
        const float *s = src + 2 * i;
        const __m512 lo = _mm512_maskz_loadu_ps(first(span), s);
        const __m512 hi = _mm512_maskz_loadu_ps(first(span - 16), s + 16);
        _mm512_mask_storeu_ps(dst + i, first(left), _mm512_permutex2var_ps(lo, evens, hi));
    }
}

/* Even lanes j*2 for j < n (n <= 8). */
static inline __mmask16 even_lanes(int n)
{
    return (__mmask16)(0x5555u & ((n >= 8 ? 0xFFFFu : (1u << (2 * (n > 0 ? n : 0))) - 1)));
}

static void scatter_add2(float *dst, const float *src, int count)
{
    for (int i = 0; i < count; i += 16) {
        const int left = count - i;
        const __m512 v = _mm512_maskz_loadu_ps(first(left), src + i);
        float *d = dst + 2 * i;
        const __mmask16 mlo = even_lanes(left), mhi = even_lanes(left - 8);
        /* src[0..7] to the even lanes of the low half, src[8..15] of the high half. */
        const __m512 lo = _mm512_maskz_expand_ps(0x5555, v);
        const __m512 hi = _mm512_maskz_expand_ps(0x5555, _mm512_shuffle_f32x4(v, v, _MM_SHUFFLE(3, 2, 3, 2)));
        const __m512 dlo = _mm512_maskz_loadu_ps(mlo, d), dhi = _mm512_maskz_loadu_ps(mhi, d + 16);
        _mm512_mask_storeu_ps(d, mlo, _mm512_add_ps(dlo, lo));
        _mm512_mask_storeu_ps(d + 16, mhi, _mm512_add_ps(dhi, hi));
    }
}

static void add(float *dst, const float *src, int count)
{
    for (int i = 0; i < count; i += 16) {
        const __mmask16 m = first(count - i);
        _mm512_mask_storeu_ps(dst + i, m,
                              _mm512_add_ps(_mm512_maskz_loadu_ps(m, dst + i), _mm512_maskz_loadu_ps(m, src + i)));
    }
}

static void split2(float *even, float *odd, const float *src, int count)
{
    const __m512i evens = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
    const __m512i odds = _mm512_set_epi32(31, 29, 27, 25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1);
    for (int i = 0; 2 * i < count; i += 16) {
        const int left = count - 2 * i; /* inputs from here on */
        const __m512 lo = _mm512_maskz_loadu_ps(first(left), src + 2 * i);
        const __m512 hi = _mm512_maskz_loadu_ps(first(left - 16), src + 2 * i + 16);
        _mm512_mask_storeu_ps(even + i, first((left + 1) / 2), _mm512_permutex2var_ps(lo, evens, hi));
        _mm512_mask_storeu_ps(odd + i, first(left / 2), _mm512_permutex2var_ps(lo, odds, hi));
    }
}

const ConvTileKernels conv_tile_kernels_avx512 = {gather2, scatter_add2, add, split2};
