/* Nearest-neighbour upsampling by 2: out[y][x] = in[y/2][x/2]. */
#ifndef YV5_UPSAMPLE_H
#define YV5_UPSAMPLE_H

/* x: (planes, h, w) -> y: (planes, 2h, 2w). */
void upsample2x_forward(int planes, int h, int w, const float *x, float *y);
/* dx (planes, h, w) += sum of each 2x2 block of dy (planes, 2h, 2w). */
void upsample2x_backward(int planes, int h, int w, const float *dy, float *dx);

#endif
