/* Flips (spec §5.10) of an image in place and of normalised label rows
 * (class, cx, cy, w, h): up-down sets cy := 1 − cy, left-right sets
 * cx := 1 − cx (float32). */
#ifndef YV5_AUG_FLIP_H
#define YV5_AUG_FLIP_H

#include "augment/boxes.h"
#include "augment/image_ops.h"

void aug_flip_ud(ImageU8 *img, AugBoxes *labels);
void aug_flip_lr(ImageU8 *img, AugBoxes *labels);

#endif
