/* Data YAML parsing, split scans with bad data (COCO and YOLO txt), COCO vs
 * YOLO-txt equivalence on the shapes dataset, and the class-name checks. */
#include <unistd.h>

#include "data/dataset.h"
#include "data/shapes.h"
#include "data_test_util.h"
#include "test.h"

static char *g_dir;

static const char *scratch(void)
{
    if (!g_dir) g_dir = tmpdir_make("dataset");
    return g_dir;
}

static char *tmp_path(const char *name) { return scratch() ? path_in(scratch(), name) : NULL; }

__attribute__((destructor)) static void remove_scratch(void)
{
    if (g_dir) rm_rf(g_dir);
    free(g_dir);
}

/* Writes a YAML file (given text) and loads it. */
static int load_yaml(const char *name, const char *text, DatasetConfig *cfg, Error *e)
{
    char *p = tmp_path(name);
    write_text(p, text);
    int rc = dataset_config_load(p, cfg, e);
    free(p);
    return rc;
}

static void yaml_names_and_paths(void)
{
    DatasetConfig cfg;
    Error e = {{0}};
    char text[1024];
    snprintf(text, sizeof text,
             "# comment\npath: %s/root\ntrain: images/train\nval: [images/val, /abs/val2]\ntest:\nnc: 3\n"
             "names: ['a', b, \"c d\"]\ndownload: whatever\n",
             scratch());
    CHECK(load_yaml("list.yaml", text, &cfg, &e) == 0, "%s", e.msg);
    if (!e.msg[0]) {
        char want[600];
        snprintf(want, sizeof want, "%s/root/images/train", scratch());
        CHECK(cfg.split[SPLIT_TRAIN].sources.count == 1 && !strcmp(cfg.split[SPLIT_TRAIN].sources.items[0], want),
              "train %s", cfg.split[SPLIT_TRAIN].sources.items[0]);
        CHECK(cfg.split[SPLIT_VAL].sources.count == 2 && !strcmp(cfg.split[SPLIT_VAL].sources.items[1], "/abs/val2"),
              "val list");
        CHECK(cfg.split[SPLIT_TEST].sources.count == 0, "empty test is absent");
        CHECK(cfg.nc == 3 && cfg.names.count == 3 && !strcmp(cfg.names.items[2], "c d"), "names");
        CHECK(!cfg.split[SPLIT_TRAIN].annotations, "no annotations");
    }
    dataset_config_free(&cfg);

    CHECK(load_yaml("map.yaml", "path: /x\ntrain: t\nval: v\nnames:\n  1: b\n  0: a\n", &cfg, &e) == 0, "%s", e.msg);
    CHECK(cfg.nc == 2 && !strcmp(cfg.names.items[0], "a") && !strcmp(cfg.names.items[1], "b"), "names map");
    dataset_config_free(&cfg);

    /* annotations: relative to path; names may come from the JSON */
    CHECK(load_yaml("coco.yaml",
                    "path: /data/coco\ntrain: images/train2017\nval: images/val2017\n"
                    "train_annotations: annotations/instances_train2017.json\n"
                    "val_annotations: /elsewhere/val.json\n",
                    &cfg, &e) == 0,
          "%s", e.msg);
    CHECK(cfg.split[SPLIT_TRAIN].annotations &&
              !strcmp(cfg.split[SPLIT_TRAIN].annotations, "/data/coco/annotations/instances_train2017.json"),
          "train annotations %s", cfg.split[SPLIT_TRAIN].annotations);
    CHECK(cfg.split[SPLIT_VAL].annotations && !strcmp(cfg.split[SPLIT_VAL].annotations, "/elsewhere/val.json"),
          "absolute annotations");
    CHECK(cfg.nc == 0 && cfg.names.count == 0, "classes unknown until the JSON is read");
    dataset_config_free(&cfg);

    /* relative path: from the current directory; "../" retried without it */
    char *root = tmp_path("rel/root/imgs/x"), *cwd = getcwd(NULL, 0);
    fs_mkdirs(root, NULL);
    char *base = tmp_path("rel");
    if (cwd && base && chdir(base) == 0) {
        CHECK(load_yaml("rel.yaml", "path: root\ntrain: ../imgs\nval: ../missing\nnames: [a]\n", &cfg, &e) == 0, "%s",
              e.msg);
        char want[600];
        snprintf(want, sizeof want, "%s/rel/root/imgs", scratch());
        CHECK(!e.msg[0] && strlen(cfg.root) > 9 && !strcmp(cfg.root + strlen(cfg.root) - 9, "/rel/root"), "root %s",
              cfg.root);
        CHECK(!e.msg[0] && !strcmp(cfg.split[SPLIT_TRAIN].sources.items[0], want), "../ retry: %s (want %s)",
              cfg.split[SPLIT_TRAIN].sources.items[0], want);
        CHECK(!e.msg[0] && strstr(cfg.split[SPLIT_VAL].sources.items[0], "/rel/root/missing"),
              "../ dropped when the path does not exist, as YOLOv5 does: %s", cfg.split[SPLIT_VAL].sources.items[0]);
        dataset_config_free(&cfg);
        CHECK(load_yaml("nopath.yaml", "train: a\nval: b\nnames: [x]\n", &cfg, &e) == 0, "%s", e.msg);
        CHECK(!e.msg[0] && strstr(cfg.root, "/rel") && strstr(cfg.split[SPLIT_TRAIN].sources.items[0], "/rel/a"),
              "no path: current directory (%s)", cfg.root);
        dataset_config_free(&cfg);
        CHECK(chdir(cwd) == 0, "back to %s", cwd);
    } else {
        CHECK(0, "cannot chdir to %s", base);
    }
    free(root);
    free(base);
    free(cwd);
}

