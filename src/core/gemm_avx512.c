/* AVX-512 micro-kernels. A tile of R rows x V vectors of 16 floats keeps R*V zmm
 * accumulators; each k step loads V vectors of B and broadcasts R values of A
 * (embedded-broadcast FMAs). Edge tiles run a copy specialised for their row and
 * vector count, with a write mask on the last vector, so nothing outside the
 * mr x nr tile of C is read or written and no FMA is spent on missing rows. */
#include <immintrin.h>

#include "gemm_avx512_util.h"
#include "gemm_internal.h"

#define MAX_ROWS 14
#define MAX_VECS 4

/* rows, vecs and MR are compile-time constants after inlining. */
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
#pragma GCC unroll 2
    for (int p = 0; p < kc; p++) {
        __m512 bv[MAX_VECS];
#pragma GCC unroll 16
        for (int j = 0; j < vecs; j++) bv[j] = _mm512_loadu_ps(b + p * b_step + j * 16);
#pragma GCC unroll 16
        for (int i = 0; i < rows; i++) {
            __m512 av = _mm512_set1_ps(a[p * MR + i]);
#pragma GCC unroll 16
            for (int j = 0; j < vecs; j++) acc[i][j] = _mm512_fmadd_ps(av, bv[j], acc[i][j]);
        }
    }
#pragma GCC unroll 16
    for (int i = 0; i < rows; i++) store_row(vecs, acc[i], c + i * ldc, alpha, beta, last_mask);
}

/* Copies kc runs of w <= width floats (run p at src + p*ld) into rows of width
 * floats, zero-padding each row. width (at most 64) is a compile-time constant
 * after inlining, so the masks are computed once and the copy loop is tight. */
static inline __attribute__((always_inline)) void copy_runs(const int width, int w, const float *src,
                                                            ptrdiff_t ld, int kc, float *d)
{
    const int groups = (width + 15) / 16;
    __mmask16 load_mask[4] = {0}, store_mask[4] = {0};
#pragma GCC unroll 4
    for (int g = 0; g < groups; g++) {
        load_mask[g] = first_lanes(w - 16 * g);
        store_mask[g] = first_lanes(width - 16 * g);
    }
    for (int p = 0; p < kc; p++) {
        const float *run = src + (ptrdiff_t)p * ld;
        float *row = d + (size_t)p * width;
#pragma GCC unroll 4
        for (int g = 0; g < groups; g++) {
            /* The next B panel's run: B is packed one micro-panel at a time and
             * its kc rows lie in different pages, out of the hardware prefetcher's
             * reach. (A blocks are packed whole; prefetches never fault.) */
            if (width >= 32) _mm_prefetch((const char *)(run + width + 16 * g), _MM_HINT_T0);
            _mm512_mask_storeu_ps(row + 16 * g, store_mask[g],
                                  _mm512_maskz_loadu_ps(load_mask[g], run + 16 * g));
        }
    }
}

/* See GemmPack. k-contiguous sources are transposed 16 x 16 at a time; the others
 * are copied a k step at a time. Loads are masked to the block, so nothing past
 * extent or kc is read. */
static void pack_avx512(int k_contiguous, const float *src, ptrdiff_t ld, int extent, int kc, int width,
                        float *dst)
{
    for (int x0 = 0; x0 < extent; x0 += width) {
        int w = extent - x0 < width ? extent - x0 : width;
        float *d = dst + (size_t)x0 * kc;
        if (!k_contiguous) {
            switch (width) {
            case 6: copy_runs(6, w, src + x0, ld, kc, d); break;
            case 8: copy_runs(8, w, src + x0, ld, kc, d); break;
            case 12: copy_runs(12, w, src + x0, ld, kc, d); break;
            case 14: copy_runs(14, w, src + x0, ld, kc, d); break;
            case 16: copy_runs(16, w, src + x0, ld, kc, d); break;
            case 32: copy_runs(32, w, src + x0, ld, kc, d); break;
            case 48: copy_runs(48, w, src + x0, ld, kc, d); break;
            case 64: copy_runs(64, w, src + x0, ld, kc, d); break;
            default: copy_runs(width, w, src + x0, ld, kc, d); break;
            }
            continue;
        }
        for (int g = 0; g < width; g += 16) {
            int lines = w - g < 16 ? (w - g > 0 ? w - g : 0) : 16;
            __mmask16 store_mask = first_lanes(width - g);
            for (int p0 = 0; p0 < kc; p0 += 16) {
                int steps = kc - p0 < 16 ? kc - p0 : 16;
                __mmask16 load_mask = first_lanes(steps);
                __m512 r[16];
                for (int l = 0; l < 16; l++)
                    r[l] = l < lines
                               ? _mm512_maskz_loadu_ps(load_mask, src + (ptrdiff_t)(x0 + g + l) * ld + p0)
                               : _mm512_setzero_ps();
                transpose16(r);
                for (int q = 0; q < steps; q++)
                    _mm512_mask_storeu_ps(d + (size_t)(p0 + q) * width + g, store_mask, r[q]);
            }
        }
    }
}

