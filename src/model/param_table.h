/* The model's state_dict laid out on flat arrays: every tensor YOLOv5 v7.0
 * would save, named and ordered exactly as its state_dict (spec §9.2), with
 * its shape, its kind and, for trainable tensors, its optimizer group.
 *
 * Storage is three contiguous blocks the model owner allocates:
 *   params   float[n_params]   trainable tensors (conv weights, BN gamma/beta,
 *                              Detect weights/biases), packed in state_dict
 *                              order, so model.parameters() order too;
 *   buffers  float[n_buffers]  BN running_mean/running_var, Detect anchors;
 *   counters int64[n_counters] BN num_batches_tracked (one scalar per BN).
 * ParamEntry.offset indexes the block of the entry's kind. A gradient block
 * of n_params floats shares the params offsets.
 *
 * For the graph builder, each layer also gets its sub-structure as ConvUnits
 * (a Conv2d without bias + BatchNorm2d + activation) and, for Detect, a
 * DetectParams with one biased 1x1 conv per level. Units of a layer, in
 * registration (= state_dict) order:
 *   Conv  [0] the unit                                   ("model.i")
 *   C3    [0] cv1  [1] cv2  [2] cv3                       ("model.i.cv1" ...)
 *         [3 + 2j] m.j.cv1 (1x1)  [4 + 2j] m.j.cv2 (3x3)  ("model.i.m.j.cv1" ...)
 *   SPPF  [0] cv1  [1] cv2
 *   nn.Upsample, Concat: none. Detect: none (see DetectParams).
 *
 * Optimizer groups follow YOLOv5's smart_optimizer (walk modules in order; a
 * parameter named bias -> biases, a BatchNorm weight -> BN weights, anything
 * else -> decayed weights). Torch's param_groups list them in the order
 * [PARAM_GROUP_BIAS, PARAM_GROUP_DECAY, PARAM_GROUP_BN_WEIGHT]; the optimizer
 * state_dict numbers parameters in that group order (spec §9.3). */
#ifndef YV5_PARAM_TABLE_H
#define YV5_PARAM_TABLE_H

#include <stddef.h>

#include "core/error.h"
#include "model/model_config.h"

typedef enum {
    ENTRY_PARAM,   /* trainable float tensor -> params block */
    ENTRY_BUFFER,  /* float buffer -> buffers block */
    ENTRY_COUNTER, /* int64 scalar (num_batches_tracked) -> counters block */
} EntryKind;

enum {
    PARAM_GROUP_NONE = -1,     /* buffers and counters */
    PARAM_GROUP_DECAY = 0,     /* g0: conv weights incl. Detect (weight decay) */
    PARAM_GROUP_BN_WEIGHT = 1, /* g1: BatchNorm gamma (no decay) */
    PARAM_GROUP_BIAS = 2,      /* g2: BatchNorm beta and Detect biases (no decay) */
    PARAM_GROUP_COUNT = 3
};

typedef struct {
    char key[80];  /* e.g. "model.2.m.0.cv1.conv.weight", "model.24.anchors" */
    int ndim;      /* 0 for num_batches_tracked */
    int shape[4];
    size_t numel;
    EntryKind kind;
    int group;     /* PARAM_GROUP_* for ENTRY_PARAM, PARAM_GROUP_NONE otherwise */
    size_t offset; /* element offset into the block of its kind */
    int layer;     /* model layer (the i of "model.i") */
} ParamEntry;

/* Conv2d(c_in -> c_out, k, stride, pad, no bias) -> BatchNorm2d(c_out) -> SiLU
 * (identity when act == 0). Its six state_dict entries are consecutive,
 * starting at `entry`: conv.weight, bn.weight, bn.bias, bn.running_mean,
 * bn.running_var, bn.num_batches_tracked. */
typedef struct {
    int c_in, c_out, k, stride, pad, act;
    size_t weight;              /* params: (c_out, c_in, k, k) */
    size_t gamma, beta;         /* params: (c_out) each */
    size_t running_mean;        /* buffers: (c_out) */
    size_t running_var;         /* buffers: (c_out) */
    size_t num_batches_tracked; /* counters: one int64 */
    int entry;                  /* index of conv.weight in ParamTable.entries */
} ConvUnit;

typedef struct {
    int c_in;      /* channels of the level's input feature */
    size_t weight; /* params: (na*no, c_in, 1, 1); row a*no + k = anchor a, output k */
    size_t bias;   /* params: (na*no) */
} DetectHead;

typedef struct {
    int nl, na, no;     /* levels, anchors per level, nc + 5 */
    size_t anchors;     /* buffers: (nl, na, 2), grid units (model_config_anchors_grid) */
    DetectHead head[MODEL_MAX_LEVELS];
} DetectParams;

typedef struct {
    int unit_begin, n_units;     /* slice of ParamTable.units */
    int entry_begin, n_entries;  /* slice of ParamTable.entries */
    size_t n_params;             /* trainable scalars (the "params" column YOLOv5 prints) */
} LayerParams;

typedef struct {
    int n_entries;
    ParamEntry *entries; /* owned, state_dict order */
    int n_units;
    ConvUnit *units;     /* owned, state_dict order */
    int n_layers;
    LayerParams *layers; /* owned, one per ModelConfig layer */
    DetectParams detect;

    size_t n_params, n_buffers, n_counters; /* block sizes in elements */
    int n_param_tensors, n_buffer_tensors;  /* buffer tensors include the counters */
    int group_tensors[PARAM_GROUP_COUNT];   /* trainable tensors per optimizer group */
    size_t group_numel[PARAM_GROUP_COUNT];
    size_t n_params_fused; /* params once each BN is folded into a conv bias */
} ParamTable;

/* Lays out the state_dict of cfg. On failure t is left empty. */
int param_table_build(const ModelConfig *cfg, ParamTable *t, Error *err);
void param_table_free(ParamTable *t);

/* Index of the entry with this key, or -1. */
int param_table_find(const ParamTable *t, const char *key);
/* "(16, 3, 6, 6)", "(255,)", "()" as torch prints a shape tuple. */
void param_entry_shape_str(const ParamEntry *e, char *out, size_t cap);

/* Unit k of a layer (see the order above). */
static inline const ConvUnit *layer_unit(const ParamTable *t, int layer, int k)
{
    return &t->units[t->layers[layer].unit_begin + k];
}
enum { C3_CV1 = 0, C3_CV2 = 1, C3_CV3 = 2, SPPF_CV1 = 0, SPPF_CV2 = 1 };
/* Bottleneck j of a C3 layer: its 1x1 cv1 and its 3x3 cv2. */
static inline const ConvUnit *c3_bottleneck_cv1(const ParamTable *t, int layer, int j)
{
    return layer_unit(t, layer, 3 + 2 * j);
}
static inline const ConvUnit *c3_bottleneck_cv2(const ParamTable *t, int layer, int j)
{
    return layer_unit(t, layer, 4 + 2 * j);
}

#endif
