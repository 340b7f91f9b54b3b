/* AutoAnchor behaviour on synthetic datasets: determinism for a seed (and
 * across thread counts), the good-fit / placeholder / only-if-better rules,
 * the float32 0.98 threshold, check_anchor_order, the k-means fallbacks, the
 * Model entry points and argument errors. */
#include <math.h>
#include <omp.h>

#include "anchor_test_util.h"
#include "anchors/anchor_evolve.h"
#include "anchors/autoanchor.h"
#include "anchors/kmeans.h"
#include "anchors/ratio_kernel.h"
#include "core/cpu.h"
#include "test.h"

static const float DEFAULT_PX[18] = {10, 13, 16, 30, 33, 23, 30, 61, 62, 45, 59, 119, 116, 90, 156, 198, 373, 326};
static const float STRIDES[3] = {8, 16, 32};

/* A split of n_images images of img_w x img_h (long side 640, the training
 * size used throughout) with labels whose pixel sizes come from size_fn. */
typedef void (*SizeFn)(Rng *rng, size_t i, double *w, double *h);

static int make_split(DatasetSplit *s, size_t n_images, int img_w, int img_h, size_t labels_per_image,
                      SizeFn size_fn, uint64_t seed)
{
    int *wh = malloc(2 * n_images * sizeof *wh), *counts = malloc(n_images * sizeof *counts);
    float *rows = malloc(n_images * labels_per_image * LABEL_FIELDS * sizeof *rows);
    if (!wh || !counts || !rows) return -1;
    Rng rng;
    rng_seed(&rng, seed);
    size_t at = 0;
    for (size_t i = 0; i < n_images; i++) {
        wh[2 * i] = img_w;
        wh[2 * i + 1] = img_h;
        counts[i] = (int)labels_per_image;
        for (size_t r = 0; r < labels_per_image; r++, at++) {
            double w, h;
            size_fn(&rng, at, &w, &h);
            float *row = rows + at * LABEL_FIELDS;
            row[0] = 0;
            row[1] = row[2] = 0.5f;
            row[3] = (float)(w / img_w); /* normalised by the image's sides */
            row[4] = (float)(h / img_h);
        }
    }
    int rc = test_split_make(s, n_images, wh, counts, rows);
    free(wh);
    free(counts);
    free(rows);
    return rc;
}

/* Long thin and flat objects plus a spread of others: the default anchors fit poorly. */
static void poor_sizes(Rng *rng, size_t i, double *w, double *h)
{
    switch (i % 4) {
    case 0: *w = rng_uniform_range(rng, 3, 12), *h = rng_uniform_range(rng, 200, 600); break;
    case 1: *w = rng_uniform_range(rng, 200, 600), *h = rng_uniform_range(rng, 3, 12); break;
    case 2: *w = rng_uniform_range(rng, 20, 80), *h = rng_uniform_range(rng, 20, 80); break;
    default: *w = rng_uniform_range(rng, 1, 400), *h = rng_uniform_range(rng, 1, 400); break;
    }
}

/* Each label close to one of the default anchors: a good fit. */
static void good_sizes(Rng *rng, size_t i, double *w, double *h)
{
    int a = (int)(i % 9);
    *w = DEFAULT_PX[2 * a] * rng_uniform_range(rng, 0.8, 1.25);
    *h = DEFAULT_PX[2 * a + 1] * rng_uniform_range(rng, 0.8, 1.25);
}

/* Small objects (3..12 px) that YOLOv5's placeholder anchors 0..5 happen to "fit". */
static void tiny_sizes(Rng *rng, size_t i, double *w, double *h)
{
    (void)i;
    *w = rng_uniform_range(rng, 3, 12);
    *h = rng_uniform_range(rng, 3, 12);
}

/* Four tight clusters 100x apart in each side: one anchor can cover one cluster. */
static void four_clusters(Rng *rng, size_t i, double *w, double *h)
{
    static const double c[4][2] = {{4, 4}, {4, 400}, {400, 4}, {400, 400}};
    *w = c[i % 4][0] * rng_uniform_range(rng, 0.95, 1.05);
    *h = c[i % 4][1] * rng_uniform_range(rng, 0.95, 1.05);
}

