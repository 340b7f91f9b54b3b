/* The YOLOv5 network built from a resolved ModelConfig: weights in flat
 * blocks laid out by the ParamTable, a graph of primitive ops (conv units,
 * residual adds, concatenations, pools, upsampling, Detect heads) that runs
 * forward in training or eval mode and backward through every op, and
 * activations carved from one Arena per step.
 *
 * Weights. params (trainable), grads (same layout as params), buffers (BN
 * running stats, Detect anchors in grid units) and counters (BN
 * num_batches_tracked) are the ParamTable's blocks; ParamEntry.offset indexes
 * them, so zero-grad, optimizer steps and EMA are flat loops.
 *
 * Activations. model_forward plans every buffer of the run (feature maps,
 * state saved for backward, gradients, op scratch) for the batch and image
 * size it is given, places buffers whose lifetimes do not overlap at the same
 * addresses, and carves them from m->arena, which is grown only when a run
 * needs more than any earlier one (call model_reserve with the largest batch
 * and size of each mode in use). A train run is planned for the whole batch,
 * layer by layer. An eval run is planned per image (model_plan_eval.h): one
 * image's buffers per thread slot, each slot taking whole images through the
 * whole network, then the batch's Detect outputs. The layers' per-thread
 * scratch (nn/thread_scratch.h, the GEMM's packing buffers) grows during the
 * first run of a size and is brought to the same size on every thread at the
 * end of a forward and of a backward (thread_caches_sync), so after the first
 * step of each mode and size no forward or backward allocates. m->out stays
 * valid until the next forward. Because memory is reused, each train forward
 * allows exactly one backward, as in PyTorch.
 *
 * Detect output. For level l, pred[l] holds the raw logits in YOLOv5's
 * training layout (batch, anchor, y, x, no) with no = nc + 5: element
 * pred[l][(((b*na + a)*ny + y)*nx + x)*no + k] = head conv channel a*no + k.
 * The loss reads that and returns dL/dpred in the same layout (dpred[l], a
 * zeroed buffer per level, is provided for it). In eval mode the forward also
 * decodes the boxes as Detect's inference path does (detect_decode.h).
 *
 * Gradients. model_backward ACCUMULATES into m->grads (call model_zero_grad
 * before a new accumulation) and, when given, into the input gradient. Each
 * intermediate gradient is zeroed just before the first op backward that
 * adds into it, and every consumer adds its share, so a feature map used by
 * several layers (the save-list fan-out, C3 inputs, residual skips) receives
 * the sum of its consumers' gradients. A conv unit's backward then
 * OVERWRITES its output's gradient with dL/d(BN output) (used as scratch,
 * conv_bn_act_backward), so after a backward the intermediate gradients are
 * not dL/d(feature map); only m->grads and the input gradient are results. */
#ifndef YV5_MODEL_H
#define YV5_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "ckpt/safetensors.h"
#include "core/arena.h"
#include "core/error.h"
#include "core/gemm.h"
#include "core/rng.h"
#include "model/model_config.h"
#include "model/param_table.h"

/* BatchNorm settings YOLOv5 uses after model build (initialize_weights). */
#define MODEL_BN_EPS 1e-3f
#define MODEL_BN_MOMENTUM 0.03f

typedef enum {
    MODEL_TRAIN, /* BN batch statistics, running stats and counters updated; backward allowed */
    MODEL_EVAL,  /* BN running statistics; boxes decoded */
} ModelMode;

/* ------------------------------------------------------------------------ */
/* The op graph (built once from the config; shapes and buffers set per run) */

typedef enum {
    OP_CONV,     /* ConvUnit: Conv2d (no bias) -> BatchNorm2d -> SiLU (or identity) */
    OP_ADD,      /* residual add of in[0] and in[1] */
    OP_CONCAT,   /* channel concatenation of in[0..n_in) */
    OP_MAXPOOL,  /* k x k max-pool, stride 1, pad k/2 (SPPF) */
    OP_UPSAMPLE, /* nearest x2 */
    OP_HEAD,     /* Detect level: 1x1 conv with bias, permuted to (b, a, y, x, no) */
} GraphOpKind;

/* A feature map (n, c, h, w). For a Detect output the tensor holds the
 * permuted (n, na, h, w, no) logits and c = na * no. */
typedef struct {
    int c, h, w;
    int producer;  /* op that writes it (-1 for the input image) */
    int last_use;  /* last op reading it in forward order (-1: none) */
    float *data;   /* set per run; the input tensor points at the caller's images */
    float *grad;   /* set per train run (NULL for the input unless dinput is given) */
} GraphTensor;

