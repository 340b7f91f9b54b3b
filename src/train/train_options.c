/* `yolov5c train` options: defaults, argv parsing, JSON and YAML forms
 * (train_options.h). */
#include "train/train_options.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/gemm.h"
#include "data/fsutil.h"
#include "optim/pyfloat.h"

const char *cache_mode_name(CacheMode c)
{
    switch (c) {
    case CACHE_NONE: return "";
    case CACHE_RAM: return "ram";
    case CACHE_DISK: return "disk";
    case CACHE_VAL: return "val";
    }
    return "?";
}

void train_options_default(TrainOptions *o)
{
    memset(o, 0, sizeof *o);
    snprintf(o->data, sizeof o->data, "data/shapes.yaml");
    snprintf(o->hyp, sizeof o->hyp, "hyps/hyp.scratch-low.yaml");
    o->epochs = 100;
    o->batch_size = 16;
    o->imgsz = 640;
    o->optimizer = OPTIM_SGD;
    o->workers = 8;
    snprintf(o->project, sizeof o->project, "runs/train");
    snprintf(o->name, sizeof o->name, "exp");
    o->label_smoothing = -1.0;
    o->patience = 100;
    o->freeze[0] = 0;
    o->n_freeze = 1;
    o->save_period = -1;
    o->seed = 0;
}

void train_usage(FILE *out)
{
    fprintf(out,
            "usage: yolov5c train [--data DATA.yaml] (--cfg MODEL.yaml | --weights W.safetensors) [--hyp HYP.yaml]\n"
            "                     [--epochs N] [--batch-size N] [--img N] [--optimizer SGD|Adam|AdamW] [--cos-lr]\n"
            "                     [--resume [CKPT]] [options]\n"
            "\n"
            "Trains a YOLOv5 model as ultralytics/yolov5 v7.0's train.py does. Results go to\n"
            "--project/--name (runs/train/exp, exp2, ...): weights/last.safetensors and best.safetensors,\n"
            "results.csv, hyp.yaml, opt.yaml, train_batch*.jpg.\n"
            "\n"
            "options (train.py's names and defaults):\n"
            "  --data PATH            dataset YAML (default data/shapes.yaml)\n"
            "  --cfg PATH             model YAML (e.g. models/yolov5n.yaml)\n"
            "  --weights PATH         initial weights: a weights or checkpoint .safetensors (its EMA weights;\n"
            "                         tensors whose key and shape match are copied); '' = from scratch (default)\n"
            "  --hyp PATH             hyperparameters (default hyps/hyp.scratch-low.yaml)\n"
            "  --epochs N             total training epochs (default 100)\n"
            "  --batch-size N         batch size (default 16); gradients are accumulated to a nominal 64\n"
            "  --img, --imgsz N       train/val image size, rounded up to a multiple of 32 (default 640)\n"
            "  --rect                 rectangular training batches (no mosaic, no shuffle)\n"
            "  --resume [CKPT]        continue the newest run under --project, or checkpoint CKPT, with its\n"
            "                         saved options; only --epochs N (extend the run to N epochs), --workers\n"
            "                         and --project (where to look) may be given with it\n"
            "  --nosave               save only the final checkpoint\n"
            "  --noval                validate only the final epoch\n"
            "  --noautoanchor         disable AutoAnchor\n"
            "  --noplots              do not write train_batch*.jpg\n"
            "  --cache [ram|disk|val] cache decoded images in memory (disk is taken as ram)\n"
            "  --multi-scale          vary the image size +/- 50%% per batch\n"
            "  --single-cls           train as one class ('item'): every label becomes class 0\n"
            "  --bf16                 convolution products with bfloat16 operands and fp32 sums (needs a\n"
            "                         CPU with AVX512_BF16); BN, loss, optimizer and weights stay fp32\n"
            "  --sync-bn              under mpirun: BatchNorm statistics over all ranks (SyncBatchNorm);\n"
            "                         ignored in a single process\n"
            "  --optimizer NAME       SGD (default, Nesterov), Adam or AdamW\n"
            "  --workers N            data loading threads (default 8); results do not depend on it\n"
            "  --project DIR          save to DIR/NAME (default runs/train)\n"
            "  --name NAME            save to DIR/NAME (default exp)\n"
            "  --exist-ok             reuse DIR/NAME instead of incrementing it\n"
            "  --cos-lr               cosine learning-rate schedule (default linear)\n"
            "  --label-smoothing EPS  class label smoothing epsilon (default 0.0)\n"
            "  --patience N           early-stopping patience in epochs (default 100; 0 = never)\n"
            "  --freeze N [N ...]     freeze layers 0..N-1 (one value) or the listed layers (default 0)\n"
            "  --save-period N        also save weights/epochN.safetensors every N epochs (default -1: off)\n"
            "  --seed N               global training seed (default 0)\n"
            "  -h, --help             show this help\n"
            "\n"
            "exit status: 0 done, 1 runtime failure (bad file, non-finite loss, ...), 2 bad usage,\n"
            "130 interrupted (Ctrl-C; the last checkpoint stays valid).\n");
}

