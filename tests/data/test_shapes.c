/* The built-in shapes dataset: byte-identical output for a seed (whatever
 * the thread count), boxes inside their images, sizes in the promised range,
 * every class drawn, and clean scans of what it writes. */
#include <math.h>
#include <omp.h>

#include "data/dataset.h"
#include "data/shapes.h"
#include "data_test_util.h"
#include "test.h"

static char *g_dir;

static char *tmp_path(const char *name)
{
    if (!g_dir) g_dir = tmpdir_make("shapes");
    return g_dir ? path_in(g_dir, name) : NULL;
}

__attribute__((destructor)) static void remove_scratch(void)
{
    if (g_dir) rm_rf(g_dir);
    free(g_dir);
}

/* Every file under a and b (same relative names) has the same bytes; the
 * generated YAML differs only in its absolute path, so it is skipped. */
static int trees_equal(const char *a, const char *b, size_t *compared)
{
    StrList fa = {0}, fb = {0};
    fs_list_files(a, &fa, NULL);
    fs_list_files(b, &fb, NULL);
    strlist_sort(&fa);
    strlist_sort(&fb);
    int eq = fa.count == fb.count;
    *compared = 0;
    for (size_t i = 0; eq && i < fa.count; i++) {
        const char *ra = fa.items[i] + strlen(a), *rb = fb.items[i] + strlen(b);
        eq = !strcmp(ra, rb);
        if (eq && strcmp(fs_basename(ra), "shapes.yaml")) {
            eq = files_equal(fa.items[i], fb.items[i]);
            (*compared)++;
        }
    }
    strlist_free(&fa);
    strlist_free(&fb);
    return eq;
}

static void deterministic_output(void)
{
    char *a = tmp_path("a"), *b = tmp_path("b"), *c = tmp_path("c");
    ShapesOptions opt = {12, 4, 128, 1234, 1, 90};
    Error e = {{0}};
    int threads = omp_get_max_threads();
    omp_set_num_threads(2);
    CHECK(shapes_generate(a, &opt, NULL, &e) == 0, "%s", e.msg);
    omp_set_num_threads(1);
    CHECK(shapes_generate(b, &opt, NULL, &e) == 0, "%s", e.msg);
    omp_set_num_threads(threads);
    size_t n = 0;
    CHECK(trees_equal(a, b, &n) && n >= 2 + 16 + 12,
          "same seed, other thread count: identical JSON, JPEG and txt bytes (%zu files)", n);
    /* regenerating in place (over existing files) gives the same bytes too */
    CHECK(shapes_generate(a, &opt, NULL, &e) == 0 && trees_equal(a, b, &n), "regenerated in place");
    opt.seed = 1235;
    CHECK(shapes_generate(c, &opt, NULL, &e) == 0, "%s", e.msg);
    char *ja = path_in(a, "annotations/instances_train.json"), *jc = path_in(c, "annotations/instances_train.json");
    CHECK(!files_equal(ja, jc), "another seed, other data");
    /* fewer images than before: the old ones are removed */
    opt.seed = 1234;
    opt.n_train = 5;
    CHECK(shapes_generate(c, &opt, NULL, &e) == 0, "%s", e.msg);
    StrList imgs = {0};
    char *ti = path_in(c, "images/train");
    fs_list_files(ti, &imgs, NULL);
    CHECK(imgs.count == 5, "stale images removed: %zu left", imgs.count);
    strlist_free(&imgs);
    free(ti);
    free(ja);
    free(jc);
    free(a);
    free(b);
    free(c);
}

