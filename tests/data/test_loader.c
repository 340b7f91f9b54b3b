/* The batch loader: determinism over worker counts and epochs, epoch
 * permutations, resuming at an epoch, the RAM cache, a bad image met
 * mid-run, closing mid-epoch, and the targets of augmented batches. */
#include <stdint.h>

#include "data/test_loader_util.h"
#include "data/loader_cache.h"
#include "hyp/hyp.h"
#include "test.h"

enum { N_IMAGES = 23, SIDE = 96, BS = 5, IMG = 96 };

static LoaderOptions train_options(const Hyp *hyp, int workers)
{
    LoaderOptions o = {0};
    o.batch_size = BS;
    o.img_size = IMG;
    o.stride = 32;
    o.augment = 1;
    o.shuffle = 1;
    o.workers = workers;
    o.seed = 1234;
    o.hyp = hyp;
    return o;
}

/* Full augmentation, with mixup and flips up-down switched on so every
 * random branch is taken somewhere. */
static void test_hyp(Hyp *h)
{
    hyp_default(h);
    h->mixup = 0.5;
    h->flipud = 0.3;
    h->degrees = 5;
}

static void same_batches_for_any_worker_count(void)
{
    Dataset ds;
    char *root;
    if (shapes_dataset("loader_det", N_IMAGES, SIDE, &ds, &root)) {
        CHECK(0, "dataset");
        return;
    }
    Hyp hyp;
    test_hyp(&hyp);
    const int nb = (N_IMAGES + BS - 1) / BS;
    uint64_t ref[2 * 8], got[2 * 8];
    LoaderOptions o = train_options(&hyp, 0);
    CHECK(epoch_hashes(&ds.split[SPLIT_TRAIN], &o, 0, 2, ref) == nb, "workers 0");
    CHECK(ref[0] != ref[nb], "epoch 1 differs from epoch 0");
    const int counts[] = {1, 4, 2};
    for (int k = 0; k < 3; k++) {
        o.workers = counts[k];
        memset(got, 0, sizeof got);
        CHECK(epoch_hashes(&ds.split[SPLIT_TRAIN], &o, 0, 2, got) == nb, "workers %d", counts[k]);
        for (int b = 0; b < 2 * nb; b++)
            CHECK(got[b] == ref[b], "workers %d: epoch %d batch %d differs from workers 0", counts[k], b / nb, b % nb);
    }
    dataset_close(&ds);
    rm_rf(root);
    free(root);
}

static int is_permutation(const int *p, int n)
{
    int seen[64] = {0};
    for (int i = 0; i < n; i++) {
        if (p[i] < 0 || p[i] >= n || seen[p[i]]) return 0;
        seen[p[i]] = 1;
    }
    return 1;
}

static void epoch_permutations(void)
{
    enum { N = 40 };
    int p[4][N], q[N];
    for (int ep = 0; ep < 4; ep++) {
        loader_permutation(77, ep, N, p[ep]);
        CHECK(is_permutation(p[ep], N), "epoch %d: a permutation of 0..%d", ep, N - 1);
        loader_permutation(77, ep, N, q);
        CHECK(!memcmp(p[ep], q, sizeof q), "epoch %d: reproducible", ep);
    }
    for (int a = 0; a < 4; a++)
        for (int b = a + 1; b < 4; b++) CHECK(memcmp(p[a], p[b], sizeof q), "epochs %d and %d differ", a, b);
    loader_permutation(78, 0, N, q);
    CHECK(memcmp(p[0], q, sizeof q), "another seed, another order");

    /* The loader hands the images out in exactly that order. */
    Dataset ds;
    char *root;
    if (shapes_dataset("loader_perm", N_IMAGES, 64, &ds, &root)) {
        CHECK(0, "dataset");
        return;
    }
    Hyp hyp;
    test_hyp(&hyp);
    LoaderOptions o = train_options(&hyp, 2);
    o.img_size = 64;
    Loader *l;
    Error e = {{0}};
    CHECK(loader_open(&l, &ds.split[SPLIT_TRAIN], &o, &e) == 0, "%s", e.msg);
    int want[N_IMAGES], pos = 0;
    for (int ep = 2; ep >= 1 && !e.msg[0]; ep--) {
        loader_permutation(o.seed, ep, N_IMAGES, want);
        CHECK(loader_start_epoch(l, ep, &e) == 0, "%s", e.msg);
        const Batch *b;
        pos = 0;
        while (loader_next(l, &b, &e) == 1)
            for (int i = 0; i < b->n; i++, pos++) CHECK(b->indices[i] == want[pos], "epoch %d position %d", ep, pos);
        CHECK(pos == N_IMAGES, "epoch %d: %d images handed out", ep, pos);
    }
    o.shuffle = 0; /* dataset order */
    loader_close(l);
    CHECK(loader_open(&l, &ds.split[SPLIT_TRAIN], &o, &e) == 0, "%s", e.msg);
    CHECK(loader_start_epoch(l, 5, &e) == 0, "%s", e.msg);
    const Batch *b;
    pos = 0;
    while (loader_next(l, &b, &e) == 1)
        for (int i = 0; i < b->n; i++, pos++) CHECK(b->indices[i] == pos, "no shuffle: position %d", pos);
    loader_close(l);
    dataset_close(&ds);
    rm_rf(root);
    free(root);
}

