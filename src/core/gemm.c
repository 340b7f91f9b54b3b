/* Packed, cache-blocked SGEMM driver (BLIS loop order):
 *
 *   for jc over n in steps of NC            (B block kc x nc)
 *     for pc over k in steps of KC          (first k block applies beta, later ones add)
 *       for ic over m in steps of MC        (A block mc x kc: L2)
 *         pack A(ic.., pc..) into MR-row micro-panels
 *         for jr over nc in steps of NR     (B micro-panel kc x NR)
 *           [ic == first: pack B(pc.., jc+jr..) into an NR-column micro-panel]
 *           for ir over mc in steps of MR: micro-kernel (MR x NR of C in registers)
 *
 * Transposition is handled entirely by the packing routines; the micro-kernels
 * see one layout. When op(B) is row-major and there is a single ic block, full
 * B panels are read in place instead of packed (see gemm_block). A . B^T with a
 * small m or n and a long k (weight gradients of early conv layers) skips packing
 * altogether with a dot-product kernel where the ISA has one (gemm_dot_block).
 *
 * Threads split C into disjoint column (or row) ranges and each runs the loop
 * nest above on its range, so every element of C is computed by one thread with
 * the same KC blocking (a function of k only) and the same summation order:
 * results are bit-identical for any thread count. */
#include "gemm_internal.h"

#include "core/cache_high_water.h"

#include <omp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Below this many multiply-adds one thread does the product: an OpenMP fork/join
 * costs ~2.7 us here (measured on the 2-core Zen 5 VM), about what 256K
 * multiply-adds take on one core with AVX-512, so splitting smaller products
 * gains little or loses. */
#define GEMM_PARALLEL_MIN_MACS (256 * 1024)

static int min_int(int x, int y) { return x < y ? x : y; }

/* Per-thread packing buffers, grown on demand and kept for the thread's life.
 * This is a cache of scratch memory, not semantic state: its contents are fully
 * overwritten before every use, so no call can observe another, and keeping it
 * means no heap traffic per call after warm-up. A thread-specific-data key frees
 * it when a thread exits (OpenMP retires pool threads when the team shrinks);
 * the main thread's stays reachable through its thread-local pointer until the
 * process ends. The key and its once-flag are set up once and never change. */
typedef struct {
    float *a, *b;
    size_t a_cap, b_cap; /* floats */
} PackScratch;

static pthread_once_t scratch_key_once = PTHREAD_ONCE_INIT;
static pthread_key_t scratch_key;
static _Thread_local PackScratch *thread_scratch;

static void fatal_alloc(size_t bytes)
{
    /* gemm() cannot report errors; failing to get a few MiB of scratch is fatal. */
    fprintf(stderr, "gemm: cannot allocate %zu bytes of packing scratch\n", bytes);
    abort();
}

static void scratch_free(void *p)
{
    PackScratch *s = p;
    free(s->a);
    free(s->b);
    free(s);
}

static void scratch_key_create(void)
{
    if (pthread_key_create(&scratch_key, scratch_free) != 0) {
        fprintf(stderr, "gemm: pthread_key_create failed\n");
        abort();
    }
}

/* The largest packing buffers any thread has needed (core/cache_high_water.h). */
static atomic_size_t pack_a_mark, pack_b_mark;

static PackScratch *scratch_for_thread(void)
{
    if (!thread_scratch) {
        pthread_once(&scratch_key_once, scratch_key_create);
        thread_scratch = calloc(1, sizeof *thread_scratch);
        if (!thread_scratch) fatal_alloc(sizeof *thread_scratch);
        pthread_setspecific(scratch_key, thread_scratch);
    }
    return thread_scratch;
}

/* A 64-byte aligned buffer of at least `floats` floats in *buf; when it has
 * to grow, to the high-water mark of its kind. */
static float *scratch_grow(float **buf, size_t *cap, size_t floats, atomic_size_t *mark)
{
    if (floats > *cap) {
        free(*buf);
        size_t want = cache_high_water_raise(mark, floats);
        size_t bytes = (want * sizeof(float) + 63) & ~(size_t)63;
        *buf = aligned_alloc(64, bytes);
        if (!*buf) fatal_alloc(bytes);
        *cap = bytes / sizeof(float);
    }
    return *buf;
}

