/* Geometric augmentations against YOLOv5 v7.0 (fixtures from
 * scripts/gen_augment_fixtures.py): random_perspective with given draws
 * (pixels equal to cv2.warpAffine byte for byte; boxes equal to the
 * reference's float32 values within 1 float32 ulp of 64 px, 4e-6, to allow
 * NumPy's BLAS matrix products to round differently from our fixed order),
 * box_candidates (exact), mosaic placement and labels (exact), mixup
 * (exact), rect batch shapes (exact), flips and label conversions. */
#include <math.h>

#include "augment/aug_fixture.h"
#include "augment/boxes.h"
#include "augment/flip.h"
#include "augment/mixup.h"
#include "augment/mosaic.h"
#include "augment/perspective.h"
#include "augment/rect_shapes.h"

#define BOX_ATOL 4e-6

static int meta_int(const SafeTensors *st, const char *key)
{
    const char *v = st_meta(st, key);
    CHECK(v != NULL, "fixture metadata %s missing", key);
    return v ? atoi(v) : 0;
}

static void check_boxes(const char *what, const AugBoxes *got, const AugBoxes *want, double atol)
{
    CHECK(got->n == want->n, "%s: %d boxes, want %d", what, got->n, want->n);
    if (got->n != want->n) return;
    CHECK_ARRAYS_CLOSE(what, got->v, want->v, (size_t)got->n * AUG_BOX_FIELDS, atol, 0);
}

static void test_random_perspective(void)
{
    SafeTensors st = {0};
    if (fx_open(&st, "warp.safetensors")) return;
    int n = meta_int(&st, "persp");
    char name[64];
    for (int k = 0; k < n; k++) {
        ImageU8 src = {0}, want = {0}, got = {0};
        AugBoxes boxes = {0}, want_boxes = {0};
        snprintf(name, sizeof name, "persp.%d.params", k);
        double *p = fx_doubles(&st, name, NULL);
        snprintf(name, sizeof name, "persp.%d.draws", k);
        double *dr = fx_doubles(&st, name, NULL);
        if (!p || !dr) {
            free(p), free(dr);
            continue;
        }
        snprintf(name, sizeof name, "src.%d", (int)p[0]);
        fx_image(&st, name, &src);
        snprintf(name, sizeof name, "persp.%d.out", k);
        fx_image(&st, name, &want);
        snprintf(name, sizeof name, "persp.%d.targets", k);
        fx_boxes(&st, name, &boxes);
        snprintf(name, sizeof name, "persp.%d.out_targets", k);
        fx_boxes(&st, name, &want_boxes);
        AugPerspectiveDraw d = {dr[0], dr[1], dr[2], dr[3], dr[4], dr[5], dr[6], dr[7]};
        int persp = (int)p[3];
        Error e = {{0}};
        int rc = aug_random_perspective(&src, &boxes, &d, (int)p[1], (int)p[2], persp, &got, &e);
        CHECK(rc == 0, "random_perspective case %d: %s", k, e.msg);
        char what[64];
        snprintf(what, sizeof what, "random_perspective case %d image", k);
        if (!persp) {
            CHECK(fx_same_image(what, &got, &want), "%s", what);
        } else {
            CHECK(got.width == want.width && got.height == want.height, "%s size", what);
            size_t off = 0, bytes = aug_image_bytes(&want);
            int maxd = 0;
            for (size_t i = 0; i < bytes && got.width == want.width && got.height == want.height; i++) {
                int dd = abs((int)got.pixels[i] - (int)want.pixels[i]);
                off += dd != 0, maxd = dd > maxd ? dd : maxd;
            }
            CHECK(maxd <= 1 && off * 200 <= bytes, "%s: %zu bytes differ, max %d", what, off, maxd);
        }
        snprintf(what, sizeof what, "random_perspective case %d boxes", k);
        check_boxes(what, &boxes, &want_boxes, BOX_ATOL);
        aug_image_free(&src), aug_image_free(&want), aug_image_free(&got);
        aug_boxes_free(&boxes), aug_boxes_free(&want_boxes);
        free(p), free(dr);
    }
    st_free(&st);
}