static int run_check(const DatasetSplit *s, const float *px, int nl, int na, const float *stride,
                     AutoAnchorOptions *o, uint64_t seed, AutoAnchorResult *res, LogCapture *lc)
{
    Rng rng;
    rng_seed(&rng, seed);
    log_open(lc);
    o->log = lc->f;
    o->progress = 0;
    Error e;
    int rc = check_anchors(s, px, nl, na, stride, o, &rng, res, &e);
    log_close(lc);
    if (rc) printf("    check_anchors: %s\n", e.msg);
    return rc;
}

static void deterministic_for_a_seed(void)
{
    DatasetSplit s;
    CHECK(make_split(&s, 60, 640, 480, 50, poor_sizes, 1) == 0, "split");
    AutoAnchorOptions o = autoanchor_defaults(4.0, 640);
    AutoAnchorResult a, b, c;
    LogCapture la, lb, lc;
    int threads = omp_get_max_threads();
    CHECK(run_check(&s, DEFAULT_PX, 3, 3, STRIDES, &o, 7, &a, &la) == 0, "run a");
    omp_set_num_threads(1);
    CHECK(run_check(&s, DEFAULT_PX, 3, 3, STRIDES, &o, 7, &b, &lb) == 0, "run b");
    omp_set_num_threads(threads > 1 ? threads : 3);
    CHECK(run_check(&s, DEFAULT_PX, 3, 3, STRIDES, &o, 8, &c, &lc) == 0, "run c");
    omp_set_num_threads(threads);
    CHECK(a.recomputed && a.changed, "poor fit recomputed (%d) and replaced (%d)", a.recomputed, a.changed);
    CHECK(a.fit.bpr < 0.98f && a.new_fit.bpr > a.fit.bpr, "bpr %g -> %g", a.fit.bpr, a.new_fit.bpr);
    CHECK(!memcmp(a.anchors_px, b.anchors_px, sizeof a.anchors_px), "same seed, 1 thread vs many: same anchors");
    CHECK(!memcmp(a.anchors_grid, b.anchors_grid, sizeof a.anchors_grid), "same grid anchors");
    CHECK(la.text && lb.text && !strcmp(la.text, lb.text), "same log");
    CHECK(memcmp(a.proposed_px, c.proposed_px, sizeof a.proposed_px) != 0, "another seed, other anchors");
    /* Grid anchors are the pixel anchors over the strides, sorted small to large. */
    for (int l = 0; l < 3; l++)
        for (int j = 0; j < 6; j++)
            CHECK(a.anchors_grid[l * 6 + j] == a.anchors_px[l * 6 + j] / STRIDES[l], "grid %d %d", l, j);
    for (int j = 1; j < 9; j++)
        CHECK(a.anchors_px[2 * j] * a.anchors_px[2 * j + 1] >= a.anchors_px[2 * j - 2] * a.anchors_px[2 * j - 1],
              "sorted by area at %d", j);
    CHECK(has_line(la.text, "AutoAnchor: Done ✅ (optional: update model *.yaml to use these anchors in the future)"),
          "%s", la.text);
    CHECK(has_text(la.text, "Anchors are a poor fit to dataset ⚠️, attempting to improve..."), "%s", la.text);
    CHECK(has_text(la.text, "AutoAnchor: Running kmeans for 9 anchors on "), "%s", la.text);
    log_free(&la);
    log_free(&lb);
    log_free(&lc);
    test_split_free(&s);
}