/* Epoch 3 straight away equals epoch 3 after epochs 0..2 (epoch 2 left
 * half-way, which also restarts with samples still in flight). */
static void start_at_epoch_equals_running_to_it(void)
{
    Dataset ds;
    char *root;
    if (shapes_dataset("loader_resume", N_IMAGES, SIDE, &ds, &root)) {
        CHECK(0, "dataset");
        return;
    }
    Hyp hyp;
    test_hyp(&hyp);
    const int nb = (N_IMAGES + BS - 1) / BS;
    uint64_t direct[8];
    LoaderOptions o = train_options(&hyp, 3);
    CHECK(epoch_hashes(&ds.split[SPLIT_TRAIN], &o, 3, 1, direct) == nb, "epoch 3 directly");

    Loader *l;
    Error e = {{0}};
    CHECK(loader_open(&l, &ds.split[SPLIT_TRAIN], &o, &e) == 0, "%s", e.msg);
    const Batch *b;
    for (int ep = 0; ep < 3; ep++) {
        CHECK(loader_start_epoch(l, ep, &e) == 0, "%s", e.msg);
        int got = 0, stop = ep == 2 ? 1 : nb;
        while (got < stop && loader_next(l, &b, &e) == 1) got++;
        CHECK(got == stop, "epoch %d: %d batches", ep, got);
    }
    CHECK(loader_start_epoch(l, 3, &e) == 0, "%s", e.msg);
    int k = 0, rc;
    while ((rc = loader_next(l, &b, &e)) == 1) {
        CHECK(k < nb && batch_hash(b) == direct[k], "epoch 3 batch %d", k);
        CHECK(b->batch_index == k, "batch_index %d", b->batch_index);
        k++;
    }
    CHECK(rc == 0 && k == nb, "epoch 3: %d batches, rc %d (%s)", k, rc, e.msg);
    CHECK(loader_next(l, &b, &e) == 0 && !b, "after the end: 0 again");
    loader_close(l);
    dataset_close(&ds);
    rm_rf(root);
    free(root);
}

