#include "anchors/anchor_evolve.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/model_config.h"

#define MAX_SIDES (2 * MODEL_MAX_LEVELS * MODEL_MAX_ANCHORS)

EvolveOptions evolve_defaults(double anchor_t)
{
    EvolveOptions o = {0};
    o.generations = 1000;
    o.mutation_prob = 0.9;
    o.sigma = 0.1;
    o.anchor_t = anchor_t;
    return o;
}

int anchor_mutation_from_draws(const double *mask_u, double u, const double *normal, int count,
                               double mutation_prob, double sigma, double *v)
{
    int changed = 0;
    for (int i = 0; i < count; i++) {
        /* NumPy's evaluation order: ((mask * u) * g) * sigma + 1, then clip. */
        double m = mask_u[i] < mutation_prob ? 1.0 : 0.0;
        double x = m * u * normal[i] * sigma + 1.0;
        x = x < 0.3 ? 0.3 : x > 3.0 ? 3.0 : x;
        v[i] = x;
        changed |= x != 1.0;
    }
    return changed;
}

void anchor_mutation_draw(Rng *rng, int count, double mutation_prob, double sigma, double *v)
{
    double mask_u[MAX_SIDES], normal[MAX_SIDES];
    for (;;) {
        for (int i = 0; i < count; i++) mask_u[i] = rng_uniform(rng);
        double u = rng_uniform(rng);
        for (int i = 0; i < count; i++) normal[i] = rng_normal(rng);
        if (anchor_mutation_from_draws(mask_u, u, normal, count, mutation_prob, sigma, v)) return;
    }
}

double anchor_evolve(const BoxWH *wh, double *anchors, int n, const EvolveOptions *o, Rng *rng)
{
    const int count = 2 * n;
    if (n < 1 || count > MAX_SIDES) return NAN;
    float *scratch = malloc((wh->n ? wh->n : 1) * sizeof *scratch);
    if (!scratch) return NAN;
    /* Fitness values are torch's float32 means; "better" is a float32 comparison. */
    float fitness = anchor_fitness_scratch(wh, anchors, n, o->anchor_t, scratch);
    double v[MAX_SIDES], candidate[MAX_SIDES];
    for (int g = 0; g < o->generations; g++) {
        if (o->mutations)
            memcpy(v, o->mutations + (size_t)g * count, (size_t)count * sizeof *v);
        else
            anchor_mutation_draw(rng, count, o->mutation_prob, o->sigma, v);
        for (int i = 0; i < count; i++) {
            double x = anchors[i] * v[i];
            candidate[i] = x < 2.0 ? 2.0 : x;
        }
        float f = anchor_fitness_scratch(wh, candidate, n, o->anchor_t, scratch);
        int improved = f > fitness;
        if (improved) {
            fitness = f;
            memcpy(anchors, candidate, (size_t)count * sizeof *anchors);
        }
        if (o->progress) o->progress(o->progress_ctx, g + 1, o->generations, fitness, improved);
    }
    free(scratch);
    return fitness;
}
