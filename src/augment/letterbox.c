#include "augment/letterbox.h"

#include <math.h>

#include "augment/resize.h"

void aug_load_size(int h0, int w0, int img_size, int *h, int *w)
{
    double r = (double)img_size / (h0 > w0 ? h0 : w0);
    if (r == 1) {
        *h = h0, *w = w0;
        return;
    }
    int nw = (int)(w0 * r), nh = (int)(h0 * r); /* v7.0 truncates */
    *w = nw < 1 ? 1 : nw;
    *h = nh < 1 ? 1 : nh;
}

int aug_load_image(const ImageU8 *orig, int img_size, int augment, ImageU8 *out, Error *e)
{
    if (aug_image_check(orig, "load_image", e)) return -1;
    if (img_size < 1) return err_set(e, "load_image: invalid img_size %d", img_size);
    const int h0 = orig->height, w0 = orig->width;
    double r = (double)img_size / (h0 > w0 ? h0 : w0);
    int h, w;
    aug_load_size(h0, w0, img_size, &h, &w);
    if (r == 1) return aug_image_copy(orig, out, e);
    AugInterp interp = (augment || r > 1) ? AUG_INTER_LINEAR : AUG_INTER_AREA;
    return aug_resize(orig, w, h, interp, out, e);
}

void aug_letterbox_geometry(int h, int w, int target_h, int target_w, const AugLetterboxOpts *o,
                            AugLetterbox *g)
{
    double r = (double)target_h / h < (double)target_w / w ? (double)target_h / h : (double)target_w / w;
    if (!o->scaleup && r > 1.0) r = 1.0;
    g->ratio_w = g->ratio_h = r;
    g->new_w = (int)nearbyint(w * r); /* Python round(): half to even */
    g->new_h = (int)nearbyint(h * r);
    int dw = target_w - g->new_w, dh = target_h - g->new_h;
    double fdw = dw, fdh = dh;
    if (o->auto_min) {
        int s = o->stride > 0 ? o->stride : 32;
        fdw = ((dw % s) + s) % s; /* np.mod: non-negative for a positive stride */
        fdh = ((dh % s) + s) % s;
    } else if (o->scale_fill) {
        fdw = fdh = 0.0;
        g->new_w = target_w, g->new_h = target_h;
        g->ratio_w = (double)target_w / w;
        g->ratio_h = (double)target_h / h;
    }
    fdw /= 2;
    fdh /= 2;
    g->pad_w = fdw, g->pad_h = fdh;
    g->top = (int)nearbyint(fdh - 0.1), g->bottom = (int)nearbyint(fdh + 0.1);
    g->left = (int)nearbyint(fdw - 0.1), g->right = (int)nearbyint(fdw + 0.1);
    g->out_w = g->new_w + g->left + g->right;
    g->out_h = g->new_h + g->top + g->bottom;
}

int aug_letterbox(const ImageU8 *src, int target_h, int target_w, const AugLetterboxOpts *o, ImageU8 *dst,
                  AugLetterbox *g, Error *e)
{
    if (aug_image_check(src, "letterbox", e)) return -1;
    if (target_h < 1 || target_w < 1) return err_set(e, "letterbox: invalid target %dx%d", target_w, target_h);
    if (src == dst) return err_set(e, "letterbox: source and destination must differ");
    AugLetterbox geo;
    aug_letterbox_geometry(src->height, src->width, target_h, target_w, o, &geo);
    if (g) *g = geo;
    if (geo.new_w < 1 || geo.new_h < 1)
        return err_set(e, "letterbox: %dx%d image scales to an empty %dx%d", src->width, src->height, geo.new_w,
                       geo.new_h);
    if (geo.new_w == src->width && geo.new_h == src->height)
        return aug_pad_constant(src, geo.top, geo.bottom, geo.left, geo.right, AUG_BORDER_VALUE, dst, e);
    ImageU8 resized = {0};
    int rc = aug_resize(src, geo.new_w, geo.new_h, AUG_INTER_LINEAR, &resized, e);
    if (!rc) rc = aug_pad_constant(&resized, geo.top, geo.bottom, geo.left, geo.right, AUG_BORDER_VALUE, dst, e);
    aug_image_free(&resized);
    return rc;
}
