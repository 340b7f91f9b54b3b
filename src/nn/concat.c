/* Channel concatenation: for every image, the inputs' channel blocks are
 * contiguous runs of cs[i]*hw floats laid end to end. */
#include "concat.h"

#include <stddef.h>
#include <string.h>

#include "nn/parallel_for.h"

#define CONCAT_PARALLEL_MIN 65536

/* Channel offset of input i within the output, and the total channel count. */
static int channel_offset(const int *cs, int i)
{
    int off = 0;
    for (int j = 0; j < i; j++) off += cs[j];
    return off;
}

typedef struct {
    int hw, count;
    const int *cs;
    const float *const *xs;
    float *const *dxs;
    const float *dy;
    float *y;
    size_t out_image;
} ConcatCtx;

/* Items are (image, input) blocks; blocks are disjoint. */
static void forward_range(const void *p, long long lo, long long hi)
{
    const ConcatCtx *c = p;
    for (long long item = lo; item < hi; item++) {
        int b = (int)(item / c->count), i = (int)(item % c->count);
        const size_t block = (size_t)c->cs[i] * c->hw;
        float *dst = c->y + (size_t)b * c->out_image + (size_t)channel_offset(c->cs, i) * c->hw;
        memcpy(dst, c->xs[i] + (size_t)b * block, sizeof(float) * block);
    }
}

static void backward_range(const void *p, long long lo, long long hi)
{
    const ConcatCtx *c = p;
    for (long long item = lo; item < hi; item++) {
        int b = (int)(item / c->count), i = (int)(item % c->count);
        if (!c->dxs[i]) continue;
        const size_t block = (size_t)c->cs[i] * c->hw;
        const float *src = c->dy + (size_t)b * c->out_image + (size_t)channel_offset(c->cs, i) * c->hw;
        float *dst = c->dxs[i] + (size_t)b * block;
#pragma omp simd
        for (size_t j = 0; j < block; j++) dst[j] += src[j];
    }
}

void concat_forward(int n, int hw, int count, const float *const *xs, const int *cs, float *y)
{
    const size_t out_image = (size_t)channel_offset(cs, count) * hw;
    ConcatCtx c = {hw, count, cs, xs, NULL, NULL, y, out_image};
    parallel_for((long long)n * count, (size_t)n * out_image, CONCAT_PARALLEL_MIN, forward_range, &c);
}

void concat_backward(int n, int hw, int count, const int *cs, const float *dy, float *const *dxs)
{
    const size_t out_image = (size_t)channel_offset(cs, count) * hw;
    ConcatCtx c = {hw, count, cs, NULL, dxs, dy, NULL, out_image};
    parallel_for((long long)n * count, (size_t)n * out_image, CONCAT_PARALLEL_MIN, backward_range, &c);
}
