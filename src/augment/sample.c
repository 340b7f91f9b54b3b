#include "augment/sample.h"

#include <string.h>

#include "augment/hsv.h"
#include "augment/flip.h"
#include "augment/letterbox.h"
#include "augment/mixup.h"
#include "augment/mosaic.h"
#include "augment/perspective.h"

void aug_hyp_default(AugHyp *h)
{
    *h = (AugHyp){.hsv_h = 0.015, .hsv_s = 0.7, .hsv_v = 0.4, .degrees = 0.0, .translate = 0.1, .scale = 0.5,
                  .shear = 0.0, .perspective = 0.0, .flipud = 0.0, .fliplr = 0.5, .mosaic = 1.0, .mixup = 0.0};
}

void aug_work_free(AugWork *w)
{
    aug_image_free(&w->tile);
    aug_image_free(&w->canvas);
    aug_image_free(&w->mixed);
    aug_image_free(&w->boxed);
    aug_boxes_free(&w->labels2);
}

void aug_sample_free(AugSample *s)
{
    aug_image_free(&s->img);
    aug_boxes_free(&s->labels);
}

/* A fetched image after load_image, plus what must be released. */
typedef struct {
    AugSource src;
    const ImageU8 *img; /* load_image output */
    int h0, w0;
} Loaded;

static int load(const AugDataset *ds, int index, int img_size, int augment, ImageU8 *tile, Loaded *l, Error *e)
{
    memset(l, 0, sizeof *l);
    if (index < 0 || index >= ds->n) return err_set(e, "sample: image index %d outside 0..%d", index, ds->n - 1);
    if (ds->fetch(ds->ctx, index, &l->src, e)) return err_prefix(e, "image %d", index);
    int rc = 0;
    if (aug_image_check(l->src.image, "fetched image", e)) {
        rc = -1;
    } else if (l->src.n_labels < 0 || (l->src.n_labels > 0 && !l->src.labels)) {
        rc = err_set(e, "fetched labels: %d rows without data", l->src.n_labels);
    } else if (l->src.resized) {
        l->img = l->src.image;
        l->h0 = l->src.h0, l->w0 = l->src.w0;
        if (l->h0 < 1 || l->w0 < 1) rc = err_set(e, "cached image without its original size");
    } else {
        l->h0 = l->src.image->height, l->w0 = l->src.image->width;
        rc = aug_load_image(l->src.image, img_size, augment, tile, e);
        l->img = tile;
    }
    if (rc) {
        if (ds->release) ds->release(ds->ctx, index, &l->src);
        return err_prefix(e, "image %d", index);
    }
    return 0;
}

static void unload(const AugDataset *ds, int index, Loaded *l)
{
    if (ds->release) ds->release(ds->ctx, index, &l->src);
}

/* load_mosaic(index): canvas -> perspective -> out, labels in pixel xyxy. */
static int load_mosaic(const AugConfig *cfg, const AugDataset *ds, int index, Rng *rng, AugWork *w,
                       ImageU8 *out, AugBoxes *labels, Error *e)
{
    const int s = cfg->img_size;
    AugMosaicDraw md;
    aug_mosaic_draw(rng, s, index, ds->n, &md);
    if (aug_mosaic_begin(s, &w->canvas, labels, e)) return -1;
    for (int k = 0; k < 4; k++) {
        Loaded l;
        if (load(ds, md.indices[k], s, 1, &w->tile, &l, e)) return -1;
        int rc = aug_mosaic_add(k, l.img, l.src.labels, l.src.n_labels, md.xc, md.yc, s, &w->canvas, labels, e);
        unload(ds, md.indices[k], &l);
        if (rc) return -1;
    }
    aug_mosaic_finish(s, labels);
    AugPerspectiveDraw pd;
    const AugHyp *h = &cfg->hyp;
    aug_perspective_draw(rng, h->degrees, h->translate, h->scale, h->shear, h->perspective, &pd);
    const int border = aug_mosaic_border(s);
    return aug_random_perspective(&w->canvas, labels, &pd, border, border, h->perspective != 0, out, e);
}

