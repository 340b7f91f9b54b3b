/* Channel concatenation of `count` NCHW tensors sharing n, h, w. */
#ifndef YV5_CONCAT_H
#define YV5_CONCAT_H

/* xs[i]: (n, cs[i], hw) -> y: (n, sum cs, hw) in list order. */
void concat_forward(int n, int hw, int count, const float *const *xs, const int *cs, float *y);
/* dxs[i] += the channel slice of dy that xs[i] produced (NULL entries skipped). */
void concat_backward(int n, int hw, int count, const int *cs, const float *dy, float *const *dxs);

#endif
