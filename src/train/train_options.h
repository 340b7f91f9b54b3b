/* The options of `yolov5c train`: train.py's flags, names and defaults
 * (spec §4.1, §4.8), their parsing from argv, and their JSON form (stored
 * in every checkpoint so --resume continues with exactly these options) and
 * YAML form (the run directory's opt.yaml).
 *
 * Defaults that differ from train.py, because nothing is downloaded here:
 * --data data/shapes.yaml (train.py: coco128.yaml), --weights '' (train.py:
 * yolov5s.pt; one of --cfg / --weights must be given, as train.py asserts),
 * --hyp hyps/hyp.scratch-low.yaml. */
#ifndef YV5_TRAIN_OPTIONS_H
#define YV5_TRAIN_OPTIONS_H

#include <stdint.h>
#include <stdio.h>

#include "core/error.h"
#include "optim/optimizer.h"

#define TRAIN_PATH_MAX 1024
#define TRAIN_MAX_FREEZE 64

typedef enum { CACHE_NONE = 0, CACHE_RAM, CACHE_DISK, CACHE_VAL } CacheMode;

typedef struct {
    char weights[TRAIN_PATH_MAX]; /* '' = from scratch */
    char cfg[TRAIN_PATH_MAX];
    char data[TRAIN_PATH_MAX];
    char hyp[TRAIN_PATH_MAX];
    int epochs;
    int batch_size;
    int imgsz;
    int rect;
    int resume;                       /* --resume given */
    char resume_path[TRAIN_PATH_MAX]; /* its value ('' = newest run under --project) */
    int nosave, noval, noautoanchor, noplots;
    CacheMode cache;
    int multi_scale;
    int bf16;         /* convolution products with bfloat16 operands (AVX512_BF16) */
    int sync_bn;      /* data-parallel runs: BatchNorm statistics over all ranks */
    int single_cls;   /* train as one class ("item") */
    OptimizerKind optimizer;
    int workers;
    char project[TRAIN_PATH_MAX];
    char name[TRAIN_PATH_MAX];
    int exist_ok;
    int cos_lr;
    double label_smoothing; /* < 0: not given (the hyp file's value, default 0.0) */
    int patience;
    int freeze[TRAIN_MAX_FREEZE];
    int n_freeze;           /* one value N = layers 0..N-1; several = those layers */
    int save_period;
    uint64_t seed;
    /* Set by the trainer: where the run writes (project/name, incremented). */
    char save_dir[TRAIN_PATH_MAX];
    /* Which flags were given on the command line (TRAIN_FLAG_* bits), so
     * --resume can tell what else was asked for. */
    unsigned given;
} TrainOptions;

enum {
    TRAIN_FLAG_EPOCHS = 1u << 0,
    TRAIN_FLAG_WORKERS = 1u << 1,
    TRAIN_FLAG_PROJECT = 1u << 2,
    TRAIN_FLAG_OTHER = 1u << 3, /* any flag but --resume, --epochs, --workers, --project */
};

void train_options_default(TrainOptions *o);

/* The usage line and the option list. */
void train_usage(FILE *out);

/* Parses argv[1..argc) (argv[0] is the command name). Returns 0 to run, 1
 * when --help was asked for (usage printed to stdout), or -1 with e naming
 * the flag and the problem (the caller prints it with the usage and exits 2). */
int train_options_parse(TrainOptions *o, int argc, char **argv, Error *e);

/* Checks the values (epochs >= 1, batch size >= 1, ...); -1 with e naming the flag. */
int train_options_validate(const TrainOptions *o, Error *e);

/* JSON object with train.py's key names (batch_size, imgsz, save_dir, ...);
 * malloc'd, NULL when out of memory. */
char *train_options_to_json(const TrainOptions *o);
/* Reads what train_options_to_json wrote (missing keys keep defaults;
 * unknown keys and wrong types are errors naming `source` and the key). */
int train_options_from_json(TrainOptions *o, const char *text, const char *source, Error *e);

/* opt.yaml: every option as `key: value`, with the unscaled hyperparameters
 * nested under hyp (as train.py's yaml_save(vars(opt)) after opt.hyp = hyp). */
int train_options_write_yaml(const TrainOptions *o, const char *hyp_json, const char *path, Error *e);

const char *cache_mode_name(CacheMode c); /* "", "ram", "disk", "val" */

#endif
