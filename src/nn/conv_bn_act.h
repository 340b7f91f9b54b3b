/* YOLOv5's Conv unit, Conv2d (no bias) -> BatchNorm2d -> SiLU (or identity),
 * as one fused layer over a batch. Same semantics as conv2d_forward +
 * batchnorm_forward_train/eval + silu_forward and their backwards (PyTorch's),
 * computed with the same per-element arithmetic; what changes is the schedule:
 *
 *  - Work is split into tasks of (image, tile of output rows) (conv_tile.h):
 *    each task builds its im2col tile in its thread's L2, runs a one-thread
 *    GEMM on it and, while the output tile is still cached, takes its BN
 *    statistics (training) or applies BN + SiLU (eval). Tasks are handed out
 *    dynamically, so a thread slowed by other load does not hold the rest up.
 *    With fewer tasks than two, the GEMM itself uses the threads instead.
 *  - Statistics are per-task partial means and squared deviations in double,
 *    combined in task order (Chan's formula); the backward's BN sums likewise.
 *  - The SiLU input is not stored: the backward recomputes it from the saved
 *    conv output z (turning dy into dL/da in place while it takes the BN
 *    sums), and computes dL/dz tile by tile right before the two GEMMs that
 *    use it (weight gradient and input gradient), so the step makes two
 *    passes over z and dy instead of five over several buffers.
 *  - Weight gradients go into per-group buffers (fixed groups of images,
 *    summed in order at the end), so images can run in parallel.
 *  - The weights are packed for the GEMM once per call, not once per tile.
 * Every split depends on the shapes only, never on the thread count, so the
 * results are the same for any number of threads.
 *
 * Weight layout (c_out, c_in, k, k); activations NCHW. The backward
 * ACCUMULATES into dx, dweight, dgamma and dbeta. */
#ifndef YV5_CONV_BN_ACT_H
#define YV5_CONV_BN_ACT_H

#include <stddef.h>

#include "nn/bn_sync.h"
#include "nn/conv2d.h"

typedef struct {
    Conv2d conv;
    int act;         /* 1: SiLU after the BatchNorm, 0: identity */
    float eps;       /* BatchNorm eps (YOLOv5: 1e-3) */
    float momentum;  /* running-stat momentum, PyTorch convention (YOLOv5: 0.03) */
    /* Training: batch statistics over all processes (SyncBatchNorm, see
     * nn/bn_sync.h); NULL: this process's batch alone. */
    const struct BnSync *sync;
} ConvBnAct;

/* Floats of caller scratch each entry point needs for n images of h x w
 * (64-byte aligned scratch; contents need not be preserved between calls). */
size_t conv_bn_act_forward_scratch_floats(const ConvBnAct *u, int n, int h, int w, int train);
size_t conv_bn_act_backward_scratch_floats(const ConvBnAct *u, int n, int h, int w);

/* Training forward: z = conv(x) (saved for the backward), y = act(BN(z)) with
 * the batch statistics; save_mean / save_invstd (c_out each) as
 * batchnorm_forward_train writes them, and save_affine (2*c_out: the low part
 * of the mean and gamma*invstd, as the transform applied them) so the backward
 * can recompute the activation input bit for bit. Running stats are updated
 * in place (skipped when NULL). y must not alias z or x. */
void conv_bn_act_forward_train(const ConvBnAct *u, int n, int h, int w, const float *x, const float *weight,
                               const float *gamma, const float *beta, float *running_mean, float *running_var,
                               float *z, float *y, float *save_mean, float *save_invstd, float *save_affine,
                               float *scratch);

/* Eval forward with the running statistics: y = act(BN(conv(x))). */
void conv_bn_act_forward_eval(const ConvBnAct *u, int n, int h, int w, const float *x, const float *weight,
                              const float *gamma, const float *beta, const float *running_mean,
                              const float *running_var, float *y, float *scratch);

/* Backward of the training forward (same weight, gamma, beta; its z and
 * saved state), from dy = dL/dy: dx += dL/dx (skipped when NULL),
 * dweight += dL/dW, dgamma += dL/dgamma and dbeta += dL/dbeta (each skipped
 * when NULL). dy is used as scratch: it holds dL/d(BN output) afterwards
 * (saves a second evaluation of the sigmoid per element). */
void conv_bn_act_backward(const ConvBnAct *u, int n, int h, int w, const float *x, const float *weight,
                          const float *gamma, const float *beta, const float *z, const float *save_mean,
                          const float *save_invstd, const float *save_affine, float *dy, float *dx,
                          float *dweight, float *dgamma, float *dbeta, float *scratch);

/* A plain convolution with optional bias (YOLOv5's Detect output convs) on
 * the same schedule: conv2d_forward / conv2d_backward semantics (backward
 * accumulates; dx, dweight, dbias each skipped when NULL). */
size_t conv2d_batched_forward_scratch_floats(const Conv2d *cv, int n, int h, int w);
size_t conv2d_batched_backward_scratch_floats(const Conv2d *cv, int n, int h, int w);
void conv2d_forward_batched(const Conv2d *cv, int n, int h, int w, const float *x, const float *weight,
                            const float *bias, float *y, float *scratch);
void conv2d_backward_batched(const Conv2d *cv, int n, int h, int w, const float *x, const float *weight,
                             const float *dy, float *dx, float *dweight, float *dbias, float *scratch);

#endif
