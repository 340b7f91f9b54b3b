/* GEMM throughput on the products a yolov5n conv layer performs at 320x320,
 * batch 1 (im2col convolution: forward W . col, backward dW = dY . col^T and
 * dcol = W^T . dY), against the machine's fp32 FMA peak.
 *
 *   bench_gemm            full table, every ISA (about 15 s)
 *   bench_gemm --quick    fewer repetitions, best ISA only
 *   bench_gemm --tiles    also compare the AVX-512 register tiles
 *
 * Where the CPU has AVX512_BF16, each product also gets a "bf16" row (the
 * opt-in GEMM_BF16 kernels); its "% peak" is still against the fp32 FMA peak,
 * so it can exceed 100%.
 *
 * "% peak" is against the measured FMA peak of the best ISA (AVX-512 here) with
 * the same number of threads, also for the AVX2 and generic rows. Timings are
 * best-of-N; on a shared machine the 2-thread rows suffer most from other load. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_common.h"
#include "core/gemm.h"
#include "core/gemm_internal.h"
#include "core/rng.h"

typedef struct {
    const char *what;
    int m, n, k, ta, tb;
} Shape;

/* yolov5n at 320x320 (width 0.25): forward of the 3x3 (and 6x6 stem) convs,
 * a few 1x1s, and the backward products of some of them. */
static const Shape shapes[] = {
    {"L0 stem 6x6s2 fwd", 16, 25600, 108, 0, 0},
    {"L1 3x3s2 fwd", 32, 6400, 144, 0, 0},
    {"L2 C3 3x3 fwd", 16, 6400, 144, 0, 0},
    {"L3 3x3s2 fwd", 64, 1600, 288, 0, 0},
    {"L5 3x3s2 fwd", 128, 400, 576, 0, 0},
    {"L7 3x3s2 fwd", 256, 100, 1152, 0, 0},
    {"1x1 64->32 fwd", 32, 1600, 64, 0, 0},
    {"1x1 32->32 fwd", 32, 6400, 32, 0, 0},
    {"Detect P3 1x1 fwd", 255, 1600, 64, 0, 0},
    {"L0 stem dW", 16, 108, 25600, 0, 1},
    {"L1 dW", 32, 144, 6400, 0, 1},
    {"L2 C3 1x1 dW", 16, 32, 6400, 0, 1},
    {"L1 dcol", 144, 6400, 32, 1, 0},
    {"L3 dW", 64, 288, 1600, 0, 1},
    {"L3 dcol", 288, 1600, 64, 1, 0},
    {"L7 dW", 256, 1152, 100, 0, 1},
    {"L7 dcol", 1152, 100, 256, 1, 0},
};
#define SHAPE_COUNT ((int)(sizeof shapes / sizeof shapes[0]))

typedef struct {
    float *a, *b, *c;
} Operands;

static Operands operands_for(const Shape *s, Rng *rng)
{
    Operands o;
    size_t na = (size_t)s->m * s->k, nb = (size_t)s->k * s->n, nc = (size_t)s->m * s->n;
    o.a = malloc(na * sizeof(float));
    o.b = malloc(nb * sizeof(float));
    o.c = malloc(nc * sizeof(float));
    if (!o.a || !o.b || !o.c) {
        fprintf(stderr, "bench_gemm: out of memory\n");
        exit(1);
    }
    for (size_t i = 0; i < na; i++) o.a[i] = (float)rng_uniform_range(rng, -1, 1);
    for (size_t i = 0; i < nb; i++) o.b[i] = (float)rng_uniform_range(rng, -1, 1);
    memset(o.c, 0, nc * sizeof(float));
    return o;
}

static void operands_free(Operands *o)
{
    free(o->a);
    free(o->b);
    free(o->c);
}

/* Best-of time in seconds of one product: repeats until min_time has passed
 * (at least 3 runs after a warm-up). kern == NULL: the public gemm_isa(). */
static double time_product(const Shape *s, const Operands *o, Isa isa, const GemmKernel *kern, int threads,
                           double min_time)
{
    int lda = s->ta ? s->m : s->k, ldb = s->tb ? s->k : s->n;
    omp_set_num_threads(threads);
    double best = 1e30, spent = 0;
    for (int rep = 0; rep < 4 || spent < min_time; rep++) {
        double t0 = omp_get_wtime();
        if (kern)
            gemm_with_kernel(kern, threads, s->ta, s->tb, s->m, s->n, s->k, 1.0f, o->a, lda, o->b, ldb, 0.0f,
                             o->c, s->n);
        else
            gemm_isa(isa, s->ta, s->tb, s->m, s->n, s->k, 1.0f, o->a, lda, o->b, ldb, 0.0f, o->c, s->n);
        double dt = omp_get_wtime() - t0;
        if (rep > 0 && dt < best) best = dt; /* run 0 warms caches and scratch */
        spent += dt;
        if (rep > 2000) break;
    }
    return best;
}