/* Mosaic batches: full-size images in [0, 1], targets well formed. */
static void augmented_batch_contents(void)
{
    Dataset ds;
    char *root;
    if (shapes_dataset("loader_aug", N_IMAGES, SIDE, &ds, &root)) {
        CHECK(0, "dataset");
        return;
    }
    Hyp hyp;
    test_hyp(&hyp);
    LoaderOptions o = train_options(&hyp, 2);
    Loader *l;
    Error e = {{0}};
    CHECK(loader_open(&l, &ds.split[SPLIT_TRAIN], &o, &e) == 0, "%s", e.msg);
    CHECK(loader_batches(l) == (N_IMAGES + BS - 1) / BS, "batches %d", loader_batches(l));
    int h, w;
    CHECK(loader_batch_shape(l, 0, &h, &w) == 0 && h == IMG && w == IMG, "square batches");
    CHECK(loader_batch_shape(l, loader_batches(l), &h, &w) == -1, "batch out of range");
    const Batch *b;
    CHECK(loader_next(l, &b, &e) == -1 && strstr(e.msg, "loader_start_epoch"), "next before an epoch: %s", e.msg);
    CHECK(loader_start_epoch(l, 0, &e) == 0, "%s", e.msg);
    int images = 0, targets = 0, bad = 0, grey = 0;
    while (loader_next(l, &b, &e) == 1) {
        CHECK(b->h == IMG && b->w == IMG, "size %dx%d", b->w, b->h);
        images += b->n;
        targets += b->n_targets;
        for (size_t k = 0; k < 3 * (size_t)b->n * IMG * IMG; k++) bad += !(b->images[k] >= 0 && b->images[k] <= 1);
        for (size_t k = 0; k < 3 * (size_t)b->n * IMG * IMG; k++) grey += b->images[k] == 114.0f / 255.0f;
        for (int t = 0; t < b->n_targets; t++) {
            const float *r = b->targets + 6 * t;
            bad += !(r[0] >= 0 && r[0] < b->n && r[0] == (int)r[0]);
            bad += !(r[1] >= 0 && r[1] < 6 && r[1] == (int)r[1]);
            for (int c = 2; c < 6; c++) bad += !(r[c] >= 0 && r[c] <= 1);
            bad += !(r[4] > 0 && r[5] > 0);
            if (t) bad += r[0] < r[-6]; /* grouped by image, in batch order */
        }
        for (int i = 0; i < b->n; i++) {
            const float *rp = b->ratio_pad[i];
            bad += rp[0] != 0 || rp[1] != 0 || rp[2] != 0 || rp[3] != 0; /* mosaic: no shapes */
            const DatasetImage *im = &ds.split[SPLIT_TRAIN].images[b->indices[i]];
            bad += b->orig_hw[i][0] != im->height || b->orig_hw[i][1] != im->width;
        }
    }
    CHECK(images == N_IMAGES, "%d images", images);
    CHECK(targets > N_IMAGES, "%d targets", targets);
    CHECK(grey > 0, "mosaic borders carry the grey 114");
    CHECK(bad == 0, "%d malformed values", bad);
    loader_close(l);
    dataset_close(&ds);
    rm_rf(root);
    free(root);
}

static void ram_cache_gives_identical_batches(void)
{
    Dataset ds;
    char *root;
    if (shapes_dataset("loader_cache", N_IMAGES, SIDE, &ds, &root)) {
        CHECK(0, "dataset");
        return;
    }
    const DatasetSplit *s = &ds.split[SPLIT_TRAIN];
    Hyp hyp;
    test_hyp(&hyp);
    const int nb = (N_IMAGES + BS - 1) / BS;
    uint64_t plain[8], cached[8];
    LoaderOptions o = train_options(&hyp, 2);
    CHECK(epoch_hashes(s, &o, 4, 1, plain) == nb, "without cache");

    char *log_path = fs_join(root, "log.txt");
    FILE *log = fopen(log_path, "w");
    o.cache_ram = 1;
    o.log = log;
    Loader *l;
    Error e = {{0}};
    CHECK(loader_open(&l, s, &o, &e) == 0, "%s", e.msg);
    CHECK(l && loader_cache_active(l), "cache in use");
    loader_close(l);
    CHECK(epoch_hashes(s, &o, 4, 1, cached) == nb, "with cache");
    for (int b = 0; b < nb; b++) CHECK(plain[b] == cached[b], "batch %d", b);
    /* validation mode (area interpolation when shrinking) too */
    o.augment = 0, o.rect = 1, o.pad = 0.5f, o.img_size = 64, o.hyp = NULL;
    CHECK(epoch_hashes(s, &o, 0, 1, cached) == nb, "val with cache");
    o.cache_ram = 0;
    CHECK(epoch_hashes(s, &o, 0, 1, plain) == nb, "val without cache");
    for (int b = 0; b < nb; b++) CHECK(plain[b] == cached[b], "val batch %d", b);
    fclose(log);
    size_t n;
    char *text = (char *)slurp(log_path, &n);
    CHECK(text && strstr(text, "train: Caching images (0.0GB ram)"), "log: %s", text ? text : "(none)");
    free(text);
    free(log_path);

    /* The exact estimate and the memory rule. */
    uint64_t want = 0;
    for (size_t i = 0; i < s->n_images; i++) {
        const DatasetImage *im = &s->images[i];
        int lw = im->width >= im->height ? SIDE : (int)((double)SIDE / im->height * im->width);
        int lh = im->height >= im->width ? SIDE : (int)((double)SIDE / im->width * im->height);
        want += (uint64_t)lw * lh * 3;
    }
    CHECK(image_cache_estimate(s, SIDE) == want, "estimate %llu want %llu",
          (unsigned long long)image_cache_estimate(s, SIDE), (unsigned long long)want);
    CHECK(image_cache_fits(1000, 1101) && !image_cache_fits(1000, 1100), "10 %% margin");
    char *mi = fs_join(root, "meminfo");
    write_text(mi, "MemTotal:       16000000 kB\nMemFree:  100 kB\nMemAvailable:    8000000 kB\n");
    uint64_t avail = 0, total = 0;
    CHECK(mem_available_bytes(mi, &avail, &total, &e) == 0 && avail == 8000000ull * 1024 &&
              total == 16000000ull * 1024, "meminfo parsed");
    write_text(mi, "MemTotal: 5 kB\n");
    CHECK(mem_available_bytes(mi, &avail, &total, &e) == -1 && strstr(e.msg, "MemAvailable"), "%s", e.msg);
    CHECK(mem_available_bytes(NULL, &avail, &total, &e) == 0 && avail > 0, "this machine: %s", e.msg);
    free(mi);
    dataset_close(&ds);
    rm_rf(root);
    free(root);
}

