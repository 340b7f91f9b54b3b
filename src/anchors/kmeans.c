#include "anchors/kmeans.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* NumPy's pairwise_sum for float32 (8 accumulators per block of up to 128,
 * halving above that), which np.mean uses on a contiguous float32 array. */
static float pairwise_sum_f32(const float *a, size_t n)
{
    if (n < 8) {
        float res = 0.0f;
        for (size_t i = 0; i < n; i++) res += a[i];
        return res;
    }
    if (n <= 128) {
        float r[8];
        for (int j = 0; j < 8; j++) r[j] = a[j];
        size_t i;
        for (i = 8; i < n - (n % 8); i += 8)
            for (int j = 0; j < 8; j++) r[j] += a[i + j];
        float res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for (; i < n; i++) res += a[i];
        return res;
    }
    size_t n2 = n / 2;
    n2 -= n2 % 8;
    return pairwise_sum_f32(a, n2) + pairwise_sum_f32(a + n2, n - n2);
}

float numpy_mean_f32(const float *x, size_t n)
{
    /* np.mean: the float32 sum is a NumPy scalar, divided by the count in float64. */
    return (float)((double)pairwise_sum_f32(x, n) / (double)n);
}

/* scipy's vq for 2 features: nearest centre (strictly smaller squared distance
 * wins, so the lowest index on ties) and the distance, all in float32. Loops
 * centre by centre over the points so the compiler vectorises them. */
static void assign(const float *restrict px, const float *restrict py, size_t n, const float *book, int k,
                   int *restrict code, float *restrict dist)
{
    for (size_t i = 0; i < n; i++) {
        dist[i] = INFINITY;
        code[i] = 0;
    }
    for (int j = 0; j < k; j++) {
        const float cx = book[2 * j], cy = book[2 * j + 1];
        for (size_t i = 0; i < n; i++) {
            float dx = cx - px[i], dy = cy - py[i];
            float d = dx * dx + dy * dy;
            float best = dist[i];
            int take = -(int)(d < best); /* all ones when strictly nearer: a mask, so the loop vectorises */
            code[i] = (j & take) | (code[i] & ~take);
            dist[i] = d < best ? d : best;
        }
    }
    size_t i = 0;
#ifdef __SSE2__
    /* sqrtps is IEEE sqrt, as sqrtf; the libm call (errno) keeps GCC from vectorising it. */
    for (; i + 4 <= n; i += 4) _mm_storeu_ps(dist + i, _mm_sqrt_ps(_mm_loadu_ps(dist + i)));
#endif
    for (; i < n; i++) dist[i] = sqrtf(dist[i]);
}

/* scipy's update_cluster_means: float32 sums in point order, divided by the
 * count; centres without points are dropped (the rest keep their order).
 * Returns the number of centres left. */
static int update_means(const float *px, const float *py, size_t n, const int *code, int k, float *book,
                        int *count)
{
    for (int j = 0; j < k; j++) {
        book[2 * j] = book[2 * j + 1] = 0.0f;
        count[j] = 0;
    }
    for (size_t i = 0; i < n; i++) {
        int j = code[i];
        book[2 * j] += px[i];
        book[2 * j + 1] += py[i];
        count[j]++;
    }
    int kept = 0;
    for (int j = 0; j < k; j++) {
        if (!count[j]) continue;
        book[2 * kept] = book[2 * j] / (float)count[j];
        book[2 * kept + 1] = book[2 * j + 1] / (float)count[j];
        kept++;
    }
    return kept;
}

/* One run on split coordinates, with caller-provided scratch (n ints, n floats, k ints). */
static float run_split(const float *px, const float *py, size_t n, const float *guess, int k, double thresh,
                       float *book, int *k_out, int *code, float *dist, int *count)
{
    memcpy(book, guess, 2 * (size_t)k * sizeof *book);
    float prev = INFINITY, cur = INFINITY;
    double diff = INFINITY;
    while (diff > thresh) {
        assign(px, py, n, book, k, code, dist);
        prev = cur;
        cur = numpy_mean_f32(dist, n);
        k = update_means(px, py, n, code, k, book, count);
        diff = (double)(prev - cur); /* float32 difference, as NumPy scalars subtract */
    }
    *k_out = k;
    return cur;
}

static int split_points(const float *obs, size_t n, float **px, float **py)
{
    *px = malloc((n ? n : 1) * sizeof **px);
    *py = malloc((n ? n : 1) * sizeof **py);
    if (!*px || !*py) {
        free(*px);
        free(*py);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        (*px)[i] = obs[2 * i];
        (*py)[i] = obs[2 * i + 1];
    }
    return 0;
}

