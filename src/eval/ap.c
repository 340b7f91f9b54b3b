#include "eval/ap.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eval/np_compat.h"
#include "eval/sort_order.h"

static const double AP_EPS = 1e-16;

void ap_result_free(ApResult *r)
{
    free(r->classes);
    free(r->n_labels);
    free(r->ap);
    free(r->p);
    free(r->r);
    free(r->f1);
    free(r->tp);
    free(r->fp);
    free(r->p_curve);
    free(r->r_curve);
    free(r->f1_curve);
    memset(r, 0, sizeof *r);
}

double ap_compute(const double *recall, const double *precision, size_t n, size_t stride)
{
    size_t m = n + 2;
    double mrec_small[64], mpre_small[64];
    double *mrec = m <= 64 ? mrec_small : malloc(m * sizeof *mrec);
    double *mpre = m <= 64 ? mpre_small : malloc(m * sizeof *mpre);
    if (!mrec || !mpre) {
        if (mrec != mrec_small) free(mrec);
        if (mpre != mpre_small) free(mpre);
        return NAN;
    }
    mrec[0] = 0.0;
    mpre[0] = 1.0;
    for (size_t k = 0; k < n; k++) {
        mrec[k + 1] = recall[k * stride];
        mpre[k + 1] = precision[k * stride];
    }
    mrec[m - 1] = 1.0;
    mpre[m - 1] = 0.0;
    /* Precision envelope: np.maximum.accumulate from the right (NaN sticks). */
    for (size_t k = m - 1; k-- > 0;) {
        double a = mpre[k], b = mpre[k + 1];
        mpre[k] = (isnan(a) || a >= b) ? a : b;
    }
    double x[AP_INTERP_POINTS], y[AP_INTERP_POINTS], terms[AP_INTERP_POINTS - 1];
    np_linspace(0.0, 1.0, AP_INTERP_POINTS, x);
    np_interp(x, AP_INTERP_POINTS, mrec, mpre, m, mpre[0], mpre[m - 1], y);
    /* np.trapz: sum of d * (y[k+1] + y[k]) / 2. */
    for (int k = 0; k < AP_INTERP_POINTS - 1; k++) terms[k] = (x[k + 1] - x[k]) * (y[k + 1] + y[k]) / 2.0;
    double ap = np_sum(terms, AP_INTERP_POINTS - 1, 1);
    if (mrec != mrec_small) free(mrec);
    if (mpre != mpre_small) free(mpre);
    return ap;
}

int ap_smooth(const double *y, size_t n, double f, double *out)
{
    if (n == 0) return 0;
    size_t nf = (size_t)nearbyint((double)n * f * 2) / 2 + 1;
    size_t half = nf / 2;
    double *yp = malloc((n + 2 * half) * sizeof *yp);
    if (!yp) return -1;
    for (size_t k = 0; k < half; k++) {
        yp[k] = y[0];
        yp[half + n + k] = y[n - 1];
    }
    memcpy(yp + half, y, n * sizeof *y);
    /* np.convolve(yp, ones(nf)/nf, 'valid'): one dot product per output,
     * summed in order (NumPy hands it to the reference BLAS ddot). With fewer
     * than nf padded points the valid part is shorter; NumPy then swaps the
     * arguments, which gives the same sums. */
    size_t len = n + 2 * half;
    size_t outs = len >= nf ? len - nf + 1 : nf - len + 1;
    size_t taps = len >= nf ? nf : len;
    double w = 1.0 / (double)nf;
    for (size_t k = 0; k < outs && k < n; k++) {
        double s = 0.0;
        for (size_t i = 0; i < taps; i++) s += (len >= nf ? yp[k + i] : yp[i]) * w;
        out[k] = s;
    }
    free(yp);
    return 0;
}

/* First maximum; a NaN counts as the maximum (np.argmax). */
static int argmax_first(const double *v, size_t n)
{
    size_t best = 0;
    for (size_t i = 1; i < n; i++) {
        if (isnan(v[best])) break;
        if (isnan(v[i]) || v[i] > v[best]) best = i;
    }
    return (int)best;
}

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

