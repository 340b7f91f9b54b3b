/* Label rows of the augmentation stage and YOLOv5's box conversions, in the
 * reference's float32 arithmetic (NumPy float32 arrays combined with Python
 * scalars, which NumPy first rounds to float32).
 *
 * A row is 5 floats: class, then either pixel corners (x1, y1, x2, y2) or
 * normalised centre form (cx, cy, w, h), depending on the stage (each
 * function says which). */
#ifndef YV5_AUG_BOXES_H
#define YV5_AUG_BOXES_H

#include "core/error.h"

enum { AUG_BOX_FIELDS = 5 };

/* A growable list of rows; owns v. Zero-initialise, free with aug_boxes_free. */
typedef struct {
    float *v; /* n rows of AUG_BOX_FIELDS */
    int n, cap;
} AugBoxes;

int aug_boxes_reserve(AugBoxes *b, int cap, Error *e);
/* Appends n rows. */
int aug_boxes_append(AugBoxes *b, const float *rows, int n, Error *e);
void aug_boxes_free(AugBoxes *b);

/* xywhn2xyxy: out rows (class, x1, y1, x2, y2) in pixels from in rows
 * (class, cx, cy, w, h) normalised:
 *   x1 = w·(cx − bw/2) + padw,  y1 = h·(cy − bh/2) + padh,
 *   x2 = w·(cx + bw/2) + padw,  y2 = h·(cy + bh/2) + padh,
 * all in float32 (w, h, padw, padh are the float32 values of the reference's
 * Python scalars). in and out may be the same array. */
void aug_xywhn_to_xyxy(const float *in, int n, float w, float h, float padw, float padh, float *out);

/* xyxy2xywhn(clip=True, eps) in place: clip x to [0, (float)(w − eps)] and y
 * to [0, (float)(h − eps)], then cx = (x1 + x2)/2/w, cy, bw = (x2 − x1)/w,
 * bh (float32). YOLOv5 uses eps = 1e-3. */
void aug_xyxy_to_xywhn_clip(float *rows, int n, int w, int h, double eps);

/* Clips every coordinate of pixel xyxy rows to [lo, hi] (float32). */
void aug_clip_xyxy(float *rows, int n, float lo, float hi);

/* YOLOv5 box_candidates for one box: (w1, h1) the original box size times
 * the augmentation scale (float32, as the reference computes them), (w2, h2)
 * the new size (double). Keeps the box iff w2 > wh_thr, h2 > wh_thr,
 * w2·h2/(w1·h1 + eps) > area_thr and max(w2/(h2+eps), h2/(w2+eps)) < ar_thr
 * (eps = 1e-16). Returns 1 to keep. */
int aug_box_candidate(float w1, float h1, double w2, double h2, double wh_thr, double ar_thr,
                      double area_thr);

/* YOLOv5's thresholds: wh_thr 2 px, ar_thr 100, area_thr 0.1. */
#define AUG_BOX_WH_THR 2.0
#define AUG_BOX_AR_THR 100.0
#define AUG_BOX_AREA_THR 0.1

#endif