/* ---- argv ------------------------------------------------------------------ */

static int parse_long(const char *flag, const char *v, long lo, long hi, long *out, Error *e)
{
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (*v == 0 || *end || errno || x < lo || x > hi) {
        if (hi == LONG_MAX) return err_set(e, "%s must be an integer >= %ld, got '%s'", flag, lo, v);
        return err_set(e, "%s must be an integer in %ld..%ld, got '%s'", flag, lo, hi, v);
    }
    *out = x;
    return 0;
}

static int parse_double(const char *flag, const char *v, double *out, Error *e)
{
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (*v == 0 || *end || errno || !isfinite(x)) return err_set(e, "%s must be a number, got '%s'", flag, v);
    *out = x;
    return 0;
}

static int set_path(char *dst, const char *flag, const char *v, Error *e)
{
    if (strlen(v) >= TRAIN_PATH_MAX) return err_set(e, "%s: path longer than %d bytes", flag, TRAIN_PATH_MAX - 1);
    snprintf(dst, TRAIN_PATH_MAX, "%s", v);
    return 0;
}

static int looks_like_flag(const char *s) { return s && s[0] == '-' && s[1] != 0 && !(s[1] >= '0' && s[1] <= '9'); }

static int is_int_token(const char *s)
{
    if (!s || !*s) return 0;
    char *end;
    errno = 0;
    (void)strtol(s, &end, 10);
    return *end == 0 && errno == 0;
}

/* Flags of train.py that yolov5c does not implement: a clear message instead of "unknown". */
static const char *const UNSUPPORTED[] = {
    "--device", "--image-weights", "--quad", "--evolve", "--bucket",
    "--local_rank", "--entity", "--upload_dataset", "--bbox_interval", "--artifact_alias",
};

int train_options_parse(TrainOptions *o, int argc, char **argv, Error *e)
{
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        char flag[64];
        const char *inline_value = NULL;
        const char *eq = strchr(arg, '=');
        if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
            train_usage(stdout);
            return 1;
        }
        if (strncmp(arg, "--", 2) != 0) return err_set(e, "unexpected argument '%s'", arg);
        size_t flen = eq ? (size_t)(eq - arg) : strlen(arg);
        if (flen >= sizeof flag) return err_set(e, "unknown option '%.60s'", arg);
        memcpy(flag, arg, flen);
        flag[flen] = 0;
        if (eq) inline_value = eq + 1;

        /* The value of a flag that needs one. */
#define NEED_VALUE()                                                          \
    const char *value = inline_value;                                         \
    if (!value) {                                                             \
        if (i + 1 >= argc) return err_set(e, "%s needs a value", flag);       \
        value = argv[++i];                                                    \
    }
