/* Internals of the packed GEMM, shared by the driver (gemm.c), the per-ISA
 * micro-kernels (gemm_generic.c, gemm_avx2.c, gemm_avx512.c), the tests and the
 * benchmark. Not part of the public interface (that is gemm.h).
 *
 * Layout of the packed operands the micro-kernels read:
 *   A micro-panel: kc steps of MR floats, a[p*MR + i] = op(A)(i, p);
 *   B micro-panel: kc steps of NR floats, b[p*NR + j] = op(B)(p, j).
 * Rows i >= mr of an A panel and columns j >= nr of a B panel are zero padding,
 * so a kernel may compute on them but must store only the mr x nr valid part.
 * A bf16 family (pairs_k) packs two k steps per 32-bit slot instead of one
 * float: a panel has gemm_slots(kc) rows, sizes and offsets count slots, and
 * b_step is in slots (gemm_avx512bf16.c). */
#ifndef YV5_GEMM_INTERNAL_H
#define YV5_GEMM_INTERNAL_H

#include <stddef.h>

#include "gemm.h"

/* C[0..mr) x [0..nr) = alpha * (A panel . B panel) + beta * C, where beta == 0
 * means C is not read. Step p of the B panel is at b + p * b_step: b_step is NR
 * for a packed panel, or ldb when the kernel reads a full-width panel of a
 * row-major op(B) in place. Each element's dot product is summed over p = 0..kc-1 in
 * order, then combined with C the same way whatever mr and nr are, so the result
 * of one element does not depend on which tile it falls in. */
typedef void (*GemmMicroKernel)(int kc, const float *a, const float *b, ptrdiff_t b_step, float *c,
                                ptrdiff_t ldc, float alpha, float beta, int mr, int nr);

/* Packs a block of one operand into micro-panels of `width` (MR or NR) along its
 * panel dimension x (rows of op(A), columns of op(B)), kc steps each:
 *   dst[(x / width) * width * kc + p * width + x % width] = element(x, p),
 * x in [0, extent), p in [0, kc), zero for x in [extent, round_up(extent, width)).
 * element(x, p) = src[x * ld + p] when k_contiguous, else src[p * ld + x].
 * op(A) is k-contiguous unless transposed, op(B) only when transposed. */
typedef void (*GemmPack)(int k_contiguous, const float *src, ptrdiff_t ld, int extent, int kc, int width,
                         float *dst);

/* Dot-product kernel for op(A) = A and op(B) = B^T stored row-major, i.e. both
 * operands k-contiguous, read in place (no packing):
 *   C[i][j] = alpha * sum_p a[i*lda + p] * b[j*ldb + p] + beta * C[i][j]
 * for i < mr <= dot_mr, j < nr <= dot_nr, p < kc (beta == 0: C not read). The sum
 * runs in vector lanes (p mod lanes, in order) reduced by a fixed tree, so it too
 * does not depend on the tile an element falls in. Packing such operands needs a
 * transpose and each element is used only n (or m) times, so when m or n is small
 * the packing costs about as much as the FMAs; this kernel skips it. */
typedef void (*GemmDotKernel)(int kc, const float *a, ptrdiff_t lda, const float *b, ptrdiff_t ldb, float *c,
                              ptrdiff_t ldc, float alpha, float beta, int mr, int nr);

typedef struct {
    const char *name;
    Isa isa;
    int pairs_k;    /* 1: bf16 pairs of k steps per slot; 0: one float per k step */
    int mr, nr;     /* register tile */
    int kc, mc, nc; /* cache blocking; mc is a multiple of mr, nc of nr */
    GemmMicroKernel kernel;
    GemmPack pack;
    GemmDotKernel dot; /* NULL: this family always packs */
    int dot_mr, dot_nr, dot_kc;
} GemmKernel;

/* Slot rows of a packed panel of kc steps. */
static inline int gemm_slots(const GemmKernel *kern, int kc) { return kern->pairs_k ? (kc + 1) / 2 : kc; }

/* Splits k into blocks of at most KC, all but the last equal, depending on k and
 * KC only (never on threads), so the summation order is fixed. Balanced blocks
 * avoid a short, inefficient last block (k = KC + 1 becomes two halves). */
static inline int gemm_k_block(int k, int kc_max)
{
    int blocks = (k + kc_max - 1) / kc_max;
    return (k + blocks - 1) / blocks;
}

/* Portable packing (scalar loops), used by the generic and AVX2 families. */
void gemm_pack_generic(int k_contiguous, const float *src, ptrdiff_t ld, int extent, int kc, int width,
                       float *dst);

/* The kernels each ISA file provides (the first of each family is its default). */
extern const GemmKernel gemm_kernel_generic;
extern const GemmKernel gemm_kernel_avx2;
extern const GemmKernel gemm_kernel_avx512;
/* Alternative AVX-512 register tiles, kept for the benchmark's comparison. */
extern const GemmKernel gemm_kernel_avx512_8x32;
extern const GemmKernel gemm_kernel_avx512_12x32;
extern const GemmKernel gemm_kernel_avx512_14x32;
extern const GemmKernel gemm_kernel_avx512_6x64;

/* The bf16 family (AVX512_BF16). */
extern const GemmKernel gemm_kernel_avx512_bf16;

/* The default kernel of an ISA family (no support check). */
const GemmKernel *gemm_kernel_for(Isa isa);

/* The kernel gemm() and the gemm_batch.h entry points use for a precision on
 * this machine (bf16 must be available: gemm_bf16_available()). */
const GemmKernel *gemm_kernel_best(GemmPrecision precision);

/* The whole product with a given kernel and at most max_threads OpenMP threads
 * (max_threads <= 0: omp_get_max_threads()). gemm() and gemm_isa() call this. */
void gemm_with_kernel(const GemmKernel *kern, int max_threads, int trans_a, int trans_b, int m, int n, int k,
                      float alpha, const float *a, int lda, const float *b, int ldb, float beta, float *c,
                      int ldc);

/* Grows the calling thread's packed-B panel (gemm_batch.c) to its high-water
 * mark (part of gemm_scratch_prepare). */
void gemm_panel_prepare(void);

#endif
