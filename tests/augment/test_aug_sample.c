/* Whole samples (aug_get_item) against YOLOv5 v7.0's
 * LoadImagesAndLabels.__getitem__ on a 6-image PNG dataset
 * (scripts/gen_augment_fixtures.py): the reference ran with its random
 * functions drawing from a Python copy of our Rng, so for the same seed both
 * consume the same numbers in the same order. Checked: the image bytes
 * (exact), the label rows (float32, exact up to 1e-6), the number of draws
 * (exact: our Rng ends in the same state as one advanced by the reference's
 * draw count), the validation path with rect batch shapes (image, labels
 * and YOLOv5's `shapes`), determinism across runs and thread counts, and
 * edge cases (empty labels, everything warped out, 1xN images, failing
 * fetches). */
#include <omp.h>

#include "augment/aug_fixture.h"
#include "augment/collate.h"
#include "augment/perspective.h"
#include "augment/sample.h"

#define LABEL_ATOL 1e-6

typedef struct {
    ImageU8 img[16];
    AugBoxes labels[16];
    int n;
    int fetches, releases;
    int fail_index; /* fetch of this index fails (-1: none) */
} FixtureData;

static int fetch(void *ctx, int index, AugSource *src, Error *e)
{
    FixtureData *d = ctx;
    if (index == d->fail_index) return err_set(e, "decode failed (test)");
    d->fetches++;
    src->image = &d->img[index];
    src->resized = 0;
    src->labels = d->labels[index].v;
    src->n_labels = d->labels[index].n;
    return 0;
}

static void release(void *ctx, int index, AugSource *src)
{
    (void)index, (void)src;
    ((FixtureData *)ctx)->releases++;
}

static int meta_int(const SafeTensors *st, const char *key)
{
    const char *v = st_meta(st, key);
    CHECK(v != NULL, "fixture metadata %s missing", key);
    return v ? atoi(v) : 0;
}

static int load_data(SafeTensors *st, FixtureData *d)
{
    memset(d, 0, sizeof *d);
    d->fail_index = -1;
    if (fx_open(st, "e2e.safetensors")) return -1;
    d->n = meta_int(st, "images");
    char name[64];
    for (int i = 0; i < d->n && i < 16; i++) {
        snprintf(name, sizeof name, "img.%d", i);
        if (fx_image(st, name, &d->img[i])) return -1;
        snprintf(name, sizeof name, "labels.%d", i);
        if (fx_boxes(st, name, &d->labels[i])) return -1;
    }
    return 0;
}

static void free_data(FixtureData *d)
{
    for (int i = 0; i < 16; i++) aug_image_free(&d->img[i]), aug_boxes_free(&d->labels[i]);
}

static AugDataset dataset_of(FixtureData *d) { return (AugDataset){fetch, release, d, d->n}; }

static void hyp_from(const double *p, AugHyp *h)
{
    *h = (AugHyp){.hsv_h = p[0], .hsv_s = p[1], .hsv_v = p[2], .degrees = p[3], .translate = p[4], .scale = p[5],
                  .shear = p[6], .perspective = p[7], .flipud = p[8], .fliplr = p[9], .mosaic = p[10],
                  .mixup = p[11]};
}

/* The sample image as CHW bytes (the reference's tensor layout). */
static void to_chw_bytes(const ImageU8 *img, uint8_t *dst)
{
    size_t plane = (size_t)img->width * img->height;
    for (size_t i = 0; i < plane; i++)
        for (int c = 0; c < 3; c++) dst[c * plane + i] = img->pixels[3 * i + c];
}

