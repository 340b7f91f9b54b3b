/* bf16 GEMM kernels (AVX512_BF16): operands rounded to bfloat16 while they are
 * packed, products summed in fp32 by VDPBF16PS, which multiplies two pairs of
 * bf16 and adds both products to an fp32 lane: twice the multiply-adds of an
 * fp32 FMA per instruction.
 *
 * Packed layout (gemm_internal.h, with pairs_k): a slot is 32 bits holding the
 * bf16 of two consecutive k steps, the even step in the low half. A micro-panel
 * of kc steps has (kc + 1) / 2 slot rows of `width` slots; an odd kc gets a zero
 * partner in its last row. Rounding is VCVTNE2PS2BF16's: to nearest even,
 * subnormal inputs read as zero (see gemm_round_bf16 in gemm.h). */
#include <stdint.h>

#include "gemm_avx512_util.h"
#include "gemm_internal.h"

/* Two vectors of 16 floats -> 16 slots, slot j = (lo[j], hi[j]). */
static inline __attribute__((always_inline)) __m512 pair_rows(__m512 lo, __m512 hi)
{
    /* Words 0..15 are lo's bf16, 16..31 hi's; interleave them. */
    const __m512i interleave = _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8,
                                                23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
    __m512i both = (__m512i)_mm512_cvtne2ps_pbh(hi, lo);
    return _mm512_castsi512_ps(_mm512_permutexvar_epi16(interleave, both));
}

/* 32 consecutive k steps of one row (masked to `steps`) -> 16 slots in k order. */
static inline __attribute__((always_inline)) __m512 pair_run(const float *src, int steps)
{
    __m512 lo = _mm512_maskz_loadu_ps(first_lanes(steps), src);
    __m512 hi = _mm512_maskz_loadu_ps(first_lanes(steps - 16), src + 16);
    return _mm512_castsi512_ps((__m512i)_mm512_cvtne2ps_pbh(hi, lo));
}

/* See GemmPack; dst is in slots. k-contiguous sources are converted 32 steps
 * of 16 lines at a time and transposed as 16 x 16 slots; the others pair two
 * k rows of 16 elements at a time. Loads are masked to the block. */
static void pack_bf16(int k_contiguous, const float *src, ptrdiff_t ld, int extent, int kc, int width, float *dst)
{
    const int slots = (kc + 1) / 2;
    for (int x0 = 0; x0 < extent; x0 += width) {
        const int w = extent - x0 < width ? extent - x0 : width;
        float *d = dst + (size_t)x0 * slots;
        for (int g = 0; g < width; g += 16) {
            const int lines = w - g < 16 ? (w - g > 0 ? w - g : 0) : 16;
            const __mmask16 store_mask = first_lanes(width - g);
            if (!k_contiguous) {
                const __mmask16 load_mask = first_lanes(lines);
                const float *col = src + x0 + g;
                for (int q = 0; q < slots; q++) {
                    const float *row = col + (ptrdiff_t)(2 * q) * ld;
                    /* The next panel's runs (as gemm_avx512.c's copy_runs): B is
                     * packed a panel at a time, its rows pages apart. */
                    if (width >= 32) {
                        _mm_prefetch((const char *)(row + width), _MM_HINT_T0);
                        _mm_prefetch((const char *)(row + ld + width), _MM_HINT_T0);
                    }
                    __m512 lo = _mm512_maskz_loadu_ps(load_mask, row);
                    __m512 hi = 2 * q + 1 < kc ? _mm512_maskz_loadu_ps(load_mask, row + ld) : _mm512_setzero_ps();
                    _mm512_mask_storeu_ps(d + (size_t)q * width + g, store_mask, pair_rows(lo, hi));
                }
                continue;
            }
            for (int p0 = 0; p0 < kc; p0 += 32) {
                const int steps = kc - p0 < 32 ? kc - p0 : 32;
                __m512 r[16];
                for (int l = 0; l < 16; l++)
                    r[l] = l < lines ? pair_run(src + (ptrdiff_t)(x0 + g + l) * ld + p0, steps) : _mm512_setzero_ps();
                transpose16(r);
                for (int q = 0; q < (steps + 1) / 2; q++)
                    _mm512_mask_storeu_ps(d + (size_t)(p0 / 2 + q) * width + g, store_mask, r[q]);
            }
        }
    }
}

#define MAX_ROWS 8
#define MAX_VECS 3

/* As gemm_avx512.c's tile, on slots: each slot step is one VDPBF16PS per
 * accumulator (two k steps). rows, vecs and MR are constants after inlining. */
static inline __attribute__((always_inline)) void tile(const int rows, const int vecs, const int MR, int kc,
                                                       const float *restrict a, const float *restrict b,
                                                       ptrdiff_t b_step, float *restrict c, ptrdiff_t ldc,
                                                       float alpha, float beta, __mmask16 last_mask)
{
    __m512 acc[MAX_ROWS][MAX_VECS];
#pragma GCC unroll 16
    for (int i = 0; i < rows; i++)
#pragma GCC unroll 16
        for (int j = 0; j < vecs; j++) acc[i][j] = _mm512_setzero_ps();
    const int slots = (kc + 1) / 2;
#pragma GCC unroll 2
    for (int q = 0; q < slots; q++) {
        __m512bh bv[MAX_VECS];
#pragma GCC unroll 16
        for (int j = 0; j < vecs; j++) bv[j] = (__m512bh)_mm512_loadu_si512(b + q * b_step + j * 16);
#pragma GCC unroll 16
        for (int i = 0; i < rows; i++) {
            __m512bh av = (__m512bh)_mm512_castps_si512(_mm512_set1_ps(a[q * MR + i]));
#pragma GCC unroll 16
            for (int j = 0; j < vecs; j++) acc[i][j] = _mm512_dpbf16_ps(acc[i][j], av, bv[j]);
        }
    }
#pragma GCC unroll 16
    for (int i = 0; i < rows; i++) store_row(vecs, acc[i], c + i * ldc, alpha, beta, last_mask);
}

/* The 8 x 48 tile and its edge specialisations (rows 1..8 x vectors 1..3). */
DEFINE_KERNEL(kernel_8x48, ROWS_8, VECS_3, 8)

/* kc 512 steps = 256 slots: the same bytes per block as the fp32 kernel's 256. */
const GemmKernel gemm_kernel_avx512_bf16 = {
    .name = "avx512-bf16 8x48",
    .isa = ISA_AVX512,
    .pairs_k = 1,
    .mr = 8,
    .nr = 48,
    .kc = 512,
    .mc = 256,
    .nc = 1536,
    .kernel = kernel_8x48,
    .pack = pack_bf16,
};
