/* SiLU(x) = x * sigmoid(x), elementwise. */
#ifndef YV5_SILU_H
#define YV5_SILU_H

#include <stddef.h>

/* y may alias x. */
void silu_forward(size_t count, const float *x, float *y);
/* dx += dy * sigmoid(x) * (1 + x * (1 - sigmoid(x))), with x the pre-activation. */
void silu_backward(size_t count, const float *x, const float *dy, float *dx);

#endif