/* An image that breaks after the scan: its batch fails with the file named,
 * the others still come, for 0 and 2 workers; and the RAM cache refuses to
 * open over it. */
static void bad_image_mid_run(void)
{
    static const int sizes[8][2] = {{64, 48}, {48, 64}, {64, 64}, {40, 64}, {64, 40}, {60, 50}, {50, 60}, {64, 32}};
    const char *labels[8] = {"0 0.5 0.5 0.2 0.2\n", NULL, "1 0.3 0.3 0.2 0.1\n", NULL, NULL, NULL, NULL, NULL};
    Dataset ds;
    char *root;
    if (sized_dataset("loader_bad", sizes, labels, 8, &ds, &root)) {
        CHECK(0, "dataset");
        return;
    }
    const DatasetSplit *s = &ds.split[SPLIT_TRAIN];
    write_text(s->images[5].path, "not an image any more");
    for (int workers = 0; workers <= 2; workers += 2) {
        LoaderOptions o = {.batch_size = 2, .img_size = 64, .stride = 32, .workers = workers, .seed = 1};
        Loader *l;
        Error e = {{0}};
        CHECK(loader_open(&l, s, &o, &e) == 0, "%s", e.msg);
        if (!l) continue;
        for (int ep = 0; ep < 2; ep++) {
            CHECK(loader_start_epoch(l, ep, &e) == 0, "%s", e.msg);
            const Batch *b;
            int rcs[5];
            for (int k = 0; k < 5; k++) {
                e.msg[0] = 0;
                rcs[k] = loader_next(l, &b, &e);
                if (k == 2)
                    CHECK(rcs[k] == -1 && !b && strstr(e.msg, "005.jpg") && strstr(e.msg, "batch 2"),
                          "workers %d: batch 2 fails naming the file: %s", workers, e.msg);
                else if (k < 4)
                    CHECK(rcs[k] == 1 && b && b->indices[0] == 2 * k, "workers %d: batch %d rc %d %s", workers, k,
                          rcs[k], e.msg);
                else
                    CHECK(rcs[k] == 0, "workers %d: end of epoch", workers);
            }
        }
        loader_close(l);
    }
    LoaderOptions o = {.batch_size = 2, .img_size = 64, .stride = 32, .workers = 1, .cache_ram = 1};
    Loader *l = NULL;
    Error e = {{0}};
    CHECK(loader_open(&l, s, &o, &e) == -1 && !l && strstr(e.msg, "RAM cache") && strstr(e.msg, "005.jpg"),
          "cache: %s", e.msg);
    /* A file removed altogether. */
    unlink(s->images[5].path);
    o.cache_ram = 0;
    CHECK(loader_open(&l, s, &o, &e) == 0, "%s", e.msg);
    const Batch *b;
    CHECK(loader_start_epoch(l, 0, &e) == 0, "%s", e.msg);
    int rc = 0, k = 0;
    while (k < 3 && (rc = loader_next(l, &b, &e)) == 1) k++;
    CHECK(k == 2 && rc == -1 && strstr(e.msg, "005.jpg"), "missing file: %s", e.msg);
    loader_close(l);
    dataset_close(&ds);
    rm_rf(root);
    free(root);
}