static double gflops_of(const Shape *s, double seconds) { return 2.0 * s->m * s->n * s->k / seconds * 1e-9; }

int main(int argc, char **argv)
{
    int quick = 0, tiles = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick"))
            quick = 1;
        else if (!strcmp(argv[i], "--tiles"))
            tiles = 1;
        else {
            fprintf(stderr, "usage: %s [--quick] [--tiles]\n", argv[0]);
            return 2;
        }
    }
    Isa best = cpu_best_isa();
    int max_threads = omp_get_max_threads();
    int thread_counts[2] = {1, max_threads > 1 ? 2 : 1};
    int thread_variants = max_threads > 1 ? 2 : 1;
    double min_time = quick ? 0.02 : 0.15;

    /* Peak of the best vector ISA (AVX-512 if present, else AVX2). */
    double peak[3] = {0, 0, 0};
    Isa peak_isa = best >= ISA_AVX512 ? ISA_AVX512 : ISA_AVX2;
    if (best >= ISA_AVX2) {
        long iters = quick ? 20000000L : 50000000L;
        for (int t = 0; t < thread_variants; t++) {
            peak[thread_counts[t]] = fma_peak(peak_isa, thread_counts[t], iters);
            printf("fp32 FMA peak (%s, %d thread%s): %.1f GFLOP/s%s\n", isa_name(peak_isa), thread_counts[t],
                   thread_counts[t] > 1 ? "s" : "", peak[thread_counts[t]],
                   thread_counts[t] > 1 ? "" : " per core");
        }
        if (best >= ISA_AVX512)
            printf("fp32 FMA peak (avx2, 1 thread): %.1f GFLOP/s per core\n", fma_peak(ISA_AVX2, 1, iters));
    } else {
        printf("no AVX2: peak not measured\n");
    }

    printf("\n%-20s %5s %6s %5s  %-2s  %-7s %3s %8s %7s\n", "product", "m", "n", "k", "op", "isa", "thr",
           "GFLOP/s", "% peak");
    Rng rng;
    rng_seed(&rng, 1);
    for (int si = 0; si < SHAPE_COUNT; si++) {
        const Shape *s = &shapes[si];
        Operands o = operands_for(s, &rng);
        for (int isa = best; isa >= (quick ? (int)best : ISA_GENERIC); isa--) {
            for (int t = 0; t < thread_variants; t++) {
                int threads = thread_counts[t];
                if (isa == ISA_GENERIC && threads > 1)
                    continue; /* the fallback's scaling is not of interest */
                double sec = time_product(s, &o, (Isa)isa, NULL, threads,
                                          isa == ISA_GENERIC ? min_time / 3 : min_time);
                double gf = gflops_of(s, sec);
                printf("%-20s %5d %6d %5d  %c%c  %-7s %3d %8.1f %6.1f%%\n", s->what, s->m, s->n, s->k,
                       s->ta ? 'T' : 'N', s->tb ? 'T' : 'N', isa_name((Isa)isa), threads, gf,
                       peak[threads] > 0 ? 100.0 * gf / peak[threads] : 0.0);
            }
        }
        for (int t = 0; gemm_bf16_available() && t < thread_variants; t++) {
            const int threads = thread_counts[t];
            double gf = gflops_of(s, time_product(s, &o, ISA_AVX512, &gemm_kernel_avx512_bf16, threads, min_time));
            printf("%-20s %5d %6d %5d  %c%c  %-7s %3d %8.1f %6.1f%%\n", s->what, s->m, s->n, s->k, s->ta ? 'T' : 'N',
                   s->tb ? 'T' : 'N', "bf16", threads, gf, peak[threads] > 0 ? 100.0 * gf / peak[threads] : 0.0);
        }
        operands_free(&o);
        fflush(stdout);
    }

    if (tiles && best >= ISA_AVX512) {
        const GemmKernel *kernels[] = {&gemm_kernel_avx512, &gemm_kernel_avx512_12x32,
                                       &gemm_kernel_avx512_8x32, &gemm_kernel_avx512_14x32,
                                       &gemm_kernel_avx512_6x64};
        int kernel_count = (int)(sizeof kernels / sizeof kernels[0]);
        printf("\nAVX-512 register tiles, 1 thread, GFLOP/s (A.B^T: only the default has the dot-product "
               "path)\n%-20s",
               "product");
        for (int kk = 0; kk < kernel_count; kk++) printf(" %13s", kernels[kk]->name + 7);
        printf("\n");
        for (int si = 0; si < SHAPE_COUNT; si++) {
            const Shape *s = &shapes[si];
            Operands o = operands_for(s, &rng);
            printf("%-20s", s->what);
            for (int kk = 0; kk < kernel_count; kk++)
                printf(" %13.1f", gflops_of(s, time_product(s, &o, ISA_AVX512, kernels[kk], 1, min_time)));
            printf("\n");
            fflush(stdout);
            operands_free(&o);
        }
    }
    return 0;
}
