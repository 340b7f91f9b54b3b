/* AutoAnchor: YOLOv5 v7.0's check of the model's anchors against the
 * training labels and their recomputation by k-means + a genetic algorithm
 * (utils/autoanchor.py; spec §7).
 *
 * check_anchors (once at training start):
 *   1. label sizes in pixels at the training size: every image's original
 *      (w, h) scaled so its long side is img_size, times a random factor
 *      U(0.9, 1.1) drawn per image (backgrounds included, in image order);
 *   2. BPR / AAT of the current anchors (anchor_metric.h), logged as
 *      "AutoAnchor: 4.45 anchors/target, 0.995 Best Possible Recall (BPR). ...";
 *   3. BPR > 0.98: the anchors stay. Otherwise kmean_anchors proposes nl*na
 *      anchors, and they replace the current ones only if their BPR (on the
 *      same jittered sizes) is strictly higher: sorted small to large (the
 *      first na go to P3), check_anchor_order, divided by the strides.
 *   Placeholder anchors (a model YAML or hyp with `anchors: 3`, which YOLOv5
 *   fills with 0, 1, 2, ...) are always replaced: they are not anchors.
 *
 * kmean_anchors: label sizes without the jitter; labels with a side under
 * 3 px are reported, those with both sides under 2 px left out; the rest,
 * whitened by their per-axis population std, go through SciPy-style k-means
 * (kmeans.h, 30 restarts); if that cannot give n centres (fewer labels than
 * n, zero spread, empty clusters) the start is n sorted random pairs times
 * img_size instead; then 1000 generations of anchor_evolve.h; the result is
 * sorted by area and logged as YOLOv5 logs it.
 *
 * Randomness comes only from the Rng passed in (bit-exact NumPy streams are
 * not reproduced; the distributions and the order of the draws are), so a run
 * is a function of the seed; tests inject the reference's draws through the
 * options' injection fields (the Rng may then be NULL: a seed-0 stream stands
 * in for any draw that was not injected).
 *
 * Use in the trainer (spec §4.1 step 12: not on resume, not with
 * --noautoanchor; after the loaders, before the fp16 rounding of the model):
 *
 *     AutoAnchorOptions ao = autoanchor_defaults(hyp.anchor_t, imgsz);
 *     ao.log = stdout;                              // the lines YOLOv5 logs
 *     AutoAnchorResult ar;
 *     if (model_check_anchors(&model, &ds.split[SPLIT_TRAIN], &ao, &rng, &ar, &e))
 *         fprintf(stdout, "AutoAnchor: ERROR: %s\n", e.msg); // YOLOv5 logs and trains on
 *
 * It rewrites the model's Detect anchors buffer (grid units) only when
 * ar.changed. hyp `anchors: N` (anchors per level) means the model is built
 * with YOLOv5's placeholder anchors (as from a YAML `anchors: N`); they are
 * then always replaced here. The EMA copy made earlier (step 9) is left
 * alone, as in YOLOv5 (its anchors follow through the EMA updates), and the
 * loss must be set up after this call (it reads the anchors). Draws from the
 * Rng: one per training image, then (when recomputing) the k-means picks and
 * the GA's mutations. */
#ifndef YV5_AUTOANCHOR_H
#define YV5_AUTOANCHOR_H

#include <stddef.h>
#include <stdio.h>

#include "anchors/anchor_metric.h"
#include "core/error.h"
#include "core/rng.h"
#include "data/dataset.h"
#include "model/model.h"
#include "model/model_config.h"

#define AUTOANCHOR_MAX (MODEL_MAX_LEVELS * MODEL_MAX_ANCHORS) /* anchors in total */

/* ---- label sizes ------------------------------------------------------------ */

/* The (w, h) in pixels of every label of split s at training size img_size:
 * label w, h (normalised) x the image's (w, h) x img_size / max(w, h)
 * [x image_scale[i] when image_scale is given, one factor per image]. Rows
 * whose sides are both below min_side are left out (0 keeps all). *n_small
 * (may be NULL) gets the number of rows, before that filter, with a side
 * under 3 px. The arithmetic is YOLOv5's float64 rounded to float32. */
int anchor_label_sizes(const DatasetSplit *s, int img_size, const double *image_scale, double min_side,
                       BoxWH *out, size_t *n_small, Error *e);

/* ---- check_anchor_order -------------------------------------------------------- */

/* anchors: nl x na x 2 (pixels or grid units, in place). When the mean
 * anchor area of the last level minus the first's is non-zero and of the
 * other sign than stride[nl-1] - stride[0], reverses the level order.
 * Returns 1 when it did. */
int anchor_order_check(float *anchors, int nl, int na, const float *stride);

/* Whether anchors (nl x na x 2, pixels) are YOLOv5's placeholders 0, 1, ...,
 * 2na-1 on every level (to 1e-4). */
int anchors_are_placeholder(const float *anchors_px, int nl, int na);

/* ---- kmean_anchors ------------------------------------------------------------- */

typedef struct {
    int n;               /* anchors to make (nl * na; YOLOv5's n, default 9) */
    int img_size;        /* training image size */
    double anchor_t;     /* hyp anchor_t */
    int generations;     /* GA generations (1000) */
    int kmeans_restarts; /* scipy's iter (30) */
    /* Injection for tests (NULL: drawn from the Rng): k-means initial picks,
     * kmeans_restarts x n indices into the kept labels; GA factors,
     * generations x n x 2. */
    const int *kmeans_init;
    const double *mutations;
    FILE *log;    /* YOLOv5's log lines; NULL: silent */
    int progress; /* show the GA progress bar on log (updated in place on a terminal) */
} KmeanAnchorsOptions;