/* Closing with work in flight, before any epoch, and after an epoch start. */
static void close_mid_epoch(void)
{
    Dataset ds;
    char *root;
    if (shapes_dataset("loader_close", N_IMAGES, SIDE, &ds, &root)) {
        CHECK(0, "dataset");
        return;
    }
    Hyp hyp;
    test_hyp(&hyp);
    Error e = {{0}};
    for (int workers = 0; workers <= 4; workers += 2) {
        LoaderOptions o = train_options(&hyp, workers);
        Loader *l;
        CHECK(loader_open(&l, &ds.split[SPLIT_TRAIN], &o, &e) == 0, "%s", e.msg);
        loader_close(l);
        CHECK(loader_open(&l, &ds.split[SPLIT_TRAIN], &o, &e) == 0, "%s", e.msg);
        CHECK(loader_start_epoch(l, 0, &e) == 0, "%s", e.msg);
        loader_close(l);
        CHECK(loader_open(&l, &ds.split[SPLIT_TRAIN], &o, &e) == 0, "%s", e.msg);
        CHECK(loader_start_epoch(l, 1, &e) == 0, "%s", e.msg);
        const Batch *b;
        CHECK(loader_next(l, &b, &e) == 1 && b->n == BS, "one batch: %s", e.msg);
        CHECK(loader_start_epoch(l, 2, &e) == 0, "restart with work in flight: %s", e.msg);
        CHECK(loader_next(l, &b, &e) == 1 && b->n == BS, "one batch: %s", e.msg);
        loader_close(l);
    }
    dataset_close(&ds);
    rm_rf(root);
    free(root);
}

static void invalid_options(void)
{
    static const int sizes[2][2] = {{64, 48}, {48, 64}};
    Dataset ds;
    char *root;
    if (sized_dataset("loader_opts", sizes, NULL, 2, &ds, &root)) {
        CHECK(0, "dataset");
        return;
    }
    const DatasetSplit *s = &ds.split[SPLIT_TRAIN];
    Loader *l = NULL;
    Error e = {{0}};
    LoaderOptions o = {.batch_size = 2, .img_size = 64, .stride = 32};
    o.img_size = 70;
    CHECK(loader_open(&l, s, &o, &e) == -1 && strstr(e.msg, "multiple of the stride"), "%s", e.msg);
    o.img_size = 64, o.batch_size = 0;
    CHECK(loader_open(&l, s, &o, &e) == -1 && strstr(e.msg, "batch_size"), "%s", e.msg);
    o.batch_size = 2, o.augment = 1;
    CHECK(loader_open(&l, s, &o, &e) == -1 && strstr(e.msg, "hyp"), "%s", e.msg);
    o.augment = 0, o.workers = -1;
    CHECK(loader_open(&l, s, &o, &e) == -1 && strstr(e.msg, "workers"), "%s", e.msg);
    o.workers = 0;
    CHECK(loader_open(&l, s, &o, &e) == 0, "%s", e.msg);
    CHECK(loader_start_epoch(l, -1, &e) == -1 && strstr(e.msg, "epoch"), "%s", e.msg);
    loader_close(l);
    loader_close(NULL);
    dataset_close(&ds);
    rm_rf(root);
    free(root);
}

TEST_MAIN(TEST_ENTRY(same_batches_for_any_worker_count), TEST_ENTRY(epoch_permutations),
          TEST_ENTRY(start_at_epoch_equals_running_to_it), TEST_ENTRY(augmented_batch_contents),
          TEST_ENTRY(ram_cache_gives_identical_batches), TEST_ENTRY(bad_image_mid_run), TEST_ENTRY(close_mid_epoch),
          TEST_ENTRY(invalid_options))
