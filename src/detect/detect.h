/* Inference on image files as YOLOv5 v7.0's detect.py (spec §8), one image
 * at a time:
 *   decode (EXIF orientation applied, as cv2.imread) -> letterbox to the
 *   minimal rectangle (auto: padding only up to the next multiple of the
 *   stride, scaleup allowed) -> eval forward -> NMS (best class per box,
 *   conf 0.25, IoU 0.45, max_det 1000, optional class filter / agnostic) ->
 *   boxes mapped to the original image, clipped and rounded to whole pixels.
 *
 * detect_run adds detect.py's outputs per image: the console line
 *   "image 1/3 /abs/path/a.jpg: 480x640 2 circles, 1 star, 12.3ms"
 * (input size HxW, counts per class in class order, inference time), the
 * annotated image (boxes and "name 0.87" labels, detect_annotate.h) and the
 * YOLO txt file (lowest score first: "cls cx cy w h[ conf]"). An image that
 * cannot be read or processed is reported and skipped; the others go on. */
#ifndef YV5_DETECT_H
#define YV5_DETECT_H

#include <stddef.h>
#include <stdio.h>

#include "core/error.h"
#include "data/image.h"
#include "data/strlist.h"
#include "eval/nms.h"
#include "model/model.h"

typedef struct {
    int img_h, img_w;    /* letterbox target, multiples of the stride (640, 640) */
    int stride;          /* max model stride (32) */
    NmsOptions nms;      /* nms_options_detect() + --classes / --agnostic-nms / thresholds */
    /* Outputs of detect_run. */
    const char *save_dir;/* NULL: nothing written */
    int save_img;        /* annotated copies in save_dir (detect.py unless --nosave) */
    int save_txt;        /* save_dir/labels/<stem>.txt */
    int save_conf;
    int line_thickness;  /* box outline width in pixels (3) */
    int hide_labels, hide_conf;
    FILE *out;           /* per-image lines, speed line (NULL: silent) */
    FILE *err;           /* unreadable images (NULL: silent) */
} DetectOptions;

/* detect.py's defaults (640 x 640, stride 32, conf 0.25, IoU 0.45, max_det
 * 1000, line thickness 3, save_img on; save_dir NULL). */
void detect_options_default(DetectOptions *o);

/* One image's result. */
typedef struct {
    int h0, w0;          /* original size */
    int in_h, in_w;      /* network input size */
    int n;               /* detections */
    float *det;          /* n rows (x1, y1, x2, y2, conf, cls), original pixels, rounded; descending conf */
    float *det_subpixel; /* the same rows before rounding (scale_boxes' output) */
    /* Wall times. pre-process covers the letterbox and the float conversion
     * (detect.py times only the conversion: its letterbox runs in the image
     * iterator); the image decode is in none of them. */
    double pre_ms, inference_ms, nms_ms;
} DetectResult;

void detect_result_free(DetectResult *r);

/* Runs one decoded RGB image through the model. r->det is allocated
 * (nms.max_det rows). */
int detect_image(Model *m, const ImageU8 *img, const DetectOptions *o, DetectResult *r, Error *e);

/* The class counts of detect.py's console line: "<n> <name>[s], " per
 * detected class in ascending class order ("2 circles, 1 star, "), "" when
 * n is 0. names: nc names (NULL or out of range: the class number). */
void detect_counts_text(const float *det, int n, const char *const *names, int nc, char *buf, size_t cap);

typedef struct {
    int images;          /* processed */
    int failed;          /* skipped: unreadable or failed */
    long long detections;
    int labels_written;  /* txt files */
} DetectSummary;

/* Every image of `images` (detect_list_sources) in order. Returns -1 only
 * for failures that stop the whole run (output directory, memory); a bad
 * image is reported on o->err, counted in summary->failed and skipped. */
int detect_run(Model *m, const StrList *images, const DetectOptions *o, DetectSummary *summary, Error *e);

#endif
