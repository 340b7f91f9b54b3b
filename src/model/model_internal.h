/* Shared between the model's source files; not part of its API. */
#ifndef YV5_MODEL_INTERNAL_H
#define YV5_MODEL_INTERNAL_H

#include "model/model.h"
#include "nn/conv_bn_act.h"

/* The fused Conv -> BN -> act layer of conv unit u, and the plain 1x1 output
 * conv of Detect level `level`, in the model's GEMM precision (SyncBN hook
 * unset: the forward sets it for training passes). */
ConvBnAct model_conv_layer(const Model *m, const ConvUnit *u);
Conv2d model_head_conv(const Model *m, int level);

/* Upper bound of the buffers one run plans (sizes the planning scratch). */
int model_plan_capacity(const Graph *g, int nl);

/* Arena bytes one run of n images of h x w needs (forward, and backward for
 * MODEL_TRAIN). Writes only the graph's planning scratch. */
int model_plan_measure(const Model *m, int n, int h, int w, ModelMode mode, size_t *bytes, Error *err);
/* Resets m->arena and carves the run from it (the arena must hold at least
 * model_plan_measure bytes): tensor shapes and pointers, op buffers, m->out
 * and m->run_n/h/w/mode (run_valid is left to the forward). */
int model_plan_carve(Model *m, int n, int h, int w, ModelMode mode, Error *err);

#endif
