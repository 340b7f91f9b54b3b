/* Reading the optimizer-stage fixtures (scripts/gen_optim_fixtures.py) and
 * building a ParamTable for their fake YOLOv5-shaped model. Header-only:
 * shared by the tests in tests/optim. Run from the repository root. */
#ifndef YV5_TEST_OPTIM_FIXTURE_H
#define YV5_TEST_OPTIM_FIXTURE_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ckpt/safetensors.h"
#include "model/param_table.h"
#include "test.h"

#ifndef OPTIM_FIXTURE_DIR /* overridable to replay fixtures made elsewhere */
#define OPTIM_FIXTURE_DIR "tests/fixtures/optim/"
#endif

static inline int ofx_open(SafeTensors *st, const char *file)
{
    char path[256];
    Error err = {{0}};
    snprintf(path, sizeof path, OPTIM_FIXTURE_DIR "%s", file);
    if (st_read(st, path, &err)) {
        printf("    %s\n", err.msg);
        return -1;
    }
    return 0;
}

/* The tensor `name` with dtype `dtype`, or NULL (reported). */
static inline const StTensor *ofx_tensor(const SafeTensors *st, const char *name, StDtype dtype)
{
    const StTensor *t = st_find(st, name);
    if (!t || t->dtype != dtype) {
        printf("    %s: no %s tensor %s\n", st->path, st_dtype_name(dtype), name);
        return NULL;
    }
    return t;
}

/* Malloc'ed copies (count = numel); NULL when missing. */
static inline float *ofx_f32(const SafeTensors *st, const char *name, size_t *count)
{
    const StTensor *t = ofx_tensor(st, name, ST_F32);
    if (!t) return NULL;
    float *out = malloc((t->numel ? t->numel : 1) * sizeof(float));
    if (out) memcpy(out, t->data, t->numel * sizeof(float));
    if (count) *count = t->numel;
    return out;
}

static inline double *ofx_f64(const SafeTensors *st, const char *name, size_t *count)
{
    const StTensor *t = ofx_tensor(st, name, ST_F64);
    if (!t) return NULL;
    double *out = malloc((t->numel ? t->numel : 1) * sizeof(double));
    if (out) memcpy(out, t->data, t->numel * sizeof(double));
    if (count) *count = t->numel;
    return out;
}

static inline int64_t *ofx_i64(const SafeTensors *st, const char *name, size_t *count)
{
    const StTensor *t = ofx_tensor(st, name, ST_I64);
    if (!t) return NULL;
    int64_t *out = malloc((t->numel ? t->numel : 1) * sizeof(int64_t));
    if (out) memcpy(out, t->data, t->numel * sizeof(int64_t));
    if (count) *count = t->numel;
    return out;
}

static inline int32_t *ofx_i32(const SafeTensors *st, const char *name, size_t *count)
{
    const StTensor *t = ofx_tensor(st, name, ST_I32);
    if (!t) return NULL;
    int32_t *out = malloc((t->numel ? t->numel : 1) * sizeof(int32_t));
    if (out) memcpy(out, t->data, t->numel * sizeof(int32_t));
    if (count) *count = t->numel;
    return out;
}

static inline double ofx_meta_num(const SafeTensors *st, const char *key)
{
    const char *v = st_meta(st, key);
    return v ? strtod(v, NULL) : NAN;
}

/* Splits a comma-separated metadata value (copied into buf, cap bytes) into
 * at most max pieces pointing into buf; returns the count. */
static inline int ofx_meta_split(const SafeTensors *st, const char *key, char *buf, size_t cap, char **out,
                                 int max)
{
    const char *v = st_meta(st, key);
    if (!v || strlen(v) + 1 > cap) return 0;
    strcpy(buf, v);
    int n = 0;
    for (char *s = buf; s && *s && n < max;) {
        out[n++] = s;
        char *c = strchr(s, ',');
        if (c) *c++ = '\0';
        s = c;
    }
    return n;
}

/* The fixture model's state_dict as a ParamTable (entries, kinds, groups,
 * offsets per block; shapes flattened). Returns 0 or -1. */
static inline int ofx_table(const SafeTensors *st, ParamTable *t, int32_t **frozen_out)
{
    memset(t, 0, sizeof *t);
    size_t n = 0, n2 = 0, n3 = 0, n4 = 0;
    int32_t *kind = ofx_i32(st, "entry_kind", &n);
    int32_t *group = ofx_i32(st, "entry_group", &n2);
    int64_t *numel = ofx_i64(st, "entry_numel", &n3);
    int32_t *frozen = ofx_i32(st, "entry_frozen", &n4);
    const char *keys = st_meta(st, "keys");
    int ok = kind && group && numel && frozen && keys && n == n2 && n == n3 && n == n4 && n > 0;
    if (ok) t->entries = calloc(n, sizeof *t->entries);
    ok = ok && t->entries;
    if (ok) {
        t->n_entries = (int)n;
        const char *k = keys;
        for (size_t i = 0; i < n && ok; i++) {
            ParamEntry *e = &t->entries[i];
            const char *c = strchr(k, ',');
            size_t len = c ? (size_t)(c - k) : strlen(k);
            ok = len > 0 && len < sizeof e->key;
            if (!ok) break;
            memcpy(e->key, k, len);
            e->key[len] = '\0';
            k = c ? c + 1 : k + len;
            e->ndim = 1;
            e->shape[0] = (int)numel[i];
            e->numel = (size_t)numel[i];
            e->kind = (EntryKind)kind[i];
            e->group = group[i];
            if (sscanf(e->key, "model.%d.", &e->layer) != 1) e->layer = -1;
            if (e->kind == ENTRY_PARAM) {
                e->offset = t->n_params;
                t->n_params += e->numel;
                t->n_param_tensors++;
                t->group_tensors[e->group]++;
                t->group_numel[e->group] += e->numel;
            } else if (e->kind == ENTRY_BUFFER) {
                e->offset = t->n_buffers;
                t->n_buffers += e->numel;
                t->n_buffer_tensors++;
            } else {
                e->offset = t->n_counters;
                t->n_counters += e->numel;
                t->n_buffer_tensors++;
            }
        }
    }
    free(kind);
    free(group);
    free(numel);
    if (!ok) {
        printf("    %s: bad entry table\n", st->path);
        free(frozen);
        free(t->entries);
        memset(t, 0, sizeof *t);
        return -1;
    }
    if (frozen_out) *frozen_out = frozen;
    else free(frozen);
    return 0;
}

/* Largest |got - want| and largest relative error over an array (for the
 * report lines the tests print). */
static inline void ofx_max_err(const float *got, const float *want, size_t n, double *abs_err, double *rel_err)
{
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - (double)want[i]);
        if (d > *abs_err) *abs_err = d;
        double r = d / (fabs((double)want[i]) > 1e-30 ? fabs((double)want[i]) : 1e-30);
        if (d > 0 && r > *rel_err) *rel_err = r;
    }
}

/* Elements whose bits differ. */
static inline size_t ofx_bit_diffs(const float *got, const float *want, size_t n)
{
    size_t diff = 0;
    for (size_t i = 0; i < n; i++) diff += memcmp(&got[i], &want[i], sizeof(float)) != 0;
    return diff;
}

#endif