DEFINE_KERNEL(kernel_14x32, ROWS_14, VECS_2, 14)
DEFINE_KERNEL(kernel_12x32, ROWS_12, VECS_2, 12)
DEFINE_KERNEL(kernel_8x32, ROWS_8, VECS_2, 8)
DEFINE_KERNEL(kernel_8x48, ROWS_8, VECS_3, 8)
DEFINE_KERNEL(kernel_6x64, ROWS_6, VECS_4, 6)

/* Dot-product tile (see GemmDotKernel): 4 rows of A x 6 rows of B, 24 zmm
 * accumulators over 16 consecutive k; 4 + 6 loads per 24 FMAs. */
#define DOT_MR 4
#define DOT_NR 6

/* Sums of each of x[0..8) in lanes 0..7, by a fixed tree (24 instructions
 * instead of 8 x ~9 for separate horizontal sums). */
static inline __attribute__((always_inline)) __m256 reduce8(const __m512 x[8])
{
    __m512 s[4], u[2];
    for (int i = 0; i < 4; i++) /* per accumulator pair: fold 512 -> 256 bits */
        s[i] = _mm512_add_ps(_mm512_shuffle_f32x4(x[2 * i], x[2 * i + 1], _MM_SHUFFLE(1, 0, 1, 0)),
                             _mm512_shuffle_f32x4(x[2 * i], x[2 * i + 1], _MM_SHUFFLE(3, 2, 3, 2)));
    for (int i = 0; i < 2; i++) /* 128-bit lane L of u[i] now holds 4 partials of x[4i + L] */
        u[i] = _mm512_add_ps(_mm512_shuffle_f32x4(s[2 * i], s[2 * i + 1], _MM_SHUFFLE(2, 0, 2, 0)),
                             _mm512_shuffle_f32x4(s[2 * i], s[2 * i + 1], _MM_SHUFFLE(3, 1, 3, 1)));
    /* Within each lane: elements 0 and 1 become the sums of x[L] and x[4 + L]. */
    __m512 w = _mm512_add_ps(_mm512_unpacklo_ps(u[0], u[1]), _mm512_unpackhi_ps(u[0], u[1]));
    w = _mm512_add_ps(w, _mm512_shuffle_ps(w, w, _MM_SHUFFLE(1, 0, 3, 2)));
    const __m512i order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 0, 0, 0, 0, 0, 0, 0, 0);
    return _mm512_castps512_ps256(_mm512_permutexvar_ps(order, w));
}

