/* The packed GEMM against the double-accumulating reference, for every kernel
 * family this CPU runs, over edge shapes, all four transpositions, padded leading
 * dimensions and alpha/beta combinations; the AVX-512 alternative register tiles
 * and the dot-product kernel directly; and thread-count determinism.
 *
 * Tolerance: a float32 dot product of length k summed in any order (with or
 * without FMA) is within gamma_k * sum_p |a_ip||b_pj| of the exact value, gamma_k
 * ~= k * u with u = 2^-24; alpha, beta and the final rounding add a few more u.
 * Each element is checked against
 *     |got - want| <= (k + 4) * FLT_EPSILON * (|alpha| sum_p |a||b| + |beta c|),
 * FLT_EPSILON = 2u, i.e. twice the worst-case bound. A dropped or doubled term
 * (error ~ |a||b|, about bound / k) or a wrong alpha/beta exceeds it by far. */
#include <float.h>
#include <omp.h>
#include <stdint.h>

#include "core/gemm.h"
#include "core/gemm_internal.h"
#include "core/rng.h"
#include "test.h"

/* Outside the logical matrices (lda/ldb padding) the inputs hold NaN, so a kernel
 * that reads past m, n or k poisons its result; C's padding holds a sentinel that
 * must survive. */
#define C_SENTINEL 12345.0f

typedef struct {
    int ta, tb, m, n, k;
    int pad_a, pad_b, pad_c; /* extra leading-dimension elements */
    float alpha, beta;
    int nan_c; /* fill C with NaN (only with beta == 0) */
} Case;

static float *alloc_filled(size_t count, float value)
{
    float *p = malloc((count ? count : 1) * sizeof(float));
    for (size_t i = 0; i < count; i++) p[i] = value;
    return p;
}

/* Fills the rows x cols logical part of a (ld-strided) array with U(-1, 1). */
static void fill_random(float *x, int rows, int cols, int ld, Rng *rng)
{
    for (int i = 0; i < rows; i++)
        for (int j = 0; j < cols; j++) x[(size_t)i * ld + j] = (float)rng_uniform_range(rng, -1.0, 1.0);
}

/* Runs one product with `isa` and compares it with the reference; returns 1 when
 * every element is within tolerance and C's padding is untouched. */
static int check_case(Isa isa, const Case *t, Rng *rng, char *why, size_t why_len)
{
    int a_rows = t->ta ? t->k : t->m, a_cols = t->ta ? t->m : t->k;
    int b_rows = t->tb ? t->n : t->k, b_cols = t->tb ? t->k : t->n;
    int lda = a_cols + t->pad_a, ldb = b_cols + t->pad_b, ldc = t->n + t->pad_c;
    float *a = alloc_filled((size_t)a_rows * lda, NAN);
    float *b = alloc_filled((size_t)b_rows * ldb, NAN);
    float *c = alloc_filled((size_t)t->m * ldc, C_SENTINEL);
    float *want = alloc_filled((size_t)t->m * ldc, C_SENTINEL);
    fill_random(a, a_rows, a_cols, lda, rng);
    fill_random(b, b_rows, b_cols, ldb, rng);
    if (t->nan_c) {
        for (int i = 0; i < t->m; i++)
            for (int j = 0; j < t->n; j++) c[(size_t)i * ldc + j] = NAN;
    } else {
        fill_random(c, t->m, t->n, ldc, rng);
    }
    memcpy(want, c, (size_t)t->m * ldc * sizeof(float));
    /* The reference must not see the NaNs (it does read C unless beta == 0). */
    gemm_reference(t->ta, t->tb, t->m, t->n, t->k, t->alpha, a, lda, b, ldb, t->beta, want, ldc);
    gemm_isa(isa, t->ta, t->tb, t->m, t->n, t->k, t->alpha, a, lda, b, ldb, t->beta, c, ldc);

    int ok = 1;
    for (int i = 0; i < t->m && ok; i++) {
        for (int j = 0; j < ldc; j++) {
            float got = c[(size_t)i * ldc + j];
            if (j >= t->n) {
                if (got != C_SENTINEL) {
                    snprintf(why, why_len, "C padding [%d][%d] overwritten with %g", i, j, got);
                    ok = 0;
                    break;
                }
                continue;
            }
            double bound = 0;
            for (int p = 0; p < t->k; p++) {
                double av = t->ta ? a[(size_t)p * lda + i] : a[(size_t)i * lda + p];
                double bv = t->tb ? b[(size_t)j * ldb + p] : b[(size_t)p * ldb + j];
                bound += fabs(av * bv);
            }
            bound = fabs(t->alpha) * bound + fabs(t->beta); /* the original |c| < 1 */
            double tol = (t->k + 4) * (double)FLT_EPSILON * bound;
            double w = want[(size_t)i * ldc + j];
            double err = fabs((double)got - w);
            if (!(err <= tol)) { /* also catches NaN */
                snprintf(why, why_len, "C[%d][%d] = %.9g, reference %.9g, |err| %.3g > tol %.3g", i, j, got,
                         w, err, tol);
                ok = 0;
                break;
            }
        }
    }
    free(a);
    free(b);
    free(c);
    free(want);
    return ok;
}

