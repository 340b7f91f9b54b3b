/* Detect inference decode (see detect_decode.h). Parallel over the (image,
 * anchor) planes of each level on the task pool (parallel_for; an OpenMP
 * region that runs on one thread makes libgomp allocate a team per call);
 * every output row is written by exactly one thread. */
#include "model/detect_decode.h"

#include <math.h>

#include "nn/parallel_for.h"

/* Below this many output values per level the decode stays on one thread. */
#define DECODE_PARALLEL_MIN 65536

size_t detect_boxes(const DetectGeometry *g)
{
    size_t boxes = 0;
    for (int l = 0; l < g->nl; l++) boxes += (size_t)g->na * g->h[l] * g->w[l];
    return boxes;
}

static inline float sigmoidf(float v) { return 1.0f / (1.0f + expf(-v)); }

typedef struct {
    const DetectGeometry *g;
    const float *pred;  /* this level's */
    float *out;
    size_t boxes;       /* per image, all levels */
    size_t level_begin; /* first box of the level within an image */
    int level;
} DecodeCtx;

/* Planes [lo, hi) of one level; plane index = image * na + anchor. */
static void decode_planes(const void *p, long long lo, long long hi)
{
    const DecodeCtx *c = p;
    const DetectGeometry *g = c->g;
    const int na = g->na, no = g->no, l = c->level;
    const int ny = g->h[l], nx = g->w[l];
    const size_t plane = (size_t)ny * nx;
    const float s = g->stride[l];
    for (long long ba = lo; ba < hi; ba++) {
        const int b = (int)(ba / na), a = (int)(ba % na);
        /* Pixel anchor as the reference builds its anchor grid: anchors * stride. */
        const float aw = g->anchors[(l * na + a) * 2] * s;
        const float ah = g->anchors[(l * na + a) * 2 + 1] * s;
        const float *src = c->pred + ((size_t)b * na + a) * plane * no;
        float *dst = c->out + ((size_t)b * c->boxes + c->level_begin + (size_t)a * plane) * no;
        for (int y = 0; y < ny; y++) {
            for (int x = 0; x < nx; x++) {
                const size_t cell = ((size_t)y * nx + x) * no;
                const float *q_in = src + cell;
                float *q = dst + cell;
                for (int k = 0; k < no; k++) q[k] = sigmoidf(q_in[k]);
                q[0] = (q[0] * 2.0f + ((float)x - 0.5f)) * s;
                q[1] = (q[1] * 2.0f + ((float)y - 0.5f)) * s;
                const float tw = q[2] * 2.0f, th = q[3] * 2.0f;
                q[2] = tw * tw * aw;
                q[3] = th * th * ah;
            }
        }
    }
}

void detect_decode(const DetectGeometry *g, int n, const float *const *pred, float *out)
{
    const int na = g->na;
    const size_t boxes = detect_boxes(g);
    size_t level_begin = 0;
    for (int l = 0; l < g->nl; l++) {
        const size_t plane = (size_t)g->h[l] * g->w[l];
        const DecodeCtx c = {g, pred[l], out, boxes, level_begin, l};
        const long long planes = (long long)n * na;
        parallel_for(planes, (size_t)planes * plane * (size_t)g->no, DECODE_PARALLEL_MIN, decode_planes, &c);
        level_begin += (size_t)na * plane;
    }
}
