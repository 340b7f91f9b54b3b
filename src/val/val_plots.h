/* val.py's picture of the first batches: val_batch{i}_labels.jpg (the
 * batch's labels) and val_batch{i}_pred.jpg (its NMS detections with
 * confidences), mosaics drawn by draw/plot_images.h. Cosmetic: a failure is
 * reported on `warn` and validation goes on. */
#ifndef YV5_VAL_PLOTS_H
#define YV5_VAL_PLOTS_H

#include <stdio.h>

#include "data/dataset.h"
#include "data/loader.h"

/* targets: the batch's n_targets rows (image, class, cx, cy, w, h);
 * det: per image max_det NMS rows (x1, y1, x2, y2, conf, cls) in input
 * pixels, counts[i] of them. names: nc class names (may be NULL). */
void val_plot_batch(const char *save_dir, const DatasetSplit *split, const Batch *b, const float *targets,
                    const float *det, const int *counts, int max_det, const char *const *names, int nc,
                    FILE *warn);

#endif