static void compare_sample(const char *what, const AugSample *s, const StTensor *want_img, const double *want_lab,
                           size_t want_lab_count)
{
    CHECK(want_img && want_img->ndim == 3 && want_img->shape[0] == 3 && want_img->shape[1] == s->img.height &&
              want_img->shape[2] == s->img.width,
          "%s: image %dx%d does not match the reference's", what, s->img.width, s->img.height);
    if (!want_img || want_img->shape[1] != s->img.height || want_img->shape[2] != s->img.width) return;
    uint8_t *chw = malloc(aug_image_bytes(&s->img));
    to_chw_bytes(&s->img, chw);
    CHECK(fx_same_bytes(what, chw, want_img->data, aug_image_bytes(&s->img)), "%s image", what);
    free(chw);
    int nl = (int)(want_lab_count / 6);
    CHECK(s->labels.n == nl, "%s: %d labels, want %d", what, s->labels.n, nl);
    if (s->labels.n != nl) return;
    float *got = malloc(sizeof(float) * 6 * (size_t)(nl ? nl : 1)), *want = malloc(sizeof(float) * 6 * (nl ? nl : 1));
    aug_targets(&s->labels, 0, got);
    for (int i = 0; i < 6 * nl; i++) want[i] = (float)want_lab[i];
    CHECK_ARRAYS_CLOSE(what, got, want, (size_t)6 * nl, LABEL_ATOL, 0);
    free(got), free(want);
}

static void test_training_samples_match_reference(void)
{
    SafeTensors st = {0};
    FixtureData d;
    if (load_data(&st, &d)) {
        st_free(&st), free_data(&d);
        return;
    }
    const int n = meta_int(&st, "cases"), img_size = meta_int(&st, "img_size");
    AugDataset ds = dataset_of(&d);
    AugWork w = {0};
    AugSample s = {0};
    char name[64];
    int mosaics = 0, mixups = 0;
    for (int k = 0; k < n; k++) {
        snprintf(name, sizeof name, "case.%d.params", k);
        double *p = fx_doubles(&st, name, NULL);
        snprintf(name, sizeof name, "case.%d.labels", k);
        size_t nlab = 0;
        double *lab = fx_doubles(&st, name, &nlab);
        snprintf(name, sizeof name, "case.%d.draws", k);
        double *draws = fx_doubles(&st, name, NULL);
        snprintf(name, sizeof name, "case.%d.img", k);
        const StTensor *want_img = fx_find(&st, name, ST_U8);
        if (!p || !lab || !draws) {
            free(p), free(lab), free(draws);
            continue;
        }
        AugConfig cfg = {.img_size = img_size, .augment = 1, .rect = 0};
        hyp_from(p + 2, &cfg.hyp);
        Rng rng;
        rng_seed(&rng, (uint64_t)p[0]);
        Error e = {{0}};
        d.fetches = d.releases = 0;
        int rc = aug_train_sample(&cfg, &ds, (int)p[1], NULL, &rng, &w, &s, &e);
        CHECK(rc == 0, "case %d: %s", k, e.msg);
        CHECK(d.fetches == d.releases, "case %d: %d fetches, %d releases", k, d.fetches, d.releases);
        mosaics += s.mosaic;
        mixups += d.fetches == 8;
        char what[96];
        snprintf(what, sizeof what, "training case %d (seed %d, index %d, %s)", k, (int)p[0], (int)p[1],
                 s.mosaic ? "mosaic" : "letterbox");
        if (!rc) compare_sample(what, &s, want_img, lab, nlab);
        /* Same number of draws: our Rng is where a copy advanced by that count is. */
        Rng ref;
        rng_seed(&ref, (uint64_t)p[0]);
        for (int i = 0; i < (int)draws[0]; i++) rng_u64(&ref);
        CHECK(memcmp(ref.s, rng.s, sizeof ref.s) == 0, "%s: draw count differs from the reference's %d", what,
              (int)draws[0]);
        free(p), free(lab), free(draws);
    }
    CHECK(mosaics >= 8 && mosaics < n && mixups >= 3, "cases cover %d mosaics and %d mixups of %d", mosaics, mixups,
          n);
    aug_work_free(&w), aug_sample_free(&s);
    free_data(&d);
    st_free(&st);
}

