/* `yolov5c anchors`: AutoAnchor on its own. Measures how well the model's
 * anchors fit a dataset's training labels (what training's check_anchors
 * logs and decides) and proposes anchors from k-means + the genetic
 * algorithm, printed as YOLOv5 prints them and as an `anchors:` block to
 * paste into a model YAML. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "anchors/autoanchor.h"
#include "cli/commands.h"
#include "data/dataset.h"
#include "hyp/hyp.h"
#include "model/model.h"
#include "model/model_config.h"

static void anchors_usage(FILE *out)
{
    fprintf(out,
            "usage: yolov5c anchors --data FILE [--img N] [--cfg MODEL.yaml | --weights W.safetensors]\n"
            "                       [--hyp FILE] [--n N] [--gen N] [--seed N] [--no-cache]\n"
            "\n"
            "Checks the model's anchors against the training labels as training does\n"
            "(YOLOv5's AutoAnchor: best possible recall at the training size, labels\n"
            "scaled by a random 0.9-1.1 per image; below 0.98 training recomputes them),\n"
            "then proposes anchors from k-means and a genetic algorithm, printed in\n"
            "YOLOv5's format and as an `anchors:` block for the model YAML.\n"
            "\n"
            "options:\n"
            "  --data FILE     data YAML (its train split is used)\n"
            "  --img N         training image size (default 640; rounded up to a multiple of the\n"
            "                  largest stride, as training does)\n"
            "  --cfg FILE      model YAML whose anchors are checked (default models/yolov5s.yaml)\n"
            "  --weights W     take the anchors from a weights file instead\n"
            "  --hyp FILE      hyperparameters: anchor_t (default 4.0) and anchors (per level, to\n"
            "                  replace the model's with placeholders as training does)\n"
            "  --n N           anchors to propose (default: the model's, levels x anchors per level;\n"
            "                  must be a multiple of the number of levels)\n"
            "  --gen N         genetic algorithm generations (default 1000)\n"
            "  --seed N        random seed (default 0): the same seed gives the same anchors\n"
            "  --no-cache      neither read nor write the dataset's label cache\n"
            "  -h, --help      show this help\n");
}

static int parse_long(const char *opt, const char *v, long lo, long hi, long *out)
{
    if (!v) {
        fprintf(stderr, "yolov5c anchors: %s needs a value\n", opt);
        return -1;
    }
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (*v == 0 || *end || errno || x < lo || x > hi) {
        fprintf(stderr, "yolov5c anchors: %s '%s' must be an integer in %ld..%ld\n", opt, v, lo, hi);
        return -1;
    }
    *out = x;
    return 0;
}

typedef struct {
    const char *data, *cfg, *weights, *hyp;
    long img, n, gen;
    unsigned long long seed;
    int use_cache;
} AnchorsOptions;

/* The anchors a training run would start from, in pixels (nl x na x 2). */
typedef struct {
    int nl, na;
    float stride[MODEL_MAX_LEVELS];
    float px[2 * AUTOANCHOR_MAX];
    int placeholder;
    char source[600];
} ModelAnchors;

static int load_model_anchors(const AnchorsOptions *o, const Hyp *hyp, ModelAnchors *ma, Error *e)
{
    memset(ma, 0, sizeof *ma);
    if (o->weights) {
        Model m;
        memset(&m, 0, sizeof m);
        if (model_create_from_weights(&m, o->weights, e)) return -1;
        ma->nl = m.table.detect.nl;
        ma->na = m.table.detect.na;
        memcpy(ma->stride, m.stride, sizeof ma->stride);
        model_anchors_px(&m, ma->px);
        ma->placeholder = m.cfg.anchors_placeholder && anchors_are_placeholder(ma->px, ma->nl, ma->na);
        snprintf(ma->source, sizeof ma->source, "%s", o->weights);
        model_free(&m);
    } else {
        ModelConfig cfg;
        if (model_config_load(o->cfg, 0, &cfg, e)) return -1;
        ma->nl = cfg.nl;
        ma->na = cfg.na;
        memcpy(ma->stride, cfg.stride, sizeof ma->stride);
        float grid[2 * AUTOANCHOR_MAX];
        model_config_anchors_grid(&cfg, grid);
        for (int l = 0; l < ma->nl; l++)
            for (int j = 0; j < 2 * ma->na; j++) ma->px[l * 2 * ma->na + j] = grid[l * 2 * ma->na + j] * ma->stride[l];
        ma->placeholder = cfg.anchors_placeholder;
        snprintf(ma->source, sizeof ma->source, "%s", o->cfg);
        model_config_free(&cfg);
    }
    if (hyp->anchors > 0) {
        /* train.py builds the model with anchors=hyp['anchors']: placeholders. */
        if (hyp->anchors > MODEL_MAX_ANCHORS)
            return err_set(e, "%s: anchors %d per level (at most %d)", hyp->source, hyp->anchors, MODEL_MAX_ANCHORS);
        printf("Overriding model.yaml anchors with anchors=%d\n", hyp->anchors);
        ma->na = hyp->anchors;
        for (int l = 0; l < ma->nl; l++)
            for (int j = 0; j < 2 * ma->na; j++) ma->px[l * 2 * ma->na + j] = (float)j;
        ma->placeholder = 1;
    }
    return 0;
}

