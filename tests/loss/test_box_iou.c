/* box_iou_xywh: values and gradients of IoU / GIoU / DIoU / CIoU against
 * YOLOv5's bbox_iou under float64 autograd (tests/fixtures/loss/box_iou:
 * exact ties included: identical boxes, shared edges, touching boxes), and
 * against central finite differences away from ties. */
#include "test.h"
#include "ckpt/safetensors.h"
#include "core/rng.h"
#include "loss/box_iou.h"

static const IouLoss KINDS[4] = {IOU_LOSS_CIOU, IOU_LOSS_DIOU, IOU_LOSS_GIOU, IOU_LOSS_IOU};

static void matches_reference_autograd(void)
{
    SafeTensors st;
    Error e = {{0}};
    if (st_read(&st, "tests/fixtures/loss/box_iou.safetensors", &e)) {
        CHECK(0, "%s", e.msg);
        return;
    }
    const StTensor *pairs = st_find(&st, "pairs");
    CHECK(pairs && pairs->dtype == ST_F64 && pairs->ndim == 2 && pairs->shape[1] == 8, "pairs tensor");
    int n = pairs ? (int)pairs->shape[0] : 0;
    double worst_value = 0, worst_grad = 0;
    for (int k = 0; k < 4 && pairs; k++) {
        char name[32];
        snprintf(name, sizeof name, "value_%s", iou_loss_name(KINDS[k]));
        const StTensor *values = st_find(&st, name);
        snprintf(name, sizeof name, "grad_%s", iou_loss_name(KINDS[k]));
        const StTensor *grads = st_find(&st, name);
        CHECK(values && grads && values->numel == (size_t)n && grads->numel == (size_t)n * 4, "%s", name);
        if (!values || !grads) continue;
        for (int i = 0; i < n; i++) {
            double p[8], want_v, want_g[4], g[4];
            memcpy(p, (const double *)pairs->data + 8 * i, sizeof p);
            memcpy(&want_v, (const double *)values->data + i, sizeof want_v);
            memcpy(want_g, (const double *)grads->data + 4 * i, sizeof want_g);
            double v = box_iou_xywh(KINDS[k], p, p + 4, g);
            CHECK_CLOSE(v, want_v, 1e-15, 1e-13);
            worst_value = fmax(worst_value, fabs(v - want_v));
            for (int j = 0; j < 4; j++) {
                CHECK(test_close(g[j], want_g[j], 1e-14, 1e-11), "%s pair %d d/d%c: got %.17g want %.17g",
                      iou_loss_name(KINDS[k]), i, "xywh"[j], g[j], want_g[j]);
                worst_grad = fmax(worst_grad, fabs(g[j] - want_g[j]));
            }
        }
    }
    printf("    # %d pairs x 4 variants: max |value err| %.2e, max |grad err| %.2e\n", n, worst_value, worst_grad);
    st_free(&st);
}

/* Smallest distance between any two edges that meet in a min or max: the
 * gradient has kinks there, so finite differences must stay away. */
static double tie_distance(const double *b, const double *t)
{
    double e1[4] = {b[0] - b[2] / 2, b[0] + b[2] / 2, b[1] - b[3] / 2, b[1] + b[3] / 2};
    double e2[4] = {t[0] - t[2] / 2, t[0] + t[2] / 2, t[1] - t[3] / 2, t[1] + t[3] / 2};
    double d = INFINITY;
    for (int i = 0; i < 4; i++) d = fmin(d, fabs(e1[i] - e2[i]));
    /* The intersection clamps at zero overlap: left of one vs right of the other. */
    d = fmin(d, fabs(e1[1] - e2[0]));
    d = fmin(d, fabs(e1[0] - e2[1]));
    d = fmin(d, fabs(e1[3] - e2[2]));
    d = fmin(d, fabs(e1[2] - e2[3]));
    return d;
}

/* CIoU with alpha held at a given value: the reference does not
 * differentiate through alpha, so finite differences must not either. */