static void good_anchors_kept(void)
{
    DatasetSplit s;
    CHECK(make_split(&s, 30, 640, 640, 20, good_sizes, 2) == 0, "split");
    AutoAnchorOptions o = autoanchor_defaults(4.0, 640);
    AutoAnchorResult r;
    LogCapture lc;
    CHECK(run_check(&s, DEFAULT_PX, 3, 3, STRIDES, &o, 1, &r, &lc) == 0, "run");
    CHECK(r.fit.bpr > 0.98f && !r.recomputed && !r.changed, "bpr %g recomputed %d changed %d", r.fit.bpr,
          r.recomputed, r.changed);
    CHECK(!memcmp(r.anchors_px, DEFAULT_PX, sizeof DEFAULT_PX), "anchors untouched");
    char want[200];
    snprintf(want, sizeof want,
             "AutoAnchor: %.2f anchors/target, %.3f Best Possible Recall (BPR). Current anchors are a good fit to "
             "dataset ✅",
             r.fit.aat, r.fit.bpr);
    CHECK(has_line(lc.text, want), "log:\n%s", lc.text);
    CHECK(lc.text[0] == '\n', "YOLOv5 starts the line with an empty one");
    log_free(&lc);
    test_split_free(&s);
}

static void placeholders_always_replaced(void)
{
    DatasetSplit s;
    CHECK(make_split(&s, 20, 640, 640, 10, tiny_sizes, 3) == 0, "split");
    float ph[18];
    for (int l = 0; l < 3; l++)
        for (int j = 0; j < 6; j++) ph[l * 6 + j] = (float)j;
    CHECK(anchors_are_placeholder(ph, 3, 3) && !anchors_are_placeholder(DEFAULT_PX, 3, 3), "placeholder test");
    AutoAnchorOptions o = autoanchor_defaults(4.0, 640);
    AutoAnchorResult r;
    LogCapture lc;
    /* As YOLOv5 would see them: a "good fit" (the tiny objects match 4x5). */
    CHECK(run_check(&s, ph, 3, 3, STRIDES, &o, 1, &r, &lc) == 0, "run");
    CHECK(r.fit.bpr > 0.98f && !r.changed, "placeholders fit tiny objects: bpr %g", r.fit.bpr);
    log_free(&lc);
    /* Marked as placeholders: replaced regardless. */
    o.placeholder = 1;
    CHECK(run_check(&s, ph, 3, 3, STRIDES, &o, 1, &r, &lc) == 0, "run");
    CHECK(r.placeholder && r.recomputed && r.changed, "placeholder %d recomputed %d changed %d", r.placeholder,
          r.recomputed, r.changed);
    CHECK(memcmp(r.anchors_px, ph, sizeof ph) != 0, "anchors replaced");
    CHECK(has_text(lc.text, "Anchors are placeholders"), "%s", lc.text);
    log_free(&lc);
    test_split_free(&s);
}

static void kept_unless_better(void)
{
    /* 3 anchors (1 per level), 4 clusters that need one anchor each: the
     * current anchors cover 3 clusters (BPR 0.75 <= 0.98), and no 3 anchors
     * can cover more, so the proposal is at best as good: kept. */
    DatasetSplit s;
    CHECK(make_split(&s, 40, 640, 640, 8, four_clusters, 4) == 0, "split");
    const float px[6] = {4, 4, 4, 400, 400, 400};
    AutoAnchorOptions o = autoanchor_defaults(4.0, 640);
    AutoAnchorResult r;
    LogCapture lc;
    CHECK(run_check(&s, px, 3, 1, STRIDES, &o, 9, &r, &lc) == 0, "run");
    CHECK(r.fit.bpr == 0.75f, "current bpr %g", r.fit.bpr);
    CHECK(r.recomputed && !r.changed, "recomputed %d changed %d", r.recomputed, r.changed);
    CHECK(r.new_fit.bpr <= r.fit.bpr, "new bpr %g", r.new_fit.bpr);
    CHECK(!memcmp(r.anchors_px, px, sizeof px), "anchors kept");
    CHECK(has_line(lc.text, "AutoAnchor: Done ⚠️ (original anchors better than new anchors, proceeding with "
                            "original anchors)"),
          "%s", lc.text);
    printf("    current bpr %.4f, proposal bpr %.4f\n", r.fit.bpr, r.new_fit.bpr);
    log_free(&lc);
    test_split_free(&s);
}

