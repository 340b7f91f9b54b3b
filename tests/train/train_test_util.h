/* Helpers shared by the trainer tests: scratch directories (from
 * util/temp_dataset.h), the reference fixtures of
 * scripts/gen_train_fixtures.py, models loaded from them, and a trainer built
 * the way train.py builds it for those fixtures. Header-only; run the tests
 * from the repository root. */
#ifndef YV5_TEST_TRAIN_UTIL_H
#define YV5_TEST_TRAIN_UTIL_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ckpt/safetensors.h"
#include "data/fsutil.h"
#include "hyp/hyp.h"
#include "model/model.h"
#include "test.h"
#include "train/hyp_json.h"
#include "train/trainer.h"
#include "util/temp_dataset.h"

#define TRAIN_FIXTURE_DIR "tests/fixtures/train/"
#define TRAIN_TINY_CFG "tests/fixtures/ckpt/yolov5-tiny.yaml"

static inline int tt_open(SafeTensors *st, const char *file)
{
    char path[256];
    Error err = {{0}};
    snprintf(path, sizeof path, TRAIN_FIXTURE_DIR "%s", file);
    if (st_read(st, path, &err)) {
        printf("    %s\n", err.msg);
        return -1;
    }
    return 0;
}

static inline const StTensor *tt_tensor(const SafeTensors *st, const char *name, StDtype dtype)
{
    const StTensor *t = st_find(st, name);
    if (!t || t->dtype != dtype) {
        printf("    %s: no %s tensor %s\n", st->path, st_dtype_name(dtype), name);
        return NULL;
    }
    return t;
}

/* Element k of a fixture tensor (tensor data need not be aligned). */
static inline double tt_f64(const StTensor *t, size_t k)
{
    double v;
    memcpy(&v, (const unsigned char *)t->data + k * sizeof v, sizeof v);
    return v;
}

static inline int64_t tt_i64(const StTensor *t, size_t k)
{
    int64_t v;
    memcpy(&v, (const unsigned char *)t->data + k * sizeof v, sizeof v);
    return v;
}

static inline float tt_f32(const StTensor *t, size_t k)
{
    float v;
    memcpy(&v, (const unsigned char *)t->data + k * sizeof v, sizeof v);
    return v;
}

static inline long tt_meta_long(const SafeTensors *st, const char *key)
{
    const char *v = st_meta(st, key);
    if (!v) {
        printf("    %s: no metadata %s\n", st->path, key);
        return -1;
    }
    return strtol(v, NULL, 10);
}

/* Copies prefix.<key> tensors of the fixture into the model's blocks. */
static inline int tt_load_entries(const SafeTensors *st, const char *prefix, Model *m)
{
    char name[160];
    for (int i = 0; i < m->table.n_entries; i++) {
        const ParamEntry *en = &m->table.entries[i];
        snprintf(name, sizeof name, "%s%s", prefix, en->key);
        const StTensor *t = st_find(st, name);
        if (!t || t->numel != (en->ndim ? en->numel : 1)) {
            printf("    fixture has no tensor %s of %zu elements\n", name, en->numel);
            return -1;
        }
        if (en->kind == ENTRY_COUNTER) memcpy(&m->counters[en->offset], t->data, sizeof(int64_t));
        else memcpy((en->kind == ENTRY_PARAM ? m->params : m->buffers) + en->offset, t->data, en->numel * sizeof(float));
    }
    return 0;
}

/* Largest |got - want| over the float entries of `kind` whose fixture tensor
 * prefix.<key> exists, relative to the largest |want| over them; *missing
 * counts entries the fixture lacks. block: the model block of that kind (or
 * an optimizer state block laid out like params). */
static inline double tt_block_rel_err(const SafeTensors *st, const char *prefix, const Model *m, EntryKind kind,
                                      const float *block, const unsigned char *only, int *compared)
{
    char name[256];
    double max_err = 0, max_want = 0;
    int n = 0;
    for (int i = 0; i < m->table.n_entries; i++) {
        const ParamEntry *en = &m->table.entries[i];
        if (en->kind != kind || (only && !only[i])) continue;
        snprintf(name, sizeof name, "%s%s", prefix, en->key);
        const StTensor *t = st_find(st, name);
        if (!t || t->dtype != ST_F32 || t->numel != en->numel) continue;
        for (size_t k = 0; k < en->numel; k++) {
            double w = tt_f32(t, k), g = block[en->offset + k];
            if (isnan(g)) return INFINITY;
            if (fabs(g - w) > max_err) max_err = fabs(g - w);
            if (fabs(w) > max_want) max_want = fabs(w);
        }
        n++;
    }
    if (compared) *compared = n;
    return max_want > 0 ? max_err / max_want : max_err;
}

