/* The AutoAnchor hot loop, best[i] = max over anchors of the ratio metric of
 * label i, compiled once per ISA (ratio_kernel_avx2.c, ratio_kernel_avx512.c,
 * and generic in anchor_metric.c) from the one body below and picked at run
 * time. Division, min and max are exact in every ISA and nothing is fused,
 * so all variants give the same bits. Internal to src/anchors (and tests). */
#ifndef YV5_RATIO_KERNEL_H
#define YV5_RATIO_KERNEL_H

#include <stddef.h>

#include "core/cpu.h"

/* min(r, 1/r) is r when r <= 1 and fl(1/r) when r > 1 (rounding is
 * monotonic), and fl(1/.) is decreasing, so the metric
 * min(min(rw, 1/rw), min(rh, 1/rh)) equals min(rw, rh, fl(1/max(rw, rh)))
 * bit for bit (check the cases rw, rh <= 1 / both > 1 / one each): three
 * divisions per label and anchor instead of four. Written with plain
 * variable comparisons, which GCC turns into vector min/max. */
static inline float ratio_metric(float rw, float rh)
{
    float lo = rw < rh ? rw : rh, hi = rh < rw ? rw : rh;
    float inv = 1.0f / hi;
    return lo < inv ? lo : inv;
}

/* best[0..count) = max over the n_anchors (w, h) anchors of the metric of
 * (w[i], h[i]); one pass per anchor so the loop over labels vectorises. */
static inline void best_ratio_body(const float *restrict w, const float *restrict h, size_t count,
                                   const float *anchors, int n_anchors, float *restrict best)
{
    for (size_t i = 0; i < count; i++) best[i] = 0.0f;
    for (int j = 0; j < n_anchors; j++) {
        const float aw = anchors[2 * j], ah = anchors[2 * j + 1];
        for (size_t i = 0; i < count; i++) {
            float x = ratio_metric(w[i] / aw, h[i] / ah);
            best[i] = x > best[i] ? x : best[i];
        }
    }
}

typedef void (*BestRatioFn)(const float *w, const float *h, size_t count, const float *anchors, int n_anchors,
                            float *best);

void best_ratio_generic(const float *w, const float *h, size_t count, const float *anchors, int n_anchors,
                        float *best);
void best_ratio_avx2(const float *w, const float *h, size_t count, const float *anchors, int n_anchors,
                     float *best);
void best_ratio_avx512(const float *w, const float *h, size_t count, const float *anchors, int n_anchors,
                       float *best);

/* The variant for isa, or for the best ISA of this CPU (capped by YV5_ISA)
 * when isa < 0. */
BestRatioFn best_ratio_kernel(int isa);

#endif
