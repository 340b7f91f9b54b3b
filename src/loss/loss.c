/* ComputeLoss: box (IoU variant), objectness and class terms, and the exact
 * gradient of the total w.r.t. the raw predictions. See loss.h. */
#include "loss/loss.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "loss/bce.h"
#include "loss/box_iou.h"
#include "nn/parallel_for.h"

/* YOLOv5's FocalLoss alpha. */
#define FOCAL_ALPHA 0.25
/* Below this many cells per level the objectness pass stays single-threaded. */
#define OBJ_PARALLEL_MIN_CELLS 16384
/* Targets beyond this magnitude (normalised units) are rejected: they would
 * overflow the integer cell index and cannot come from a real image. */
#define TARGET_LIMIT 1e4

static int check_finite_nonneg(double v) { return isfinite(v) && v >= 0; }

static int check_config(const LossConfig *c, int nl, Error *e)
{
    if (!check_finite_nonneg(c->box) || !check_finite_nonneg(c->obj) || !check_finite_nonneg(c->cls))
        return err_set(e, "loss: gains box %g obj %g cls %g must be finite and >= 0", c->box, c->obj, c->cls);
    if (!check_finite_nonneg(c->cls_pw) || !check_finite_nonneg(c->obj_pw))
        return err_set(e, "loss: cls_pw %g and obj_pw %g must be finite and >= 0", c->cls_pw, c->obj_pw);
    if (!(isfinite(c->anchor_t) && c->anchor_t > 1))
        return err_set(e, "loss: anchor_t %g must be > 1", c->anchor_t);
    if (!check_finite_nonneg(c->fl_gamma)) return err_set(e, "loss: fl_gamma %g must be >= 0", c->fl_gamma);
    if (!(c->label_smoothing >= 0 && c->label_smoothing <= 1))
        return err_set(e, "loss: label_smoothing %g must be in [0, 1]", c->label_smoothing);
    if (strcmp(iou_loss_name(c->iou_loss), "?") == 0)
        return err_set(e, "loss: invalid iou_loss %d", (int)c->iou_loss);
    if (!isfinite(c->gr)) return err_set(e, "loss: gr %g must be finite", c->gr);
    for (int i = 0; i < nl; i++)
        if (!check_finite_nonneg(c->balance[i]))
            return err_set(e, "loss: balance[%d] = %g must be finite and >= 0", i, c->balance[i]);
    return 0;
}

int loss_config_from_hyp(LossConfig *cfg, const Hyp *h, int nl, Error *e)
{
    memset(cfg, 0, sizeof *cfg);
    if (hyp_balance(h, nl, cfg->balance, e)) return -1;
    cfg->box = h->box;
    cfg->obj = h->obj;
    cfg->cls = h->cls;
    cfg->cls_pw = h->cls_pw;
    cfg->obj_pw = h->obj_pw;
    cfg->anchor_t = h->anchor_t;
    cfg->fl_gamma = h->fl_gamma;
    cfg->label_smoothing = h->label_smoothing;
    cfg->iou_loss = h->iou_loss;
    cfg->gr = 1.0;
    cfg->sort_obj_iou = 0;
    cfg->autobalance = 0;
    return check_config(cfg, nl, e);
}

int loss_init(Loss *l, const LossModel *model, const LossConfig *cfg, Error *e)
{
    memset(l, 0, sizeof *l);
    if (model->nl < 1 || model->nl > LOSS_MAX_LEVELS)
        return err_set(e, "loss: %d detection levels (supported: 1 to %d)", model->nl, LOSS_MAX_LEVELS);
    if (model->na < 1 || model->na > 1024) return err_set(e, "loss: %d anchors per level", model->na);
    if (model->nc < 1 || model->nc > 1000000) return err_set(e, "loss: %d classes", model->nc);
    size_t count = (size_t)model->nl * model->na * 2;
    for (size_t i = 0; i < count; i++)
        if (!(isfinite(model->anchors[i]) && model->anchors[i] > 0))
            return err_set(e, "loss: anchor value %g (level %zu, anchor %zu) must be finite and > 0",
                           model->anchors[i], i / (2 * (size_t)model->na), i / 2 % (size_t)model->na);
    if (check_config(cfg, model->nl, e)) return -1;
    l->stride16_level = 0;
    if (cfg->autobalance) {
        l->stride16_level = -1;
        for (int i = 0; model->strides && i < model->nl; i++)
            if (model->strides[i] == 16.0f) {
                l->stride16_level = i;
                break;
            }
        if (l->stride16_level < 0)
            return err_set(e, "loss: autobalance needs a detection level with stride 16");
    }
    l->anchors = malloc(count * sizeof(float));
    if (!l->anchors) return err_set(e, "loss: out of memory");
    memcpy(l->anchors, model->anchors, count * sizeof(float));
    l->model = *model;
    l->model.anchors = l->anchors;
    l->model.strides = NULL; /* only needed above */
    l->cfg = *cfg;
    memcpy(l->balance, cfg->balance, sizeof l->balance);
    return 0;
}