static Isa best_isa(void) { return cpu_best_isa(); }

/* Every shape x transposition x (alpha, beta) for one ISA. */
static void run_shapes(Isa isa, const int (*shapes)[3], int shape_count, int all_scalings)
{
    static const float scalings[][2] = {{1.0f, 0.0f}, {-0.75f, 0.0f}, {1.0f, 1.0f}, {1.5f, 0.5f}};
    Rng rng;
    rng_seed(&rng, 1234 + isa);
    for (int s = 0; s < shape_count; s++) {
        for (int trans = 0; trans < 4; trans++) {
            int scaling_count = all_scalings ? 4 : 2;
            for (int sc = 0; sc < scaling_count; sc++) {
                int which = all_scalings ? sc : (s + trans + sc * 2) % 4;
                Case t = {
                    .ta = trans >> 1,
                    .tb = trans & 1,
                    .m = shapes[s][0],
                    .n = shapes[s][1],
                    .k = shapes[s][2],
                    .pad_a = (s + sc) % 3 == 1 ? 3 : 0,
                    .pad_b = (s + trans) % 3 == 2 ? 5 : 0,
                    .pad_c = (s + trans + sc) % 2 ? 7 : 0,
                    .alpha = scalings[which][0],
                    .beta = scalings[which][1],
                    .nan_c = scalings[which][1] == 0.0f,
                };
                char why[256] = "";
                int ok = check_case(isa, &t, &rng, why, sizeof why);
                CHECK(ok, "%s %c%c m=%d n=%d k=%d lda+%d ldb+%d ldc+%d alpha=%g beta=%g: %s", isa_name(isa),
                      t.ta ? 'T' : 'N', t.tb ? 'T' : 'N', t.m, t.n, t.k, t.pad_a, t.pad_b, t.pad_c, t.alpha,
                      t.beta, why);
            }
        }
    }
}

/* Degenerate and edge shapes (m, n, k): 1s, k = 1, sizes around the register
 * tiles (4x8, 6x16, 14x32) and not multiples of them. */
static const int small_shapes[][3] = {
    {1, 1, 1},   {1, 1, 7},    {1, 37, 5},   {37, 1, 5},  {1, 100, 33}, {100, 1, 33}, {5, 9, 1},
    {17, 33, 1}, {14, 32, 16}, {15, 33, 17}, {13, 31, 3}, {28, 64, 2},  {6, 16, 9},   {7, 17, 10},
    {4, 8, 4},   {3, 7, 2},    {29, 47, 12}, {2, 200, 3}, {200, 2, 3},
};

static void small_shapes_every_isa(void)
{
    for (Isa isa = ISA_GENERIC; isa <= best_isa(); isa++)
        run_shapes(isa, small_shapes, (int)(sizeof small_shapes / sizeof small_shapes[0]), 1);
}

