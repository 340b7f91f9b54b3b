/* Nearest-neighbour ×2 upsampling: every input pixel becomes a 2x2 block. */
#include "upsample.h"

#include <stddef.h>

#define UPSAMPLE_PARALLEL_MIN 16384

void upsample2x_forward(int planes, int h, int w, const float *x, float *y)
{
    const size_t plane_in = (size_t)h * w;
    const int w2 = 2 * w;
#pragma omp parallel for schedule(static) if ((size_t)planes * plane_in >= UPSAMPLE_PARALLEL_MIN)
    for (int pl = 0; pl < planes; pl++) {
        const float *xp = x + (size_t)pl * plane_in;
        float *yp = y + (size_t)pl * plane_in * 4;
        for (int iy = 0; iy < h; iy++) {
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

void upsample2x_backward(int planes, int h, int w, const float *dy, float *dx)
{
    const size_t plane_in = (size_t)h * w;
    const int w2 = 2 * w;
#pragma omp parallel for schedule(static) if ((size_t)planes * plane_in >= UPSAMPLE_PARALLEL_MIN)
    for (int pl = 0; pl < planes; pl++) {
        const float *gp = dy + (size_t)pl * plane_in * 4;
        float *dp = dx + (size_t)pl * plane_in;
        for (int iy = 0; iy < h; iy++) {
            const float *top = gp + (size_t)(2 * iy) * w2;
            const float *bottom = top + w2;
            float *dst = dp + (size_t)iy * w;
            for (int ix = 0; ix < w; ix++)
                dst[ix] += (top[2 * ix] + top[2 * ix + 1]) + (bottom[2 * ix] + bottom[2 * ix + 1]);
        }
    }
}