static void yaml_errors(void)
{
    struct {
        const char *text, *msg;
    } cases[] = {
        {"val: v\nnames: [a]\n", "'train:' field missing"},
        {"train: t\nnames: [a]\n", "'val:' field missing"},
        {"train: t\nval: v\n", "'names' missing: the train split uses YOLO txt labels"},
        {"train: t\nval: v\nnc: 3\nnames: [a, b]\n", "'nc' is 3 but 'names' has 2 entries"},
        {"train: t\nval: v\nnames: {0: a, 2: c}\n", "names key 2 is out of range"},
        {"train: t\nval: v\nnames: {0: a, x: c}\n", "names key 'x' is not an integer"},
        {"train: t\nval: v\nnames: a\n", "'names' is a scalar; expected a list or a mapping"},
        {"train: {a: 1}\nval: v\nnames: [a]\n", "'train' is a mapping; expected a path"},
        {"train: [a, b]\nval: v\ntrain_annotations: x.json\n", "'train_annotations' needs 'train' to be one image folder"},
        {"train: t\nval: v\ntest_annotations: x.json\n", "'test_annotations' is set but 'test'"},
        {"train: t\nval: v\nnames: [a\n", "YAML error at line"},
        {"- just\n- a list\n", "expected a mapping"},
        {"", "expected a mapping"},
        {"train: t\nval: v\nnc: -1\nnames: [a]\n", "'nc' must be a positive integer"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        DatasetConfig cfg;
        Error e = {{0}};
        CHECK(load_yaml("bad.yaml", cases[i].text, &cfg, &e) == -1 && strstr(e.msg, cases[i].msg) &&
                  strstr(e.msg, "bad.yaml"),
              "case %zu: '%s' (want '%s')", i, e.msg, cases[i].msg);
    }
    DatasetConfig cfg;
    Error e = {{0}};
    char *p = tmp_path("absent.yaml");
    CHECK(dataset_config_load(p, &cfg, &e) == -1 && strstr(e.msg, "absent.yaml"), "%s", e.msg);
    free(p);
}

/* ---- scans with bad data ------------------------------------------------------ */

static const ScanOptions NO_CACHE = {0, 0, 0};

static const DatasetImage *find_image(const DatasetSplit *s, const char *name)
{
    for (size_t i = 0; i < s->n_images; i++)
        if (!strcmp(fs_basename(s->images[i].path), name)) return &s->images[i];
    return NULL;
}

static void coco_scan_reports_bad_data(void)
{
    char *root = tmp_path("cocobad");
    write_jpeg_in(root, "img/a.jpg", 100, 50, 1);
    write_jpeg_in(root, "img/b.jpg", 100, 50, 2);
    write_jpeg_in(root, "img/sizes.jpg", 64, 48, 3);
    write_jpeg_in(root, "img/tiny.jpg", 8, 30, 4);
    write_jpeg_in(root, "img/background.jpg", 40, 40, 5);
    write_text_in(root, "img/zero.jpg", "");
    write_jpeg_in(root, "img/cut.jpg", 64, 48, 6);
    char *cut = path_in(root, "img/cut.jpg");
    size_t n;
    unsigned char *d = slurp(cut, &n);
    write_bytes(cut, d, n / 2);
    free(d);
    free(cut);
    write_text_in(root, "ann.json",
                  "{\"images\": [\n"
                  " {\"id\": 1, \"file_name\": \"a.jpg\", \"width\": 100, \"height\": 50},\n"
                  " {\"id\": 2, \"file_name\": \"b.jpg\", \"width\": 100, \"height\": 50},\n"
                  " {\"id\": 3, \"file_name\": \"sizes.jpg\", \"width\": 80, \"height\": 60},\n"
                  " {\"id\": 4, \"file_name\": \"tiny.jpg\", \"width\": 8, \"height\": 30},\n"
                  " {\"id\": 5, \"file_name\": \"background.jpg\", \"width\": 40, \"height\": 40},\n"
                  " {\"id\": 6, \"file_name\": \"zero.jpg\", \"width\": 40, \"height\": 40},\n"
                  " {\"id\": 7, \"file_name\": \"cut.jpg\", \"width\": 64, \"height\": 48},\n"
                  " {\"id\": 8, \"file_name\": \"gone.jpg\", \"width\": 64, \"height\": 48}],\n"
                  "\"annotations\": [\n"
                  " {\"id\": 1, \"image_id\": 1, \"category_id\": 20, \"bbox\": [10, 10, 20, 10]},\n"
                  " {\"id\": 2, \"image_id\": 1, \"category_id\": 10, \"bbox\": [90, 40, 20, 20]},\n"
                  " {\"id\": 3, \"image_id\": 1, \"category_id\": 10, \"bbox\": [100, 10, 5, 5]},\n"
                  " {\"id\": 4, \"image_id\": 2, \"category_id\": 10, \"bbox\": [0, 0, 100, 50], \"iscrowd\": 1},\n"
                  " {\"id\": 5, \"image_id\": 2, \"category_id\": 20, \"bbox\": [10, 10, 20, 10]},\n"
                  " {\"id\": 10, \"image_id\": 2, \"category_id\": 10, \"bbox\": [50, 20, 10, 10]},\n"
                  " {\"id\": 6, \"image_id\": 2, \"category_id\": 20, \"bbox\": [10, 10, 20, 10]},\n"
                  " {\"id\": 7, \"image_id\": 3, \"category_id\": 10, \"bbox\": [8, 6, 16, 12]},\n"
                  " {\"id\": 8, \"image_id\": 4, \"category_id\": 10, \"bbox\": [1, 1, 2, 2]},\n"
                  " {\"id\": 9, \"image_id\": 8, \"category_id\": 10, \"bbox\": [1, 1, 2, 2]}],\n"
                  "\"categories\": [{\"id\": 20, \"name\": \"twenty\"}, {\"id\": 10, \"name\": \"ten\"}]}\n");
    char yaml[800];
    snprintf(yaml, sizeof yaml, "path: %s\ntrain: img\nval: img\ntrain_annotations: ann.json\nval_annotations: ann.json\n",
             root);
    DatasetConfig cfg;
    DatasetSplit s;
    Error e = {{0}};
    CHECK(load_yaml("cocobad.yaml", yaml, &cfg, &e) == 0, "%s", e.msg);
    CHECK(dataset_scan_split(&cfg, SPLIT_TRAIN, 0, &NO_CACHE, &s, &e) == 0, "%s", e.msg);
    if (e.msg[0]) {
        dataset_config_free(&cfg);
        free(root);
        return;
    }
    const StrList *w = &s.warnings.kept;
    CHECK(s.is_coco && s.stats.candidates == 8, "candidates %zu", s.stats.candidates);
    CHECK(s.stats.images == 4 && s.stats.corrupt == 4 && s.stats.backgrounds == 1, "images %zu corrupt %zu bg %zu",
          s.stats.images, s.stats.corrupt, s.stats.backgrounds);
    CHECK(s.stats.crowd_ignored == 1 && s.stats.boxes_clipped == 1 && s.stats.annotations_dropped == 1 &&
              s.stats.duplicates_removed == 1,
          "crowd %zu clipped %zu dropped %zu dups %zu", s.stats.crowd_ignored, s.stats.boxes_clipped,
          s.stats.annotations_dropped, s.stats.duplicates_removed);
    CHECK(warnings_have(w, "image id 4", "tiny.jpg): image size 8x30 is below 10 pixels on a side: image and its 1 annotations dropped"),
          "tiny image");
    CHECK(warnings_have(w, "image id 6", "empty file (0 bytes)"), "zero-size image");
    CHECK(warnings_have(w, "image id 7", "truncated JPEG"), "truncated image");
    CHECK(warnings_have(w, "image id 8", "missing file: image and its 1 annotations dropped"), "missing image");
    CHECK(warnings_have(w, "annotations[1] (id 2): bbox [90, 40, 20, 20] reaches past the 100x50 image a.jpg: clipped", NULL),
          "clipped box");
    CHECK(warnings_have(w, "annotations[2] (id 3): bbox [100, 10, 5, 5] has no area inside the 100x50 image a.jpg: dropped", NULL),
          "box outside");
    CHECK(warnings_have(w, "image id 3: size 80x60 in the JSON differs from the image file's 64x48", "normalised by the JSON size"),
          "size mismatch");
    CHECK(warnings_have(w, "b.jpg: 1 duplicate labels removed", NULL), "duplicates");
    CHECK(s.category_names.count == 2 && s.category_ids[0] == 10 && !strcmp(s.category_names.items[0], "ten"),
          "categories sorted by id");
    /* images sorted by path; labels converted */
    CHECK(s.n_images == 4 && !strcmp(fs_basename(s.images[0].path), "a.jpg") &&
              !strcmp(fs_basename(s.images[1].path), "b.jpg") && !strcmp(fs_basename(s.images[2].path), "background.jpg"),
          "order");
    const DatasetImage *a = find_image(&s, "a.jpg");
    if (a) {
        CHECK(a->label_count == 2 && a->coco_id == 1 && a->width == 100 && a->height == 50, "a.jpg: %zu labels",
              a->label_count);
        const float want[10] = {1, 0.2f, 0.3f, 0.2f, 0.2f, 0, 0.95f, 0.9f, 0.1f, 0.2f};
        if (a->label_count == 2)
            CHECK_ARRAYS_CLOSE("a.jpg rows (category 20 -> class 1; clipped box)", s.labels.rows + a->label_start * 5,
                               want, 10, 0, 0);
    }
    /* a repeated box goes as JSON2YOLO drops it: the order of the others is kept */
    const DatasetImage *bj = find_image(&s, "b.jpg");
    CHECK(bj && bj->label_count == 2 && s.labels.rows[bj->label_start * 5] == 1 &&
              s.labels.rows[bj->label_start * 5 + 5] == 0,
          "b.jpg: first-occurrence order after removing the repeat");
    const DatasetImage *sz = find_image(&s, "sizes.jpg");
    CHECK(sz && sz->width == 64 && sz->label_count == 1 && s.labels.rows[sz->label_start * 5 + 3] == 0.2f,
          "normalised by the JSON's 80x60");
    const DatasetImage *bg = find_image(&s, "background.jpg");
    CHECK(bg && bg->label_count == 0, "image without annotations is a background");
    if (test_state_.failed_checks) dump_warnings(w);
    dataset_split_free(&s);
    dataset_config_free(&cfg);
    free(root);
}

static void txt_scan_reports_bad_data(void)
{
    char *root = tmp_path("txtbad");
    write_jpeg_in(root, "images/train/a.jpg", 50, 40, 1);
    write_jpeg_in(root, "images/train/b.jpg", 50, 40, 2);
    write_jpeg_in(root, "images/train/c.jpg", 50, 40, 3);
    write_jpeg_in(root, "images/train/d.jpg", 50, 40, 4);
    write_jpeg_in(root, "images/train/sub/e.JPG", 60, 40, 5);
    write_jpeg_in(root, "images/train/.hidden.jpg", 50, 40, 6);
    write_text_in(root, "images/train/notes.md", "not an image");
    write_text_in(root, "images/train/broken.png", "\x89PNG\r\n\x1a\n...");
    write_text_in(root, "labels/train/a.txt", "0 0.5 0.5 0.2 0.2\n1 0.25 0.25 0.1 0.1\n");
    write_text_in(root, "labels/train/b.txt", "0 0.5 0.5 0.2 0.2 0.1\n");
    write_text_in(root, "labels/train/c.txt", "");
    write_text_in(root, "labels/train/sub/e.txt", "2 0.5 0.5 0.2 0.2\n2 0.5 0.5 0.2 0.2\n");
    write_text_in(root, "labels/train/broken.txt", "0 0.5 0.5 0.2 0.2\n");
    char yaml[800];
    snprintf(yaml, sizeof yaml, "path: %s\ntrain: images/train\nval: images/train\nnames: [x, y, z]\n", root);
    DatasetConfig cfg;
    DatasetSplit s;
    Error e = {{0}};
    CHECK(load_yaml("txtbad.yaml", yaml, &cfg, &e) == 0, "%s", e.msg);
    CHECK(dataset_scan_split(&cfg, SPLIT_TRAIN, cfg.nc, &NO_CACHE, &s, &e) == 0, "%s", e.msg);
    if (!e.msg[0]) {
        const StrList *w = &s.warnings.kept;
        CHECK(!s.is_coco && s.stats.candidates == 6, "candidates %zu (hidden files and non-images skipped)",
              s.stats.candidates);
        CHECK(s.stats.images == 4 && s.stats.corrupt == 2 && s.stats.backgrounds == 2, "images %zu corrupt %zu bg %zu",
              s.stats.images, s.stats.corrupt, s.stats.backgrounds);
        CHECK(s.stats.missing_label_files == 1 && s.stats.empty_label_files == 1 && s.stats.duplicates_removed == 1,
              "missing %zu empty %zu dups %zu", s.stats.missing_label_files, s.stats.empty_label_files,
              s.stats.duplicates_removed);
        CHECK(warnings_have(w, "b.jpg: ignoring image with corrupt labels", "b.txt: line 1 has 6 fields"),
              "wrong field count");
        CHECK(warnings_have(w, "broken.png: ignoring corrupt image: corrupt image header", NULL), "corrupt image");
        CHECK(warnings_have(w, "e.JPG: 1 duplicate labels removed", NULL), "duplicates");
        CHECK(s.stats.instances == 3 && s.labels.n == 3, "instances %zu", s.stats.instances);
        const DatasetImage *ei = find_image(&s, "e.JPG");
        CHECK(ei && ei->width == 60 && ei->label_count == 1 && ei->coco_id == -1, "sub-folder image");
        if (test_state_.failed_checks) dump_warnings(w);
    }
    dataset_split_free(&s);
    /* nc below a label's class: that image is corrupt */
    CHECK(dataset_scan_split(&cfg, SPLIT_TRAIN, 2, &NO_CACHE, &s, &e) == 0, "%s", e.msg);
    CHECK(s.stats.corrupt == 3 && warnings_have(&s.warnings.kept, "e.JPG", "class 2 exceeds the dataset's 2 classes"),
          "class range: corrupt %zu", s.stats.corrupt);
    dataset_split_free(&s);
    dataset_config_free(&cfg);

    /* a list file: "./" means its own folder; other lines are taken as they are */
    char *list = path_in(root, "train.txt");
    char text[1200];
    snprintf(text, sizeof text, "./images/train/a.jpg\n%s/images/train/c.jpg\n\n./images/train/a.jpg\n./notes.md\n", root);
    write_text(list, text);
    snprintf(yaml, sizeof yaml, "path: %s\ntrain: train.txt\nval: [images/train/sub]\nnames: [x, y, z]\n", root);
    CHECK(load_yaml("list.yaml", yaml, &cfg, &e) == 0, "%s", e.msg);
    CHECK(dataset_scan_split(&cfg, SPLIT_TRAIN, 3, &NO_CACHE, &s, &e) == 0, "%s", e.msg);
    CHECK(s.n_images == 2 && s.stats.candidates == 2, "list file: %zu images", s.n_images);
    dataset_split_free(&s);
    CHECK(dataset_scan_split(&cfg, SPLIT_VAL, 3, &NO_CACHE, &s, &e) == 0, "%s", e.msg);
    CHECK(s.n_images == 1, "list of folders: %zu images", s.n_images);
    dataset_split_free(&s);
    dataset_config_free(&cfg);
    free(list);
    free(root);
}

static void unusable_splits_are_errors(void)
{
    char *root = tmp_path("unusable");
    write_text_in(root, "empty/readme.txt", "no images here");
    write_text_in(root, "allbad/x.jpg", "garbage");
    write_text_in(root, "allbad/y.png", "");
    write_jpeg_in(root, "ok/a.jpg", 30, 30, 1);
    write_text_in(root, "bad.json", "{\"images\": [}");
    char yaml[1600];
    DatasetConfig cfg;
    DatasetSplit s;
    Error e = {{0}};
    snprintf(yaml, sizeof yaml,
             "path: %s\ntrain: nothing/here\nval: empty\ntest: allbad\nnames: [a]\n", root);
    CHECK(load_yaml("unusable.yaml", yaml, &cfg, &e) == 0, "%s", e.msg);
    CHECK(dataset_scan_split(&cfg, SPLIT_TRAIN, 1, &NO_CACHE, &s, &e) == -1 && strstr(e.msg, "nothing/here does not exist"),
          "missing source: %s", e.msg);
    CHECK(dataset_scan_split(&cfg, SPLIT_VAL, 1, &NO_CACHE, &s, &e) == -1 && strstr(e.msg, "no images found in") &&
              strstr(e.msg, "/empty"),
          "no images: %s", e.msg);
    CHECK(dataset_scan_split(&cfg, SPLIT_TEST, 1, &NO_CACHE, &s, &e) == -1 &&
              strstr(e.msg, "no usable images in") && strstr(e.msg, "2 looked at, 2 corrupt") && strstr(e.msg, "allbad"),
          "all corrupt: %s", e.msg);
    dataset_config_free(&cfg);

    snprintf(yaml, sizeof yaml,
             "path: %s\ntrain: ok\nval: ok\ntest: missing_dir\ntrain_annotations: bad.json\nval_annotations: "
             "none.json\ntest_annotations: bad.json\n",
             root);
    CHECK(load_yaml("unusable2.yaml", yaml, &cfg, &e) == 0, "%s", e.msg);
    CHECK(dataset_scan_split(&cfg, SPLIT_TRAIN, 0, &NO_CACHE, &s, &e) == -1 &&
              strstr(e.msg, "train_annotations") && strstr(e.msg, "bad.json: not valid JSON"),
          "bad JSON: %s", e.msg);
    CHECK(dataset_scan_split(&cfg, SPLIT_VAL, 0, &NO_CACHE, &s, &e) == -1 && strstr(e.msg, "none.json does not exist"),
          "missing JSON: %s", e.msg);
    CHECK(dataset_scan_split(&cfg, SPLIT_TEST, 0, &NO_CACHE, &s, &e) == -1 &&
              strstr(e.msg, "image folder") && strstr(e.msg, "missing_dir does not exist"),
          "missing image folder: %s", e.msg);
    dataset_config_free(&cfg);

    Dataset ds;
    snprintf(yaml, sizeof yaml, "path: %s\ntrain: nothing\nval: ok\nnames: [a]\n", root);
    char *yp = path_in(root, "open.yaml");
    write_text(yp, yaml);
    CHECK(dataset_open(yp, 1u << SPLIT_TRAIN, &NO_CACHE, &ds, &e) == -1 && strstr(e.msg, "nothing does not exist"),
          "dataset_open: %s", e.msg);
    free(yp);
    free(root);
}

/* ---- the same data in both formats ---------------------------------------------- */

static void coco_and_txt_give_identical_samples(void)
{
    char *root = tmp_path("shapes");
    ShapesOptions opt = {24, 8, 96, 11, 1, 90};
    ShapesSummary sum;
    Error e = {{0}};
    CHECK(shapes_generate(root, &opt, &sum, &e) == 0, "%s", e.msg);
    char yaml[1000];
    snprintf(yaml, sizeof yaml, "path: %s\ntrain: images/train\nval: images/val\nnames: [circle, square, triangle, star, cross, ring]\n",
             root);
    char *coco_yaml = path_in(root, "shapes.yaml"), *txt_yaml = path_in(root, "txt.yaml");
    write_text(txt_yaml, yaml);
    Dataset a, b;
    const ScanOptions cached = {1, 0, 0};
    CHECK(dataset_open(coco_yaml, 3, &cached, &a, &e) == 0, "coco: %s", e.msg);
    CHECK(dataset_open(txt_yaml, 3, &cached, &b, &e) == 0, "txt: %s", e.msg);
    if (!e.msg[0]) {
        CHECK(a.nc == 6 && b.nc == 6 && a.category_ids && !b.category_ids && a.category_ids[5] == 6, "classes");
        for (int k = 0; k < 2; k++) {
            const DatasetSplit *x = &a.split[k], *y = &b.split[k];
            CHECK(x->is_coco && !y->is_coco, "formats");
            CHECK(x->n_images == y->n_images && x->labels.n == y->labels.n && x->n_images == (size_t)(k ? 8 : 24),
                  "%s: images %zu/%zu labels %zu/%zu", split_name((SplitKind)k), x->n_images, y->n_images,
                  x->labels.n, y->labels.n);
            CHECK(x->stats.backgrounds == y->stats.backgrounds && x->stats.instances == y->stats.instances, "stats");
            CHECK(x->warnings.total == 0 && y->warnings.total == 0, "clean data, no warnings (%zu, %zu)",
                  x->warnings.total, y->warnings.total);
            for (size_t i = 0; i < x->n_images && i < y->n_images; i++) {
                const DatasetImage *p = &x->images[i], *q = &y->images[i];
                CHECK(!strcmp(p->path, q->path) && p->width == q->width && p->height == q->height &&
                          p->label_count == q->label_count && p->label_start == q->label_start,
                      "image %zu: %s vs %s", i, p->path, q->path);
            }
            if (x->labels.n == y->labels.n)
                CHECK(memcmp(x->labels.rows, y->labels.rows, x->labels.n * LABEL_FIELDS * sizeof(float)) == 0,
                      "%s: label rows are bit-identical", split_name((SplitKind)k));
        }
        size_t instances = a.split[0].stats.instances + a.split[1].stats.instances;
        CHECK(instances == (size_t)sum.objects, "every generated object is a label (%zu vs %d)", instances, sum.objects);
    }
    dataset_close(&a);
    dataset_close(&b);

    /* YAML names must agree with the categories (sorted by id) */
    char bad[1200];
    snprintf(bad, sizeof bad, "path: %s\ntrain: images/train\nval: images/val\ntrain_annotations: annotations/instances_train.json\n"
             "val_annotations: annotations/instances_val.json\nnames: [circle, square, star, triangle, cross, ring]\n", root);
    char *bp = path_in(root, "badnames.yaml");
    write_text(bp, bad);
    CHECK(dataset_open(bp, 3, &cached, &a, &e) == -1 && strstr(e.msg, "names[2] is 'star' but class 2") &&
              strstr(e.msg, "category id 3") && strstr(e.msg, "'triangle'"),
          "names mismatch: %s", e.msg);
    snprintf(bad, sizeof bad, "path: %s\ntrain: images/train\nval: images/val\ntrain_annotations: annotations/instances_train.json\n"
             "val_annotations: annotations/instances_val.json\nnc: 5\n", root);
    write_text(bp, bad);
    CHECK(dataset_open(bp, 3, &cached, &a, &e) == -1 && strstr(e.msg, "'nc' is 5 but") && strstr(e.msg, "6 categories"),
          "nc mismatch: %s", e.msg);
    /* train and val JSONs with different categories */
    char *vj = path_in(root, "annotations/other_val.json");
    write_text(vj, "{\"images\": [{\"id\": 1, \"file_name\": \"000000.jpg\"}], \"annotations\": [], \"categories\": [{\"id\": 1, \"name\": \"circle\"}]}");
    snprintf(bad, sizeof bad, "path: %s\ntrain: images/train\nval: images/val\ntrain_annotations: annotations/instances_train.json\n"
             "val_annotations: annotations/other_val.json\n", root);
    write_text(bp, bad);
    CHECK(dataset_open(bp, 3, &cached, &a, &e) == -1 && strstr(e.msg, "categories of val") && strstr(e.msg, "differ"),
          "category sets differ: %s", e.msg);
    free(vj);
    free(bp);
    free(coco_yaml);
    free(txt_yaml);
    free(root);
}

static void full_decode_scan(void)
{
    char *root = tmp_path("verify");
    ShapesOptions opt = {4, 1, 64, 5, 0, 90};
    Error e = {{0}};
    CHECK(shapes_generate(root, &opt, NULL, &e) == 0, "%s", e.msg);
    char *y = path_in(root, "shapes.yaml");
    Dataset ds;
    const ScanOptions verify = {0, 1, 1};
    CHECK(dataset_open(y, 1, &verify, &ds, &e) == 0 && ds.split[0].n_images == 4 && !ds.scanned[1], "%s", e.msg);
    dataset_close(&ds);
    free(y);
    free(root);
}

/* Expected rows come from running the reference chain on this JSON: the
 * JSON2YOLO converter (2022, generic category_id - 1) then v7.0's
 * verify_image_label on its txt output. x.jpg: the exact repeat is dropped in
 * first-occurrence order; y.jpg: two boxes that only meet after %g rounding
 * are merged by numpy.unique, which sorts. */
static void coco_matches_json2yolo_then_yolov5(void)
{
    char *root = tmp_path("chain");
    write_jpeg_in(root, "images/x.jpg", 100, 50, 1);
    write_jpeg_in(root, "images/y.jpg", 100, 50, 2);
    write_text_in(root, "ann.json",
                  "{\"images\": [{\"id\": 1, \"file_name\": \"x.jpg\", \"width\": 100, \"height\": 50},\n"
                  "  {\"id\": 2, \"file_name\": \"y.jpg\", \"width\": 100, \"height\": 50}],\n"
                  " \"annotations\": [\n"
                  "  {\"id\": 1, \"image_id\": 1, \"category_id\": 2, \"bbox\": [10.123456789, 10.987654321, 20.5555555, 10.1111111], \"iscrowd\": 0},\n"
                  "  {\"id\": 2, \"image_id\": 1, \"category_id\": 1, \"bbox\": [50, 20, 10, 10], \"iscrowd\": 0},\n"
                  "  {\"id\": 3, \"image_id\": 1, \"category_id\": 2, \"bbox\": [10.123456789, 10.987654321, 20.5555555, 10.1111111], \"iscrowd\": 0},\n"
                  "  {\"id\": 4, \"image_id\": 1, \"category_id\": 1, \"bbox\": [33.3333333, 7.77777777, 0.0001, 0.0001], \"iscrowd\": 0},\n"
                  "  {\"id\": 5, \"image_id\": 2, \"category_id\": 2, \"bbox\": [10.123456789, 10.987654321, 20.5555555, 10.1111111], \"iscrowd\": 0},\n"
                  "  {\"id\": 6, \"image_id\": 2, \"category_id\": 1, \"bbox\": [50, 20, 10, 10], \"iscrowd\": 0},\n"
                  "  {\"id\": 7, \"image_id\": 2, \"category_id\": 2, \"bbox\": [10.1234568, 10.987654321, 20.5555555, 10.1111111], \"iscrowd\": 0}],\n"
                  " \"categories\": [{\"id\": 1, \"name\": \"a\"}, {\"id\": 2, \"name\": \"b\"}]}\n");
    char yaml[600];
    snprintf(yaml, sizeof yaml, "path: %s\ntrain: images\nval: images\ntrain_annotations: ann.json\nval_annotations: ann.json\n", root);
    DatasetConfig cfg;
    DatasetSplit s;
    Error e = {{0}};
    CHECK(load_yaml("chain.yaml", yaml, &cfg, &e) == 0, "%s", e.msg);
    CHECK(dataset_scan_split(&cfg, SPLIT_TRAIN, 0, &NO_CACHE, &s, &e) == 0, "%s", e.msg);
    if (!e.msg[0]) {
        const float want[5][5] = {{1, 0.204012007f, 0.320863992f, 0.205556005f, 0.202222005f},
                                  {0, 0.550000012f, 0.5f, 0.100000001f, 0.200000003f},
                                  {0, 0.333333999f, 0.155557007f, 9.99999997e-07f, 1.99999999e-06f},
                                  {0, 0.550000012f, 0.5f, 0.100000001f, 0.200000003f},
                                  {1, 0.204012007f, 0.320863992f, 0.205556005f, 0.202222005f}};
        CHECK(s.n_images == 2 && s.images[0].label_count == 3 && s.images[1].label_count == 2 && s.labels.n == 5,
              "rows per image");
        if (s.labels.n == 5) CHECK_ARRAYS_CLOSE("rows as the reference chain gives them", s.labels.rows, &want[0][0], 25, 0, 0);
        CHECK(s.stats.duplicates_removed == 2, "duplicates %zu", s.stats.duplicates_removed);
    }
    dataset_split_free(&s);
    dataset_config_free(&cfg);
    free(root);
}

TEST_MAIN(TEST_ENTRY(yaml_names_and_paths), TEST_ENTRY(yaml_errors), TEST_ENTRY(coco_scan_reports_bad_data),
          TEST_ENTRY(txt_scan_reports_bad_data), TEST_ENTRY(unusable_splits_are_errors),
          TEST_ENTRY(coco_and_txt_give_identical_samples), TEST_ENTRY(coco_matches_json2yolo_then_yolov5),
          TEST_ENTRY(full_decode_scan))
