/* Multi-scale batch sizes and PyTorch's bilinear resize (multiscale.h). */
#include "train/multiscale.h"

#include <math.h>
#include <stddef.h>
#include <stdint.h>

int multiscale_draw_size(int imgsz, int gs, Rng *rng)
{
    /* randrange(imgsz * 0.5, imgsz * 1.5 + gs): imgsz is a multiple of gs
     * (>= 32), so both bounds are whole numbers and Python accepts them. */
    int64_t lo = (int64_t)(imgsz * 0.5), hi = (int64_t)(imgsz * 1.5 + gs);
    int64_t r = rng_int(rng, lo, hi - 1);
    return (int)(r / gs * gs);
}

int multiscale_max_size(int imgsz, int gs)
{
    int64_t hi = (int64_t)(imgsz * 1.5 + gs);
    return (int)((hi - 1) / gs * gs);
}

int multiscale_shape(int h, int w, int sz, int gs, int *out_h, int *out_w)
{
    double sf = (double)sz / (double)(h > w ? h : w);
    *out_h = h;
    *out_w = w;
    if (sf == 1.0) return 0;
    *out_h = (int)ceil((double)h * sf / (double)gs) * gs;
    *out_w = (int)ceil((double)w * sf / (double)gs) * gs;
    return 1;
}

/* Source index and weights along one axis, as torch 1.13's linear
 * interpolation computes them (align_corners=False, no explicit scale): the
 * scale in float, the source position in double and not rounded, the weight
 * of the second tap rounded to float once, the first = 1 - it in float; an
 * unchanged size copies. Checked bit for bit against F.interpolate. */
static void axis_taps(int in, int out, int o, int *i0, int *i1, float *w0, float *w1)
{
    if (in == out) {
        *i0 = *i1 = o;
        *w0 = 1.0f;
        *w1 = 0.0f;
        return;
    }
    float scale = (float)in / (float)out;
    double real = (double)scale * ((double)o + 0.5) - 0.5;
    if (real < 0.0) real = 0.0;
    int64_t idx = (int64_t)real;
    if (idx > in - 1) idx = in - 1;
    float lambda = (float)(real - (double)idx);
    if (lambda < 0.0f) lambda = 0.0f;
    if (lambda > 1.0f) lambda = 1.0f;
    *i0 = (int)idx;
    *i1 = (int)idx + (idx < in - 1 ? 1 : 0);
    *w1 = lambda;
    *w0 = 1.0f - lambda;
}

void resize_bilinear_planes(const float *src, int planes, int ih, int iw, float *dst, int oh, int ow)
{
#pragma omp parallel for schedule(static)
    for (int p = 0; p < planes; p++) {
        const float *s = src + (size_t)p * ih * iw;
        float *d = dst + (size_t)p * oh * ow;
        for (int y = 0; y < oh; y++) {
            int y0, y1;
            float wy0, wy1;
            axis_taps(ih, oh, y, &y0, &y1, &wy0, &wy1);
            const float *r0 = s + (size_t)y0 * iw, *r1 = s + (size_t)y1 * iw;
            for (int x = 0; x < ow; x++) {
                int x0, x1;
                float wx0, wx1;
                axis_taps(iw, ow, x, &x0, &x1, &wx0, &wx1);
                /* torch: t_k = row_k[x0]*wx0 + row_k[x1]*wx1; out = t_0*wy0 + t_1*wy1 */
                float t0 = r0[x0] * wx0;
                t0 += r0[x1] * wx1;
                float t1 = r1[x0] * wx0;
                t1 += r1[x1] * wx1;
                float o = t0 * wy0;
                o += t1 * wy1;
                d[(size_t)y * ow + x] = o;
            }
        }
    }
}