static void test_box_candidates(void)
{
    SafeTensors st = {0};
    if (fx_open(&st, "warp.safetensors")) return;
    size_t n1 = 0, n2 = 0, nk = 0, nk7 = 0;
    double *b1 = fx_doubles(&st, "cand.box1", &n1), *b2 = fx_doubles(&st, "cand.box2", &n2);
    double *keep = fx_doubles(&st, "cand.keep", &nk), *keep7 = fx_doubles(&st, "cand.keep_s07", &nk7);
    if (b1 && b2 && keep && keep7 && n1 == n2 && nk == n1 / 4 && nk7 == nk) {
        int kept = 0;
        for (size_t i = 0; i < nk; i++) {
            const double *p = b1 + 4 * i, *q = b2 + 4 * i;
            for (int s7 = 0; s7 < 2; s7++) {
                float f[4];
                for (int j = 0; j < 4; j++) f[j] = s7 ? (float)p[j] * 0.7f : (float)p[j];
                int got = aug_box_candidate(f[2] - f[0], f[3] - f[1], q[2] - q[0], q[3] - q[1], AUG_BOX_WH_THR,
                                            AUG_BOX_AR_THR, AUG_BOX_AREA_THR);
                int want = (int)(s7 ? keep7 : keep)[i];
                CHECK(got == want, "box_candidates %zu (scale %s): got %d want %d", i, s7 ? "0.7" : "1", got, want);
                kept += got;
            }
        }
        CHECK(kept > 0 && kept < (int)(2 * nk), "cases do not exercise both outcomes (%d kept)", kept);
    } else {
        CHECK(0, "box_candidates fixture malformed");
    }
    free(b1), free(b2), free(keep), free(keep7);
    st_free(&st);
}

static void test_mosaic_placement(void)
{
    SafeTensors st = {0};
    if (fx_open(&st, "mosaic.safetensors")) return;
    const int n = meta_int(&st, "cases"), s = meta_int(&st, "img_size");
    ImageU8 tiles[4] = {{0}};
    AugBoxes labels[4] = {{0}};
    char name[64];
    for (int i = 0; i < 4; i++) {
        snprintf(name, sizeof name, "tile.%d", i);
        fx_image(&st, name, &tiles[i]);
        snprintf(name, sizeof name, "labels.%d", i);
        fx_boxes(&st, name, &labels[i]);
    }
    ImageU8 canvas = {0}, want = {0};
    AugBoxes got = {0}, want_boxes = {0};
    for (int k = 0; k < n; k++) {
        snprintf(name, sizeof name, "case.%d.params", k);
        double *p = fx_doubles(&st, name, NULL);
        if (!p) continue;
        int yc = (int)p[0], xc = (int)p[1];
        Error e = {{0}};
        int rc = aug_mosaic_begin(s, &canvas, &got, &e);
        for (int t = 0; t < 4 && !rc; t++) {
            int idx = (int)p[2 + t];
            rc = aug_mosaic_add(t, &tiles[idx], labels[idx].v, labels[idx].n, xc, yc, s, &canvas, &got, &e);
        }
        CHECK(rc == 0, "mosaic case %d: %s", k, e.msg);
        aug_mosaic_finish(s, &got);
        snprintf(name, sizeof name, "case.%d.canvas", k);
        fx_image(&st, name, &want);
        snprintf(name, sizeof name, "case.%d.labels", k);
        fx_boxes(&st, name, &want_boxes);
        char what[64];
        snprintf(what, sizeof what, "mosaic case %d canvas (xc %d, yc %d)", k, xc, yc);
        CHECK(fx_same_image(what, &canvas, &want), "%s", what);
        snprintf(what, sizeof what, "mosaic case %d labels", k);
        check_boxes(what, &got, &want_boxes, 0);
        free(p);
    }
    for (int i = 0; i < 4; i++) aug_image_free(&tiles[i]), aug_boxes_free(&labels[i]);
    aug_image_free(&canvas), aug_image_free(&want);
    aug_boxes_free(&got), aug_boxes_free(&want_boxes);
    st_free(&st);
}

