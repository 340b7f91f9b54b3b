/* Matching detections to labels for mAP (val.py process_batch, v7.0 exact;
 * spec §6.5) and the pairwise IoU it uses (utils/metrics.py box_iou).
 *
 * For each IoU threshold t of 0.50:0.05:0.95: the (label, detection) pairs
 * with IoU >= t and equal classes, enumerated label-major; if more than one,
 * they are ordered by IoU descending (np.argsort(...)[::-1], ties as NumPy
 * 1.24 leaves them), each detection keeps its first pair, and of those each
 * label keeps the one with the lowest detection index (v7.0 does not re-sort
 * by IoU between the two steps). Kept pairs mark their detection correct. */
#ifndef YV5_EVAL_MATCH_H
#define YV5_EVAL_MATCH_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

#define MATCH_NIOU 10

/* torch.linspace(0.5, 0.95, 10) in float32. */
extern const float match_iou_thresholds[MATCH_NIOU];

/* iou[i * nb + j] = IoU of xyxy boxes a_i and b_j as box_iou computes it in
 * float32: inter / (area_a + area_b - inter + 1e-7), inter clamped at 0.
 * Boxes are rows of a_stride / b_stride floats starting with x1, y1, x2, y2. */
void match_box_iou(const float *a, size_t na, size_t a_stride, const float *b, size_t nb,
                   size_t b_stride, float *iou);

/* process_batch. det: n_det rows (x1, y1, x2, y2, conf, cls); labels: n_labels
 * rows (cls, x1, y1, x2, y2), both in the same (native) pixel space. Writes
 * correct[n_det * MATCH_NIOU] (0/1, row per detection). Returns -1 only when
 * scratch memory cannot be allocated. */
int match_detections(const float *det, int n_det, const float *labels, int n_labels, uint8_t *correct,
                     Error *e);

/* The two "unique" steps shared by process_batch and ConfusionMatrix, on a
 * list of candidate pairs (label, det, iou) in enumeration order: with more
 * than one pair, order by IoU descending, keep each detection's first pair
 * (np.unique(return_index=True): first occurrence, result by ascending
 * detection), optionally (`resort_between`, ConfusionMatrix) order by IoU
 * descending again, then keep each label's first pair. Writes the kept pairs'
 * positions in the input lists to keep[] (ascending label) and returns their
 * count; -1 if scratch memory cannot be allocated. Indices must be >= 0. */
int match_unique_pairs(const int *pair_label, const int *pair_det, const float *pair_iou, int n_pairs,
                       int resort_between, int *keep);

#endif
