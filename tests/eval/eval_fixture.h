/* Loading the reference fixtures written by scripts/gen_eval_fixtures.py
 * (YOLOv5 v7.0 + torchvision + NumPy outputs). Header-only, shared by the
 * tests under tests/eval. Every getter returns a malloc'd copy (or NULL with
 * the reason printed) and stores the element count. */
#ifndef YV5_TEST_EVAL_FIXTURE_H
#define YV5_TEST_EVAL_FIXTURE_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ckpt/safetensors.h"

#define EVAL_FIXTURE_DIR "tests/fixtures/eval/"

static inline int fx_open(SafeTensors *st, const char *file)
{
    char path[256];
    snprintf(path, sizeof path, "%s%s", EVAL_FIXTURE_DIR, file);
    Error e;
    if (st_read(st, path, &e)) {
        printf("    cannot read fixture: %s\n", e.msg);
        return -1;
    }
    return 0;
}

static inline const StTensor *fx_find(const SafeTensors *st, const char *name, StDtype want_a, StDtype want_b)
{
    const StTensor *t = st_find(st, name);
    if (!t) {
        printf("    fixture %s has no tensor %s\n", st->path, name);
        return NULL;
    }
    if (t->dtype != want_a && t->dtype != want_b) {
        printf("    fixture %s: tensor %s has dtype %s\n", st->path, name, st_dtype_name(t->dtype));
        return NULL;
    }
    return t;
}

/* F32 or F16 (converted exactly) -> float. */
static inline float *fx_f32(const SafeTensors *st, const char *name, size_t *count)
{
    const StTensor *t = fx_find(st, name, ST_F32, ST_F16);
    if (!t) return NULL;
    float *v = malloc((t->numel ? t->numel : 1) * sizeof *v);
    Error e;
    if (!v || st_tensor_to_f32(t, v, t->numel, &e)) {
        free(v);
        return NULL;
    }
    if (count) *count = t->numel;
    return v;
}

static inline void *fx_raw(const SafeTensors *st, const char *name, StDtype dtype, size_t *count)
{
    const StTensor *t = fx_find(st, name, dtype, dtype);
    if (!t) return NULL;
    void *v = malloc(t->nbytes ? t->nbytes : 1);
    if (!v) return NULL;
    if (t->nbytes) memcpy(v, t->data, t->nbytes);
    if (count) *count = t->numel;
    return v;
}

static inline double *fx_f64(const SafeTensors *st, const char *name, size_t *count)
{
    return fx_raw(st, name, ST_F64, count);
}

static inline int32_t *fx_i32(const SafeTensors *st, const char *name, size_t *count)
{
    return fx_raw(st, name, ST_I32, count);
}

static inline uint8_t *fx_u8(const SafeTensors *st, const char *name, size_t *count)
{
    return fx_raw(st, name, ST_U8, count);
}

/* Largest |got - want| over n doubles (NaN against non-NaN is infinite). */
static inline double fx_max_abs_diff(const double *got, const double *want, size_t n)
{
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        double d = got[i] - want[i];
        if (got[i] != got[i] || want[i] != want[i]) d = (got[i] != got[i]) == (want[i] != want[i]) ? 0 : INFINITY;
        if (d < 0) d = -d;
        if (d > worst) worst = d;
    }
    return worst;
}

/* Whether two float arrays are bitwise-equal as values (NaN equals NaN). */
static inline size_t fx_count_float_mismatch(const float *got, const float *want, size_t n)
{
    size_t bad = 0;
    for (size_t i = 0; i < n; i++)
        if (!(got[i] == want[i] || (got[i] != got[i] && want[i] != want[i]))) bad++;
    return bad;
}

#endif
