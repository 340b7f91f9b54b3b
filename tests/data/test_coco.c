/* COCO instances JSON: category mapping, the JSON2YOLO box conversion with
 * its %g rounding, and every malformed-record case with its warning. */
#include <stdlib.h>

#include "data/coco_json.h"
#include "data_test_util.h"
#include "test.h"

static char *g_dir;

static char *tmp_path(const char *name)
{
    if (!g_dir) g_dir = tmpdir_make("coco");
    return g_dir ? path_in(g_dir, name) : NULL;
}

__attribute__((destructor)) static void remove_scratch(void)
{
    if (g_dir) rm_rf(g_dir);
    free(g_dir);
}

static int load_text(const char *json, CocoData *d, Warnings *w, Error *e)
{
    char *p = tmp_path("instances.json");
    write_text(p, json);
    int rc = coco_load(p, d, w, e);
    free(p);
    return rc;
}

static float g6(const char *s) { return (float)strtod(s, NULL); }

/* Expected strings are the converter's: numpy float64 arithmetic
 * (corner + size/2, then / W) printed with '%g'. */
static void box_conversion_matches_converter(void)
{
    struct {
        double x, y, w, h;
        int W, H;
        const char *want[4];
    } cases[] = {
        {10.5, 20.25, 30, 40.75, 640, 480, {"0.0398437", "0.0846354", "0.046875", "0.0848958"}},
        {0.01, 0.02, 639.98, 479.97, 640, 480, {"0.5", "0.50001", "0.999969", "0.999938"}},
        {123.456, 78.9, 1.234, 5.678, 333, 271, {"0.372592", "0.30162", "0.00370571", "0.020952"}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        float out[4];
        CocoBoxResult r = coco_box_to_yolo(cases[i].x, cases[i].y, cases[i].w, cases[i].h, cases[i].W, cases[i].H, out);
        CHECK(r == COCO_BOX_OK, "case %zu result %d", i, r);
        float want[4];
        for (int k = 0; k < 4; k++) want[k] = g6(cases[i].want[k]);
        CHECK_ARRAYS_CLOSE("converted box", out, want, 4, 0, 0);
    }
    float out[4];
    CHECK(coco_box_to_yolo(-5, 10, 20, 10, 100, 50, out) == COCO_BOX_CLIPPED, "left overhang is clipped");
    const float clipped[4] = {0.075f, 0.3f, 0.15f, 0.2f};
    CHECK_ARRAYS_CLOSE("clipped box", out, clipped, 4, 0, 0);
    CHECK(coco_box_to_yolo(90, 40, 20, 20, 100, 50, out) == COCO_BOX_CLIPPED, "right/bottom overhang is clipped");
    CHECK(out[0] == 0.95f && out[2] == 0.1f && out[1] == 0.9f && out[3] == 0.2f, "%g %g %g %g", out[0], out[1], out[2], out[3]);
    CHECK(coco_box_to_yolo(100, 10, 5, 5, 100, 50, out) == COCO_BOX_DROPPED, "box right of the image");
    CHECK(coco_box_to_yolo(-10, 10, 10, 5, 100, 50, out) == COCO_BOX_DROPPED, "box ending at the left edge");
    CHECK(coco_box_to_yolo(10, 10, 0, 5, 100, 50, out) == COCO_BOX_DROPPED, "zero width");
    CHECK(coco_box_to_yolo(10, 10, 5, -1, 100, 50, out) == COCO_BOX_DROPPED, "negative height");
}

static void categories_sorted_by_id(void)
{
    const char *json =
        "{\"images\": [{\"id\": 3, \"file_name\": \"a.jpg\", \"width\": 100, \"height\": 50}],\n"
        " \"annotations\": [{\"id\": 1, \"image_id\": 3, \"category_id\": 7, \"bbox\": [10, 10, 20, 10], \"iscrowd\": 0},\n"
        "                   {\"id\": 2, \"image_id\": 3, \"category_id\": 2, \"bbox\": [1, 2, 3, 4]}],\n"
        " \"categories\": [{\"id\": 7, \"name\": \"c\"}, {\"id\": 2, \"name\": \"a\"}, {\"id\": 5, \"name\": \"b\"}]}\n";
    CocoData d;
    Warnings w = {0};
    Error e = {{0}};
    CHECK(load_text(json, &d, &w, &e) == 0, "%s", e.msg);
    if (e.msg[0]) return;
    CHECK(d.n_categories == 3 && d.categories[0].id == 2 && d.categories[1].id == 5 && d.categories[2].id == 7,
          "sorted ids");
    CHECK(!strcmp(d.categories[0].name, "a") && !strcmp(d.categories[2].name, "c"), "names follow their ids");
    CHECK(d.n_images == 1 && d.images[0].box_count == 2 && d.n_boxes == 2, "boxes %zu", d.n_boxes);
    CHECK(d.boxes[0].cls == 2 && d.boxes[1].cls == 0, "category 7 -> class 2, 2 -> class 0 (got %d %d)",
          d.boxes[0].cls, d.boxes[1].cls);
    CHECK(d.boxes[0].x == 10 && d.boxes[0].w == 20 && d.boxes[1].h == 4, "pixel boxes kept");
    int64_t *ids = coco_category_ids(&d);
    CHECK(ids && ids[0] == 2 && ids[1] == 5 && ids[2] == 7, "category id table");
    free(ids);
    CHECK(w.total == 0, "no warnings, got %zu", w.total);
    dump_warnings(&w.kept);
    coco_free(&d);
    warn_free(&w);
}

static void file_level_errors(void)
{
    struct {
        const char *json, *msg;
    } cases[] = {
        {"{\"images\": [1, 2,\n  }", "not valid JSON (error near line 2"},
        {"", "not valid JSON"},
        {"[1, 2, 3]", "top level is an array, not an object"},
        {"{\"categories\": []}", "'images' is missing, not an array"},
        {"{\"images\": {}, \"categories\": []}", "'images' is an object, not an array"},
        {"{\"images\": []}", "'categories' is missing, not an array"},
        {"{\"images\": [], \"categories\": [], \"annotations\": 5}", "'annotations' is a number, not an array"},
        {"{\"images\": [], \"categories\": [{\"id\": \"x\", \"name\": \"a\"}]}", "no usable category"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        CocoData d;
        Warnings w = {0};
        Error e = {{0}};
        CHECK(load_text(cases[i].json, &d, &w, &e) == -1 && strstr(e.msg, cases[i].msg) &&
                  strstr(e.msg, "instances.json"),
              "case %zu: '%s' (want '%s')", i, e.msg, cases[i].msg);
        warn_free(&w);
    }
    char *p = tmp_path("absent.json");
    CocoData d;
    Error e = {{0}};
    CHECK(coco_load(p, &d, NULL, &e) == -1 && strstr(e.msg, "absent.json"), "%s", e.msg);
    free(p);
}

static void bad_records_are_reported_and_skipped(void)
{
    const char *json =
        "{\"images\": [\n"
        "  {\"id\": 1, \"file_name\": \"a.jpg\", \"width\": 100, \"height\": 50},\n"
        "  {\"id\": 2, \"file_name\": \"b.jpg\", \"width\": 100, \"height\": 50},\n"
        "  {\"id\": 1, \"file_name\": \"dup_id.jpg\", \"width\": 100, \"height\": 50},\n"
        "  {\"id\": 4, \"file_name\": \"a.jpg\", \"width\": 100, \"height\": 50},\n"
        "  {\"id\": \"5\", \"file_name\": \"c.jpg\"},\n"
        "  {\"id\": 6, \"file_name\": 17},\n"
        "  {\"id\": 7, \"file_name\": \"d.jpg\", \"width\": -3},\n"
        "  42\n"
        " ],\n"
        " \"annotations\": [\n"
        "  {\"id\": 10, \"image_id\": 1, \"category_id\": 1, \"bbox\": [1, 2, 3, 4]},\n"
        "  {\"id\": 10, \"image_id\": 1, \"category_id\": 1, \"bbox\": [5, 6, 7, 8]},\n"
        "  {\"id\": 11, \"image_id\": 99, \"category_id\": 1, \"bbox\": [1, 2, 3, 4]},\n"
        "  {\"id\": 12, \"image_id\": 1, \"category_id\": 42, \"bbox\": [1, 2, 3, 4]},\n"
        "  {\"id\": 13, \"image_id\": 1, \"category_id\": 1, \"bbox\": [1, 2, 3]},\n"
        "  {\"id\": 14, \"image_id\": 1, \"category_id\": 1, \"bbox\": [1, 2, \"3\", 4]},\n"
        "  {\"id\": 15, \"image_id\": 1, \"category_id\": 1, \"bbox\": [1, 2, 0, 4]},\n"
        "  {\"id\": 16, \"image_id\": 2, \"category_id\": 1, \"bbox\": [1, 2, 3, 4], \"iscrowd\": 1},\n"
        "  {\"id\": 17, \"image_id\": 2, \"category_id\": 1, \"bbox\": [1, 2, 3, 4], \"iscrowd\": \"no\"},\n"
        "  {\"id\": 18, \"image_id\": \"2\", \"category_id\": 1, \"bbox\": [1, 2, 3, 4]},\n"
        "  {\"id\": 19, \"image_id\": 4, \"category_id\": 1, \"bbox\": [1, 2, 3, 4]},\n"
        "  {\"id\": 20, \"image_id\": 2, \"category_id\": 1.5, \"bbox\": [1, 2, 3, 4]},\n"
        "  [1],\n"
        "  {\"id\": 21, \"image_id\": 2, \"category_id\": 3, \"bbox\": [10, 20, 30, 40], \"iscrowd\": false}\n"
        " ],\n"
        " \"categories\": [{\"id\": 1, \"name\": \"one\"}, {\"id\": 3, \"name\": \"three\"}, {\"id\": 1, \"name\": \"again\"},\n"
        "                {\"id\": 9}, \"x\"]}\n";
    CocoData d;
    Warnings w = {0};
    Error e = {{0}};
    CHECK(load_text(json, &d, &w, &e) == 0, "%s", e.msg);
    if (e.msg[0]) return;
    const StrList *k = &w.kept;
    /* images */
    CHECK(warnings_have(k, "duplicate image id 1", "ignored"), "duplicate image id");
    CHECK(warnings_have(k, "duplicate file_name 'a.jpg'", "ignored"), "duplicate file name");
    CHECK(warnings_have(k, "images[4]: 'id' is a string, not an integer: image ignored", NULL), "string id");
    CHECK(warnings_have(k, "images[5] (id 6): 'file_name' is a number", "ignored"), "numeric file_name");
    CHECK(warnings_have(k, "images[6] (id 7): 'width' -3 is not a positive size: the image file's size is used", NULL),
          "negative width");
    CHECK(warnings_have(k, "images[6] (id 7): 'height' is missing", NULL), "missing height");
    CHECK(warnings_have(k, "images[7] is a number, not an object: ignored", NULL), "non-object image");
    CHECK(d.n_images == 3 && d.n_bad_images == 5, "images %zu bad %zu", d.n_images, d.n_bad_images);
    /* categories */
    CHECK(warnings_have(k, "categories[2]: duplicate category id 1", NULL), "duplicate category");
    CHECK(warnings_have(k, "categories[3] (id 9): 'name' is missing", NULL), "nameless category");
    CHECK(warnings_have(k, "categories[4] is a string, not an object", NULL), "non-object category");
    CHECK(d.n_categories == 2, "categories %zu", d.n_categories);
    /* annotations */
    CHECK(warnings_have(k, "annotations[1] (id 10): duplicate annotation id: dropped", NULL), "duplicate ann id");
    CHECK(warnings_have(k, "annotations[2] (id 11): image_id 99 is not among the usable image records: dropped", NULL),
          "unknown image");
    CHECK(warnings_have(k, "annotations[3] (id 12): category_id 42 is not in 'categories': dropped", NULL),
          "unknown category");
    CHECK(warnings_have(k, "annotations[4] (id 13): 'bbox' is not an array of 4 finite numbers", "dropped"),
          "3-element bbox");
    CHECK(warnings_have(k, "annotations[5] (id 14): 'bbox' is not an array", NULL), "string in bbox");
    CHECK(warnings_have(k, "annotations[6] (id 15): bbox [1, 2, 0, 4] has a non-positive size: dropped", NULL),
          "zero-width bbox");
    CHECK(warnings_have(k, "annotations[8] (id 17): 'iscrowd' is a string, not 0 or 1: dropped", NULL),
          "string iscrowd");
    CHECK(warnings_have(k, "annotations[9] (id 18): 'image_id' is a string, not an integer: dropped", NULL),
          "string image_id");
    CHECK(warnings_have(k, "annotations[10] (id 19): image_id 4 is not among the usable image records", NULL),
          "annotation of an ignored image record");
    CHECK(warnings_have(k, "annotations[11] (id 20): 'category_id' 1.5 is not an integer: dropped", NULL),
          "fractional category");
    CHECK(warnings_have(k, "annotations[12] is an array, not an object: dropped", NULL), "non-object annotation");
    CHECK(d.n_crowd == 1, "crowd %zu", d.n_crowd);
    CHECK(d.n_dropped == 11, "dropped %zu", d.n_dropped);
    /* survivors: image 1 has annotation 10, image 2 has annotation 21 (class 1) */
    CHECK(d.n_boxes == 2, "boxes %zu", d.n_boxes);
    for (size_t i = 0; i < d.n_images; i++) {
        const CocoImage *im = &d.images[i];
        if (im->id == 1) CHECK(im->box_count == 1 && d.boxes[im->box_start].ann_id == 10, "image 1 boxes");
        if (im->id == 2)
            CHECK(im->box_count == 1 && d.boxes[im->box_start].cls == 1 && d.boxes[im->box_start].ann_index == 13,
                  "image 2 boxes");
        if (im->id == 7) CHECK(im->width == 0 && im->height == 0, "invalid sizes become 0 (file size used later)");
    }
    if (w.total != w.kept.count || test_state_.failed_checks) dump_warnings(k);
    coco_free(&d);
    warn_free(&w);
}

static void segmentation_is_skipped_safely(void)
{
    /* polygons, RLE with brackets inside a string, and the key name inside a
     * string value must all leave the rest of the file intact */
    const char *json =
        "{\"images\": [{\"id\": 1, \"file_name\": \"seg \\\"segmentation\\\": [.jpg\", \"width\": 10, \"height\": 10}],\n"
        " \"annotations\": [\n"
        "  {\"segmentation\": [[1.5, 2, 3, 4, 5, 6]], \"id\": 1, \"image_id\": 1, \"category_id\": 1, \"bbox\": [1, 1, 2, 2]},\n"
        "  {\"id\": 2, \"segmentation\" : {\"counts\": \"a]}[{\\\"b\", \"size\": [10, 10]}, \"image_id\": 1,\n"
        "   \"category_id\": 1, \"bbox\": [3, 3, 2, 2], \"iscrowd\": 0}],\n"
        " \"categories\": [{\"id\": 1, \"name\": \"thing\", \"segmentation\": \"odd\"}]}\n";
    CocoData d;
    Warnings w = {0};
    Error e = {{0}};
    CHECK(load_text(json, &d, &w, &e) == 0, "%s", e.msg);
    if (e.msg[0]) return;
    CHECK(d.n_images == 1 && !strcmp(d.images[0].file_name, "seg \"segmentation\": [.jpg"), "file name intact");
    CHECK(d.n_boxes == 2 && d.boxes[1].x == 3, "both annotations read");
    CHECK(d.n_categories == 1 && !strcmp(d.categories[0].name, "thing"), "category intact");
    CHECK(w.total == 0, "warnings %zu", w.total);
    coco_free(&d);
    warn_free(&w);

    /* no annotations array at all: every image is a background (test-dev style) */
    CHECK(load_text("{\"images\": [{\"id\": 1, \"file_name\": \"a.jpg\"}], \"categories\": [{\"id\": 1, \"name\": \"x\"}]}",
                    &d, &w, &e) == 0,
          "%s", e.msg);
    CHECK(d.n_images == 1 && d.n_boxes == 0 && warnings_have(&w.kept, "no 'annotations' array", NULL),
          "background-only file");
    coco_free(&d);
    warn_free(&w);
}

static void warning_limit(void)
{
    Warnings w = {{0}, 0, 3};
    for (int i = 0; i < 10; i++) warn_add(&w, "warning %d", i);
    CHECK(w.total == 10 && w.kept.count == 3 && !strcmp(w.kept.items[2], "warning 2"), "total %zu kept %zu", w.total,
          w.kept.count);
    Warnings all = {0};
    warn_merge(&all, &w);
    CHECK(all.total == 10 && all.kept.count == 3, "merge keeps the counts");
    warn_free(&w);
    warn_free(&all);
}

TEST_MAIN(TEST_ENTRY(box_conversion_matches_converter), TEST_ENTRY(categories_sorted_by_id),
          TEST_ENTRY(file_level_errors), TEST_ENTRY(bad_records_are_reported_and_skipped),
          TEST_ENTRY(segmentation_is_skipped_safely), TEST_ENTRY(warning_limit))
