/* Convolution by tiles of output rows: im2col and col2im restricted to rows
 * [oy0, oy1) of one image, so a column tile (K x rows*wo, K = c_in*k*k) stays
 * in the L2 cache between being written and being read by the GEMM, instead of
 * materialising a whole image's columns (K x ho*wo, megabytes early in the
 * network).
 *
 * Tile layout: col[(ci*k + kh)*k + kw][(oy - oy0)*wo + ox]
 *            = x[ci][oy*s - p + kh][ox*s - p + kw]   (zero outside the image),
 * row length (leading dimension) cols = (oy1 - oy0) * wo. */
#ifndef YV5_CONV_TILE_H
#define YV5_CONV_TILE_H

#include "nn/conv2d.h"

/* Output rows per tile for this layer (a function of the shapes only, so the
 * tiling, and with it every summation order, never depends on threads). */
int conv_tile_rows(const Conv2d *cv, int ho, int wo);

/* x: one image (c_in, h, w) -> the column tile of rows [oy0, oy1). */
void im2col_rows(const Conv2d *cv, int h, int w, int wo, int oy0, int oy1, const float *x, float *col);

/* dx: one image (c_in, h, w) += col2im of the column tile of rows [oy0, oy1).
 * Each input pixel receives its terms in a fixed order (channel, kh, kw, oy, ox). */
void col2im_rows_add(const Conv2d *cv, int h, int w, int wo, int oy0, int oy1, const float *col, float *dx);

#endif
