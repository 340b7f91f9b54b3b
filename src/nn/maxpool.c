/* MaxPool2d with PyTorch's CPU scan: the running maximum starts at -inf with the
 * window's first in-image element as its index, and an element replaces it only
 * when strictly greater or NaN (so the first maximum wins a tie and the last NaN
 * wins over everything). Padding is never visited, so it can never be chosen.
 * OpenMP over planes; each plane's gradient is scattered by one thread. */
#include "maxpool.h"

#include <math.h>
#include <stddef.h>

#define POOL_PARALLEL_MIN 16384

int maxpool2d_out_dim(const MaxPool2d *p, int in)
{
    int span = in + 2 * p->pad - p->k;
    if (span < 0 || p->stride <= 0) return 0;
    return span / p->stride + 1;
}

void maxpool2d_forward(const MaxPool2d *p, int planes, int h, int w, const float *x, float *y,
                       int32_t *argmax)
{
    const int ho = maxpool2d_out_dim(p, h), wo = maxpool2d_out_dim(p, w);
    const size_t plane_in = (size_t)h * w, plane_out = (size_t)ho * wo;
    if (plane_out == 0) return;
#pragma omp parallel for schedule(static) if ((size_t)planes * plane_out >= POOL_PARALLEL_MIN)
    for (int pl = 0; pl < planes; pl++) {
        const float *xp = x + (size_t)pl * plane_in;
        float *yp = y + (size_t)pl * plane_out;
        int32_t *ap = argmax + (size_t)pl * plane_out;
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

void maxpool2d_backward(const MaxPool2d *p, int planes, int h, int w, const int32_t *argmax,
                        const float *dy, float *dx)
{
    const int ho = maxpool2d_out_dim(p, h), wo = maxpool2d_out_dim(p, w);
    const size_t plane_in = (size_t)h * w, plane_out = (size_t)ho * wo;
    if (plane_out == 0) return;
#pragma omp parallel for schedule(static) if ((size_t)planes * plane_out >= POOL_PARALLEL_MIN)
    for (int pl = 0; pl < planes; pl++) {
        const int32_t *ap = argmax + (size_t)pl * plane_out;
        const float *gp = dy + (size_t)pl * plane_out;
        float *dp = dx + (size_t)pl * plane_in;
        for (size_t i = 0; i < plane_out; i++)
            if (ap[i] >= 0) dp[ap[i]] += gp[i];
    }
}
