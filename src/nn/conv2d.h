/* 2-D convolution (groups 1, dilation 1, zero padding), PyTorch semantics.
 * Weight layout (c_out, c_in, k, k) as torch.nn.Conv2d; optional bias (c_out).
 * Activations NCHW. Backward ACCUMULATES (+=) into dx, dweight and dbias, so
 * fan-out in a graph needs no extra buffers: zero the gradients once per step. */
#ifndef YV5_CONV2D_H
#define YV5_CONV2D_H

#include <stddef.h>

#include "core/gemm.h"

typedef struct {
    int c_in, c_out, k, stride, pad;
    /* The products' operand precision (the batched convolutions of
     * nn/conv_bn_act.h; conv2d_forward/backward are fp32 always). Zero-initialised
     * means GEMM_FP32. */
    GemmPrecision precision;
} Conv2d;

/* floor((in + 2*pad - k) / stride) + 1 */
int conv2d_out_dim(int in, int k, int stride, int pad);

/* Output columns [*lo, *hi) whose input column ox*stride - pad + kw lies in
 * [0, w): the columns im2col copies for kernel column kw, the rest being
 * zero padding (inline: the im2col loops call it per row). */
static inline void conv2d_valid_out_range(int w, int wo, int stride, int pad, int kw, int *lo, int *hi)
{
    int first = pad - kw; /* smallest ox*stride that is valid */
    int a = first <= 0 ? 0 : (first + stride - 1) / stride;
    int last = w - 1 + pad - kw; /* largest valid ox*stride */
    int b = last < 0 ? 0 : last / stride + 1;
    if (a > wo) a = wo;
    if (b > wo) b = wo;
    if (b < a) b = a;
    *lo = a;
    *hi = b;
}
/* Floats of scratch that forward/backward need for a batch of n images of h x w
 * (im2col columns and per-thread buffers; may be 0, e.g. for 1x1 stride 1). */
size_t conv2d_scratch_floats(const Conv2d *cv, int n, int h, int w);

/* y (n, c_out, ho, wo) = conv(x (n, c_in, h, w), weight) + bias; bias may be NULL. */
void conv2d_forward(const Conv2d *cv, int n, int h, int w, const float *x, const float *weight,
                    const float *bias, float *y, float *scratch);
/* dx += dL/dx (skipped when dx is NULL), dweight += dL/dW, dbias += dL/db (skipped when NULL). */
void conv2d_backward(const Conv2d *cv, int n, int h, int w, const float *x, const float *weight,
                     const float *dy, float *dx, float *dweight, float *dbias, float *scratch);

#endif
