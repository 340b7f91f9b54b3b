/* Reading the fixtures written by scripts/gen_augment_fixtures.py
 * (tests/fixtures/augment/<name>.safetensors) into the types the augment code
 * uses. Every getter returns 0 on success and reports a failed CHECK (with
 * the tensor name) otherwise, so a missing tensor fails the test. */
#ifndef YV5_TEST_AUG_FIXTURE_H
#define YV5_TEST_AUG_FIXTURE_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "augment/boxes.h"
#include "augment/image_ops.h"
#include "ckpt/safetensors.h"
#include "test.h"

#define AUG_FIXTURE_DIR "tests/fixtures/augment/"

static inline int fx_open(SafeTensors *st, const char *file)
{
    char path[512];
    snprintf(path, sizeof path, "%s%s", AUG_FIXTURE_DIR, file);
    Error e = {{0}};
    int rc = st_read(st, path, &e);
    CHECK(rc == 0, "cannot read fixture %s: %s (run scripts/gen_augment_fixtures.py)", path, e.msg);
    return rc;
}

static inline const StTensor *fx_find(const SafeTensors *st, const char *name, StDtype dtype)
{
    const StTensor *t = st_find(st, name);
    CHECK(t != NULL, "fixture tensor %s missing", name);
    if (t) CHECK(t->dtype == dtype, "fixture tensor %s has dtype %s", name, st_dtype_name(t->dtype));
    return t && t->dtype == dtype ? t : NULL;
}

/* A (H, W, 3) U8 tensor as a new image. */
static inline int fx_image(const SafeTensors *st, const char *name, ImageU8 *img)
{
    const StTensor *t = fx_find(st, name, ST_U8);
    if (!t) return -1;
    CHECK(t->ndim == 3 && t->shape[2] == 3, "%s is not HxWx3", name);
    if (t->ndim != 3 || t->shape[2] != 3) return -1;
    Error e = {{0}};
    if (aug_image_alloc(img, (int)t->shape[1], (int)t->shape[0], &e)) return -1;
    memcpy(img->pixels, t->data, t->nbytes);
    return 0;
}

/* Any numeric tensor as doubles (malloc'ed; *count elements). */
static inline double *fx_doubles(const SafeTensors *st, const char *name, size_t *count)
{
    const StTensor *t = st_find(st, name);
    CHECK(t != NULL, "fixture tensor %s missing", name);
    if (!t) return NULL;
    double *out = malloc(sizeof(double) * (t->numel ? t->numel : 1));
    if (!out) return NULL;
    for (size_t i = 0; i < t->numel; i++) {
        const unsigned char *p = (const unsigned char *)t->data + i * st_dtype_size(t->dtype);
        switch (t->dtype) {
        case ST_F64: { double v; memcpy(&v, p, 8); out[i] = v; break; }
        case ST_F32: { float v; memcpy(&v, p, 4); out[i] = v; break; }
        case ST_I32: { int32_t v; memcpy(&v, p, 4); out[i] = v; break; }
        case ST_I64: { int64_t v; memcpy(&v, p, 8); out[i] = (double)v; break; }
        case ST_U8: out[i] = *p; break;
        default:
            CHECK(0, "%s: unexpected dtype %s", name, st_dtype_name(t->dtype));
            free(out);
            return NULL;
        }
    }
    if (count) *count = t->numel;
    return out;
}

/* An (n, 5) F32 tensor as label rows appended to b (b->n reset first). */
static inline int fx_boxes(const SafeTensors *st, const char *name, AugBoxes *b)
{
    const StTensor *t = fx_find(st, name, ST_F32);
    if (!t) return -1;
    CHECK(t->ndim == 2 && t->shape[1] == AUG_BOX_FIELDS, "%s is not (n, 5)", name);
    b->n = 0;
    Error e = {{0}};
    if (t->numel == 0) return 0;
    if (aug_boxes_reserve(b, (int)t->shape[0], &e)) return -1;
    memcpy(b->v, t->data, t->nbytes);
    b->n = (int)t->shape[0];
    return 0;
}

/* Bytes equal? Reports the count and the first difference. */
static inline int fx_same_bytes(const char *what, const uint8_t *got, const uint8_t *want, size_t n)
{
    size_t bad = 0, first = 0;
    int maxd = 0;
    for (size_t i = 0; i < n; i++)
        if (got[i] != want[i]) {
            if (!bad) first = i;
            bad++;
            int d = abs((int)got[i] - (int)want[i]);
            if (d > maxd) maxd = d;
        }
    if (bad)
        printf("    %s: %zu of %zu bytes differ (max %d); first [%zu] got %d want %d\n", what, bad, n, maxd, first,
               got[first], want[first]);
    return bad == 0;
}

static inline int fx_same_image(const char *what, const ImageU8 *got, const ImageU8 *want)
{
    if (got->width != want->width || got->height != want->height) {
        printf("    %s: size %dx%d, want %dx%d\n", what, got->width, got->height, want->width, want->height);
        return 0;
    }
    return fx_same_bytes(what, got->pixels, want->pixels, aug_image_bytes(got));
}

#endif