#define NO_VALUE()                                                                   \
    if (inline_value) return err_set(e, "%s takes no value, got '%s'", flag, inline_value);

        long v = 0;
        if (!strcmp(flag, "--resume")) {
            o->resume = 1;
            const char *value = inline_value;
            if (!value && i + 1 < argc && !looks_like_flag(argv[i + 1])) value = argv[++i];
            if (value && set_path(o->resume_path, flag, value, e)) return -1;
            continue;
        }
        if (!strcmp(flag, "--epochs")) {
            NEED_VALUE();
            if (parse_long(flag, value, 1, 1000000, &v, e)) return -1;
            o->epochs = (int)v;
            o->given |= TRAIN_FLAG_EPOCHS;
            continue;
        }
        if (!strcmp(flag, "--workers")) {
            NEED_VALUE();
            if (parse_long(flag, value, 0, 1024, &v, e)) return -1;
            o->workers = (int)v;
            o->given |= TRAIN_FLAG_WORKERS;
            continue;
        }
        if (!strcmp(flag, "--project")) {
            NEED_VALUE();
            if (!*value) return err_set(e, "--project must not be empty");
            if (set_path(o->project, flag, value, e)) return -1;
            o->given |= TRAIN_FLAG_PROJECT;
            continue;
        }
        o->given |= TRAIN_FLAG_OTHER;
        if (!strcmp(flag, "--data")) {
            NEED_VALUE();
            if (set_path(o->data, flag, value, e)) return -1;
        } else if (!strcmp(flag, "--cfg")) {
            NEED_VALUE();
            if (set_path(o->cfg, flag, value, e)) return -1;
        } else if (!strcmp(flag, "--hyp")) {
            NEED_VALUE();
            if (set_path(o->hyp, flag, value, e)) return -1;
        } else if (!strcmp(flag, "--weights")) {
            NEED_VALUE();
            if (set_path(o->weights, flag, value, e)) return -1;
        } else if (!strcmp(flag, "--batch-size")) {
            NEED_VALUE();
            if (!strcmp(value, "-1"))
                return err_set(e, "--batch-size -1 (AutoBatch) needs a CUDA device; give a batch size");
            if (parse_long(flag, value, 1, 65536, &v, e)) return -1;
            o->batch_size = (int)v;
        } else if (!strcmp(flag, "--img") || !strcmp(flag, "--imgsz") || !strcmp(flag, "--img-size")) {
            NEED_VALUE();
            if (parse_long(flag, value, 1, 8192, &v, e)) return -1;
            o->imgsz = (int)v;
        } else if (!strcmp(flag, "--seed")) {
            NEED_VALUE();
            char *end;
            errno = 0;
            unsigned long long s = strtoull(value, &end, 10);
            /* JSON keeps it exactly up to 2^53 */
            if (!*value || *end || errno || value[0] == '-' || s > 9007199254740991ULL)
                return err_set(e, "--seed must be an integer in 0..9007199254740991, got '%s'", value);
            o->seed = (uint64_t)s;
        } else if (!strcmp(flag, "--name")) {
            NEED_VALUE();
            if (!*value || strchr(value, '/')) return err_set(e, "--name must be a non-empty name without '/', got '%s'", value);
            if (set_path(o->name, flag, value, e)) return -1;
        } else if (!strcmp(flag, "--optimizer")) {
            NEED_VALUE();
            Error oe;
            if (optimizer_kind_parse(value, &o->optimizer, &oe) != 0)
                return err_set(e, "--optimizer must be one of SGD, Adam, AdamW, got '%s'", value);
        } else if (!strcmp(flag, "--label-smoothing")) {
            NEED_VALUE();
            double x = 0.0;
            if (parse_double(flag, value, &x, e)) return -1;
            if (x < 0.0 || x > 1.0) return err_set(e, "--label-smoothing must be in [0, 1], got '%s'", value);
            o->label_smoothing = x;
        } else if (!strcmp(flag, "--patience")) {
            NEED_VALUE();
            if (parse_long(flag, value, 0, INT_MAX, &v, e)) return -1;
            o->patience = (int)v;
        } else if (!strcmp(flag, "--save-period")) {
            NEED_VALUE();
            if (parse_long(flag, value, INT_MIN, INT_MAX, &v, e)) return -1;
            o->save_period = (int)v;
        } else if (!strcmp(flag, "--freeze")) {
            const char *value = inline_value;
            if (!value) {
                if (i + 1 >= argc || !is_int_token(argv[i + 1])) return err_set(e, "--freeze needs at least one layer number");
                value = argv[++i];
            }
            o->n_freeze = 0;
            for (;;) {
                if (o->n_freeze >= TRAIN_MAX_FREEZE) return err_set(e, "--freeze: at most %d values", TRAIN_MAX_FREEZE);
                if (parse_long(flag, value, 0, 100000, &v, e)) return -1;
                o->freeze[o->n_freeze++] = (int)v;
                if (inline_value || i + 1 >= argc || !is_int_token(argv[i + 1])) break;
                value = argv[++i];
            }
        } else if (!strcmp(flag, "--cache")) {
            const char *value = inline_value;
            if (!value && i + 1 < argc && !looks_like_flag(argv[i + 1])) value = argv[++i];
            if (!value || !strcmp(value, "ram")) o->cache = CACHE_RAM;
            else if (!strcmp(value, "disk")) o->cache = CACHE_DISK;
            else if (!strcmp(value, "val")) o->cache = CACHE_VAL;
            else return err_set(e, "--cache must be ram, disk or val, got '%s'", value);
        } else if (!strcmp(flag, "--rect")) {
            NO_VALUE();
            o->rect = 1;
        } else if (!strcmp(flag, "--nosave")) {
            NO_VALUE();
            o->nosave = 1;
        } else if (!strcmp(flag, "--noval")) {
            NO_VALUE();
            o->noval = 1;
        } else if (!strcmp(flag, "--noautoanchor")) {
            NO_VALUE();
            o->noautoanchor = 1;
        } else if (!strcmp(flag, "--noplots")) {
            NO_VALUE();
            o->noplots = 1;
        } else if (!strcmp(flag, "--multi-scale")) {
            NO_VALUE();
            o->multi_scale = 1;
        } else if (!strcmp(flag, "--single-cls")) {
            NO_VALUE();
            o->single_cls = 1;
        } else if (!strcmp(flag, "--bf16")) {
            NO_VALUE();
            o->bf16 = 1;
        } else if (!strcmp(flag, "--sync-bn")) {
            NO_VALUE();
            o->sync_bn = 1;
        } else if (!strcmp(flag, "--exist-ok")) {
            NO_VALUE();
            o->exist_ok = 1;
        } else if (!strcmp(flag, "--cos-lr")) {
            NO_VALUE();
            o->cos_lr = 1;
        } else {
            for (size_t k = 0; k < sizeof UNSUPPORTED / sizeof UNSUPPORTED[0]; k++)
                if (!strcmp(flag, UNSUPPORTED[k]))
                    return err_set(e, "train.py's %s is not supported by yolov5c", flag);
            return err_set(e, "unknown option '%s'", flag);
        }