static void test_validation_samples_match_reference(void)
{
    SafeTensors st = {0};
    FixtureData d;
    if (load_data(&st, &d)) {
        st_free(&st), free_data(&d);
        return;
    }
    const int vsize = meta_int(&st, "val_size");
    AugDataset ds = dataset_of(&d);
    size_t no = 0, nb = 0;
    double *order = fx_doubles(&st, "val.order", &no), *shapes = fx_doubles(&st, "val.batch_shapes", &nb);
    AugWork w = {0};
    AugSample s = {0};
    char name[64];
    for (int i = 0; order && shapes && i < (int)no; i++) {
        int shape[2] = {(int)shapes[2 * (i / 2)], (int)shapes[2 * (i / 2) + 1]};
        Error e = {{0}};
        int rc = aug_val_sample(vsize, &ds, (int)order[i], shape, &w, &s, &e);
        CHECK(rc == 0, "val %d: %s", i, e.msg);
        snprintf(name, sizeof name, "val.%d.img", i);
        const StTensor *want_img = fx_find(&st, name, ST_U8);
        snprintf(name, sizeof name, "val.%d.labels", i);
        size_t nlab = 0;
        double *lab = fx_doubles(&st, name, &nlab);
        snprintf(name, sizeof name, "val.%d.shapes", i);
        double *sh = fx_doubles(&st, name, NULL);
        char what[64];
        snprintf(what, sizeof what, "validation %d (image %d)", i, (int)order[i]);
        if (!rc && lab) compare_sample(what, &s, want_img, lab, nlab);
        if (!rc && sh) {
            CHECK(s.h0 == (int)sh[0] && s.w0 == (int)sh[1], "%s: original size", what);
            CHECK((double)s.h / s.h0 == sh[2] && (double)s.w / s.w0 == sh[3], "%s: ratios %.17g %.17g", what,
                  (double)s.h / s.h0, (double)s.w / s.w0);
            CHECK(s.pad_w == sh[4] && s.pad_h == sh[5], "%s: pad %g %g want %g %g", what, s.pad_w, s.pad_h, sh[4],
                  sh[5]);
            CHECK(!s.mosaic, "%s: mosaic in validation", what);
        }
        free(lab), free(sh);
    }
    free(order), free(shapes);
    aug_work_free(&w), aug_sample_free(&s);
    free_data(&d);
    st_free(&st);
}

/* Same seed -> identical bytes, whatever the thread count; another seed differs. */
static void test_determinism(void)
{
    SafeTensors st = {0};
    FixtureData d;
    if (load_data(&st, &d)) {
        st_free(&st), free_data(&d);
        return;
    }
    AugDataset ds = dataset_of(&d);
    AugConfig cfg = {.img_size = 64, .augment = 1, .rect = 0};
    aug_hyp_default(&cfg.hyp);
    cfg.hyp.mixup = 0.5, cfg.hyp.degrees = 7, cfg.hyp.shear = 3, cfg.hyp.flipud = 0.5;
    AugWork w = {0};
    AugSample a = {0}, b = {0};
    int differ = 0;
    const int saved_threads = omp_get_max_threads();
    for (int seed = 0; seed < 12; seed++) {
        Rng r1, r2;
        rng_seed_stream(&r1, 42, 3, (uint64_t)seed);
        rng_seed_stream(&r2, 42, 3, (uint64_t)seed);
        Error e = {{0}};
        omp_set_num_threads(1);
        CHECK(aug_get_item(&cfg, &ds, seed % d.n, NULL, &r1, &w, &a, &e) == 0, "%s", e.msg);
        omp_set_num_threads(saved_threads > 1 ? saved_threads : 2);
        CHECK(aug_get_item(&cfg, &ds, seed % d.n, NULL, &r2, &w, &b, &e) == 0, "%s", e.msg);
        CHECK(a.img.width == b.img.width && a.img.height == b.img.height &&
                  memcmp(a.img.pixels, b.img.pixels, aug_image_bytes(&a.img)) == 0,
              "seed %d: images differ between runs", seed);
        CHECK(a.labels.n == b.labels.n &&
                  memcmp(a.labels.v, b.labels.v, sizeof(float) * AUG_BOX_FIELDS * (size_t)a.labels.n) == 0,
              "seed %d: labels differ between runs", seed);
        if (seed > 0) {
            Rng r3;
            rng_seed_stream(&r3, 43, 3, (uint64_t)seed);
            CHECK(aug_get_item(&cfg, &ds, seed % d.n, NULL, &r3, &w, &b, &e) == 0, "%s", e.msg);
            differ += a.img.width != b.img.width || memcmp(a.img.pixels, b.img.pixels, aug_image_bytes(&a.img)) != 0;
        }
        /* Every label is a valid normalised box of the output image. */
        for (int i = 0; i < a.labels.n; i++) {
            const float *r = a.labels.v + (size_t)i * AUG_BOX_FIELDS;
            CHECK(r[1] >= 0 && r[1] <= 1 && r[2] >= 0 && r[2] <= 1 && r[3] > 0 && r[3] <= 1 && r[4] > 0 && r[4] <= 1,
                  "seed %d label %d out of range", seed, i);
        }
    }
    omp_set_num_threads(saved_threads);
    CHECK(differ == 11, "only %d of 11 other seeds changed the sample", differ);
    aug_work_free(&w), aug_sample_free(&a), aug_sample_free(&b);
    free_data(&d);
    st_free(&st);
}