/* 49 of 50 labels matched: bpr = 0.98 in float32, which torch does not find
 * "> 0.98" (0.98 rounds to the same float), so the anchors are recomputed. */
static void threshold_in_float32(void)
{
    int wh[2] = {640, 640}, counts[1] = {50};
    float rows[50 * 5];
    for (int i = 0; i < 50; i++) {
        float *r = rows + i * 5;
        r[0] = 0, r[1] = r[2] = 0.5f;
        r[3] = 16.0f / 640, r[4] = 30.0f / 640; /* exactly anchor (16, 30) */
    }
    rows[3] = 600.0f / 640, rows[4] = 2.5f / 640; /* matches nothing */
    DatasetSplit s;
    CHECK(test_split_make(&s, 1, wh, counts, rows) == 0, "split");
    AutoAnchorOptions o = autoanchor_defaults(4.0, 640);
    o.generations = 20;
    AutoAnchorResult r;
    LogCapture lc;
    CHECK(run_check(&s, DEFAULT_PX, 3, 3, STRIDES, &o, 1, &r, &lc) == 0, "run");
    CHECK(r.fit.bpr == 0.98f && r.recomputed, "bpr %.9g recomputed %d", r.fit.bpr, r.recomputed);
    log_free(&lc);
    test_split_free(&s);
}

static void anchor_order(void)
{
    float a[18];
    memcpy(a, DEFAULT_PX, sizeof a);
    CHECK(anchor_order_check(a, 3, 3, STRIDES) == 0 && !memcmp(a, DEFAULT_PX, sizeof a), "ascending kept");
    /* Levels reversed: areas fall while strides rise. */
    for (int l = 0; l < 3; l++) memcpy(a + l * 6, DEFAULT_PX + (2 - l) * 6, 6 * sizeof *a);
    CHECK(anchor_order_check(a, 3, 3, STRIDES) == 1 && !memcmp(a, DEFAULT_PX, sizeof a), "descending reversed");
    /* Descending strides want descending anchors. */
    const float down[3] = {32, 16, 8};
    memcpy(a, DEFAULT_PX, sizeof a);
    CHECK(anchor_order_check(a, 3, 3, down) == 1, "ascending anchors, descending strides: reversed");
    CHECK(!memcmp(a, DEFAULT_PX + 12, 6 * sizeof *a) && !memcmp(a + 12, DEFAULT_PX, 6 * sizeof *a),
          "levels swapped");
    /* Equal mean areas: left alone (YOLOv5's placeholders). */
    float eq[18];
    for (int l = 0; l < 3; l++)
        for (int j = 0; j < 6; j++) eq[l * 6 + j] = (float)j;
    CHECK(anchor_order_check(eq, 3, 3, STRIDES) == 0, "equal areas kept");
}

static int model_from_text(Model *m, const char *text, Error *e)
{
    ModelConfig cfg;
    if (model_config_parse_string(text, "test.yaml", 0, &cfg, e)) return -1;
    return model_create(m, &cfg, e);
}

