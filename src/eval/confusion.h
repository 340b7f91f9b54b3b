/* YOLOv5 v7.0's ConfusionMatrix (utils/metrics.py): an (nc+1) x (nc+1)
 * count matrix, rows = predicted class, columns = true class, index nc =
 * background. Per image:
 *
 *   - no detections at all (val.py calls it with detections=None when NMS
 *     returned nothing): each label counts as missed, [nc][label class];
 *   - otherwise detections with conf > 0.25 are matched to labels by IoU > 0.45
 *     regardless of class (pairs ordered by IoU, unique per detection, ordered
 *     by IoU again, unique per label); a label with exactly one match counts at
 *     [detection class][label class], any other label at [nc][label class];
 *     when at least one match exists, each unmatched detection counts at
 *     [detection class][nc]. (When nothing matches, unmatched detections are
 *     not counted: a quirk of the reference kept here.)
 *
 * val.py updates it only for images that have labels. The reference only
 * plots it; confusion_write_csv and confusion_print give it as text. */
#ifndef YV5_CONFUSION_H
#define YV5_CONFUSION_H

#include <stdio.h>

#include "core/error.h"

typedef struct {
    int nc;
    double conf;      /* 0.25 */
    double iou_thres; /* 0.45 */
    double *matrix;   /* (nc+1) x (nc+1), row-major */
} ConfusionMatrix;

int confusion_init(ConfusionMatrix *cm, int nc, Error *e);
void confusion_free(ConfusionMatrix *cm);

/* det: n_det rows (x1, y1, x2, y2, conf, cls) or NULL for "no detections"
 * (the detections=None call); labels: n_labels rows (cls, x1, y1, x2, y2).
 * Classes outside [0, nc) are an error. */
int confusion_process_batch(ConfusionMatrix *cm, const float *det, int n_det, const float *labels,
                            int n_labels, Error *e);

/* tp = diagonal, fp = row sums - diagonal, for the nc real classes. */
void confusion_tp_fp(const ConfusionMatrix *cm, double *tp, double *fp);

/* ConfusionMatrix.print(): each row's values as Python prints floats
 * ("3.0"), space-separated. */
void confusion_print(const ConfusionMatrix *cm, FILE *f);

/* CSV: header "predicted\\true,<names...>,background", then one row per
 * predicted class (names may be NULL: class indices are used). Counts are
 * integers. Returns -1 if writing failed. */
int confusion_write_csv(const ConfusionMatrix *cm, const char *const *names, FILE *f, Error *e);

#endif
