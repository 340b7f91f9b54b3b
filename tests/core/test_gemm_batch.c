/* gemm_batch.h: the one-thread entry points give gemm()'s exact bits. The
 * packed-A product is compared with gemm() on the same operands for every
 * transposition it supports, beta 0 and 1, shapes around the register tile
 * and k-block edges (k above one KC block included); gemm_serial with gemm()
 * including the dot-product path. Each GEMM family is covered by running the
 * test under YV5_ISA=generic|avx2 as well (tests/nn/test_fused_each_isa.sh). */
#include <omp.h>

#include "core/gemm.h"
#include "core/gemm_batch.h"
#include "core/rng.h"
#include "test.h"

static float *random_floats(Rng *r, size_t count)
{
    float *a = malloc((count ? count : 1) * sizeof(float));
    if (!a) exit(2);
    for (size_t i = 0; i < count; i++) a[i] = (float)rng_uniform_range(r, -1, 1);
    return a;
}

static void packed_a_matches_gemm(void)
{
    const int shapes[][3] = {{1, 1, 1},   {8, 48, 16},   {9, 49, 17},  {16, 320, 108}, {255, 100, 64},
                             {256, 40, 1152}, {1152, 37, 256}, {33, 7, 600}, {5, 300, 3}};
    Rng rng;
    rng_seed(&rng, 11);
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const int m = shapes[s][0], n = shapes[s][1], k = shapes[s][2];
        for (int ta = 0; ta < 2; ta++) {
            for (int tb = 0; tb < 2; tb++) {
                const int lda = ta ? m + 3 : k + 2, ldb = tb ? k + 1 : n + 5, ldc = n + 2;
                float *a = random_floats(&rng, (size_t)(ta ? k : m) * lda);
                float *b = random_floats(&rng, (size_t)(tb ? n : k) * ldb);
                float *c0 = random_floats(&rng, (size_t)m * ldc);
                float *want = malloc((size_t)m * ldc * sizeof(float)), *got = malloc((size_t)m * ldc * sizeof(float));
                float *packed = malloc((gemm_packed_a_floats(GEMM_FP32, m, k) + 1) * sizeof(float));
                gemm_pack_a(GEMM_FP32, ta, m, k, a, lda, packed);
                for (int beta = 0; beta < 2; beta++) {
                    memcpy(want, c0, (size_t)m * ldc * sizeof(float));
                    memcpy(got, c0, (size_t)m * ldc * sizeof(float));
                    gemm(ta, tb, m, n, k, 1.0f, a, lda, b, ldb, (float)beta, want, ldc);
                    gemm_serial_packed_a(GEMM_FP32, tb, m, n, k, packed, b, ldb, (float)beta, got, ldc);
                    /* gemm() takes its dot-product path for some A·Bᵀ shapes (another
                     * summation order); the packed product never does. */
                    const int small = m < n ? m : n, large = m < n ? n : m;
                    const int dot = !ta && tb && k >= 256 && (small <= 32 || large <= 96);
                    if (dot) {
                        CHECK_ARRAYS_CLOSE("packed vs gemm (dot path)", got, want, (size_t)m * ldc, 1e-5, 1e-5);
                    } else {
                        CHECK(memcmp(got, want, (size_t)m * ldc * sizeof(float)) == 0,
                              "%dx%dx%d ta %d tb %d beta %d: packed-A product differs from gemm", m, n, k, ta, tb,
                              beta);
                    }
                }
                free(a), free(b), free(c0), free(want), free(got), free(packed);
            }
        }
    }
}

static void serial_matches_gemm(void)
{
    const int shapes[][5] = {{16, 108, 25600, 0, 1}, {64, 288, 1600, 0, 1}, {144, 640, 32, 1, 0}, {128, 400, 576, 0, 0}};
    Rng rng;
    rng_seed(&rng, 12);
    const int saved = omp_get_max_threads();
    omp_set_num_threads(3);
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const int m = shapes[s][0], n = shapes[s][1], k = shapes[s][2], ta = shapes[s][3], tb = shapes[s][4];
        const int lda = ta ? m : k, ldb = tb ? k : n;
        float *a = random_floats(&rng, (size_t)m * k), *b = random_floats(&rng, (size_t)k * n);
        float *want = malloc((size_t)m * n * sizeof(float)), *got = malloc((size_t)m * n * sizeof(float));
        gemm(ta, tb, m, n, k, 1.0f, a, lda, b, ldb, 0.0f, want, n);
        gemm_serial(GEMM_FP32, ta, tb, m, n, k, 1.0f, a, lda, b, ldb, 0.0f, got, n);
        CHECK(memcmp(got, want, (size_t)m * n * sizeof(float)) == 0, "shape %zu: gemm_serial differs from gemm", s);
        free(a), free(b), free(want), free(got);
    }
    omp_set_num_threads(saved);
}

TEST_MAIN(TEST_ENTRY(packed_a_matches_gemm), TEST_ENTRY(serial_matches_gemm))
