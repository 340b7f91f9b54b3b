/* load_image's resize rule (spec §5.4) and letterbox (§5.5), as YOLOv5 v7.0.
 *
 * load_image: r = img_size / max(h0, w0) in double; when r != 1 the image is
 * resized to (int)(w0·r) x (int)(h0·r) (truncation: v7.0 can give
 * img_size − 1 on the long side, e.g. 606 -> 639 at 640), bilinear when
 * augmenting or enlarging, area otherwise. A side that would truncate to 0
 * (a >64:1 image; the reference crashes in cv2.resize) is kept at 1.
 *
 * letterbox: r = min(H/h, W/w) (min(r, 1) without scaleup); new size
 * round(w·r) x round(h·r) (round half even); dw = W − new_w, dh = H − new_h
 * (auto: mod stride; scale_fill: 0 and the image is stretched to W x H);
 * dw, dh halved as doubles; bilinear resize when the size changes; borders
 * top = round(dh − 0.1), bottom = round(dh + 0.1), left/right likewise, in
 * AUG_BORDER_VALUE. The returned pad is the unrounded (dw, dh). */
#ifndef YV5_AUG_LETTERBOX_H
#define YV5_AUG_LETTERBOX_H

#include "augment/image_ops.h"

/* load_image's output size for an h0 x w0 image. */
void aug_load_size(int h0, int w0, int img_size, int *h, int *w);
/* out := load_image(orig). augment selects bilinear for shrinking too. */
int aug_load_image(const ImageU8 *orig, int img_size, int augment, ImageU8 *out, Error *e);

typedef struct {
    int new_w, new_h;         /* size after the resize step */
    double ratio_w, ratio_h;  /* scale factors applied to labels */
    double pad_w, pad_h;      /* the reference's returned pad (dw, dh): float half padding */
    int top, bottom, left, right;
    int out_w, out_h;         /* final size */
} AugLetterbox;

typedef struct {
    int auto_min;   /* minimum rectangle: padding mod stride (detect.py) */
    int scale_fill; /* stretch to the target, no padding */
    int scaleup;    /* allow enlarging */
    int stride;
} AugLetterboxOpts;

/* Geometry only (pure), for an h x w image and a target_h x target_w shape. */
void aug_letterbox_geometry(int h, int w, int target_h, int target_w, const AugLetterboxOpts *o,
                            AugLetterbox *g);
/* dst := letterbox(src); g (may be NULL) receives the geometry. dst must not be src. */
int aug_letterbox(const ImageU8 *src, int target_h, int target_w, const AugLetterboxOpts *o, ImageU8 *dst,
                  AugLetterbox *g, Error *e);

#endif
