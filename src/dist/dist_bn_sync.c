/* SyncBatchNorm over a Dist (dist_bn_sync.h). A collective failing here
 * cannot be reported through the layer, and the other ranks would wait
 * forever: the job is ended with the reason. */
#include "dist/dist_bn_sync.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static double *packed_buffer(DistBnSync *s, size_t n)
{
    if (s->packed_cap < n) {
        double *p = realloc(s->packed, n * sizeof(double));
        if (!p) {
            fprintf(stderr, "yolov5c train: rank %d: out of memory for --sync-bn statistics\n", s->dist->rank);
            dist_abort(s->dist, 1);
        }
        s->packed = p;
        s->packed_cap = n;
    }
    return s->packed;
}

/* Every rank's (count, pairs[2 * channels]) as world rows of 1 + 2 * channels
 * doubles, rank order. */
static const double *gather_rows(DistBnSync *s, double count, const double *pairs, int channels)
{
    const int n = 1 + 2 * channels;
    double *mine = packed_buffer(s, (size_t)n);
    mine[0] = count;
    memcpy(mine + 1, pairs, 2 * (size_t)channels * sizeof(double));
    const double *all;
    Error e;
    if (dist_allgather_f64(s->dist, mine, n, &all, &e)) {
        fprintf(stderr, "yolov5c train: rank %d: --sync-bn: %s\n", s->dist->rank, e.msg);
        dist_abort(s->dist, 1);
    }
    return all;
}

static void sync_stats(void *ctx, int channels, double *count, double *mean_m2)
{
    DistBnSync *s = ctx;
    const size_t n = 1 + 2 * (size_t)channels;
    const double *all = gather_rows(s, *count, mean_m2, channels);
    const int world = s->dist->world;
    double total = 0;
    for (int r = 0; r < world; r++) total += all[r * n];
    for (int ch = 0; ch < channels; ch++) {
        double weighted = 0;
        for (int r = 0; r < world; r++) weighted += all[r * n] * all[r * n + 1 + 2 * ch];
        const double mean = weighted / total;
        double m2 = 0;
        for (int r = 0; r < world; r++) {
            const double *v = all + r * n;
            const double d = v[1 + 2 * ch] - mean;
            m2 += v[2 + 2 * ch] + v[0] * d * d;
        }
        mean_m2[2 * ch] = mean;
        mean_m2[2 * ch + 1] = m2;
    }
    *count = total;
}

static void sync_sums(void *ctx, int channels, double *count, double *sums)
{
    DistBnSync *s = ctx;
    const size_t n = 1 + 2 * (size_t)channels;
    const double *all = gather_rows(s, *count, sums, channels);
    const int world = s->dist->world;
    double total = 0;
    for (int r = 0; r < world; r++) total += all[r * n];
    for (size_t k = 1; k < n; k++) {
        double t = 0;
        for (int r = 0; r < world; r++) t += all[r * n + k];
        sums[k - 1] = t;
    }
    *count = total;
}

void dist_bn_sync_init(DistBnSync *s, Dist *d)
{
    memset(s, 0, sizeof *s);
    s->dist = d;
    s->hook.ctx = s;
    s->hook.stats = sync_stats;
    s->hook.sums = sync_sums;
}

void dist_bn_sync_free(DistBnSync *s)
{
    free(s->packed);
    memset(s, 0, sizeof *s);
}
