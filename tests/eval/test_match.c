/* process_batch matching and the confusion matrix: hand cases for each rule
 * and exact parity with YOLOv5 v7.0 (tests/fixtures/eval/match.safetensors:
 * 160 random images, duplicates and IoU ties included). */
#include "test.h"

#include "eval/confusion.h"
#include "eval/match.h"
#include "eval_fixture.h"

static void thresholds_are_torch_linspace(void)
{
    SafeTensors st;
    if (fx_open(&st, "match.safetensors")) {
        CHECK(0, "fixture");
        return;
    }
    size_t n = 0;
    float *iouv = fx_f32(&st, "iouv", &n);
    CHECK(iouv && n == MATCH_NIOU && memcmp(iouv, match_iou_thresholds, sizeof match_iou_thresholds) == 0,
          "iouv bits");
    free(iouv);
    st_free(&st);
}

static void iou_matrix(void)
{
    const float a[4] = {0, 0, 10, 10};
    const float b[8] = {5, 0, 15, 10, 20, 20, 30, 30};
    float iou[2];
    match_box_iou(a, 1, 4, b, 2, 4, iou);
    CHECK_CLOSE(iou[0], 50.0f / (150.0f + 1e-7f), 0, 0);
    CHECK(iou[1] == 0, "disjoint");
}

/* det rows: x1 y1 x2 y2 conf cls; label rows: cls x1 y1 x2 y2 */
static void one_label_goes_to_the_first_detection(void)
{
    const float lab[5] = {1, 0, 0, 100, 100};
    const float det[3 * 6] = {
        0, 0, 100, 60, 0.9f, 1, /* IoU 0.6 */
        0, 0, 100, 90, 0.8f, 1, /* IoU 0.9: better, but the label is taken */
        0, 0, 100, 100, 0.7f, 0, /* perfect box, wrong class */
    };
    uint8_t c[3 * MATCH_NIOU];
    Error e;
    CHECK(match_detections(det, 3, lab, 1, c, &e) == 0, "ok");
    /* v7.0: per label the lowest detection index wins at every threshold it reaches */
    CHECK(c[0] == 1 && c[1] == 1 && c[2] == 1, "det 0 matched at 0.5..0.6");
    CHECK(c[3] == 0, "det 0 below 0.65");
    CHECK(c[MATCH_NIOU + 0] == 0 && c[MATCH_NIOU + 2] == 0, "det 1 loses 0.5..0.6 to det 0");
    CHECK(c[MATCH_NIOU + 3] == 1 && c[MATCH_NIOU + 8] == 1 && c[MATCH_NIOU + 9] == 0, "det 1 at 0.65..0.9");
    int any = 0;
    for (int t = 0; t < MATCH_NIOU; t++) any |= c[2 * MATCH_NIOU + t];
    CHECK(!any, "class mismatch never correct");
}

static void each_detection_takes_its_best_label(void)
{
    const float lab[2 * 5] = {0, 0, 0, 100, 100, 0, 50, 0, 150, 100};
    const float det[6] = {40, 0, 140, 100, 0.9f, 0}; /* IoU 0.43 with label 0, 0.82 with label 1 */
    uint8_t c[MATCH_NIOU];
    Error e;
    CHECK(match_detections(det, 1, lab, 2, c, &e) == 0, "ok");
    CHECK(c[0] == 1 && c[6] == 1 && c[7] == 0, "matched through label 1 (IoU 0.82)");
    /* no labels / no detections */
    CHECK(match_detections(det, 1, lab, 0, c, &e) == 0 && c[0] == 0, "no labels: all false");
    CHECK(match_detections(det, 0, lab, 2, c, &e) == 0, "no detections");
}

