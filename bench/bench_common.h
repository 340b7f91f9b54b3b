/* Shared by the benchmarks: the machine's fp32 FMA peak, measured by a loop
 * of independent FMA chains (the figure "% of peak" is taken against). */
#ifndef YV5_BENCH_COMMON_H
#define YV5_BENCH_COMMON_H

#include <immintrin.h>
#include <omp.h>
#include <stdio.h>

#include "core/cpu.h"

/* 12 independent accumulator chains: more than latency (4) x FMA pipes (2), so
 * the loop is bound by FMA throughput only. */
#define PEAK_CHAINS 12

/* One k step of every chain; named variables (not an array) so that they stay
 * in registers. */
#define FMA_CHAINS(fma, x, y)                                                               \
    do {                                                                                    \
        c0 = fma(c0, x, y), c1 = fma(c1, x, y), c2 = fma(c2, x, y), c3 = fma(c3, x, y);     \
        c4 = fma(c4, x, y), c5 = fma(c5, x, y), c6 = fma(c6, x, y), c7 = fma(c7, x, y);     \
        c8 = fma(c8, x, y), c9 = fma(c9, x, y), c10 = fma(c10, x, y), c11 = fma(c11, x, y); \
    } while (0)

__attribute__((target("avx512f"), noinline, unused)) static float fma_loop_avx512(long iters)
{
    __m512 c0 = _mm512_set1_ps(0.0f), c1 = _mm512_set1_ps(0.01f), c2 = _mm512_set1_ps(0.02f),
           c3 = _mm512_set1_ps(0.03f), c4 = _mm512_set1_ps(0.04f), c5 = _mm512_set1_ps(0.05f),
           c6 = _mm512_set1_ps(0.06f), c7 = _mm512_set1_ps(0.07f), c8 = _mm512_set1_ps(0.08f),
           c9 = _mm512_set1_ps(0.09f), c10 = _mm512_set1_ps(0.10f), c11 = _mm512_set1_ps(0.11f);
    const __m512 x = _mm512_set1_ps(0.999999f), y = _mm512_set1_ps(1e-7f);
    for (long it = 0; it < iters; it++) FMA_CHAINS(_mm512_fmadd_ps, x, y);
    __m512 s = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(c0, c1), _mm512_add_ps(c2, c3)),
                             _mm512_add_ps(_mm512_add_ps(c4, c5), _mm512_add_ps(c6, c7)));
    s = _mm512_add_ps(s, _mm512_add_ps(_mm512_add_ps(c8, c9), _mm512_add_ps(c10, c11)));
    return _mm512_reduce_add_ps(s);
}

__attribute__((target("avx2,fma"), noinline, unused)) static float fma_loop_avx2(long iters)
{
    __m256 c0 = _mm256_set1_ps(0.0f), c1 = _mm256_set1_ps(0.01f), c2 = _mm256_set1_ps(0.02f),
           c3 = _mm256_set1_ps(0.03f), c4 = _mm256_set1_ps(0.04f), c5 = _mm256_set1_ps(0.05f),
           c6 = _mm256_set1_ps(0.06f), c7 = _mm256_set1_ps(0.07f), c8 = _mm256_set1_ps(0.08f),
           c9 = _mm256_set1_ps(0.09f), c10 = _mm256_set1_ps(0.10f), c11 = _mm256_set1_ps(0.11f);
    const __m256 x = _mm256_set1_ps(0.999999f), y = _mm256_set1_ps(1e-7f);
    for (long it = 0; it < iters; it++) FMA_CHAINS(_mm256_fmadd_ps, x, y);
    __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(c0, c1), _mm256_add_ps(c2, c3)),
                             _mm256_add_ps(_mm256_add_ps(c4, c5), _mm256_add_ps(c6, c7)));
    s = _mm256_add_ps(s, _mm256_add_ps(_mm256_add_ps(c8, c9), _mm256_add_ps(c10, c11)));
    float lanes[8];
    _mm256_storeu_ps(lanes, s);
    return lanes[0] + lanes[7];
}

/* GFLOP/s of the FMA loop on `threads` threads (all run it; best of 5), for
 * ISA_AVX512 or ISA_AVX2 (the caller checks the CPU has it). */
__attribute__((unused)) static double fma_peak(Isa isa, int threads, long iters)
{
    double best = 0;
    float sink = 0;
    for (int rep = 0; rep < 5; rep++) {
        double t0 = omp_get_wtime();
#pragma omp parallel num_threads(threads) reduction(+ : sink)
        sink += isa == ISA_AVX512 ? fma_loop_avx512(iters) : fma_loop_avx2(iters);
        double dt = omp_get_wtime() - t0;
        double lanes = isa == ISA_AVX512 ? 16 : 8;
        double gflops = 2.0 * lanes * PEAK_CHAINS * iters * threads / dt * 1e-9;
        if (gflops > best) best = gflops;
    }
    if (sink == 12345.678f) printf("(sink)\n"); /* keeps the loops alive */
    return best;
}

#endif
