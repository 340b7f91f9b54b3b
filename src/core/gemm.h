/* Single-precision matrix multiply, row-major:
 *     C = alpha * op(A) * op(B) + beta * C
 * op(A) is m x k, op(B) is k x n, C is m x n. With trans_a, A is stored k x m
 * (lda >= m), otherwise m x k (lda >= k); likewise B. beta == 0 means C is
 * written without being read (NaNs in C are not propagated), as in BLAS.
 *
 * Packed and cache-blocked with a register-blocked micro-kernel chosen at run
 * time (AVX-512, AVX2+FMA or portable C) and OpenMP across cores. The result
 * does not depend on the number of threads: each element of C is summed by one
 * thread in a fixed order over k. */
#ifndef YV5_GEMM_H
#define YV5_GEMM_H

#include "cpu.h"

void gemm(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a, int lda,
          const float *b, int ldb, float beta, float *c, int ldc);

/* The same product with a given kernel family (for tests and benchmarks).
 * Falls back to the best available ISA when `isa` is not supported here. */
void gemm_isa(Isa isa, int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a,
              int lda, const float *b, int ldb, float beta, float *c, int ldc);

/* Straightforward triple loop with double accumulation: the reference the tests
 * compare against. Slow; never used by the product. */
void gemm_reference(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a,
                    int lda, const float *b, int ldb, float beta, float *c, int ldc);

/* Grows the calling thread's packing buffers (gemm's and gemm_batch.h's) to
 * the largest sizes any thread has needed so far (core/cache_high_water.h),
 * so that its next products allocate nothing. */
void gemm_scratch_prepare(void);

#endif
