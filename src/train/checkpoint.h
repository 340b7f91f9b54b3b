/* Training checkpoints (weights/last.safetensors, best.safetensors,
 * epochN.safetensors): everything a run needs to continue bit for bit, in
 * one safetensors file written atomically (st_write: temp file, fsync,
 * rename), all float tensors F32.
 *
 * Tensors, in this order:
 *   <key>          every state_dict entry of the EMA model under its plain
 *                  ultralytics key (the deploy weights: model_load_weights,
 *                  --weights, val and detect read these; num_batches_tracked I64)
 *   raw.<key>      every state_dict entry of the live training model
 *   momentum.<key> optimizer state of each trainable parameter: SGD's
 *                  momentum_buffer or Adam's exp_avg
 *   adam_v.<key>   Adam/AdamW exp_avg_sq (only for those optimizers)
 *
 * Metadata (all strings):
 *   format "yolov5c-weights-1" and nc, names, model_yaml, stride as in a
 *   weights file (model.h), model_source (the model YAML's path, for its name);
 *   checkpoint "yolov5c-checkpoint-1"; epoch (just finished, 0-based); epochs;
 *   updates (EMA); best_fitness; early_stopping {"best_fitness", "best_epoch"};
 *   last_opt_step; optimizer (SGD/Adam/AdamW); optimizer_steps (per
 *   state_dict entry: state updates, Adam's 'step'; 0 = no SGD buffer yet);
 *   lr (the three param-group learning rates after scheduler.step, torch
 *   group order); hyp (unscaled, JSON); options (JSON); rng (JSON: the seed
 *   and how every stream derives from it); dataset_fingerprint; results_csv
 *   (the whole results.csv as it was when this file was written).
 *
 * Every per-batch random draw of training derives from (seed, epoch, batch /
 * sample index), so the seed is the whole RNG state a resume needs. */
#ifndef YV5_TRAIN_CHECKPOINT_H
#define YV5_TRAIN_CHECKPOINT_H

#include <stdint.h>

#include "ckpt/safetensors.h"
#include "core/error.h"
#include "model/model.h"
#include "optim/early_stop.h"
#include "optim/optimizer.h"

#define CHECKPOINT_FORMAT "yolov5c-checkpoint-1"

typedef struct {
    int epoch;               /* the epoch just finished */
    int epochs;              /* total epochs of the run */
    int64_t updates;         /* EMA updates */
    double best_fitness;
    EarlyStopping stopper;
    int64_t last_opt_step;
    double lr[3];            /* torch param_groups order */
    uint64_t seed;
    const char *model_source; /* may be NULL */
    const char *hyp_json;     /* unscaled hyperparameters */
    const char *options_json;
    const char *dataset_fingerprint;
    const char *results_csv;
} CheckpointState;

/* Writes a checkpoint. opt may be NULL (no optimizer tensors). */
int checkpoint_save(const char *path, const Model *raw, const Model *ema, const Optimizer *opt,
                    const CheckpointState *s, Error *e);

/* An opened checkpoint: the file in memory and its metadata parsed. The
 * strings of `state` point into owned memory valid until checkpoint_close. */
typedef struct {
    SafeTensors st;
    CheckpointState state;
    int nc;
    OptimizerKind optimizer;
    char *model_yaml;     /* owned copies */
    char *model_source;
    char *names_json;
    char *hyp_json, *options_json, *fingerprint, *results_csv;
    int64_t *optimizer_steps; /* n_optimizer_steps values, or NULL */
    int n_optimizer_steps;
} Checkpoint;

/* Reads and checks a checkpoint file. A plain weights file (no checkpoint
 * metadata) is rejected with a message saying it can only be fine-tuned from. */
int checkpoint_open(Checkpoint *c, const char *path, Error *e);
void checkpoint_close(Checkpoint *c);

/* Builds a model from the checkpoint's model_yaml and nc, with names. */
int checkpoint_create_model(const Checkpoint *c, Model *m, Error *e);
/* Loads the entries stored under prefix ("" for the EMA, "raw." for the
 * training model) into a model built by checkpoint_create_model. */
int checkpoint_load_model(const Checkpoint *c, const char *prefix, Model *m, Error *e);
/* Loads momentum.* / adam_v.* and the step counts into an optimizer built
 * for the same table and options (kind and trainable set must match). */
int checkpoint_load_optimizer(const Checkpoint *c, Optimizer *opt, const ParamTable *t, Error *e);

/* --weights: copies every tensor of a weights or checkpoint file whose plain
 * key the model has with the same shape (YOLOv5's intersect_dicts; keys
 * containing "anchor" are skipped when exclude_anchors). A checkpoint
 * contributes its EMA weights. *copied gets the number of entries copied. */
int weights_transfer(Model *m, const char *path, int exclude_anchors, int *copied, Error *e);

#endif
