/* The validation runner (val.h): val.py's loop over the rect val loader. */
#include "val/val.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "data/fsutil.h"
#include "data/loader.h"
#include "eval/box_map.h"
#include "eval/match.h"
#include "eval/metrics_report.h"
#include "eval/nms.h"
#include "eval/save_results.h"
#include "val/path_stem.h"
#include "val/val_plots.h"

struct Validator {
    ValOptions opt;
    const DatasetSplit *split;
    Loader *loader;
    int nb;           /* batches */
    int max_h, max_w; /* largest batch shape (arena reservation) */
};

void val_options_default(ValOptions *o)
{
    memset(o, 0, sizeof *o);
    o->batch_size = 32;
    o->img_size = 640;
    o->stride = 32;
    NmsOptions n = nms_options_val();
    o->conf_thres = n.conf_thres;
    o->iou_thres = n.iou_thres;
    o->max_det = n.max_det;
    o->workers = 2;
    o->task = "val";
}

void val_result_free(ValResult *r)
{
    val_metrics_free(&r->metrics);
    confusion_free(&r->confusion);
    memset(r, 0, sizeof *r);
}

void val_result_values(const ValResult *r, double *out)
{
    out[0] = r->metrics.mp;
    out[1] = r->metrics.mr;
    out[2] = r->metrics.map50;
    out[3] = r->metrics.map;
    out[4] = r->box;
    out[5] = r->obj;
    out[6] = r->cls;
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int check_options(const ValOptions *o, Error *e)
{
    if (o->batch_size < 1) return err_set(e, "val: batch size %d must be >= 1", o->batch_size);
    if (o->stride < 1) return err_set(e, "val: stride %d must be >= 1", o->stride);
    if (o->img_size < o->stride || o->img_size % o->stride)
        return err_set(e, "val: image size %d must be a positive multiple of the stride %d", o->img_size, o->stride);
    if (!(o->conf_thres >= 0.0 && o->conf_thres <= 1.0))
        return err_set(e, "val: conf_thres %g must be in [0, 1]", o->conf_thres);
    if (!(o->iou_thres >= 0.0 && o->iou_thres <= 1.0))
        return err_set(e, "val: iou_thres %g must be in [0, 1]", o->iou_thres);
    if (o->max_det < 1) return err_set(e, "val: max_det %d must be >= 1", o->max_det);
    if (o->workers < 0) return err_set(e, "val: workers %d must be >= 0", o->workers);
    if ((o->save_txt || o->plots || o->confusion_csv) && !o->save_dir)
        return err_set(e, "val: --save-txt, plots and the confusion matrix need a save directory");
    return 0;
}

int validator_open(Validator **out, const ValOptions *opt, const DatasetSplit *split, Error *e)
{
    *out = NULL;
    if (check_options(opt, e) != 0) return -1;
    Validator *v = calloc(1, sizeof *v);
    if (!v) return err_set(e, "val: out of memory");
    v->opt = *opt;
    v->split = split;
    LoaderOptions lo = {0};
    lo.batch_size = opt->batch_size;
    lo.img_size = opt->img_size;
    lo.stride = opt->stride;
    lo.augment = 0;
    lo.rect = 1;
    lo.pad = 0.5f;
    lo.shuffle = 0;
    lo.workers = opt->workers;
    lo.cache_ram = opt->cache_ram;
    lo.seed = 0;
    lo.hyp = NULL;
    lo.log = opt->warn;
    if (loader_open(&v->loader, split, &lo, e) != 0) {
        free(v);
        return err_prefix(e, "val loader");
    }
    v->nb = loader_batches(v->loader);
    for (int b = 0; b < v->nb; b++) {
        int h, w;
        if (loader_batch_shape(v->loader, b, &h, &w) == 0) {
            if (h > v->max_h) v->max_h = h;
            if (w > v->max_w) v->max_w = w;
        }
    }
    *out = v;
    return 0;
}

void validator_close(Validator *v)
{
    if (!v) return;
    loader_close(v->loader);
    free(v);
}

/* Per-run scratch, sized for one batch. */
typedef struct {
    float *det;      /* batch x max_det x NMS_ROW */
    int *counts;
    float *native;   /* max_det x NMS_ROW */
    uint8_t *correct;/* max_det x MATCH_NIOU */
    float *labels;   /* rows (cls, cx, cy, w, h) of one image, then native */
    float *labels_native;
    int *label_cls;
    size_t label_cap;
    float *targets;  /* the batch's targets (single_cls: class 0) */
    size_t target_cap;
} Scratch;

static void scratch_free(Scratch *s)
{
    free(s->det);
    free(s->counts);
    free(s->native);
    free(s->correct);
    free(s->labels);
    free(s->labels_native);
    free(s->label_cls);
    free(s->targets);
}

static int grow_labels(Scratch *s, size_t need)
{
    if (need <= s->label_cap) return 0;
    size_t cap = s->label_cap ? s->label_cap : 64;
    while (cap < need) cap *= 2;
    float *a = realloc(s->labels, cap * 5 * sizeof *a);
    if (a) s->labels = a;
    float *b = realloc(s->labels_native, cap * 5 * sizeof *b);
    if (b) s->labels_native = b;
    int *c = realloc(s->label_cls, cap * sizeof *c);
    if (c) s->label_cls = c;
    if (!a || !b || !c) return -1;
    s->label_cap = cap;
    return 0;
}

static int grow_targets(Scratch *s, size_t need)
{
    if (need <= s->target_cap) return 0;
    size_t cap = s->target_cap ? s->target_cap : 256;
    while (cap < need) cap *= 2;
    float *t = realloc(s->targets, cap * 6 * sizeof *t);
    if (!t) return -1;
    s->targets = t;
    s->target_cap = cap;
    return 0;
}

/* Writes "cls cx cy w h[ conf]" rows of one image to save_dir/labels/<stem>.txt
 * (appending, as val.py does). */
static int save_image_txt(const ValOptions *o, const char *image_path, const float *native, int n, int h0, int w0,
                          Error *e)
{
    char stem[1024], path[4096];
    path_stem(image_path, stem, sizeof stem);
    if ((size_t)snprintf(path, sizeof path, "%s/labels/%s.txt", o->save_dir, stem) >= sizeof path)
        return err_set(e, "%s/labels/%s.txt: path too long", o->save_dir, stem);
    FILE *f = fopen(path, "a");
    if (!f) return err_set(e, "%s: cannot open for writing", path);
    save_txt_rows(f, native, n, h0, w0, o->save_conf, 0);
    int bad = ferror(f);
    if (fclose(f) != 0 || bad) return err_set(e, "%s: write failed", path);
    return 0;
}

/* The COCO image_id of a dataset image: its COCO id for COCO-format splits
 * (what the split's annotation file calls it), else val.py's rule on the
 * file stem (an integer when all digits, else the string). */
static int image_id_json(const DatasetSplit *split, const DatasetImage *im, char *buf, size_t cap, Error *e)
{
    if (split->is_coco && im->coco_id >= 0) {
        snprintf(buf, cap, "%lld", (long long)im->coco_id);
        return 0;
    }
    char stem[1024];
    path_stem(im->path, stem, sizeof stem);
    if (coco_image_id_json(stem, buf, cap, e) != 0) return err_prefix(e, "%s: image id", im->path);
    return 0;
}

/* Everything val.py does with one image's NMS output after the forward. */
static int process_image(Validator *v, const Batch *b, int si, float *det, int npr, ValStats *stats,
                         ValResult *r, CocoResultsWriter *json, Scratch *s, Error *e)
{
    const ValOptions *o = &v->opt;
    const DatasetImage *im = &v->split->images[b->indices[si]];
    const int h0 = b->orig_hw[si][0], w0 = b->orig_hw[si][1];
    const float *rp = b->ratio_pad[si];
    BoxMapping map = boxes_mapping_ratio_pad(rp[0], rp[1], rp[2], rp[3]);

    /* labels of this image: (cls, cx, cy, w, h) normalised */
    int nl = 0;
    for (int t = 0; t < b->n_targets; t++)
        if ((int)s->targets[(size_t)t * 6] == si) nl++;
    if (grow_labels(s, (size_t)nl + 1) != 0) return err_set(e, "val: out of memory");
    nl = 0;
    for (int t = 0; t < b->n_targets; t++) {
        const float *row = s->targets + (size_t)t * 6;
        if ((int)row[0] != si) continue;
        memcpy(s->labels + (size_t)nl * 5, row + 1, 5 * sizeof(float));
        s->label_cls[nl] = (int)row[1];
        nl++;
    }
    if (nl) boxes_labels_to_native(s->labels, (size_t)nl, b->h, b->w, map, h0, w0, s->labels_native);

    if (npr == 0) {
        if (val_stats_add_image(stats, NULL, 0, NULL, s->label_cls, nl, e) != 0) return -1;
        if (nl && confusion_process_batch(&r->confusion, NULL, 0, s->labels_native, nl, e) != 0) return -1;
        return 0;
    }
    if (o->single_cls)
        for (int k = 0; k < npr; k++) det[(size_t)k * NMS_ROW + 5] = 0.0f;
    memcpy(s->native, det, (size_t)npr * NMS_ROW * sizeof *det);
    boxes_scale(s->native, (size_t)npr, NMS_ROW, map, h0, w0);
    if (nl) {
        if (match_detections(s->native, npr, s->labels_native, nl, s->correct, e) != 0) return -1;
        if (confusion_process_batch(&r->confusion, s->native, npr, s->labels_native, nl, e) != 0) return -1;
    }
    if (val_stats_add_image(stats, det, npr, nl ? s->correct : NULL, s->label_cls, nl, e) != 0) return -1;
    if (o->save_txt && save_image_txt(o, im->path, s->native, npr, h0, w0, e) != 0) return -1;
    if (json) {
        char id[1100];
        if (image_id_json(v->split, im, id, sizeof id, e) != 0) return -1;
        if (coco_results_add(json, id, s->native, npr, o->class_map, o->n_class_map, e) != 0)
            return err_prefix(e, "%s", o->json_path);
        r->json_rows += npr;
    }
    return 0;
}

static int run_batches(Validator *v, Model *model, Loss *loss, ValStats *stats, ValResult *r,
                       CocoResultsWriter *json, Scratch *s, Error *e)
{
    const ValOptions *o = &v->opt;
    NmsOptions nopt = nms_options_val();
    nopt.conf_thres = o->conf_thres;
    nopt.iou_thres = o->iou_thres;
    nopt.max_det = o->max_det;
    nopt.multi_label = 1;
    nopt.agnostic = o->single_cls;
    float loss_sum[3] = {0.0f, 0.0f, 0.0f}; /* float32, as val.py's loss tensor */
    double t_pre = 0.0, t_inf = 0.0, t_nms = 0.0;

    if (loader_start_epoch(v->loader, 0, e) != 0) return err_prefix(e, "val loader");
    for (;;) {
        double t0 = now_seconds();
        const Batch *b;
        int got = loader_next(v->loader, &b, e);
        if (got < 0) return err_prefix(e, "val");
        if (got == 0) break;
        double t1 = now_seconds();
        t_pre += t1 - t0;

        if (model_forward(model, b->images, b->n, b->h, b->w, MODEL_EVAL, e) != 0)
            return err_prefix(e, "val batch %d (%dx%d)", b->batch_index, b->h, b->w);
        double t2 = now_seconds();
        t_inf += t2 - t1;

        if (grow_targets(s, (size_t)b->n_targets + 1) != 0) return err_set(e, "val: out of memory");
        memcpy(s->targets, b->targets, (size_t)b->n_targets * 6 * sizeof *s->targets);
        if (o->single_cls)
            for (int t = 0; t < b->n_targets; t++) s->targets[(size_t)t * 6 + 1] = 0.0f;

        if (loss) {
            const DetectOutput *out = &model->out;
            LossInput in = {0};
            in.batch = b->n;
            for (int l = 0; l < out->nl && l < LOSS_MAX_LEVELS; l++) {
                in.ny[l] = out->h[l];
                in.nx[l] = out->w[l];
                in.pred[l] = out->pred[l];
            }
            in.targets = b->n_targets ? s->targets : NULL;
            in.nt = b->n_targets;
            LossResult lr;
            if (loss_compute(loss, &in, NULL, &lr, e) != 0) return err_prefix(e, "val loss, batch %d", b->batch_index);
            loss_sum[0] += (float)lr.box;
            loss_sum[1] += (float)lr.obj;
            loss_sum[2] += (float)lr.cls;
        }

        double t3 = now_seconds();
        const int no = model->out.no;
        if (nms_batch(model->out.decoded, b->n, (int)model->out.n_boxes, no, &nopt, s->det, s->counts, e) != 0)
            return err_prefix(e, "val NMS");
        t_nms += now_seconds() - t3;

        for (int si = 0; si < b->n; si++) {
            float *det = s->det + (size_t)si * (size_t)o->max_det * NMS_ROW;
            if (process_image(v, b, si, det, s->counts[si], stats, r, json, s, e) != 0) return -1;
        }
        if (o->plots && o->save_dir && b->batch_index < VAL_PLOT_BATCHES)
            val_plot_batch(o->save_dir, v->split, b, s->targets, s->det, s->counts, o->max_det,
                           (const char *const *)model->names, model->nc, o->warn);
        r->batches++;
    }
    if (r->batches > 0) {
        r->box = loss_sum[0] / (float)r->batches;
        r->obj = loss_sum[1] / (float)r->batches;
        r->cls = loss_sum[2] / (float)r->batches;
    }
    double seen = stats->seen > 0 ? (double)stats->seen : 1.0;
    r->pre_ms = t_pre / seen * 1e3;
    r->inference_ms = t_inf / seen * 1e3;
    r->nms_ms = t_nms / seen * 1e3;
    return 0;
}

static int write_confusion_csv(const ValOptions *o, const ValResult *r, const Model *model, Error *e)
{
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/confusion_matrix.csv", o->save_dir) >= sizeof path)
        return err_set(e, "%s/confusion_matrix.csv: path too long", o->save_dir);
    FILE *f = fopen(path, "w");
    if (!f) return err_set(e, "%s: cannot open for writing", path);
    const char *single[1] = {"item"};
    const char *const *names = o->single_cls ? single : (const char *const *)model->names;
    int rc = confusion_write_csv(&r->confusion, names, f, e);
    if (fclose(f) != 0 && rc == 0) rc = err_set(e, "%s: write failed", path);
    return rc;
}

int validator_run(Validator *v, Model *model, Loss *loss, ValResult *r, Error *e)
{
    memset(r, 0, sizeof *r);
    const ValOptions *o = &v->opt;
    const int nc = o->single_cls ? 1 : model->nc;
    if (model_reserve(model, o->batch_size, v->max_h, v->max_w, MODEL_EVAL, e) != 0) return err_prefix(e, "val");
    if (confusion_init(&r->confusion, nc, e) != 0) return -1;

    Scratch s = {0};
    s.det = malloc((size_t)o->batch_size * (size_t)o->max_det * NMS_ROW * sizeof *s.det);
    s.counts = calloc((size_t)o->batch_size, sizeof *s.counts);
    s.native = malloc((size_t)o->max_det * NMS_ROW * sizeof *s.native);
    s.correct = malloc((size_t)o->max_det * MATCH_NIOU);
    ValStats stats;
    val_stats_init(&stats);
    int rc = 0;
    if (!s.det || !s.counts || !s.native || !s.correct) rc = err_set(e, "val: out of memory");

    if (rc == 0 && o->save_txt) {
        char dir[4096];
        snprintf(dir, sizeof dir, "%s/labels", o->save_dir);
        if (fs_mkdirs(dir, e) != 0) rc = -1;
    }
    FILE *json_f = NULL;
    CocoResultsWriter json;
    if (rc == 0 && o->json_path) {
        json_f = fopen(o->json_path, "w");
        if (!json_f) rc = err_set(e, "%s: cannot open for writing", o->json_path);
        else coco_results_begin(&json, json_f);
    }
    if (rc == 0) rc = run_batches(v, model, loss, &stats, r, json_f ? &json : NULL, &s, e);
    if (json_f) {
        if (rc == 0 && coco_results_end(&json, e) != 0) rc = err_prefix(e, "%s", o->json_path);
        if (fclose(json_f) != 0 && rc == 0) rc = err_set(e, "%s: write failed", o->json_path);
    }
    r->seen = stats.seen;
    if (rc == 0 && val_metrics_compute(&stats, nc, &r->metrics, e) != 0) rc = err_prefix(e, "val metrics");
    if (rc == 0 && o->out) {
        report_header(o->out);
        int per_class = report_per_class_wanted(o->verbose, nc, o->training);
        report_results(o->out, o->warn, &r->metrics, r->seen, (const char *const *)model->names, per_class,
                       o->task);
        if (!o->training) report_speed(o->out, r->pre_ms, r->inference_ms, r->nms_ms, o->batch_size, o->img_size);
        fflush(o->out);
    }
    if (rc == 0 && o->confusion_csv) rc = write_confusion_csv(o, r, model, e);
    val_stats_free(&stats);
    scratch_free(&s);
    if (rc != 0) val_result_free(r);
    return rc;
}

int val_run(const ValOptions *opt, Model *model, Loss *loss, const DatasetSplit *split, ValResult *r, Error *e)
{
    memset(r, 0, sizeof *r);
    Validator *v;
    if (validator_open(&v, opt, split, e) != 0) return -1;
    int rc = validator_run(v, model, loss, r, e);
    validator_close(v);
    return rc;
}