static void duplicate_labels_tie_in_iou(void)
{
    /* Two identical labels and two identical detections: each detection's
     * best pair is a tie; both detections pick the same label, so only one
     * detection is correct. */
    const float lab[2 * 5] = {3, 10, 10, 50, 50, 3, 10, 10, 50, 50};
    const float det[2 * 6] = {10, 10, 50, 50, 0.9f, 3, 10, 10, 50, 50, 0.8f, 3};
    uint8_t c[2 * MATCH_NIOU];
    Error e;
    CHECK(match_detections(det, 2, lab, 2, c, &e) == 0, "ok");
    int n0 = 0, n1 = 0;
    for (int t = 0; t < MATCH_NIOU; t++) {
        n0 += c[t];
        n1 += c[MATCH_NIOU + t];
    }
    CHECK(n0 == MATCH_NIOU && n1 == 0, "first detection correct everywhere (%d), second nowhere (%d)", n0, n1);
}

static void unique_pairs_rules(void)
{
    /* pairs (label, det, iou) in enumeration order */
    const int pl[4] = {0, 0, 1, 1};
    const int pd[4] = {0, 1, 0, 1};
    const float pi[4] = {0.6f, 0.9f, 0.8f, 0.7f};
    int keep[4];
    /* by IoU: (0,1) .9, (1,0) .8, (1,1) .7, (0,0) .6; per det: d0->(1,0), d1->(0,1);
     * per label: l0->(0,1), l1->(1,0) */
    int n = match_unique_pairs(pl, pd, pi, 4, 0, keep);
    CHECK(n == 2 && keep[0] == 1 && keep[1] == 2, "n %d keep %d %d", n, keep[0], keep[1]);
    n = match_unique_pairs(pl, pd, pi, 1, 0, keep);
    CHECK(n == 1 && keep[0] == 0, "a single pair is kept as is");
    CHECK(match_unique_pairs(pl, pd, pi, 0, 0, keep) == 0, "no pairs");
}

static void confusion_rules(void)
{
    ConfusionMatrix cm;
    Error e;
    CHECK(confusion_init(&cm, 2, &e) == 0, "init");
    const float lab[2 * 5] = {0, 0, 0, 100, 100, 1, 200, 200, 300, 300};
    const float det[3 * 6] = {
        0, 0, 100, 95, 0.9f, 1,     /* matches label 0, wrong class: [1][0] */
        400, 400, 500, 500, 0.8f, 0, /* unmatched: background FP [0][2] */
        200, 200, 300, 300, 0.1f, 1, /* below conf 0.25: ignored -> label 1 missed [2][1] */
    };
    CHECK(confusion_process_batch(&cm, det, 3, lab, 2, &e) == 0, "batch");
    const int n = 3;
    CHECK(cm.matrix[1 * n + 0] == 1 && cm.matrix[0 * n + 2] == 1 && cm.matrix[2 * n + 1] == 1, "cells");
    double sum = 0;
    for (int i = 0; i < n * n; i++) sum += cm.matrix[i];
    CHECK(sum == 3, "three counts, got %g", sum);
    /* no detections (val.py passes None): every label missed */
    CHECK(confusion_process_batch(&cm, NULL, 0, lab, 2, &e) == 0, "none");
    CHECK(cm.matrix[2 * n + 0] == 1 && cm.matrix[2 * n + 1] == 2, "missed");
    /* detections but no match at all: the reference does not count them */
    const float far[6] = {900, 900, 950, 950, 0.9f, 0};
    CHECK(confusion_process_batch(&cm, far, 1, lab, 2, &e) == 0, "far");
    CHECK(cm.matrix[0 * n + 2] == 1, "no FP counted without any match");
    double tp[2], fp[2];
    confusion_tp_fp(&cm, tp, fp);
    CHECK(tp[0] == 0 && fp[0] == 1 && tp[1] == 0 && fp[1] == 1, "tp/fp");
    const float bad[5] = {7, 0, 0, 1, 1};
    CHECK(confusion_process_batch(&cm, NULL, 0, bad, 1, &e) == -1 && strstr(e.msg, "class"), "%s", e.msg);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    const char *names[2] = {"cat", "a,b"};
    CHECK(confusion_write_csv(&cm, names, f, &e) == 0, "csv");
    fclose(f);
    CHECK(strcmp(text, "predicted/true,cat,\"a,b\",background\ncat,0,0,1\n\"a,b\",1,0,0\nbackground,2,3,0\n") == 0,
          "csv:\n%s", text);
    free(text);
    confusion_free(&cm);
}

