/* `yolov5c train`: a whole training run as train.py v7.0 does it, from the
 * command line to the last checkpoint (spec §4): options, run directory,
 * hyperparameters, dataset scan, model (scratch, fine-tune or resume), the
 * trainer, per-epoch validation hook, results.csv, checkpoints, console.
 *
 * Resume (beyond YOLOv5): a checkpoint holds the exact training state, so
 * `--resume [CKPT]` continues an interrupted run (Ctrl-C or kill -9 at any
 * moment: the run restarts after the last completed epoch) and produces the
 * same later checkpoints and results.csv rows, bit for bit, as a run that
 * was never interrupted. `--resume CKPT --epochs N` extends a run to N
 * epochs: every schedule value of the remaining epochs (learning rates,
 * momentum, warmup, accumulate) is what a run started with --epochs N would
 * use at that epoch; the epochs already trained keep the schedule they had. */
#ifndef YV5_TRAIN_RUN_H
#define YV5_TRAIN_RUN_H

#include <stdio.h>

#include "core/error.h"
#include "data/dataset.h"
#include "dist/dist.h"
#include "loss/loss.h"
#include "model/model.h"
#include "train/batch_source.h"
#include "train/train_options.h"
#include "train/trainer.h"

/* What per-epoch validation gets (train.py: val.run on the EMA model with
 * the val loader, batch 2*bs, conf 0.001, iou 0.6, compute_loss). */
typedef struct {
    Model *model;               /* the EMA model (eval-mode forward) */
    const DatasetSplit *split;  /* val split */
    Loss *loss;                 /* the training loss, for val/box_loss ... */
    int batch_size;             /* 2 * training batch size */
    int imgsz, gs;
    int workers;
    int cache_ram;
    int epoch;
    int final_epoch;
    const char *save_dir;
    FILE *out;
    int verbose;                /* the closing validation of best.safetensors: per-class rows */
} TrainValContext;

/* Fills results[VAL_RESULTS] = P, R, mAP50, mAP50-95, val box, obj, cls loss. */
typedef int (*TrainValidateFn)(void *ctx, const TrainValContext *vc, double results[VAL_RESULTS], Error *e);

typedef struct {
    BatchSourceOpen open_source; /* the training batches: loader_source_open */
    TrainValidateFn validate;    /* NULL until validation exists: metrics are 0 */
    void *validate_ctx;
    FILE *out;                   /* console (NULL: stdout) */
    FILE *err;                   /* errors and warnings (NULL: stderr) */
    int tty;                     /* progress rewritten in place: 1, plain lines: 0, -1: isatty(out) */
    /* Test hooks (-1: off): act as if SIGINT arrived after batch interrupt_batch
     * of epoch interrupt_epoch (interrupt_batch -1: after that epoch's checkpoint). */
    int interrupt_epoch, interrupt_batch;
    /* Data-parallel group (dist/dist.h) when started under mpirun; NULL or a
     * world of one: a single process. Rank 0 alone prints, validates and
     * writes the run directory; every rank trains on its shard of each
     * global batch and the gradients are summed before the step. */
    Dist *dist;
} TrainEnv;

/* Sets every field to its default (stdout, stderr, isatty, no validation,
 * no hooks, the loader as batch source). */
void train_env_default(TrainEnv *env);

/* The whole command. argv[0] is the command name. Returns the exit status:
 * 0 done, 1 runtime failure (message on env->err), 2 bad usage (message and
 * usage), 130 interrupted (SIGINT/SIGTERM; the last checkpoint stays valid).
 * The environment variable YV5_TRAIN_KILL_AT=EPOCH:BATCH makes the process
 * SIGKILL itself after that batch (for the resume tests). */
int train_main(int argc, char **argv, const TrainEnv *env);

#endif
