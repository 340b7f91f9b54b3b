#include "augment/mosaic.h"

void aug_mosaic_draw(Rng *rng, int img_size, int index, int n, AugMosaicDraw *d)
{
    const int b = aug_mosaic_border(img_size);
    d->yc = (int)rng_uniform_range(rng, -b, 2.0 * img_size + b);
    d->xc = (int)rng_uniform_range(rng, -b, 2.0 * img_size + b);
    d->indices[0] = index;
    for (int k = 1; k < 4; k++) d->indices[k] = (int)rng_int(rng, 0, n - 1);
    rng_shuffle(rng, d->indices, 4);
}

static inline int imax(int a, int b) { return a > b ? a : b; }
static inline int imin(int a, int b) { return a < b ? a : b; }

void aug_mosaic_place(int k, int w, int h, int xc, int yc, int img_size, AugMosaicPlace *p)
{
    const int s2 = 2 * img_size;
    switch (k) {
    case 0: /* top left */
        p->ax1 = imax(xc - w, 0), p->ay1 = imax(yc - h, 0), p->ax2 = xc, p->ay2 = yc;
        p->bx1 = w - (p->ax2 - p->ax1), p->by1 = h - (p->ay2 - p->ay1), p->bx2 = w, p->by2 = h;
        break;
    case 1: /* top right */
        p->ax1 = xc, p->ay1 = imax(yc - h, 0), p->ax2 = imin(xc + w, s2), p->ay2 = yc;
        p->bx1 = 0, p->by1 = h - (p->ay2 - p->ay1), p->bx2 = imin(w, p->ax2 - p->ax1), p->by2 = h;
        break;
    case 2: /* bottom left */
        p->ax1 = imax(xc - w, 0), p->ay1 = yc, p->ax2 = xc, p->ay2 = imin(s2, yc + h);
        p->bx1 = w - (p->ax2 - p->ax1), p->by1 = 0, p->bx2 = w, p->by2 = imin(p->ay2 - p->ay1, h);
        break;
    default: /* bottom right */
        p->ax1 = xc, p->ay1 = yc, p->ax2 = imin(xc + w, s2), p->ay2 = imin(s2, yc + h);
        p->bx1 = 0, p->by1 = 0, p->bx2 = imin(w, p->ax2 - p->ax1), p->by2 = imin(p->ay2 - p->ay1, h);
        break;
    }
    p->padw = p->ax1 - p->bx1;
    p->padh = p->ay1 - p->by1;
}

int aug_mosaic_begin(int img_size, ImageU8 *canvas, AugBoxes *labels, Error *e)
{
    if (img_size < 1) return err_set(e, "mosaic: invalid img_size %d", img_size);
    if (aug_image_alloc(canvas, 2 * img_size, 2 * img_size, e)) return -1;
    aug_image_fill(canvas, AUG_BORDER_VALUE);
    labels->n = 0;
    return 0;
}

int aug_mosaic_add(int k, const ImageU8 *tile, const float *rows, int n, int xc, int yc, int img_size,
                   ImageU8 *canvas, AugBoxes *labels, Error *e)
{
    if (aug_image_check(tile, "mosaic tile", e)) return -1;
    if (k < 0 || k > 3) return err_set(e, "mosaic: tile %d out of range", k);
    AugMosaicPlace p;
    aug_mosaic_place(k, tile->width, tile->height, xc, yc, img_size, &p);
    /* Python slicing: an empty or reversed range copies nothing. */
    int cw = imin(p.ax2 - p.ax1, p.bx2 - p.bx1), ch = imin(p.ay2 - p.ay1, p.by2 - p.by1);
    if (cw > 0 && ch > 0) aug_copy_rect(tile, p.bx1, p.by1, canvas, p.ax1, p.ay1, cw, ch);
    if (n <= 0) return 0;
    if (aug_boxes_reserve(labels, labels->n + n, e)) return -1;
    aug_xywhn_to_xyxy(rows, n, (float)tile->width, (float)tile->height, (float)p.padw, (float)p.padh,
                      labels->v + (size_t)labels->n * AUG_BOX_FIELDS);
    labels->n += n;
    return 0;
}

void aug_mosaic_finish(int img_size, AugBoxes *labels)
{
    aug_clip_xyxy(labels->v, labels->n, 0.0f, (float)(2 * img_size));
}