/* The loop nest on one thread's part of C (m x n, op(A) rows and op(B) columns
 * already offset to it). B micro-panels are packed inside the jr loop during the
 * first ic block, right before the kernels that use them, so they are still in L1;
 * later ic blocks reuse them from L2. With a single ic block nothing reuses them,
 * so one panel-sized buffer is recycled for the whole block. */
static void gemm_block(const GemmKernel *kern, int trans_a, int trans_b, int m, int n, int k, float alpha,
                       const float *a, ptrdiff_t lda, const float *b, ptrdiff_t ldb, float beta, float *c,
                       ptrdiff_t ldc)
{
    const int MR = kern->mr, NR = kern->nr;
    const int KC = gemm_k_block(k, kern->kc);
    const int NC = min_int(kern->nc, (n + NR - 1) / NR * NR);
    const int MC = min_int(kern->mc, (m + MR - 1) / MR * MR);
    const int recycle_b = m <= MC;
    /* A row-major op(B) panel is read in place when there is a single ic block:
     * packing would copy it only to be used by that one block, and copying costs
     * as much as the FMAs when m is small. (Measured: 16 x 6400 x 144 goes from
     * ~160 to ~220 GFLOP/s on Zen 5.) Edge panels narrower than NR are packed. */
    const int direct_b = !trans_b && recycle_b && !kern->pairs_k;
    const int KS = gemm_slots(kern, KC); /* slot rows of a full k block */
    PackScratch *scratch = scratch_for_thread();
    float *bp = scratch_grow(&scratch->b, &scratch->b_cap, (size_t)KS * (recycle_b ? NR : NC), &pack_b_mark);
    float *ap = scratch_grow(&scratch->a, &scratch->a_cap, (size_t)KS * MC, &pack_a_mark);

    for (int jc = 0; jc < n; jc += NC) {
        int nc = min_int(NC, n - jc);
        for (int pc = 0; pc < k; pc += KC) {
            int kc = min_int(KC, k - pc), ks = gemm_slots(kern, kc);
            float beta_k = pc == 0 ? beta : 1.0f;
            const float *bsrc = trans_b ? b + (ptrdiff_t)jc * ldb + pc : b + (ptrdiff_t)pc * ldb + jc;
            for (int ic = 0; ic < m; ic += MC) {
                int mc = min_int(MC, m - ic);
                const float *asrc = trans_a ? a + (ptrdiff_t)pc * lda + ic : a + (ptrdiff_t)ic * lda + pc;
                kern->pack(!trans_a, asrc, lda, mc, kc, MR, ap);
                for (int jr = 0; jr < nc; jr += NR) {
                    int nr = min_int(NR, nc - jr);
                    const float *bpanel;
                    ptrdiff_t b_step;
                    if (direct_b && nr == NR) {
                        bpanel = bsrc + jr;
                        b_step = ldb;
                    } else {
                        float *packed = recycle_b ? bp : bp + (size_t)jr * ks;
                        if (ic == 0)
                            kern->pack(trans_b, trans_b ? bsrc + (ptrdiff_t)jr * ldb : bsrc + jr, ldb, nr, kc,
                                       NR, packed);
                        bpanel = packed;
                        b_step = NR;
                    }
                    for (int ir = 0; ir < mc; ir += MR) {
                        int mr = min_int(MR, mc - ir);
                        kern->kernel(kc, ap + (size_t)ir * ks, bpanel, b_step,
                                     c + (ptrdiff_t)(ic + ir) * ldc + jc + jr, ldc, alpha, beta_k, mr, nr);
                    }
                }
            }
        }
    }
}

/* A . B^T by the dot-product kernel (kern->dot), on one thread's part of C. k is
 * blocked so that the dot_nr rows of B a tile row reuses stay in L1 and the m
 * rows of A in L2. */
