#include "anchors/autoanchor.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "anchors/anchor_evolve.h"
#include "anchors/kmeans.h"

#define PREFIX "AutoAnchor: "

/* ---- label sizes ------------------------------------------------------------ */

/* Pixels per normalised unit of image i at the training size (YOLOv5:
 * imgsz * shape / shape.max(), integer product then a float64 division). */
static void image_scale_px(const DatasetImage *im, int img_size, double *sx, double *sy)
{
    int64_t mx = im->width > im->height ? im->width : im->height;
    *sx = mx > 0 ? (double)((int64_t)img_size * im->width) / (double)mx : 0.0;
    *sy = mx > 0 ? (double)((int64_t)img_size * im->height) / (double)mx : 0.0;
}

int anchor_label_sizes(const DatasetSplit *s, int img_size, const double *image_scale, double min_side,
                       BoxWH *out, size_t *n_small, Error *e)
{
    memset(out, 0, sizeof *out);
    size_t kept = 0, small = 0;
    for (int pass = 0; pass < 2; pass++) {
        kept = small = 0;
        for (size_t i = 0; i < s->n_images; i++) {
            const DatasetImage *im = &s->images[i];
            double sx, sy;
            image_scale_px(im, img_size, &sx, &sy);
            if (image_scale) {
                sx *= image_scale[i];
                sy *= image_scale[i];
            }
            for (size_t r = 0; r < im->label_count; r++) {
                const float *row = s->labels.rows + (im->label_start + r) * LABEL_FIELDS;
                double w = (double)row[3] * sx, h = (double)row[4] * sy;
                small += w < 3.0 || h < 3.0;
                if (min_side > 0 && !(w >= min_side || h >= min_side)) continue;
                if (pass == 1) {
                    out->w[kept] = (float)w;
                    out->h[kept] = (float)h;
                }
                kept++;
            }
        }
        if (pass == 0 && boxwh_alloc(out, kept))
            return err_set(e, "AutoAnchor: out of memory for %zu label sizes", kept);
    }
    if (n_small) *n_small = small;
    return 0;
}

/* ---- check_anchor_order -------------------------------------------------------- */

int anchor_order_check(float *anchors, int nl, int na, const float *stride)
{
    if (nl < 2) return 0;
    /* torch: anchors.prod(-1).mean(-1) in float32. */
    float first = 0, last = 0;
    for (int a = 0; a < na; a++) {
        first += anchors[2 * a] * anchors[2 * a + 1];
        last += anchors[((nl - 1) * na + a) * 2] * anchors[((nl - 1) * na + a) * 2 + 1];
    }
    float da = last / (float)na - first / (float)na;
    float ds = stride[nl - 1] - stride[0];
    int sign_da = (da > 0) - (da < 0), sign_ds = (ds > 0) - (ds < 0);
    if (sign_da == 0 || sign_da == sign_ds) return 0;
    for (int l = 0; l < nl / 2; l++) {
        float *p = anchors + (size_t)l * na * 2, *q = anchors + (size_t)(nl - 1 - l) * na * 2;
        for (int j = 0; j < 2 * na; j++) {
            float t = p[j];
            p[j] = q[j];
            q[j] = t;
        }
    }
    return 1;
}

int anchors_are_placeholder(const float *anchors_px, int nl, int na)
{
    for (int l = 0; l < nl; l++)
        for (int j = 0; j < 2 * na; j++)
            if (fabsf(anchors_px[l * 2 * na + j] - (float)j) > 1e-4f) return 0;
    return nl > 0 && na > 0;
}

/* ---- printing ------------------------------------------------------------------ */

/* Stable sort of n (w, h) pairs by area, small to large (NumPy's argsort on
 * 9 values is an insertion sort, hence stable). */
static void sort_by_area(double *k, int n)
{
    for (int i = 1; i < n; i++) {
        double w = k[2 * i], h = k[2 * i + 1], area = w * h;
        int j = i - 1;
        while (j >= 0 && k[2 * j] * k[2 * j + 1] > area) {
            k[2 * (j + 1)] = k[2 * j];
            k[2 * (j + 1) + 1] = k[2 * j + 1];
            j--;
        }
        k[2 * (j + 1)] = w;
        k[2 * (j + 1) + 1] = h;
    }
}

