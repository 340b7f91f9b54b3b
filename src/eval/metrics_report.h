/* The validation table as val.py prints it (spec §6.7):
 *
 *                  Class     Images  Instances          P          R      mAP50   mAP50-95
 *                    all        128        929      0.712      0.634      0.713      0.475
 *                 person        128        254      0.826      0.717      0.806      0.523
 *
 * header '%22s' + '%11s'*6; rows '%22s' + '%11i'*2 + '%11.3g'*4. */
#ifndef YV5_METRICS_REPORT_H
#define YV5_METRICS_REPORT_H

#include <stdint.h>
#include <stdio.h>

#include "eval/val_stats.h"

void report_header(FILE *f);
void report_row(FILE *f, const char *name, int64_t images, int64_t instances, double p, double r,
                double map50, double map);

/* val.py's condition for per-class rows: (verbose or (nc < 50 and not
 * training)) and nc > 1. */
int report_per_class_wanted(int verbose, int nc, int training);

/* The "all" row, then (per_class and metrics computed) one row per class
 * with labels, named names[c] (or the index when names is NULL). When the
 * set has no labels, `warn` (may be NULL) gets val.py's warning for `task`. */
void report_results(FILE *f, FILE *warn, const ValMetrics *m, int64_t seen, const char *const *names,
                    int per_class, const char *task);

/* "Speed: %.1fms pre-process, %.1fms inference, %.1fms NMS per image at shape
 * (batch, 3, imgsz, imgsz)", times per image in milliseconds. */
void report_speed(FILE *f, double pre_ms, double inference_ms, double nms_ms, int batch, int imgsz);

#endif
