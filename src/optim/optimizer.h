/* The optimizers YOLOv5 v7.0 trains with (train.py --optimizer SGD|Adam|AdamW,
 * built by smart_optimizer; spec §4.3), on the model's flat parameter block.
 *
 * Groups. Every trainable tensor belongs to one of three groups, given by its
 * ParamEntry.group (model/param_table.h): PARAM_GROUP_DECAY (conv weights incl.
 * Detect, weight decay = the scaled hyp decay), PARAM_GROUP_BN_WEIGHT and
 * PARAM_GROUP_BIAS (no decay). All start at lr = lr0. Torch lists them as
 * param_groups [0] biases, [1] decayed weights, [2] BN weights; that order
 * matters for warmup (group 0 is the bias group), for the x/lr0..2 columns of
 * results.csv and for the optimizer state_dict (optim_torch_group).
 *
 * Update rules: PyTorch 1.13's single-tensor implementations, evaluated in
 * float32 in torch's order of operations, each double hyperparameter rounded
 * to float where torch's kernels do (lr, momentum, betas, decay). With g the
 * gradient, p the parameter and the group's lr, momentum mu, decay wd:
 *   SGD (nesterov, dampening 0):  d = g + wd*p (only if wd != 0);
 *         buf = d on the first step, else buf = buf*mu + d;
 *         d = d + mu*buf;  p = p + (-lr)*d.  (mu == 0: p = p + (-lr)*d, no buffer.)
 *   Adam (beta1 = hyp momentum, beta2 0.999, eps 1e-8, amsgrad off), step t:
 *         g = g + wd*p (only if wd != 0);  m = m*b1 + (1-b1)*g;
 *         v = v*b2 + ((1-b2)*g)*g;  denom = sqrt(v)/sqrt(1-b2^t) + eps;
 *         p = p + (-(lr/(1-b1^t)))*m / denom   (bias corrections in double).
 *   AdamW: p = p*(1 - lr*wd) first (every group; a no-op where wd = 0), then
 *         Adam's moments and update without the L2 term.
 * In smart_optimizer only the decayed-weight group has wd != 0 under all three
 * optimizers (Adam as L2 on the gradient, AdamW decoupled). Warmup changes
 * SGD's momentum; Adam's beta1 stays fixed (its groups have no 'momentum').
 *
 * Freezing: entries whose trainable flag is 0 (optim/freeze.h) are skipped
 * entirely (torch: requires_grad False -> no gradient -> not stepped, no
 * state), whatever their gradient slots hold.
 *
 * State (for checkpoints/resume): state0[n_params] holds SGD's momentum_buffer
 * or Adam's exp_avg and state1[n_params] Adam's exp_avg_sq (NULL for SGD), at
 * the params offsets (frozen entries stay 0). steps[e] counts the steps that
 * updated entry e's state: Adam's state['step']; for SGD 0 means torch's
 * momentum buffer does not exist yet. Torch's optimizer state_dict numbers
 * parameters by param group (biases, decayed weights, BN weights), each group
 * in table order (spec §9.3).
 *
 * The step loops are OpenMP-parallel over elements (results do not depend on
 * the thread count) and allocate nothing. */
#ifndef YV5_OPTIMIZER_H
#define YV5_OPTIMIZER_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "model/param_table.h"

typedef enum { OPTIM_SGD = 0, OPTIM_ADAM = 1, OPTIM_ADAMW = 2 } OptimizerKind;

#define OPTIM_ADAM_BETA2 0.999
#define OPTIM_ADAM_EPS 1e-8

/* "SGD", "Adam", "AdamW" (train.py's spelling); "?" for an invalid value. */
const char *optimizer_kind_name(OptimizerKind kind);
/* Parses train.py's --optimizer choices (exact spelling). */
int optimizer_kind_parse(const char *name, OptimizerKind *out, Error *e);

/* PARAM_GROUP_* of torch's param_groups[j]: j = 0 biases, 1 decayed weights,
 * 2 BN weights. */
static inline int optim_torch_group(int j)
{
    static const int order[PARAM_GROUP_COUNT] = {PARAM_GROUP_BIAS, PARAM_GROUP_DECAY,
                                                 PARAM_GROUP_BN_WEIGHT};
    return order[j];
}

typedef struct {
    OptimizerKind kind;
    double lr0;          /* hyp lr0: every group's initial lr */
    double momentum;     /* hyp momentum: SGD momentum, Adam/AdamW beta1 */
    double weight_decay; /* already scaled (scaled_weight_decay); decayed group only */
} OptimizerConfig;

typedef struct {
    double lr;           /* learning rate of the next step (torch group 'lr') */
    double momentum;     /* SGD momentum of the next step; unused by Adam/AdamW */
    double weight_decay; /* torch group 'weight_decay' */
    double initial_lr;   /* LambdaLR's 'initial_lr' (= lr0) */
} OptimGroup;

/* A trainable tensor: its slice of the params/grads/state blocks. */
typedef struct {
    size_t offset, numel;
    int group; /* PARAM_GROUP_* */
    int entry; /* index in ParamTable.entries */
} OptimSegment;

typedef struct {
    OptimizerKind kind;
    double beta1, beta2, eps;             /* Adam/AdamW */
    OptimGroup group[PARAM_GROUP_COUNT];  /* indexed by PARAM_GROUP_* */
    size_t n_params;                      /* size of the params block */
    int n_entries;                        /* ParamTable.n_entries */
    unsigned char *trainable;             /* n_entries, owned copy: 1 = stepped */
    int n_segments;
    OptimSegment *segments;               /* trainable tensors in table order */
    float *state0;                        /* n_params: momentum_buffer / exp_avg */
    float *state1;                        /* n_params: exp_avg_sq (Adam/AdamW), else NULL */
    int64_t *steps;                       /* n_entries: state updates per entry */
} Optimizer;

/* Builds the optimizer for table t. trainable (n_entries flags, see
 * optim/freeze.h) may be NULL: every ENTRY_PARAM is trainable. Groups start
 * with lr = initial_lr = lr0, momentum = cfg momentum, weight_decay = cfg decay
 * for PARAM_GROUP_DECAY and 0 otherwise; state zero. Rejects what torch's
 * constructors reject (negative lr or decay, SGD momentum <= 0 with nesterov,
 * beta1 outside [0, 1)) and inconsistent tables. */
int optimizer_init(Optimizer *opt, const OptimizerConfig *cfg, const ParamTable *t,
                   const unsigned char *trainable, Error *e);
void optimizer_free(Optimizer *opt);

/* Sets every group's lr (lr[PARAM_GROUP_*]) and, for SGD, momentum, as
 * train.py's warmup does (values from lr_schedule_at). */
void optimizer_set_schedule(Optimizer *opt, const double lr[PARAM_GROUP_COUNT], double momentum);

/* One optimizer.step(): updates params and state of every trainable entry from
 * grads (not modified). */
void optimizer_step(Optimizer *opt, float *params, const float *grads);

/* Clears the state (as a freshly built torch optimizer). */
void optimizer_reset_state(Optimizer *opt);

/* smart_optimizer's log line, e.g. "SGD(lr=0.01) with parameter groups 57
 * weight(decay=0.0), 60 weight(decay=0.0005), 60 bias" (counts over all
 * parameters of t, frozen ones included, as torch's groups hold them; numbers
 * as Python prints them). */
void optimizer_summary(const Optimizer *opt, const ParamTable *t, char *out, size_t cap);

#endif
