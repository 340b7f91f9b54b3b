/* The label cache: a second scan reads it; changed inputs (touched, edited,
 * added or removed files, a new JSON) rebuild it; a corrupt cache is ignored
 * with a warning and rewritten; writes leave no temporary files. */
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>

#include "data/dataset.h"
#include "data/label_cache.h"
#include "data/shapes.h"
#include "data_test_util.h"
#include "test.h"

static char *g_dir;

static char *tmp_path(const char *name)
{
    if (!g_dir) g_dir = tmpdir_make("cache");
    return g_dir ? path_in(g_dir, name) : NULL;
}

__attribute__((destructor)) static void remove_scratch(void)
{
    if (g_dir) rm_rf(g_dir);
    free(g_dir);
}

static const ScanOptions CACHED = {1, 0, 0};

/* Moves a file's mtime 100 s forward (a coarse-clock-proof "touch"). */
static int touch_forward(const char *path)
{
    struct stat st;
    if (stat(path, &st)) return -1;
    struct timespec t[2] = {st.st_atim, st.st_mtim};
    t[1].tv_sec += 100;
    return utimensat(AT_FDCWD, path, t, 0);
}

static int same_split(const DatasetSplit *a, const DatasetSplit *b)
{
    if (a->n_images != b->n_images || a->labels.n != b->labels.n || a->labels.n_points != b->labels.n_points ||
        a->warnings.total != b->warnings.total || a->warnings.kept.count != b->warnings.kept.count ||
        memcmp(&a->stats, &b->stats, sizeof a->stats) || a->is_coco != b->is_coco ||
        a->category_names.count != b->category_names.count)
        return 0;
    for (size_t i = 0; i < a->n_images; i++) {
        const DatasetImage *p = &a->images[i], *q = &b->images[i];
        if (strcmp(p->path, q->path) || p->width != q->width || p->height != q->height ||
            p->orientation != q->orientation || p->coco_id != q->coco_id || p->label_start != q->label_start ||
            p->label_count != q->label_count)
            return 0;
    }
    for (size_t i = 0; i < a->warnings.kept.count; i++)
        if (strcmp(a->warnings.kept.items[i], b->warnings.kept.items[i])) return 0;
    for (size_t i = 0; i < a->category_names.count; i++)
        if (a->category_ids[i] != b->category_ids[i] || strcmp(a->category_names.items[i], b->category_names.items[i]))
            return 0;
    return memcmp(a->labels.rows, b->labels.rows, a->labels.n * LABEL_FIELDS * sizeof(float)) == 0 &&
           (!a->labels.n_points ||
            memcmp(a->labels.poly_xy, b->labels.poly_xy, a->labels.n_points * 2 * sizeof(float)) == 0);
}

/* No "*.tmp.*" files next to the cache. */
static int no_temp_files(const char *dir)
{
    StrList files = {0};
    fs_list_files(dir, &files, NULL);
    int clean = 1;
    for (size_t i = 0; i < files.count; i++)
        if (strstr(fs_basename(files.items[i]), ".tmp.")) clean = 0;
    strlist_free(&files);
    return clean;
}

