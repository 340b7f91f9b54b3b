/* The genetic refinement of YOLOv5 v7.0's kmean_anchors (spec §7): starting
 * from the k-means anchors, each generation multiplies every anchor side by a
 * random factor and keeps the mutated set when its fitness (anchor_fitness)
 * is strictly higher.
 *
 * One mutation: m[i] = [U(0,1) < mutation_prob] (i over the n x 2 sides),
 * u = one U(0,1) shared by all sides, g[i] ~ N(0,1);
 * v[i] = clip(m[i] * u * g[i] * sigma + 1, 0.3, 3.0), drawn again while every
 * v[i] == 1; candidate = max(anchors * v, 2.0) (element-wise).
 * Draw order from the Rng per attempt: the n*2 mask uniforms, u, the n*2
 * normals (NumPy's order; the streams themselves are ours). */
#ifndef YV5_ANCHOR_EVOLVE_H
#define YV5_ANCHOR_EVOLVE_H

#include "anchors/anchor_metric.h"
#include "core/rng.h"

typedef struct {
    int generations;      /* YOLOv5: 1000 */
    double mutation_prob; /* 0.9 */
    double sigma;         /* 0.1 */
    double anchor_t;      /* hyp anchor_t (fitness threshold 1/anchor_t) */
    /* Mutation factors v, generations x n x 2, or NULL to draw them (tests
     * inject the reference's here). */
    const double *mutations;
    /* Called after every generation (may be NULL): generation index + 1,
     * the total, the current best fitness and whether it just improved. */
    void (*progress)(void *ctx, int done, int total, double fitness, int improved);
    void *progress_ctx;
} EvolveOptions;

/* The defaults above for the given anchor_t. */
EvolveOptions evolve_defaults(double anchor_t);

/* v from one attempt's draws (mask_u, normal: count values; u one value).
 * Returns 1 when some v[i] != 1 (the attempt counts), 0 when all are 1
 * (YOLOv5 draws again). */
int anchor_mutation_from_draws(const double *mask_u, double u, const double *normal, int count,
                               double mutation_prob, double sigma, double *v);

/* Draws attempts from rng until one changes something; writes v (count values). */
void anchor_mutation_draw(Rng *rng, int count, double mutation_prob, double sigma, double *v);

/* Evolves anchors (n x 2, pixels, double; n <= MODEL_MAX_LEVELS *
 * MODEL_MAX_ANCHORS) in place against the label sizes wh. Returns the final
 * fitness (NaN for a bad n or no memory). rng may be NULL when o->mutations
 * is given. */
double anchor_evolve(const BoxWH *wh, double *anchors, int n, const EvolveOptions *o, Rng *rng);

#endif
