/* NMS: hand-made cases for each rule, and bit-exact parity with YOLOv5 v7.0's
 * non_max_suppression + torchvision nms on random decoded predictions
 * (tests/fixtures/eval/nms.safetensors, scripts/gen_eval_fixtures.py). */
#include "test.h"

#include "eval/nms.h"
#include "eval_fixture.h"

/* One row (cx, cy, w, h, obj, cls...) of an nc-class prediction. */
static void set_row(float *pred, int no, int i, float cx, float cy, float w, float h, float obj,
                    const float *cls)
{
    float *r = pred + (size_t)i * no;
    r[0] = cx;
    r[1] = cy;
    r[2] = w;
    r[3] = h;
    r[4] = obj;
    for (int j = 0; j < no - 5; j++) r[5 + j] = cls[j];
}

static void duplicates_keep_the_best_per_class(void)
{
    enum { NO = 7 };
    float pred[3 * NO];
    const float c0[2] = {0.9f, 0.1f}, c0b[2] = {0.8f, 0.1f}, c1[2] = {0.1f, 0.95f};
    set_row(pred, NO, 0, 100, 100, 50, 50, 0.9f, c0b); /* class 0, score 0.72 */
    set_row(pred, NO, 1, 100, 100, 50, 50, 0.9f, c0);  /* class 0, score 0.81: wins */
    set_row(pred, NO, 2, 100, 100, 50, 50, 0.9f, c1);  /* class 1: other class, kept */
    NmsOptions o = nms_options_detect();
    float out[3 * NMS_ROW];
    Error e;
    int n = nms_image(pred, 3, NO, &o, out, &e);
    CHECK(n == 2, "kept %d", n);
    CHECK_CLOSE(out[4], 0.9f * 0.95f, 0, 0);
    CHECK(out[5] == 1.0f, "first is class 1");
    CHECK_CLOSE(out[NMS_ROW + 4], 0.9f * 0.9f, 0, 0);
    CHECK(out[NMS_ROW + 5] == 0.0f, "second is class 0");
    CHECK(out[0] == 75 && out[1] == 75 && out[2] == 125 && out[3] == 125, "xyxy box");
    o.agnostic = 1; /* one offset for all: only the best survives */
    n = nms_image(pred, 3, NO, &o, out, &e);
    CHECK(n == 1 && out[5] == 1.0f, "agnostic kept %d", n);
}

static void multi_label_emits_each_class_above_threshold(void)
{
    enum { NO = 8 };
    float pred[NO];
    const float cls[3] = {0.6f, 0.5f, 0.0005f};
    set_row(pred, NO, 0, 10, 10, 4, 4, 0.5f, cls);
    NmsOptions o = nms_options_val(); /* conf 0.001, multi-label */
    float out[3 * NMS_ROW];
    Error e;
    int n = nms_image(pred, 1, NO, &o, out, &e);
    CHECK(n == 2, "two labels for one box, got %d", n);
    CHECK(out[5] == 0 && out[NMS_ROW + 5] == 1, "classes 0 then 1");
    CHECK(out[4] == 0.6f * 0.5f && out[NMS_ROW + 4] == 0.5f * 0.5f, "scores");
    o.multi_label = 0;
    n = nms_image(pred, 1, NO, &o, out, &e);
    CHECK(n == 1 && out[5] == 0, "best class only: %d", n);
    /* best class: the first maximum */
    const float tie[3] = {0.4f, 0.7f, 0.7f};
    set_row(pred, NO, 0, 10, 10, 4, 4, 0.5f, tie);
    n = nms_image(pred, 1, NO, &o, out, &e);
    CHECK(n == 1 && out[5] == 1, "first of equal maxima, class %g", out[5]);
    /* multi-label is off for a single class */
    enum { NO1 = 6 };
    float one[NO1] = {10, 10, 4, 4, 0.5f, 0.5f};
    o.multi_label = 1;
    n = nms_image(one, 1, NO1, &o, out, &e);
    CHECK(n == 1 && out[4] == 0.25f, "nc=1: %d", n);
}

static void nothing_above_threshold_gives_no_rows(void)
{
    enum { NO = 7 };
    float pred[2 * NO];
    const float cls[2] = {1.0f, 1.0f};
    set_row(pred, NO, 0, 10, 10, 4, 4, 0.25f, cls); /* obj == conf: strict '>' drops it */
    set_row(pred, NO, 1, 50, 10, 4, 4, 0.1f, cls);
    NmsOptions o = nms_options_detect();
    float out[2 * NMS_ROW];
    Error e;
    CHECK(nms_image(pred, 2, NO, &o, out, &e) == 0, "obj at the threshold is not a candidate");
    CHECK(nms_image(pred, 0, NO, &o, out, &e) == 0, "no boxes");
    /* obj passes but obj*cls does not */
    const float low[2] = {0.5f, 0.4f};
    set_row(pred, NO, 0, 10, 10, 4, 4, 0.45f, low);
    CHECK(nms_image(pred, 1, NO, &o, out, &e) == 0, "score 0.225 < 0.25");
    /* float32 comparison: obj = float(0.001) is not > 0.001 as float32 */
    o = nms_options_val();
    set_row(pred, NO, 0, 10, 10, 4, 4, 0.001f, cls);
    CHECK(nms_image(pred, 1, NO, &o, out, &e) == 0, "float(0.001) is not above conf 0.001");
}