/* models/yolov5n.yaml with its anchors block replaced by `anchors: 3`. */
static char *placeholder_yaml(void)
{
    Error e;
    size_t len;
    char *text = NULL;
    FILE *f = fopen("models/yolov5n.yaml", "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    text = malloc(len + 32);
    if (text && fread(text, 1, len, f) == len) {
        text[len] = 0;
        char *start = strstr(text, "\nanchors:");
        char *end = start ? strstr(start, "\n\n") : NULL;
        if (start && end) {
            const char *repl = "\nanchors: 3";
            size_t tail = strlen(end);
            memmove(start + strlen(repl), end, tail + 1);
            memcpy(start, repl, strlen(repl));
        } else {
            free(text);
            text = NULL;
        }
    }
    (void)e;
    fclose(f);
    return text;
}

static void model_entry_points(void)
{
    Model m;
    Error e;
    memset(&m, 0, sizeof m);
    CHECK(model_create_from_yaml(&m, "models/yolov5n.yaml", 0, &e) == 0, "%s", e.msg);
    Rng rng;
    rng_seed(&rng, 0);
    model_init_weights(&m, &rng);
    float px[18];
    model_anchors_px(&m, px);
    CHECK(!memcmp(px, DEFAULT_PX, sizeof px), "buffer x stride = the YAML anchors");
    /* Reversed levels are put back in stride order, divided by the strides. */
    float rev[18];
    for (int l = 0; l < 3; l++) memcpy(rev + l * 6, DEFAULT_PX + (2 - l) * 6, 6 * sizeof *rev);
    LogCapture lc;
    log_open(&lc);
    CHECK(model_set_anchors(&m, rev, lc.f) == 1, "reversed");
    log_close(&lc);
    CHECK(has_line(lc.text, "AutoAnchor: Reversing anchor order"), "%s", lc.text);
    log_free(&lc);
    const float *grid = m.buffers + m.table.detect.anchors;
    CHECK(grid[0] == 1.25f && grid[1] == 1.625f && grid[17] == 326.0f / 32, "grid %g %g %g", grid[0], grid[1],
          grid[17]);

    /* A poor fit rewrites the buffer. */
    DatasetSplit s;
    CHECK(make_split(&s, 30, 640, 640, 20, poor_sizes, 5) == 0, "split");
    AutoAnchorOptions o = autoanchor_defaults(4.0, 640);
    o.progress = 0;
    AutoAnchorResult r;
    CHECK(model_check_anchors(&m, &s, &o, &rng, &r, &e) == 0, "%s", e.msg);
    CHECK(r.changed, "changed");
    CHECK(!memcmp(grid, r.anchors_grid, sizeof r.anchors_grid[0] * 18), "buffer holds the new anchors");
    model_free(&m);

    /* `anchors: 3`: recognised as placeholders and replaced even on a "good fit". */
    char *text = placeholder_yaml();
    CHECK(text != NULL, "yaml text");
    memset(&m, 0, sizeof m);
    if (text && model_from_text(&m, text, &e) == 0) {
        model_init_weights(&m, &rng);
        DatasetSplit tiny;
        CHECK(make_split(&tiny, 20, 640, 640, 10, tiny_sizes, 3) == 0, "split");
        CHECK(model_check_anchors(&m, &tiny, &o, &rng, &r, &e) == 0, "%s", e.msg);
        CHECK(r.placeholder && r.changed, "placeholder %d changed %d", r.placeholder, r.changed);
        model_anchors_px(&m, px);
        CHECK(!anchors_are_placeholder(px, 3, 3), "buffer no longer placeholders");
        test_split_free(&tiny);
        model_free(&m);
    } else {
        CHECK(0, "placeholder model: %s", e.msg);
    }
    free(text);
    test_split_free(&s);
}

static void kmeans_fallbacks(void)
{
    KmeanAnchorsOptions o = kmean_anchors_defaults(9, 640, 4.0);
    o.generations = 50;
    float anchors[18];
    KmeanAnchorsInfo info;
    Error e;
    Rng rng;
    rng_seed(&rng, 3);
    /* Fewer labels than anchors. */
    BoxWH few;
    boxwh_alloc(&few, 5);
    for (int i = 0; i < 5; i++) few.w[i] = 10.0f + 20 * i, few.h[i] = 30.0f + 7 * i;
    LogCapture lc;
    log_open(&lc);
    o.log = lc.f;
    CHECK(kmean_anchors_boxes(&few, &few, 0, &o, &rng, anchors, &info, &e) == 0, "%s", e.msg);
    log_close(&lc);
    CHECK(!info.used_kmeans, "random start");
    CHECK(has_line(lc.text, "AutoAnchor: WARNING ⚠️ switching strategies from kmeans to random init"), "%s",
          lc.text);
    CHECK(has_line(lc.text, "AutoAnchor: Running kmeans for 9 anchors on 5 points..."), "%s", lc.text);
    for (int j = 0; j < 9; j++) CHECK(anchors[2 * j] >= 2.0f && anchors[2 * j + 1] >= 2.0f, "min 2 px at %d", j);
    for (int j = 1; j < 9; j++)
        CHECK(anchors[2 * j] * anchors[2 * j + 1] >= anchors[2 * j - 2] * anchors[2 * j - 1], "sorted at %d", j);
    log_free(&lc);
    o.log = NULL;
    boxwh_free(&few);

    /* No spread: whitening divides by zero, which scipy rejects. */
    BoxWH same;
    boxwh_alloc(&same, 50);
    for (int i = 0; i < 50; i++) same.w[i] = 20, same.h[i] = 30;
    CHECK(kmean_anchors_boxes(&same, &same, 0, &o, &rng, anchors, &info, &e) == 0, "%s", e.msg);
    CHECK(!info.used_kmeans, "zero spread: random start");
    boxwh_free(&same);

    /* Three distinct sizes: k-means loses the duplicated centres. */
    BoxWH three;
    boxwh_alloc(&three, 40);
    for (int i = 0; i < 40; i++) three.w[i] = (float)(10 + 30 * (i % 3)), three.h[i] = (float)(15 + 50 * (i % 3));
    CHECK(kmean_anchors_boxes(&three, &three, 0, &o, &rng, anchors, &info, &e) == 0, "%s", e.msg);
    CHECK(!info.used_kmeans && info.kmeans_centres == 3, "used %d centres %d", info.used_kmeans,
          info.kmeans_centres);
    boxwh_free(&three);

    /* Enough varied labels: k-means is used. */
    BoxWH many;
    boxwh_alloc(&many, 300);
    Rng r2;
    rng_seed(&r2, 11);
    for (int i = 0; i < 300; i++) {
        double w, h;
        poor_sizes(&r2, (size_t)i, &w, &h);
        many.w[i] = (float)w, many.h[i] = (float)h;
    }
    CHECK(kmean_anchors_boxes(&many, &many, 0, &o, &rng, anchors, &info, &e) == 0, "%s", e.msg);
    CHECK(info.used_kmeans && info.kmeans_centres == 9, "used %d centres %d", info.used_kmeans, info.kmeans_centres);
    CHECK(info.fitness > 0, "fitness %g", info.fitness);
    boxwh_free(&many);
}

static void small_labels_filtered(void)
{
    /* A 100 x 50 image at 640: 640 x 320 px, so a label's px size is (640 w, 320 h). */
    int wh[2] = {100, 50}, counts[1] = {4};
    float rows[4 * 5] = {
        0, .5f, .5f, 1.0f / 640, 1.0f / 320,   /* 1 x 1 px: both < 2, dropped */
        0, .5f, .5f, 2.5f / 640, 1.0f / 320,   /* 2.5 x 1: kept, < 3 */
        0, .5f, .5f, 100.0f / 640, 50.0f / 320, /* 100 x 50 */
        0, .5f, .5f, 1.0f / 640, 4.0f / 320,   /* 1 x 4: kept, < 3 */
    };
    DatasetSplit s;
    CHECK(test_split_make(&s, 1, wh, counts, rows) == 0, "split");
    BoxWH all, kept;
    size_t small;
    Error e;
    CHECK(anchor_label_sizes(&s, 640, NULL, 0.0, &all, &small, &e) == 0, "%s", e.msg);
    CHECK(anchor_label_sizes(&s, 640, NULL, 2.0, &kept, NULL, &e) == 0, "%s", e.msg);
    CHECK(all.n == 4 && kept.n == 3 && small == 3, "all %zu kept %zu small %zu", all.n, kept.n, small);
    CHECK_CLOSE(all.w[2], 100.0, 1e-4, 0);
    CHECK_CLOSE(all.h[2], 50.0, 1e-4, 0);
    boxwh_free(&all);
    boxwh_free(&kept);
    KmeanAnchorsOptions o = kmean_anchors_defaults(9, 640, 4.0);
    o.generations = 10;
    KmeanAnchorsInfo info;
    float anchors[18];
    Rng rng;
    rng_seed(&rng, 1);
    LogCapture lc;
    log_open(&lc);
    o.log = lc.f;
    CHECK(kmean_anchors(&s, &o, &rng, anchors, &info, &e) == 0, "%s", e.msg);
    log_close(&lc);
    CHECK(info.n_labels == 4 && info.n_kept == 3 && info.n_small == 3, "info %zu %zu %zu", info.n_labels,
          info.n_kept, info.n_small);
    CHECK(has_line(lc.text, "AutoAnchor: WARNING ⚠️ Extremely small objects found: 3 of 4 labels are <3 pixels in "
                            "size"),
          "%s", lc.text);
    log_free(&lc);
    test_split_free(&s);
}

static void no_labels_and_bad_arguments(void)
{
    int wh[4] = {640, 480, 320, 320}, counts[2] = {0, 0};
    DatasetSplit s;
    CHECK(test_split_make(&s, 2, wh, counts, NULL) == 0, "split");
    AutoAnchorOptions o = autoanchor_defaults(4.0, 640);
    AutoAnchorResult r;
    LogCapture lc;
    CHECK(run_check(&s, DEFAULT_PX, 3, 3, STRIDES, &o, 1, &r, &lc) == 0, "no labels is not an error");
    CHECK(!r.changed && !r.recomputed && isnan(r.fit.bpr), "changed %d bpr %g", r.changed, r.fit.bpr);
    CHECK(has_text(lc.text, "no labels in the training set"), "%s", lc.text);
    log_free(&lc);
    Error e;
    Rng rng;
    rng_seed(&rng, 1);
    o.anchor_t = 1.0;
    CHECK(check_anchors(&s, DEFAULT_PX, 3, 3, STRIDES, &o, &rng, &r, &e) == -1 && strstr(e.msg, "anchor_t"), "%s",
          e.msg);
    o.anchor_t = 4.0;
    CHECK(check_anchors(&s, DEFAULT_PX, 3, MODEL_MAX_ANCHORS + 1, STRIDES, &o, &rng, &r, &e) == -1, "too many anchors");
    const float zero_stride[3] = {8, 0, 32};
    CHECK(check_anchors(&s, DEFAULT_PX, 3, 3, zero_stride, &o, &rng, &r, &e) == -1 && strstr(e.msg, "stride"), "%s",
          e.msg);
    BoxWH none = {0};
    KmeanAnchorsOptions ko = kmean_anchors_defaults(9, 640, 4.0);
    float anchors[18];
    CHECK(kmean_anchors_boxes(&none, &none, 0, &ko, &rng, anchors, NULL, &e) == -1 && strstr(e.msg, "no labels"),
          "%s", e.msg);
    ko.n = 0;
    BoxWH one;
    boxwh_alloc(&one, 1);
    one.w[0] = one.h[0] = 5;
    CHECK(kmean_anchors_boxes(&one, &one, 0, &ko, &rng, anchors, NULL, &e) == -1, "n = 0");
    boxwh_free(&one);
    KmeansOptions km = {5, 3, 1e-5, NULL};
    float pts[8] = {0, 0, 1, 1, 2, 2, 3, 3}, book[10], dist;
    int kept;
    CHECK(kmeans_2d(pts, 4, &km, &rng, book, &kept, &dist, &e) == -1, "k > n");
    km.k = 2;
    CHECK(kmeans_2d(pts, 4, &km, &rng, book, &kept, &dist, &e) == 0 && kept == 2, "%s", e.msg);
    test_split_free(&s);
}

/* The GA on its own: never worse than its start; with a seed, reproducible. */
static void evolve_improves(void)
{
    BoxWH wh;
    boxwh_alloc(&wh, 500);
    Rng r;
    rng_seed(&r, 21);
    for (int i = 0; i < 500; i++) {
        double w, h;
        poor_sizes(&r, (size_t)i, &w, &h);
        wh.w[i] = (float)w, wh.h[i] = (float)h;
    }
    double k1[18], k2[18];
    for (int i = 0; i < 18; i++) k1[i] = k2[i] = DEFAULT_PX[i];
    double start = anchor_fitness(&wh, k1, 9, 4.0);
    EvolveOptions o = evolve_defaults(4.0);
    o.generations = 300;
    Rng a, b;
    rng_seed(&a, 4);
    rng_seed(&b, 4);
    double f1 = anchor_evolve(&wh, k1, 9, &o, &a), f2 = anchor_evolve(&wh, k2, 9, &o, &b);
    CHECK(f1 > start, "fitness %g -> %g", start, f1);
    CHECK(f1 == f2 && !memcmp(k1, k2, sizeof k1), "same seed, same result");
    CHECK(f1 == anchor_fitness(&wh, k1, 9, 4.0), "returned fitness is the anchors' fitness");
    for (int i = 0; i < 18; i++) CHECK(k1[i] >= 2.0, "min 2 px");
    boxwh_free(&wh);
}

/* YOLOv5's metric min(min(rw, 1/rw), min(rh, 1/rh)) with its four divisions. */
static float reference_ratio(float w, float h, float aw, float ah)
{
    float rw = w / aw, rh = h / ah;
    float iw = 1.0f / rw, ih = 1.0f / rh;
    float xw = rw < iw ? rw : iw, xh = rh < ih ? rh : ih;
    return xw < xh ? xw : xh;
}

/* The three-division form is the same function, bit for bit, and every ISA
 * variant of the kernel gives the same bits. */
static void ratio_kernel_exact(void)
{
    enum { N = 4099, NA = 9 };
    static float w[N], h[N], want[N], got[N];
    float anchors[2 * NA];
    Rng r;
    rng_seed(&r, 17);
    for (int i = 0; i < N; i++) {
        w[i] = (float)exp(rng_uniform_range(&r, log(0.5), log(900)));
        h[i] = (float)exp(rng_uniform_range(&r, log(0.5), log(900)));
    }
    /* Equal sides, ratios of exactly 4 and 1/4, and a placeholder anchor (0, 1). */
    w[0] = 16, h[0] = 30;
    w[1] = 64, h[1] = 7.5f;
    w[2] = 0.25f, h[2] = 120;
    for (int j = 0; j < 2 * NA; j++) anchors[j] = (float)exp(rng_uniform_range(&r, log(2), log(600)));
    anchors[0] = 16, anchors[1] = 30;
    anchors[2] = 0, anchors[3] = 1;
    size_t bad = 0;
    for (int i = 0; i < N; i++) {
        float best = 0;
        for (int j = 0; j < NA; j++) {
            float x = reference_ratio(w[i], h[i], anchors[2 * j], anchors[2 * j + 1]);
            float y = anchor_ratio(w[i], h[i], anchors[2 * j], anchors[2 * j + 1]);
            bad += memcmp(&x, &y, sizeof x) != 0;
            best = x > best ? x : best;
        }
        want[i] = best;
    }
    CHECK(bad == 0, "%zu of %d ratios differ from the four-division formula", bad, N * NA);
    CpuFeatures f = cpu_features();
    int have[3] = {1, f.avx2 && f.fma, f.avx512f && f.avx512bw && f.avx512dq && f.avx512vl};
    for (int isa = 0; isa < 3; isa++) {
        if (!have[isa]) continue;
        best_ratio_kernel(isa)(w, h, N, anchors, NA, got);
        CHECK(!memcmp(got, want, sizeof got), "%s kernel differs", isa_name((Isa)isa));
    }
}

TEST_MAIN(TEST_ENTRY(ratio_kernel_exact), TEST_ENTRY(deterministic_for_a_seed), TEST_ENTRY(good_anchors_kept), TEST_ENTRY(placeholders_always_replaced),
          TEST_ENTRY(kept_unless_better), TEST_ENTRY(threshold_in_float32), TEST_ENTRY(anchor_order),
          TEST_ENTRY(model_entry_points), TEST_ENTRY(kmeans_fallbacks), TEST_ENTRY(small_labels_filtered),
          TEST_ENTRY(no_labels_and_bad_arguments), TEST_ENTRY(evolve_improves))