#undef NEED_VALUE
#undef NO_VALUE
    }
    return 0;
}

int train_options_validate(const TrainOptions *o, Error *e)
{
    if (o->resume) return 0; /* the saved options are checked when they are loaded */
    if (!o->cfg[0] && !o->weights[0]) return err_set(e, "either --cfg or --weights must be given");
    if (!o->data[0]) return err_set(e, "--data must be given");
    if (!o->hyp[0]) return err_set(e, "--hyp must be given");
    if (o->epochs < 1) return err_set(e, "--epochs must be >= 1, got %d", o->epochs);
    if (o->batch_size < 1) return err_set(e, "--batch-size must be >= 1, got %d", o->batch_size);
    if (o->imgsz < 1) return err_set(e, "--img must be >= 1, got %d", o->imgsz);
    if (o->n_freeze < 1) return err_set(e, "--freeze needs at least one value");
    if (o->bf16 && !gemm_bf16_available())
        return err_set(e, "--bf16: this CPU has no AVX512_BF16 (bfloat16 dot products); train without --bf16");
    return 0;
}

/* ---- JSON ------------------------------------------------------------------ */

char *train_options_to_json(const TrainOptions *o)
{
    cJSON *j = cJSON_CreateObject();
    if (!j) return NULL;
    char num[40];
    cJSON_AddStringToObject(j, "weights", o->weights);
    cJSON_AddStringToObject(j, "cfg", o->cfg);
    cJSON_AddStringToObject(j, "data", o->data);
    cJSON_AddStringToObject(j, "hyp", o->hyp);
    cJSON_AddNumberToObject(j, "epochs", o->epochs);
    cJSON_AddNumberToObject(j, "batch_size", o->batch_size);
    cJSON_AddNumberToObject(j, "imgsz", o->imgsz);
    cJSON_AddBoolToObject(j, "rect", o->rect);
    cJSON_AddBoolToObject(j, "nosave", o->nosave);
    cJSON_AddBoolToObject(j, "noval", o->noval);
    cJSON_AddBoolToObject(j, "noautoanchor", o->noautoanchor);
    cJSON_AddBoolToObject(j, "noplots", o->noplots);
    if (o->cache == CACHE_NONE) cJSON_AddNullToObject(j, "cache");
    else cJSON_AddStringToObject(j, "cache", cache_mode_name(o->cache));
    cJSON_AddBoolToObject(j, "multi_scale", o->multi_scale);
    cJSON_AddBoolToObject(j, "single_cls", o->single_cls);
    cJSON_AddBoolToObject(j, "sync_bn", o->sync_bn);
    cJSON_AddBoolToObject(j, "bf16", o->bf16);
    cJSON_AddStringToObject(j, "optimizer", optimizer_kind_name(o->optimizer));
    cJSON_AddNumberToObject(j, "workers", o->workers);
    cJSON_AddStringToObject(j, "project", o->project);
    cJSON_AddStringToObject(j, "name", o->name);
    cJSON_AddBoolToObject(j, "exist_ok", o->exist_ok);
    cJSON_AddBoolToObject(j, "cos_lr", o->cos_lr);
    py_float_repr(o->label_smoothing < 0 ? 0.0 : o->label_smoothing, num, sizeof num);
    cJSON_AddRawToObject(j, "label_smoothing", num);
    cJSON_AddNumberToObject(j, "patience", o->patience);
    cJSON *fr = cJSON_CreateIntArray(o->freeze, o->n_freeze);
    if (fr) cJSON_AddItemToObject(j, "freeze", fr);
    cJSON_AddNumberToObject(j, "save_period", o->save_period);
    snprintf(num, sizeof num, "%llu", (unsigned long long)o->seed);
    cJSON_AddRawToObject(j, "seed", num);
    cJSON_AddStringToObject(j, "save_dir", o->save_dir);
    char *text = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    return text;
}

