/* A small synthetic loss problem for the loss tests: YOLOv5's P3-P5 anchors,
 * random predictions and random targets from an explicit Rng. */
#ifndef YV5_TEST_LOSS_SYNTH_H
#define YV5_TEST_LOSS_SYNTH_H

#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "loss/loss.h"

typedef struct {
    LossModel model;
    LossConfig cfg;
    LossInput in;
    float anchors[3 * 3 * 2];
    float strides[3];
    float *pred[3];
    float *grad[3];
    size_t numel[3];
    float targets[64 * 6];
} Synth;

/* An image of height x width pixels, batch images, nt random targets,
 * config from the default hyperparameters. */
static inline void synth_make(Synth *s, uint64_t seed, int nc, int batch, int height, int width, int nt)
{
    static const float ANCHORS_PX[3][6] = {
        {10, 13, 16, 30, 33, 23}, {30, 61, 62, 45, 59, 119}, {116, 90, 156, 198, 373, 326}};
    memset(s, 0, sizeof *s);
    Rng rng;
    rng_seed(&rng, seed);
    s->model.nl = 3;
    s->model.na = 3;
    s->model.nc = nc;
    for (int i = 0; i < 3; i++) {
        s->strides[i] = (float)(8 << i);
        for (int k = 0; k < 6; k++) s->anchors[i * 6 + k] = ANCHORS_PX[i][k] / s->strides[i];
    }
    s->model.anchors = s->anchors;
    s->model.strides = s->strides;
    Hyp h;
    hyp_default(&h);
    Error e;
    loss_config_from_hyp(&s->cfg, &h, 3, &e);
    s->in.batch = batch;
    for (int i = 0; i < 3; i++) {
        s->in.ny[i] = height / (8 << i);
        s->in.nx[i] = width / (8 << i);
        s->numel[i] = (size_t)batch * 3 * s->in.ny[i] * s->in.nx[i] * (nc + 5);
        s->pred[i] = malloc(s->numel[i] * sizeof(float));
        s->grad[i] = malloc(s->numel[i] * sizeof(float));
        for (size_t k = 0; k < s->numel[i]; k++) {
            double z = 1.5 * rng_normal(&rng);
            if (k % (size_t)(nc + 5) == 4) z -= 2.0; /* objectness leans negative */
            s->pred[i][k] = (float)z;
        }
        s->in.pred[i] = s->pred[i];
    }
    if (nt > 64) nt = 64;
    for (int t = 0; t < nt; t++) {
        float *r = s->targets + t * 6;
        r[0] = (float)rng_int(&rng, 0, batch - 1);
        r[1] = (float)rng_int(&rng, 0, nc - 1);
        r[2] = (float)rng_uniform(&rng);
        r[3] = (float)rng_uniform(&rng);
        r[4] = (float)rng_uniform_range(&rng, 0.04, 0.7);
        r[5] = (float)rng_uniform_range(&rng, 0.04, 0.7);
    }
    s->in.targets = s->targets;
    s->in.nt = nt;
}

static inline void synth_free(Synth *s)
{
    for (int i = 0; i < 3; i++) {
        free(s->pred[i]);
        free(s->grad[i]);
    }
    memset(s, 0, sizeof *s);
}

#endif
