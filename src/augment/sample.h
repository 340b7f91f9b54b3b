/* One dataset sample as YOLOv5 v7.0's LoadImagesAndLabels.__getitem__ builds
 * it (spec §5.11, §5.14), on images supplied by a callback, so this stage
 * needs no dataset code.
 *
 * Training (augment, not rect), with every draw from the caller's Rng in
 * this order:
 *   1. rng_uniform < hyp.mosaic ?                     (drawn only when augment && !rect)
 *   2. mosaic: aug_mosaic_draw (yc, xc, 3 partners, shuffle), the four tiles
 *      through load_image and placement, random_perspective on the 2s x 2s
 *      canvas with border −s/2 (aug_perspective_draw: 8 uniforms);
 *      then rng_uniform < hyp.mixup ? (always drawn): partner rng_int(0, n−1),
 *      a second mosaic (same draws), r = Beta(32, 32) (two Gamma draws),
 *      blend, labels concatenated;
 *      not mosaic: load_image, letterbox to img_size (or the rect batch
 *      shape) with scaleup, labels to pixels, random_perspective (8 uniforms).
 *   3. labels -> normalised (cx, cy, w, h), clipped with eps 1e-3
 *   4. augment_hsv: 3 uniforms, only when a gain is non-zero
 *   5. rng_uniform < flipud ?, then rng_uniform < fliplr ? (both always drawn)
 * Seeding the Rng from (seed, epoch, index) (rng_seed_stream) makes a sample
 * a pure function of those three.
 * Validation (not augment): load_image (area when shrinking), letterbox to
 * the rect batch shape without enlarging, labels to normalised form; no
 * draws. Albumentations and copy_paste are absent (reference defaults).
 *
 * tests/augment/test_aug_sample.c checks images (byte for byte), labels and
 * the number of draws against the reference run on the same numbers.
 *
 * Threads: the kernels use OpenMP inside. Samples built on several threads at
 * once must keep those regions to one thread (nested OpenMP off, the default,
 * for OpenMP workers; omp_set_num_threads(1) in each pthread worker, as
 * src/data/loader.c does), or the machine is oversubscribed. */
#ifndef YV5_AUG_SAMPLE_H
#define YV5_AUG_SAMPLE_H

#include "augment/boxes.h"
#include "augment/image_ops.h"
#include "core/rng.h"

/* The hyperparameters this stage reads (names as in YOLOv5's hyp YAML). */
typedef struct {
    double hsv_h, hsv_s, hsv_v;
    double degrees, translate, scale, shear, perspective;
    double flipud, fliplr;
    double mosaic, mixup;
} AugHyp;

/* hyp.scratch-low.yaml: 0.015 0.7 0.4, 0 0.1 0.5 0 0, 0 0.5, 1 0. */
void aug_hyp_default(AugHyp *h);

/* What the dataset hands over for one image. Pointers are borrowed until
 * release() is called (right after this stage has used them). */
typedef struct {
    const ImageU8 *image; /* decoded RGB image, or load_image's output when resized */
    int resized;          /* 1: image is already load_image's output (RAM cache) */
    int h0, w0;           /* original size; required when resized (else taken from image) */
    const float *labels;  /* n_labels rows (class, cx, cy, w, h), normalised; NULL if none */
    int n_labels;
} AugSource;

typedef struct {
    /* Fills *src for dataset image `index`; -1 with e set on failure. */
    int (*fetch)(void *ctx, int index, AugSource *src, Error *e);
    /* Called once per successful fetch when this stage is done (may be NULL). */
    void (*release)(void *ctx, int index, AugSource *src);
    void *ctx;
    int n; /* number of images (mosaic and mixup partners are drawn from 0..n-1) */
} AugDataset;

typedef struct {
    int img_size; /* training/validation size, e.g. 640 */
    int augment;  /* training augmentation */
    int rect;     /* rectangular batches: no mosaic; letterbox to the batch shape */
    AugHyp hyp;
} AugConfig;

typedef struct {
    ImageU8 img;     /* final image, HWC RGB */
    AugBoxes labels; /* rows (class, cx, cy, w, h) normalised to img */
    int mosaic;      /* 1 when built as a mosaic (shapes below are then 0) */
    int h0, w0;      /* original size */
    int h, w;        /* load_image size */
    double pad_w, pad_h; /* letterbox pad (dw, dh); with h/h0, w/w0 these are YOLOv5's `shapes` */
} AugSample;

/* Reusable buffers (one per worker thread); zero-initialise. */
typedef struct {
    ImageU8 tile, canvas, mixed, boxed;
    AugBoxes labels2;
} AugWork;

void aug_work_free(AugWork *w);
void aug_sample_free(AugSample *s);

/* __getitem__(index). shape_hw is the rect batch shape (H, W) (required when
 * cfg->rect; ignored otherwise: img_size square). rng may be NULL when
 * !cfg->augment. out's buffers are reused across calls. */
int aug_get_item(const AugConfig *cfg, const AugDataset *ds, int index, const int shape_hw[2], Rng *rng,
                 AugWork *w, AugSample *out, Error *e);

/* Default training path: cfg->augment must be set. */
int aug_train_sample(const AugConfig *cfg, const AugDataset *ds, int index, const int shape_hw[2], Rng *rng,
                     AugWork *w, AugSample *out, Error *e);
/* Validation path: letterbox to the batch shape (H, W), no augmentation. */
int aug_val_sample(int img_size, const AugDataset *ds, int index, const int shape_hw[2], AugWork *w,
                   AugSample *out, Error *e);

#endif
