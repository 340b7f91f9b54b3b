/* `yolov5c info`: resolves a model YAML and prints what YOLOv5 prints when it
 * builds the model: the parse_model layer table and the model summary line
 * (layers, parameters, gradients, GFLOPs at --img). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ckpt/safetensors.h"
#include "cli/commands.h"
#include "model/flops.h"
#include "model/model.h"
#include "model/model_summary.h"
#include "model/model_config.h"
#include "model/param_table.h"

typedef struct {
    const char *cfg;
    const char *weights;
    int nc;
    int img;
    int list_params;
} InfoOptions;

static void info_usage(FILE *out)
{
    fprintf(out, "usage: yolov5c info (--cfg MODEL.yaml | --weights W.safetensors) [--nc N] [--img SIZE] [--params]\n\n"
                 "Resolves a model YAML as YOLOv5 does and prints its layer table and summary.\n"
                 "With --weights, the model comes from the file's model_yaml metadata (or --cfg)\n"
                 "and every tensor is checked against the model's state_dict layout.\n\n"
                 "options:\n"
                 "  --cfg PATH     model YAML (e.g. models/yolov5s.yaml)\n"
                 "  --weights W    yolov5c weights (.safetensors, see scripts/pt2safetensors.py)\n"
                 "  --nc N         number of classes, replacing the YAML's (or the weights') nc\n"
                 "  --img SIZE     image size for the GFLOPs figure (default 640)\n"
                 "  --params       also list every state_dict entry: key, shape, kind, optimizer group\n"
                 "  -h, --help     show this help\n");
}

/* Prints "yolov5c info: <reason>" and the usage to stderr; returns 2. */
static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "yolov5c info: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n\n");
    va_end(ap);
    info_usage(stderr);
    return 2;
}

static int parse_positive(const char *text, int max, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || end == text || *end || v < 1 || v > max) return -1;
    *out = (int)v;
    return 0;
}

/* Returns 0 to run, 1 when help was printed, 2 on a usage error (printed). */
static int parse_options(int argc, char **argv, InfoOptions *o)
{
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
            info_usage(stdout);
            return 1;
        }
        if (!strcmp(arg, "--params")) {
            o->list_params = 1;
            continue;
        }
        /* Options with a value: "--name value" or "--name=value". */
        static const char *const valued[] = {"--cfg", "--nc", "--img", "--weights"};
        const char *name = NULL, *value = NULL;
        for (size_t k = 0; k < sizeof valued / sizeof valued[0]; k++) {
            size_t len = strlen(valued[k]);
            if (!strcmp(arg, valued[k])) {
                name = valued[k];
                if (i + 1 >= argc) return usage_error("option %s needs a value", name);
                value = argv[++i];
            } else if (!strncmp(arg, valued[k], len) && arg[len] == '=') {
                name = valued[k];
                value = arg + len + 1;
            }
        }
        if (!name) return usage_error("unknown option '%s'", arg);
        if (!strcmp(name, "--cfg")) {
            if (!*value) return usage_error("--cfg needs a path");
            o->cfg = value;
        } else if (!strcmp(name, "--weights")) {
            o->weights = value;
        } else if (!strcmp(name, "--nc")) {
            if (parse_positive(value, 1000000, &o->nc))
                return usage_error("--nc must be a positive integer, got '%s'", value);
        } else if (parse_positive(value, 1 << 16, &o->img)) {
            return usage_error("--img must be a positive integer up to 65536, got '%s'", value);
        }
    }
    if (!o->cfg && !o->weights) return usage_error("--cfg or --weights is required");
    return 0;
}

static void print_params(const ParamTable *t)
{
    static const char *const kinds[] = {"param", "buffer", "int64"};
    static const char *const groups[] = {"decay", "bn-weight", "bias"};
    printf("\n%5s %-44s %-18s %-7s %-10s %10s\n", "entry", "key", "shape", "kind", "group", "offset");
    for (int i = 0; i < t->n_entries; i++) {
        const ParamEntry *e = &t->entries[i];
        char shape[64];
        param_entry_shape_str(e, shape, sizeof shape);
        printf("%5d %-44s %-18s %-7s %-10s %10zu\n", i, e->key, shape, kinds[e->kind],
               e->group >= 0 ? groups[e->group] : "-", e->offset);
    }
    printf("%d entries: %d parameter tensors (%zu floats; groups decay %d, bn-weight %d, bias %d), "
           "%d buffers (%zu floats, %zu int64)\n",
           t->n_entries, t->n_param_tensors, t->n_params, t->group_tensors[PARAM_GROUP_DECAY],
           t->group_tensors[PARAM_GROUP_BN_WEIGHT], t->group_tensors[PARAM_GROUP_BIAS], t->n_buffer_tensors,
           t->n_buffers, t->n_counters);
}

