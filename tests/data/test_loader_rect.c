/* The loader's validation path: rectangular batch shapes against YOLOv5
 * v7.0 (LoadImagesAndLabels(rect=True).batch_shapes for the same image
 * sizes, computed once with the reference and written down here), letterbox
 * placement, ratio_pad and the collate layout (image CHW /255 and targets). */
#include "data/test_loader_util.h"
#include "data/image.h"
#include "test.h"

/* (w, h); file k is images/train/00k.jpg, so dataset index k is size k. */
static const int SIZES[17][2] = {{640, 480}, {480, 640}, {500, 500}, {1000, 300}, {300, 1000}, {317, 241},
                                 {200, 200}, {640, 427}, {427, 640}, {811, 600},  {333, 777},  {1280, 720},
                                 {720, 1280}, {100, 100}, {641, 640}, {50, 400},   {400, 50}};

/* Reference: YOLOv5 v7.0, img 640, batch 4, stride 32, pad 0.5 (val.py) */
static const int REF_ORDER_640[17] = {16, 3, 11, 7, 9, 0, 5, 14, 6, 2, 13, 1, 8, 12, 10, 4, 15};
static const int REF_SHAPES_640[5][2] = {{448, 672}, {672, 672}, {672, 672}, {672, 448}, {672, 96}};
/* img 320, batch 3, pad 0 (train --rect) */
static const int REF_SHAPES_320[6][2] = {{192, 320}, {256, 320}, {320, 320}, {320, 320}, {320, 224}, {320, 96}};

static void check_rect(const DatasetSplit *s, int img, int bs, float pad, const int (*ref)[2], int nb_ref, int workers)
{
    LoaderOptions o = {.batch_size = bs, .img_size = img, .stride = 32, .rect = 1, .pad = pad, .workers = workers};
    Loader *l;
    Error e = {{0}};
    if (loader_open(&l, s, &o, &e)) {
        CHECK(0, "loader_open: %s", e.msg);
        return;
    }
    CHECK(loader_batches(l) == nb_ref, "%d batches", loader_batches(l));
    for (int b = 0; b < nb_ref; b++) {
        int h = 0, w = 0;
        loader_batch_shape(l, b, &h, &w);
        CHECK(h == ref[b][0] && w == ref[b][1], "img %d batch %d: %dx%d, reference %dx%d (h x w)", img, b, h, w,
              ref[b][0], ref[b][1]);
    }
    CHECK(loader_start_epoch(l, 0, &e) == 0, "%s", e.msg);
    const Batch *b;
    int pos = 0, k = 0;
    while (loader_next(l, &b, &e) == 1) {
        CHECK(b->h == ref[k][0] && b->w == ref[k][1], "batch %d tensor %dx%d", k, b->w, b->h);
        for (int i = 0; i < b->n; i++, pos++) {
            if (img == 640) {
                /* Images 2, 6 and 13 are all square: NumPy's unstable sort puts
                 * them 6, 2, 13; ours is stable (2, 6, 13). */
                int want = REF_ORDER_640[pos], got = b->indices[i];
                if (want == 2 || want == 6 || want == 13) CHECK(got == 2 || got == 6 || got == 13, "pos %d tie", pos);
                else CHECK(got == want, "position %d: image %d, reference %d", pos, got, want);
            }
            /* The letterboxed image fits and the padding is centred. */
            const int idx = b->indices[i];
            int w0 = SIZES[idx][0], h0 = SIZES[idx][1];
            const float *rp = b->ratio_pad[i];
            CHECK(b->orig_hw[i][0] == h0 && b->orig_hw[i][1] == w0, "orig size of %d", idx);
            double r = (double)img / (w0 > h0 ? w0 : h0);
            int lw = w0 >= h0 ? img : (int)(w0 * r), lh = h0 >= w0 ? img : (int)(h0 * r);
            CHECK(rp[0] == (float)((double)lh / h0) && rp[1] == (float)((double)lw / w0), "image %d ratio %g %g",
                  idx, rp[0], rp[1]);
            CHECK(rp[2] == (b->w - lw) / 2.0f && rp[3] == (b->h - lh) / 2.0f,
                  "image %d pad %g %g (load %dx%d in %dx%d)", idx, rp[2], rp[3], lw, lh, b->w, b->h);
        }
        k++;
    }
    CHECK(pos == 17, "%d images", pos);
    loader_close(l);
}

