/* The analytic gradient of the loss against central finite differences of
 * the loss itself (computed in double), for every IoU variant and option.
 *
 * The reference treats the objectness target (the IoU) as a constant, so the
 * gradient is checked piecewise, each channel against the loss item that
 * reaches it: box channels (0-3) against B * box item, objectness (4)
 * against B * obj item, classes (5..) against B * cls item. Steps are
 * h = 2^-10 and 2^-11, divided by the exact difference of the two float
 * arguments (z +- h rounds when it crosses a power of two); an element whose
 * differences at h and h/2 disagree crossed a min/max/clamp kink and is
 * skipped (ties are excluded, as in the brief; their rule is checked in
 * test_box_iou). Tolerance: 2e-7 of the level's largest gradient + 1e-5
 * relative; measured <= 6e-8 of the largest (float32 rounding).
 *
 * CIoU's alpha is a constant for the reference's gradient, so for CIoU the
 * box item is differenced as the DIoU box item (a second Loss) plus
 * box * sum_i mean_r v_r alpha_r with alpha_r frozen at the base point:
 * exactly the CIoU item with alpha held. */
#include "test.h"
#include "loss/box_iou.h"
#include "loss/loss_synth.h"

typedef enum { ITEM_BOX, ITEM_OBJ, ITEM_CLS } Item;

static double item_of(const LossResult *r, Item which, int batch)
{
    double v = which == ITEM_BOX ? r->box : which == ITEM_OBJ ? r->obj : r->cls;
    return v * batch;
}

static double eval_item(Loss *l, const LossInput *in, Item which)
{
    LossResult r;
    Error e;
    if (loss_compute(l, in, NULL, &r, &e)) return NAN;
    return item_of(&r, which, in->batch);
}

/* Central difference of one item w.r.t. pred[level][k] with step h. */
static double central(Loss *l, Synth *s, int level, size_t k, Item which, float h)
{
    float z = s->pred[level][k], zp = z + h, zm = z - h;
    s->pred[level][k] = zp;
    double fp = eval_item(l, &s->in, which);
    s->pred[level][k] = zm;
    double fm = eval_item(l, &s->in, which);
    s->pred[level][k] = z;
    return (fp - fm) / ((double)zp - (double)zm);
}

typedef struct {
    const char *name;
    IouLoss iou;
    int nc;
    double fl_gamma, cls_pw, obj_pw, label_smoothing, gr;
    int sort_obj_iou;
    double balance[3];
} FdCase;

/* One assigned row, copied with what the frozen-alpha CIoU term needs. */
typedef struct {
    int level;
    size_t cell;
    double tbox[4], anchor[2];
    double alpha0;
} FrozenRow;

static double sigmoid(double z) { return 1.0 / (1.0 + exp(-z)); }

/* v of CIoU for a row at the current predictions. */
static double aspect_v(const Synth *s, const FrozenRow *r, int no)
{
    const double pi = 3.14159265358979323846;
    const float *q = s->pred[r->level] + r->cell * no;
    double s2 = sigmoid(q[2]), s3 = sigmoid(q[3]);
    double w = 4 * s2 * s2 * r->anchor[0], h = 4 * s3 * s3 * r->anchor[1];
    double d = atan(r->tbox[2] / r->tbox[3]) - atan(w / h);
    return 4 / (pi * pi) * d * d;
}

/* B * box item of CIoU with every alpha frozen at alpha0. */
static double ciou_box_frozen(Loss *diou, Synth *s, const FrozenRow *rows, int nrows, const int *level_rows,
                              int no)
{
    double v = eval_item(diou, &s->in, ITEM_BOX);
    for (int r = 0; r < nrows; r++)
        v += s->in.batch * s->cfg.box * rows[r].alpha0 * aspect_v(s, &rows[r], no) / level_rows[rows[r].level];
    return v;
}

static double central_ciou(Loss *diou, Synth *s, const FrozenRow *rows, int nrows, const int *level_rows, int no,
                           int level, size_t k, float h)
{
    float z = s->pred[level][k], zp = z + h, zm = z - h;
    s->pred[level][k] = zp;
    double fp = ciou_box_frozen(diou, s, rows, nrows, level_rows, no);
    s->pred[level][k] = zm;
    double fm = ciou_box_frozen(diou, s, rows, nrows, level_rows, no);
    s->pred[level][k] = z;
    return (fp - fm) / ((double)zp - (double)zm);
}

