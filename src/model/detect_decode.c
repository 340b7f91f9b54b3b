/* Detect inference decode (see detect_decode.h). Parallel over (image, level,
 * anchor) planes; every output row is written by exactly one thread. */
#include "model/detect_decode.h"

#include <math.h>

size_t detect_boxes(const DetectGeometry *g)
{
    size_t boxes = 0;
    for (int l = 0; l < g->nl; l++) boxes += (size_t)g->na * g->h[l] * g->w[l];
    return boxes;
}

static inline float sigmoidf(float v) { return 1.0f / (1.0f + expf(-v)); }

void detect_decode(const DetectGeometry *g, int n, const float *const *pred, float *out)
{
    const int na = g->na, no = g->no;
    const size_t boxes = detect_boxes(g);
    size_t level_begin = 0; /* first box of the level within an image */
    for (int l = 0; l < g->nl; l++) {
        const int ny = g->h[l], nx = g->w[l];
        const size_t plane = (size_t)ny * nx;
        const float s = g->stride[l];
#pragma omp parallel for collapse(2) schedule(static) if ((size_t)n * na * plane * no >= 65536)
        for (int b = 0; b < n; b++) {
            for (int a = 0; a < na; a++) {
                /* Pixel anchor as the reference builds its anchor grid: anchors * stride. */
                const float aw = g->anchors[(l * na + a) * 2] * s;
                const float ah = g->anchors[(l * na + a) * 2 + 1] * s;
                const float *src = pred[l] + ((size_t)b * na + a) * plane * no;
                float *dst = out + ((size_t)b * boxes + level_begin + (size_t)a * plane) * no;
                for (int y = 0; y < ny; y++) {
                    for (int x = 0; x < nx; x++) {
                        const size_t cell = ((size_t)y * nx + x) * no;
                        const float *p = src + cell;
                        float *q = dst + cell;
                        for (int k = 0; k < no; k++) q[k] = sigmoidf(p[k]);
                        q[0] = (q[0] * 2.0f + ((float)x - 0.5f)) * s;
                        q[1] = (q[1] * 2.0f + ((float)y - 0.5f)) * s;
                        const float tw = q[2] * 2.0f, th = q[3] * 2.0f;
                        q[2] = tw * tw * aw;
                        q[3] = th * th * ah;
                    }
                }
            }
        }
        level_begin += (size_t)na * plane;
    }
}
