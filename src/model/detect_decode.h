/* Detect's inference decode (YOLOv5 v7.0, spec §2.6): raw head logits ->
 * boxes in input pixels.
 *
 * For level l with stride s, anchor a (grid units A) and cell (x, y), with
 * σ = sigmoid of every channel:
 *     bx = (2σ0 + (x - 0.5)) * s      by = (2σ1 + (y - 0.5)) * s
 *     bw = (2σ2)^2 * (A_w * s)        bh = (2σ3)^2 * (A_h * s)
 *     objectness σ4, class scores σ5.. (independent sigmoids)
 * evaluated in float32 in that order, as the reference does. The output rows
 * are (batch, box, no) with boxes ordered level, anchor, y, x. */
#ifndef YV5_DETECT_DECODE_H
#define YV5_DETECT_DECODE_H

#include <stddef.h>

typedef struct {
    int nl, na, no;
    const int *h, *w;       /* nl grid sizes */
    const float *anchors;   /* (nl, na, 2) in grid units */
    const float *stride;    /* nl */
} DetectGeometry;

/* Boxes per image: sum over levels of na * h * w. */
size_t detect_boxes(const DetectGeometry *g);
/* pred[l]: (n, na, h[l], w[l], no) raw logits -> out: (n, detect_boxes, no). */
void detect_decode(const DetectGeometry *g, int n, const float *const *pred, float *out);

#endif
