#include "augment/flip.h"

#include <string.h>

void aug_flip_ud(ImageU8 *img, AugBoxes *labels)
{
    const size_t row = (size_t)img->width * 3;
    uint8_t tmp[4096];
    for (int y = 0; y < img->height / 2; y++) {
        uint8_t *a = img->pixels + (size_t)y * row, *b = img->pixels + (size_t)(img->height - 1 - y) * row;
        for (size_t off = 0; off < row; off += sizeof tmp) {
            size_t len = row - off < sizeof tmp ? row - off : sizeof tmp;
            memcpy(tmp, a + off, len);
            memcpy(a + off, b + off, len);
            memcpy(b + off, tmp, len);
        }
    }
    if (labels)
        for (int i = 0; i < labels->n; i++) {
            float *r = labels->v + (size_t)i * AUG_BOX_FIELDS;
            r[2] = 1 - r[2];
        }
}

void aug_flip_lr(ImageU8 *img, AugBoxes *labels)
{
    const int w = img->width;
    for (int y = 0; y < img->height; y++) {
        uint8_t *p = img->pixels + (size_t)y * w * 3;
        for (int x = 0; x < w / 2; x++) {
            uint8_t *a = p + (size_t)x * 3, *b = p + (size_t)(w - 1 - x) * 3;
            for (int c = 0; c < 3; c++) {
                uint8_t t = a[c];
                a[c] = b[c];
                b[c] = t;
            }
        }
    }
    if (labels)
        for (int i = 0; i < labels->n; i++) {
            float *r = labels->v + (size_t)i * AUG_BOX_FIELDS;
            r[1] = 1 - r[1];
        }
}