typedef enum { OJ_STR, OJ_INT, OJ_BOOL } OjKind;

typedef struct {
    const char *name;
    OjKind kind;
    size_t offset;
} OjKey;

#define OJ(name, kind) {#name, kind, offsetof(TrainOptions, name)}

static const OjKey JSON_KEYS[] = {
    OJ(weights, OJ_STR),     OJ(cfg, OJ_STR),          OJ(data, OJ_STR),         OJ(hyp, OJ_STR),
    OJ(epochs, OJ_INT),      OJ(batch_size, OJ_INT),   OJ(imgsz, OJ_INT),        OJ(rect, OJ_BOOL),
    OJ(nosave, OJ_BOOL),     OJ(noval, OJ_BOOL),       OJ(noautoanchor, OJ_BOOL), OJ(noplots, OJ_BOOL),
    OJ(multi_scale, OJ_BOOL), OJ(sync_bn, OJ_BOOL), OJ(bf16, OJ_BOOL), OJ(single_cls, OJ_BOOL),   OJ(workers, OJ_INT),     OJ(project, OJ_STR),      OJ(name, OJ_STR),
    OJ(exist_ok, OJ_BOOL),   OJ(cos_lr, OJ_BOOL),      OJ(patience, OJ_INT),     OJ(save_period, OJ_INT),
    OJ(save_dir, OJ_STR),
};