typedef struct {
    GraphOpKind kind;
    int layer; /* model layer the op belongs to */
    int n_in;
    int in[MODEL_MAX_INPUTS]; /* tensor ids */
    int out;                  /* tensor id */
    int unit;                 /* OP_CONV: index into table.units */
    int level;                /* OP_HEAD: Detect level */
    int pool_k;               /* OP_MAXPOOL */
    /* Per run. Saved for backward (train runs; NULL in eval runs): the conv
     * output before BN (z); mean, 3*c_out floats: the batch mean (c_out),
     * then the BN transform the forward applied (2*c_out: the mean's low
     * part and gamma*invstd, conv_bn_act_forward_train's save_affine), so
     * the backward recomputes the activation input bit for bit; invstd
     * (c_out); the max-pool arg-max. a (the BN output before the
     * activation) is always NULL: the fused conv unit recomputes it instead
     * of saving it. Scratch of the op's forward and backward (im2col
     * columns, head outputs, BN/SiLU gradients); in eval runs scratch is slot
     * 0's and each thread slot uses a shifted copy (model_plan_eval.h), and
     * an eval max-pool keeps its arg-max there. */
    float *z, *a, *mean, *invstd;
    int32_t *argmax;
    float *scratch, *scratch_bwd;
} GraphOp;

/* One buffer of a run for the memory planner: bytes, live from step `start`
 * to step `end` inclusive (forward of op i is step i, its backward step
 * 2*n_ops - i), and its offset once placed. */
typedef struct {
    size_t bytes, offset;
    int start, end;
} PlanBuffer;

/* Planning scratch, sized when the graph is built so a run allocates nothing
 * (behind a pointer: measuring a const Model writes it). */
typedef struct {
    int *hw;          /* 2 ints per tensor: shapes */
    PlanBuffer *bufs; /* cap buffers; the last plan used the first `count` */
    int *order;       /* 2 * cap ints */
    int cap, count;
} PlanScratch;

typedef struct {
    int n_tensors;
    GraphTensor *tensors; /* tensors[0] is the input image */
    int n_ops;
    GraphOp *ops;         /* in execution order */
    int *layer_out;       /* per model layer: its output tensor (-1 for Detect) */
    int head_out[MODEL_MAX_LEVELS]; /* Detect level outputs */
    PlanScratch *plan;
} Graph;

/* Detect outputs of the last forward; pointers into the model's arena. */
typedef struct {
    int n;                                   /* batch */
    int nl, na, no;
    int h[MODEL_MAX_LEVELS], w[MODEL_MAX_LEVELS];
    size_t numel[MODEL_MAX_LEVELS];          /* n * na * h * w * no */
    float *pred[MODEL_MAX_LEVELS];           /* raw logits (n, na, h, w, no) */
    float *dpred[MODEL_MAX_LEVELS];          /* train runs: zeroed, same layout, for dL/dpred */
    size_t n_boxes;                          /* sum over levels of na * h * w */
    float *decoded;                          /* eval runs: (n, n_boxes, no), see detect_decode.h */
} DetectOutput;

typedef struct {
    ModelConfig cfg;  /* owned */
    ParamTable table; /* owned; entries name every tensor of the state_dict */

    float *params;     /* table.n_params */
    float *grads;      /* table.n_params, same layout */
    float *buffers;    /* table.n_buffers */
    int64_t *counters; /* table.n_counters */

    int nc;
    char **names; /* nc class names (owned); "0", "1", ... unless set */
    float stride[MODEL_MAX_LEVELS]; /* per Detect level, input pixels per cell */

    Graph graph;
    Arena arena;
    DetectOutput out;

    /* Training passes: BatchNorm statistics over all processes of a
     * data-parallel job (--sync-bn; nn/bn_sync.h). NULL: per process. Not
     * owned. */
    const struct BnSync *bn_sync;
    /* Operand precision of every convolution's products (--bf16: GEMM_BF16,
     * which needs gemm_bf16_available()); BN, activations, the loss and the
     * optimizer stay fp32 whatever it is. model_create sets GEMM_FP32. */
    GemmPrecision precision;

    /* The last forward: what backward needs to know. */
    int run_n, run_h, run_w;
    ModelMode run_mode;
    int run_valid; /* a forward completed and no backward has consumed it yet */
} Model;

/* ------------------------------------------------------------------------ */
/* Building                                                                  */

/* Takes ownership of *cfg (left zeroed, whatever the outcome) and builds the
 * parameter table, zeroed weight blocks, the graph and default names. The
 * weights are all zero until model_init_weights or model_load_weights. */
int model_create(Model *m, ModelConfig *cfg, Error *err);
/* model_config_load + model_create. */
int model_create_from_yaml(Model *m, const char *yaml_path, int nc_override, Error *err);
void model_free(Model *m);

