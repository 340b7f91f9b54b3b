#include "eval/val_stats.h"

#include <stdlib.h>
#include <string.h>

#include "eval/np_compat.h"

void val_stats_init(ValStats *s) { memset(s, 0, sizeof *s); }

void val_stats_free(ValStats *s)
{
    free(s->correct);
    free(s->conf);
    free(s->pred_cls);
    free(s->target_cls);
    memset(s, 0, sizeof *s);
}

static int grow_predictions(ValStats *s, size_t need)
{
    if (need <= s->cap_pred) return 0;
    size_t cap = s->cap_pred ? s->cap_pred : 1024;
    while (cap < need) cap *= 2;
    uint8_t *c = realloc(s->correct, cap * MATCH_NIOU);
    if (!c) return -1;
    s->correct = c;
    float *f = realloc(s->conf, cap * sizeof *f);
    if (!f) return -1;
    s->conf = f;
    int *p = realloc(s->pred_cls, cap * sizeof *p);
    if (!p) return -1;
    s->pred_cls = p;
    s->cap_pred = cap;
    return 0;
}

static int grow_targets(ValStats *s, size_t need)
{
    if (need <= s->cap_targets) return 0;
    size_t cap = s->cap_targets ? s->cap_targets : 1024;
    while (cap < need) cap *= 2;
    int *t = realloc(s->target_cls, cap * sizeof *t);
    if (!t) return -1;
    s->target_cls = t;
    s->cap_targets = cap;
    return 0;
}

int val_stats_add_image(ValStats *s, const float *det, int n_det, const uint8_t *correct,
                        const int *label_cls, int n_labels, Error *e)
{
    if (n_det < 0 || n_labels < 0) return err_set(e, "val stats: negative count");
    s->seen++;
    if (n_det == 0 && n_labels == 0) return 0;
    if (grow_predictions(s, s->n_pred + (size_t)n_det) || grow_targets(s, s->n_targets + (size_t)n_labels))
        return err_set(e, "val stats: out of memory after %zu predictions", s->n_pred);
    for (int i = 0; i < n_det; i++) {
        size_t k = s->n_pred + (size_t)i;
        if (correct) memcpy(s->correct + k * MATCH_NIOU, correct + (size_t)i * MATCH_NIOU, MATCH_NIOU);
        else memset(s->correct + k * MATCH_NIOU, 0, MATCH_NIOU);
        s->conf[k] = det[(size_t)i * 6 + 4];
        s->pred_cls[k] = (int)det[(size_t)i * 6 + 5];
    }
    s->n_pred += (size_t)n_det;
    if (n_labels) memcpy(s->target_cls + s->n_targets, label_cls, (size_t)n_labels * sizeof *label_cls);
    s->n_targets += (size_t)n_labels;
    s->appended++;
    return 0;
}

double val_fitness(double mp, double mr, double map50, double map)
{
    /* (x * w).sum(): four products added in order from 0. */
    return ((((0.0 + mp * 0.0) + mr * 0.0) + map50 * 0.1) + map * 0.9);
}

void val_metrics_free(ValMetrics *m)
{
    free(m->nt);
    free(m->maps);
    ap_result_free(&m->ap);
    memset(m, 0, sizeof *m);
}

int val_metrics_compute(const ValStats *s, int nc, ValMetrics *m, Error *e)
{
    memset(m, 0, sizeof *m);
    if (nc < 1) return err_set(e, "val metrics: number of classes %d must be positive", nc);
    for (size_t k = 0; k < s->n_targets; k++)
        if (s->target_cls[k] < 0 || s->target_cls[k] >= nc)
            return err_set(e, "val metrics: label class %d outside [0, %d)", s->target_cls[k], nc);
    for (size_t k = 0; k < s->n_pred; k++)
        if (s->pred_cls[k] < 0 || s->pred_cls[k] >= nc)
            return err_set(e, "val metrics: predicted class %d outside [0, %d)", s->pred_cls[k], nc);
    m->nc = nc;
    m->nt = calloc((size_t)nc, sizeof *m->nt);
    m->maps = calloc((size_t)nc, sizeof *m->maps);
    if (!m->nt || !m->maps) {
        val_metrics_free(m);
        return err_set(e, "val metrics: out of memory for %d classes", nc);
    }
    for (size_t k = 0; k < s->n_targets; k++) m->nt[s->target_cls[k]]++;
    m->nt_total = (int64_t)s->n_targets;

    int any_correct = 0;
    for (size_t k = 0; k < s->n_pred * MATCH_NIOU && !any_correct; k++) any_correct = s->correct[k] != 0;
    if (any_correct) {
        if (ap_per_class(s->correct, s->conf, s->pred_cls, s->n_pred, s->target_cls, s->n_targets, &m->ap, e)) {
            val_metrics_free(m);
            return -1;
        }
        const ApResult *a = &m->ap;
        size_t n = (size_t)a->n_classes;
        double *per_class = malloc((n ? n : 1) * sizeof *per_class);
        if (!per_class) {
            val_metrics_free(m);
            return err_set(e, "val metrics: out of memory");
        }
        /* ap.mean(1) per class, then the means over classes. */
        for (size_t i = 0; i < n; i++) per_class[i] = np_mean(a->ap + i * MATCH_NIOU, MATCH_NIOU, 1);
        m->mp = np_mean(a->p, n, 1);
        m->mr = np_mean(a->r, n, 1);
        m->map50 = np_mean(a->ap, n, MATCH_NIOU);
        m->map = np_mean(per_class, n, 1);
        m->computed = 1;
        for (int c = 0; c < nc; c++) m->maps[c] = m->map;
        for (size_t i = 0; i < n; i++) m->maps[a->classes[i]] = per_class[i];
        free(per_class);
    }
    m->fitness = val_fitness(m->mp, m->mr, m->map50, m->map);
    return 0;
}
