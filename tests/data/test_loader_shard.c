/* Data-parallel shards of the loader (LoaderOptions rank/world): rank r's
 * batch b is exactly the slice of the single-process global batch b that
 * DistributedSampler gives it (positions r, r + world, ... of the order padded
 * by repeating its start), with the same augmented pixels and targets, for
 * shuffled mosaic batches and for rect batches. */
#include "data/loader.h"
#include "hyp/hyp.h"
#include "test.h"
#include "test_loader_util.h"

enum { N = 11, WORLD = 2, RANK_BS = 3, IMG = 64 };

static LoaderOptions options(const Hyp *hyp, int rect, int rank, int world, int workers)
{
    LoaderOptions o = {0};
    o.batch_size = RANK_BS * (world > 1 ? 1 : WORLD);
    o.img_size = IMG;
    o.stride = 32;
    o.augment = !rect;
    o.rect = rect;
    o.pad = rect ? 0.5f : 0.0f;
    o.shuffle = !rect;
    o.workers = workers;
    o.seed = 77;
    o.hyp = rect ? NULL : hyp;
    o.rank = rank;
    o.world = world;
    return o;
}

/* Targets of image slot j of batch b, as (class, cx, cy, w, h) rows. */
static int targets_of(const Batch *b, int j, float *out, int cap)
{
    int n = 0;
    for (int t = 0; t < b->n_targets; t++)
        if ((int)b->targets[6 * t] == j && n < cap) memcpy(out + 5 * n++, b->targets + 6 * t + 1, 5 * sizeof(float));
    return n;
}