/* YOLOv5's check_img_size: a multiple of gs = max(largest stride, 32), at least 2 gs. */
static long training_size(long img, const ModelAnchors *ma)
{
    int gs = 32;
    for (int l = 0; l < ma->nl; l++)
        if ((int)ma->stride[l] > gs) gs = (int)ma->stride[l];
    long size = (img + gs - 1) / gs * gs;
    if (size < 2 * gs) size = 2 * gs;
    if (size != img) printf("WARNING ⚠️ --img-size %ld must be multiple of max stride %d, updating to %ld\n", img, gs, size);
    return size;
}

static void print_anchor_list(const float *px, int n)
{
    for (int i = 0; i < n; i++) printf("%.0f,%.0f%s", rint(px[2 * i]), rint(px[2 * i + 1]), i + 1 < n ? ", " : "");
}

/* The anchors: block of a model YAML, n / nl anchors per level, P<k>/<stride> comments. */
static void print_yaml_block(const float *px, int n, const ModelAnchors *ma, long img, double anchor_t)
{
    int per = n / ma->nl;
    printf("\n# anchors for the model YAML (w,h in input pixels; img_size %ld, anchor_t %g):\n", img, anchor_t);
    printf("anchors:\n");
    for (int l = 0; l < ma->nl; l++) {
        printf("  - [");
        for (int a = 0; a < per; a++) {
            const float *p = px + 2 * (l * per + a);
            printf("%.0f,%.0f%s", rint(p[0]), rint(p[1]), a + 1 < per ? ", " : "");
        }
        int level = (int)lrint(log2((double)ma->stride[l]));
        printf("]  # P%d/%.0f\n", level, (double)ma->stride[l]);
    }
}