/* print_results on double anchors (already sorted or not). */
static void print_results_d(FILE *log, const BoxWH *wh0, const double *anchors, int n, int img_size,
                            double anchor_t)
{
    if (!log) return;
    double k[2 * AUTOANCHOR_MAX];
    memcpy(k, anchors, 2 * (size_t)n * sizeof *k);
    sort_by_area(k, n);
    AnchorStats st = anchor_stats(wh0, k, n, anchor_t);
    fprintf(log, PREFIX "thr=%.2f: %.4f best possible recall, %.2f anchors past thr\n", 1.0 / anchor_t, st.bpr,
            st.aat);
    fprintf(log, PREFIX "n=%d, img_size=%d, metric_all=%.3f/%.3f-mean/best, past_thr=%.3f-mean: ", n, img_size,
            st.x_mean, st.best_mean, st.past_thr_mean);
    /* Python's round(): half to even, as rint does in the default mode. */
    for (int i = 0; i < n; i++)
        fprintf(log, "%.0f,%.0f%s", rint(k[2 * i]), rint(k[2 * i + 1]), i + 1 < n ? ", " : "\n");
}

void anchor_print_results(FILE *log, const BoxWH *wh0, const float *anchors, int n, int img_size,
                          double anchor_t)
{
    double k[2 * AUTOANCHOR_MAX];
    if (n < 1 || n > AUTOANCHOR_MAX) return;
    for (int i = 0; i < 2 * n; i++) k[i] = anchors[i];
    print_results_d(log, wh0, k, n, img_size, anchor_t);
}

/* The GA's progress as YOLOv5's tqdm bar prints it
 * ("{desc}: 100%|██████████| 1000/1000 00:01"): redrawn in place on a
 * terminal, written once at the end otherwise. */
typedef struct {
    FILE *log;
    int tty;
    double start, last_draw;
    double fitness;
    int improved_ever;
} GaProgress;

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void draw_bar(GaProgress *p, int done, int total, int final)
{
    static const char *const partial[8] = {" ", "▏", "▎", "▍", "▌", "▋", "▊", "▉"};
    double frac = total > 0 ? (double)done / total : 1.0;
    int eighths = (int)(frac * 10 * 8), full = eighths / 8;
    char bar[10 * 4 + 1] = "";
    for (int i = 0; i < full && i < 10; i++) strcat(bar, "█");
    if (full < 10) {
        strcat(bar, partial[eighths % 8]);
        for (int i = full + 1; i < 10; i++) strcat(bar, " ");
    }
    int elapsed = (int)(now_seconds() - p->start), mins = elapsed / 60;
    char when[32];
    if (mins >= 60)
        snprintf(when, sizeof when, "%d:%02d:%02d", mins / 60, mins % 60, elapsed % 60);
    else
        snprintf(when, sizeof when, "%02d:%02d", mins, elapsed % 60);
    if (p->tty) fputc('\r', p->log);
    if (p->improved_ever)
        fprintf(p->log, PREFIX "Evolving anchors with Genetic Algorithm: fitness = %.4f: ", p->fitness);
    fprintf(p->log, "%3.0f%%|%s| %d/%d %s", 100.0 * frac, bar, done, total, when);
    if (final) fputc('\n', p->log);
    fflush(p->log);
}

static void ga_progress(void *ctx, int done, int total, double fitness, int improved)
{
    GaProgress *p = ctx;
    if (improved) {
        p->fitness = fitness;
        p->improved_ever = 1;
    }
    int final = done == total;
    if (!final && !p->tty) return;
    double t = now_seconds();
    if (!final && t - p->last_draw < 0.1) return;
    p->last_draw = t;
    draw_bar(p, done, total, final);
}

/* ---- kmean_anchors -------------------------------------------------------------- */

KmeanAnchorsOptions kmean_anchors_defaults(int n, int img_size, double anchor_t)
{
    KmeanAnchorsOptions o = {0};
    o.n = n;
    o.img_size = img_size;
    o.anchor_t = anchor_t;
    o.generations = 1000;
    o.kmeans_restarts = 30;
    return o;
}

/* NumPy's wh.std(0) of a float32 (n, 2) array: column sums in row order in
 * float32, mean = sum / n, squared deviations summed the same way. */