static void score_ties_follow_torch_order(void)
{
    enum { NO = 6, N = 40 };
    float pred[N * NO];
    /* 40 identical boxes, identical scores: torch.argsort's introsort order
     * decides which one survives. Small runs (<= 16) keep index order. */
    const float cls[1] = {1.0f};
    for (int i = 0; i < N; i++) set_row(pred, NO, i, 100 + i * 0.001f, 100, 20, 20, 0.5f, cls);
    NmsOptions o = nms_options_detect();
    float out[N * NMS_ROW];
    Error e;
    int n = nms_image(pred, 3, NO, &o, out, &e);
    CHECK(n == 1 && out[0] == (100 - 10.0f), "of 3 tied boxes the first survives (x1 %g)", out[0]);
    n = nms_image(pred, N, NO, &o, out, &e);
    CHECK(n == 1, "one survivor of %d, got %d", N, n);
    /* libstdc++'s std::sort on 40 equal keys (what torch.argsort runs):
     * recorded from torch 1.13, torch.full((40,), 0.5).argsort(descending=True)
     * starts with index 30. */
    float x1_of_30 = (100 + 30 * 0.001f) - 10.0f;
    CHECK(out[0] == x1_of_30, "survivor x1 %.6f want %.6f", out[0], x1_of_30);
}

static void iou_equal_to_threshold_is_not_suppressed(void)
{
    enum { NO = 6 };
    float pred[2 * NO];
    const float cls[1] = {1.0f};
    /* boxes [0,10]x[0,10] and [0,5]x[0,10]: IoU exactly 0.5 */
    set_row(pred, NO, 0, 5, 5, 10, 10, 0.9f, cls);
    set_row(pred, NO, 1, 2.5f, 5, 5, 10, 0.8f, cls);
    NmsOptions o = nms_options_detect();
    o.iou_thres = 0.5;
    float out[2 * NMS_ROW];
    Error e;
    CHECK(nms_image(pred, 2, NO, &o, out, &e) == 2, "IoU == threshold keeps both");
    o.iou_thres = 0.49;
    CHECK(nms_image(pred, 2, NO, &o, out, &e) == 1, "IoU > threshold suppresses");
    /* torchvision compares the float32 IoU with the double threshold:
     * [0,6]x[0,10] against [0,10]x[0,10] is float(0.6) = 0.60000002 > 0.6,
     * so it is suppressed at iou_thres 0.6 (checked against torchvision). */
    set_row(pred, NO, 1, 3, 5, 6, 10, 0.8f, cls);
    o.iou_thres = 0.6;
    CHECK(nms_image(pred, 2, NO, &o, out, &e) == 1, "float IoU 0.6 > double 0.6");
}

static void max_det_and_class_filter(void)
{
    enum { NO = 8, N = 50 };
    float pred[N * NO];
    for (int i = 0; i < N; i++) {
        float cls[3] = {0, 0, 0};
        cls[i % 3] = 0.5f + i * 0.01f;
        set_row(pred, NO, i, 30.0f * i, 10, 10, 10, 0.9f, cls); /* disjoint boxes */
    }
    NmsOptions o = nms_options_detect();
    o.max_det = 7;
    float out[N * NMS_ROW];
    Error e;
    int n = nms_image(pred, N, NO, &o, out, &e);
    CHECK(n == 7, "max_det rows, got %d", n);
    int descending = 1;
    for (int k = 1; k < n; k++) descending &= out[(k - 1) * NMS_ROW + 4] >= out[k * NMS_ROW + 4];
    CHECK(descending && out[4] == 0.9f * (0.5f + 49 * 0.01f), "highest scores first");
    const int only[1] = {2};
    o.classes = only;
    o.n_classes = 1;
    o.max_det = 1000;
    n = nms_image(pred, N, NO, &o, out, &e);
    int all2 = 1;
    for (int k = 0; k < n; k++) all2 &= out[k * NMS_ROW + 5] == 2;
    CHECK(n == 16 && all2, "class filter: %d rows", n);
    o.classes = NULL;
    o.max_det = 0;
    CHECK(nms_image(pred, N, NO, &o, out, &e) == 0, "max_det 0");
    o.max_nms = 5;
    o.max_det = 100;
    CHECK(nms_image(pred, N, NO, &o, out, &e) == 5, "max_nms caps the candidates");
}