/* Shapes that cross the cache blocks: k > KC (several k blocks, beta applied only
 * once), m > MC, n > NC, and sizes that are multiples of nothing. With AVX-512,
 * the A.B^T products with small m or n and k >= 256 (31x45x600, 150x20x520,
 * 7x13x2100) take the dot-product kernel. */
static const int large_shapes[][3] = {
    {37, 53, 71}, {129, 257, 300}, {31, 45, 600}, {300, 70, 40}, {3, 4200, 5}, {150, 20, 520}, {7, 13, 2100},
};

static void large_shapes_every_isa(void)
{
    for (Isa isa = ISA_GENERIC; isa <= best_isa(); isa++)
        run_shapes(isa, large_shapes, (int)(sizeof large_shapes / sizeof large_shapes[0]), 0);
}

/* Every AVX-512 register tile (the default and the alternatives the benchmark
 * compares) on awkward shapes, single- and multi-threaded. */
static void avx512_alternative_tiles(void)
{
    if (best_isa() < ISA_AVX512) {
        CHECK(1, "no AVX-512 here");
        return;
    }
    const GemmKernel *kernels[] = {&gemm_kernel_avx512, &gemm_kernel_avx512_12x32, &gemm_kernel_avx512_8x32,
                                   &gemm_kernel_avx512_14x32, &gemm_kernel_avx512_6x64};
    static const int shapes[][3] = {{1, 1, 1}, {13, 77, 9}, {61, 130, 300}, {130, 61, 31}, {9, 200, 3}};
    Rng rng;
    rng_seed(&rng, 99);
    for (size_t kk = 0; kk < sizeof kernels / sizeof kernels[0]; kk++) {
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
            for (int trans = 0; trans < 4; trans++) {
                int m = shapes[s][0], n = shapes[s][1], k = shapes[s][2];
                int ta = trans >> 1, tb = trans & 1;
                int lda = (ta ? m : k) + 1, ldb = (tb ? k : n) + 2, ldc = n + 3;
                float *a = alloc_filled((size_t)(ta ? k : m) * lda, NAN);
                float *b = alloc_filled((size_t)(tb ? n : k) * ldb, NAN);
                float *c = alloc_filled((size_t)m * ldc, C_SENTINEL);
                float *want = alloc_filled((size_t)m * ldc, C_SENTINEL);
                fill_random(a, ta ? k : m, ta ? m : k, lda, &rng);
                fill_random(b, tb ? n : k, tb ? k : n, ldb, &rng);
                fill_random(c, m, n, ldc, &rng);
                memcpy(want, c, (size_t)m * ldc * sizeof(float));
                gemm_reference(ta, tb, m, n, k, 0.5f, a, lda, b, ldb, 0.5f, want, ldc);
                gemm_with_kernel(kernels[kk], (int)(s % 2) + 1, ta, tb, m, n, k, 0.5f, a, lda, b, ldb, 0.5f,
                                 c, ldc);
                /* |a|,|b|,|c| < 1: sum |a||b| <= k. */
                double tol = (k + 4) * (double)FLT_EPSILON * (0.5 * k + 0.5);
                int bad = 0;
                for (int i = 0; i < m; i++)
                    for (int j = 0; j < ldc; j++) {
                        float g = c[(size_t)i * ldc + j], w = want[(size_t)i * ldc + j];
                        bad += j < n ? !(fabs((double)g - w) <= tol) : g != C_SENTINEL;
                    }
                CHECK(bad == 0, "%s %c%c m=%d n=%d k=%d: %d bad elements", kernels[kk]->name, ta ? 'T' : 'N',
                      tb ? 'T' : 'N', m, n, k, bad);
                free(a);
                free(b);
                free(c);
                free(want);
            }
        }
    }
}

/* The AVX-512 dot-product kernel on every tile size it handles (1..4 x 1..6)
 * and k tails around its 16-lane chunks, with NaN beyond kc in A and B. */
