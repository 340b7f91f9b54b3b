/* GEMM entry points for callers that parallelise over independent products
 * themselves (one image or tile per thread), as the batched convolutions do:
 *
 *  - gemm_serial: gemm() on the calling thread alone (never starts a team).
 *  - gemm_pack_a + gemm_serial_packed_a: op(A) packed once and reused by many
 *    products (a layer's weights against every column tile of every image),
 *    instead of being re-packed by each call; when those products have few
 *    columns, the packing would otherwise cost more than the multiply-adds.
 *
 * Same kernels, blocking and per-element summation order as gemm() (for the
 * packed-A products: as gemm() with the same op(A) when it does not take its
 * dot-product path, which it never does for trans_b == 0), so results are
 * bit-identical to gemm()'s. */
#ifndef YV5_GEMM_BATCH_H
#define YV5_GEMM_BATCH_H

#include <stddef.h>

#include "core/gemm.h"

/* Each entry point takes the precision (gemm.h's GemmPrecision); a packed A is
 * only valid for products in the precision it was packed for. */
void gemm_serial(GemmPrecision precision, int trans_a, int trans_b, int m, int n, int k, float alpha,
                 const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc);

/* Floats a packed op(A) of m x k takes (for the best kernel of this CPU). */
size_t gemm_packed_a_floats(GemmPrecision precision, int m, int k);
/* Packs op(A) (m x k; A stored k x m when trans_a, else m x k, leading
 * dimension lda) into `packed` (gemm_packed_a_floats floats, any alignment
 * of float). */
void gemm_pack_a(GemmPrecision precision, int trans_a, int m, int k, const float *a, int lda, float *packed);
/* C = A·op(B) + beta·C, m x n, with A from gemm_pack_a(., m, k, ...); beta 0
 * means C is not read. Runs on the calling thread. */
void gemm_serial_packed_a(GemmPrecision precision, int trans_b, int m, int n, int k, const float *packed_a,
                          const float *b, int ldb, float beta, float *c, int ldc);

#endif
