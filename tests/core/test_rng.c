#include "core/arena.h"
#include "core/rng.h"
#include "test.h"

static void same_seed_same_stream(void)
{
    Rng a, b, c;
    rng_seed(&a, 42);
    rng_seed(&b, 42);
    rng_seed(&c, 43);
    int differ = 0;
    for (int i = 0; i < 100; i++) {
        uint64_t x = rng_u64(&a), y = rng_u64(&b), z = rng_u64(&c);
        CHECK(x == y, "draw %d differs for equal seeds", i);
        differ += x != z;
    }
    CHECK(differ > 95, "seeds 42 and 43 agree on %d of 100 draws", 100 - differ);
}

static void streams_are_independent(void)
{
    Rng a, b;
    rng_seed_stream(&a, 1, 0, 0);
    rng_seed_stream(&b, 1, 0, 1);
    CHECK(rng_u64(&a) != rng_u64(&b), "neighbouring streams start equal");
    rng_seed_stream(&a, 1, 5, 7);
    rng_seed_stream(&b, 1, 5, 7);
    CHECK(rng_u64(&a) == rng_u64(&b), "same stream differs");
}

static void uniform_moments(void)
{
    Rng r;
    rng_seed(&r, 7);
    const int n = 200000;
    double sum = 0, sum2 = 0, lo = 1, hi = 0;
    for (int i = 0; i < n; i++) {
        double u = rng_uniform(&r);
        sum += u;
        sum2 += u * u;
        if (u < lo) lo = u;
        if (u > hi) hi = u;
    }
    double mean = sum / n, var = sum2 / n - mean * mean;
    /* Standard error of the mean is sqrt(1/12/n) = 6.5e-4: 5 sigma. */
    CHECK_CLOSE(mean, 0.5, 3.3e-3, 0);
    CHECK_CLOSE(var, 1.0 / 12, 2e-3, 0);
    CHECK(lo >= 0 && hi < 1, "range [%g, %g]", lo, hi);
}

static void normal_moments(void)
{
    Rng r;
    rng_seed(&r, 9);
    const int n = 200000;
    double sum = 0, sum2 = 0;
    for (int i = 0; i < n; i++) {
        double x = rng_normal(&r);
        sum += x;
        sum2 += x * x;
    }
    double mean = sum / n, var = sum2 / n - mean * mean;
    CHECK_CLOSE(mean, 0.0, 0.012, 0); /* 5 sigma of 1/sqrt(n) */
    CHECK_CLOSE(var, 1.0, 0.016, 0);  /* 5 sigma of sqrt(2/n) */
}

static void int_range_covers_ends(void)
{
    Rng r;
    rng_seed(&r, 3);
    int counts[5] = {0};
    for (int i = 0; i < 50000; i++) {
        int64_t v = rng_int(&r, -2, 2);
        CHECK(v >= -2 && v <= 2, "value %lld out of [-2, 2]", (long long)v);
        if (v >= -2 && v <= 2) counts[v + 2]++;
    }
    for (int i = 0; i < 5; i++) CHECK(counts[i] > 9400 && counts[i] < 10600, "bucket %d has %d", i - 2, counts[i]);
}

static void shuffle_is_permutation(void)
{
    Rng r;
    rng_seed(&r, 5);
    int idx[100], seen[100] = {0};
    for (int i = 0; i < 100; i++) idx[i] = i;
    rng_shuffle(&r, idx, 100);
    int moved = 0;
    for (int i = 0; i < 100; i++) {
        seen[idx[i]]++;
        moved += idx[i] != i;
    }
    for (int i = 0; i < 100; i++) CHECK(seen[i] == 1, "element %d appears %d times", i, seen[i]);
    CHECK(moved > 80, "only %d elements moved", moved);
}

static void arena_alignment_and_exhaustion(void)
{
    Arena a;
    CHECK(arena_init(&a, 1000) == 0, "init failed");
    float *p = arena_floats(&a, 3);
    float *q = arena_floats(&a, 5);
    CHECK(p && q, "small allocations failed");
    CHECK(((size_t)p % 64) == 0 && ((size_t)q % 64) == 0, "not 64-byte aligned");
    CHECK(q >= p + 3, "blocks overlap");
    size_t mark = arena_mark(&a);
    CHECK(arena_floats(&a, 1000) == NULL, "over-allocation did not fail");
    CHECK(arena_mark(&a) == mark, "failed allocation moved the arena");
    arena_reset_to(&a, 0);
    CHECK(arena_floats(&a, 3) == p, "reset did not rewind");
    CHECK(a.peak >= 64 + 5 * sizeof(float), "peak %zu too small", a.peak);
    arena_free(&a);
}

TEST_MAIN(TEST_ENTRY(same_seed_same_stream), TEST_ENTRY(streams_are_independent),
          TEST_ENTRY(uniform_moments), TEST_ENTRY(normal_moments),
          TEST_ENTRY(int_range_covers_ends), TEST_ENTRY(shuffle_is_permutation),
          TEST_ENTRY(arena_alignment_and_exhaustion))