static void invalid_options_are_reported(void)
{
    float pred[6] = {1, 1, 1, 1, 1, 1};
    float out[6];
    NmsOptions o = nms_options_val();
    Error e = {{0}};
    o.iou_thres = 1.5;
    CHECK(nms_image(pred, 1, 6, &o, out, &e) == -1 && strstr(e.msg, "iou_thres"), "%s", e.msg);
    o = nms_options_val();
    o.conf_thres = -0.1;
    CHECK(nms_image(pred, 1, 6, &o, out, &e) == -1 && strstr(e.msg, "conf_thres"), "%s", e.msg);
    o = nms_options_val();
    CHECK(nms_image(pred, 1, 5, &o, out, &e) == -1 && strstr(e.msg, "row length"), "%s", e.msg);
}

/* Parses "conf,iou,multi,agnostic,max_det,classes" (classes '-' or 'a+b'). */
static int parse_setting(const char *s, NmsOptions *o, int *classes, int max_classes)
{
    *o = nms_options_val();
    char cls[256];
    if (sscanf(s, "%lf,%lf,%d,%d,%d,%255[^;]", &o->conf_thres, &o->iou_thres, &o->multi_label, &o->agnostic,
               &o->max_det, cls) != 6)
        return -1;
    if (strcmp(cls, "-") != 0) {
        int n = 0;
        for (char *t = strtok(cls, "+"); t && n < max_classes; t = strtok(NULL, "+")) classes[n++] = atoi(t);
        o->classes = classes;
        o->n_classes = n;
    }
    return 0;
}

static void parity_with_reference_nms(void)
{
    SafeTensors st;
    if (fx_open(&st, "nms.safetensors")) {
        CHECK(0, "fixture");
        return;
    }
    const char *cases[] = {"c3", "c80", "c1", "ties", "big"};
    int total_rows = 0, settings_run = 0;
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        char name[64];
        snprintf(name, sizeof name, "pred_%s", cases[c]);
        const StTensor *t = st_find(&st, name);
        float *pred = fx_f32(&st, name, NULL);
        CHECK(t && pred && t->ndim == 3, "%s", name);
        if (!t || !pred) continue;
        int batch = (int)t->shape[0], nbox = (int)t->shape[1], no = (int)t->shape[2];
        snprintf(name, sizeof name, "settings_%s", cases[c]);
        const char *settings = st_meta(&st, name);
        CHECK(settings != NULL, "%s", name);
        for (int k = 0; settings && *settings; k++) {
            NmsOptions o;
            int classes[16];
            CHECK(parse_setting(settings, &o, classes, 16) == 0, "setting %s", settings);
            const char *next = strchr(settings, ';');
            settings = next ? next + 1 : "";
            size_t nrows = 0, ncount = 0;
            snprintf(name, sizeof name, "out_%s_%d", cases[c], k);
            float *want = fx_f32(&st, name, &nrows);
            snprintf(name, sizeof name, "count_%s_%d", cases[c], k);
            int32_t *count = fx_i32(&st, name, &ncount);
            CHECK(want && count && (int)ncount == batch, "%s", name);
            if (!want || !count) {
                free(want);
                free(count);
                continue;
            }
            float *out = malloc((size_t)batch * (o.max_det + 1) * NMS_ROW * sizeof *out);
            int *got_counts = malloc((size_t)batch * sizeof *got_counts);
            Error e;
            CHECK(nms_batch(pred, batch, nbox, no, &o, out, got_counts, &e) == 0, "nms_batch");
            size_t offset = 0;
            for (int b = 0; b < batch; b++) {
                CHECK(got_counts[b] == count[b], "%s image %d: %d rows, reference %d", cases[c], b, got_counts[b],
                      count[b]);
                int n = got_counts[b] < count[b] ? got_counts[b] : count[b];
                size_t bad = fx_count_float_mismatch(out + (size_t)b * o.max_det * NMS_ROW, want + offset,
                                                     (size_t)n * NMS_ROW);
                CHECK(bad == 0, "%s setting %d image %d: %zu of %d values differ", cases[c], k, b, bad, n * NMS_ROW);
                offset += (size_t)count[b] * NMS_ROW;
                total_rows += count[b];
            }
            settings_run++;
            free(out);
            free(got_counts);
            free(want);
            free(count);
        }
        free(pred);
    }
    CHECK(settings_run == 20, "ran %d settings", settings_run);
    CHECK(total_rows > 2000, "compared %d rows", total_rows);
    st_free(&st);
}

TEST_MAIN(TEST_ENTRY(duplicates_keep_the_best_per_class), TEST_ENTRY(multi_label_emits_each_class_above_threshold),
          TEST_ENTRY(nothing_above_threshold_gives_no_rows), TEST_ENTRY(score_ties_follow_torch_order),
          TEST_ENTRY(iou_equal_to_threshold_is_not_suppressed), TEST_ENTRY(max_det_and_class_filter),
          TEST_ENTRY(invalid_options_are_reported), TEST_ENTRY(parity_with_reference_nms))
