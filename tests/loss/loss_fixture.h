/* Loads a loss fixture written by scripts/gen_loss_fixtures.py (the real
 * YOLOv5 v7.0 ComputeLoss on the same predictions and targets) into the
 * structures src/loss takes. Header-only: shared by the loss tests. */
#ifndef YV5_TEST_LOSS_FIXTURE_H
#define YV5_TEST_LOSS_FIXTURE_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ckpt/safetensors.h"
#include "loss/loss.h"

#define FIXTURE_DIR "tests/fixtures/loss/"

typedef struct {
    SafeTensors st;
    char name[64];
    LossModel model;
    LossConfig cfg;
    LossInput in;
    float anchors[LOSS_MAX_LEVELS * 16 * 2];
    float strides[LOSS_MAX_LEVELS];
    float *pred[LOSS_MAX_LEVELS];     /* owned */
    float *grad_ref[LOSS_MAX_LEVELS]; /* owned */
    size_t numel[LOSS_MAX_LEVELS];
    float *targets;                   /* owned */
    float items[3], total;
    int calls;                        /* how many calls produced the reference outputs */
} LossFixture;

/* Parses up to max comma-separated numbers of a metadata value. */
static inline int fixture_meta_list(const SafeTensors *st, const char *key, double *out, int max)
{
    const char *s = st_meta(st, key);
    int n = 0;
    while (s && *s && n < max) {
        char *end;
        out[n++] = strtod(s, &end);
        if (end == s) return -1;
        s = *end == ',' ? end + 1 : end;
    }
    return n;
}

static inline double fixture_meta_num(const SafeTensors *st, const char *key)
{
    double v = NAN;
    fixture_meta_list(st, key, &v, 1);
    return v;
}

static inline float *fixture_f32(const SafeTensors *st, const char *name, size_t *count, Error *e)
{
    const StTensor *t = st_find(st, name);
    if (!t) {
        err_set(e, "%s: no tensor %s", st->path, name);
        return NULL;
    }
    float *buf = malloc((t->numel ? t->numel : 1) * sizeof(float));
    if (!buf || st_tensor_to_f32(t, buf, t->numel, e)) {
        free(buf);
        return NULL;
    }
    if (count) *count = t->numel;
    return buf;
}

/* int32 tensor -> malloc'ed int array (NULL on error). */
static inline int *fixture_i32(const SafeTensors *st, const char *name, size_t *count, Error *e)
{
    const StTensor *t = st_find(st, name);
    if (!t || t->dtype != ST_I32) {
        err_set(e, "%s: no int32 tensor %s", st->path, name);
        return NULL;
    }
    int *buf = malloc((t->numel ? t->numel : 1) * sizeof(int));
    if (buf && t->numel) memcpy(buf, t->data, t->numel * sizeof(int));
    if (count) *count = t->numel;
    return buf;
}

static inline void fixture_free(LossFixture *f)
{
    for (int i = 0; i < LOSS_MAX_LEVELS; i++) {
        free(f->pred[i]);
        free(f->grad_ref[i]);
    }
    free(f->targets);
    st_free(&f->st);
    memset(f, 0, sizeof *f);
}

