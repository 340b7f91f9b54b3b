/* torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=10.0) as YOLOv5
 * v7.0 calls it before every optimizer step (spec §4.5), on the gradient block.
 *
 * PyTorch 1.13 (CPU, float32): each parameter's gradient norm is reduced in
 * float32 with 8 interleaved partial sums (element i goes to lane i mod 8
 * over the largest multiple of 8; the lanes are then added in order 0..7 and
 * the remaining elements added one by one; sqrt), the total is the same
 * reduction over the vector of per-tensor norms in parameters() order,
 * coef = (1 / (total + 1e-6)) * max_norm in float32 (torch evaluates
 * max_norm / t as t.reciprocal() * max_norm), and every gradient is multiplied
 * by min(coef, 1). This reproduces torch's non-FMA kernels bit for bit.
 *
 * Only trainable entries take part (frozen parameters have no gradient in
 * torch). A non-finite total is reported as an error and the gradients are
 * left unscaled, so the caller can skip the step (torch would scale every
 * gradient by NaN or 0 and step anyway). Per-tensor norms run in parallel over
 * tensors; the scaling is elementwise; nothing is allocated. */
#ifndef YV5_OPTIM_CLIP_GRAD_H
#define YV5_OPTIM_CLIP_GRAD_H

#include "core/error.h"
#include "model/param_table.h"

/* YOLOv5's max_norm. */
#define CLIP_GRAD_MAX_NORM 10.0f

typedef struct {
    float total_norm; /* what clip_grad_norm_ returns */
    float coef;       /* min((1 / (total + 1e-6)) * max_norm, 1); 1 when not finite */
    int clipped;      /* the gradients were scaled (coef < 1) */
} ClipResult;

/* The float32 L2 norm of n floats, reduced as torch's CPU norm kernel does. */
float torch_l2_norm_f32(const float *x, size_t n);

/* trainable: t->n_entries flags (NULL: every ENTRY_PARAM). entry_norms:
 * t->n_entries floats of scratch; on return it holds each trainable entry's
 * norm (0 for the others). Returns 0, or -1 when the total norm is NaN or
 * infinite, with a message naming the first tensor whose norm is not finite
 * (or saying the sum overflowed); res is filled either way. */
int clip_grad_norm(const ParamTable *t, const unsigned char *trainable, float *grads, float max_norm,
                   float *entry_norms, ClipResult *res, Error *e);

#endif
