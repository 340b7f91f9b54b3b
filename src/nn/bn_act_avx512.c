/* BnActKernels for AVX-512, written with intrinsics: the same operations in the
 * same order as bn_act_impl.h (so every element gets the same bits as the
 * portable kernels and silu.c), with two changes the compiler would not make:
 * the 2^n scaling of exp is one vscalefps (p * 2^n rounded once, as the two
 * exact power-of-two products of the portable code round once), and the
 * double sums keep several accumulators. Tails use masked loads and stores.
 * The passes without a sigmoid are the portable ones, compiled for AVX-512. */
#include <immintrin.h>

#define BN_ACT_NAME(x) bn_act_avx512_portable_##x
#include "nn/bn_act_impl.h"

typedef struct {
    __m512 mh, ml, scale, shift;
} Affine;

static inline Affine affine_of(const BnActChannel *ch)
{
    Affine f = {_mm512_set1_ps(ch->mean_hi), _mm512_set1_ps(ch->mean_lo), _mm512_set1_ps(ch->scale),
                _mm512_set1_ps(ch->shift)};
    return f;
}

/* a = ((x − mean_hi) − mean_lo)·scale + shift, without contraction. */
static inline __m512 normalise(__m512 x, const Affine *f)
{
    return _mm512_add_ps(_mm512_mul_ps(_mm512_sub_ps(_mm512_sub_ps(x, f->mh), f->ml), f->scale), f->shift);
}

/* silu_sigmoid (silu_math.h), lane by lane. */
static inline __m512 sigmoid(__m512 a)
{
    const __m512i bits = _mm512_castps_si512(a);
    const __m512i mag = _mm512_min_epu32(_mm512_and_si512(bits, _mm512_set1_epi32(0x7fffffff)),
                                         _mm512_set1_epi32(0x42d00000));
    const __m512 z = _mm512_castsi512_ps(_mm512_or_si512(mag, _mm512_set1_epi32((int)0x80000000u))); /* -|a| */
    const __m512 shifter = _mm512_set1_ps(12582912.0f);
    const __m512 nf = _mm512_sub_ps(_mm512_add_ps(_mm512_mul_ps(z, _mm512_set1_ps(1.44269504088896341f)), shifter),
                                    shifter);
    __m512 r = _mm512_sub_ps(z, _mm512_mul_ps(nf, _mm512_set1_ps(0.693359375f)));
    r = _mm512_sub_ps(r, _mm512_mul_ps(nf, _mm512_set1_ps(-2.12194440e-4f)));
    __m512 p = _mm512_set1_ps(1.9875691500e-4f);
    p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(5.0000001201e-1f));
    p = _mm512_add_ps(_mm512_add_ps(_mm512_mul_ps(_mm512_mul_ps(p, r), r), r), _mm512_set1_ps(1.0f));
    const __m512 t = _mm512_scalef_ps(p, nf);
    const __m512 one = _mm512_set1_ps(1.0f);
    const __m512 inv = _mm512_div_ps(one, _mm512_add_ps(one, t));
    /* Negative a: σ = t/(1+t); otherwise 1/(1+t). */
    const __mmask16 negative = _mm512_movepi32_mask(bits);
    return _mm512_mul_ps(_mm512_mask_blend_ps(negative, one, t), inv);
}

/* How far ahead the streaming passes prefetch (2 KiB): the planes come from
 * memory, and the hardware prefetcher alone leaves the loads waiting
 * (measured: the backward sums pass took 40% less time with it). Prefetches
 * past the end of a plane are harmless (they never fault). */
#define PREFETCH_FLOATS 512

static inline __mmask16 tail_mask(size_t left) { return left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1); }

static void bn_act_avx512_apply(size_t n, const float *x, const BnActChannel *ch, int act, float *y)
{
    const Affine f = affine_of(ch);
    for (size_t i = 0; i < n; i += 16) {
        const __mmask16 m = tail_mask(n - i);
        _mm_prefetch((const char *)(x + i + PREFETCH_FLOATS), _MM_HINT_T0);
        const __m512 a = normalise(_mm512_maskz_loadu_ps(m, x + i), &f);
        _mm512_mask_storeu_ps(y + i, m, act ? _mm512_mul_ps(a, sigmoid(a)) : a);
    }
}

/* dy·σ(a)·(1 + a·(1 − σ(a))), as silu_backward. */
static inline __m512 silu_grad(__m512 dy, __m512 a)
{
    const __m512 s = sigmoid(a), one = _mm512_set1_ps(1.0f);
    return _mm512_mul_ps(_mm512_mul_ps(dy, s), _mm512_add_ps(one, _mm512_mul_ps(a, _mm512_sub_ps(one, s))));
}

static void bn_act_avx512_grad_sums(size_t n, const float *x, float *dy, const BnActChannel *ch, int act,
                                    double *sum_da, double *sum_da_xc)
{
    const Affine f = affine_of(ch);
    const __m512d mean_f = _mm512_set1_pd((double)ch->mean_f);
    __m512d s0 = _mm512_setzero_pd(), s1 = _mm512_setzero_pd(), c0 = _mm512_setzero_pd(), c1 = _mm512_setzero_pd();
    for (size_t i = 0; i < n; i += 16) {
        const __mmask16 m = tail_mask(n - i);
        _mm_prefetch((const char *)(x + i + PREFETCH_FLOATS), _MM_HINT_T0);
        _mm_prefetch((const char *)(dy + i + PREFETCH_FLOATS), _MM_HINT_T0);
        const __m512 xv = _mm512_maskz_loadu_ps(m, x + i), g = _mm512_maskz_loadu_ps(m, dy + i);
        __m512 da = g; /* masked-off lanes: dy 0 gives da 0 */
        if (act) {
            da = silu_grad(g, normalise(xv, &f));
            _mm512_mask_storeu_ps(dy + i, m, da);
        }
        const __m512d da_lo = _mm512_cvtps_pd(_mm512_castps512_ps256(da));
        const __m512d da_hi = _mm512_cvtps_pd(_mm512_extractf32x8_ps(da, 1));
        const __m512d x_lo = _mm512_sub_pd(_mm512_cvtps_pd(_mm512_castps512_ps256(xv)), mean_f);
        const __m512d x_hi = _mm512_sub_pd(_mm512_cvtps_pd(_mm512_extractf32x8_ps(xv, 1)), mean_f);
        s0 = _mm512_add_pd(s0, da_lo);
        s1 = _mm512_add_pd(s1, da_hi);
        c0 = _mm512_add_pd(c0, _mm512_mul_pd(da_lo, x_lo));
        c1 = _mm512_add_pd(c1, _mm512_mul_pd(da_hi, x_hi));
    }
    *sum_da = _mm512_reduce_add_pd(_mm512_add_pd(s0, s1));
    *sum_da_xc = _mm512_reduce_add_pd(_mm512_add_pd(c0, c1));
}

const BnActKernels bn_act_kernels_avx512 = {"avx512", bn_act_avx512_portable_mean_m2, bn_act_avx512_apply,
                                            bn_act_avx512_grad_sums, bn_act_avx512_portable_grad_apply};