void loss_free(Loss *l)
{
    for (int i = 0; i < LOSS_MAX_LEVELS; i++) level_targets_free(&l->targets[i]);
    free(l->anchors);
    free(l->tobj);
    free(l->row_grad);
    free(l->plane_sum);
    free(l->row_refs);
    free(l->cell_acc);
    memset(l, 0, sizeof *l);
}

/* Grows *buf to hold n elements of size elem; keeps the old block on failure. */
static int reserve(void **buf, size_t *cap, size_t n, size_t elem)
{
    if (n <= *cap) return 0;
    size_t c = *cap ? *cap : 256;
    while (c < n) c *= 2;
    void *p = realloc(*buf, c * elem);
    if (!p) return -1;
    *buf = p;
    *cap = c;
    return 0;
}

static int check_input(const Loss *l, const LossInput *in, float *const *grad, Error *e)
{
    const LossModel *m = &l->model;
    if (in->batch < 1) return err_set(e, "loss: batch size %d", in->batch);
    if (in->nt < 0 || (in->nt > 0 && !in->targets)) return err_set(e, "loss: %d targets without data", in->nt);
    if ((double)in->nt * m->na * 5 > 2e9) return err_set(e, "loss: %d targets is too many", in->nt);
    for (int i = 0; i < m->nl; i++) {
        if (in->ny[i] < 1 || in->nx[i] < 1 || (double)in->ny[i] * in->nx[i] > 1e8)
            return err_set(e, "loss: level %d grid %d x %d", i, in->ny[i], in->nx[i]);
        if (!in->pred[i]) return err_set(e, "loss: level %d has no predictions", i);
        if (grad && !grad[i]) return err_set(e, "loss: level %d has no gradient buffer", i);
    }
    for (int t = 0; t < in->nt; t++) {
        const float *r = in->targets + (size_t)t * 6;
        for (int k = 0; k < 6; k++)
            if (!isfinite(r[k]) || fabsf(r[k]) > TARGET_LIMIT)
                return err_set(e, "targets row %d: column %d is %g (must be finite, |x| <= %g)", t, k, r[k],
                               TARGET_LIMIT);
        if ((int)r[0] < 0 || (int)r[0] >= in->batch)
            return err_set(e, "targets row %d: image index %g outside [0, %d)", t, r[0], in->batch);
        if ((int)r[1] < 0 || (int)r[1] >= m->nc)
            return err_set(e, "targets row %d: class %g outside [0, %d)", t, r[1], m->nc);
        if (r[4] < 0 || r[5] < 0)
            return err_set(e, "targets row %d: negative size %g x %g", t, r[4], r[5]);
    }
    return 0;
}

static double sigmoid(double z) { return z >= 0 ? 1.0 / (1.0 + exp(-z)) : exp(z) / (1.0 + exp(z)); }

/* Flat cell index of a target row in (B, na, ny, nx). */
static size_t row_cell(const TargetRow *r, int na, int ny, int nx)
{
    return (((size_t)r->image * na + r->anchor) * ny + r->gj) * nx + r->gi;
}

/* Decodes each row's predicted box, scores it against the target box, and
 * stores [iou, d iou / d z0..z3] per row in rg. Returns the sum of 1 - iou. */
static double box_pass(const LevelTargets *lt, const float *pred, int na, int ny, int nx, int no,
                       IouLoss kind, double *rg)
{
    double sum = 0;
    for (int r = 0; r < lt->n; r++) {
        const TargetRow *row = &lt->rows[r];
        const float *q = pred + row_cell(row, na, ny, nx) * no;
        double s[4];
        for (int k = 0; k < 4; k++) s[k] = sigmoid(q[k]);
        const double aw = row->anchor_wh[0], ah = row->anchor_wh[1];
        const double box[4] = {2 * s[0] - 0.5, 2 * s[1] - 0.5, 4 * s[2] * s[2] * aw, 4 * s[3] * s[3] * ah};
        const double target[4] = {row->tbox[0], row->tbox[1], row->tbox[2], row->tbox[3]};
        double g[4];
        double iou = box_iou_xywh(kind, box, target, g);
        double *out = rg + (size_t)r * 5;
        out[0] = iou;
        out[1] = g[0] * 2 * s[0] * (1 - s[0]);
        out[2] = g[1] * 2 * s[1] * (1 - s[1]);
        out[3] = g[2] * 8 * s[2] * s[2] * (1 - s[2]) * aw;
        out[4] = g[3] * 8 * s[3] * s[3] * (1 - s[3]) * ah;
        sum += 1.0 - iou;
    }
    return sum;
}

