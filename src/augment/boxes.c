#include "augment/boxes.h"

#include <stdlib.h>
#include <string.h>

int aug_boxes_reserve(AugBoxes *b, int cap, Error *e)
{
    if (cap <= b->cap) return 0;
    int want = b->cap ? b->cap : 16;
    while (want < cap) want *= 2;
    float *v = realloc(b->v, sizeof(float) * AUG_BOX_FIELDS * (size_t)want);
    if (!v) return err_set(e, "labels: out of memory for %d rows", want);
    b->v = v;
    b->cap = want;
    return 0;
}

int aug_boxes_append(AugBoxes *b, const float *rows, int n, Error *e)
{
    if (n <= 0) return 0;
    if (aug_boxes_reserve(b, b->n + n, e)) return -1;
    memcpy(b->v + (size_t)b->n * AUG_BOX_FIELDS, rows, sizeof(float) * AUG_BOX_FIELDS * (size_t)n);
    b->n += n;
    return 0;
}

void aug_boxes_free(AugBoxes *b)
{
    free(b->v);
    b->v = NULL;
    b->n = b->cap = 0;
}

void aug_xywhn_to_xyxy(const float *in, int n, float w, float h, float padw, float padh, float *out)
{
    for (int i = 0; i < n; i++) {
        const float *r = in + (size_t)i * AUG_BOX_FIELDS;
        float cls = r[0], cx = r[1], cy = r[2], bw = r[3], bh = r[4];
        float *o = out + (size_t)i * AUG_BOX_FIELDS;
        o[0] = cls;
        o[1] = w * (cx - bw / 2) + padw;
        o[2] = h * (cy - bh / 2) + padh;
        o[3] = w * (cx + bw / 2) + padw;
        o[4] = h * (cy + bh / 2) + padh;
    }
}

static inline float clipf(float v, float lo, float hi) { return v < lo ? lo : v > hi ? hi : v; }

void aug_xyxy_to_xywhn_clip(float *rows, int n, int w, int h, double eps)
{
    const float xmax = (float)(w - eps), ymax = (float)(h - eps);
    const float fw = (float)w, fh = (float)h;
    for (int i = 0; i < n; i++) {
        float *r = rows + (size_t)i * AUG_BOX_FIELDS;
        float x1 = clipf(r[1], 0, xmax), y1 = clipf(r[2], 0, ymax);
        float x2 = clipf(r[3], 0, xmax), y2 = clipf(r[4], 0, ymax);
        r[1] = ((x1 + x2) / 2) / fw;
        r[2] = ((y1 + y2) / 2) / fh;
        r[3] = (x2 - x1) / fw;
        r[4] = (y2 - y1) / fh;
    }
}

void aug_clip_xyxy(float *rows, int n, float lo, float hi)
{
    for (int i = 0; i < n; i++)
        for (int k = 1; k < AUG_BOX_FIELDS; k++) {
            float *v = rows + (size_t)i * AUG_BOX_FIELDS + k;
            *v = clipf(*v, lo, hi);
        }
}

int aug_box_candidate(float w1, float h1, double w2, double h2, double wh_thr, double ar_thr, double area_thr)
{
    const double eps = 1e-16;
    /* The reference adds eps to the float32 product in float32. */
    float area1 = w1 * h1 + (float)eps;
    double ar = w2 / (h2 + eps) > h2 / (w2 + eps) ? w2 / (h2 + eps) : h2 / (w2 + eps);
    return w2 > wh_thr && h2 > wh_thr && w2 * h2 / (double)area1 > area_thr && ar < ar_thr;
}
