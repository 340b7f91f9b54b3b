/* YOLOv5's 4-image mosaic placement (spec §5.6, load_mosaic before its
 * random_perspective).
 *
 * Draws (aug_mosaic_draw, in this order): yc = (int)U(−b, 2s + b), then
 * xc = (int)U(−b, 2s + b) with b = floor(−s/2) (so [s/2, 3s/2)); three
 * partner indices rng_int(0, n − 1); then rng_shuffle of
 * [index, p1, p2, p3]. Tile k of the shuffled list goes top-left,
 * top-right, bottom-left, bottom-right (k = 0..3) around (xc, yc) on a
 * 2s x 2s canvas filled with AUG_BORDER_VALUE, cropped as the reference
 * does; tile labels (normalised) become canvas pixel corners
 * w·(cx ∓ bw/2) + padw, h·(cy ∓ bh/2) + padh (float32), concatenated in tile
 * order and clipped to [0, 2s]. */
#ifndef YV5_AUG_MOSAIC_H
#define YV5_AUG_MOSAIC_H

#include "augment/boxes.h"
#include "augment/image_ops.h"
#include "core/rng.h"

typedef struct {
    int xc, yc;     /* mosaic centre on the 2s x 2s canvas */
    int indices[4]; /* dataset index of tiles TL, TR, BL, BR */
} AugMosaicDraw;

/* Centre and tiles for sample `index` of an n-image dataset (n >= 1). */
void aug_mosaic_draw(Rng *rng, int img_size, int index, int n, AugMosaicDraw *d);

/* The reference's mosaic_border value floor(−s/2). */
static inline int aug_mosaic_border(int img_size) { return -img_size / 2 - ((img_size % 2) != 0); }

/* Canvas and rectangle arithmetic. */
typedef struct {
    int ax1, ay1, ax2, ay2; /* destination on the canvas (half-open) */
    int bx1, by1, bx2, by2; /* source in the tile */
    int padw, padh;         /* ax1 − bx1, ay1 − by1 */
} AugMosaicPlace;

/* Placement of tile k (0..3) of size w x h around (xc, yc) for img_size s. */
void aug_mosaic_place(int k, int w, int h, int xc, int yc, int img_size, AugMosaicPlace *p);

/* Starts a mosaic: canvas := 2s x 2s of AUG_BORDER_VALUE, labels emptied. */
int aug_mosaic_begin(int img_size, ImageU8 *canvas, AugBoxes *labels, Error *e);
/* Pastes tile k (a load_image output) and appends its n normalised label rows. */
int aug_mosaic_add(int k, const ImageU8 *tile, const float *rows, int n, int xc, int yc, int img_size,
                   ImageU8 *canvas, AugBoxes *labels, Error *e);
/* Clips all label coordinates to [0, 2s] (after the four tiles). */
void aug_mosaic_finish(int img_size, AugBoxes *labels);

#endif
