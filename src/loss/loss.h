/* The YOLOv5 v7.0 training loss (utils/loss.py ComputeLoss) and its exact
 * gradient with respect to every raw prediction.
 *
 * Per level i (P3 first), with B images, na anchors, an ny x nx grid and
 * no = nc + 5 outputs per anchor:
 *
 *   predictions  pred[i]: float32 (B, na, ny, nx, no), the Detect head's raw
 *                output P_i[b, a, y, x, k] (channels: x, y, w, h, objectness,
 *                nc class logits), row-major.
 *   targets      nt rows [image, class, cx, cy, w, h], cx..h normalised to the
 *                (padded) network input, as the data loader emits them.
 *   anchors      LossModel.anchors: nl x na x 2, grid units (pixels / stride,
 *                like Detect's anchors buffer).
 *
 * The loss: targets are assigned to cells (build_targets.h); for each
 * assigned row the box is decoded as xy = 2 sigma - 0.5, wh = (2 sigma)^2 *
 * anchor and scored against the target with the configured IoU variant
 * (CIoU by default, box_iou.h): lbox = mean(1 - iou). Objectness is a BCE of
 * channel 4 of every cell against tobj, which is 0 except at assigned cells
 * where it is the detached IoU clamped at 0 (mixed with gr; the last row
 * written to a cell wins, or the highest IoU with sort_obj_iou), averaged
 * over the level's cells and weighted by balance[i]. Classes (only when
 * nc > 1) are a BCE of the assigned rows' class logits against label-smoothed
 * one-hot targets, averaged over rows x classes. Both BCEs take pos_weight
 * and become focal losses when fl_gamma > 0. Then lbox *= box, lobj *= obj,
 * lcls *= cls, and total = (lbox + lobj + lcls) * B.
 *
 * Gradient: d total / d pred, written (not accumulated) into caller buffers
 * laid out like pred; every element is written (zero where no term reaches).
 * The objectness target and CIoU's alpha are constants, as in the reference.
 *
 * Precision: targets are assigned in float32 exactly as the reference does
 * (identical rows); all loss and gradient arithmetic is double and the means
 * are accumulated in double; each gradient element is summed in double and
 * rounded to float32 once.
 * Double is the better choice for parity: the float32 reference differs from
 * its own float64 run by ~1e-7, and we differ from the float32 reference by
 * the same amount (items <= 2e-7 relative, gradient <= 3e-7 of its largest
 * element) and from the float64 run by float32 rounding alone (<= 1.2e-7
 * relative per gradient element). tests/loss/test_loss_parity.c holds the
 * tolerances and prints the measured numbers.
 *
 * Memory: a Loss owns its work buffers; they grow on the first calls and are
 * reused, so steady-state calls do not allocate. Not thread-safe per Loss
 * object; the objectness pass uses OpenMP internally, with per-(image,
 * anchor) partial sums added in a fixed order, so results do not depend on
 * the thread count. Cost at batch 16, 640 x 640, 80 classes (137 MB of
 * predictions): about 11 ms per call with the gradient on one core, 7 ms on
 * two; the objectness pass (one exp and one log1p per cell) and writing the
 * gradient dominate. */
#ifndef YV5_LOSS_H
#define YV5_LOSS_H

#include <stddef.h>

#include "core/error.h"
#include "hyp/hyp.h"
#include "loss/build_targets.h"

#define LOSS_MAX_LEVELS HYP_MAX_LEVELS

/* What the loss needs to know about the model's Detect head. */
typedef struct {
    int nl;               /* detection levels */
    int na;               /* anchors per level */
    int nc;               /* classes */
    const float *anchors; /* nl x na x 2, grid units */
    const float *strides; /* nl strides in pixels; read only for autobalance (may be NULL otherwise) */
} LossModel;

typedef struct {
    double box, obj, cls;  /* gains, already rescaled for the model (hyp_rescale) */
    double cls_pw, obj_pw; /* BCE positive weights */
    double anchor_t;       /* assignment size-ratio limit, > 1 */
    double fl_gamma;       /* focal gamma (alpha 0.25); 0 = plain BCE */
    double label_smoothing;
    IouLoss iou_loss;
    double balance[LOSS_MAX_LEVELS]; /* objectness weight per level */
    double gr;             /* objectness target = (1 - gr) + gr * iou when gr < 1; YOLOv5: 1 */
    int sort_obj_iou;      /* 1: the highest IoU wins a shared cell (YOLOv5: 0, last row wins) */
    int autobalance;       /* 1: adapt balance per call, normalised to the stride-16 level */
} LossConfig;

/* cfg from hyperparameters (gains as they are in h: rescale h first), the
 * balance for nl levels (hyp_balance), gr 1, no sorting, no autobalance. */
int loss_config_from_hyp(LossConfig *cfg, const Hyp *h, int nl, Error *e);

/* One call's inputs. Grid sizes may change between calls (multi-scale, rect). */
typedef struct {
    int batch;                         /* B */
    int ny[LOSS_MAX_LEVELS];           /* grid rows of each level */
    int nx[LOSS_MAX_LEVELS];           /* grid columns of each level */
    const float *pred[LOSS_MAX_LEVELS];/* (B, na, ny, nx, no) each */
    const float *targets;              /* nt x 6; may be NULL when nt == 0 */
    int nt;
} LossInput;

typedef struct {
    double total;           /* (box + obj + cls) * B: the value the gradient is of */
    double box, obj, cls;   /* YOLOv5's loss_items: gains applied, not times B */
    int rows[LOSS_MAX_LEVELS]; /* assigned target rows per level */
} LossResult;

typedef struct {
    LossModel model;        /* model.anchors points at owned storage */
    LossConfig cfg;
    double balance[LOSS_MAX_LEVELS]; /* live balance (changes only with autobalance) */
    int stride16_level;     /* autobalance's reference level */
    LevelTargets targets[LOSS_MAX_LEVELS]; /* assignment of the last call, per level */
    float *anchors;         /* owned copy, nl x na x 2 */
    double *tobj;           /* B x na x ny x nx objectness targets of one level */
    size_t tobj_cap;
    double *row_grad;       /* per assigned row: iou, d iou / d z[0..3] */
    size_t row_cap;
    double *plane_sum;      /* per (image, anchor) objectness partial sums */
    size_t plane_cap;
    struct RowRef *row_refs;/* assigned rows sorted by cell */
    size_t refs_cap;
    double *cell_acc;       /* one cell's gradient, summed in double */
    size_t acc_cap;
} Loss;

/* Validates the model and config and copies what it needs (anchors too).
 * autobalance requires strides with a 16 among them, as YOLOv5. */
int loss_init(Loss *l, const LossModel *model, const LossConfig *cfg, Error *e);
void loss_free(Loss *l);

/* Computes the loss of one batch. grad: NULL for the loss alone, or nl
 * buffers shaped like pred that receive d total / d pred. Fails (-1) on
 * malformed input: a target row with a non-finite value, negative size, an
 * image index outside [0, B) or a class outside [0, nc); bad grid sizes. */
int loss_compute(Loss *l, const LossInput *in, float *const *grad, LossResult *out, Error *e);

#endif