/* A model built from the tiny YAML with the fixture's initial weights. */
static inline int tt_fixture_model(const SafeTensors *st, Model *m)
{
    Error e = {{0}};
    if (model_create_from_yaml(m, TRAIN_TINY_CFG, 3, &e)) {
        printf("    %s\n", e.msg);
        return -1;
    }
    if (tt_load_entries(st, "init.", m)) {
        model_free(m);
        return -1;
    }
    return 0;
}

/* The trainer of fixture case `c` (sgd, adamw), as train.py sets it up. */
static inline int tt_fixture_trainer(const SafeTensors *st, const char *c, Trainer *t, TrainerConfig *cfg,
                                     int freeze_storage[1])
{
    char key[128];
    Error e = {{0}};
    Model m;
    if (tt_fixture_model(st, &m)) return -1;
    snprintf(key, sizeof key, "%s.hyp", c);
    const char *hyp_text = st_meta(st, key);
    Hyp hyp;
    if (!hyp_text || hyp_from_json(&hyp, hyp_text, key, &e)) {
        printf("    %s: %s\n", key, hyp_text ? e.msg : "missing");
        model_free(&m);
        return -1;
    }
    snprintf(key, sizeof key, "%s.optimizer", c);
    OptimizerKind kind = OPTIM_SGD;
    if (!st_meta(st, key) || optimizer_kind_parse(st_meta(st, key), &kind, &e)) {
        printf("    %s: bad optimizer\n", key);
        model_free(&m);
        return -1;
    }
    memset(cfg, 0, sizeof *cfg);
    cfg->optimizer = kind;
    snprintf(key, sizeof key, "%s.epochs", c);
    cfg->epochs = (int)tt_meta_long(st, key);
    snprintf(key, sizeof key, "%s.batch_size", c);
    cfg->batch_size = (int)tt_meta_long(st, key);
    snprintf(key, sizeof key, "%s.imgsz", c);
    cfg->imgsz = (int)tt_meta_long(st, key);
    snprintf(key, sizeof key, "%s.cos_lr", c);
    cfg->cos_lr = (int)tt_meta_long(st, key);
    snprintf(key, sizeof key, "%s.nb", c);
    cfg->nb = tt_meta_long(st, key);
    cfg->patience = 100;
    freeze_storage[0] = 0;
    cfg->freeze = freeze_storage;
    cfg->n_freeze = 1;
    cfg->seed = 0;
    cfg->round_fp16 = 1;
    if (trainer_create(t, cfg, &hyp, &m, NULL, NULL, &e)) {
        printf("    trainer_create: %s\n", e.msg);
        return -1;
    }
    return 0;
}

/* Batch i of the fixture: images / 255 as float, targets. */
typedef struct {
    Batch b;
    float *images;
} TtBatch;

static inline int tt_fixture_batch(const SafeTensors *st, int i, TtBatch *out)
{
    memset(out, 0, sizeof *out);
    const StTensor *im = tt_tensor(st, "images", ST_U8);
    char name[64];
    snprintf(name, sizeof name, "targets.%d", i);
    const StTensor *tg = tt_tensor(st, name, ST_F32);
    if (!im || !tg || im->ndim != 5 || i >= im->shape[0]) return -1;
    int bs = (int)im->shape[1], h = (int)im->shape[3], w = (int)im->shape[4];
    size_t n = (size_t)bs * 3 * h * w;
    out->images = malloc(n * sizeof(float));
    if (!out->images) return -1;
    const uint8_t *src = (const uint8_t *)im->data + (size_t)i * n;
    for (size_t k = 0; k < n; k++) out->images[k] = (float)src[k] / 255.0f; /* torch: imgs.float() / 255 */
    out->b.n = bs;
    out->b.h = h;
    out->b.w = w;
    out->b.images = out->images;
    out->b.n_targets = (int)tg->shape[0];
    out->b.targets = (float *)tg->data;
    out->b.batch_index = i;
    return 0;
}

#endif
