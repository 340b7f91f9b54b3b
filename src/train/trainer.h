/* The YOLOv5 v7.0 training loop on one model (spec §4.1-4.7), without any
 * file or console work: train_run.c drives it over epochs, validation,
 * checkpoints and output.
 *
 * A Trainer owns the live model, its EMA copy (a second Model with the same
 * layout, whose params/buffers/counters are the EMA weights), the optimizer,
 * the loss and the schedule. trainer_create performs train.py's start-up
 * steps 6-14 in their order: freeze, accumulate and weight-decay scaling,
 * optimizer, schedule, EMA creation, resume restore (when given a
 * checkpoint), AutoAnchor and the fp16 rounding of the training model (fresh
 * runs), hyp gain rescaling and the loss.
 *
 * Per epoch: trainer_epoch_begin (zero_grad, running means reset), then
 * trainer_batch for each batch i (warmup values for ni = i + nb*epoch,
 * multi-scale resize, forward, loss, backward, and when ni - last_opt_step >=
 * accumulate: clip at norm 10, optimizer step, zero_grad, EMA update), then
 * trainer_epoch_finish with the validation results.
 *
 * Everything a batch does is a function of the state and (seed, epoch, i),
 * so a run restored from a checkpoint continues bit for bit. Nothing is
 * allocated per batch once the first batch of the largest size has run. */
#ifndef YV5_TRAIN_TRAINER_H
#define YV5_TRAIN_TRAINER_H

#include <stdint.h>
#include <stdio.h>

#include "core/error.h"
#include "data/loader.h"
#include "dist/dist.h"
#include "dist/dist_bn_sync.h"
#include "hyp/hyp.h"
#include "loss/loss.h"
#include "model/model.h"
#include "optim/early_stop.h"
#include "optim/ema.h"
#include "optim/lr_schedule.h"
#include "optim/optimizer.h"
#include "train/checkpoint.h"

/* results of a validation: P, R, mAP@0.5, mAP@0.5:0.95, val box, obj, cls loss */
#define VAL_RESULTS 7

typedef struct {
    OptimizerKind optimizer;
    int epochs;
    int batch_size;
    int imgsz;        /* as asked; trainer_create rounds it as check_img_size does */
    int multi_scale;
    int cos_lr;
    int patience;
    const int *freeze; /* --freeze values (n_freeze >= 1; {0} = nothing) */
    int n_freeze;
    uint64_t seed;
    int64_t nb;        /* batches per epoch */
    int round_fp16;    /* fresh runs: model.half().float() before training */
    /* AutoAnchor (train.py step 12, fresh runs without --noautoanchor): called
     * on the training model after the EMA copy and before the fp16 rounding
     * and the loss, which reads the anchors it leaves. NULL: skipped. */
    int (*autoanchor)(void *ctx, Model *model, int imgsz, Error *e);
    void *autoanchor_ctx;
    /* Data-parallel (dist with world > 1): batch_size is the global batch,
     * rank_batch_size this rank's share of it; gradients are summed over the
     * ranks before clipping, so every rank takes the same step. NULL / 0:
     * one process. */
    Dist *dist;
    int rank_batch_size;
    int sync_bn;       /* BatchNorm batch statistics over all ranks (--sync-bn) */
    /* Convolution products in bf16 (--bf16; gemm_bf16_available() checked by
     * the caller), for the training and the EMA model alike. */
    int bf16;
} TrainerConfig;

typedef struct {
    TrainerConfig cfg;
    int freeze[64];
    Hyp hyp;           /* in use: weight_decay scaled, gains rescaled */
    int gs;            /* grid size: max(max stride, 32) */
    int imgsz;         /* multiple of gs, >= 2*gs */
    int accumulate;    /* nominal round(64 / batch size) */

    Model model;       /* live training weights */
    Model ema_model;   /* EMA weights; same layout */
    ModelEma ema;
    unsigned char *trainable; /* per state_dict entry */
    int n_frozen;
    float *entry_norms;
    Optimizer opt;
    Loss loss;
    LrSchedule sched;
    EarlyStopping stopper;
    double best_fitness;
    int64_t last_opt_step;
    int start_epoch;   /* first epoch to train (checkpoint epoch + 1 when resuming) */

    /* current epoch */
    int epoch;
    float mloss[3];      /* running means of box, obj, cls items (float32 as torch) */
    double lr_last[3];   /* the groups' lr in the last batch, torch order */
    int batches_done;

    float *ms_images;    /* multi-scale batch buffer */
    size_t ms_cap;
    DistBnSync bn_sync;  /* --sync-bn: the model's BN hook */
} Trainer;

/* Takes ownership of *model (left zeroed). hyp: the unscaled hyperparameters
 * with label_smoothing already set. resume: NULL for a fresh run, or an
 * opened checkpoint whose models, optimizer state and counters are restored
 * (the model passed in must then be built from it). Messages ("freezing
 * ...", "optimizer: ...") go to log when it is not NULL. */
int trainer_create(Trainer *t, const TrainerConfig *cfg, const Hyp *hyp, Model *model, const Checkpoint *resume,
                   FILE *log, Error *e);
void trainer_free(Trainer *t);

void trainer_epoch_begin(Trainer *t, int epoch);

typedef struct {
    int64_t ni;
    int h, w;            /* network input size (after multi-scale) */
    int instances;       /* target rows */
    double box, obj, cls;/* this batch's loss items */
    int stepped;         /* the optimizer stepped after this batch */
    float grad_norm;     /* total norm before clipping, when stepped */
    int accumulate;
} TrainBatchInfo;

/* Batch i of the current epoch: trainer_batch_compute then
 * trainer_batch_finish with this batch's loss items. Fails on a non-finite
 * loss or gradient (message names the epoch and batch) or a model/loss
 * error; the weights are then unusable, the caller stops without saving. */
int trainer_batch(Trainer *t, int i, const Batch *b, TrainBatchInfo *info, Error *e);

/* The two halves, for data-parallel runs, where the ranks agree between them
 * (every rank computed its batch, the loss items averaged over ranks):
 * compute runs forward, loss and backward (gradients accumulate); finish
 * folds items (box, obj, cls) into the running means and, when the step is
 * due, sums the gradients over the ranks, clips, steps and updates the EMA.
 * Every rank calls finish for every batch. */
int trainer_batch_compute(Trainer *t, int i, const Batch *b, TrainBatchInfo *info, Error *e);
int trainer_batch_finish(Trainer *t, int i, const double items[3], TrainBatchInfo *info, Error *e);

/* train.py's final_epoch: the last epoch, or early stopping may stop after it. */
int trainer_final_epoch(const Trainer *t);

typedef struct {
    double fitness;
    int improved;   /* best_fitness == fitness: best.safetensors is written */
    int stop;       /* early stopping says stop */
    double row[13]; /* results.csv values after epoch */
} TrainEpochInfo;

/* Closes the epoch: fitness of the results, early stopping, best fitness,
 * the results.csv values (train means, results, learning rates). */
void trainer_epoch_finish(Trainer *t, const double results[VAL_RESULTS], TrainEpochInfo *info);

/* The checkpoint state after the current epoch (strings left NULL). */
void trainer_checkpoint_state(const Trainer *t, CheckpointState *s);

/* The dataset-independent schedule values train.py uses for batch ni of
 * epoch (for tests and logs). */
void trainer_schedule_at(const Trainer *t, int epoch, int64_t ni, SchedulePoint *sp);

#endif
