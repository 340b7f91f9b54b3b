/* COCO instances_*.json reader: image records, categories and boxes, with
 * every malformed record reported and skipped, never trusted. The mapping to
 * YOLO rows (coco_box_to_yolo) follows the JSON2YOLO converter (spec §5.3). */
#ifndef YV5_COCO_JSON_H
#define YV5_COCO_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "data/warnings.h"

typedef struct {
    int64_t id;
    char *name;
} CocoCategory;

typedef struct {
    int64_t id;
    char *file_name;
    int width, height;            /* from the record; 0 when missing or invalid */
    size_t box_start, box_count;  /* its boxes in CocoData.boxes */
} CocoImage;

typedef struct {
    int64_t ann_id;      /* -1 when the record has none */
    size_t ann_index;    /* position in the "annotations" array, for messages */
    int cls;             /* position of its category in CocoData.categories */
    double x, y, w, h;   /* bbox: top-left corner and size, pixels */
} CocoBox;

typedef struct {
    CocoCategory *categories; /* sorted by id: class index = position */
    size_t n_categories;
    CocoImage *images;        /* usable image records, in file order */
    size_t n_images;
    CocoBox *boxes;           /* grouped by image, annotation order within an image */
    size_t n_boxes;
    size_t n_crowd;           /* iscrowd annotations skipped (not an error) */
    size_t n_dropped;         /* annotations dropped with a warning */
    size_t n_bad_images;      /* image records ignored with a warning */
} CocoData;

/* Parses json_path. Malformed records (wrong types, duplicate ids, unknown
 * image or category, bbox not four numbers or with a non-positive size) are
 * skipped with a warning naming the file, the array index and the id. Fails
 * only when the file as a whole is unusable: unreadable, not JSON (the
 * message gives line and column), not an object, "images" or "categories"
 * missing or not arrays, or no usable category. */
int coco_load(const char *json_path, CocoData *d, Warnings *warnings, Error *e);
void coco_free(CocoData *d);

typedef enum { COCO_BOX_OK = 0, COCO_BOX_CLIPPED = 1, COCO_BOX_DROPPED = -1 } CocoBoxResult;

/* bbox (pixels) of an image W x H -> normalised cx, cy, w, h, each rounded to
 * 6 significant digits then float32 as the converter's "%g" text would be
 * read back. A box reaching past the image is clipped to it (COCO_BOX_CLIPPED;
 * the reference instead rejects the image when a value exceeds 1); one with
 * no area inside the image is dropped. */
CocoBoxResult coco_box_to_yolo(double x, double y, double w, double h, int W, int H, float out[4]);

/* Category index -> id table (n_categories entries, malloc'd). */
int64_t *coco_category_ids(const CocoData *d);

#endif
