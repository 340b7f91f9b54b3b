/* k-means on 2-D float32 points with the semantics of SciPy's
 * scipy.cluster.vq.kmeans(obs, k, iter, thresh), which YOLOv5's AutoAnchor
 * calls on the whitened label sizes:
 *
 *   - each of `restarts` runs starts from k distinct observations picked at
 *     random (scipy: rng.choice(n, k, replace=False));
 *   - a run alternates assignment (each point to its nearest centre by
 *     Euclidean distance, the lowest index on ties) and update (each centre
 *     to the mean of its points; a centre left without points is dropped, so
 *     a run can end with fewer than k centres) until the mean distance falls
 *     by no more than `thresh` from one assignment to the next (at least two
 *     assignments; an increase also stops it);
 *   - a run's distortion is the mean point-to-centre distance of its last
 *     assignment, and its codebook the centres updated after it;
 *   - the run with the lowest distortion wins (the first on ties).
 *
 * The arithmetic is float32 as SciPy's compiled loops do it (the same
 * summation orders, NumPy's pairwise sum for the mean distance), so given the
 * same initial observations the result is SciPy's to the last bit in the
 * normal case. Runs are independent: they execute in parallel (OpenMP), the
 * initial picks are drawn from the Rng up front, in run order. */
#ifndef YV5_KMEANS_H
#define YV5_KMEANS_H

#include <stddef.h>

#include "core/error.h"
#include "core/rng.h"

typedef struct {
    int k;            /* centres wanted (>= 1, <= n) */
    int restarts;     /* scipy's `iter` (YOLOv5: 30) */
    double thresh;    /* stopping threshold on the distortion decrease (scipy: 1e-5) */
    /* Initial observation indices, restarts x k (each run's picks, distinct),
     * or NULL to draw them from the Rng. Tests inject SciPy's picks here. */
    const int *init_index;
} KmeansOptions;

/* One run (scipy's _kmeans) from the centres guess[0..k) (k x 2): writes the
 * final centres to book (k x 2; *k_out of them remain) and returns the
 * distortion. obs is n x 2 row-major. */
float kmeans_run(const float *obs, size_t n, const float *guess, int k, double thresh, float *book, int *k_out);

/* The full kmeans: book gets up to o->k centres (*k_out of them), *distortion
 * the winner's distortion. Fails (-1) on bad arguments (k < 1, k > n,
 * restarts < 1, an injected index out of range) or when memory runs out; the
 * caller decides what a failure means (YOLOv5 falls back to random anchors). */
int kmeans_2d(const float *obs, size_t n, const KmeansOptions *o, Rng *rng, float *book, int *k_out,
              float *distortion, Error *e);

/* NumPy's float32 mean of x[0..n): pairwise summation in float32, then the
 * sum divided by n in double and rounded back to float32. */
float numpy_mean_f32(const float *x, size_t n);

#endif
