/* Geometric warps of 3-channel 8-bit images with bilinear sampling and a
 * constant border, reproducing OpenCV 4.6 cv2.warpAffine / cv2.warpPerspective
 * (flags INTER_LINEAR, BORDER_CONSTANT):
 *
 * - M is the forward matrix (input -> output pixel coordinates, column-vector
 *   convention); it is inverted as OpenCV does (closed form for affine, LU in
 *   double for perspective) and every output pixel (x, y) is mapped back.
 * - Affine: the source coordinate is computed in fixed point exactly like
 *   OpenCV: per column round(m0·x·1024), per row round((m1·y + m2)·1024) + 16,
 *   summed and shifted to 1/32 pixel; perspective: (X/W, Y/W)·32 rounded, with
 *   OpenCV's 64x16 output blocks (the block origin enters the double sums).
 * - The 1/32-pixel fraction picks 15-bit bilinear weights
 *   ((1 − i/32)(1 − j/32)... times 32768); output = (Σ w·p + 2^14) >> 15.
 * - Taps outside the input take `border`; pixels whose 2x2 footprint is
 *   entirely outside get `border`.
 * The affine result equals cv2.warpAffine bit for bit (tests/augment); the
 * perspective one may differ where OpenCV's own inversion rounds differently.
 * Rows are split over OpenMP threads (thread-count independent). */
#ifndef YV5_AUG_WARP_H
#define YV5_AUG_WARP_H

#include "augment/image_ops.h"

/* dst (pre-sized by the caller: aug_image_alloc) := src warped by the 2x3
 * forward affine matrix M (row-major). dst must not be src. */
int aug_warp_affine(const ImageU8 *src, const double M[6], uint8_t border, ImageU8 *dst, Error *e);
/* Same with a 3x3 forward perspective matrix (row-major). */
int aug_warp_perspective(const ImageU8 *src, const double M[9], uint8_t border, ImageU8 *dst, Error *e);

/* OpenCV invertAffineTransform: the inverse of a 2x3 affine matrix, in
 * OpenCV's operation order (0 matrix when singular). */
void aug_invert_affine(const double M[6], double inv[6]);

#endif
