/* Image resizing with OpenCV 4.6's 8-bit semantics, bit for bit (3 channels):
 *
 * AUG_INTER_LINEAR (cv2.INTER_LINEAR): half-pixel centres,
 *   src = (dst + 0.5)·(in/out) − 0.5 computed in double and rounded to float,
 *   clamped at the borders; 11-bit fixed-point weights (round half even),
 *   horizontal pass into int rows (S0·a0 + S1·a1), then the vertical pass as
 *   OpenCV's SIMD code does it: ((r0>>4)·b0>>16) + ((r1>>4)·b1>>16), then
 *   (+2)>>2 (not the exact (r0·b0 + r1·b1 + 2^21)>>22 of its scalar code,
 *   which differs by 1 now and then; measured: OpenCV 4.6 x86-64 uses the
 *   SIMD rounding for every byte). An exact 2x shrink is INTER_AREA, as in
 *   OpenCV.
 * AUG_INTER_AREA (cv2.INTER_AREA) for shrinking: integer factors average
 *   each box (2x2: (a+b+c+d+2)>>2; others: float sum·(1/area), rounded half
 *   even); other factors use OpenCV's area-overlap weight tables with float
 *   accumulation in the same order. Enlarging with INTER_AREA (unused by
 *   YOLOv5) gives OpenCV's bilinear stand-in for it.
 * Checked against cv2.resize on hundreds of random sizes (1..400 px, both
 * directions, both modes): identical bytes.
 *
 * Rows are split over OpenMP threads; the result does not depend on the
 * thread count. */
#ifndef YV5_AUG_RESIZE_H
#define YV5_AUG_RESIZE_H

#include "augment/image_ops.h"

typedef enum { AUG_INTER_LINEAR = 1, AUG_INTER_AREA = 3 } AugInterp;

/* dst := src resized to dst_w x dst_h (dst is (re)allocated; it must not be
 * src). A same-size resize is a copy, as in OpenCV. */
int aug_resize(const ImageU8 *src, int dst_w, int dst_h, AugInterp interp, ImageU8 *dst, Error *e);

#endif