static FdCase base_case(const char *name, IouLoss kind)
{
    return (FdCase){.name = name, .iou = kind, .nc = 4, .cls_pw = 1, .obj_pw = 1, .gr = 1};
}

static void check_case(const FdCase *fc, uint64_t seed)
{
    Synth s;
    synth_make(&s, seed, fc->nc, 2, 64, 64, 12);
    LossConfig *c = &s.cfg;
    c->iou_loss = fc->iou;
    c->fl_gamma = fc->fl_gamma;
    c->cls_pw = fc->cls_pw;
    c->obj_pw = fc->obj_pw;
    c->label_smoothing = fc->label_smoothing;
    c->gr = fc->gr;
    c->sort_obj_iou = fc->sort_obj_iou;
    c->cls = 0.7; /* a class gain that makes class terms comparable to the box terms */
    if (fc->balance[0] > 0) memcpy(c->balance, fc->balance, sizeof fc->balance);
    const int ciou = fc->iou == IOU_LOSS_CIOU;
    LossConfig cfg_diou = *c;
    cfg_diou.iou_loss = IOU_LOSS_DIOU;
    Loss l, ld;
    Error e = {{0}};
    LossResult res;
    if (loss_init(&l, &s.model, c, &e) || loss_init(&ld, &s.model, &cfg_diou, &e) ||
        loss_compute(&l, &s.in, s.grad, &res, &e)) {
        CHECK(0, "%s: %s", fc->name, e.msg);
        synth_free(&s);
        return;
    }
    const int no = fc->nc + 5;
    const float h = 1.0f / 1024;
    int checked = 0, skipped = 0, rows = 0;
    double worst = 0;
    Rng rng;
    rng_seed(&rng, seed + 99);

    /* Copy the assignment (evaluations below overwrite l.targets) and freeze alpha. */
    int level_rows[3] = {0, 0, 0};
    for (int i = 0; i < 3; i++) rows += level_rows[i] = l.targets[i].n;
    FrozenRow *frozen = malloc(((size_t)rows + 1) * sizeof *frozen);
    int nf = 0;
    for (int i = 0; i < 3; i++) {
        for (int r = 0; r < l.targets[i].n; r++) {
            const TargetRow *t = &l.targets[i].rows[r];
            FrozenRow *f = &frozen[nf++];
            f->level = i;
            f->cell = (((size_t)t->image * 3 + t->anchor) * s.in.ny[i] + t->gj) * s.in.nx[i] + t->gi;
            for (int k = 0; k < 4; k++) f->tbox[k] = t->tbox[k];
            f->anchor[0] = t->anchor_wh[0];
            f->anchor[1] = t->anchor_wh[1];
            const float *q = s.pred[i] + f->cell * no;
            double s0 = sigmoid(q[0]), s1 = sigmoid(q[1]), s2 = sigmoid(q[2]), s3 = sigmoid(q[3]);
            double box[4] = {2 * s0 - 0.5, 2 * s1 - 0.5, 4 * s2 * s2 * f->anchor[0], 4 * s3 * s3 * f->anchor[1]};
            double iou = box_iou_xywh(IOU_LOSS_IOU, box, f->tbox, NULL);
            double v = aspect_v(&s, f, no);
            f->alpha0 = v / (v - iou + (1 + 1e-7));
        }
    }

    for (int i = 0; i < 3; i++) {
        /* Every assigned cell, plus random cells (objectness only reaches them). */
        size_t *cells = malloc(((size_t)level_rows[i] + 16) * sizeof(size_t));
        int ncell = 0;
        for (int r = 0; r < nf; r++)
            if (frozen[r].level == i) cells[ncell++] = frozen[r].cell;
        size_t level_cells = s.numel[i] / no;
        for (int k = 0; k < 16; k++) cells[ncell++] = (size_t)rng_int(&rng, 0, (int64_t)level_cells - 1);
        double gmax = 0;
        for (size_t k = 0; k < s.numel[i]; k++) gmax = fmax(gmax, fabs(s.grad[i][k]));
        for (int ci = 0; ci < ncell; ci++) {
            for (int ch = 0; ch < no; ch++) {
                size_t k = cells[ci] * no + ch;
                Item which = ch < 4 ? ITEM_BOX : ch == 4 ? ITEM_OBJ : ITEM_CLS;
                double fd1, fd2;
                if (ciou && which == ITEM_BOX) {
                    fd1 = central_ciou(&ld, &s, frozen, nf, level_rows, no, i, k, h);
                    fd2 = central_ciou(&ld, &s, frozen, nf, level_rows, no, i, k, h / 2);
                } else {
                    fd1 = central(&l, &s, i, k, which, h);
                    fd2 = central(&l, &s, i, k, which, h / 2);
                }
                if (fabs(fd1 - fd2) > 1e-4 * fabs(fd2) + 1e-9 * gmax) {
                    skipped++; /* a kink between z - h and z + h */
                    continue;
                }
                double g = s.grad[i][k];
                checked++;
                worst = fmax(worst, fabs(g - fd2) / (gmax > 0 ? gmax : 1));
                CHECK(test_close(g, fd2, 2e-7 * gmax + 1e-12, 1e-5),
                      "%s level %d cell %zu channel %d: analytic %.9g fd %.9g", fc->name, i, cells[ci], ch, g,
                      fd2);
            }
        }
        free(cells);
    }
    CHECK(rows > 10, "%s: only %d assigned rows", fc->name, rows);
    CHECK(skipped * 50 <= checked, "%s: %d of %d elements skipped as kinks", fc->name, skipped, checked);
    printf("    # %-18s %5d elements (%d rows, %d skipped at kinks): max |analytic - fd| / max|grad| %.2e\n",
           fc->name, checked, rows, skipped, worst);
    free(frozen);
    loss_free(&l);
    loss_free(&ld);
    synth_free(&s);
}

