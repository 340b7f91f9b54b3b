#include "eval/nms.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "eval/box_map.h"
#include "eval/sort_order.h"

NmsOptions nms_options_val(void)
{
    NmsOptions o = {0};
    o.conf_thres = 0.001;
    o.iou_thres = 0.6;
    o.max_det = 300;
    o.multi_label = 1;
    o.max_nms = NMS_MAX_CANDIDATES;
    return o;
}

NmsOptions nms_options_detect(void)
{
    NmsOptions o = {0};
    o.conf_thres = 0.25;
    o.iou_thres = 0.45;
    o.max_det = 1000;
    o.max_nms = NMS_MAX_CANDIDATES;
    return o;
}

typedef struct {
    int row, cls;
} Candidate;

static int class_allowed(const NmsOptions *opt, int cls)
{
    if (!opt->classes) return 1;
    for (int k = 0; k < opt->n_classes; k++)
        if (opt->classes[k] == cls) return 1;
    return 0;
}

/* std::max / std::min as torchvision calls them: (a < b) ? b : a, so a NaN
 * second argument loses and a NaN first argument wins. */
static float stl_max(float a, float b) { return a < b ? b : a; }
static float stl_min(float a, float b) { return b < a ? b : a; }

static int validate(const NmsOptions *opt, int n_boxes, int no, Error *e)
{
    if (no < 6) return err_set(e, "nms: row length %d: need 5 + number of classes >= 6", no);
    if (n_boxes < 0) return err_set(e, "nms: negative box count %d", n_boxes);
    if (!(opt->conf_thres >= 0 && opt->conf_thres <= 1))
        return err_set(e, "nms: conf_thres %g outside [0, 1]", opt->conf_thres);
    if (!(opt->iou_thres >= 0 && opt->iou_thres <= 1))
        return err_set(e, "nms: iou_thres %g outside [0, 1]", opt->iou_thres);
    if (opt->max_det < 0) return err_set(e, "nms: max_det %d is negative", opt->max_det);
    if (opt->max_nms < 1) return err_set(e, "nms: max_nms %d must be positive", opt->max_nms);
    if (opt->classes && opt->n_classes < 0) return err_set(e, "nms: negative class filter count");
    return 0;
}

/* Steps 1-4: candidates (row, class) with their scores, in the reference's
 * enumeration order. *cand and *score are malloc'd (NULL when count is 0). */
static int gather_candidates(const float *pred, int n_boxes, int no, const NmsOptions *opt,
                             Candidate **cand_out, float **score_out, size_t *count_out)
{
    const int nc = no - 5;
    const int multi = opt->multi_label && nc > 1;
    const float conf = (float)opt->conf_thres;
    size_t cap = 0, count = 0;
    Candidate *cand = NULL;
    float *score = NULL;
    float *s = malloc((size_t)nc * sizeof *s);
    if (!s) return -1;
    for (int i = 0; i < n_boxes; i++) {
        const float *x = pred + (size_t)i * no;
        float obj = x[4];
        if (!(obj > conf)) continue;
        for (int j = 0; j < nc; j++) s[j] = x[5 + j] * obj;
        size_t need = count + (multi ? (size_t)nc : 1);
        if (need > cap) {
            size_t ncap = cap ? cap * 2 : 1024;
            while (ncap < need) ncap *= 2;
            Candidate *c2 = realloc(cand, ncap * sizeof *c2);
            if (!c2) goto fail;
            cand = c2;
            float *s2 = realloc(score, ncap * sizeof *s2);
            if (!s2) goto fail;
            score = s2;
            cap = ncap;
        }
        if (multi) {
            for (int j = 0; j < nc; j++) {
                if (s[j] > conf && class_allowed(opt, j)) {
                    cand[count] = (Candidate){i, j};
                    score[count++] = s[j];
                }
            }
        } else {
            /* torch.max(1): the first maximum; a NaN wins and stays. */
            int best = 0;
            for (int j = 1; j < nc; j++) {
                if (isnan(s[best])) break;
                if (isnan(s[j]) || s[j] > s[best]) best = j;
            }
            if (s[best] > conf && class_allowed(opt, best)) {
                cand[count] = (Candidate){i, best};
                score[count++] = s[best];
            }
        }
    }
    free(s);
    *cand_out = cand;
    *score_out = score;
    *count_out = count;
    return 0;
fail:
    free(s);
    free(cand);
    free(score);
    return -1;
}

