/* YOLOv5's random_perspective and box filtering (spec §5.7).
 *
 * Draws (AugPerspectiveDraw, in this order, each rng_uniform_range):
 *   px, py ~ U(−perspective, perspective), angle ~ U(−degrees, degrees),
 *   scale ~ U(1 − scale, 1 + scale), shear_x, shear_y ~ U(−shear, shear)
 *   (degrees), tx, ty ~ U(0.5 − translate, 0.5 + translate).
 * All eight are drawn even when a range is 0.
 *
 * Matrix M = T·S·R·P·C (C first): C moves the input centre to the origin,
 * P = [[1,0,0],[0,1,0],[px,py,1]], R = OpenCV getRotationMatrix2D(angle,
 * centre 0, scale), S = [[1, tan(shear_x°), 0], [tan(shear_y°), 1, 0], ...],
 * T translates by (tx·Wout, ty·Hout). Wout = W_in + 2·border_x,
 * Hout = H_in + 2·border_y (the mosaic passes border −s/2).
 *
 * The image is warped (aug_warp_affine, or aug_warp_perspective when
 * use_perspective, i.e. hyp.perspective != 0) with border AUG_BORDER_VALUE,
 * unless the border is 0 and M is the identity (then copied).
 * Each pixel box's four corners go through M (double), the new box is their
 * bounding box clipped to the output; boxes failing box_candidates against the
 * original box times `scale` are dropped (order kept). */
#ifndef YV5_AUG_PERSPECTIVE_H
#define YV5_AUG_PERSPECTIVE_H

#include "augment/boxes.h"
#include "augment/image_ops.h"
#include "core/rng.h"

typedef struct {
    double px, py;           /* perspective terms */
    double angle;            /* degrees */
    double scale;
    double shear_x, shear_y; /* degrees */
    double tx, ty;           /* translation as a fraction of the output size */
} AugPerspectiveDraw;

/* The eight draws, in the order above. */
void aug_perspective_draw(Rng *rng, double degrees, double translate, double scale, double shear,
                          double perspective, AugPerspectiveDraw *d);

/* M (3x3 row-major) for an in_w x in_h input and out_w x out_h output. */
void aug_perspective_matrix(const AugPerspectiveDraw *d, int in_w, int in_h, int out_w, int out_h,
                            double M[9]);

/* out := warped in; labels (pixel xyxy rows) transformed and filtered in place.
 * border_x/border_y: the reference's border (0, or negative for the mosaic). */
int aug_random_perspective(const ImageU8 *in, AugBoxes *labels, const AugPerspectiveDraw *d, int border_x,
                           int border_y, int use_perspective, ImageU8 *out, Error *e);

/* The box part alone, for out_w x out_h: labels transformed by M and filtered. */
void aug_perspective_boxes(AugBoxes *labels, const double M[9], int use_perspective, double scale, int out_w,
                           int out_h);

#endif
