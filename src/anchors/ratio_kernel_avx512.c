/* The AutoAnchor ratio kernel (ratio_kernel.h) compiled for avx512. */
#include "anchors/ratio_kernel.h"

void best_ratio_avx512(const float *w, const float *h, size_t count, const float *anchors, int n_anchors, float *best)
{
    best_ratio_body(w, h, count, anchors, n_anchors, best);
}
