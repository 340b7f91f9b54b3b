/* How well a set of anchors fits a set of label sizes, as YOLOv5 v7.0's
 * AutoAnchor measures it (utils/autoanchor.py, spec §7).
 *
 * For a label of size (w, h) pixels and an anchor (aw, ah), the ratio metric
 * is x = min(min(r_w, 1/r_w), min(r_h, 1/r_h)) with r = label / anchor: 1 for
 * a perfect fit, falling towards 0. A label is "matched" by an anchor when
 * x > 1/anchor_t (the loss's ratio test, anchor_t from the hyp). All of it
 * is float32 arithmetic in the order PyTorch does it, so a value that sits
 * exactly on the threshold is decided as YOLOv5 decides it.
 *
 * Sizes are kept as two float arrays (structure of arrays) so the loops over
 * labels vectorise; the fitness of the genetic algorithm runs over ~1e5 labels
 * a thousand times, so it is blocked, parallel (OpenMP) and deterministic: the
 * block sums are added in block order, whatever the number of threads. */
#ifndef YV5_ANCHOR_METRIC_H
#define YV5_ANCHOR_METRIC_H

#include <stddef.h>

/* Label sizes in pixels: w[i], h[i] for i < n. */
typedef struct {
    size_t n;
    float *w, *h;
} BoxWH;

/* Allocates n sizes (n may be 0); returns -1 when out of memory. */
int boxwh_alloc(BoxWH *b, size_t n);
void boxwh_free(BoxWH *b);

/* check_anchors' metric: aat = mean over labels of the number of anchors with
 * x > thr ("anchors above threshold"), bpr = fraction of labels whose best
 * anchor has x > thr ("best possible recall"), thr = 1/anchor_t. Both are
 * float32 values as torch computes them (compare bpr with 0.98f, not 0.98).
 * anchors: n_anchors (w, h) pairs in pixels. With no labels both are NaN. */
typedef struct {
    float aat, bpr;
} AnchorFit;
AnchorFit anchor_metric(const BoxWH *wh, const float *anchors, int n_anchors, double anchor_t);

/* The genetic algorithm's fitness: mean over labels of best * [best > thr]
 * where best is the label's largest x and thr = 1/anchor_t, as the float32
 * value torch computes (its summation order: torch_sum_f32), so that the
 * GA's "strictly better" decisions are YOLOv5's even where two candidates
 * differ by less than float32 resolution. anchors (double, as the GA keeps
 * them) are rounded to float32 first, as YOLOv5 does. Returns 0 for no
 * labels, NaN when out of memory or n_anchors is outside
 * 1..MODEL_MAX_LEVELS * MODEL_MAX_ANCHORS. */
double anchor_fitness(const BoxWH *wh, const double *anchors, int n_anchors, double anchor_t);
/* The same with caller scratch of wh->n floats (no allocation). */
float anchor_fitness_scratch(const BoxWH *wh, const double *anchors, int n_anchors, double anchor_t,
                             float *scratch);

/* torch.sum of a contiguous float32 tensor of n elements on the CPU, one
 * thread, AVX2 kernels (PyTorch 1.13's default capability): its cascade of
 * partial sums reproduced in the same order, so the result is bit-identical.
 * (PyTorch splits tensors above 32768 elements across its threads; that
 * order depends on the thread count and is not reproduced.) */
float torch_sum_f32(const float *x, size_t n);

/* What kmean_anchors prints for its result (print_results), computed in
 * double precision as YOLOv5 does for float64 anchors: bpr = fraction of
 * labels with best > thr, aat = mean count of anchors with x > thr, x_mean =
 * mean x over all (label, anchor) pairs, best_mean = mean best, past_thr_mean
 * = mean of the x values above thr (NaN when none). */
typedef struct {
    double bpr, aat, x_mean, best_mean, past_thr_mean;
} AnchorStats;
AnchorStats anchor_stats(const BoxWH *wh, const double *anchors, int n_anchors, double anchor_t);

/* The ratio metric of one label against one anchor (float32, as above). */
float anchor_ratio(float w, float h, float aw, float ah);

#endif