/* 1xN, Nx1 and 3x3 images, images without labels, rect training: every path
 * runs, sizes are right and labels stay inside the image. */
static void test_edge_images(void)
{
    FixtureData d;
    memset(&d, 0, sizeof d);
    d.fail_index = -1;
    const int sizes[4][2] = {{40, 1}, {1, 40}, {3, 3}, {200, 150}};
    Error e = {{0}};
    d.n = 4;
    for (int i = 0; i < 4; i++) {
        aug_image_alloc(&d.img[i], sizes[i][0], sizes[i][1], &e);
        for (size_t j = 0; j < aug_image_bytes(&d.img[i]); j++) d.img[i].pixels[j] = (uint8_t)(j * 37 + i * 11);
        if (i != 2) {
            float row[5] = {(float)i, 0.5f, 0.5f, 0.9f, 0.9f};
            aug_boxes_append(&d.labels[i], row, 1, &e);
        }
    }
    AugDataset ds = dataset_of(&d);
    AugWork w = {0};
    AugSample s = {0};
    for (int mode = 0; mode < 4; mode++) {
        AugConfig cfg = {.img_size = 32, .augment = mode != 3, .rect = mode >= 2};
        aug_hyp_default(&cfg.hyp);
        cfg.hyp.mixup = mode == 1 ? 1.0 : 0.0;
        cfg.hyp.degrees = 20;
        const int shape[2] = {32, 64};
        for (int seed = 0; seed < 8; seed++) {
            Rng rng;
            rng_seed(&rng, (uint64_t)(seed + 100 * mode));
            int rc = aug_get_item(&cfg, &ds, seed % 4, shape, &rng, &w, &s, &e);
            CHECK(rc == 0, "mode %d seed %d: %s", mode, seed, e.msg);
            if (rc) continue;
            int want_w = cfg.rect ? 64 : 32, want_h = 32;
            CHECK(s.img.width == want_w && s.img.height == want_h, "mode %d: %dx%d", mode, s.img.width, s.img.height);
            for (int i = 0; i < s.labels.n; i++) {
                const float *r = s.labels.v + (size_t)i * AUG_BOX_FIELDS;
                CHECK(r[1] - r[3] / 2 >= -1e-6 && r[1] + r[3] / 2 <= 1 + 1e-6 && r[3] >= 0 && r[4] >= 0,
                      "mode %d seed %d: label %d outside", mode, seed, i);
            }
            float *chw = malloc(sizeof(float) * 3 * (size_t)s.img.width * s.img.height);
            aug_to_chw_float(&s.img, chw);
            CHECK(chw[0] == s.img.pixels[0] / 255.0f &&
                      chw[(size_t)s.img.width * s.img.height] == s.img.pixels[1] / 255.0f,
                  "CHW conversion");
            free(chw);
        }
    }
    /* Background image in validation: no labels; load_image enlarges the 3x3
     * image to 32x32 (bilinear), so the letterbox adds nothing. */
    const int shape[2] = {32, 32};
    CHECK(aug_val_sample(32, &ds, 2, shape, &w, &s, &e) == 0 && s.labels.n == 0, "background: %s", e.msg);
    CHECK(s.img.width == 32 && s.img.height == 32 && s.h == 32 && s.h0 == 3 && s.pad_w == 0 && s.pad_h == 0,
          "3x3 at 32: %dx%d pad %g", s.img.width, s.img.height, s.pad_w);
    /* 1x40 at a 32x64 shape: 1 row stays 1 row (int(1·0.8) would be 0: kept at 1), padded. */
    const int wide[2] = {32, 64};
    CHECK(aug_val_sample(32, &ds, 0, wide, &w, &s, &e) == 0, "%s", e.msg);
    CHECK(s.h == 1 && s.w == 32 && s.img.height == 32 && s.pad_h == 15.5 && s.pad_w == 16, "1x40: h %d pad %g %g",
          s.h, s.pad_w, s.pad_h);
    /* A failing fetch names the image; nothing is leaked (ASan). */
    d.fail_index = 1;
    AugConfig cfg = {.img_size = 32, .augment = 1, .rect = 0};
    aug_hyp_default(&cfg.hyp);
    Rng rng;
    rng_seed(&rng, 1);
    d.fetches = d.releases = 0;
    CHECK(aug_get_item(&cfg, &ds, 1, NULL, &rng, &w, &s, &e) == -1 && strstr(e.msg, "image 1") &&
              strstr(e.msg, "decode failed"),
          "fetch failure: %s", e.msg);
    CHECK(d.fetches == d.releases, "unbalanced fetch/release after failure");
    CHECK(aug_get_item(&cfg, &ds, 9, NULL, &rng, &w, &s, &e) == -1 && strstr(e.msg, "index 9"), "%s", e.msg);
    cfg.rect = 1;
    CHECK(aug_get_item(&cfg, &ds, 0, NULL, &rng, &w, &s, &e) == -1 && strstr(e.msg, "batch shape"), "%s", e.msg);
    aug_work_free(&w), aug_sample_free(&s);
    free_data(&d);
}

