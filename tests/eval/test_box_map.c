/* Box formats and the mapping back to the original image: hand cases and
 * bit-exact parity with YOLOv5 v7.0's scale_boxes / clip_boxes / xyxy2xywh /
 * xywh2xyxy (tests/fixtures/eval/boxes.safetensors). */
#include "test.h"

#include "eval/box_map.h"
#include "eval_fixture.h"

static void formats_round_trip(void)
{
    const float xywh[4] = {50, 40, 20, 10};
    float xyxy[4], back[4];
    boxes_xywh_to_xyxy(xywh, 1, 4, xyxy, 4);
    CHECK(xyxy[0] == 40 && xyxy[1] == 35 && xyxy[2] == 60 && xyxy[3] == 45, "xyxy");
    boxes_xyxy_to_xywh(xyxy, 1, 4, back, 4);
    CHECK(memcmp(back, xywh, sizeof back) == 0, "round trip");
    float yolo[4];
    boxes_xyxy_to_yolo(xyxy, 100, 200, yolo);
    CHECK(yolo[0] == 0.25f && yolo[1] == 0.4f && yolo[2] == 0.1f && yolo[3] == 0.1f, "normalised %g %g %g %g",
          yolo[0], yolo[1], yolo[2], yolo[3]);
}

static void letterbox_mapping_and_clip(void)
{
    /* 1280x720 into 640x640 (detect): gain 0.5, 140 px bars top and bottom. */
    BoxMapping m = boxes_mapping_fit(640, 640, 720, 1280);
    CHECK(m.gain == 0.5 && m.pad_x == 0 && m.pad_y == 140, "gain %g pad %g %g", m.gain, m.pad_x, m.pad_y);
    float b[6] = {10, 150, 100, 700, 0.9f, 3};
    boxes_scale(b, 1, 6, m, 720, 1280);
    CHECK(b[0] == 20 && b[1] == 20 && b[2] == 200 && b[3] == 720, "mapped and clipped: %g %g %g %g", b[0], b[1],
          b[2], b[3]);
    CHECK(b[4] == 0.9f && b[5] == 3, "conf and class untouched");
    /* val's ratio_pad uses the height ratio for both axes */
    m = boxes_mapping_ratio_pad(0.5, 0.25, 4, 8);
    float c[4] = {14, 18, 24, 28};
    boxes_scale(c, 1, 4, m, 1000, 1000);
    CHECK(c[0] == 20 && c[1] == 20 && c[2] == 40 && c[3] == 40, "ratio_pad");
    float r[4] = {0.5f, 1.5f, 2.5f, -0.5f};
    boxes_round(r, 1, 4);
    CHECK(r[0] == 0 && r[1] == 2 && r[2] == 2 && r[3] == 0, "half to even");
    float n[4] = {NAN, -5, 1e9f, 3};
    boxes_clip(n, 1, 4, 10, 10);
    CHECK(isnan(n[0]) && n[1] == 0 && n[2] == 10 && n[3] == 3, "clip keeps NaN");
}

static void labels_to_native(void)
{
    /* class, cx, cy, w, h normalised to a 640x480 input; original 1280x960 */
    const float lab[5] = {2, 0.5f, 0.5f, 0.25f, 0.5f};
    float out[5];
    BoxMapping m = boxes_mapping_ratio_pad(0.5, 0.5, 0, 0);
    boxes_labels_to_native(lab, 1, 480, 640, m, 960, 1280, out);
    CHECK(out[0] == 2 && out[1] == 480 && out[2] == 240 && out[3] == 800 && out[4] == 720, "%g %g %g %g %g", out[0],
          out[1], out[2], out[3], out[4]);
}

static void parity_with_reference(void)
{
    SafeTensors st;
    if (fx_open(&st, "boxes.safetensors")) {
        CHECK(0, "fixture");
        return;
    }
    size_t n4 = 0, m = 0;
    float *boxes = fx_f32(&st, "boxes", &n4);
    CHECK(boxes && n4 % 4 == 0, "boxes");
    if (!boxes) return;
    size_t n = n4 / 4;
    float *work = malloc(n4 * sizeof *work);
    for (int k = 0; k < 4; k++) {
        char name[32];
        snprintf(name, sizeof name, "val_%d", k);
        float *want = fx_f32(&st, name, &m);
        double v[6];
        const char *s = st_meta(&st, name);
        CHECK(want && m == n4 && s && sscanf(s, "%lf,%lf,%lf,%lf,%lf,%lf", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]) == 6,
              "%s", name);
        if (!want || !s) continue;
        memcpy(work, boxes, n4 * sizeof *work);
        boxes_scale(work, n, 4, boxes_mapping_ratio_pad(v[2], v[3], v[4], v[5]), (int)v[0], (int)v[1]);
        CHECK(fx_count_float_mismatch(work, want, n4) == 0, "%s: %zu values differ", name,
              fx_count_float_mismatch(work, want, n4));
        free(want);
        snprintf(name, sizeof name, "fit_%d", k);
        want = fx_f32(&st, name, &m);
        int d[4];
        s = st_meta(&st, name);
        CHECK(want && m == n4 && s && sscanf(s, "%d,%d,%d,%d", &d[0], &d[1], &d[2], &d[3]) == 4, "%s", name);
        if (!want || !s) continue;
        memcpy(work, boxes, n4 * sizeof *work);
        boxes_scale(work, n, 4, boxes_mapping_fit(d[0], d[1], d[2], d[3]), d[2], d[3]);
        boxes_round(work, n, 4);
        CHECK(fx_count_float_mismatch(work, want, n4) == 0, "%s: %zu values differ", name,
              fx_count_float_mismatch(work, want, n4));
        free(want);
    }
    float *xywh = fx_f32(&st, "xywh", &m), *back = fx_f32(&st, "xyxy_back", NULL);
    CHECK(xywh && back && m == n4, "xywh");
    if (xywh && back) {
        boxes_xyxy_to_xywh(boxes, n, 4, work, 4);
        CHECK(fx_count_float_mismatch(work, xywh, n4) == 0, "xyxy2xywh");
        boxes_xywh_to_xyxy(xywh, n, 4, work, 4);
        CHECK(fx_count_float_mismatch(work, back, n4) == 0, "xywh2xyxy");
    }
    free(xywh);
    free(back);
    free(work);
    free(boxes);
    st_free(&st);
}

TEST_MAIN(TEST_ENTRY(formats_round_trip), TEST_ENTRY(letterbox_mapping_and_clip), TEST_ENTRY(labels_to_native),
          TEST_ENTRY(parity_with_reference))