static void rect_batch_shapes_match_yolov5(void)
{
    Dataset ds;
    char *root;
    if (sized_dataset("loader_rect", SIZES, NULL, 17, &ds, &root)) {
        CHECK(0, "dataset");
        return;
    }
    check_rect(&ds.split[SPLIT_TRAIN], 640, 4, 0.5f, REF_SHAPES_640, 5, 2);
    check_rect(&ds.split[SPLIT_TRAIN], 320, 3, 0.0f, REF_SHAPES_320, 6, 0);
    dataset_close(&ds);
    rm_rf(root);
    free(root);
}

/* Collate: image k of the batch is the letterboxed decoded image, CHW RGB
 * divided by 255; targets are (index in batch, class, cx, cy, w, h)
 * normalised to the letterboxed image. */
static void collate_layout(void)
{
    static const int sizes[3][2] = {{64, 48}, {32, 64}, {64, 64}};
    const char *labels[3] = {"2 0.5 0.5 0.25 0.5\n0 0.25 0.25 0.1 0.2\n", NULL, "1 0.5 0.25 0.5 0.5\n"};
    Dataset ds;
    char *root;
    if (sized_dataset("loader_collate", sizes, labels, 3, &ds, &root)) {
        CHECK(0, "dataset");
        return;
    }
    LoaderOptions o = {.batch_size = 3, .img_size = 64, .stride = 32, .workers = 1};
    Loader *l;
    Error e = {{0}};
    const Batch *b = NULL;
    CHECK(loader_open(&l, &ds.split[SPLIT_TRAIN], &o, &e) == 0, "%s", e.msg);
    CHECK(loader_start_epoch(l, 0, &e) == 0 && loader_next(l, &b, &e) == 1, "%s", e.msg);
    if (!b) return;
    CHECK(b->n == 3 && b->h == 64 && b->w == 64 && b->n_targets == 3, "n %d %dx%d targets %d", b->n, b->w, b->h,
          b->n_targets);
    /* image 0: 64x48, padded 8 rows above and below; labels move with it */
    const float want[3][6] = {{0, 2, 0.5f, 0.5f, 0.25f, 0.375f},
                              {0, 0, 0.25f, (0.25f * 48 + 8) / 64, 0.1f, 0.2f * 48 / 64},
                              {2, 1, 0.5f, 0.25f, 0.5f, 0.5f}};
    for (int t = 0; t < 3 && t < b->n_targets; t++)
        CHECK_ARRAYS_CLOSE("target row", b->targets + 6 * t, want[t], 6, 1e-6, 0);
    const float rp0[4] = {1, 1, 0, 8}, rp1[4] = {1, 1, 16, 0}, rp2[4] = {1, 1, 0, 0};
    CHECK_ARRAYS_CLOSE("ratio_pad 0", b->ratio_pad[0], rp0, 4, 0, 0);
    CHECK_ARRAYS_CLOSE("ratio_pad 1", b->ratio_pad[1], rp1, 4, 0, 0);
    CHECK_ARRAYS_CLOSE("ratio_pad 2", b->ratio_pad[2], rp2, 4, 0, 0);
    for (int i = 0; i < 3; i++) CHECK(b->indices[i] == i && b->orig_hw[i][0] == sizes[i][1], "image %d", i);
    /* pixels: decoded image 0 placed at row 8, grey above */
    ImageU8 im = {0};
    CHECK(image_load(ds.split[SPLIT_TRAIN].images[0].path, &im, NULL, &e) == 0, "%s", e.msg);
    int bad = 0;
    const size_t plane = 64 * 64;
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < 64; y++)
            for (int x = 0; x < 64; x++) {
                float got = b->images[c * plane + (size_t)y * 64 + x];
                int v = (y < 8 || y >= 56) ? 114 : im.pixels[((size_t)(y - 8) * 64 + x) * 3 + c];
                bad += got != (float)v / 255.0f;
            }
    CHECK(bad == 0, "%d pixels differ from the letterboxed decode", bad);
    image_free(&im);
    CHECK(loader_next(l, &b, &e) == 0, "one batch only");
    loader_close(l);
    dataset_close(&ds);
    rm_rf(root);
    free(root);
}

TEST_MAIN(TEST_ENTRY(rect_batch_shapes_match_yolov5), TEST_ENTRY(collate_layout))
