#include "augment/image_ops.h"

#include <stdlib.h>
#include <string.h>

int aug_image_alloc(ImageU8 *img, int width, int height, Error *e)
{
    if (width < 1 || height < 1)
        return err_set(e, "image allocation: invalid size %dx%d", width, height);
    size_t want = (size_t)width * (size_t)height * 3u;
    size_t have = img->pixels ? aug_image_bytes(img) : 0;
    if (!img->pixels || img->channels != 3 || want != have) {
        uint8_t *p = realloc(img->pixels, want);
        if (!p) return err_set(e, "image allocation: out of memory for %dx%d", width, height);
        img->pixels = p;
    }
    img->width = width;
    img->height = height;
    img->channels = 3;
    return 0;
}

void aug_image_free(ImageU8 *img)
{
    free(img->pixels);
    img->pixels = NULL;
    img->width = img->height = img->channels = 0;
}

int aug_image_check(const ImageU8 *img, const char *what, Error *e)
{
    if (!img || !img->pixels) return err_set(e, "%s: no image", what);
    if (img->channels != 3)
        return err_set(e, "%s: %d channels, augmentation needs 3", what, img->channels);
    if (img->width < 1 || img->height < 1)
        return err_set(e, "%s: invalid size %dx%d", what, img->width, img->height);
    return 0;
}

void aug_image_fill(ImageU8 *img, uint8_t value) { memset(img->pixels, value, aug_image_bytes(img)); }

int aug_image_copy(const ImageU8 *src, ImageU8 *dst, Error *e)
{
    if (aug_image_alloc(dst, src->width, src->height, e)) return -1;
    memcpy(dst->pixels, src->pixels, aug_image_bytes(src));
    return 0;
}

void aug_copy_rect(const ImageU8 *src, int sx, int sy, ImageU8 *dst, int dx, int dy, int w, int h)
{
    if (w <= 0 || h <= 0) return;
    size_t sstep = (size_t)src->width * 3, dstep = (size_t)dst->width * 3, row = (size_t)w * 3;
    for (int y = 0; y < h; y++)
        memcpy(dst->pixels + (size_t)(dy + y) * dstep + (size_t)dx * 3,
               src->pixels + (size_t)(sy + y) * sstep + (size_t)sx * 3, row);
}

int aug_pad_constant(const ImageU8 *src, int top, int bottom, int left, int right, uint8_t value,
                     ImageU8 *dst, Error *e)
{
    if (top < 0 || bottom < 0 || left < 0 || right < 0)
        return err_set(e, "pad: negative border (%d, %d, %d, %d)", top, bottom, left, right);
    if (src == dst) return err_set(e, "pad: source and destination must differ");
    int w = src->width + left + right, h = src->height + top + bottom;
    if (aug_image_alloc(dst, w, h, e)) return -1;
    size_t dstep = (size_t)w * 3, sstep = (size_t)src->width * 3;
    for (int y = 0; y < h; y++) {
        uint8_t *d = dst->pixels + (size_t)y * dstep;
        int sy = y - top;
        if (sy < 0 || sy >= src->height) {
            memset(d, value, dstep);
            continue;
        }
        memset(d, value, (size_t)left * 3);
        memcpy(d + (size_t)left * 3, src->pixels + (size_t)sy * sstep, sstep);
        memset(d + (size_t)left * 3 + sstep, value, (size_t)right * 3);
    }
    return 0;
}