KmeanAnchorsOptions kmean_anchors_defaults(int n, int img_size, double anchor_t);

typedef struct {
    size_t n_labels;      /* all labels */
    size_t n_kept;        /* labels with a side >= 2 px (clustered) */
    size_t n_small;       /* labels with a side < 3 px */
    int used_kmeans;      /* 0: k-means failed and the random start was used */
    int kmeans_centres;   /* centres k-means returned (n unless it failed) */
    double fitness;       /* GA fitness of the result */
    AnchorStats stats;    /* print_results' figures, on all labels */
} KmeanAnchorsInfo;

/* On label sizes: wh0 all labels (stats), wh the kept ones (clustering,
 * fitness), n_small for the warning. anchors gets n (w, h) pairs in pixels,
 * sorted by area. info may be NULL. Fails only on bad arguments (n out of
 * range, no labels at all) or memory. */
int kmean_anchors_boxes(const BoxWH *wh0, const BoxWH *wh, size_t n_small, const KmeanAnchorsOptions *o,
                        Rng *rng, float *anchors, KmeanAnchorsInfo *info, Error *e);

/* The same from a dataset split (labels measured without the jitter). */
int kmean_anchors(const DatasetSplit *train, const KmeanAnchorsOptions *o, Rng *rng, float *anchors,
                  KmeanAnchorsInfo *info, Error *e);

/* Logs print_results' two lines for anchors (n x 2 pixels, any order; they
 * are printed sorted by area) measured on wh0:
 * "AutoAnchor: thr=0.25: 0.9990 best possible recall, 4.45 anchors past thr"
 * "AutoAnchor: n=9, img_size=640, metric_all=0.300/0.750-mean/best, past_thr=0.480-mean: 10,13, ..." */
void anchor_print_results(FILE *log, const BoxWH *wh0, const float *anchors, int n, int img_size,
                          double anchor_t);

/* ---- check_anchors --------------------------------------------------------------- */

typedef struct {
    double anchor_t;  /* hyp anchor_t (4.0) */
    int img_size;     /* training image size */
    int generations;  /* GA generations (1000) */
    int placeholder;  /* treat the anchors as placeholders (always replace) */
    /* Injection for tests (NULL: drawn from the Rng): the per-image jitter
     * factors (n_images values), then as in KmeanAnchorsOptions. */
    const double *image_scale;
    const int *kmeans_init;
    const double *mutations;
    FILE *log;    /* YOLOv5's log lines; NULL: silent */
    int progress; /* GA progress bar on log */
} AutoAnchorOptions;

AutoAnchorOptions autoanchor_defaults(double anchor_t, int img_size);

typedef struct {
    int nl, na;
    AnchorFit fit;           /* current anchors on the jittered label sizes (NaN: no labels) */
    int recomputed;          /* kmean_anchors ran */
    AnchorFit new_fit;       /* the proposal's fit (when recomputed) */
    int changed;             /* the proposal replaced the anchors */
    int reversed;            /* check_anchor_order reversed the new anchors' levels */
    int placeholder;         /* the anchors were placeholders */
    float proposed_px[2 * AUTOANCHOR_MAX];  /* kmean_anchors' result, sorted by area (when recomputed) */
    float anchors_px[2 * AUTOANCHOR_MAX];   /* anchors in effect, nl x na x 2, pixels */
    float anchors_grid[2 * AUTOANCHOR_MAX]; /* the same / stride: the Detect buffer */
    KmeanAnchorsInfo kmeans;
} AutoAnchorResult;

/* check_anchors on plain arrays: anchors_px (nl x na x 2, pixels, as the
 * model has them: its buffer x stride), strides (nl). Fills *res (anchors_px
 * / anchors_grid are the input when nothing changed). Fails on bad arguments
 * or memory (message names the cause); a training set without labels is not
 * an error: the anchors are kept and a line says why. */
int check_anchors(const DatasetSplit *train, const float *anchors_px, int nl, int na, const float *stride,
                  const AutoAnchorOptions *o, Rng *rng, AutoAnchorResult *res, Error *e);

/* ---- on a Model -------------------------------------------------------------------- */

/* The model's Detect anchors in pixels (buffer x stride, float32): nl x na x 2. */
void model_anchors_px(const Model *m, float *anchors_px);

/* Writes anchors (nl x na x 2 pixels, level-major) into the model's Detect
 * anchors buffer: check_anchor_order (logging "AutoAnchor: Reversing anchor
 * order" to log when it reverses; log may be NULL), then / stride. Returns 1
 * when the levels were reversed. */
int model_set_anchors(Model *m, const float *anchors_px, FILE *log);

/* check_anchors on the model's anchors, writing the new ones into it when
 * they are adopted. Placeholders are recognised from the buffer's values
 * (when the model's YAML had `anchors: N` and nothing overwrote them) or from
 * o->placeholder. */
int model_check_anchors(Model *m, const DatasetSplit *train, const AutoAnchorOptions *o, Rng *rng,
                        AutoAnchorResult *res, Error *e);

#endif
