/* MaxPool2d with PyTorch's CPU scan: the running maximum starts at -inf with the
 * window's first in-image element as its index, and an element replaces it only
 * when strictly greater or NaN (so the first maximum wins a tie and the last NaN
 * wins over everything). Padding is never visited, so it can never be chosen.
 * Stride 1 (SPPF) goes in two passes, rows then columns: the scan's update
 * rule ("take the new element if greater, or NaN") is associative, so
 * combining each window row in order and then the rows in order gives the
 * row-major scan's exact result, with 2k instead of k² steps per output.
 * Planes are split among the threads; each plane's gradient is scattered by
 * one thread. */
#include "maxpool.h"

#include <math.h>
#include <stddef.h>

#include "nn/parallel_for.h"
#include "nn/thread_scratch.h"

#define POOL_PARALLEL_MIN 16384

int maxpool2d_out_dim(const MaxPool2d *p, int in)
{
    int span = in + 2 * p->pad - p->k;
    if (span < 0 || p->stride <= 0) return 0;
    return span / p->stride + 1;
}

typedef struct {
    const MaxPool2d *p;
    int h, w, ho, wo;
    const float *x;
    float *y;
    int32_t *argmax;
    const int32_t *argmax_in;
    const float *dy;
    float *dx;
} PoolCtx;

/* The scan's step: the candidate replaces the running maximum when greater, or NaN. */
static inline void take(float v, int32_t i, float *best, int32_t *best_idx)
{
    if (v > *best || isnan(v)) {
        *best = v;
        *best_idx = i;
    }
}

/* Stride 1, pad <= k/2 (every window holds an image element): row maxima
 * into per-thread scratch, then column maxima of those. */
static void forward_range_stride1(const PoolCtx *c, long long lo, long long hi)
{
    const MaxPool2d *p = c->p;
    const int h = c->h, w = c->w, ho = c->ho, wo = c->wo, k = p->k, pad = p->pad;
    const size_t plane_in = (size_t)h * w, plane_out = (size_t)ho * wo;
    float *row_max = thread_scratch_floats(2 * thread_scratch_lines((size_t)h * wo));
    int32_t *row_idx = (int32_t *)(row_max + thread_scratch_lines((size_t)h * wo));
    for (long long pl = lo; pl < hi; pl++) {
        const float *xp = c->x + (size_t)pl * plane_in;
        float *yp = c->y + (size_t)pl * plane_out;
        int32_t *ap = c->argmax + (size_t)pl * plane_out;
        for (int iy = 0; iy < h; iy++) {
            const float *row = xp + (size_t)iy * w;
            for (int ox = 0; ox < wo; ox++) {
                int x0 = ox - pad, x1 = x0 + k;
                if (x0 < 0) x0 = 0;
                if (x1 > w) x1 = w;
                float best = -INFINITY;
                int32_t best_idx = (int32_t)(iy * w + x0);
                for (int ix = x0; ix < x1; ix++) take(row[ix], (int32_t)(iy * w + ix), &best, &best_idx);
                row_max[(size_t)iy * wo + ox] = best;
                row_idx[(size_t)iy * wo + ox] = best_idx;
            }
        }
        for (int oy = 0; oy < ho; oy++) {
            int y0 = oy - pad, y1 = y0 + k;
            if (y0 < 0) y0 = 0;
            if (y1 > h) y1 = h;
            for (int ox = 0; ox < wo; ox++) {
                int x0 = ox - pad;
                if (x0 < 0) x0 = 0;
                float best = -INFINITY;
                int32_t best_idx = (int32_t)(y0 * w + x0);
                for (int iy = y0; iy < y1; iy++)
                    take(row_max[(size_t)iy * wo + ox], row_idx[(size_t)iy * wo + ox], &best, &best_idx);
                yp[(size_t)oy * wo + ox] = best;
                ap[(size_t)oy * wo + ox] = best_idx;
            }
        }
    }
}

static void forward_range(const void *ctx, long long lo, long long hi)
{
    const PoolCtx *c = ctx;
    const MaxPool2d *p = c->p;
    if (p->stride == 1 && 2 * p->pad <= p->k && c->wo == c->w) {
        forward_range_stride1(c, lo, hi);
        return;
    }
    const int h = c->h, w = c->w, ho = c->ho, wo = c->wo;
    const size_t plane_in = (size_t)h * w, plane_out = (size_t)ho * wo;
    for (long long pl = lo; pl < hi; pl++) {
        const float *xp = c->x + (size_t)pl * plane_in;
        float *yp = c->y + (size_t)pl * plane_out;
        int32_t *ap = c->argmax + (size_t)pl * plane_out;
        for (int oy = 0; oy < ho; oy++) {
            int y0 = oy * p->stride - p->pad, y1 = y0 + p->k;
            if (y0 < 0) y0 = 0;
            if (y1 > h) y1 = h;
            for (int ox = 0; ox < wo; ox++) {
                int x0 = ox * p->stride - p->pad, x1 = x0 + p->k;
                if (x0 < 0) x0 = 0;
                if (x1 > w) x1 = w;
                float best = -INFINITY;
                /* A window lying wholly in the padding (only possible with pad > k/2,
                 * which PyTorch rejects) gets -inf and index -1 (no gradient). */
                int32_t best_idx = (y0 < y1 && x0 < x1) ? (int32_t)(y0 * w + x0) : -1;
                for (int iy = y0; iy < y1; iy++) {
                    const float *row = xp + (size_t)iy * w;
                    for (int ix = x0; ix < x1; ix++) {
                        float v = row[ix];
                        if (v > best || isnan(v)) {
                            best = v;
                            best_idx = (int32_t)(iy * w + ix);
                        }
                    }
                }
                yp[(size_t)oy * wo + ox] = best;
                ap[(size_t)oy * wo + ox] = best_idx;
            }
        }
    }
}

void maxpool2d_forward(const MaxPool2d *p, int planes, int h, int w, const float *x, float *y,
                       int32_t *argmax)
{
    const int ho = maxpool2d_out_dim(p, h), wo = maxpool2d_out_dim(p, w);
    const size_t plane_out = (size_t)ho * wo;
    if (plane_out == 0) return;
    PoolCtx c = {p, h, w, ho, wo, x, y, argmax, NULL, NULL, NULL};
    parallel_for(planes, (size_t)planes * plane_out, POOL_PARALLEL_MIN, forward_range, &c);
}

static void backward_range(const void *ctx, long long lo, long long hi)
{
    const PoolCtx *c = ctx;
    const size_t plane_in = (size_t)c->h * c->w, plane_out = (size_t)c->ho * c->wo;
    for (long long pl = lo; pl < hi; pl++) {
        const int32_t *ap = c->argmax_in + (size_t)pl * plane_out;
        const float *gp = c->dy + (size_t)pl * plane_out;
        float *dp = c->dx + (size_t)pl * plane_in;
        for (size_t i = 0; i < plane_out; i++)
            if (ap[i] >= 0) dp[ap[i]] += gp[i];
    }
}

void maxpool2d_backward(const MaxPool2d *p, int planes, int h, int w, const int32_t *argmax,
                        const float *dy, float *dx)
{
    const int ho = maxpool2d_out_dim(p, h), wo = maxpool2d_out_dim(p, w);
    const size_t plane_out = (size_t)ho * wo;
    if (plane_out == 0) return;
    PoolCtx c = {p, h, w, ho, wo, NULL, NULL, NULL, argmax, dy, dx};
    parallel_for(planes, (size_t)planes * plane_out, POOL_PARALLEL_MIN, backward_range, &c);
}