static int run_anchors(const AnchorsOptions *o)
{
    Error e = {{0}};
    Hyp hyp;
    hyp_default(&hyp);
    if (o->hyp && hyp_load(&hyp, o->hyp, stderr, &e)) {
        fprintf(stderr, "yolov5c anchors: %s\n", e.msg);
        return 1;
    }
    ModelAnchors ma;
    if (load_model_anchors(o, &hyp, &ma, &e)) {
        fprintf(stderr, "yolov5c anchors: %s\n", e.msg);
        return 1;
    }
    int n_model = ma.nl * ma.na, n = o->n > 0 ? (int)o->n : n_model;
    if (n % ma.nl || n > AUTOANCHOR_MAX || n / ma.nl > MODEL_MAX_ANCHORS) {
        fprintf(stderr, "yolov5c anchors: --n %d must be a multiple of the model's %d levels (at most %d per level)\n",
                n, ma.nl, MODEL_MAX_ANCHORS);
        return 2;
    }
    long img = training_size(o->img, &ma);

    ScanOptions so = {o->use_cache, 0, 0};
    Dataset ds;
    if (dataset_open(o->data, 1u << SPLIT_TRAIN, &so, &ds, &e)) {
        fprintf(stderr, "yolov5c anchors: %s\n", e.msg);
        return 1;
    }
    const DatasetSplit *train = &ds.split[SPLIT_TRAIN];
    printf("train: %zu images, %zu labels (%s)\n", train->n_images, train->labels.n, o->data);
    printf("model: %s, %d levels x %d anchors, strides", ma.source, ma.nl, ma.na);
    for (int l = 0; l < ma.nl; l++) printf("%s%.0f", l ? "," : " ", (double)ma.stride[l]);
    printf("; img_size %ld, anchor_t %g\n", img, hyp.anchor_t);
    printf("model anchors%s: ", ma.placeholder ? " (placeholders)" : "");
    print_anchor_list(ma.px, n_model);
    printf("\n");
    fflush(stdout);

    /* The jitter is drawn here so the proposal can be measured on the very
     * labels the check measured. */
    Rng rng;
    rng_seed(&rng, o->seed);
    double *scale = malloc((train->n_images ? train->n_images : 1) * sizeof *scale);
    int rc = 1;
    BoxWH wh = {0};
    if (!scale) {
        fprintf(stderr, "yolov5c anchors: out of memory\n");
        goto done;
    }
    for (size_t i = 0; i < train->n_images; i++) scale[i] = rng_uniform_range(&rng, 0.9, 1.1);

    AutoAnchorOptions ao = autoanchor_defaults(hyp.anchor_t, (int)img);
    ao.generations = (int)o->gen;
    ao.placeholder = ma.placeholder;
    ao.image_scale = scale;
    ao.log = stdout;
    AutoAnchorResult res;
    if (check_anchors(train, ma.px, ma.nl, ma.na, ma.stride, &ao, &rng, &res, &e)) {
        fprintf(stderr, "yolov5c anchors: %s\n", e.msg);
        goto done;
    }
    if (isnan(res.fit.bpr)) { /* no labels: nothing to propose */
        rc = 0;
        goto done;
    }

    float proposed[2 * AUTOANCHOR_MAX];
    AnchorFit new_fit;
    if (res.recomputed && n == n_model) {
        memcpy(proposed, res.proposed_px, 2 * (size_t)n * sizeof *proposed);
        new_fit = res.new_fit;
    } else {
        printf("AutoAnchor: computing %d anchors for the proposal\n", n);
        KmeanAnchorsOptions ko = kmean_anchors_defaults(n, (int)img, hyp.anchor_t);
        ko.generations = (int)o->gen;
        ko.log = stdout;
        ko.progress = 1;
        if (kmean_anchors(train, &ko, &rng, proposed, NULL, &e)) {
            fprintf(stderr, "yolov5c anchors: %s\n", e.msg);
            goto done;
        }
        if (anchor_label_sizes(train, (int)img, scale, 0.0, &wh, NULL, &e)) {
            fprintf(stderr, "yolov5c anchors: %s\n", e.msg);
            goto done;
        }
        new_fit = anchor_metric(&wh, proposed, n, hyp.anchor_t);
    }
    printf("\nproposed anchors: %.2f anchors/target, %.3f Best Possible Recall (BPR) (current anchors: %.2f, %.3f)\n",
           (double)new_fit.aat, (double)new_fit.bpr, (double)res.fit.aat, (double)res.fit.bpr);
    if (n != n_model)
        printf("training with this model keeps its %d anchors per level; use the block below in a model YAML\n",
               ma.na);
    else if (res.changed)
        printf("training would replace the model's anchors with these\n");
    else if (res.recomputed)
        printf("training would keep the model's anchors (the proposal's BPR is not higher)\n");
    else
        printf("training would keep the model's anchors (BPR > 0.98)\n");
    print_yaml_block(proposed, n, &ma, img, hyp.anchor_t);
    rc = 0;
done:
    boxwh_free(&wh);
    free(scale);
    dataset_close(&ds);
    return rc;
}

int cmd_anchors(int argc, char **argv)
{
    AnchorsOptions o = {.cfg = "models/yolov5s.yaml", .img = 640, .n = 0, .gen = 1000, .seed = 0, .use_cache = 1};
    int cfg_given = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            anchors_usage(stdout);
            return 0;
        } else if (!strcmp(a, "--data") || !strcmp(a, "--cfg") || !strcmp(a, "--weights") || !strcmp(a, "--hyp")) {
            if (!v) {
                fprintf(stderr, "yolov5c anchors: %s needs a value\n", a);
                return 2;
            }
            if (!strcmp(a, "--data")) o.data = v;
            else if (!strcmp(a, "--cfg")) o.cfg = v, cfg_given = 1;
            else if (!strcmp(a, "--weights")) o.weights = v;
            else o.hyp = v;
            i++;
        } else if (!strcmp(a, "--img") || !strcmp(a, "--imgsz") || !strcmp(a, "--img-size")) {
            if (parse_long(a, v, 32, 8192, &o.img)) return 2;
            i++;
        } else if (!strcmp(a, "--n")) {
            if (parse_long(a, v, 1, AUTOANCHOR_MAX, &o.n)) return 2;
            i++;
        } else if (!strcmp(a, "--gen")) {
            if (parse_long(a, v, 0, 1000000, &o.gen)) return 2;
            i++;
        } else if (!strcmp(a, "--seed")) {
            long s;
            if (parse_long(a, v, 0, LONG_MAX, &s)) return 2;
            o.seed = (unsigned long long)s, i++;
        } else if (!strcmp(a, "--no-cache")) {
            o.use_cache = 0;
        } else {
            fprintf(stderr, "yolov5c anchors: unknown option '%s'\n\n", a);
            anchors_usage(stderr);
            return 2;
        }
    }
    if (!o.data) {
        fprintf(stderr, "yolov5c anchors: --data FILE is required\n\n");
        anchors_usage(stderr);
        return 2;
    }
    if (cfg_given && o.weights) {
        fprintf(stderr, "yolov5c anchors: give --cfg or --weights, not both\n");
        return 2;
    }
    return run_anchors(&o);
}