static void ciou(void) { FdCase c = base_case("ciou", IOU_LOSS_CIOU); check_case(&c, 1); }
static void diou(void) { FdCase c = base_case("diou", IOU_LOSS_DIOU); check_case(&c, 2); }
static void giou(void) { FdCase c = base_case("giou", IOU_LOSS_GIOU); check_case(&c, 3); }
static void iou(void) { FdCase c = base_case("iou", IOU_LOSS_IOU); check_case(&c, 4); }
static void focal_and_pos_weight(void)
{
    FdCase c = base_case("focal 1.5, pw", IOU_LOSS_CIOU);
    c.fl_gamma = 1.5, c.cls_pw = 1.3, c.obj_pw = 0.8;
    check_case(&c, 5);
}
static void focal_gamma_below_one(void)
{
    FdCase c = base_case("focal 0.5, giou", IOU_LOSS_GIOU);
    c.fl_gamma = 0.5;
    check_case(&c, 6);
}
static void label_smoothing(void)
{
    FdCase c = base_case("label smoothing", IOU_LOSS_CIOU);
    c.label_smoothing = 0.2;
    check_case(&c, 7);
}
static void single_class(void)
{
    FdCase c = base_case("nc 1", IOU_LOSS_DIOU);
    c.nc = 1;
    check_case(&c, 8);
}
static void gr_and_sorted_objectness(void)
{
    FdCase c = base_case("gr 0.5, sorted", IOU_LOSS_CIOU);
    c.gr = 0.5, c.sort_obj_iou = 1;
    check_case(&c, 9);
}
static void custom_balance(void)
{
    FdCase c = base_case("balance 2,1.5,0.3", IOU_LOSS_IOU);
    c.balance[0] = 2.0, c.balance[1] = 1.5, c.balance[2] = 0.3;
    check_case(&c, 10);
}

TEST_MAIN(TEST_ENTRY(ciou), TEST_ENTRY(diou), TEST_ENTRY(giou), TEST_ENTRY(iou), TEST_ENTRY(focal_and_pos_weight),
          TEST_ENTRY(focal_gamma_below_one), TEST_ENTRY(label_smoothing), TEST_ENTRY(single_class),
          TEST_ENTRY(gr_and_sorted_objectness), TEST_ENTRY(custom_balance))