static void avx512_dot_kernel_tiles(void)
{
    const GemmKernel *kern = &gemm_kernel_avx512;
    if (best_isa() < ISA_AVX512 || !kern->dot) {
        CHECK(1, "no AVX-512 dot kernel here");
        return;
    }
    static const int kcs[] = {1, 15, 16, 17, 40};
    const int lda = 48, ldb = 50, ldc = 9;
    float a[4 * 48], b[6 * 50];
    Rng rng;
    rng_seed(&rng, 11);
    for (size_t q = 0; q < sizeof kcs / sizeof kcs[0]; q++) {
        int kc = kcs[q];
        for (int i = 0; i < 4 * lda; i++) a[i] = i % lda < kc ? (float)rng_uniform_range(&rng, -1, 1) : NAN;
        for (int i = 0; i < 6 * ldb; i++) b[i] = i % ldb < kc ? (float)rng_uniform_range(&rng, -1, 1) : NAN;
        for (int mr = 1; mr <= kern->dot_mr; mr++)
            for (int nr = 1; nr <= kern->dot_nr; nr++)
                for (int with_beta = 0; with_beta < 2; with_beta++) {
                    float c[4 * 9], want[4 * 9];
                    for (int i = 0; i < 4 * ldc; i++)
                        c[i] = (i % ldc < nr && i / ldc < mr) ? (with_beta ? (float)rng_uniform(&rng) : NAN)
                                                              : C_SENTINEL;
                    memcpy(want, c, sizeof c);
                    float beta = with_beta ? 0.5f : 0.0f;
                    gemm_reference(0, 1, mr, nr, kc, 1.25f, a, lda, b, ldb, beta, want, ldc);
                    kern->dot(kc, a, lda, b, ldb, c, ldc, 1.25f, beta, mr, nr);
                    double tol = (kc + 4) * (double)FLT_EPSILON * (1.25 * kc + 0.5);
                    int bad = 0;
                    for (int i = 0; i < 4 * ldc; i++)
                        bad += (i % ldc < nr && i / ldc < mr) ? !(fabs((double)c[i] - want[i]) <= tol)
                                                              : c[i] != C_SENTINEL;
                    CHECK(bad == 0, "dot tile %dx%d kc=%d beta=%g: %d bad elements", mr, nr, kc, beta, bad);
                }
    }
}

/* k == 0 or alpha == 0: C = beta * C, and beta == 0 clears NaNs. */
static void degenerate_k_and_alpha(void)
{
    for (Isa isa = ISA_GENERIC; isa <= best_isa(); isa++) {
        float a[6] = {1, 2, 3, 4, 5, 6}, b[6] = {1, 1, 1, 1, 1, 1};
        float c[4] = {1, 2, 3, NAN};
        gemm_isa(isa, 0, 0, 2, 2, 0, 1.0f, a, 1, b, 2, 0.0f, c, 2);
        CHECK(c[0] == 0 && c[1] == 0 && c[2] == 0 && c[3] == 0, "%s k=0 beta=0: %g %g %g %g", isa_name(isa),
              c[0], c[1], c[2], c[3]);
        float d[4] = {1, 2, 3, 4};
        gemm_isa(isa, 0, 0, 2, 2, 3, 0.0f, a, 3, b, 2, 0.5f, d, 2);
        CHECK(d[0] == 0.5f && d[1] == 1.0f && d[2] == 1.5f && d[3] == 2.0f,
              "%s alpha=0 beta=0.5: %g %g %g %g", isa_name(isa), d[0], d[1], d[2], d[3]);
        float e[4] = {NAN, NAN, NAN, NAN};
        gemm_isa(isa, 0, 0, 2, 2, 3, 1.0f, a, 3, b, 2, 0.0f, e, 2);
        CHECK(e[0] == 6 && e[1] == 6 && e[2] == 15 && e[3] == 15, "%s 2x2x3 beta=0 NaN C: %g %g %g %g",
              isa_name(isa), e[0], e[1], e[2], e[3]);
    }
}