static void test_mosaic_draw_ranges(void)
{
    Rng rng;
    rng_seed(&rng, 5);
    int seen[4][6] = {{0}}, lo = 1 << 30, hi = -1;
    for (int i = 0; i < 2000; i++) {
        AugMosaicDraw d;
        aug_mosaic_draw(&rng, 640, 3, 6, &d);
        lo = d.xc < lo ? d.xc : lo, hi = d.xc > hi ? d.xc : hi;
        lo = d.yc < lo ? d.yc : lo, hi = d.yc > hi ? d.yc : hi;
        int has_index = 0;
        for (int k = 0; k < 4; k++) {
            CHECK(d.indices[k] >= 0 && d.indices[k] < 6, "index %d", d.indices[k]);
            if (d.indices[k] >= 0 && d.indices[k] < 6) seen[k][d.indices[k]]++;
            has_index |= d.indices[k] == 3;
        }
        CHECK(has_index, "sample's own index missing from the mosaic");
    }
    CHECK(lo >= 320 && hi < 960 && lo < 330 && hi > 950, "centre range [%d, %d]", lo, hi);
    for (int k = 0; k < 4; k++)
        for (int j = 0; j < 6; j++) CHECK(seen[k][j] > 0, "tile %d never got image %d", k, j);
    CHECK(aug_mosaic_border(640) == -320 && aug_mosaic_border(641) == -321, "mosaic border");
}

static void test_mixup_blend(void)
{
    SafeTensors st = {0};
    if (fx_open(&st, "mixup.safetensors")) return;
    const int n = meta_int(&st, "cases");
    ImageU8 a = {0}, b = {0}, got = {0}, want = {0};
    fx_image(&st, "a", &a);
    fx_image(&st, "b", &b);
    char name[64];
    for (int k = 0; k < n && a.pixels && b.pixels; k++) {
        snprintf(name, sizeof name, "case.%d.r", k);
        double *r = fx_doubles(&st, name, NULL);
        snprintf(name, sizeof name, "case.%d.out", k);
        fx_image(&st, name, &want);
        Error e = {{0}};
        aug_image_copy(&a, &got, &e);
        if (r) CHECK(aug_mixup_blend(&got, &b, r[0], &e) == 0, "%s", e.msg);
        char what[64];
        snprintf(what, sizeof what, "mixup case %d (r = %g)", k, r ? r[0] : 0);
        CHECK(fx_same_image(what, &got, &want), "%s", what);
        /* Labels: the first image's rows, then the partner's (what aug_get_item appends). */
        AugBoxes la = {0}, lb = {0}, want_lab = {0};
        fx_boxes(&st, "la", &la);
        fx_boxes(&st, "lb", &lb);
        snprintf(name, sizeof name, "case.%d.labels", k);
        fx_boxes(&st, name, &want_lab);
        aug_boxes_append(&la, lb.v, lb.n, &e);
        snprintf(what, sizeof what, "mixup case %d labels", k);
        check_boxes(what, &la, &want_lab, 0);
        aug_boxes_free(&la), aug_boxes_free(&lb), aug_boxes_free(&want_lab);
        free(r);
    }
    Error e = {{0}};
    ImageU8 small = {0};
    aug_image_alloc(&small, 3, 3, &e);
    CHECK(aug_mixup_blend(&got, &small, 0.5, &e) == -1 && strstr(e.msg, "differ in size"), "%s", e.msg);
    aug_image_free(&a), aug_image_free(&b), aug_image_free(&got), aug_image_free(&want), aug_image_free(&small);
    st_free(&st);
}

/* Beta(32, 32): mean 0.5, variance 1/260; Gamma(k): mean k, variance k. */
static void test_beta_and_gamma_moments(void)
{
    Rng rng;
    rng_seed(&rng, 2024);
    const int n = 20000;
    double s = 0, s2 = 0, lo = 1, hi = 0;
    for (int i = 0; i < n; i++) {
        double r = aug_beta_draw(&rng, 32, 32);
        s += r, s2 += r * r;
        lo = r < lo ? r : lo, hi = r > hi ? r : hi;
    }
    double mean = s / n, var = s2 / n - mean * mean;
    CHECK(fabs(mean - 0.5) < 0.002, "Beta(32,32) mean %g", mean);
    CHECK(fabs(var - 1.0 / 260) < 0.0003, "Beta(32,32) variance %g want %g", var, 1.0 / 260);
    CHECK(lo > 0.2 && hi < 0.8, "Beta(32,32) range [%g, %g]", lo, hi);
    const double shapes[3] = {0.5, 2.0, 32.0};
    for (int k = 0; k < 3; k++) {
        s = s2 = 0;
        for (int i = 0; i < n; i++) {
            double g = aug_gamma_draw(&rng, shapes[k]);
            CHECK(g > 0, "Gamma(%g) draw %g", shapes[k], g);
            s += g, s2 += g * g;
        }
        mean = s / n, var = s2 / n - mean * mean;
        CHECK(fabs(mean - shapes[k]) < 0.03 * shapes[k] + 0.01, "Gamma(%g) mean %g", shapes[k], mean);
        CHECK(fabs(var - shapes[k]) < 0.1 * shapes[k], "Gamma(%g) variance %g", shapes[k], var);
    }
    /* Same seed, same numbers. */
    Rng a, b;
    rng_seed(&a, 9), rng_seed(&b, 9);
    CHECK(aug_beta_draw(&a, 32, 32) == aug_beta_draw(&b, 32, 32) && a.s[0] == b.s[0], "beta not reproducible");
}

