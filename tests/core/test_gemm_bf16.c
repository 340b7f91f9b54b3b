/* GEMM_BF16 (core/gemm.h): operands rounded to bfloat16 to nearest even with
 * subnormals read as zero, exact products summed in fp32.
 *
 *  - gemm_round_bf16 on ties, carries, subnormals, infinities and NaN;
 *  - the packed kernels round exactly as gemm_round_bf16 (tie cases through a
 *    1 x 1 x 2 product, where the fp32 sum is exact);
 *  - every transposition, odd k (a zero partner in the last pair), k across
 *    several 512-step blocks, edges of the 8 x 48 tile: against gemm_reference
 *    on the rounded operands, within float32 summation error (bound below);
 *  - small-integer operands, whose sums are exact: identical to the reference;
 *  - gemm_serial, the packed-A product and thread counts give the same bits.
 * Skipped, with the reason printed, on a CPU without AVX512_BF16. */
#include <math.h>
#include <omp.h>

#include "core/gemm.h"
#include "core/gemm_batch.h"
#include "core/rng.h"
#include "test.h"

static float *alloc_floats(size_t count)
{
    float *a = malloc((count ? count : 1) * sizeof(float));
    if (!a) exit(2);
    return a;
}

static float bits_to_float(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static void rounding_rule(void)
{
    /* 1 + 2^-8 is halfway between 1 and 1 + 2^-7: ties go to the even (1). */
    CHECK(gemm_round_bf16(1.0f + 0x1p-8f) == 1.0f, "tie below rounds to even");
    /* 1 + 3*2^-8 is halfway between 1 + 2^-7 and 1 + 2^-6: even is 1 + 2^-6. */
    CHECK(gemm_round_bf16(1.0f + 3 * 0x1p-8f) == 1.0f + 0x1p-6f, "tie above rounds to even");
    CHECK(gemm_round_bf16(1.0f + 0x1p-8f + 0x1p-20f) == 1.0f + 0x1p-7f, "above the tie rounds up");
    CHECK(gemm_round_bf16(-1.0f - 0x1p-8f - 0x1p-20f) == -1.0f - 0x1p-7f, "negative rounds by magnitude");
    CHECK(gemm_round_bf16(bits_to_float(0x3fffffffu)) == 2.0f, "carry into the exponent");
    CHECK(gemm_round_bf16(0x1p-130f) == 0.0f, "subnormal reads as zero");
    CHECK(signbit(gemm_round_bf16(-0x1p-130f)), "negative subnormal keeps its sign");
    CHECK(isinf(gemm_round_bf16(3.4e38f)), "the largest floats round to infinity");
    CHECK(isinf(gemm_round_bf16(INFINITY)) && isnan(gemm_round_bf16(NAN)), "inf and NaN kept");
    CHECK(gemm_round_bf16(0.1f) == bits_to_float(0x3dcd0000u), "0.1 -> 0x3dcd");
}

/* C = A·B with A = [x, 1] and B = [1, y]: the sum x + y is exact in fp32 for
 * these values, so C shows exactly how the kernel rounded x and y. */
static void kernels_round_like_the_rule(void)
{
    const float cases[] = {1.0f + 0x1p-8f, 1.0f + 3 * 0x1p-8f, 1.0f + 0x1p-8f + 0x1p-20f, -1.0f - 0x1p-9f,
                           0x1p-130f,      0.1f,               -3.0f + 0x1p-10f,          65535.0f};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        for (int ta = 0; ta < 2; ta++) {
            for (int tb = 0; tb < 2; tb++) {
                const float x = cases[i], y = cases[(i + 3) % 8];
                float a[2] = {x, 1.0f}, b[2] = {1.0f, y}, c = NAN;
                /* m = n = 1: the stored layouts of A (1x2 or 2x1) and B coincide. */
                gemm_precision(GEMM_BF16, ta, tb, 1, 1, 2, 1.0f, a, ta ? 1 : 2, b, tb ? 2 : 1, 0.0f, &c, 1);
                const float want = gemm_round_bf16(x) + gemm_round_bf16(y);
                CHECK(c == want, "case %zu ta %d tb %d: %.9g, want %.9g", i, ta, tb, c, want);
            }
        }
    }
}

static float *random_operand(Rng *r, size_t count, int small_ints)
{
    float *a = alloc_floats(count);
    for (size_t i = 0; i < count; i++)
        a[i] = small_ints ? (float)((int)(rng_uniform(r) * 9.0) - 4) : (float)rng_uniform_range(r, -1, 1);
    return a;
}

/* Rounded copy of op(X) as a plain rows x cols row-major matrix. */
static float *rounded(const float *x, int trans, int rows, int cols, int ld)
{
    float *out = alloc_floats((size_t)rows * cols);
    for (int i = 0; i < rows; i++)
        for (int j = 0; j < cols; j++)
            out[(size_t)i * cols + j] = gemm_round_bf16(trans ? x[(size_t)j * ld + i] : x[(size_t)i * ld + j]);
    return out;
}