static inline int fixture_load(LossFixture *f, const char *name, Error *e)
{
    char path[256];
    memset(f, 0, sizeof *f);
    snprintf(f->name, sizeof f->name, "%s", name);
    snprintf(path, sizeof path, FIXTURE_DIR "%s.safetensors", name);
    if (st_read(&f->st, path, e)) return -1;
    const SafeTensors *st = &f->st;
    int nl = (int)fixture_meta_num(st, "nl");
    f->model.nl = nl;
    f->model.na = (int)fixture_meta_num(st, "na");
    f->model.nc = (int)fixture_meta_num(st, "nc");
    f->in.batch = (int)fixture_meta_num(st, "batch");
    f->calls = (int)fixture_meta_num(st, "calls");
    if (nl < 1 || nl > LOSS_MAX_LEVELS || f->model.na < 1 || f->model.na > 16)
        return err_set(e, "%s: bad nl/na metadata", path);
    double ny[LOSS_MAX_LEVELS], nx[LOSS_MAX_LEVELS], strides[LOSS_MAX_LEVELS], bal[LOSS_MAX_LEVELS];
    if (fixture_meta_list(st, "ny", ny, nl) != nl || fixture_meta_list(st, "nx", nx, nl) != nl ||
        fixture_meta_list(st, "strides", strides, nl) != nl || fixture_meta_list(st, "balance", bal, nl) != nl)
        return err_set(e, "%s: bad per-level metadata", path);
    const StTensor *at = st_find(st, "anchors");
    if (!at || at->numel != (size_t)nl * f->model.na * 2 ||
        st_tensor_to_f32(at, f->anchors, at->numel, e))
        return err_set(e, "%s: bad anchors", path);
    for (int i = 0; i < nl; i++) {
        f->strides[i] = (float)strides[i];
        f->in.ny[i] = (int)ny[i];
        f->in.nx[i] = (int)nx[i];
        f->cfg.balance[i] = bal[i];
    }
    f->model.anchors = f->anchors;
    f->model.strides = f->strides;

    LossConfig *c = &f->cfg;
    c->box = fixture_meta_num(st, "box");
    c->obj = fixture_meta_num(st, "obj");
    c->cls = fixture_meta_num(st, "cls");
    c->cls_pw = fixture_meta_num(st, "cls_pw");
    c->obj_pw = fixture_meta_num(st, "obj_pw");
    c->anchor_t = fixture_meta_num(st, "anchor_t");
    c->fl_gamma = fixture_meta_num(st, "fl_gamma");
    c->label_smoothing = fixture_meta_num(st, "label_smoothing");
    c->gr = fixture_meta_num(st, "gr");
    c->sort_obj_iou = (int)fixture_meta_num(st, "sort_obj_iou");
    c->autobalance = (int)fixture_meta_num(st, "autobalance");
    const char *kind = st_meta(st, "iou_loss");
    c->iou_loss = !kind ? (IouLoss)-1
                  : !strcmp(kind, "ciou") ? IOU_LOSS_CIOU
                  : !strcmp(kind, "diou") ? IOU_LOSS_DIOU
                  : !strcmp(kind, "giou") ? IOU_LOSS_GIOU
                  : !strcmp(kind, "iou")  ? IOU_LOSS_IOU
                                          : (IouLoss)-1;

    size_t nt6;
    if (!(f->targets = fixture_f32(st, "targets", &nt6, e))) return -1;
    f->in.targets = f->targets;
    f->in.nt = (int)(nt6 / 6);
    for (int i = 0; i < nl; i++) {
        char key[32];
        size_t want = (size_t)f->in.batch * f->model.na * f->in.ny[i] * f->in.nx[i] * (f->model.nc + 5);
        snprintf(key, sizeof key, "pred_%d", i);
        if (!(f->pred[i] = fixture_f32(st, key, &f->numel[i], e))) return -1;
        if (f->numel[i] != want) return err_set(e, "%s: %s has %zu values, want %zu", path, key, f->numel[i], want);
        f->in.pred[i] = f->pred[i];
        snprintf(key, sizeof key, "grad_%d", i);
        if (!(f->grad_ref[i] = fixture_f32(st, key, NULL, e))) return -1;
    }
    float *items = fixture_f32(st, "items", NULL, e);
    float *total = fixture_f32(st, "total", NULL, e);
    if (!items || !total) {
        free(items);
        free(total);
        return -1;
    }
    memcpy(f->items, items, sizeof f->items);
    f->total = total[0];
    free(items);
    free(total);
    return 0;
}

/* Every loss fixture case, in generator order. */
static const char *const LOSS_CASES[] = {
    "default", "edges", "empty_image", "no_targets", "nc1", "label_smoothing", "focal", "pos_weight",
    "balance_anchor_t", "diou", "giou", "iou", "nonsquare", "nl4", "autobalance", "sort_gr",
};
#define LOSS_CASE_COUNT ((int)(sizeof LOSS_CASES / sizeof LOSS_CASES[0]))

#endif
