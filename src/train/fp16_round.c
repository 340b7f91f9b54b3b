/* float32 -> binary16 -> float32 rounding (fp16_round.h). */
#include "train/fp16_round.h"

#include <math.h>
#include <string.h>

#include "ckpt/safetensors.h"

uint16_t f32_to_f16_bits(float f)
{
    uint32_t x;
    memcpy(&x, &f, sizeof x);
    uint32_t sign = (x >> 16) & 0x8000u;
    uint32_t mag = x & 0x7FFFFFFFu;
    if (mag >= 0x7F800000u) /* infinity, or NaN keeping the top payload bits (quiet) */
        return (uint16_t)(sign | 0x7C00u | (mag > 0x7F800000u ? 0x200u | ((mag >> 13) & 0x3FFu) : 0u));
    if (mag >= 0x477FF000u) return (uint16_t)(sign | 0x7C00u); /* >= 65520 rounds past 65504 */
    if (mag < 0x38800000u) {
        /* Below 2^-14: a multiple of the subnormal step 2^-24. Scaling by 2^24
         * is exact, and nearbyint rounds half to even in the default mode. A
         * result of 1024 is the smallest normal, which the encoding gives. */
        float a;
        memcpy(&a, &mag, sizeof a);
        return (uint16_t)(sign | (uint32_t)nearbyintf(a * 16777216.0f));
    }
    uint32_t h = ((mag >> 23) - 127 + 15) << 10 | ((mag >> 13) & 0x3FFu);
    uint32_t rest = mag & 0x1FFFu;
    if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) h++; /* a carry moves into the exponent */
    return (uint16_t)(sign | h);
}

float f32_round_to_f16(float f)
{
    return st_f16_to_f32(f32_to_f16_bits(f));
}

void round_array_to_f16(float *x, size_t n)
{
    for (size_t i = 0; i < n; i++) x[i] = f32_round_to_f16(x[i]);
}
