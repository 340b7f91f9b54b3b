/* The sigmoid SiLU uses, as inline code shared by silu.c and the fused
 * BatchNorm + SiLU kernels (bn_act_impl.h), so every path computes the same
 * bits for the same input.
 *
 * σ is evaluated from t = exp(-|x|) in (0, 1], which never overflows:
 * σ(x) = 1/(1+t) for x >= 0 and t/(1+t) for x < 0. exp is a polynomial
 * (Cephes-style range reduction, ~1 ulp) and every choice is made with integer
 * bit masks rather than float comparisons: under the default -ftrapping-math
 * GCC will not if-convert float compares, and libm's expf is not vectorisable,
 * so this is what lets the loops vectorise (at baseline x86-64 and wider). */
#ifndef YV5_SILU_MATH_H
#define YV5_SILU_MATH_H

#include <stdint.h>
#include <string.h>

static inline float silu_bits_to_float(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static inline uint32_t silu_float_to_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

/* exp(-a) for a in [0, 104]. Results below FLT_MIN go through the subnormals. */
static inline float silu_exp_neg(float a)
{
    const float z = -a;
    /* n = round(z / ln 2): adding and removing 1.5*2^23 rounds to the nearest integer. */
    const float shifter = 12582912.0f;
    const float nf = (z * 1.44269504088896341f + shifter) - shifter;
    /* r = z - n ln2 with ln2 split in two, so n*ln2_hi is exact; |r| <= ln2/2. */
    float r = z - nf * 0.693359375f;
    r = r - nf * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    /* Scale by 2^n, n in [-150, 0], as 2^half * 2^(n-half): both factors are
     * normal floats and the final product rounds into the subnormals once. */
    const int32_t n = (int32_t)nf;
    const int32_t half = n / 2;
    const float scale_a = silu_bits_to_float((uint32_t)(half + 127) << 23);
    const float scale_b = silu_bits_to_float((uint32_t)(n - half + 127) << 23);
    return p * scale_a * scale_b;
}

static inline float silu_sigmoid(float x)
{
    const uint32_t bits = silu_float_to_bits(x);
    /* |x| clamped to 104 in the integer domain (exp(-104) is below the smallest
     * subnormal); inf and NaN have the largest magnitudes and clamp too. A NaN x
     * thus gets a finite σ, and x·σ or the backward's x-term carries the NaN. */
    uint32_t mag = bits & 0x7fffffffu;
    const uint32_t mag_limit = 0x42d00000u; /* 104.0f */
    mag = mag < mag_limit ? mag : mag_limit;
    const float t = silu_exp_neg(silu_bits_to_float(mag));
    const float inv = 1.0f / (1.0f + t);
    /* Negative x: σ = t/(1+t), so multiply by t; otherwise by 1. */
    const uint32_t negative = 0u - (bits >> 31);
    const float factor = silu_bits_to_float((silu_float_to_bits(t) & negative) | (0x3f800000u & ~negative));
    return factor * inv;
}

#endif
