/* Average precision per class as YOLOv5 v7.0's utils/metrics.py computes it
 * (ap_per_class, compute_ap, smooth; spec §6.6), in double with NumPy's
 * operation order, so the numbers equal the reference's to the last bit
 * (ties in confidence are ordered as NumPy 1.24's argsort orders them).
 *
 *   - predictions sorted by confidence, descending;
 *   - classes = the distinct label classes, ascending (a class with
 *     predictions but no labels is ignored; one with labels but no
 *     predictions gets AP, P and R of 0);
 *   - per class: cumulative TP/FP -> recall = tpc/n_labels, precision;
 *     recall and precision at 1000 confidence thresholds px = linspace(0,1,1000)
 *     by np.interp (left 0 for recall, 1 for precision); AP per IoU column by
 *     compute_ap: sentinels (0, 1) / (1, 0), precision envelope (running max
 *     from the right), np.interp at linspace(0,1,101) and np.trapz;
 *   - F1 = 2pr/(p+r+1e-16) per class and threshold; the reported P and R are
 *     at the first maximum of smooth(mean over classes of F1, 0.1): a 101-wide
 *     box filter with edge padding. */
#ifndef YV5_AP_H
#define YV5_AP_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "eval/match.h"

#define AP_CURVE_POINTS 1000
#define AP_INTERP_POINTS 101

typedef struct {
    int n_classes;    /* distinct label classes */
    int *classes;     /* ascending */
    int64_t *n_labels;/* labels per listed class */
    double *ap;       /* n_classes x MATCH_NIOU */
    double *p, *r, *f1; /* per class at best_index */
    double *tp, *fp;  /* round(r * n_labels), round(tp / (p + 1e-16) - tp) */
    int best_index;   /* index into px of the smoothed mean-F1 maximum */
    /* Curves over px = linspace(0, 1, 1000), n_classes x 1000 each (plots). */
    double *p_curve, *r_curve, *f1_curve;
} ApResult;

/* correct: n_pred x MATCH_NIOU (0/1); conf, pred_cls: per prediction;
 * target_cls: per label. Fills *out (free with ap_result_free); -1 with a
 * message when memory runs out. n_pred or n_targets may be 0. */
int ap_per_class(const uint8_t *correct, const float *conf, const int *pred_cls, size_t n_pred,
                 const int *target_cls, size_t n_targets, ApResult *out, Error *e);
void ap_result_free(ApResult *r);

/* compute_ap on one recall/precision curve of n points (n >= 0). */
double ap_compute(const double *recall, const double *precision, size_t n, size_t stride);

/* smooth(y, f): box filter of odd width round(n*f*2)//2 + 1 over y padded with
 * its end values, evaluated as NumPy's convolve does. out may not alias y. */
int ap_smooth(const double *y, size_t n, double f, double *out);

#endif
