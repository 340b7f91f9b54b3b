/* The evaluation chain val.py runs, end to end, against YOLOv5 v7.0 on a
 * handful of images (tests/fixtures/eval/val.safetensors): NMS -> boxes in
 * the original image -> matching -> statistics -> mAP, the confusion matrix,
 * the printed table, --save-txt lines and the --save-json text, all exact.
 * Also the Python float formatting the writers rely on. */
#include "test.h"

#include "eval/box_map.h"
#include "eval/confusion.h"
#include "eval/match.h"
#include "eval/metrics_report.h"
#include "eval/nms.h"
#include "eval/save_results.h"
#include "eval/val_stats.h"
#include "eval_fixture.h"

static void python_float_formatting(void)
{
    struct {
        double x;
        int nd;
        const char *want;
    } cases[] = {
        {258.15, 3, "258.15"}, {41.2900004, 3, "41.29"}, {100.0, 3, "100.0"}, {0.0, 3, "0.0"},
        {-0.0001, 3, "-0.0"}, {0.0625, 3, "0.062"}, {2.675, 2, "2.67"}, {0.000012, 5, "1e-05"},
        {0.00012345, 5, "0.00012"}, {0.236, 5, "0.236"}, {0.99999999, 5, "1.0"}, {1234567.8915, 3, "1234567.891"},
        {0.1 + 0.2, 5, "0.3"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char buf[64];
        py_round_repr(cases[i].x, cases[i].nd, buf, sizeof buf);
        CHECK(strcmp(buf, cases[i].want) == 0, "round(%.17g, %d) -> %s, want %s", cases[i].x, cases[i].nd, buf,
              cases[i].want);
    }
    char id[64];
    Error e;
    CHECK(coco_image_id_json("000000000139", id, sizeof id, &e) == 0 && strcmp(id, "139") == 0, "%s", id);
    CHECK(coco_image_id_json("0000", id, sizeof id, &e) == 0 && strcmp(id, "0") == 0, "%s", id);
    CHECK(coco_image_id_json("a\"b\\c", id, sizeof id, &e) == 0 && strcmp(id, "\"a\\\"b\\\\c\"") == 0, "%s", id);
    CHECK(coco_image_id_json("\xf0\x9f\x98\x80", id, sizeof id, &e) == 0 && strcmp(id, "\"\\ud83d\\ude00\"") == 0,
          "%s", id);
    CHECK(coco_image_id_json("\xff", id, sizeof id, &e) == -1, "invalid UTF-8 rejected");
    CHECK(coco80_to_coco91()[0] == 1 && coco80_to_coco91()[11] == 13 && coco80_to_coco91()[79] == 90, "80->91");
}

static void table_format(void)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    report_header(f);
    report_row(f, "all", 128, 929, 0.71234, 0.6345, 0.0001234, 1.0);
    fclose(f);
    const char *want = "                 Class     Images  Instances          P          R      mAP50   mAP50-95\n"
                       "                   all        128        929      0.712      0.634   0.000123          1\n";
    CHECK(strcmp(text, want) == 0, "table:\n%s", text);
    free(text);
    CHECK(report_per_class_wanted(0, 20, 0) && !report_per_class_wanted(0, 20, 1) && report_per_class_wanted(1, 80, 1) &&
              !report_per_class_wanted(1, 1, 0) && !report_per_class_wanted(0, 50, 0),
          "per-class rule");
}

static void txt_rows_in_detect_order(void)
{
    /* detect.py: rounded boxes, lowest score first, optional conf */
    float det[2 * 6] = {10.4f, 20.6f, 110.5f, 70.5f, 0.9f, 2, 0, 0, 50, 25, 0.5f, 0};
    boxes_round(det, 2, 6);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    save_txt_rows(f, det, 2, 100, 200, 1, 1);
    fclose(f);
    CHECK(strcmp(text, "0 0.125 0.125 0.25 0.25 0.5\n2 0.3 0.455 0.5 0.49 0.9\n") == 0, "txt:\n%s", text);
    free(text);
}

static char *split_field(char **s)
{
    char *start = *s, *comma = strchr(start, ',');
    if (comma) {
        *comma = 0;
        *s = comma + 1;
    } else {
        *s = start + strlen(start);
    }
    return start;
}