int aug_get_item(const AugConfig *cfg, const AugDataset *ds, int index, const int shape_hw[2], Rng *rng,
                 AugWork *w, AugSample *out, Error *e)
{
    const AugHyp *h = &cfg->hyp;
    if (cfg->img_size < 1) return err_set(e, "sample: invalid img_size %d", cfg->img_size);
    if (!ds || !ds->fetch || ds->n < 1) return err_set(e, "sample: no dataset");
    if (cfg->augment && !rng) return err_set(e, "sample: augmentation needs an Rng");
    if (cfg->rect && !shape_hw) return err_set(e, "sample: rect mode needs the batch shape");
    out->labels.n = 0;
    out->mosaic = 0;
    out->h0 = out->w0 = out->h = out->w = 0;
    out->pad_w = out->pad_h = 0;

    int mosaic = cfg->augment && !cfg->rect && rng_uniform(rng) < h->mosaic;
    if (mosaic) {
        out->mosaic = 1;
        if (load_mosaic(cfg, ds, index, rng, w, &out->img, &out->labels, e)) return -1;
        if (rng_uniform(rng) < h->mixup) {
            int partner = (int)rng_int(rng, 0, ds->n - 1);
            if (load_mosaic(cfg, ds, partner, rng, w, &w->mixed, &w->labels2, e)) return -1;
            double r = aug_beta_draw(rng, AUG_MIXUP_ALPHA, AUG_MIXUP_ALPHA);
            if (aug_mixup_blend(&out->img, &w->mixed, r, e)) return -1;
            if (aug_boxes_append(&out->labels, w->labels2.v, w->labels2.n, e)) return -1;
        }
    } else {
        Loaded l;
        if (load(ds, index, cfg->img_size, cfg->augment, &w->tile, &l, e)) return -1;
        int th = cfg->rect ? shape_hw[0] : cfg->img_size, tw = cfg->rect ? shape_hw[1] : cfg->img_size;
        AugLetterboxOpts lo = {.auto_min = 0, .scale_fill = 0, .scaleup = cfg->augment, .stride = 32};
        AugLetterbox g = {0};
        ImageU8 *boxed = cfg->augment ? &w->boxed : &out->img;
        int rc = aug_letterbox(l.img, th, tw, &lo, boxed, &g, e);
        out->h0 = l.h0, out->w0 = l.w0, out->h = l.img->height, out->w = l.img->width;
        out->pad_w = g.pad_w, out->pad_h = g.pad_h;
        if (!rc && l.src.n_labels > 0 && !(rc = aug_boxes_reserve(&out->labels, l.src.n_labels, e))) {
            aug_xywhn_to_xyxy(l.src.labels, l.src.n_labels, (float)(g.ratio_w * out->w),
                              (float)(g.ratio_h * out->h), (float)g.pad_w, (float)g.pad_h, out->labels.v);
            out->labels.n = l.src.n_labels;
        }
        unload(ds, index, &l);
        if (rc) return err_prefix(e, "image %d", index);
        if (cfg->augment) {
            AugPerspectiveDraw pd;
            aug_perspective_draw(rng, h->degrees, h->translate, h->scale, h->shear, h->perspective, &pd);
            if (aug_random_perspective(&w->boxed, &out->labels, &pd, 0, 0, h->perspective != 0, &out->img, e))
                return -1;
        }
    }

    aug_xyxy_to_xywhn_clip(out->labels.v, out->labels.n, out->img.width, out->img.height, 1e-3);
    if (cfg->augment) {
        if (h->hsv_h != 0 || h->hsv_s != 0 || h->hsv_v != 0) {
            double gains[3];
            aug_hsv_draw_gains(rng, h->hsv_h, h->hsv_s, h->hsv_v, gains);
            if (aug_hsv_apply(&out->img, gains, e)) return -1;
        }
        if (rng_uniform(rng) < h->flipud) aug_flip_ud(&out->img, &out->labels);
        if (rng_uniform(rng) < h->fliplr) aug_flip_lr(&out->img, &out->labels);
    }
    return 0;
}

int aug_train_sample(const AugConfig *cfg, const AugDataset *ds, int index, const int shape_hw[2], Rng *rng,
                     AugWork *w, AugSample *out, Error *e)
{
    if (!cfg->augment) return err_set(e, "train sample: augmentation is off in the config");
    return aug_get_item(cfg, ds, index, shape_hw, rng, w, out, e);
}

int aug_val_sample(int img_size, const AugDataset *ds, int index, const int shape_hw[2], AugWork *w,
                   AugSample *out, Error *e)
{
    AugConfig cfg = {.img_size = img_size, .augment = 0, .rect = 1};
    aug_hyp_default(&cfg.hyp);
    return aug_get_item(&cfg, ds, index, shape_hw, NULL, w, out, e);
}
