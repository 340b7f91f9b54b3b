/* Detections written as files the way val.py / detect.py write them
 * (spec §6.8, §8):
 *
 *   --save-txt: one line per detection "cls cx cy w h[ conf]", box normalised
 *     by the original image size, every number Python-'%g' formatted;
 *     val.py writes detections in NMS order, detect.py in reverse order and
 *     from boxes rounded to whole pixels (boxes_round).
 *   --save-json: COCO results, json.dump of a list of
 *     {"image_id": 42, "category_id": 18, "bbox": [x, y, w, h], "score": s}
 *     with bbox (top-left corner, size; original pixels) rounded to 3
 *     decimals and score to 5, printed as Python prints floats. */
#ifndef YV5_SAVE_RESULTS_H
#define YV5_SAVE_RESULTS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/error.h"

/* n detection rows (x1, y1, x2, y2, conf, cls) in original-image pixels of an
 * h0 x w0 image; reverse = 1 for detect.py's order. */
void save_txt_rows(FILE *f, const float *det, int n, int h0, int w0, int save_conf, int reverse);

/* COCO's 80 -> 91 category ids (utils/general.py coco80_to_coco91_class),
 * 80 entries: class i -> category id. */
const int64_t *coco80_to_coco91(void);

/* Python's repr(round(x, ndigits)) for 0 <= ndigits <= 15, into buf
 * (>= 32 bytes): "258.15", "0.0", "1e-05". */
void py_round_repr(double x, int ndigits, char *buf, size_t cap);

/* The image_id json.dump writes for a file stem: the integer when the stem is
 * all ASCII digits (leading zeros dropped, any length), else the stem as a
 * JSON string (ASCII-escaped, as json.dump's ensure_ascii does). Returns -1
 * when buf is too small or the stem is not valid UTF-8. */
int coco_image_id_json(const char *stem, char *buf, size_t cap, Error *e);

typedef struct {
    FILE *f;
    size_t rows; /* written so far */
} CocoResultsWriter;

/* Starts the JSON list ("["); coco_results_end closes it ("]"). */
void coco_results_begin(CocoResultsWriter *w, FILE *f);
/* Appends one row per detection of an image. class_map[cls] is the category
 * id (n_map entries; NULL: the class index itself, as for non-COCO sets). */
int coco_results_add(CocoResultsWriter *w, const char *image_id_json, const float *det, int n,
                     const int64_t *class_map, int n_map, Error *e);
int coco_results_end(CocoResultsWriter *w, Error *e);

#endif