/* PyTorch + YOLOv5 initialisation from rng (spec §2.7-2.8): conv weights
 * U(-1/sqrt(fan_in), +), Detect weights and biases U(-1/sqrt(c_in), +) in
 * layer order, Detect bias priors added (objectness ln(8/(640/s)^2), classes
 * ln(0.6/(nc-0.99999))), BN gamma 1 beta 0, and the stride probe's side effect
 * on the BN buffers (running_mean 0, running_var 0.9, num_batches_tracked 1);
 * anchors in grid units (model_config_anchors_grid). Gradients are zeroed. */
void model_init_weights(Model *m, Rng *rng);

/* Replaces the class names (nc strings, copied). */
int model_set_names(Model *m, const char *const *names, int count, Error *err);

static inline void model_zero_grad(Model *m)
{
    for (size_t i = 0; i < m->table.n_params; i++) m->grads[i] = 0.0f;
}

/* ------------------------------------------------------------------------ */
/* Running                                                                   */

/* Bytes of arena a forward (+ backward in train mode) of n images of h x w
 * needs, or 0 with a message when the size does not fit the network. */
size_t model_arena_bytes(const Model *m, int n, int h, int w, ModelMode mode, Error *err);
/* Grows the arena to fit a run of n x h x w in this mode (train: forward +
 * backward), so later runs of that size or smaller allocate nothing. */
int model_reserve(Model *m, int n, int h, int w, ModelMode mode, Error *err);

/* images: (n, ch_in, h, w) float32; h and w must fit the network (multiples
 * of the largest stride). The images must stay valid until backward. Train
 * mode updates BN running stats and counters. Results in m->out. */
int model_forward(Model *m, const float *images, int n, int h, int w, ModelMode mode, Error *err);

/* Backward of the last forward, which must have been a train run not yet
 * used by a backward. dpred[l]
 * is dL/dpred[l] in the pred layout (NULL: use m->out.dpred). Adds the
 * parameter gradients into m->grads and, when dinput is not NULL, dL/dimages
 * into dinput (n, ch_in, h, w). */
int model_backward(Model *m, const float *const *dpred, float *dinput, Error *err);

/* ------------------------------------------------------------------------ */
/* Weights files (safetensors, see model_weights.c)                          */

#define MODEL_WEIGHTS_FORMAT "yolov5c-weights-1"

/* Writes every state_dict tensor under its ultralytics key (F32;
 * num_batches_tracked I64) with metadata format, nc, names (JSON list),
 * model_yaml (the model definition as JSON), stride (JSON list). Atomic. */
int model_save_weights(const Model *m, const char *path, Error *err);

/* The parts of a weights file, for writers that store more beside them
 * (training checkpoints). model_weights_entries: one StEntry per state_dict
 * entry, named prefix + key into names[i] (n_entries buffers owned by the
 * caller), pointing at m's blocks. model_weights_meta: the metadata values
 * (format, nc, names, model_yaml, stride) in wm->meta[0..MODEL_WEIGHTS_META);
 * release with model_weights_meta_free. */
#define MODEL_WEIGHTS_NAME_MAX 96
#define MODEL_WEIGHTS_META 5
typedef struct {
    char nc[16], stride[256];
    char *names, *definition; /* owned */
    StMeta meta[MODEL_WEIGHTS_META];
} ModelWeightsMeta;
void model_weights_entries(const Model *m, const char *prefix, char (*names)[MODEL_WEIGHTS_NAME_MAX], StEntry *out);
int model_weights_meta(const Model *m, ModelWeightsMeta *wm, Error *err);
void model_weights_meta_free(ModelWeightsMeta *wm);
/* Loads a weights file into a built model. Every tensor is checked before
 * anything is copied: a missing, extra or mis-shaped tensor is an error
 * naming the key with the expected and the actual shape; float tensors may be
 * F32, F16, BF16 or F64, counters I64 or I32. Names are taken from the
 * metadata when present (its nc must then match the model). */
int model_load_weights(Model *m, const char *path, Error *err);
/* The tensor check model_load_weights makes, on its own (nothing is
 * loaded): every entry of the state_dict layout t present with its shape and
 * a dtype the loader reads, and no other tensor (a checkpoint's training
 * state aside). The error names st->path and the first problem, and counts
 * the others. */
int model_weights_check_tensors(const ParamTable *t, const SafeTensors *st, Error *err);
/* A training checkpoint is a weights file plus the training state under
 * these name prefixes: "raw." (live weights), "momentum." and "adam_v."
 * (optimizer state). Weights readers skip such tensors, so a checkpoint can
 * be used wherever weights are (val, detect, --weights, info). */
int model_weights_is_training_state(const char *tensor_name);
/* Builds the model described by a weights file's metadata (model_yaml: the
 * YAML text, or ultralytics' model dict as JSON as scripts/pt2safetensors.py
 * writes it; nc from the metadata) and loads its tensors. */
int model_create_from_weights(Model *m, const char *path, Error *err);

#endif