int ap_per_class(const uint8_t *correct, const float *conf, const int *pred_cls, size_t n_pred,
                 const int *target_cls, size_t n_targets, ApResult *out, Error *e)
{
    memset(out, 0, sizeof *out);
    const size_t P = AP_CURVE_POINTS;
    int *order = NULL, *sorted_targets = NULL, *sel = NULL;
    float *neg_conf = NULL;
    double *px = NULL, *neg_px = NULL, *xp = NULL, *recall = NULL, *precision = NULL, *f1_mean = NULL, *smoothed = NULL;
    int64_t *tpc = NULL;

    /* Distinct label classes and their counts (np.unique, return_counts). */
    sorted_targets = malloc((n_targets ? n_targets : 1) * sizeof *sorted_targets);
    if (!sorted_targets) goto oom;
    if (n_targets) memcpy(sorted_targets, target_cls, n_targets * sizeof *target_cls);
    qsort(sorted_targets, n_targets, sizeof *sorted_targets, cmp_int);
    int nc = 0;
    for (size_t k = 0; k < n_targets; k++)
        if (k == 0 || sorted_targets[k] != sorted_targets[k - 1]) nc++;
    out->n_classes = nc;
    size_t ncs = nc ? (size_t)nc : 1;
    out->classes = malloc(ncs * sizeof *out->classes);
    out->n_labels = calloc(ncs, sizeof *out->n_labels);
    out->ap = calloc(ncs * MATCH_NIOU, sizeof *out->ap);
    out->p = calloc(ncs, sizeof *out->p);
    out->r = calloc(ncs, sizeof *out->r);
    out->f1 = calloc(ncs, sizeof *out->f1);
    out->tp = calloc(ncs, sizeof *out->tp);
    out->fp = calloc(ncs, sizeof *out->fp);
    out->p_curve = calloc(ncs * P, sizeof *out->p_curve);
    out->r_curve = calloc(ncs * P, sizeof *out->r_curve);
    out->f1_curve = calloc(ncs * P, sizeof *out->f1_curve);
    if (!out->classes || !out->n_labels || !out->ap || !out->p || !out->r || !out->f1 || !out->tp ||
        !out->fp || !out->p_curve || !out->r_curve || !out->f1_curve)
        goto oom;
    for (size_t k = 0, c = 0; k < n_targets; k++) {
        if (k == 0 || sorted_targets[k] != sorted_targets[k - 1]) out->classes[c++] = sorted_targets[k];
        out->n_labels[c - 1]++;
    }

    /* Predictions by descending confidence: np.argsort(-conf). */
    size_t np1 = n_pred ? n_pred : 1;
    order = malloc(np1 * sizeof *order);
    neg_conf = malloc(np1 * sizeof *neg_conf);
    sel = malloc(np1 * sizeof *sel);
    xp = malloc(np1 * sizeof *xp);
    recall = malloc(np1 * MATCH_NIOU * sizeof *recall);
    precision = malloc(np1 * MATCH_NIOU * sizeof *precision);
    tpc = malloc(MATCH_NIOU * sizeof *tpc);
    px = malloc(P * sizeof *px);
    neg_px = malloc(P * sizeof *neg_px);
    f1_mean = malloc(P * sizeof *f1_mean);
    smoothed = malloc(P * sizeof *smoothed);
    if (!order || !neg_conf || !sel || !xp || !recall || !precision || !tpc || !px || !neg_px || !f1_mean || !smoothed)
        goto oom;
    for (size_t k = 0; k < n_pred; k++) neg_conf[k] = -conf[k];
    sort_order_numpy(neg_conf, n_pred, order);
    np_linspace(0.0, 1.0, P, px);
    for (size_t k = 0; k < P; k++) neg_px[k] = -px[k];

    for (int ci = 0; ci < nc; ci++) {
        const int c = out->classes[ci];
        size_t n_sel = 0;
        for (size_t k = 0; k < n_pred; k++)
            if (pred_cls[order[k]] == c) sel[n_sel++] = order[k];
        if (n_sel == 0) continue;
        const double n_l = (double)out->n_labels[ci] + AP_EPS;
        for (int j = 0; j < MATCH_NIOU; j++) tpc[j] = 0;
        for (size_t k = 0; k < n_sel; k++) {
            const uint8_t *t = correct + (size_t)sel[k] * MATCH_NIOU;
            for (int j = 0; j < MATCH_NIOU; j++) {
                tpc[j] += t[j] ? 1 : 0;
                int64_t fpc = (int64_t)(k + 1) - tpc[j];
                recall[k * MATCH_NIOU + j] = (double)tpc[j] / n_l;
                precision[k * MATCH_NIOU + j] = (double)tpc[j] / (double)(tpc[j] + fpc);
            }
            xp[k] = (double)-conf[sel[k]];
        }
        /* Recall and precision at each px, on the IoU 0.5 column. */
        double *rc = out->r_curve + (size_t)ci * P, *pc = out->p_curve + (size_t)ci * P;
        double r_last = recall[(n_sel - 1) * MATCH_NIOU], p_last = precision[(n_sel - 1) * MATCH_NIOU];
        double *fr = malloc(n_sel * 2 * sizeof *fr);
        if (!fr) goto oom;
        double *fpr = fr + n_sel;
        for (size_t k = 0; k < n_sel; k++) {
            fr[k] = recall[k * MATCH_NIOU];
            fpr[k] = precision[k * MATCH_NIOU];
        }
        np_interp(neg_px, P, xp, fr, n_sel, 0.0, r_last, rc);
        np_interp(neg_px, P, xp, fpr, n_sel, 1.0, p_last, pc);
        free(fr);
        for (int j = 0; j < MATCH_NIOU; j++)
            out->ap[(size_t)ci * MATCH_NIOU + j] = ap_compute(recall + j, precision + j, n_sel, MATCH_NIOU);
    }

    /* F1 per class, its mean over classes (rows added in order, as NumPy
     * reduces axis 0), smoothed; P and R at its first maximum. */
    for (size_t k = 0; k < (size_t)nc * P; k++) {
        double p = out->p_curve[k], r = out->r_curve[k];
        out->f1_curve[k] = 2 * p * r / (p + r + AP_EPS);
    }
    for (size_t k = 0; k < P; k++) {
        double s = 0.0;
        for (int ci = 0; ci < nc; ci++) s += out->f1_curve[(size_t)ci * P + k];
        f1_mean[k] = nc ? s / nc : NAN;
    }
    if (ap_smooth(f1_mean, P, 0.1, smoothed)) goto oom;
    int best = argmax_first(smoothed, P);
    out->best_index = best;
    for (int ci = 0; ci < nc; ci++) {
        double p = out->p_curve[(size_t)ci * P + best], r = out->r_curve[(size_t)ci * P + best];
        out->p[ci] = p;
        out->r[ci] = r;
        out->f1[ci] = out->f1_curve[(size_t)ci * P + best];
        out->tp[ci] = nearbyint(r * (double)out->n_labels[ci]);
        out->fp[ci] = nearbyint(out->tp[ci] / (p + AP_EPS) - out->tp[ci]);
    }

    free(order);
    free(sorted_targets);
    free(sel);
    free(neg_conf);
    free(px);
    free(neg_px);
    free(xp);
    free(recall);
    free(precision);
    free(f1_mean);
    free(smoothed);
    free(tpc);
    return 0;
oom:
    free(order);
    free(sorted_targets);
    free(sel);
    free(neg_conf);
    free(px);
    free(neg_px);
    free(xp);
    free(recall);
    free(precision);
    free(f1_mean);
    free(smoothed);
    free(tpc);
    ap_result_free(out);
    return err_set(e, "ap_per_class: out of memory for %zu predictions, %zu labels", n_pred, n_targets);
}