static void parity_with_reference(void)
{
    SafeTensors st;
    if (fx_open(&st, "match.safetensors")) {
        CHECK(0, "fixture");
        return;
    }
    size_t nd = 0, nl = 0, ni = 0, ni2 = 0, nc = 0, ncm = 0;
    float *det = fx_f32(&st, "det", &nd), *lab = fx_f32(&st, "lab", &nl);
    int32_t *dcount = fx_i32(&st, "det_count", &ni), *lcount = fx_i32(&st, "lab_count", &ni2);
    uint8_t *want = fx_u8(&st, "correct", &nc);
    double *want_cm = fx_f64(&st, "confusion", &ncm);
    int classes = atoi(st_meta(&st, "nc") ? st_meta(&st, "nc") : "0");
    CHECK(det && lab && dcount && lcount && want && want_cm && ni == ni2 && classes > 0, "fixture tensors");
    if (!(det && lab && dcount && lcount && want && want_cm && classes > 0)) goto out;
    ConfusionMatrix cm;
    Error e;
    CHECK(confusion_init(&cm, classes, &e) == 0, "init");
    size_t doff = 0, loff = 0, bad_images = 0, true_cells = 0;
    uint8_t *c = malloc(nc + 1);
    for (size_t i = 0; i < ni; i++) {
        const float *d = det + doff * 6, *l = lab + loff * 5;
        CHECK(match_detections(d, dcount[i], l, lcount[i], c, &e) == 0, "match");
        if (memcmp(c, want + doff * MATCH_NIOU, (size_t)dcount[i] * MATCH_NIOU) != 0) {
            if (bad_images++ < 3) printf("    image %zu: correct matrix differs\n", i);
        }
        for (size_t k = 0; k < (size_t)dcount[i] * MATCH_NIOU; k++) true_cells += c[k];
        if (lcount[i]) {
            int r = confusion_process_batch(&cm, dcount[i] ? d : NULL, dcount[i], l, lcount[i], &e);
            CHECK(r == 0, "confusion image %zu", i);
        }
        doff += (size_t)dcount[i];
        loff += (size_t)lcount[i];
    }
    CHECK(bad_images == 0, "%zu of %zu images differ", bad_images, ni);
    CHECK(true_cells > 500, "only %zu correct cells: too easy a fixture", true_cells);
    CHECK(ncm == (size_t)(classes + 1) * (classes + 1), "matrix size");
    CHECK(fx_max_abs_diff(cm.matrix, want_cm, ncm) == 0, "confusion matrix differs");
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    confusion_print(&cm, f);
    fclose(f);
    const char *want_text = st_meta(&st, "confusion_print");
    CHECK(want_text && strcmp(text, want_text) == 0, "print:\n%s\nwant:\n%s", text, want_text ? want_text : "");
    free(text);
    double *tp = malloc(classes * sizeof *tp), *fp = malloc(classes * sizeof *fp);
    double *want_tp = fx_f64(&st, "confusion_tp", NULL), *want_fp = fx_f64(&st, "confusion_fp", NULL);
    confusion_tp_fp(&cm, tp, fp);
    CHECK(want_tp && want_fp && fx_max_abs_diff(tp, want_tp, classes) == 0 && fx_max_abs_diff(fp, want_fp, classes) == 0,
          "tp/fp");
    free(tp);
    free(fp);
    free(want_tp);
    free(want_fp);
    free(c);
    confusion_free(&cm);
out:
    free(det);
    free(lab);
    free(dcount);
    free(lcount);
    free(want);
    free(want_cm);
    st_free(&st);
}

TEST_MAIN(TEST_ENTRY(thresholds_are_torch_linspace), TEST_ENTRY(iou_matrix),
          TEST_ENTRY(one_label_goes_to_the_first_detection), TEST_ENTRY(each_detection_takes_its_best_label),
          TEST_ENTRY(duplicate_labels_tie_in_iou), TEST_ENTRY(unique_pairs_rules), TEST_ENTRY(confusion_rules),
          TEST_ENTRY(parity_with_reference))