int nms_image(const float *pred, int n_boxes, int no, const NmsOptions *opt, float *out, Error *e)
{
    if (validate(opt, n_boxes, no, e)) return -1;
    Candidate *cand = NULL;
    float *score = NULL;
    size_t n = 0;
    if (gather_candidates(pred, n_boxes, no, opt, &cand, &score, &n))
        return err_set(e, "nms: out of memory gathering candidates of %d boxes", n_boxes);
    if (n == 0 || opt->max_det == 0) {
        free(cand);
        free(score);
        return 0;
    }

    int *order = malloc(n * sizeof *order);
    if (!order || sort_order_torch_desc(score, n, order)) {
        free(order);
        free(cand);
        free(score);
        return err_set(e, "nms: out of memory sorting %zu candidates", n);
    }
    size_t m = n < (size_t)opt->max_nms ? n : (size_t)opt->max_nms;

    /* Sorted candidates: plain boxes (for the output) and class-shifted boxes
     * with their areas (for the IoU), all float32 like the reference. */
    float *box = malloc(m * 4 * sizeof *box);
    float *shifted = malloc(m * 4 * sizeof *shifted);
    float *area = malloc(m * sizeof *area);
    int *next_same = malloc(m * sizeof *next_same);
    unsigned char *suppressed = calloc(m, 1);
    int *last_of_group = NULL;
    int status = 0;
    if (!box || !shifted || !area || !next_same || !suppressed) {
        status = err_set(e, "nms: out of memory for %zu candidates", m);
        goto done;
    }
    double min_x1 = INFINITY, max_x2 = -INFINITY;
    int all_finite = 1, max_cls = 0;
    for (size_t p = 0; p < m; p++) {
        const Candidate c = cand[order[p]];
        float *b = box + p * 4;
        boxes_xywh_to_xyxy(pred + (size_t)c.row * no, 1, 4, b, 4);
        float offset = opt->agnostic ? (float)c.cls * 0.0f : (float)c.cls * NMS_MAX_WH;
        float *s = shifted + p * 4;
        for (int k = 0; k < 4; k++) {
            s[k] = b[k] + offset;
            if (!isfinite(b[k])) all_finite = 0;
        }
        area[p] = (s[2] - s[0]) * (s[3] - s[1]);
        if (b[0] < min_x1) min_x1 = b[0];
        if (b[2] > max_x2) max_x2 = b[2];
        if (c.cls > max_cls) max_cls = c.cls;
    }

    /* With every box inside a span narrower than the class offset, boxes of
     * different classes never intersect after shifting (the gap of at least
     * one pixel survives float32 rounding), so their IoU is 0 and only boxes
     * of the same class need comparing: same result, far fewer pairs. */
    int per_class = !opt->agnostic && all_finite && (max_x2 - min_x1) < (double)NMS_MAX_WH - 1.0;
    int groups = per_class ? max_cls + 1 : 1;
    last_of_group = malloc((size_t)groups * sizeof *last_of_group);
    if (!last_of_group) {
        status = err_set(e, "nms: out of memory for %d class groups", groups);
        goto done;
    }
    for (int g = 0; g < groups; g++) last_of_group[g] = -1;
    for (size_t p = m; p-- > 0;) {
        int g = per_class ? cand[order[p]].cls : 0;
        next_same[p] = last_of_group[g];
        last_of_group[g] = (int)p;
    }

    int kept = 0;
    for (size_t p = 0; p < m && kept < opt->max_det; p++) {
        if (suppressed[p]) continue;
        const Candidate c = cand[order[p]];
        float *o = out + (size_t)kept * NMS_ROW;
        for (int k = 0; k < 4; k++) o[k] = box[p * 4 + k];
        o[4] = score[order[p]];
        o[5] = (float)c.cls;
        kept++;
        const float *si = shifted + p * 4;
        const float ia = area[p];
        for (int q = next_same[p]; q >= 0; q = next_same[q]) {
            if (suppressed[q]) continue;
            const float *sq = shifted + (size_t)q * 4;
            float xx1 = stl_max(si[0], sq[0]), yy1 = stl_max(si[1], sq[1]);
            float xx2 = stl_min(si[2], sq[2]), yy2 = stl_min(si[3], sq[3]);
            float w = stl_max(0.0f, xx2 - xx1), h = stl_max(0.0f, yy2 - yy1);
            float inter = w * h;
            float ovr = inter / (ia + area[q] - inter);
            if ((double)ovr > opt->iou_thres) suppressed[q] = 1;
        }
    }
    status = kept;
done:
    free(last_of_group);
    free(suppressed);
    free(next_same);
    free(area);
    free(shifted);
    free(box);
    free(order);
    free(cand);
    free(score);
    return status;
}

int nms_batch(const float *pred, int batch, int n_boxes, int no, const NmsOptions *opt, float *out,
              int *counts, Error *e)
{
    if (validate(opt, n_boxes, no, e)) return -1;
    int failed = -1;
    Error first = {{0}};
#pragma omp parallel for schedule(dynamic, 1)
    for (int b = 0; b < batch; b++) {
        Error local;
        int k = nms_image(pred + (size_t)b * n_boxes * no, n_boxes, no, opt,
                          out + (size_t)b * opt->max_det * NMS_ROW, &local);
        counts[b] = k < 0 ? 0 : k;
        if (k < 0) {
#pragma omp critical(nms_batch_error)
            if (failed < 0 || b < failed) {
                failed = b;
                first = local;
            }
        }
    }
    if (failed >= 0) {
        if (e) *e = first;
        return err_prefix(e, "image %d of the batch", failed);
    }
    return 0;
}