float kmeans_run(const float *obs, size_t n, const float *guess, int k, double thresh, float *book, int *k_out)
{
    float *px, *py;
    int *code = malloc((n ? n : 1) * sizeof *code), *count = malloc((size_t)k * sizeof *count);
    float *dist = malloc((n ? n : 1) * sizeof *dist);
    float d = NAN;
    *k_out = 0;
    if (code && count && dist && !split_points(obs, n, &px, &py)) {
        d = run_split(px, py, n, guess, k, thresh, book, k_out, code, dist, count);
        free(px);
        free(py);
    }
    free(code);
    free(count);
    free(dist);
    return d;
}

/* k distinct indices below n, uniformly, in random order (the distribution of
 * NumPy's choice(n, k, replace=False)): a partial Fisher-Yates shuffle. */
static void pick_distinct(Rng *rng, size_t n, int k, int *perm, int *out)
{
    for (size_t i = 0; i < n; i++) perm[i] = (int)i;
    for (int j = 0; j < k; j++) {
        size_t r = (size_t)rng_int(rng, (int64_t)j, (int64_t)n - 1);
        int t = perm[j];
        perm[j] = perm[r];
        perm[r] = t;
        out[j] = perm[j];
    }
}

int kmeans_2d(const float *obs, size_t n, const KmeansOptions *o, Rng *rng, float *book, int *k_out,
              float *distortion, Error *e)
{
    int k = o->k, restarts = o->restarts;
    *k_out = 0;
    if (k < 1 || (size_t)k > n) return err_set(e, "kmeans: %d centres asked for %zu points", k, n);
    if (restarts < 1) return err_set(e, "kmeans: restarts must be at least 1, got %d", restarts);
    if (n > INT32_MAX) return err_set(e, "kmeans: too many points (%zu)", n);

    size_t picks_len = (size_t)restarts * (size_t)k;
    int *picks = malloc(picks_len * sizeof *picks);
    float *books = malloc(picks_len * 2 * sizeof *books);
    float *dists = malloc((size_t)restarts * sizeof *dists);
    int *kept = malloc((size_t)restarts * sizeof *kept);
    float *px = NULL, *py = NULL;
    int rc = -1, failed = 0;
    if (!picks || !books || !dists || !kept || split_points(obs, n, &px, &py)) {
        err_set(e, "kmeans: out of memory for %zu points", n);
        goto done;
    }
    if (o->init_index) {
        for (size_t i = 0; i < picks_len; i++) {
            if (o->init_index[i] < 0 || (size_t)o->init_index[i] >= n) {
                err_set(e, "kmeans: initial index %d (restart %zu) outside 0..%zu", o->init_index[i],
                        i / (size_t)k, n - 1);
                goto done;
            }
            picks[i] = o->init_index[i];
        }
    } else {
        int *perm = malloc(n * sizeof *perm);
        if (!perm) {
            err_set(e, "kmeans: out of memory for %zu points", n);
            goto done;
        }
        for (int r = 0; r < restarts; r++) pick_distinct(rng, n, k, perm, picks + (size_t)r * k);
        free(perm);
    }

#pragma omp parallel if (restarts > 1 && n * (size_t)k > 4096)
    {
        int *code = malloc(n * sizeof *code), *count = malloc((size_t)k * sizeof *count);
        float *dist = malloc(n * sizeof *dist);
        float guess[2 * 64];
        float *g = k <= 64 ? guess : malloc(2 * (size_t)k * sizeof *g);
        if (!code || !count || !dist || !g) {
#pragma omp atomic write
            failed = 1;
        }
#pragma omp for schedule(dynamic, 1)
        for (int r = 0; r < restarts; r++) {
            if (!code || !count || !dist || !g) continue;
            const int *idx = picks + (size_t)r * k;
            for (int j = 0; j < k; j++) {
                g[2 * j] = px[idx[j]];
                g[2 * j + 1] = py[idx[j]];
            }
            dists[r] = run_split(px, py, n, g, k, o->thresh, books + (size_t)r * 2 * k, &kept[r], code, dist,
                                 count);
        }
        free(code);
        free(count);
        free(dist);
        if (g != guess) free(g);
    }
    if (failed) {
        err_set(e, "kmeans: out of memory for %zu points", n);
        goto done;
    }
    int best = -1;
    for (int r = 0; r < restarts; r++)
        if (best < 0 ? dists[r] < INFINITY : dists[r] < dists[best]) best = r;
    if (best < 0) {
        err_set(e, "kmeans: no run converged to a finite distortion");
        goto done;
    }
    memcpy(book, books + (size_t)best * 2 * k, 2 * (size_t)kept[best] * sizeof *book);
    *k_out = kept[best];
    *distortion = dists[best];
    rc = 0;
done:
    free(picks);
    free(books);
    free(dists);
    free(kept);
    free(px);
    free(py);
    return rc;
}
