/* What val.py collects over the validation set and the numbers it reports
 * from it (spec §6.4, §6.6): per image the NMS detections' correct matrix,
 * confidences and classes plus the label classes; at the end ap_per_class
 * and the means mp, mr, mAP50, mAP50-95, per-class maps and fitness.
 *
 * The val loop, per image (labels already native xyxy, see eval/box_map.h):
 *     correct = match_detections(det_native, labels_native)   (if both exist)
 *     val_stats_add_image(stats, det, n_det, correct, label classes, n_labels)
 * which applies val.py's rules: every image counts in `seen`; an image with
 * neither detections nor labels adds nothing else; detections without labels
 * add all-false rows. With --single-cls the caller sets detection classes to
 * 0 (and runs NMS agnostic) before matching, as val.py does. */
#ifndef YV5_VAL_STATS_H
#define YV5_VAL_STATS_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "eval/ap.h"

typedef struct {
    uint8_t *correct;  /* n_pred x MATCH_NIOU */
    float *conf;
    int *pred_cls;
    size_t n_pred, cap_pred;
    int *target_cls;
    size_t n_targets, cap_targets;
    int64_t seen;      /* images processed */
    int64_t appended;  /* images that added a stats entry (val.py's len(stats)) */
} ValStats;

void val_stats_init(ValStats *s);
void val_stats_free(ValStats *s);

/* det: n_det NMS rows (x1, y1, x2, y2, conf, cls); correct: n_det x
 * MATCH_NIOU or NULL for all false; label_cls: n_labels classes. */
int val_stats_add_image(ValStats *s, const float *det, int n_det, const uint8_t *correct,
                        const int *label_cls, int n_labels, Error *e);

typedef struct {
    double mp, mr, map50, map; /* means over classes with labels */
    double fitness;            /* 0.1 * map50 + 0.9 * map */
    int nc;
    int64_t *nt;               /* labels per class, nc entries (np.bincount) */
    int64_t nt_total;
    double *maps;              /* nc: AP50-95 of each class; map where a class has no labels */
    int computed;              /* 0 when no prediction was correct at any threshold:
                                * val.py then skips ap_per_class, reports zeros and
                                * prints no per-class rows */
    ApResult ap;               /* valid when computed */
} ValMetrics;

/* The final numbers for a dataset of nc classes. Label or prediction classes
 * outside [0, nc) are an error (the reference would index out of range). */
int val_metrics_compute(const ValStats *s, int nc, ValMetrics *m, Error *e);
void val_metrics_free(ValMetrics *m);

/* fitness = 0.1 * mAP50 + 0.9 * mAP50-95 (utils/metrics.py, weights for
 * P, R, mAP50, mAP50-95 = 0, 0, 0.1, 0.9). */
double val_fitness(double mp, double mr, double map50, double map);

#endif
