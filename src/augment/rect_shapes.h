/* Rectangular batch shapes (spec §5.12): images sorted by aspect ratio
 * ar = h/w (double), batch b = positions [b·bs, (b+1)·bs); per batch with
 * lo/hi the min/max ar: shape (hi, 1) if hi < 1, (1, 1/lo) if lo > 1, else
 * (1, 1) (as (h, w) fractions); batch shape = ceil(shape·img_size/stride + pad)
 * ·stride (pad 0 for training, 0.5 for validation).
 *
 * Ordering: YOLOv5 uses NumPy's argsort (an unstable quicksort); here the sort
 * is stable (equal ratios keep dataset order). The batch shapes are the same
 * either way; only which of several equal-ratio images lands in which batch
 * can differ at a batch boundary. */
#ifndef YV5_AUG_RECT_SHAPES_H
#define YV5_AUG_RECT_SHAPES_H

#include "core/error.h"

/* Number of batches: ceil(n / batch_size). */
static inline int aug_rect_batch_count(int n, int batch_size) { return (n + batch_size - 1) / batch_size; }

/* widths/heights: original image sizes (n >= 1). order[n] receives the
 * dataset index at each sorted position (the rect dataset order);
 * batch_hw[2·nb] the (H, W) of each batch. Image order[p] belongs to batch
 * p / batch_size. */
int aug_rect_batch_shapes(const int *widths, const int *heights, int n, int batch_size, int img_size, int stride,
                          double pad, int *order, int *batch_hw, Error *e);

#endif