/* The model for --weights: --cfg when given, else the file's model_yaml
 * metadata; nc from --nc, else the file's nc. */
static int load_weights_model(const InfoOptions *o, const SafeTensors *st, ModelConfig *cfg, Error *err)
{
    int nc = o->nc;
    const char *meta_nc = st_meta(st, "nc");
    if (!nc && meta_nc) {
        char *end;
        long v = strtol(meta_nc, &end, 10);
        if (*end || v < 1 || v > 1000000) return err_set(err, "%s: metadata nc '%s' is not a class count", st->path, meta_nc);
        nc = (int)v;
    }
    if (o->cfg) return model_config_load(o->cfg, nc, cfg, err);
    const char *yaml = st_meta(st, "model_yaml");
    if (!yaml) return err_set(err, "%s: no model_yaml metadata; pass --cfg", st->path);
    char source[600];
    snprintf(source, sizeof source, "%s (model_yaml metadata)", st->path);
    if (model_config_parse_string(yaml, source, nc, cfg, err)) return -1;
    snprintf(cfg->name, sizeof cfg->name, "Model"); /* as YOLOv5 names a model built from a dict */
    return 0;
}

int cmd_info(int argc, char **argv)
{
    InfoOptions o = {.img = 640};
    int rc = parse_options(argc, argv, &o);
    if (rc) return rc == 1 ? 0 : rc;
    Error err = {{0}};
    SafeTensors st = {0};
    ModelConfig cfg;
    ParamTable t;
    if (o.weights && st_read(&st, o.weights, &err)) {
        fprintf(stderr, "yolov5c info: %s\n", err.msg);
        return 1;
    }
    if (o.weights ? load_weights_model(&o, &st, &cfg, &err) : model_config_load(o.cfg, o.nc, &cfg, &err)) {
        fprintf(stderr, "yolov5c info: %s\n", err.msg);
        st_free(&st);
        return 1;
    }
    /* The tensors are checked as model_load_weights checks them, without
     * allocating the model's weights. */
    if (param_table_build(&cfg, &t, &err) || (o.weights && model_weights_check_tensors(&t, &st, &err))) {
        fprintf(stderr, "yolov5c info: %s\n", err.msg);
        param_table_free(&t);
        model_config_free(&cfg);
        st_free(&st);
        return 1;
    }
    if (cfg.nc != cfg.nc_yaml) printf("Overriding model.yaml nc=%d with nc=%d\n", cfg.nc_yaml, cfg.nc);
    model_print_layer_table(&cfg, &t, stdout);
    float anchors_grid[MODEL_MAX_LEVELS * MODEL_MAX_ANCHORS * 2];
    if (model_config_anchors_grid(&cfg, anchors_grid)) printf("AutoAnchor: Reversing anchor order\n");

    /* All parameters train, so gradients == parameters (as in YOLOv5 at build time). */
    printf("%s summary: %d layers, %zu parameters, %zu gradients", cfg.name, model_module_count(&cfg), t.n_params,
           t.n_params);
    double gflops = model_gflops(&cfg, o.img, o.img);
    if (gflops >= 0) printf(", %.1f GFLOPs", gflops);
    printf("\n");
    if (o.weights) {
        const char *from = st_meta(&st, "weights_from"), *epoch = st_meta(&st, "epoch");
        printf("weights %s: all %d state_dict tensors present with matching shapes", o.weights, st.count);
        if (from) printf(" (from ckpt['%s']%s%s)", from, epoch ? ", epoch " : "", epoch ? epoch : "");
        printf("\n");
    }
    if (o.list_params) print_params(&t);

    param_table_free(&t);
    model_config_free(&cfg);
    st_free(&st);
    return 0;
}