static void check_shards(const DatasetSplit *split, const Hyp *hyp, int rect)
{
    Error e = {{0}};
    Loader *global = NULL, *rank[WORLD] = {NULL};
    LoaderOptions go = options(hyp, rect, 0, 1, 0);
    CHECK(loader_open(&global, split, &go, &e) == 0, "%s", e.msg);
    for (int r = 0; r < WORLD; r++) {
        LoaderOptions ro = options(hyp, rect, r, WORLD, r); /* rank 1 with a worker thread */
        CHECK(loader_open(&rank[r], split, &ro, &e) == 0, "rank %d: %s", r, e.msg);
    }
    if (!global || !rank[0] || !rank[1]) goto done;
    const int nb = loader_batches(global);
    CHECK(nb == (N + WORLD * RANK_BS - 1) / (WORLD * RANK_BS), "global batches %d", nb);
    for (int r = 0; r < WORLD; r++) CHECK(loader_batches(rank[r]) == nb, "rank %d: %d batches", r, loader_batches(rank[r]));
    static float g_img[WORLD * RANK_BS][3 * 2 * IMG * 2 * IMG]; /* rect shapes can exceed IMG (pad 0.5) */
    int g_index[WORLD * RANK_BS], g_n = 0, g_h = 0, g_w = 0;
    for (int epoch = 0; epoch < 2; epoch++) {
        int first_index = -1;
        CHECK(loader_start_epoch(global, epoch, &e) == 0, "%s", e.msg);
        for (int r = 0; r < WORLD; r++) CHECK(loader_start_epoch(rank[r], epoch, &e) == 0, "%s", e.msg);
        for (int b = 0; b < nb; b++) {
            const Batch *gb;
            if (loader_next(global, &gb, &e) != 1) {
                CHECK(0, "global batch %d: %s", b, e.msg);
                goto done;
            }
            g_n = gb->n, g_h = gb->h, g_w = gb->w;
            CHECK(g_h <= 2 * IMG && g_w <= 2 * IMG, "global batch %d: %dx%d exceeds the test's buffer", b, g_h, g_w);
            if (g_h > 2 * IMG || g_w > 2 * IMG) goto done;
            if (b == 0) first_index = gb->indices[0];
            const size_t plane = 3 * (size_t)g_h * g_w;
            float g_t[WORLD * RANK_BS][64 * 5];
            int g_nt[WORLD * RANK_BS];
            for (int j = 0; j < g_n; j++) {
                g_index[j] = gb->indices[j];
                memcpy(g_img[j], gb->images + j * plane, plane * sizeof(float));
                g_nt[j] = targets_of(gb, j, g_t[j], 64);
            }
            for (int r = 0; r < WORLD; r++) {
                const Batch *rb;
                if (loader_next(rank[r], &rb, &e) != 1) {
                    CHECK(0, "rank %d batch %d: %s", r, b, e.msg);
                    goto done;
                }
                CHECK(rb->h == g_h && rb->w == g_w, "epoch %d batch %d rank %d: shape %dx%d, global %dx%d", epoch, b, r,
                      rb->h, rb->w, g_h, g_w);
                for (int j = 0; j < rb->n; j++) {
                    const int slot = r + WORLD * j; /* position in the global batch */
                    if (slot >= g_n) {
                        /* padding: the epoch order's first image again */
                        CHECK(b == nb - 1 && rb->indices[j] == first_index, "epoch %d batch %d rank %d slot %d: index %d, "
                              "padding should repeat %d", epoch, b, r, j, rb->indices[j], first_index);
                        continue;
                    }
                    CHECK(rb->indices[j] == g_index[slot], "epoch %d batch %d rank %d slot %d: image %d, global %d",
                          epoch, b, r, j, rb->indices[j], g_index[slot]);
                    if (rb->h != g_h || rb->w != g_w) continue;
                    CHECK(memcmp(rb->images + j * plane, g_img[slot], plane * sizeof(float)) == 0,
                          "epoch %d batch %d rank %d slot %d: pixels differ", epoch, b, r, j);
                    float t[64 * 5];
                    int nt = targets_of(rb, j, t, 64);
                    CHECK(nt == g_nt[slot] && memcmp(t, g_t[slot], (size_t)nt * 5 * sizeof(float)) == 0,
                          "epoch %d batch %d rank %d slot %d: targets differ", epoch, b, r, j);
                }
                const int count = (N + WORLD - 1) / WORLD, left = count - b * RANK_BS;
                CHECK(rb->n == (left < RANK_BS ? left : RANK_BS), "epoch %d batch %d rank %d: %d images", epoch, b, r,
                      rb->n);
            }
        }
        const Batch *end;
        CHECK(loader_next(global, &end, &e) == 0, "global: end of epoch");
        for (int r = 0; r < WORLD; r++) CHECK(loader_next(rank[r], &end, &e) == 0, "rank %d: end of epoch", r);
    }
done:
    if (global) loader_close(global);
    for (int r = 0; r < WORLD; r++)
        if (rank[r]) loader_close(rank[r]);
}

static void shards_are_slices_of_global_batches(void)
{
    Dataset ds;
    char *root;
    if (shapes_dataset("loader_shard", N, 96, &ds, &root)) {
        CHECK(0, "dataset");
        return;
    }
    Hyp hyp;
    hyp_default(&hyp);
    check_shards(&ds.split[SPLIT_TRAIN], &hyp, 0);
    check_shards(&ds.split[SPLIT_TRAIN], &hyp, 1);
    dataset_close(&ds);
    rm_rf(root);
    free(root);
}

static void bad_rank_is_refused(void)
{
    Dataset ds;
    char *root;
    if (shapes_dataset("loader_shard_bad", 4, 64, &ds, &root)) {
        CHECK(0, "dataset");
        return;
    }
    Hyp hyp;
    hyp_default(&hyp);
    LoaderOptions o = options(&hyp, 0, 2, 2, 0);
    Loader *l = NULL;
    Error e = {{0}};
    CHECK(loader_open(&l, &ds.split[SPLIT_TRAIN], &o, &e) == -1 && strstr(e.msg, "rank 2"), "%s", e.msg);
    dataset_close(&ds);
    rm_rf(root);
    free(root);
}

TEST_MAIN(TEST_ENTRY(shards_are_slices_of_global_batches), TEST_ENTRY(bad_rank_is_refused))