static void boxes_inside_and_sizes_in_range(void)
{
    int class_seen[SHAPES_NUM_CLASSES] = {0};
    int backgrounds = 0, objects = 0, bad_box = 0, bad_size = 0, bad_dims = 0;
    double smallest = 1e9, largest = 0;
    const int long_side = 160, n = 150;
    for (int i = 0; i < n; i++) {
        ShapesImage im;
        Error e = {{0}};
        if (shapes_render(42, 0, i, long_side, &im, &e)) {
            CHECK(0, "render %d: %s", i, e.msg);
            return;
        }
        int W = im.width, H = im.height;
        if (!((W == long_side || H == long_side) && W >= long_side * 3 / 4 && H >= long_side * 3 / 4)) bad_dims++;
        if (!im.n_objects) backgrounds++;
        for (int k = 0; k < im.n_objects; k++) {
            const ShapeObject *o = &im.objects[k];
            objects++;
            class_seen[o->cls]++;
            if (!(o->x >= 0 && o->y >= 0 && o->x + o->w <= W && o->y + o->h <= H && o->w > 0 && o->h > 0)) bad_box++;
            double extent = fmax(o->w, o->h);
            smallest = fmin(smallest, extent);
            largest = fmax(largest, extent);
            if (extent > fmin(W, H) / 3.0 + 0.02) bad_size++;
            if (o->area <= 0 || o->area > o->w * o->h + 0.02) bad_size++;
        }
        /* the pixels are not blank: some variation across the image */
        int lo = 255, hi = 0;
        for (int p = 0; p < W * H * 3; p += 97) {
            lo = im.rgb[p] < lo ? im.rgb[p] : lo;
            hi = im.rgb[p] > hi ? im.rgb[p] : hi;
        }
        if (hi - lo < 4) bad_dims++;
        shapes_image_free(&im);
    }
    CHECK(bad_box == 0, "%d boxes outside their image", bad_box);
    CHECK(bad_size == 0, "%d objects larger than a third of the image or with a bad area", bad_size);
    CHECK(bad_dims == 0, "%d images with wrong dimensions or flat pixels", bad_dims);
    CHECK(smallest < 8 && largest > long_side / 4.0, "extents from a few pixels (%.1f) to near a third (%.1f)", smallest,
          largest);
    for (int c = 0; c < SHAPES_NUM_CLASSES; c++) CHECK(class_seen[c] > 10, "class %s drawn %d times", SHAPES_CLASS_NAMES[c], class_seen[c]);
    CHECK(objects > 2 * n && objects < 8 * n, "%d objects in %d images", objects, n);
    CHECK(backgrounds < n / 5, "%d backgrounds", backgrounds);

    /* same (seed, split, index): same image; other index or split: another */
    ShapesImage x, y, z;
    Error e = {{0}};
    shapes_render(7, 1, 3, 96, &x, &e);
    shapes_render(7, 1, 3, 96, &y, &e);
    shapes_render(7, 0, 3, 96, &z, &e);
    CHECK(x.width == y.width && x.height == y.height && !memcmp(x.rgb, y.rgb, (size_t)x.width * x.height * 3) &&
              x.n_objects == y.n_objects && !memcmp(x.objects, y.objects, sizeof x.objects),
          "render is a pure function of (seed, split, index)");
    CHECK(z.width != x.width || z.height != x.height || memcmp(x.rgb, z.rgb, (size_t)x.width * x.height * 3),
          "splits are different streams");
    shapes_image_free(&x);
    shapes_image_free(&y);
    shapes_image_free(&z);
}

static void generated_files_scan_cleanly(void)
{
    char *root = tmp_path("scan");
    ShapesOptions opt = {20, 5, 96, 9, 0, 0};
    ShapesSummary sum;
    Error e = {{0}};
    CHECK(shapes_generate(root, &opt, &sum, &e) == 0, "%s", e.msg);
    CHECK(sum.images == 25 && sum.objects > 25, "summary %d images %d objects", sum.images, sum.objects);
    char *y = path_in(root, "shapes.yaml");
    Dataset ds;
    const ScanOptions opts = {0, 1, 0};
    CHECK(dataset_open(y, 3, &opts, &ds, &e) == 0, "%s", e.msg);
    if (!e.msg[0]) {
        CHECK(ds.nc == SHAPES_NUM_CLASSES && !strcmp(ds.names.items[2], "triangle") && ds.category_ids[0] == 1,
              "classes from the JSON");
        CHECK(ds.split[0].n_images == 20 && ds.split[1].n_images == 5, "images");
        CHECK(ds.split[0].warnings.total == 0 && ds.split[1].warnings.total == 0, "no warnings (%zu, %zu)",
              ds.split[0].warnings.total, ds.split[1].warnings.total);
        dump_warnings(&ds.split[0].warnings.kept);
        CHECK((int)(ds.split[0].stats.instances + ds.split[1].stats.instances) == sum.objects, "every object kept");
        CHECK(ds.split[0].images[0].coco_id == 1 && ds.split[1].images[0].coco_id == 21, "image ids run on across splits");
    }
    dataset_close(&ds);
    ShapesOptions bad = {-1, 5, 96, 0, 0, 0};
    CHECK(shapes_generate(root, &bad, NULL, &e) == -1 && strstr(e.msg, "image counts"), "%s", e.msg);
    bad = (ShapesOptions){0, 0, 96, 0, 0, 0};
    CHECK(shapes_generate(root, &bad, NULL, &e) == -1 && strstr(e.msg, "at least one image"), "%s", e.msg);
    bad = (ShapesOptions){1, 1, 16, 0, 0, 0};
    CHECK(shapes_generate(root, &bad, NULL, &e) == -1 && strstr(e.msg, "image size 16"), "%s", e.msg);
    CHECK(shapes_generate("/proc/no_such_place/x", &opt, NULL, &e) == -1 && strstr(e.msg, "/proc/no_such_place"),
          "unwritable target: %s", e.msg);
    free(y);
    free(root);
}

TEST_MAIN(TEST_ENTRY(deterministic_output), TEST_ENTRY(boxes_inside_and_sizes_in_range),
          TEST_ENTRY(generated_files_scan_cleanly))