static void txt_cache_cycle(void)
{
    char *root = tmp_path("txt");
    write_jpeg_in(root, "images/train/a.jpg", 40, 30, 1);
    write_jpeg_in(root, "images/train/b.jpg", 40, 30, 2);
    write_jpeg_in(root, "images/train/c.jpg", 40, 30, 3);
    write_text_in(root, "labels/train/a.txt", "0 0.5 0.5 0.2 0.2\n0 0.5 0.5 0.2 0.2\n");
    write_text_in(root, "labels/train/b.txt", "1 0.1 0.1 0.3 0.1 0.2 0.4\n");
    write_text_in(root, "images/train/bad.png", "nope");
    char yaml[600];
    snprintf(yaml, sizeof yaml, "path: %s\ntrain: images/train\nval: images/train\nnames: [p, q]\n", root);
    char *yp = path_in(root, "d.yaml");
    write_text(yp, yaml);
    DatasetConfig cfg;
    Error e = {{0}};
    CHECK(dataset_config_load(yp, &cfg, &e) == 0, "%s", e.msg);
    char *cache = path_in(root, "labels/train" LABEL_CACHE_SUFFIX);

    DatasetSplit first, second;
    CHECK(dataset_scan_split(&cfg, SPLIT_TRAIN, 2, &CACHED, &first, &e) == 0, "%s", e.msg);
    CHECK(!first.from_cache && !strcmp(first.cache_note, "written") && fs_is_file(cache), "first scan writes %s (%s)",
          cache, first.cache_note);
    CHECK(first.cache_path && !strcmp(first.cache_path, cache), "cache next to the labels folder, as YOLOv5's");
    CHECK(no_temp_files(root), "no temporary files left");
    CHECK(dataset_scan_split(&cfg, SPLIT_TRAIN, 2, &CACHED, &second, &e) == 0, "%s", e.msg);
    CHECK(second.from_cache && !strcmp(second.cache_note, "read"), "second scan reads it (%s)", second.cache_note);
    CHECK(same_split(&first, &second), "cached scan equals the fresh one (labels, polygons, warnings, stats)");
    CHECK(second.warnings.total == 2, "warnings restored from the cache: %zu", second.warnings.total);
    dataset_split_free(&second);

    /* another nc is another configuration */
    CHECK(dataset_scan_split(&cfg, SPLIT_TRAIN, 3, &CACHED, &second, &e) == 0 && !second.from_cache, "nc change");
    dataset_split_free(&second);
    CHECK(dataset_scan_split(&cfg, SPLIT_TRAIN, 2, &CACHED, &second, &e) == 0 && !second.from_cache, "and back");
    dataset_split_free(&second);

    /* touching an image rebuilds */
    char *img = path_in(root, "images/train/c.jpg");
    touch_forward(img);
    CHECK(dataset_scan_split(&cfg, SPLIT_TRAIN, 2, &CACHED, &second, &e) == 0, "%s", e.msg);
    CHECK(!second.from_cache && strstr(second.cache_note, "stale"), "touched image: %s", second.cache_note);
    CHECK(same_split(&first, &second), "same content after the rebuild");
    dataset_split_free(&second);
    CHECK(dataset_scan_split(&cfg, SPLIT_TRAIN, 2, &CACHED, &second, &e) == 0 && second.from_cache, "then cached again");
    dataset_split_free(&second);

    /* a new label file (c had none) rebuilds and is read */
    write_text_in(root, "labels/train/c.txt", "1 0.5 0.5 0.5 0.5\n");
    CHECK(dataset_scan_split(&cfg, SPLIT_TRAIN, 2, &CACHED, &second, &e) == 0, "%s", e.msg);
    CHECK(!second.from_cache && second.stats.instances == first.stats.instances + 1, "new label file: %zu instances",
          second.stats.instances);
    dataset_split_free(&second);
    /* a new image rebuilds */
    write_jpeg_in(root, "images/train/d.jpg", 40, 30, 4);
    CHECK(dataset_scan_split(&cfg, SPLIT_TRAIN, 2, &CACHED, &second, &e) == 0, "%s", e.msg);
    CHECK(!second.from_cache && second.n_images == first.n_images + 1, "new image: %zu images", second.n_images);
    dataset_split_free(&second);

    /* corrupt caches: ignored with a warning, rebuilt, then read */
    size_t n;
    unsigned char *good = slurp(cache, &n);
    struct {
        const char *what, *why;
        size_t len;
        int flip;
    } bad[] = {{"garbage", "bad header", 0, 0}, {"truncated", "truncated", n - 7, 0},
               {"flipped byte", "checksum mismatch", n, 1}, {"empty", "bad header", 1, 0}};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0] && good; k++) {
        if (!strcmp(bad[k].what, "garbage")) write_text(cache, "this is not a cache file, not even close to one");
        else {
            unsigned char *copy = malloc(n);
            memcpy(copy, good, n);
            if (bad[k].flip) copy[n - 3] ^= 0x40;
            write_bytes(cache, copy, bad[k].len == 1 ? 0 : bad[k].len);
            free(copy);
        }
        CHECK(dataset_scan_split(&cfg, SPLIT_TRAIN, 2, &CACHED, &second, &e) == 0, "%s", e.msg);
        CHECK(!second.from_cache && warnings_have(&second.warnings.kept, "cache file is corrupt", bad[k].why) &&
                  warnings_have(&second.warnings.kept, cache, "rebuilding"),
              "%s cache: note '%s'", bad[k].what, second.cache_note);
        CHECK(second.n_images == first.n_images + 1, "%s cache: scan still complete", bad[k].what);
        dataset_split_free(&second);
        CHECK(dataset_scan_split(&cfg, SPLIT_TRAIN, 2, &CACHED, &second, &e) == 0 && second.from_cache,
              "%s cache: rewritten, then read", bad[k].what);
        CHECK(!warnings_have(&second.warnings.kept, "cache file is corrupt", NULL), "the old complaint is gone");
        dataset_split_free(&second);
    }
    free(good);

    /* caching off: neither read nor written */
    unlink(cache);
    const ScanOptions off = {0, 0, 0};
    CHECK(dataset_scan_split(&cfg, SPLIT_TRAIN, 2, &off, &second, &e) == 0 && !second.cache_path && !fs_is_file(cache),
          "no cache with caching off");
    dataset_split_free(&second);

    dataset_split_free(&first);
    dataset_config_free(&cfg);
    free(img);
    free(cache);
    free(yp);
    free(root);
}