static inline __attribute__((always_inline)) void
dot_tile(const int rows, const int cols, int kc, const float *restrict a, ptrdiff_t lda,
         const float *restrict b, ptrdiff_t ldb, float *restrict c, ptrdiff_t ldc, float alpha, float beta)
{
    __m512 acc[DOT_MR][8]; /* columns cols..7 stay zero for reduce8 */
#pragma GCC unroll 16
    for (int i = 0; i < rows; i++)
#pragma GCC unroll 16
        for (int j = 0; j < 8; j++) acc[i][j] = _mm512_setzero_ps();
    int p = 0;
    for (; p + 16 <= kc; p += 16) {
        __m512 bv[DOT_NR];
#pragma GCC unroll 16
        for (int j = 0; j < cols; j++) bv[j] = _mm512_loadu_ps(b + j * ldb + p);
#pragma GCC unroll 16
        for (int i = 0; i < rows; i++) {
            __m512 av = _mm512_loadu_ps(a + i * lda + p);
#pragma GCC unroll 16
            for (int j = 0; j < cols; j++) acc[i][j] = _mm512_fmadd_ps(av, bv[j], acc[i][j]);
        }
    }
    if (p < kc) { /* the last kc % 16 steps; masked lanes read nothing and add 0 */
        __mmask16 mask = first_lanes(kc - p);
        __m512 bv[DOT_NR];
#pragma GCC unroll 16
        for (int j = 0; j < cols; j++) bv[j] = _mm512_maskz_loadu_ps(mask, b + j * ldb + p);
#pragma GCC unroll 16
        for (int i = 0; i < rows; i++) {
            __m512 av = _mm512_maskz_loadu_ps(mask, a + i * lda + p);
#pragma GCC unroll 16
            for (int j = 0; j < cols; j++) acc[i][j] = _mm512_fmadd_ps(av, bv[j], acc[i][j]);
        }
    }
    const __mmask8 cmask = (__mmask8)((1u << cols) - 1u);
    const __m256 alpha_v = _mm256_set1_ps(alpha), beta_v = _mm256_set1_ps(beta);
#pragma GCC unroll 16
    for (int i = 0; i < rows; i++) {
        __m256 r = _mm256_mul_ps(reduce8(acc[i]), alpha_v);
        if (beta != 0.0f) r = _mm256_fmadd_ps(_mm256_maskz_loadu_ps(cmask, c + i * ldc), beta_v, r);
        _mm256_mask_storeu_ps(c + i * ldc, cmask, r);
    }
}

static void dot_kernel_4x6(int kc, const float *a, ptrdiff_t lda, const float *b, ptrdiff_t ldb, float *c,
                           ptrdiff_t ldc, float alpha, float beta, int mr, int nr)
{
#define DOT_CASE(r, s)                                           \
    case (r)*8 + (s):                                            \
        dot_tile(r, s, kc, a, lda, b, ldb, c, ldc, alpha, beta); \
        break;
#define DOT_ROW(r) DOT_CASE(r, 1) DOT_CASE(r, 2) DOT_CASE(r, 3) DOT_CASE(r, 4) DOT_CASE(r, 5) DOT_CASE(r, 6)
    switch (mr * 8 + nr) {
        DOT_ROW(1)
        DOT_ROW(2)
        DOT_ROW(3)
        DOT_ROW(4)
    default: break;
    }
#undef DOT_ROW
#undef DOT_CASE
}

/* The default: 8 x 48 (24 accumulators). In cache every tile below runs at
 * ~100% of the FMA peak on Zen 5; 8 x 48 was best or within noise of best on
 * the yolov5n products (8 rows waste nothing for c_out = 16, 32, 64, ...; the
 * 14- and 12-row tiles do, and 6 x 64 pads n more). The KC x NR B panel streams
 * through L1 from L2; the MC x KC A block (256 KiB) stays in L2. */
const GemmKernel gemm_kernel_avx512 = {
    .name = "avx512 8x48",
    .isa = ISA_AVX512,
    .mr = 8,
    .nr = 48,
    .kc = 256,
    .mc = 256,
    .nc = 1536,
    .kernel = kernel_8x48,
    .pack = pack_avx512,
    .dot = dot_kernel_4x6,
    .dot_mr = DOT_MR,
    .dot_nr = DOT_NR,
    .dot_kc = 1024,
};

/* Alternatives, for the benchmark's comparison (and tested like the default). */
#define ALTERNATIVE(tile_name, MR, NR, kernel_fn)       \
    const GemmKernel gemm_kernel_avx512_##tile_name = { \
        .name = "avx512 " #tile_name,                   \
        .isa = ISA_AVX512,                              \
        .mr = MR,                                       \
        .nr = NR,                                       \
        .kc = 256,                                      \
        .mc = 256 / MR * MR,                            \
        .nc = 1536 / NR * NR,                           \
        .kernel = kernel_fn,                            \
        .pack = pack_avx512,                            \
    };

ALTERNATIVE(14x32, 14, 32, kernel_14x32)
ALTERNATIVE(12x32, 12, 32, kernel_12x32)
ALTERNATIVE(8x32, 8, 32, kernel_8x32)
ALTERNATIVE(6x64, 6, 64, kernel_6x64)