static void parity_with_reference_val(void)
{
    SafeTensors st;
    if (fx_open(&st, "val.safetensors")) {
        CHECK(0, "fixture");
        return;
    }
    const int nc = atoi(st_meta(&st, "nc") ? st_meta(&st, "nc") : "0");
    const int images = atoi(st_meta(&st, "images") ? st_meta(&st, "images") : "0");
    CHECK(nc == 5 && images >= 5, "nc %d images %d", nc, images);
    char names_buf[256];
    snprintf(names_buf, sizeof names_buf, "%s", st_meta(&st, "names") ? st_meta(&st, "names") : "");
    const char *names[8] = {0};
    char *p = names_buf;
    for (int c = 0; c < nc && c < 8; c++) {
        names[c] = p;
        char *bar = strchr(p, '|');
        if (bar) *bar = 0, p = bar + 1;
    }

    ValStats stats;
    val_stats_init(&stats);
    ConfusionMatrix cm;
    Error e;
    CHECK(confusion_init(&cm, nc, &e) == 0, "cm");
    char *txt = NULL, *json = NULL;
    size_t txt_len = 0, json_len = 0;
    FILE *txt_f = open_memstream(&txt, &txt_len), *json_f = open_memstream(&json, &json_len);
    CocoResultsWriter coco;
    coco_results_begin(&coco, json_f);
    NmsOptions opt = nms_options_val();
    size_t compared_rows = 0;

    for (int i = 0; i < images; i++) {
        char key[48], info[256];
        snprintf(key, sizeof key, "image_%d", i);
        snprintf(info, sizeof info, "%s", st_meta(&st, key) ? st_meta(&st, key) : "");
        char *s = info;
        int h = atoi(split_field(&s)), w = atoi(split_field(&s)), h0 = atoi(split_field(&s)), w0 = atoi(split_field(&s));
        double ratio_h = atof(split_field(&s)), ratio_w = atof(split_field(&s));
        double dw = atof(split_field(&s)), dh = atof(split_field(&s));
        const char *stem = s;
        size_t n_pred = 0, n_lab = 0, n_nms = 0, n_native = 0, n_correct = 0;
        snprintf(key, sizeof key, "pred_%d", i);
        float *pred = fx_f32(&st, key, &n_pred);
        snprintf(key, sizeof key, "labels_%d", i);
        float *lab = fx_f32(&st, key, &n_lab);
        snprintf(key, sizeof key, "nms_%d", i);
        float *want_nms = fx_f32(&st, key, &n_nms);
        snprintf(key, sizeof key, "native_%d", i);
        float *want_native = fx_f32(&st, key, &n_native);
        snprintf(key, sizeof key, "correct_%d", i);
        uint8_t *want_correct = fx_u8(&st, key, &n_correct);
        CHECK(pred && lab && want_nms && want_native && want_correct && h > 0 && h0 > 0, "image %d loaded", i);
        if (!(pred && lab && want_nms && want_native && want_correct)) goto next;
        const int no = 5 + nc, nbox = (int)(n_pred / (size_t)no), nl = (int)(n_lab / 5);
        float *det = malloc((size_t)(opt.max_det + 1) * NMS_ROW * sizeof *det);
        int n = nms_image(pred, nbox, no, &opt, det, &e);
        CHECK(n >= 0 && (size_t)n * NMS_ROW == n_nms, "image %d: %d NMS rows, reference %zu", i, n, n_nms / NMS_ROW);
        if (n < 0 || (size_t)n * NMS_ROW != n_nms) {
            free(det);
            goto next;
        }
        CHECK(fx_count_float_mismatch(det, want_nms, n_nms) == 0, "image %d: NMS rows differ", i);
        compared_rows += (size_t)n;
        BoxMapping map = boxes_mapping_ratio_pad(ratio_h, ratio_w, dw, dh);
        float *native = malloc((size_t)(n + 1) * NMS_ROW * sizeof *native);
        memcpy(native, det, (size_t)n * NMS_ROW * sizeof *det);
        boxes_scale(native, (size_t)n, NMS_ROW, map, h0, w0);
        CHECK(fx_count_float_mismatch(native, want_native, n_native) == 0, "image %d: native boxes differ", i);
        float *lab_native = malloc((size_t)(nl + 1) * 5 * sizeof *lab_native);
        boxes_labels_to_native(lab, (size_t)nl, h, w, map, h0, w0, lab_native);
        snprintf(key, sizeof key, "labels_native_%d", i);
        if (n && nl) {
            size_t nn = 0;
            float *want_ln = fx_f32(&st, key, &nn);
            CHECK(want_ln && nn == (size_t)nl * 5 && fx_count_float_mismatch(lab_native, want_ln, nn) == 0,
                  "image %d: native labels differ", i);
            free(want_ln);
        }
        uint8_t *correct = malloc((size_t)(n + 1) * MATCH_NIOU);
        CHECK(match_detections(native, n, lab_native, nl, correct, &e) == 0, "match");
        CHECK(memcmp(correct, want_correct, n_correct) == 0 && n_correct == (size_t)n * MATCH_NIOU,
              "image %d: correct matrix differs", i);
        int *lab_cls = malloc((size_t)(nl + 1) * sizeof *lab_cls);
        for (int k = 0; k < nl; k++) lab_cls[k] = (int)lab[k * 5];
        CHECK(val_stats_add_image(&stats, det, n, nl ? correct : NULL, lab_cls, nl, &e) == 0, "stats");
        if (nl) CHECK(confusion_process_batch(&cm, n ? native : NULL, n, lab_native, nl, &e) == 0, "cm");
        if (n) {
            save_txt_rows(txt_f, native, n, h0, w0, 0, 0);
            save_txt_rows(txt_f, native, n, h0, w0, 1, 0);
            char id[128];
            CHECK(coco_image_id_json(stem, id, sizeof id, &e) == 0, "id");
            CHECK(coco_results_add(&coco, id, native, n, coco80_to_coco91(), 80, &e) == 0, "json");
        }
        free(lab_cls);
        free(correct);
        free(lab_native);
        free(native);
        free(det);
    next:
        free(pred);
        free(lab);
        free(want_nms);
        free(want_native);
        free(want_correct);
    }
    CHECK(coco_results_end(&coco, &e) == 0, "json end");
    fclose(txt_f);
    fclose(json_f);
    CHECK(compared_rows > 100, "compared %zu NMS rows", compared_rows);
    const char *want_txt = st_meta(&st, "txt"), *want_json = st_meta(&st, "json");
    CHECK(want_txt && strcmp(txt, want_txt) == 0, "--save-txt text differs (%zu vs %zu bytes)", strlen(txt),
          want_txt ? strlen(want_txt) : 0);
    CHECK(want_json && strcmp(json, want_json) == 0, "--save-json text differs (%zu vs %zu bytes)", strlen(json),
          want_json ? strlen(want_json) : 0);
    free(txt);
    free(json);

    ValMetrics m;
    CHECK(val_metrics_compute(&stats, nc, &m, &e) == 0 && m.computed, "metrics");
    size_t n_means = 0, n_maps = 0, n_cm = 0;
    double *means = fx_f64(&st, "means", &n_means), *maps = fx_f64(&st, "maps", &n_maps);
    double *want_cm = fx_f64(&st, "confusion", &n_cm);
    double got[5] = {m.mp, m.mr, m.map50, m.map, m.fitness};
    CHECK(means && n_means == 5 && fx_max_abs_diff(got, means, 5) == 0, "mp mr map50 map fitness");
    CHECK(maps && n_maps == (size_t)nc && fx_max_abs_diff(m.maps, maps, (size_t)nc) == 0, "maps");
    CHECK(want_cm && n_cm == (size_t)(nc + 1) * (nc + 1) && fx_max_abs_diff(cm.matrix, want_cm, n_cm) == 0,
          "confusion matrix");
    char *table = NULL;
    size_t table_len = 0;
    FILE *tf = open_memstream(&table, &table_len);
    report_header(tf);
    report_results(tf, NULL, &m, stats.seen, names, 1, "val");
    fclose(tf);
    const char *want_table = st_meta(&st, "table");
    CHECK(want_table && strcmp(table, want_table) == 0, "table:\n%s\nwant:\n%s", table, want_table ? want_table : "");
    free(table);
    free(means);
    free(maps);
    free(want_cm);
    val_metrics_free(&m);
    confusion_free(&cm);
    val_stats_free(&stats);
    st_free(&st);
}

TEST_MAIN(TEST_ENTRY(python_float_formatting), TEST_ENTRY(table_format), TEST_ENTRY(txt_rows_in_detect_order), TEST_ENTRY(parity_with_reference_val))