/* tobj at each assigned cell: the clamped IoU (mixed with gr below 1); the
 * last row in emission order wins a shared cell, or the largest value when
 * sorting (the reference writes rows in ascending IoU order then). */
static void scatter_tobj(const LevelTargets *lt, const double *rg, const LossConfig *c, int na, int ny,
                         int nx, double *tobj)
{
    for (int r = 0; r < lt->n; r++) {
        double v = rg[(size_t)r * 5];
        v = v > 0 ? v : 0.0;
        if (c->gr < 1) v = (1.0 - c->gr) + c->gr * v;
        size_t cell = row_cell(&lt->rows[r], na, ny, nx);
        if (!c->sort_obj_iou || v > tobj[cell]) tobj[cell] = v;
    }
}

typedef struct {
    const float *pred;
    const double *tobj;
    float *grad;
    size_t hw;
    int no;
    const BceParams *bp;
    double scale;
    double *plane_sum;
} ObjectnessCtx;

/* Planes [lo, hi) of the objectness pass. */
static void objectness_planes(const void *p, long long lo, long long hi)
{
    const ObjectnessCtx *c = p;
    const size_t hw = c->hw;
    const int no = c->no;
    for (long long pl = lo; pl < hi; pl++) {
        const float *z = c->pred + (size_t)pl * hw * no;
        const double *t = c->tobj + (size_t)pl * hw;
        float *g = c->grad ? c->grad + (size_t)pl * hw * no : NULL;
        double sum = 0;
        for (size_t cell = 0; cell < hw; cell++) {
            double d;
            sum += bce_logits(z[cell * no + 4], t[cell], c->bp, &d);
            if (g) {
                float *gc = g + cell * no;
                for (int k = 0; k < no; k++) gc[k] = 0.0f;
                gc[4] = (float)(c->scale * d);
            }
        }
        c->plane_sum[pl] = sum;
    }
}

/* BCE of channel 4 against tobj over every cell; writes the whole gradient
 * of each cell (zeros, objectness term in channel 4). One partial sum per
 * (image, anchor) plane, added in order by the caller, so the result does
 * not depend on the thread count. On the task pool (parallel_for), not an
 * OpenMP region: a one-thread region makes libgomp allocate a team. */
static void objectness_pass(const float *pred, const double *tobj, float *grad, long planes, size_t hw, int no,
                            const BceParams *bp, double scale, double *plane_sum)
{
    const ObjectnessCtx c = {pred, tobj, grad, hw, no, bp, scale, plane_sum};
    parallel_for(planes, (size_t)planes * hw, OBJ_PARALLEL_MIN_CELLS, objectness_planes, &c);
}

/* A target row and its flat cell index, for grouping rows by cell. */
typedef struct RowRef {
    size_t cell;
    int row;
} RowRef;

/* Order by cell, then row: a strict total order (rows are distinct), so any
 * correct sort gives the same sequence. */
static int row_ref_before(const RowRef *a, const RowRef *b)
{
    return a->cell != b->cell ? a->cell < b->cell : a->row < b->row;
}

static void sift_down(RowRef *v, int root, int n)
{
    for (;;) {
        int child = 2 * root + 1;
        if (child >= n) return;
        if (child + 1 < n && row_ref_before(&v[child], &v[child + 1])) child++;
        if (!row_ref_before(&v[root], &v[child])) return;
        RowRef tmp = v[root];
        v[root] = v[child];
        v[child] = tmp;
        root = child;
    }
}

/* Heapsort in place: glibc's qsort may allocate a merge buffer on every call,
 * and the loss runs in every training step. */
static void sort_row_refs(RowRef *v, int n)
{
    for (int i = n / 2 - 1; i >= 0; i--) sift_down(v, i, n);
    for (int end = n - 1; end > 0; end--) {
        RowRef tmp = v[0];
        v[0] = v[end];
        v[end] = tmp;
        sift_down(v, 0, end);
    }
}

/* Box and class terms of the assigned rows. Rows are grouped by cell so that
 * every gradient element they reach is summed in double and rounded once
 * (several rows often share a cell). Returns the class BCE sum over
 * rows x classes (0 when nc == 1, where YOLOv5 has no class loss). */
