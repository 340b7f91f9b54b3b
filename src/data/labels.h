/* Object labels as YOLOv5 keeps them: one float32 row per object
 * (class, cx, cy, w, h), box centre and size normalised to [0, 1] by the
 * image's width and height, plus an optional polygon per object (normalised
 * x, y points) for polygon label files. YOLO txt label files are read here;
 * the verification rules (spec §5.2) are shared with the COCO reader. */
#ifndef YV5_LABELS_H
#define YV5_LABELS_H

#include <stddef.h>

#include "core/error.h"

enum { LABEL_FIELDS = 5 };

typedef struct {
    float *rows;         /* [n][LABEL_FIELDS]: class, cx, cy, w, h */
    size_t n, cap;
    /* Polygon of row i: points [poly_start[i], poly_start[i+1]) of poly_xy
     * (x, y pairs); an empty range for box rows. poly_start has n + 1 entries
     * (poly_start[0] == 0) once any row was pushed. */
    size_t *poly_start;
    float *poly_xy;
    size_t n_points, cap_points;
} LabelBuf;

/* Appends a row and its polygon (xy may be NULL with n_points == 0). */
int labelbuf_push(LabelBuf *b, const float row[LABEL_FIELDS], const float *xy, size_t n_points);
/* Drops rows from index n on (their polygons too). */
void labelbuf_truncate(LabelBuf *b, size_t n);
/* Appends rows [start, start + count) of src. */
int labelbuf_append(LabelBuf *b, const LabelBuf *src, size_t start, size_t count);
void labelbuf_free(LabelBuf *b);
static inline size_t labelbuf_points(const LabelBuf *b, size_t i)
{
    return b->poly_start ? b->poly_start[i + 1] - b->poly_start[i] : 0;
}

/* YOLOv5's checks on the rows [start, b->n) of one image: every value >= 0,
 * coordinates <= 1, NaN rejected; and ours: the class is an integer below nc.
 * Returns -1 with the first violation in e (the caller drops the image).
 * Duplicate rows are removed as numpy.unique does (survivors sorted
 * lexicographically; the order is untouched when there are none);
 * *duplicates gets how many were removed. */
int labels_verify(LabelBuf *b, size_t start, int nc, size_t *duplicates, Error *e);

/* The label file of an image: the last "/images/" becomes "/labels/" and the
 * extension becomes ".txt" (YOLOv5's img2label_paths). */
char *yolo_label_path(const char *image_path);

typedef enum { YOLO_LABELS_FOUND = 0, YOLO_LABELS_MISSING = 1 } YoloLabelStatus;

/* Reads one YOLO txt file onto b: "class cx cy w h" rows, or polygon rows
 * "class x1 y1 x2 y2 ..." (more than 6 fields) whose box is the min/max of
 * their points. Blank lines are skipped. Returns YOLO_LABELS_FOUND or
 * YOLO_LABELS_MISSING (no file: a background image), or -1 with the reason
 * in e when the file is unreadable or a line is malformed (wrong field count,
 * not a number, odd polygon coordinates); b is then left as it was. Does not
 * verify value ranges (labels_verify does). */
int yolo_read_labels(const char *label_path, LabelBuf *b, Error *e);

#endif
