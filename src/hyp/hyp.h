/* Training hyperparameters: every key of YOLOv5's hyp YAML files (data/hyps/) plus
 * our additions (balance, iou_loss, label_smoothing), loaded from YAML
 * (libyaml) with type and range checks. Values are doubles, as in Python.
 *
 * Keys missing from a file keep their defaults (hyp.scratch-low.yaml).
 * An unknown key is not an error: it is reported as a warning naming the key
 * and the nearest known key. A wrong type, an out-of-range value, a duplicated
 * key or a YAML syntax error is an error naming the file, line, key and value.
 * See docs/hyperparameters.md for what each key does. */
#ifndef YV5_HYP_H
#define YV5_HYP_H

#include <stdio.h>

#include "core/error.h"

/* Most detection levels a `balance` list may describe. */
#define HYP_MAX_LEVELS 8

/* Box regression loss: 1 - (the chosen IoU variant). YOLOv5 uses CIoU. */
typedef enum { IOU_LOSS_CIOU = 0, IOU_LOSS_DIOU, IOU_LOSS_GIOU, IOU_LOSS_IOU } IouLoss;

/* "ciou", "diou", "giou", "iou" ("?" for an invalid value). */
const char *iou_loss_name(IouLoss kind);

typedef struct {
    /* Optimizer and schedule. */
    double lr0;             /* initial learning rate */
    double lrf;             /* final learning rate as a fraction of lr0 */
    double momentum;        /* SGD momentum / Adam beta1 */
    double weight_decay;    /* L2 on conv weights (scaled by batch later) */
    double warmup_epochs;   /* warmup length in epochs (fractions allowed) */
    double warmup_momentum; /* momentum at the start of warmup */
    double warmup_bias_lr;  /* bias learning rate at the start of warmup */
    /* Loss. */
    double box;             /* box-regression loss gain */
    double cls;             /* classification loss gain */
    double cls_pw;          /* positive weight of the class BCE */
    double obj;             /* objectness loss gain */
    double obj_pw;          /* positive weight of the objectness BCE */
    double iou_t;           /* unused by YOLOv5 v7.0 (kept for compatibility) */
    double anchor_t;        /* target/anchor size-ratio limit for assignment (> 1) */
    double fl_gamma;        /* focal-loss gamma; 0 = plain BCE */
    double label_smoothing; /* class-target smoothing epsilon */
    IouLoss iou_loss;       /* box-loss variant (ours; YOLOv5: CIoU) */
    int balance_count;      /* 0: YOLOv5's per-level default (see hyp_balance) */
    double balance[HYP_MAX_LEVELS]; /* objectness weight per level, P3 first */
    int anchors;            /* anchors per level to generate; 0 = the model's own */
    /* Augmentation. */
    double hsv_h, hsv_s, hsv_v; /* HSV gains (fractions) */
    double degrees;         /* rotation range, +/- degrees */
    double translate;       /* translation range, +/- fraction of the image */
    double scale;           /* scale range, 1 +/- scale */
    double shear;           /* shear range, +/- degrees */
    double perspective;     /* perspective range, +/- fraction */
    double flipud, fliplr;  /* flip probabilities */
    double mosaic, mixup, copy_paste; /* probabilities */
    /* Where the values came from ("defaults" or the file path), for messages. */
    char source[512];
} Hyp;

/* The values of hyp.scratch-low.yaml, label_smoothing 0, iou_loss ciou,
 * default balance, no anchors override. */
void hyp_default(Hyp *h);

/* Reads `path` over the defaults. Warnings (unknown keys) are printed, one
 * line each, to `warnings` when it is non-NULL. Returns -1 with a message
 * naming the file, line, key and value on any error; *h is then the defaults
 * with source set to path. */
int hyp_load(Hyp *h, const char *path, FILE *warnings, Error *e);

/* Checks every value's range (hyp_load does this; call it again after
 * changing values by hand, e.g. from the command line). The message names
 * h->source, the key and the value. */
int hyp_validate(const Hyp *h, Error *e);

/* The objectness balance for a model with nl levels: the file's list, which
 * must then have exactly nl values, or YOLOv5's default [4.0, 1.0, 0.4] for
 * nl = 3 and the first nl of [4.0, 1.0, 0.25, 0.06, 0.02] otherwise (nl <= 5).
 * Writes nl values to out. */
int hyp_balance(const Hyp *h, int nl, double *out, Error *e);

/* YOLOv5's one-time rescaling at train start (train.py): box *= 3/nl,
 * cls *= nc/80 * 3/nl, obj *= (imgsz/640)^2 * 3/nl, with Python's order of
 * operations so the doubles match bit for bit. */
void hyp_rescale(Hyp *h, int nl, int nc, int imgsz);

/* Writes every key as YAML that hyp_load reads back to the same values
 * (shortest round-trip decimal). Used for the run directory's hyp.yaml. */
int hyp_write(const Hyp *h, FILE *f, Error *e);

#endif