static double ciou_frozen_alpha(const double *b, const double *t, double alpha0)
{
    const double pi = 3.14159265358979323846;
    double diou = box_iou_xywh(IOU_LOSS_DIOU, b, t, NULL);
    double dlt = atan(t[2] / t[3]) - atan(b[2] / b[3]);
    double v = 4 / (pi * pi) * dlt * dlt;
    return diou - v * alpha0;
}

static void gradient_matches_finite_differences(void)
{
    Rng rng;
    rng_seed(&rng, 11);
    const double pi = 3.14159265358979323846;
    int tested = 0;
    double worst = 0;
    while (tested < 400) {
        double b[4] = {rng_uniform_range(&rng, -0.5, 1.5), rng_uniform_range(&rng, -0.5, 1.5),
                       rng_uniform_range(&rng, 0.1, 4), rng_uniform_range(&rng, 0.1, 4)};
        double t[4] = {rng_uniform_range(&rng, -0.5, 1.5), rng_uniform_range(&rng, -0.5, 1.5),
                       rng_uniform_range(&rng, 0.1, 4), rng_uniform_range(&rng, 0.1, 4)};
        const double h = 1e-6;
        if (tie_distance(b, t) < 1e-3) continue;
        tested++;
        double iou0 = box_iou_xywh(IOU_LOSS_IOU, b, t, NULL);
        double dlt = atan(t[2] / t[3]) - atan(b[2] / b[3]);
        double v0 = 4 / (pi * pi) * dlt * dlt;
        double alpha0 = v0 / (v0 - iou0 + (1 + 1e-7));
        for (int k = 0; k < 4; k++) {
            double g[4];
            box_iou_xywh(KINDS[k], b, t, g);
            for (int j = 0; j < 4; j++) {
                double bp[4], bm[4];
                memcpy(bp, b, sizeof bp);
                memcpy(bm, b, sizeof bm);
                bp[j] += h;
                bm[j] -= h;
                double fp, fm;
                if (KINDS[k] == IOU_LOSS_CIOU) {
                    fp = ciou_frozen_alpha(bp, t, alpha0);
                    fm = ciou_frozen_alpha(bm, t, alpha0);
                } else {
                    fp = box_iou_xywh(KINDS[k], bp, t, NULL);
                    fm = box_iou_xywh(KINDS[k], bm, t, NULL);
                }
                double fd = (fp - fm) / (2 * h);
                CHECK(test_close(g[j], fd, 1e-8, 1e-6), "%s d/d%c: analytic %.12g fd %.12g",
                      iou_loss_name(KINDS[k]), "xywh"[j], g[j], fd);
                worst = fmax(worst, fabs(g[j] - fd));
            }
        }
    }
    printf("    # %d random pairs x 4 variants: max |analytic - fd| %.2e\n", tested, worst);
}

static void identical_boxes_are_a_perfect_match(void)
{
    const double b[4] = {0.3, 0.7, 1.5, 2.5};
    for (int k = 0; k < 4; k++) {
        double g[4];
        double v = box_iou_xywh(KINDS[k], b, b, g);
        CHECK_CLOSE(v, 1.0, 1e-7, 0);
        for (int j = 0; j < 4; j++) CHECK(isfinite(g[j]), "%s grad %d = %g", iou_loss_name(KINDS[k]), j, g[j]);
    }
    /* Disjoint boxes: plain IoU is 0 with zero gradient; the others are negative. */
    const double far[4] = {10, 10, 1, 1};
    double g[4];
    CHECK(box_iou_xywh(IOU_LOSS_IOU, b, far, g) == 0, "disjoint IoU");
    CHECK(g[0] == 0 && g[1] == 0, "disjoint IoU gradient %g %g", g[0], g[1]);
    CHECK(box_iou_xywh(IOU_LOSS_GIOU, b, far, NULL) < 0, "disjoint GIoU");
    CHECK(box_iou_xywh(IOU_LOSS_DIOU, b, far, NULL) < 0, "disjoint DIoU");
    CHECK(box_iou_xywh(IOU_LOSS_CIOU, b, far, NULL) < 0, "disjoint CIoU");
}

TEST_MAIN(TEST_ENTRY(matches_reference_autograd), TEST_ENTRY(gradient_matches_finite_differences),
          TEST_ENTRY(identical_boxes_are_a_perfect_match))
