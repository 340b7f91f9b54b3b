#include "eval/match.h"

#include <stdlib.h>

#include "eval/sort_order.h"

/* Read from torch.linspace(0.5, 0.95, 10): 0.65 and 0.85 are not the nearest
 * floats to those decimals, so they are spelled out bit for bit. */
const float match_iou_thresholds[MATCH_NIOU] = {
    0x1.000000p-1f, 0x1.19999ap-1f, 0x1.333334p-1f, 0x1.4cccccp-1f, 0x1.666666p-1f,
    0x1.800000p-1f, 0x1.99999ap-1f, 0x1.b33334p-1f, 0x1.ccccccp-1f, 0x1.e66666p-1f,
};

/* torch.min / torch.max / clamp(0) on floats propagate NaN. */
static float minf_nan(float a, float b) { return (a != a || a < b) ? a : b; }
static float maxf_nan(float a, float b) { return (a != a || a > b) ? a : b; }

void match_box_iou(const float *a, size_t na, size_t a_stride, const float *b, size_t nb,
                   size_t b_stride, float *iou)
{
    const float eps = 1e-7f;
    for (size_t i = 0; i < na; i++) {
        const float *p = a + i * a_stride;
        float area_a = (p[2] - p[0]) * (p[3] - p[1]);
        for (size_t j = 0; j < nb; j++) {
            const float *q = b + j * b_stride;
            float w = minf_nan(p[2], q[2]) - maxf_nan(p[0], q[0]);
            float h = minf_nan(p[3], q[3]) - maxf_nan(p[1], q[1]);
            w = maxf_nan(w, 0.0f);
            h = maxf_nan(h, 0.0f);
            float inter = w * h;
            float area_b = (q[2] - q[0]) * (q[3] - q[1]);
            iou[i * nb + j] = inter / (area_a + area_b - inter + eps);
        }
    }
}

int match_unique_pairs(const int *pair_label, const int *pair_det, const float *pair_iou, int n_pairs,
                       int resort_between, int *keep)
{
    if (n_pairs <= 0) return 0;
    if (n_pairs == 1) {
        keep[0] = 0;
        return 1;
    }
    int max_label = 0, max_det = 0;
    for (int k = 0; k < n_pairs; k++) {
        if (pair_label[k] > max_label) max_label = pair_label[k];
        if (pair_det[k] > max_det) max_det = pair_det[k];
    }
    int *order = malloc((size_t)n_pairs * sizeof *order);
    int *by_det = malloc((size_t)n_pairs * sizeof *by_det);
    int *first_det = malloc(((size_t)max_det + 1) * sizeof *first_det);
    int *first_label = malloc(((size_t)max_label + 1) * sizeof *first_label);
    float *keys = malloc((size_t)n_pairs * sizeof *keys);
    int count = -1;
    if (!order || !by_det || !first_det || !first_label || !keys) goto done;

    /* IoU descending = NumPy's ascending argsort read backwards. */
    sort_order_numpy(pair_iou, (size_t)n_pairs, order);
    for (int d = 0; d <= max_det; d++) first_det[d] = -1;
    for (int k = n_pairs - 1; k >= 0; k--) {
        int p = order[k];
        if (first_det[pair_det[p]] < 0) first_det[pair_det[p]] = p;
    }
    int n_by_det = 0;
    for (int d = 0; d <= max_det; d++)
        if (first_det[d] >= 0) by_det[n_by_det++] = first_det[d];

    if (resort_between) {
        for (int k = 0; k < n_by_det; k++) keys[k] = pair_iou[by_det[k]];
        sort_order_numpy(keys, (size_t)n_by_det, order);
        for (int k = 0; k < n_by_det; k++) first_det[k] = by_det[order[n_by_det - 1 - k]];
        for (int k = 0; k < n_by_det; k++) by_det[k] = first_det[k];
    }

    for (int l = 0; l <= max_label; l++) first_label[l] = -1;
    for (int k = 0; k < n_by_det; k++) {
        int p = by_det[k];
        if (first_label[pair_label[p]] < 0) first_label[pair_label[p]] = p;
    }
    count = 0;
    for (int l = 0; l <= max_label; l++)
        if (first_label[l] >= 0) keep[count++] = first_label[l];
done:
    free(keys);
    free(first_label);
    free(first_det);
    free(by_det);
    free(order);
    return count;
}

int match_detections(const float *det, int n_det, const float *labels, int n_labels, uint8_t *correct,
                     Error *e)
{
    for (size_t k = 0; k < (size_t)(n_det > 0 ? n_det : 0) * MATCH_NIOU; k++) correct[k] = 0;
    if (n_det <= 0 || n_labels <= 0) return 0;
    size_t pairs_max = (size_t)n_labels * (size_t)n_det;
    float *iou = malloc(pairs_max * sizeof *iou);
    int *pl = malloc(pairs_max * sizeof *pl);
    int *pd = malloc(pairs_max * sizeof *pd);
    float *pi = malloc(pairs_max * sizeof *pi);
    int *keep = malloc(pairs_max * sizeof *keep);
    int status = 0;
    if (!iou || !pl || !pd || !pi || !keep) {
        status = err_set(e, "process_batch: out of memory for %d labels x %d detections", n_labels, n_det);
        goto done;
    }
    match_box_iou(labels + 1, (size_t)n_labels, 5, det, (size_t)n_det, 6, iou);
    for (int t = 0; t < MATCH_NIOU; t++) {
        const float thr = match_iou_thresholds[t];
        int n = 0;
        for (int m = 0; m < n_labels; m++) {
            for (int d = 0; d < n_det; d++) {
                float v = iou[(size_t)m * n_det + d];
                if (v >= thr && labels[(size_t)m * 5] == det[(size_t)d * 6 + 5]) {
                    pl[n] = m;
                    pd[n] = d;
                    pi[n] = v;
                    n++;
                }
            }
        }
        int kept = match_unique_pairs(pl, pd, pi, n, 0, keep);
        if (kept < 0) {
            status = err_set(e, "process_batch: out of memory matching %d pairs", n);
            goto done;
        }
        for (int k = 0; k < kept; k++) correct[(size_t)pd[keep[k]] * MATCH_NIOU + t] = 1;
    }
done:
    free(keep);
    free(pi);
    free(pd);
    free(pl);
    free(iou);
    return status;
}
