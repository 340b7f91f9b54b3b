#include "augment/collate.h"

void aug_to_chw_float(const ImageU8 *img, float *dst)
{
    float lut[256];
    for (int v = 0; v < 256; v++) lut[v] = (float)v / 255.0f;
    const size_t plane = (size_t)img->width * (size_t)img->height;
    float *r = dst, *g = dst + plane, *b = dst + 2 * plane;
    const uint8_t *p = img->pixels;
#pragma omp parallel for schedule(static) if (plane > (1 << 16))
    for (size_t i = 0; i < plane; i++) {
        r[i] = lut[p[3 * i]];
        g[i] = lut[p[3 * i + 1]];
        b[i] = lut[p[3 * i + 2]];
    }
}

void aug_targets(const AugBoxes *labels, int batch_index, float *dst)
{
    for (int i = 0; i < labels->n; i++) {
        const float *r = labels->v + (size_t)i * AUG_BOX_FIELDS;
        float *o = dst + (size_t)i * 6;
        o[0] = (float)batch_index;
        for (int k = 0; k < AUG_BOX_FIELDS; k++) o[1 + k] = r[k];
    }
}
