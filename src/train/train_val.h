/* Per-epoch validation of the EMA model during training (train_run.h's
 * TrainValidateFn), on the validation runner (val/val.h) as train.py calls
 * val.run: the val split through a rect loader (batch 2 x bs, pad 0.5),
 * conf 0.001, IoU 0.6, max_det 300, the training loss for the val losses. The
 * runner and its loader are opened at the first validation and kept. */
#ifndef YV5_TRAIN_VAL_H
#define YV5_TRAIN_VAL_H

#include "train/train_run.h"

typedef struct {
    struct Validator *validator; /* NULL until the first validation */
} TrainVal;

/* TrainValidateFn with ctx = TrainVal*. */
int train_validate(void *ctx, const TrainValContext *vc, double results[VAL_RESULTS], Error *e);
void train_val_close(TrainVal *tv);

#endif