static void gemm_dot_block(const GemmKernel *kern, int m, int n, int k, float alpha, const float *a,
                           ptrdiff_t lda, const float *b, ptrdiff_t ldb, float beta, float *c, ptrdiff_t ldc)
{
    const int R = kern->dot_mr, S = kern->dot_nr, KC = gemm_k_block(k, kern->dot_kc);
    for (int pc = 0; pc < k; pc += KC) {
        int kc = min_int(KC, k - pc);
        float beta_k = pc == 0 ? beta : 1.0f;
        for (int j0 = 0; j0 < n; j0 += S)
            for (int i0 = 0; i0 < m; i0 += R)
                kern->dot(kc, a + (ptrdiff_t)i0 * lda + pc, lda, b + (ptrdiff_t)j0 * ldb + pc, ldb,
                          c + (ptrdiff_t)i0 * ldc + j0, ldc, alpha, beta_k, min_int(R, m - i0),
                          min_int(S, n - j0));
    }
}

/* C = beta * C (k == 0 or alpha == 0: A and B do not contribute). */
static void scale_c(int m, int n, float beta, float *c, ptrdiff_t ldc)
{
    for (int i = 0; i < m; i++) {
        float *row = c + (ptrdiff_t)i * ldc;
        if (beta == 0.0f)
            memset(row, 0, (size_t)n * sizeof(float));
        else if (beta != 1.0f)
            for (int j = 0; j < n; j++) row[j] *= beta;
    }
}

/* Whether A . B^T goes to the dot-product kernel: both operands k-contiguous and
 * k long (the lane reduction is paid once per dot_kc), with m or n small enough
 * that the transposing packs would cost a large share of the FMAs. A function
 * of the shape only, never of the thread count (it changes the summation order). */
static int use_dot_kernel(const GemmKernel *kern, int trans_a, int trans_b, int m, int n, int k)
{
    if (!kern->dot || trans_a || !trans_b || k < 256) return 0;
    /* Measured on Zen 5 (1 thread, GFLOP/s packed -> dot): 16x108x25600 113 -> 146,
     * 16x32x6400 119 -> 154, 32x64x1600 158 -> 195, 64x64x1600 169 -> 196, but
     * 64x288x1600 198 -> 190 and 128x128x400 208 -> 201. */
    int small = min_int(m, n), large = m > n ? m : n;
    return small <= 32 || large <= 96;
}

/* One thread's rows [i0, i1) and columns [j0, j1) of C. */
static void run_part(const GemmKernel *kern, int use_dot, int trans_a, int trans_b, int i0, int i1, int j0,
                     int j1, int k, float alpha, const float *a, ptrdiff_t lda, const float *b, ptrdiff_t ldb,
                     float beta, float *c, ptrdiff_t ldc)
{
    if (i1 <= i0 || j1 <= j0) return;
    const float *a0 = trans_a ? a + i0 : a + (ptrdiff_t)i0 * lda;
    const float *b0 = trans_b ? b + (ptrdiff_t)j0 * ldb : b + j0;
    float *c0 = c + (ptrdiff_t)i0 * ldc + j0;
    if (use_dot)
        gemm_dot_block(kern, i1 - i0, j1 - j0, k, alpha, a0, lda, b0, ldb, beta, c0, ldc);
    else
        gemm_block(kern, trans_a, trans_b, i1 - i0, j1 - j0, k, alpha, a0, lda, b0, ldb, beta, c0, ldc);
}