/* Boxes pushed entirely out of the image are dropped; so is a box that
 * shrinks below 2 px. */
static void test_boxes_warped_out(void)
{
    Error e = {{0}};
    ImageU8 in = {0}, out = {0};
    aug_image_alloc(&in, 40, 30, &e);
    aug_image_fill(&in, 9);
    AugBoxes b = {0};
    float rows[15] = {0, 2, 2, 20, 20, 1, 10, 10, 30, 25, 2, 5, 5, 8, 8};
    aug_boxes_append(&b, rows, 3, &e);
    AugPerspectiveDraw far = {0, 0, 0, 1.0, 0, 0, 2.0, 2.0}; /* shift by 2x the size */
    CHECK(aug_random_perspective(&in, &b, &far, 0, 0, 0, &out, &e) == 0, "%s", e.msg);
    CHECK(b.n == 0, "%d boxes survived a shift out of the image", b.n);
    int all_border = 1;
    for (size_t i = 0; i < aug_image_bytes(&out); i++) all_border &= out.pixels[i] == AUG_BORDER_VALUE;
    CHECK(all_border, "image not all border after shifting it out");
    b.n = 0;
    aug_boxes_append(&b, rows, 3, &e);
    AugPerspectiveDraw shrink = {0, 0, 0, 0.4, 0, 0, 0.5, 0.5};
    CHECK(aug_random_perspective(&in, &b, &shrink, 0, 0, 0, &out, &e) == 0, "%s", e.msg);
    CHECK(b.n == 2 && b.v[0] == 0 && b.v[5] == 1, "shrink kept %d boxes (the 3 px one must go)", b.n);
    aug_image_free(&in), aug_image_free(&out), aug_boxes_free(&b);
}

TEST_MAIN(TEST_ENTRY(test_training_samples_match_reference), TEST_ENTRY(test_validation_samples_match_reference),
          TEST_ENTRY(test_determinism), TEST_ENTRY(test_edge_images), TEST_ENTRY(test_boxes_warped_out))
