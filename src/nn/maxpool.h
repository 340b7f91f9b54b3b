/* MaxPool2d (dilation 1, floor mode), padding acting as -inf, as torch.nn.MaxPool2d.
 * Forward records, for each output, the index (y*w + x within its plane) of the
 * first maximum in window scan order (rows, then columns; a later element wins
 * only if strictly greater, or NaN), which is PyTorch's tie rule. */
#ifndef YV5_MAXPOOL_H
#define YV5_MAXPOOL_H

#include <stdint.h>

typedef struct {
    int k, stride, pad;
} MaxPool2d;

int maxpool2d_out_dim(const MaxPool2d *p, int in);
/* x: (planes, h, w) with planes = n*c; y and argmax: (planes, ho, wo). */
void maxpool2d_forward(const MaxPool2d *p, int planes, int h, int w, const float *x, float *y,
                       int32_t *argmax);
/* dx += gradient routed to each window's arg-max. */
void maxpool2d_backward(const MaxPool2d *p, int planes, int h, int w, const int32_t *argmax,
                        const float *dy, float *dx);

#endif