static double sparse_pass(const LevelTargets *lt, const double *rg, RowRef *refs, double *acc,
                          const float *pred, float *grad, int na, int ny, int nx, int nc, double box_scale,
                          double cls_scale, double cp, double cn, const BceParams *bp)
{
    const int no = nc + 5, n = lt->n;
    for (int r = 0; r < n; r++) refs[r] = (RowRef){row_cell(&lt->rows[r], na, ny, nx), r};
    sort_row_refs(refs, n);
    double cls_sum = 0;
    for (int start = 0; start < n;) {
        const size_t cell = refs[start].cell;
        const float *q = pred + cell * no;
        for (int k = 0; k < no; k++) acc[k] = 0;
        int end = start;
        for (; end < n && refs[end].cell == cell; end++) {
            const int r = refs[end].row;
            for (int k = 0; k < 4; k++) acc[k] += box_scale * rg[(size_t)r * 5 + 1 + k];
            if (nc > 1) {
                const int cls = lt->rows[r].cls;
                for (int c = 0; c < nc; c++) {
                    double d;
                    cls_sum += bce_logits(q[5 + c], c == cls ? cp : cn, bp, &d);
                    acc[5 + c] += cls_scale * d;
                }
            }
        }
        if (grad) {
            /* Channel 4 holds the objectness term alone (objectness_pass). */
            float *g = grad + cell * no;
            for (int k = 0; k < 4; k++) g[k] = (float)acc[k];
            for (int k = 5; k < no; k++) g[k] = (float)acc[k];
        }
        start = end;
    }
    return cls_sum;
}

int loss_compute(Loss *l, const LossInput *in, float *const *grad, LossResult *out, Error *e)
{
    memset(out, 0, sizeof *out);
    if (check_input(l, in, grad, e)) return -1;
    const LossModel *m = &l->model;
    const LossConfig *c = &l->cfg;
    const int na = m->na, nc = m->nc, no = nc + 5, B = in->batch;
    const BceParams obj_bce = {c->obj_pw, c->fl_gamma, FOCAL_ALPHA};
    const BceParams cls_bce = {c->cls_pw, c->fl_gamma, FOCAL_ALPHA};
    const double cp = 1.0 - 0.5 * c->label_smoothing, cn = 0.5 * c->label_smoothing;
    double lbox = 0, lobj = 0, lcls = 0;

    for (int i = 0; i < m->nl; i++) {
        const int ny = in->ny[i], nx = in->nx[i];
        const size_t hw = (size_t)ny * nx, planes = (size_t)B * na, cells = planes * hw;
        const float *pred = in->pred[i];
        float *g = grad ? grad[i] : NULL;
        LevelTargets *lt = &l->targets[i];
        if (build_targets_level(lt, in->targets, in->nt, na, m->anchors + (size_t)i * na * 2, ny, nx,
                                (float)c->anchor_t, e))
            return -1;
        const int n = lt->n;
        out->rows[i] = n;
        if (reserve((void **)&l->tobj, &l->tobj_cap, cells, sizeof(double)) ||
            reserve((void **)&l->row_grad, &l->row_cap, (size_t)n * 5, sizeof(double)) ||
            reserve((void **)&l->plane_sum, &l->plane_cap, planes, sizeof(double)) ||
            reserve((void **)&l->row_refs, &l->refs_cap, (size_t)n, sizeof(*l->row_refs)) ||
            reserve((void **)&l->cell_acc, &l->acc_cap, (size_t)no, sizeof(double)))
            return err_set(e, "loss: out of memory for level %d (%zu cells, %d rows)", i, cells, n);

        memset(l->tobj, 0, cells * sizeof(double));
        double box_sum = box_pass(lt, pred, na, ny, nx, no, c->iou_loss, l->row_grad);
        scatter_tobj(lt, l->row_grad, c, na, ny, nx, l->tobj);

        /* d total / d z4 = B * obj * balance / cells * d BCE. */
        const double obj_scale = (double)B * c->obj * l->balance[i] / (double)cells;
        objectness_pass(pred, l->tobj, g, (long)planes, hw, no, &obj_bce, obj_scale, l->plane_sum);
        double obj_sum = 0;
        for (size_t p = 0; p < planes; p++) obj_sum += l->plane_sum[p];
        const double obj_mean = obj_sum / (double)cells;
        lobj += obj_mean * l->balance[i];

        if (n > 0) {
            /* d total / d iou = -B * box / n for every row; the class BCE mean
             * is over n x nc elements. */
            const double box_scale = -(double)B * c->box / n;
            const double cls_scale = (double)B * c->cls / ((double)n * nc);
            double cls_sum = sparse_pass(lt, l->row_grad, l->row_refs, l->cell_acc, pred, g, na, ny, nx, nc,
                                         box_scale, cls_scale, cp, cn, &cls_bce);
            lbox += box_sum / n;
            if (nc > 1) lcls += cls_sum / ((double)n * nc);
        }
        if (c->autobalance && obj_mean > 0)
            l->balance[i] = l->balance[i] * 0.9999 + 0.0001 / obj_mean;
    }
    if (c->autobalance) {
        const double ref = l->balance[l->stride16_level];
        for (int i = 0; i < m->nl; i++) l->balance[i] /= ref;
    }
    out->box = lbox * c->box;
    out->obj = lobj * c->obj;
    out->cls = lcls * c->cls;
    out->total = (out->box + out->obj + out->cls) * B;
    return 0;
}