static void test_flips(void)
{
    Error e = {{0}};
    ImageU8 img = {0};
    aug_image_alloc(&img, 3, 2, &e);
    for (int i = 0; i < 18; i++) img.pixels[i] = (uint8_t)i;
    AugBoxes b = {0};
    float row[5] = {1, 0.25f, 0.125f, 0.5f, 0.75f};
    aug_boxes_append(&b, row, 1, &e);
    aug_flip_lr(&img, &b);
    const uint8_t lr[18] = {6, 7, 8, 3, 4, 5, 0, 1, 2, 15, 16, 17, 12, 13, 14, 9, 10, 11};
    CHECK(memcmp(img.pixels, lr, 18) == 0, "left-right pixels");
    CHECK(b.v[1] == 0.75f && b.v[2] == 0.125f && b.v[3] == 0.5f && b.v[4] == 0.75f, "lr labels");
    aug_flip_ud(&img, &b);
    const uint8_t ud[18] = {15, 16, 17, 12, 13, 14, 9, 10, 11, 6, 7, 8, 3, 4, 5, 0, 1, 2};
    CHECK(memcmp(img.pixels, ud, 18) == 0, "up-down pixels");
    CHECK(b.v[1] == 0.75f && b.v[2] == 0.875f, "ud labels");
    /* 1 x N and N x 1 images, odd sizes: flipping twice is the identity. */
    ImageU8 line = {0};
    aug_image_alloc(&line, 7, 1, &e);
    for (int i = 0; i < 21; i++) line.pixels[i] = (uint8_t)(i * 11);
    aug_flip_ud(&line, NULL);
    aug_flip_lr(&line, NULL);
    CHECK(line.pixels[0] == 18 * 11 && line.pixels[20] == 2 * 11, "1x7 flip");
    aug_flip_lr(&line, NULL);
    CHECK(line.pixels[0] == 0 && line.pixels[20] == 220, "1x7 double flip");
    aug_image_free(&img), aug_image_free(&line), aug_boxes_free(&b);
}

static void test_label_conversions(void)
{
    /* xywhn -> xyxy in float32 with pads, then back with clipping. */
    float in[10] = {3, 0.5f, 0.5f, 0.5f, 0.25f, 7, 0.9f, 0.1f, 0.4f, 0.4f};
    float px[10];
    aug_xywhn_to_xyxy(in, 2, 64.0f, 48.0f, 8.0f, 0.5f, px);
    CHECK(px[0] == 3 && px[1] == 24 && px[2] == 18.5f && px[3] == 56 && px[4] == 30.5f, "xyxy row 0");
    CHECK(px[5] == 7 && px[6] == 64.0f * (0.9f - 0.2f) + 8.0f, "xyxy row 1 x1");
    aug_xyxy_to_xywhn_clip(px, 2, 80, 49, 1e-3);
    const float xmax = (float)(80 - 1e-3);
    /* row 1: x2 = 64·1.1 + 8 = 78.4 (inside), y1 = 48·(-0.1) + 0.5 < 0 -> 0. */
    float x1 = 64.0f * (0.9f - 0.2f) + 8.0f, x2 = 64.0f * (0.9f + 0.2f) + 8.0f;
    x2 = x2 > xmax ? xmax : x2;
    CHECK(px[6] == ((x1 + x2) / 2) / 80.0f && px[8] == (x2 - x1) / 80.0f, "xywhn row 1 x");
    float y2 = 48.0f * (0.1f + 0.2f) + 0.5f;
    CHECK(px[7] == ((0 + y2) / 2) / 49.0f && px[9] == y2 / 49.0f, "clipped y");
    float big[5] = {0, -5, -5, 500, 500};
    aug_xyxy_to_xywhn_clip(big, 1, 64, 32, 1e-3);
    CHECK(big[1] == ((float)(64 - 1e-3) / 2) / 64 && big[4] == (float)(32 - 1e-3) / 32, "clip eps: %g %g", big[1],
          big[4]);
}