void gemm_with_kernel(const GemmKernel *kern, int max_threads, int trans_a, int trans_b, int m, int n, int k,
                      float alpha, const float *a, int lda, const float *b, int ldb, float beta, float *c,
                      int ldc)
{
    if (m <= 0 || n <= 0) return;
    if (k <= 0 || alpha == 0.0f) {
        scale_c(m, n, beta, c, ldc);
        return;
    }
    int use_dot = use_dot_kernel(kern, trans_a, trans_b, m, n, k);
    /* Split the larger of m and n across threads, so each thread re-packs only
     * the smaller operand; ranges are whole register tiles. */
    int split_n = n >= m;
    int unit = use_dot ? (split_n ? kern->dot_nr : kern->dot_mr) : (split_n ? kern->nr : kern->mr);
    int units = ((split_n ? n : m) + unit - 1) / unit;
    int threads = max_threads > 0 ? max_threads : omp_get_max_threads();
    if ((double)m * n * k < GEMM_PARALLEL_MIN_MACS) threads = 1;
    /* Inside a parallel region that cannot nest, a team would have one thread. */
    if (omp_get_active_level() >= omp_get_max_active_levels()) threads = 1;
    threads = min_int(threads, units);
    if (threads <= 1) {
        run_part(kern, use_dot, trans_a, trans_b, 0, m, 0, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        return;
    }
#pragma omp parallel num_threads(threads)
    {
        int t = omp_get_thread_num(), nt = omp_get_num_threads();
        int lo = (int)((long long)units * t / nt) * unit, hi = (int)((long long)units * (t + 1) / nt) * unit;
        if (split_n)
            run_part(kern, use_dot, trans_a, trans_b, 0, m, lo, min_int(hi, n), k, alpha, a, lda, b, ldb,
                     beta, c, ldc);
        else
            run_part(kern, use_dot, trans_a, trans_b, lo, min_int(hi, m), 0, n, k, alpha, a, lda, b, ldb,
                     beta, c, ldc);
    }
}

const GemmKernel *gemm_kernel_for(Isa isa)
{
    switch (isa) {
    case ISA_AVX512: return &gemm_kernel_avx512;
    case ISA_AVX2: return &gemm_kernel_avx2;
    default: return &gemm_kernel_generic;
    }
}

/* cpu_best_isa() reads cpuid and the environment: too slow per call. The cached
 * value is an immutable fact about the machine and process, not hidden state. */
static Isa best_isa_cached(void)
{
    static atomic_int cached = -1;
    int isa = atomic_load_explicit(&cached, memory_order_relaxed);
    if (isa < 0) {
        isa = (int)cpu_best_isa();
        atomic_store_explicit(&cached, isa, memory_order_relaxed);
    }
    return (Isa)isa;
}

int gemm_bf16_available(void)
{
    static atomic_int cached = -1;
    int ok = atomic_load_explicit(&cached, memory_order_relaxed);
    if (ok < 0) {
        ok = best_isa_cached() == ISA_AVX512 && cpu_features().avx512bf16;
        atomic_store_explicit(&cached, ok, memory_order_relaxed);
    }
    return ok;
}

float gemm_round_bf16(float x)
{
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    if ((u & 0x7f800000u) == 0) {
        u &= 0x80000000u; /* zero or subnormal: signed zero */
    } else if ((u & 0x7f800000u) == 0x7f800000u) {
        if (u & 0x007fffffu) u |= 0x00400000u; /* NaN stays NaN (quiet) */
    } else {
        u += 0x7fffu + ((u >> 16) & 1u); /* to nearest, ties to even */
    }
    u &= 0xffff0000u;
    memcpy(&x, &u, sizeof x);
    return x;
}

const GemmKernel *gemm_kernel_best(GemmPrecision precision)
{
    if (precision == GEMM_BF16) {
        if (!gemm_bf16_available()) {
            /* Callers check first; running fp32 silently would misreport the mode. */
            fprintf(stderr, "gemm: bf16 requested on a CPU without AVX512_BF16\n");
            abort();
        }
        return &gemm_kernel_avx512_bf16;
    }
    return gemm_kernel_for(best_isa_cached());
}

void gemm_precision(GemmPrecision precision, int trans_a, int trans_b, int m, int n, int k, float alpha,
                    const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc)
{
    gemm_with_kernel(gemm_kernel_best(precision), 0, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c,
                     ldc);
}

void gemm_isa(Isa isa, int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a, int lda,
              const float *b, int ldb, float beta, float *c, int ldc)
{
    Isa best = best_isa_cached();
    if (isa > best || isa < ISA_GENERIC) isa = best;
    gemm_with_kernel(gemm_kernel_for(isa), 0, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void gemm(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a, int lda, const float *b,
          int ldb, float beta, float *c, int ldc)
{
    gemm_precision(GEMM_FP32, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void gemm_scratch_prepare(void)
{
    PackScratch *s = scratch_for_thread();
    size_t a = atomic_load(&pack_a_mark), b = atomic_load(&pack_b_mark);
    if (a) scratch_grow(&s->a, &s->a_cap, a, &pack_a_mark);
    if (b) scratch_grow(&s->b, &s->b_cap, b, &pack_b_mark);
    gemm_panel_prepare();
}