int train_options_from_json(TrainOptions *o, const char *text, const char *source, Error *e)
{
    train_options_default(o);
    cJSON *j = cJSON_Parse(text);
    if (!cJSON_IsObject(j)) {
        cJSON_Delete(j);
        return err_set(e, "%s: options are not a JSON object", source);
    }
    int rc = 0;
    for (const cJSON *it = j->child; it && rc == 0; it = it->next) {
        const char *k = it->string;
        const OjKey *key = NULL;
        for (size_t q = 0; q < sizeof JSON_KEYS / sizeof JSON_KEYS[0]; q++)
            if (!strcmp(JSON_KEYS[q].name, k)) key = &JSON_KEYS[q];
        if (key) {
            void *field = (char *)o + key->offset;
            if (key->kind == OJ_STR) {
                const char *s = cJSON_GetStringValue(it);
                if (!s || strlen(s) >= TRAIN_PATH_MAX) rc = err_set(e, "%s: option %s is not a string", source, k);
                else snprintf((char *)field, TRAIN_PATH_MAX, "%s", s);
            } else if (key->kind == OJ_INT) {
                double d = cJSON_GetNumberValue(it);
                if (!cJSON_IsNumber(it) || d != floor(d) || fabs(d) > INT_MAX)
                    rc = err_set(e, "%s: option %s is not an integer", source, k);
                else *(int *)field = (int)d;
            } else {
                if (!cJSON_IsBool(it)) rc = err_set(e, "%s: option %s is not true/false", source, k);
                else *(int *)field = cJSON_IsTrue(it);
            }
        } else if (!strcmp(k, "cache")) {
            const char *s = cJSON_GetStringValue(it);
            if (cJSON_IsNull(it)) o->cache = CACHE_NONE;
            else if (s && !strcmp(s, "ram")) o->cache = CACHE_RAM;
            else if (s && !strcmp(s, "disk")) o->cache = CACHE_DISK;
            else if (s && !strcmp(s, "val")) o->cache = CACHE_VAL;
            else rc = err_set(e, "%s: option cache must be null, ram, disk or val", source);
        } else if (!strcmp(k, "optimizer")) {
            const char *s = cJSON_GetStringValue(it);
            Error oe;
            if (!s || optimizer_kind_parse(s, &o->optimizer, &oe) != 0)
                rc = err_set(e, "%s: option optimizer must be SGD, Adam or AdamW", source);
        } else if (!strcmp(k, "label_smoothing")) {
            if (!cJSON_IsNumber(it)) rc = err_set(e, "%s: option label_smoothing is not a number", source);
            else o->label_smoothing = it->valuedouble;
        } else if (!strcmp(k, "freeze")) {
            int n = cJSON_GetArraySize(it);
            if (!cJSON_IsArray(it) || n < 1 || n > TRAIN_MAX_FREEZE) {
                rc = err_set(e, "%s: option freeze must be a list of 1 to %d integers", source, TRAIN_MAX_FREEZE);
                break;
            }
            for (int q = 0; q < n && rc == 0; q++) {
                const cJSON *v = cJSON_GetArrayItem(it, q);
                if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble != floor(v->valuedouble))
                    rc = err_set(e, "%s: option freeze[%d] is not a layer number", source, q);
                else o->freeze[q] = (int)v->valuedouble;
            }
            o->n_freeze = n;
        } else if (!strcmp(k, "seed")) {
            double d = cJSON_GetNumberValue(it);
            if (!cJSON_IsNumber(it) || d < 0 || d != floor(d)) rc = err_set(e, "%s: option seed is not a non-negative integer", source);
            else o->seed = (uint64_t)d;
        } else {
            rc = err_set(e, "%s: unknown option '%s'", source, k);
        }
    }
    cJSON_Delete(j);
    return rc;
}

/* ---- opt.yaml --------------------------------------------------------------- */

