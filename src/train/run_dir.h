/* The run directory: YOLOv5's increment_path (project/name, then name2,
 * name3, ... unless exist_ok) and get_latest_run (the newest last checkpoint
 * under a directory, for a bare --resume). */
#ifndef YV5_TRAIN_RUN_DIR_H
#define YV5_TRAIN_RUN_DIR_H

#include <stddef.h>

#include "core/error.h"

/* project/name, or the first free project/name{2,3,...}; the directory and
 * its weights/ subdirectory are created. out gets the path. */
int run_dir_create(const char *project, const char *name, int exist_ok, char *out, size_t cap, Error *e);

/* The most recently modified file named last.safetensors under dir (any
 * depth). Fails when there is none. */
int run_dir_latest_checkpoint(const char *dir, char *out, size_t cap, Error *e);

/* The run directory of a checkpoint RUN/weights/X.safetensors: RUN (the
 * checkpoint's directory's parent). */
int run_dir_of_checkpoint(const char *ckpt_path, char *out, size_t cap, Error *e);

/* Removes the temporary files a killed checkpoint write leaves in a weights
 * directory ("<name>.safetensors.tmp.<pid>"; the checkpoints themselves are
 * never partial). Returns how many were removed. */
int run_dir_remove_stale_temps(const char *weights_dir);

#endif
