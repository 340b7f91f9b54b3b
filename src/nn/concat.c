/* Channel concatenation: for every image, the inputs' channel blocks are
 * contiguous runs of cs[i]*hw floats laid end to end. */
#include "concat.h"

#include <stddef.h>
#include <string.h>

#define CONCAT_PARALLEL_MIN 65536

/* Channel offset of input i within the output, and the total channel count. */
static int channel_offset(const int *cs, int i)
{
    int off = 0;
    for (int j = 0; j < i; j++) off += cs[j];
    return off;
}

void concat_forward(int n, int hw, int count, const float *const *xs, const int *cs, float *y)
{
    const int c_total = channel_offset(cs, count);
    const size_t out_image = (size_t)c_total * hw;
    /* One task per (image, input) block; blocks are disjoint. */
#pragma omp parallel for collapse(2) schedule(static) if ((size_t)n * out_image >= CONCAT_PARALLEL_MIN)
    for (int b = 0; b < n; b++) {
        for (int i = 0; i < count; i++) {
            const size_t block = (size_t)cs[i] * hw;
            float *dst = y + (size_t)b * out_image + (size_t)channel_offset(cs, i) * hw;
            memcpy(dst, xs[i] + (size_t)b * block, sizeof(float) * block);
        }
    }
}

void concat_backward(int n, int hw, int count, const int *cs, const float *dy, float *const *dxs)
{
    const int c_total = channel_offset(cs, count);
    const size_t out_image = (size_t)c_total * hw;
#pragma omp parallel for collapse(2) schedule(static) if ((size_t)n * out_image >= CONCAT_PARALLEL_MIN)
    for (int b = 0; b < n; b++) {
        for (int i = 0; i < count; i++) {
            if (!dxs[i]) continue;
            const size_t block = (size_t)cs[i] * hw;
            const float *src = dy + (size_t)b * out_image + (size_t)channel_offset(cs, i) * hw;
            float *dst = dxs[i] + (size_t)b * block;
            for (size_t j = 0; j < block; j++) dst[j] += src[j];
        }
    }
}
