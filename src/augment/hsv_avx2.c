/* augment_hsv rows compiled with -mavx2 -mfma: the same source as the
 * baseline build (hsv_internal.h), with fmaf a single instruction instead of
 * a libm call. (An explicit 8-wide AVX2 version with gathers was measured
 * slower on AMD EPYC, where gathers are slow, so the scalar code stays.) */
#include "augment/hsv_internal.h"

void aug_hsv_rows_avx2(const HsvPlan *pl, uint8_t *pixels, int width, int height, int simd_end);

void aug_hsv_rows_avx2(const HsvPlan *pl, uint8_t *pixels, int width, int height, int simd_end)
{
#pragma omp parallel for schedule(static) if ((size_t)width * (size_t)height > (1 << 15))
    for (int y = 0; y < height; y++) hsv_row_simd(pl, pixels + (size_t)y * width * 3, simd_end);
}