/* A YAML scalar for a string: plain when safe, else single-quoted. */
static void yaml_string(FILE *f, const char *s)
{
    int plain = *s != 0;
    for (const char *p = s; *p && plain; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              strchr("/._-+", *p)))
            plain = 0;
    if (plain && (!strcmp(s, "true") || !strcmp(s, "false") || !strcmp(s, "null") || !strcmp(s, "yes") ||
                  !strcmp(s, "no") || !strcmp(s, "on") || !strcmp(s, "off") || !strcmp(s, "~") ||
                  (s[0] >= '0' && s[0] <= '9') || s[0] == '-' || s[0] == '.' || s[0] == '+'))
        plain = 0;
    if (plain) {
        fputs(s, f);
        return;
    }
    fputc('\'', f);
    for (const char *p = s; *p; p++) {
        if (*p == '\'') fputc('\'', f);
        fputc(*p, f);
    }
    fputc('\'', f);
}

int train_options_write_yaml(const TrainOptions *o, const char *hyp_json, const char *path, Error *e)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return err_set(e, "%s: out of memory", path);
    char num[40];
#define KV_STR(k, v)             \
    do {                         \
        fprintf(f, "%s: ", k);   \
        yaml_string(f, v);       \
        fputc('\n', f);          \
    } while (0)
#define KV_INT(k, v) fprintf(f, "%s: %d\n", k, (int)(v))
#define KV_BOOL(k, v) fprintf(f, "%s: %s\n", k, (v) ? "true" : "false")
    KV_STR("weights", o->weights);
    KV_STR("cfg", o->cfg);
    KV_STR("data", o->data);
    fprintf(f, "hyp:\n");
    cJSON *h = hyp_json ? cJSON_Parse(hyp_json) : NULL;
    for (const cJSON *it = h ? h->child : NULL; it; it = it->next) {
        if (cJSON_IsNumber(it)) {
            py_float_repr(it->valuedouble, num, sizeof num);
            if (!strcmp(it->string, "anchors")) snprintf(num, sizeof num, "%d", (int)it->valuedouble);
            fprintf(f, "  %s: %s\n", it->string, num);
        } else if (cJSON_IsString(it)) {
            fprintf(f, "  %s: %s\n", it->string, it->valuestring);
        } else if (cJSON_IsArray(it)) {
            fprintf(f, "  %s:\n", it->string);
            for (const cJSON *v = it->child; v; v = v->next) {
                py_float_repr(v->valuedouble, num, sizeof num);
                fprintf(f, "  - %s\n", num);
            }
        }
    }
    cJSON_Delete(h);
    KV_INT("epochs", o->epochs);
    KV_INT("batch_size", o->batch_size);
    KV_INT("imgsz", o->imgsz);
    KV_BOOL("rect", o->rect);
    KV_BOOL("resume", o->resume);
    KV_BOOL("nosave", o->nosave);
    KV_BOOL("noval", o->noval);
    KV_BOOL("noautoanchor", o->noautoanchor);
    KV_BOOL("noplots", o->noplots);
    if (o->cache == CACHE_NONE) fprintf(f, "cache: null\n");
    else KV_STR("cache", cache_mode_name(o->cache));
    KV_BOOL("multi_scale", o->multi_scale);
    KV_BOOL("single_cls", o->single_cls);
    KV_BOOL("sync_bn", o->sync_bn);
    KV_BOOL("bf16", o->bf16);
    KV_STR("optimizer", optimizer_kind_name(o->optimizer));
    KV_INT("workers", o->workers);
    KV_STR("project", o->project);
    KV_STR("name", o->name);
    KV_BOOL("exist_ok", o->exist_ok);
    KV_BOOL("cos_lr", o->cos_lr);
    py_float_repr(o->label_smoothing < 0 ? 0.0 : o->label_smoothing, num, sizeof num);
    fprintf(f, "label_smoothing: %s\n", num);
    KV_INT("patience", o->patience);
    fprintf(f, "freeze:\n");
    for (int q = 0; q < o->n_freeze; q++) fprintf(f, "- %d\n", o->freeze[q]);
    KV_INT("save_period", o->save_period);
    fprintf(f, "seed: %llu\n", (unsigned long long)o->seed);
    KV_STR("save_dir", o->save_dir);
#undef KV_STR
#undef KV_INT
#undef KV_BOOL
    if (fclose(f) != 0) {
        free(buf);
        return err_set(e, "%s: out of memory", path);
    }
    int rc = fs_write_atomic(path, buf, len, e);
    free(buf);
    return rc;
}