static void coco_cache_cycle(void)
{
    char *root = tmp_path("coco");
    ShapesOptions opt = {10, 3, 64, 3, 0, 90};
    Error e = {{0}};
    CHECK(shapes_generate(root, &opt, NULL, &e) == 0, "%s", e.msg);
    char *yp = path_in(root, "shapes.yaml"), *json = path_in(root, "annotations/instances_train.json");
    char *cache = path_in(root, "annotations/instances_train" LABEL_CACHE_SUFFIX);
    DatasetConfig cfg;
    CHECK(dataset_config_load(yp, &cfg, &e) == 0, "%s", e.msg);
    DatasetSplit first, second;
    CHECK(dataset_scan_split(&cfg, SPLIT_TRAIN, 0, &CACHED, &first, &e) == 0, "%s", e.msg);
    CHECK(!first.from_cache && fs_is_file(cache), "written next to the JSON: %s", cache);
    CHECK(dataset_scan_split(&cfg, SPLIT_TRAIN, 0, &CACHED, &second, &e) == 0, "%s", e.msg);
    CHECK(second.from_cache && same_split(&first, &second), "read back identical, categories included");
    CHECK(second.category_names.count == 6 && !strcmp(second.category_names.items[3], "star"), "category names");
    dataset_split_free(&second);

    touch_forward(json);
    CHECK(dataset_scan_split(&cfg, SPLIT_TRAIN, 0, &CACHED, &second, &e) == 0 && !second.from_cache &&
              same_split(&first, &second),
          "touched JSON: rebuilt (%s)", second.cache_note);
    dataset_split_free(&second);

    char *img = path_in(root, "images/train/000004.jpg");
    unlink(img);
    CHECK(dataset_scan_split(&cfg, SPLIT_TRAIN, 0, &CACHED, &second, &e) == 0, "%s", e.msg);
    CHECK(!second.from_cache && second.stats.corrupt == 1 && second.n_images == first.n_images - 1 &&
              warnings_have(&second.warnings.kept, "000004.jpg", "missing file"),
          "removed image: rebuilt, reported");
    dataset_split_free(&second);
    CHECK(dataset_scan_split(&cfg, SPLIT_TRAIN, 0, &CACHED, &second, &e) == 0 && second.from_cache &&
              warnings_have(&second.warnings.kept, "000004.jpg", "missing file"),
          "the warning survives in the cache");
    dataset_split_free(&second);
    /* the image comes back: its absence was part of the fingerprint */
    write_jpeg(img, 64, 48, 9);
    CHECK(dataset_scan_split(&cfg, SPLIT_TRAIN, 0, &CACHED, &second, &e) == 0 && !second.from_cache &&
              second.stats.corrupt == 0,
          "restored image: rebuilt");
    dataset_split_free(&second);

    dataset_split_free(&first);
    dataset_config_free(&cfg);
    free(img);
    free(cache);
    free(json);
    free(yp);
    free(root);
}

static void read_missing_and_fingerprint(void)
{
    DatasetSplit s;
    char *key;
    StrList inputs;
    uint64_t fp;
    Error e = {{0}};
    char *p = tmp_path("no/such.yv5cache");
    CHECK(label_cache_read(p, &s, &key, &inputs, &fp, &e) == CACHE_READ_MISSING, "missing cache");
    free(p);
    StrList files = {0};
    char *f = tmp_path("fp.txt");
    write_text(f, "abc");
    strlist_push(&files, f);
    uint64_t a = label_cache_fingerprint("k", &files), b = label_cache_fingerprint("k2", &files);
    CHECK(a != b, "key is part of the fingerprint");
    write_text(f, "abcd");
    CHECK(label_cache_fingerprint("k", &files) != a, "size is part of the fingerprint");
    unlink(f);
    CHECK(label_cache_fingerprint("k", &files) != a, "existence is part of the fingerprint");
    strlist_free(&files);
    free(f);
}

TEST_MAIN(TEST_ENTRY(txt_cache_cycle), TEST_ENTRY(coco_cache_cycle), TEST_ENTRY(read_missing_and_fingerprint))
