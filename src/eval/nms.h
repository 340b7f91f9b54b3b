/* Non-maximum suppression exactly as YOLOv5 v7.0's non_max_suppression with
 * torchvision's CPU nms (spec §6.3), per image:
 *
 *   1. rows with objectness > conf_thres (strict, float32 compare);
 *   2. class scores *= objectness (float32);
 *   3. multi-label (val; only when nc > 1): one candidate per (row, class)
 *      with score > conf_thres, row-major; otherwise the best class (first
 *      maximum) if its score > conf_thres;
 *   4. optional class filter;
 *   5. candidates sorted by score, descending, in torch.argsort's order
 *      (ties as PyTorch 1.13 leaves them, see eval/sort_order.h), cut to max_nms;
 *   6. greedy NMS on boxes shifted by class * max_wh (0 when agnostic):
 *      a candidate is dropped if its IoU with a kept one is > iou_thres, the
 *      IoU evaluated in float32 on the shifted boxes as torchvision does;
 *   7. the first max_det kept rows.
 *
 * Output rows are (x1, y1, x2, y2, conf, cls) in input pixels, descending
 * score. The reference's time limit (0.5 + 0.05*batch seconds, after which the
 * remaining images of the batch are left empty) is deliberately not
 * implemented: it makes results depend on the machine's speed. Neither are
 * the reference's --save-hybrid a-priori labels, merge-NMS (off in v7.0) or
 * mask columns (segmentation).
 *
 * Cost: every candidate is sorted (the tie order of the full sort decides
 * which 30000 survive); an untrained 80-class model at conf 0.001 gives
 * ~2M candidates per 640x640 image, about 0.35 s on one core. */
#ifndef YV5_NMS_H
#define YV5_NMS_H

#include <stddef.h>

#include "core/error.h"

#define NMS_MAX_WH 7680.0f
#define NMS_MAX_CANDIDATES 30000
#define NMS_ROW 6 /* x1, y1, x2, y2, conf, cls */

typedef struct {
    double conf_thres;  /* compared as float32, like a tensor against a Python float */
    double iou_thres;   /* compared in double, like torchvision's C++ kernel */
    int max_det;
    int multi_label;    /* ignored (off) when nc == 1 */
    int agnostic;       /* one offset for all classes */
    const int *classes; /* keep only these classes; NULL: all */
    int n_classes;
    int max_nms;        /* candidates kept after sorting (30000) */
} NmsOptions;

/* val.py / train.py: conf 0.001, IoU 0.6, max_det 300, multi-label. */
NmsOptions nms_options_val(void);
/* detect.py: conf 0.25, IoU 0.45, max_det 1000, best class only. */
NmsOptions nms_options_detect(void);

/* One image: pred is (n_boxes, no) decoded Detect output, rows
 * (cx, cy, w, h, obj, cls_0 .. cls_{nc-1}) in input pixels, no = 5 + nc >= 6.
 * Writes at most opt->max_det rows of NMS_ROW floats to out and returns how
 * many; -1 (with a message) on invalid options or when scratch memory cannot
 * be allocated. */
int nms_image(const float *pred, int n_boxes, int no, const NmsOptions *opt, float *out, Error *e);

/* A batch (batch, n_boxes, no): image b's rows go to out + b*max_det*NMS_ROW
 * and their count to counts[b]. Images run in parallel (OpenMP). */
int nms_batch(const float *pred, int batch, int n_boxes, int no, const NmsOptions *opt, float *out,
              int *counts, Error *e);

#endif
