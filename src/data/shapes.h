/* The built-in dataset: deterministic images of coloured geometric shapes on
 * textured backgrounds, written in COCO format (and optionally YOLO txt), so
 * the demo and the tests need no download.
 *
 * Layout written under DIR:
 *   images/{train,val}/NNNNNN.jpg
 *   annotations/instances_{train,val}.json   (COCO: images, annotations with bbox,
 *                                             area, segmentation, iscrowd 0; categories)
 *   labels/{train,val}/NNNNNN.txt            (with write_txt_labels; none for backgrounds)
 *   shapes.yaml                              (data YAML with an absolute path to DIR)
 * Every image comes from its own random stream (seed, split, index), so the
 * output does not depend on the number of threads. */
#ifndef YV5_SHAPES_H
#define YV5_SHAPES_H

#include <stdint.h>

#include "core/error.h"

enum { SHAPES_NUM_CLASSES = 6, SHAPES_MAX_OBJECTS = 10, SHAPES_MAX_POLY = 24 };

/* Class names, in class order (category id = class + 1). */
extern const char *const SHAPES_CLASS_NAMES[SHAPES_NUM_CLASSES];

typedef struct {
    int cls;                         /* 0..SHAPES_NUM_CLASSES-1 */
    double x, y, w, h;               /* bbox in pixels, rounded to 0.01 as written in the JSON */
    double area;                     /* shape area in pixels */
    int n_poly;                      /* outline for the COCO segmentation (pixels) */
    double poly[2 * SHAPES_MAX_POLY];
} ShapeObject;

typedef struct {
    int width, height;
    uint8_t *rgb;                    /* height x width x 3, owned */
    int n_objects;
    ShapeObject objects[SHAPES_MAX_OBJECTS];
} ShapesImage;

/* Renders image `index` of split `split` (0 train, 1 val). long_side is the
 * larger image side; the other is between 3/4 of it and equal. */
int shapes_render(uint64_t seed, int split, int index, int long_side, ShapesImage *out, Error *e);
void shapes_image_free(ShapesImage *im);

typedef struct {
    int n_train, n_val;
    int img_size;          /* long side of every image */
    uint64_t seed;
    int write_txt_labels;  /* also labels/{train,val}/NNNNNN.txt (YOLO format) */
    int jpeg_quality;      /* 1..100; 0 means 90 */
} ShapesOptions;

typedef struct {
    int images, objects, backgrounds;
} ShapesSummary;

int shapes_generate(const char *dir, const ShapesOptions *opt, ShapesSummary *summary, Error *e);

#endif
