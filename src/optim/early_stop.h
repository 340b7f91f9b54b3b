/* End-of-epoch model selection as YOLOv5 v7.0 does it (spec §4.7):
 * fitness = 0.1 * mAP@0.5 + 0.9 * mAP@0.5:0.95 (utils/metrics.py), and
 * EarlyStopping (utils/torch_utils.py): an epoch whose fitness is >= the best
 * so far (non-strict, starting from best 0.0 at epoch 0) becomes the best
 * epoch; delta = epoch - best_epoch; possible_stop = delta >= patience - 1
 * (train.py then validates and saves as if it were the final epoch); stop =
 * delta >= patience. --patience 0 means never (Python `patience or inf`). */
#ifndef YV5_OPTIM_EARLY_STOP_H
#define YV5_OPTIM_EARLY_STOP_H

/* results[0..3] = P, R, mAP@0.5, mAP@0.5:0.95; weights 0, 0, 0.1, 0.9 summed
 * in NumPy's order (so NaN in P or R propagates as it does there). */
double fitness_from_metrics(const double results[4]);

typedef struct {
    double best_fitness; /* 0.0 at start */
    int best_epoch;      /* 0 at start */
    double patience;     /* epochs; INFINITY for --patience 0 */
    int possible_stop;   /* the next epoch may stop training */
} EarlyStopping;

void early_stopping_init(EarlyStopping *s, int patience);
/* Records the fitness of `epoch`; returns 1 when training should stop. */
int early_stopping_update(EarlyStopping *s, int epoch, double fitness);

#endif