static void std_f32(const float *x, size_t n, float *sd)
{
    float mean = 0, ss = 0;
    for (size_t i = 0; i < n; i++) mean += x[i];
    mean /= (float)n;
    for (size_t i = 0; i < n; i++) {
        float d = x[i] - mean;
        ss += d * d;
    }
    *sd = sqrtf(ss / (float)n);
}

/* k-means start on the kept sizes: 0 with n centres in k (pixels), -1 when
 * YOLOv5's kmeans attempt would raise or give fewer centres. */
static int kmeans_start(const BoxWH *wh, const KmeanAnchorsOptions *o, Rng *rng, double *k, int *centres)
{
    int n = o->n;
    *centres = 0;
    if ((size_t)n > wh->n) return -1;
    float sw, sh;
    std_f32(wh->w, wh->n, &sw);
    std_f32(wh->h, wh->n, &sh);
    /* scipy's check_finite rejects what a zero spread produces (inf, NaN). */
    if (!(sw > 0) || !(sh > 0) || !isfinite(sw) || !isfinite(sh)) return -1;
    float *obs = malloc(2 * wh->n * sizeof *obs);
    if (!obs) return -1;
    for (size_t i = 0; i < wh->n; i++) {
        obs[2 * i] = wh->w[i] / sw;
        obs[2 * i + 1] = wh->h[i] / sh;
        if (!isfinite(obs[2 * i]) || !isfinite(obs[2 * i + 1])) {
            free(obs);
            return -1;
        }
    }
    KmeansOptions ko = {n, o->kmeans_restarts, 1e-5, o->kmeans_init};
    float book[2 * AUTOANCHOR_MAX], distortion;
    Error ke;
    int rc = kmeans_2d(obs, wh->n, &ko, rng, book, centres, &distortion, &ke);
    free(obs);
    if (rc || *centres != n) return -1;
    for (int j = 0; j < n; j++) {
        k[2 * j] = (double)(book[2 * j] * sw); /* float32 product, as NumPy does */
        k[2 * j + 1] = (double)(book[2 * j + 1] * sh);
    }
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int kmean_anchors_boxes(const BoxWH *wh0, const BoxWH *wh, size_t n_small, const KmeanAnchorsOptions *o,
                        Rng *rng, float *anchors, KmeanAnchorsInfo *info, Error *e)
{
    KmeanAnchorsInfo local;
    if (!info) info = &local;
    memset(info, 0, sizeof *info);
    int n = o->n;
    if (n < 1 || n > AUTOANCHOR_MAX) return err_set(e, "AutoAnchor: %d anchors asked for (1..%d)", n, AUTOANCHOR_MAX);
    if (wh0->n == 0) return err_set(e, "AutoAnchor: no labels to compute anchors from");
    if (!(o->anchor_t > 1.0)) return err_set(e, "AutoAnchor: anchor_t must be > 1, got %g", o->anchor_t);
    if (o->img_size < 1) return err_set(e, "AutoAnchor: image size must be positive, got %d", o->img_size);
    Rng fallback_rng; /* only reached when every draw was injected (tests) */
    if (!rng) {
        rng_seed(&fallback_rng, 0);
        rng = &fallback_rng;
    }
    info->n_labels = wh0->n;
    info->n_kept = wh->n;
    info->n_small = n_small;
    FILE *log = o->log;
    if (log && n_small)
        fprintf(log, PREFIX "WARNING ⚠️ Extremely small objects found: %zu of %zu labels are <3 pixels in size\n",
                n_small, wh0->n);
    if (log) fprintf(log, PREFIX "Running kmeans for %d anchors on %zu points...\n", n, wh->n);

    double k[2 * AUTOANCHOR_MAX];
    if (kmeans_start(wh, o, rng, k, &info->kmeans_centres) == 0) {
        info->used_kmeans = 1;
    } else {
        if (log) fprintf(log, PREFIX "WARNING ⚠️ switching strategies from kmeans to random init\n");
        for (int i = 0; i < 2 * n; i++) k[i] = rng_uniform(rng);
        qsort(k, 2 * (size_t)n, sizeof *k, cmp_double);
        for (int i = 0; i < 2 * n; i++) k[i] *= o->img_size;
    }
    sort_by_area(k, n);

    EvolveOptions eo = evolve_defaults(o->anchor_t);
    eo.generations = o->generations;
    eo.mutations = o->mutations;
    GaProgress progress = {0};
    if (log && o->progress) {
        progress.log = log;
        progress.tty = isatty(fileno(log));
        progress.start = progress.last_draw = now_seconds();
        eo.progress = ga_progress;
        eo.progress_ctx = &progress;
    }
    info->fitness = anchor_evolve(wh, k, n, &eo, rng);

    sort_by_area(k, n);
    info->stats = anchor_stats(wh0, k, n, o->anchor_t);
    print_results_d(log, wh0, k, n, o->img_size, o->anchor_t);
    for (int i = 0; i < 2 * n; i++) anchors[i] = (float)k[i];
    return 0;
}

int kmean_anchors(const DatasetSplit *train, const KmeanAnchorsOptions *o, Rng *rng, float *anchors,
                  KmeanAnchorsInfo *info, Error *e)
{
    BoxWH wh0, wh;
    size_t n_small = 0;
    if (anchor_label_sizes(train, o->img_size, NULL, 0.0, &wh0, &n_small, e)) return -1;
    if (anchor_label_sizes(train, o->img_size, NULL, 2.0, &wh, NULL, e)) {
        boxwh_free(&wh0);
        return -1;
    }
    int rc = kmean_anchors_boxes(&wh0, &wh, n_small, o, rng, anchors, info, e);
    boxwh_free(&wh0);
    boxwh_free(&wh);
    return rc;
}

/* ---- check_anchors ---------------------------------------------------------------- */

AutoAnchorOptions autoanchor_defaults(double anchor_t, int img_size)
{
    AutoAnchorOptions o = {0};
    o.anchor_t = anchor_t;
    o.img_size = img_size;
    o.generations = 1000;
    o.progress = 1;
    return o;
}

static void to_grid(const float *px, int nl, int na, const float *stride, float *grid)
{
    for (int l = 0; l < nl; l++)
        for (int j = 0; j < 2 * na; j++) grid[l * 2 * na + j] = px[l * 2 * na + j] / stride[l];
}

int check_anchors(const DatasetSplit *train, const float *anchors_px, int nl, int na, const float *stride,
                  const AutoAnchorOptions *o, Rng *rng, AutoAnchorResult *res, Error *e)
{
    memset(res, 0, sizeof *res);
    int n = nl * na;
    if (nl < 1 || na < 1 || nl > MODEL_MAX_LEVELS || na > MODEL_MAX_ANCHORS)
        return err_set(e, "AutoAnchor: unsupported anchor layout %d levels x %d anchors", nl, na);
    if (!(o->anchor_t > 1.0)) return err_set(e, "AutoAnchor: anchor_t must be > 1, got %g", o->anchor_t);
    if (o->img_size < 1) return err_set(e, "AutoAnchor: image size must be positive, got %d", o->img_size);
    for (int l = 0; l < nl; l++)
        if (!(stride[l] > 0)) return err_set(e, "AutoAnchor: stride of level %d is %g", l, (double)stride[l]);
    res->nl = nl;
    res->na = na;
    res->placeholder = o->placeholder;
    res->fit.aat = res->fit.bpr = res->new_fit.aat = res->new_fit.bpr = NAN;
    memcpy(res->anchors_px, anchors_px, 2 * (size_t)n * sizeof *anchors_px);
    to_grid(res->anchors_px, nl, na, stride, res->anchors_grid);
    FILE *log = o->log;
    Rng fallback_rng; /* only reached when every draw was injected (tests) */
    if (!rng) {
        rng_seed(&fallback_rng, 0);
        rng = &fallback_rng;
    }

    /* Augment-style scale jitter, one factor per image. */
    double *scale = NULL;
    if (!o->image_scale) {
        scale = malloc((train->n_images ? train->n_images : 1) * sizeof *scale);
        if (!scale) return err_set(e, "AutoAnchor: out of memory");
        for (size_t i = 0; i < train->n_images; i++) scale[i] = rng_uniform_range(rng, 0.9, 1.1);
    }
    BoxWH wh;
    int rc = anchor_label_sizes(train, o->img_size, o->image_scale ? o->image_scale : scale, 0.0, &wh, NULL, e);
    free(scale);
    if (rc) return -1;
    if (wh.n == 0) {
        if (log)
            fprintf(log, "\n" PREFIX "no labels in the training set: anchors left as they are%s\n",
                    o->placeholder ? " (WARNING ⚠️ they are placeholders: give the model real anchors)" : "");
        boxwh_free(&wh);
        return 0;
    }

    res->fit = anchor_metric(&wh, anchors_px, n, o->anchor_t);
    if (log)
        fprintf(log, "\n" PREFIX "%.2f anchors/target, %.3f Best Possible Recall (BPR). ", (double)res->fit.aat,
                (double)res->fit.bpr);
    if (!o->placeholder && res->fit.bpr > 0.98f) { /* float32 comparison, as torch makes it */
        if (log) fprintf(log, "Current anchors are a good fit to dataset ✅\n");
        boxwh_free(&wh);
        return 0;
    }
    if (log) {
        if (o->placeholder)
            fprintf(log, "Anchors are placeholders (`anchors: %d` in the model or hyp), computing them from the "
                         "dataset...\n",
                    na);
        else
            fprintf(log, "Anchors are a poor fit to dataset ⚠️, attempting to improve...\n");
    }

    KmeanAnchorsOptions ko = kmean_anchors_defaults(n, o->img_size, o->anchor_t);
    ko.generations = o->generations;
    ko.kmeans_init = o->kmeans_init;
    ko.mutations = o->mutations;
    ko.log = log;
    ko.progress = o->progress;
    if (kmean_anchors(train, &ko, rng, res->proposed_px, &res->kmeans, e)) {
        boxwh_free(&wh);
        return -1;
    }
    res->recomputed = 1;
    res->new_fit = anchor_metric(&wh, res->proposed_px, n, o->anchor_t);
    boxwh_free(&wh);

    if (o->placeholder || res->new_fit.bpr > res->fit.bpr) {
        memcpy(res->anchors_px, res->proposed_px, 2 * (size_t)n * sizeof *res->anchors_px);
        res->reversed = anchor_order_check(res->anchors_px, nl, na, stride);
        if (res->reversed && log) fprintf(log, PREFIX "Reversing anchor order\n");
        to_grid(res->anchors_px, nl, na, stride, res->anchors_grid);
        res->changed = 1;
        if (log) fprintf(log, PREFIX "Done ✅ (optional: update model *.yaml to use these anchors in the future)\n");
    } else if (log) {
        fprintf(log, PREFIX "Done ⚠️ (original anchors better than new anchors, proceeding with original anchors)\n");
    }
    return 0;
}

/* ---- on a Model -------------------------------------------------------------------- */

void model_anchors_px(const Model *m, float *anchors_px)
{
    const DetectParams *d = &m->table.detect;
    const float *grid = m->buffers + d->anchors;
    for (int l = 0; l < d->nl; l++)
        for (int j = 0; j < 2 * d->na; j++) anchors_px[l * 2 * d->na + j] = grid[l * 2 * d->na + j] * m->stride[l];
}

int model_set_anchors(Model *m, const float *anchors_px, FILE *log)
{
    const DetectParams *d = &m->table.detect;
    float px[2 * AUTOANCHOR_MAX];
    memcpy(px, anchors_px, 2 * (size_t)d->nl * d->na * sizeof *px);
    int reversed = anchor_order_check(px, d->nl, d->na, m->stride);
    if (reversed && log) fprintf(log, PREFIX "Reversing anchor order\n");
    to_grid(px, d->nl, d->na, m->stride, m->buffers + d->anchors);
    return reversed;
}

int model_check_anchors(Model *m, const DatasetSplit *train, const AutoAnchorOptions *o, Rng *rng,
                        AutoAnchorResult *res, Error *e)
{
    const DetectParams *d = &m->table.detect;
    float px[2 * AUTOANCHOR_MAX];
    model_anchors_px(m, px);
    AutoAnchorOptions opt = *o;
    opt.placeholder |= m->cfg.anchors_placeholder && anchors_are_placeholder(px, d->nl, d->na);
    if (check_anchors(train, px, d->nl, d->na, m->stride, &opt, rng, res, e)) return -1;
    if (res->changed) memcpy(m->buffers + d->anchors, res->anchors_grid, 2 * (size_t)d->nl * d->na * sizeof(float));
    return 0;
}
