/* Eval runs go image by image through the whole network (model_forward.c):
 * each image's feature maps stay in cache from one layer to the next, and with
 * several threads each thread takes whole images, one parallel region per
 * batch. The plan gives each concurrently running image a slot: a copy of the
 * one-image buffers (feature maps, op scratch) laid out identically, slot s at
 * a fixed byte shift s * stride from slot 0 (whose addresses the carve writes
 * into the graph); the Detect outputs and the decoded boxes are whole-batch
 * buffers after the slots. Shared by model_plan.c and model_forward.c; not
 * part of the model's API. */
#ifndef YV5_MODEL_PLAN_EVAL_H
#define YV5_MODEL_PLAN_EVAL_H

#include <stddef.h>

#include "model/model.h"

/* At most this many images run at once (bounds the planning scratch). */
#define MODEL_EVAL_MAX_SLOTS 8

/* Slots for an eval run of n images with the current OpenMP thread count:
 * one per thread that gets an image, one when there is a single thread or
 * a single image (that image then spreads its layers over the threads). */
int model_eval_slots(int n);

/* Byte shift between consecutive slots of the last eval plan of n images
 * (0 with one slot). */
size_t model_eval_slot_stride(const Model *m, int n);

#endif