/* Unsupported or out-of-range ISA requests fall back and still compute. */
static void gemm_matches_best_isa(void)
{
    Rng rng;
    rng_seed(&rng, 5);
    int m = 70, n = 90, k = 110;
    float *a = alloc_filled((size_t)m * k, 0), *b = alloc_filled((size_t)k * n, 0);
    float *c1 = alloc_filled((size_t)m * n, 0), *c2 = alloc_filled((size_t)m * n, 0);
    float *c3 = alloc_filled((size_t)m * n, 0);
    fill_random(a, m, k, k, &rng);
    fill_random(b, k, n, n, &rng);
    gemm(0, 0, m, n, k, 1.0f, a, k, b, n, 0.0f, c1, n);
    gemm_isa(best_isa(), 0, 0, m, n, k, 1.0f, a, k, b, n, 0.0f, c2, n);
    gemm_isa((Isa)7, 0, 0, m, n, k, 1.0f, a, k, b, n, 0.0f, c3, n);
    CHECK(memcmp(c1, c2, (size_t)m * n * sizeof(float)) == 0, "gemm() differs from gemm_isa(%s)",
          isa_name(best_isa()));
    CHECK(memcmp(c1, c3, (size_t)m * n * sizeof(float)) == 0, "gemm_isa(7) does not fall back to %s",
          isa_name(best_isa()));
    free(a);
    free(b);
    free(c1);
    free(c2);
    free(c3);
}

/* Same bits with 1, 2 and 3 threads, for a wide product (split over n) and a
 * tall one (split over m), each with several k blocks, for every ISA. */
static void deterministic_across_threads(void)
{
    static const int shapes[][5] = {
        /* m, n, k, trans_a, trans_b */
        {40, 1500, 600, 0, 0}, {1100, 50, 300, 1, 0},
        {64, 288, 1600, 0, 1}, {400, 120, 300, 0, 0}, /* one thread packs B (m > MC), two read it in place */
        {20, 300, 1500, 0, 1},                        /* AVX-512 dot-product kernel, split over n */
        {300, 20, 700, 0, 1},                         /* the same split over m */
    };
    int saved = omp_get_max_threads();
    Rng rng;
    rng_seed(&rng, 77);
    for (Isa isa = ISA_GENERIC; isa <= best_isa(); isa++) {
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
            int m = shapes[s][0], n = shapes[s][1], k = shapes[s][2], ta = shapes[s][3], tb = shapes[s][4];
            float *a = alloc_filled((size_t)m * k, 0), *b = alloc_filled((size_t)k * n, 0);
            fill_random(a, 1, m * k, m * k, &rng);
            fill_random(b, 1, k * n, k * n, &rng);
            float *c[3];
            for (int t = 0; t < 3; t++) {
                c[t] = alloc_filled((size_t)m * n, 0);
                fill_random(c[t], 1, m * n, m * n, &rng);
                if (t) memcpy(c[t], c[0], (size_t)m * n * sizeof(float));
            }
            for (int t = 0; t < 3; t++) {
                omp_set_num_threads(t + 1);
                gemm_isa(isa, ta, tb, m, n, k, 0.9f, a, ta ? m : k, b, tb ? k : n, 0.5f, c[t], n);
            }
            CHECK(memcmp(c[0], c[1], (size_t)m * n * sizeof(float)) == 0,
                  "%s %dx%dx%d: 1 vs 2 threads differ", isa_name(isa), m, n, k);
            CHECK(memcmp(c[0], c[2], (size_t)m * n * sizeof(float)) == 0,
                  "%s %dx%dx%d: 1 vs 3 threads differ", isa_name(isa), m, n, k);
            for (int t = 0; t < 3; t++) free(c[t]);
            free(a);
            free(b);
        }
    }
    omp_set_num_threads(saved);
}

TEST_MAIN(TEST_ENTRY(small_shapes_every_isa), TEST_ENTRY(large_shapes_every_isa),
          TEST_ENTRY(avx512_alternative_tiles), TEST_ENTRY(avx512_dot_kernel_tiles),
          TEST_ENTRY(degenerate_k_and_alpha), TEST_ENTRY(gemm_matches_best_isa),
          TEST_ENTRY(deterministic_across_threads))
