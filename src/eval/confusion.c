#include "eval/confusion.h"

#include <stdlib.h>
#include <string.h>

#include "eval/match.h"

int confusion_init(ConfusionMatrix *cm, int nc, Error *e)
{
    memset(cm, 0, sizeof *cm);
    if (nc < 1) return err_set(e, "confusion matrix: number of classes %d must be positive", nc);
    cm->matrix = calloc((size_t)(nc + 1) * (size_t)(nc + 1), sizeof *cm->matrix);
    if (!cm->matrix) return err_set(e, "confusion matrix: out of memory for %d classes", nc);
    cm->nc = nc;
    cm->conf = 0.25;
    cm->iou_thres = 0.45;
    return 0;
}

void confusion_free(ConfusionMatrix *cm)
{
    free(cm->matrix);
    memset(cm, 0, sizeof *cm);
}

static double *cell(ConfusionMatrix *cm, int predicted, int truth)
{
    return cm->matrix + (size_t)predicted * (size_t)(cm->nc + 1) + (size_t)truth;
}

static int check_class(const ConfusionMatrix *cm, float value, const char *what, int index, Error *e)
{
    int c = (int)value;
    if (!(value > -1.0f && value < (float)cm->nc)) /* .int() truncates toward zero */
        return err_set(e, "confusion matrix: %s %d has class %g outside [0, %d)", what, index, value, cm->nc);
    return c;
}

int confusion_process_batch(ConfusionMatrix *cm, const float *det, int n_det, const float *labels,
                            int n_labels, Error *e)
{
    for (int i = 0; i < n_labels; i++)
        if (check_class(cm, labels[(size_t)i * 5], "label", i, e) < 0) return -1;
    if (!det) {
        for (int i = 0; i < n_labels; i++) *cell(cm, cm->nc, (int)labels[(size_t)i * 5]) += 1;
        return 0;
    }
    const float conf = (float)cm->conf, thr = (float)cm->iou_thres;
    int n = 0;
    for (int i = 0; i < n_det; i++)
        if (det[(size_t)i * 6 + 4] > conf) n++;
    size_t pairs_max = (size_t)n_labels * (size_t)n;
    float *kept_det = malloc(((size_t)n + 1) * 6 * sizeof *kept_det);
    float *iou = malloc((pairs_max + 1) * sizeof *iou);
    int *pl = malloc((pairs_max + 1) * sizeof *pl);
    int *pd = malloc((pairs_max + 1) * sizeof *pd);
    float *pi = malloc((pairs_max + 1) * sizeof *pi);
    int *keep = malloc((pairs_max + 1) * sizeof *keep);
    int *label_match = malloc(((size_t)n_labels + 1) * sizeof *label_match);
    unsigned char *det_matched = calloc((size_t)n + 1, 1);
    int status = 0;
    if (!kept_det || !iou || !pl || !pd || !pi || !keep || !label_match || !det_matched) {
        status = err_set(e, "confusion matrix: out of memory for %d labels x %d detections", n_labels, n);
        goto done;
    }
    for (int i = 0, k = 0; i < n_det; i++) {
        if (!(det[(size_t)i * 6 + 4] > conf)) continue;
        if (check_class(cm, det[(size_t)i * 6 + 5], "detection", i, e) < 0) {
            status = -1;
            goto done;
        }
        memcpy(kept_det + (size_t)k * 6, det + (size_t)i * 6, 6 * sizeof *det);
        k++;
    }
    match_box_iou(labels + 1, (size_t)n_labels, 5, kept_det, (size_t)n, 6, iou);
    int n_pairs = 0;
    for (int m = 0; m < n_labels; m++) {
        for (int d = 0; d < n; d++) {
            float v = iou[(size_t)m * n + d];
            if (v > thr) {
                pl[n_pairs] = m;
                pd[n_pairs] = d;
                pi[n_pairs] = v;
                n_pairs++;
            }
        }
    }
    int kept = match_unique_pairs(pl, pd, pi, n_pairs, 1, keep);
    if (kept < 0) {
        status = err_set(e, "confusion matrix: out of memory matching %d pairs", n_pairs);
        goto done;
    }
    for (int m = 0; m < n_labels; m++) label_match[m] = -1;
    for (int k = 0; k < kept; k++) {
        label_match[pl[keep[k]]] = pd[keep[k]];
        det_matched[pd[keep[k]]] = 1;
    }
    for (int m = 0; m < n_labels; m++) {
        int gc = (int)labels[(size_t)m * 5];
        if (kept > 0 && label_match[m] >= 0)
            *cell(cm, (int)kept_det[(size_t)label_match[m] * 6 + 5], gc) += 1; /* correct class or confused */
        else
            *cell(cm, cm->nc, gc) += 1; /* missed: background */
    }
    if (kept > 0)
        for (int d = 0; d < n; d++)
            if (!det_matched[d]) *cell(cm, (int)kept_det[(size_t)d * 6 + 5], cm->nc) += 1; /* false positive */
done:
    free(det_matched);
    free(label_match);
    free(keep);
    free(pi);
    free(pd);
    free(pl);
    free(iou);
    free(kept_det);
    return status;
}

void confusion_tp_fp(const ConfusionMatrix *cm, double *tp, double *fp)
{
    const int n = cm->nc + 1;
    for (int i = 0; i < cm->nc; i++) {
        double row = 0.0;
        for (int j = 0; j < n; j++) row += cm->matrix[(size_t)i * n + j];
        tp[i] = cm->matrix[(size_t)i * n + i];
        fp[i] = row - tp[i];
    }
}

void confusion_print(const ConfusionMatrix *cm, FILE *f)
{
    const int n = cm->nc + 1;
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < n; j++) fprintf(f, j ? " %.1f" : "%.1f", cm->matrix[(size_t)i * n + j]);
        fputc('\n', f);
    }
}

/* A CSV field, quoted when it holds a comma, quote or line break. */
static void csv_field(FILE *f, const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"') fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static void csv_class(FILE *f, const char *const *names, int c)
{
    if (names && names[c]) csv_field(f, names[c]);
    else fprintf(f, "%d", c);
}

int confusion_write_csv(const ConfusionMatrix *cm, const char *const *names, FILE *f, Error *e)
{
    const int n = cm->nc + 1;
    fputs("predicted/true", f);
    for (int j = 0; j < n; j++) {
        fputc(',', f);
        if (j == cm->nc) fputs("background", f);
        else csv_class(f, names, j);
    }
    fputc('\n', f);
    for (int i = 0; i < n; i++) {
        if (i == cm->nc) fputs("background", f);
        else csv_class(f, names, i);
        for (int j = 0; j < n; j++) fprintf(f, ",%.0f", cm->matrix[(size_t)i * n + j]);
        fputc('\n', f);
    }
    if (ferror(f)) return err_set(e, "confusion matrix: write failed");
    return 0;
}
