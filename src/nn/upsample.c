/* Nearest-neighbour ×2 upsampling: every input pixel becomes a 2x2 block. */
#include "upsample.h"

#include <stddef.h>

#include "nn/parallel_for.h"

#define UPSAMPLE_PARALLEL_MIN 16384

typedef struct {
    int h, w;
    const float *src;
    float *dst;
} UpCtx;

static void forward_range(const void *p, long long lo, long long hi)
{
    const UpCtx *c = p;
    const size_t plane_in = (size_t)c->h * c->w;
    const int w = c->w, w2 = 2 * w;
    for (long long pl = lo; pl < hi; pl++) {
        const float *xp = c->src + (size_t)pl * plane_in;
        float *yp = c->dst + (size_t)pl * plane_in * 4;
        for (int iy = 0; iy < c->h; iy++) {
            const float *src = xp + (size_t)iy * w;
            float *top = yp + (size_t)(2 * iy) * w2;
            float *bottom = top + w2;
            for (int ix = 0; ix < w; ix++) {
                float v = src[ix];
                top[2 * ix] = v;
                top[2 * ix + 1] = v;
                bottom[2 * ix] = v;
                bottom[2 * ix + 1] = v;
            }
        }
    }
}

static void backward_range(const void *p, long long lo, long long hi)
{
    const UpCtx *c = p;
    const size_t plane_in = (size_t)c->h * c->w;
    const int w = c->w, w2 = 2 * w;
    for (long long pl = lo; pl < hi; pl++) {
        const float *gp = c->src + (size_t)pl * plane_in * 4;
        float *dp = c->dst + (size_t)pl * plane_in;
        for (int iy = 0; iy < c->h; iy++) {
            const float *top = gp + (size_t)(2 * iy) * w2;
            const float *bottom = top + w2;
            float *dst = dp + (size_t)iy * w;
            for (int ix = 0; ix < w; ix++)
                dst[ix] += (top[2 * ix] + top[2 * ix + 1]) + (bottom[2 * ix] + bottom[2 * ix + 1]);
        }
    }
}

void upsample2x_forward(int planes, int h, int w, const float *x, float *y)
{
    UpCtx c = {h, w, x, y};
    parallel_for(planes, (size_t)planes * h * w, UPSAMPLE_PARALLEL_MIN, forward_range, &c);
}

void upsample2x_backward(int planes, int h, int w, const float *dy, float *dx)
{
    UpCtx c = {h, w, dy, dx};
    parallel_for(planes, (size_t)planes * h * w, UPSAMPLE_PARALLEL_MIN, backward_range, &c);
}