static void matches_reference(void)
{
    const int shapes[][3] = {{1, 1, 1},    {8, 48, 16},   {9, 49, 17},   {7, 47, 3},    {16, 320, 108},
                             {64, 100, 577}, {3, 200, 1025}, {130, 97, 64}, {256, 40, 1152}, {33, 7, 600}};
    Rng rng;
    rng_seed(&rng, 21);
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const int m = shapes[s][0], n = shapes[s][1], k = shapes[s][2];
        for (int mode = 0; mode < 4; mode++) {
            const int ta = mode & 1, tb = mode >> 1, small_ints = (int)(s % 2);
            const int lda = ta ? m + 3 : k + 2, ldb = tb ? k + 1 : n + 5, ldc = n + 2;
            float *a = random_operand(&rng, (size_t)(ta ? k : m) * lda, small_ints);
            float *b = random_operand(&rng, (size_t)(tb ? n : k) * ldb, small_ints);
            float *c0 = random_operand(&rng, (size_t)m * ldc, 0);
            float *ar = rounded(a, ta, m, k, lda), *br = rounded(b, tb, k, n, ldb);
            float *want = alloc_floats((size_t)m * ldc), *got = alloc_floats((size_t)m * ldc);
            for (int beta = 0; beta < 2; beta++) {
                memcpy(want, c0, (size_t)m * ldc * sizeof(float));
                memcpy(got, c0, (size_t)m * ldc * sizeof(float));
                gemm_reference(0, 0, m, n, k, 1.0f, ar, k, br, n, (float)beta, want, ldc);
                gemm_precision(GEMM_BF16, ta, tb, m, n, k, 1.0f, a, lda, b, ldb, (float)beta, got, ldc);
                /* fp32 summation of k exact products: |error| <= k * 2^-24 * Σ|a||b|
                 * (plus one rounding of beta*C); the bound uses 2^-22 per step of
                 * the blocked order's depth to stay clear of it. */
                double worst = 0;
                for (int i = 0; i < m; i++) {
                    for (int j = 0; j < n; j++) {
                        double mag = fabs((double)beta * c0[(size_t)i * ldc + j]);
                        for (int p = 0; p < k; p++) mag += fabs((double)ar[(size_t)i * k + p] * br[(size_t)p * n + j]);
                        const double err = fabs((double)got[(size_t)i * ldc + j] - want[(size_t)i * ldc + j]);
                        const double bound = small_ints && !beta ? 0.0 : (double)k * 0x1p-22 * mag + 1e-30;
                        if (err > bound && err - bound > worst) worst = err - bound;
                    }
                    for (int j = n; j < ldc; j++)
                        CHECK(got[(size_t)i * ldc + j] == c0[(size_t)i * ldc + j], "column %d past n written", j);
                }
                CHECK(worst == 0, "%dx%dx%d ta %d tb %d beta %d: exceeds the fp32 summation bound by %g", m, n, k,
                      ta, tb, beta, worst);
            }
            free(a), free(b), free(c0), free(ar), free(br), free(want), free(got);
        }
    }
}

/* The one-thread entry points, the packed-A product and 1 or 3 threads all
 * give gemm_precision's bits (the same blocking and summation order). */
static void entry_points_agree(void)
{
    const int shapes[][3] = {{16, 320, 108}, {64, 288, 1600}, {144, 640, 33}, {9, 1000, 1025}};
    Rng rng;
    rng_seed(&rng, 22);
    const int saved = omp_get_max_threads();
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const int m = shapes[s][0], n = shapes[s][1], k = shapes[s][2];
        for (int mode = 0; mode < 4; mode++) {
            const int ta = mode & 1, tb = mode >> 1;
            const int lda = ta ? m : k, ldb = tb ? k : n;
            float *a = random_operand(&rng, (size_t)m * k, 0), *b = random_operand(&rng, (size_t)k * n, 0);
            float *want = alloc_floats((size_t)m * n), *got = alloc_floats((size_t)m * n);
            omp_set_num_threads(1);
            gemm_precision(GEMM_BF16, ta, tb, m, n, k, 1.0f, a, lda, b, ldb, 0.0f, want, n);
            omp_set_num_threads(3);
            gemm_precision(GEMM_BF16, ta, tb, m, n, k, 1.0f, a, lda, b, ldb, 0.0f, got, n);
            CHECK(memcmp(got, want, (size_t)m * n * sizeof(float)) == 0, "shape %zu mode %d: 3 threads differ", s,
                  mode);
            gemm_serial(GEMM_BF16, ta, tb, m, n, k, 1.0f, a, lda, b, ldb, 0.0f, got, n);
            CHECK(memcmp(got, want, (size_t)m * n * sizeof(float)) == 0, "shape %zu mode %d: gemm_serial differs",
                  s, mode);
            const size_t packed_floats = gemm_packed_a_floats(GEMM_BF16, m, k);
            CHECK(packed_floats <= gemm_packed_a_floats(GEMM_FP32, m, k), "bf16 pack larger than fp32's");
            float *packed = alloc_floats(packed_floats);
            gemm_pack_a(GEMM_BF16, ta, m, k, a, lda, packed);
            gemm_serial_packed_a(GEMM_BF16, tb, m, n, k, packed, b, ldb, 0.0f, got, n);
            CHECK(memcmp(got, want, (size_t)m * n * sizeof(float)) == 0, "shape %zu mode %d: packed-A differs", s,
                  mode);
            free(a), free(b), free(want), free(got), free(packed);
        }
    }
    omp_set_num_threads(saved);
}

int main(int argc, char **argv)
{
    static const TestCase all[] = {TEST_ENTRY(rounding_rule), TEST_ENTRY(kernels_round_like_the_rule),
                                   TEST_ENTRY(matches_reference), TEST_ENTRY(entry_points_agree)};
    int count = (int)(sizeof all / sizeof all[0]);
    if (!gemm_bf16_available()) {
        printf("# kernel tests skipped: this CPU has no AVX512_BF16 (or YV5_ISA caps below avx512)\n");
        count = 1; /* the rounding rule needs no kernel */
    }
    return test_run_all(all, count, argc, argv);
}
