/* The reference's sort orders with ties: torch.argsort(descending=True)
 * (PyTorch 1.13, libstdc++ introsort) and np.argsort (NumPy 1.24 introsort),
 * against orders recorded from the real libraries on tie-heavy keys. */
#include "test.h"

#include "eval/sort_order.h"
#include "eval_fixture.h"

static void torch_and_numpy_orders_match_recorded(void)
{
    SafeTensors st;
    CHECK(fx_open(&st, "sort.safetensors") == 0, "fixture");
    int cases = atoi(st_meta(&st, "cases") ? st_meta(&st, "cases") : "0");
    CHECK(cases >= 8, "cases %d", cases);
    for (int k = 0; k < cases; k++) {
        char name[32];
        size_t n = 0, nt = 0, nn = 0;
        snprintf(name, sizeof name, "keys_%d", k);
        float *keys = fx_f32(&st, name, &n);
        snprintf(name, sizeof name, "torch_%d", k);
        int32_t *want_t = fx_i32(&st, name, &nt);
        snprintf(name, sizeof name, "numpy_%d", k);
        int32_t *want_n = fx_i32(&st, name, &nn);
        CHECK(keys && want_t && want_n && nt == n && nn == n, "case %d loaded", k);
        if (keys && want_t && want_n) {
            int *got = malloc((n ? n : 1) * sizeof *got);
            CHECK(sort_order_torch_desc(keys, n, got) == 0, "torch order allocates");
            size_t bad = 0;
            for (size_t i = 0; i < n; i++) bad += got[i] != want_t[i];
            CHECK(bad == 0, "case %d (n=%zu): %zu positions differ from torch.argsort", k, n, bad);
            sort_order_numpy(keys, n, got);
            bad = 0;
            for (size_t i = 0; i < n; i++) bad += got[i] != want_n[i];
            CHECK(bad == 0, "case %d (n=%zu): %zu positions differ from np.argsort", k, n, bad);
            free(got);
        }
        free(keys);
        free(want_t);
        free(want_n);
    }
    st_free(&st);
}

/* Small arrays: insertion sort, so both are stable (ties in index order). */
static void small_arrays_keep_tie_order(void)
{
    const float keys[6] = {0.5f, 0.9f, 0.5f, 0.9f, 0.1f, 0.5f};
    int got[6];
    CHECK(sort_order_torch_desc(keys, 6, got) == 0, "alloc");
    const int want_desc[6] = {1, 3, 0, 2, 5, 4};
    for (int i = 0; i < 6; i++) CHECK(got[i] == want_desc[i], "desc[%d] = %d want %d", i, got[i], want_desc[i]);
    sort_order_numpy(keys, 6, got);
    const int want_asc[6] = {4, 0, 2, 5, 1, 3};
    for (int i = 0; i < 6; i++) CHECK(got[i] == want_asc[i], "asc[%d] = %d want %d", i, got[i], want_asc[i]);
}

/* Large arrays of distinct keys: a plain sort in both directions, and NaN
 * first (torch, descending) / last (NumPy). */
static void large_distinct_keys_are_sorted(void)
{
    enum { N = 20000 };
    static float keys[N];
    static int order[N];
    uint64_t s = 12345;
    for (int i = 0; i < N; i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        keys[i] = (float)(s >> 40) / 16777216.0f;
    }
    keys[777] = NAN;
    CHECK(sort_order_torch_desc(keys, N, order) == 0, "alloc");
    CHECK(order[0] == 777, "NaN first in torch's descending order, got %d", order[0]);
    int sorted = 1;
    for (int i = 2; i < N; i++) sorted &= keys[order[i - 1]] >= keys[order[i]];
    CHECK(sorted, "descending");
    sort_order_numpy(keys, N, order);
    CHECK(order[N - 1] == 777, "NaN last in NumPy's order, got %d", order[N - 1]);
    sorted = 1;
    for (int i = 1; i < N - 1; i++) sorted &= keys[order[i - 1]] <= keys[order[i]];
    CHECK(sorted, "ascending");
}

TEST_MAIN(TEST_ENTRY(torch_and_numpy_orders_match_recorded), TEST_ENTRY(small_arrays_keep_tie_order),
          TEST_ENTRY(large_distinct_keys_are_sorted))