static void test_rect_shapes(void)
{
    SafeTensors st = {0};
    if (fx_open(&st, "e2e.safetensors")) return;
    const int n = meta_int(&st, "images"), size = meta_int(&st, "img_size"), vsize = meta_int(&st, "val_size");
    int w[16], h[16], order[16], hw[32];
    char name[64];
    for (int i = 0; i < n && i < 16; i++) {
        snprintf(name, sizeof name, "img.%d", i);
        const StTensor *t = fx_find(&st, name, ST_U8);
        h[i] = t ? (int)t->shape[0] : 1, w[i] = t ? (int)t->shape[1] : 1;
    }
    Error e = {{0}};
    size_t cnt = 0;
    double *want_order = fx_doubles(&st, "val.order", &cnt), *want_hw = NULL;
    CHECK(aug_rect_batch_shapes(w, h, n, 2, vsize, 32, 0.5, order, hw, &e) == 0, "%s", e.msg);
    for (int i = 0; want_order && i < n; i++) CHECK(order[i] == (int)want_order[i], "val order[%d]", i);
    want_hw = fx_doubles(&st, "val.batch_shapes", &cnt);
    CHECK(want_hw && (int)cnt == 2 * aug_rect_batch_count(n, 2), "val batch count");
    for (size_t i = 0; want_hw && i < cnt; i++) CHECK(hw[i] == (int)want_hw[i], "val batch shape [%zu]", i);
    free(want_order), free(want_hw);
    CHECK(aug_rect_batch_shapes(w, h, n, 4, size, 32, 0.0, order, hw, &e) == 0, "%s", e.msg);
    want_hw = fx_doubles(&st, "rect_train.batch_shapes", &cnt);
    CHECK(want_hw && (int)cnt == 2 * aug_rect_batch_count(n, 4), "train batch count");
    for (size_t i = 0; want_hw && i < cnt; i++) CHECK(hw[i] == (int)want_hw[i], "train batch shape [%zu]", i);
    free(want_hw);
    /* The spec's examples: square images in validation -> 672; 4:3 landscape -> 512 x 672. */
    int sw[2] = {640, 640}, sh[2] = {640, 640};
    aug_rect_batch_shapes(sw, sh, 2, 2, 640, 32, 0.5, order, hw, &e);
    CHECK(hw[0] == 672 && hw[1] == 672, "square val shape %dx%d", hw[1], hw[0]);
    int lw[2] = {640, 640}, lh[2] = {480, 480};
    aug_rect_batch_shapes(lw, lh, 2, 2, 640, 32, 0.5, order, hw, &e);
    CHECK(hw[0] == 512 && hw[1] == 672, "4:3 val shape %dx%d", hw[1], hw[0]);
    /* Equal ratios keep dataset order (stable). */
    int ew[3] = {10, 20, 30}, eh[3] = {10, 20, 30};
    aug_rect_batch_shapes(ew, eh, 3, 2, 64, 32, 0, order, hw, &e);
    CHECK(order[0] == 0 && order[1] == 1 && order[2] == 2, "stable order");
    CHECK(aug_rect_batch_shapes(ew, eh, 0, 2, 64, 32, 0, order, hw, &e) == -1, "n = 0 accepted");
    st_free(&st);
}

TEST_MAIN(TEST_ENTRY(test_random_perspective), TEST_ENTRY(test_box_candidates), TEST_ENTRY(test_mosaic_placement),
          TEST_ENTRY(test_mosaic_draw_ranges), TEST_ENTRY(test_mixup_blend), TEST_ENTRY(test_beta_and_gamma_moments),
          TEST_ENTRY(test_flips), TEST_ENTRY(test_label_conversions), TEST_ENTRY(test_rect_shapes))
