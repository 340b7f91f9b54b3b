/* train.py --freeze: which parameters stay fixed.
 *
 * One value N freezes layers 0..N-1 (N = 0, the default, freezes nothing);
 * two or more values freeze exactly the listed layers. A parameter is frozen
 * when its state_dict key contains "model.{i}." for a frozen layer i (so
 * "model.1." does not match "model.10.conv.weight"). Frozen parameters have no
 * gradient in YOLOv5: the optimizer does not step them and clip_grad_norm_
 * leaves them out of the norm. */
#ifndef YV5_OPTIM_FREEZE_H
#define YV5_OPTIM_FREEZE_H

#include "core/error.h"
#include "model/param_table.h"

/* Fills trainable[t->n_entries]: 1 for a parameter that is trained, 0 for a
 * frozen parameter and for every buffer or counter. Returns the number of
 * frozen parameter tensors, or -1 when n_freeze < 1. */
int freeze_mask(const ParamTable *t, const int *freeze, int n_freeze, unsigned char *trainable, Error *e);

#endif
