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

/* Operand precision. GEMM_BF16 rounds op(A) and op(B) to bfloat16 (to nearest
 * even, subnormals read as zero: gemm_round_bf16) and sums the exact products
 * in fp32, with the fp32 path's blocking (results are again independent of the
 * thread count). It needs AVX512_BF16; the caller checks gemm_bf16_available(). */
typedef enum { GEMM_FP32 = 0, GEMM_BF16 = 1 } GemmPrecision;

/* Whether GEMM_BF16 can run here (cpuid, and YV5_ISA not capping below avx512). */
int gemm_bf16_available(void);
/* x rounded to bfloat16 the way GEMM_BF16 rounds its operands, as a float. */
float gemm_round_bf16(float x);

void gemm(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a, int lda,
          const float *b, int ldb, float beta, float *c, int ldc);

/* gemm() in a given precision. */
void gemm_precision(GemmPrecision precision, int trans_a, int trans_b, int m, int n, int k, float alpha,
                    const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc);

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
