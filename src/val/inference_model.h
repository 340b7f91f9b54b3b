/* The model `yolov5c val` and `yolov5c detect` run: built from a weights file
 * (model_create_from_weights: scripts/pt2safetensors.py output or
 * model_save_weights; every tensor must be there with its shape, nothing
 * else) or from a training checkpoint (last/best.safetensors,
 * train/checkpoint.h), whose EMA weights (the plain keys) are the ones used,
 * as YOLOv5's strip_optimizer makes best.pt hold the EMA model; the resume
 * state beside them (raw.*, momentum.*, adam_v.*, optimizer metadata) is
 * neither needed nor checked. */
#ifndef YV5_INFERENCE_MODEL_H
#define YV5_INFERENCE_MODEL_H

#include "core/error.h"
#include "model/model.h"

/* Builds *m from path. cfg (may be NULL): a model YAML to build the network
 * from instead of the file's model_yaml metadata (for files without it; nc
 * comes from the file's metadata when present). Messages name the file
 * and what is wrong with it (missing, not safetensors, no model definition, a
 * missing or mis-shaped tensor with the expected shape, class names not
 * matching nc). */
int inference_model_load(const char *path, const char *cfg, Model *m, Error *e);

/* 1 when the file's metadata marks it as a training checkpoint, 0 when not
 * (or when it cannot be read: loading then reports why). */
int inference_is_checkpoint(const char *path);

#endif
