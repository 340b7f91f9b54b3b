/* Small operations on the 8-bit, 3-channel, HWC images the augmentation stage
 * works on (ImageU8 from data/image.h). Channel order is RGB throughout
 * src/augment/ (the dataset layer decodes to RGB); YOLOv5 keeps BGR and
 * reverses at the very end, so only augment_hsv (hsv.h) cares which is which.
 *
 * Ownership: an ImageU8 owns its pixels (malloc); aug_image_alloc reuses the
 * buffer when the size is unchanged, so a workspace image can be reused from
 * sample to sample. Free with image_free (data/image.h) or aug_image_free. */
#ifndef YV5_AUG_IMAGE_OPS_H
#define YV5_AUG_IMAGE_OPS_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "data/image.h"

/* YOLOv5's grey border / fill value (letterbox, mosaic canvas, warps). */
#define AUG_BORDER_VALUE 114

static inline size_t aug_image_bytes(const ImageU8 *img)
{
    return (size_t)img->width * (size_t)img->height * 3u;
}

/* Makes img a width x height x 3 image (contents undefined). Reuses the buffer
 * when the byte size is unchanged. Sizes must be >= 1. */
int aug_image_alloc(ImageU8 *img, int width, int height, Error *e);
void aug_image_free(ImageU8 *img);
/* Checks that img is a usable 3-channel image; `what` names it in the message. */
int aug_image_check(const ImageU8 *img, const char *what, Error *e);

void aug_image_fill(ImageU8 *img, uint8_t value);
/* dst := deep copy of src. */
int aug_image_copy(const ImageU8 *src, ImageU8 *dst, Error *e);
/* Copies the w x h rectangle at (sx, sy) of src to (dx, dy) of dst. The caller
 * guarantees both rectangles lie inside their images. */
void aug_copy_rect(const ImageU8 *src, int sx, int sy, ImageU8 *dst, int dx, int dy, int w, int h);
/* OpenCV copyMakeBorder(BORDER_CONSTANT): dst is src with top/bottom/left/right
 * rows and columns of `value` added (all >= 0). */
int aug_pad_constant(const ImageU8 *src, int top, int bottom, int left, int right, uint8_t value,
                     ImageU8 *dst, Error *e);

#endif
