/* fitness() and EarlyStopping (early_stop.h). */
#include "optim/early_stop.h"

#include <math.h>

double fitness_from_metrics(const double results[4])
{
    static const double w[4] = {0.0, 0.0, 0.1, 0.9};
    /* np.sum over 4 elements: the first, plus the rest added left to right */
    double a0 = results[0] * w[0], a1 = results[1] * w[1], a2 = results[2] * w[2], a3 = results[3] * w[3];
    return a0 + ((a1 + a2) + a3);
}

void early_stopping_init(EarlyStopping *s, int patience)
{
    s->best_fitness = 0.0;
    s->best_epoch = 0;
    s->patience = patience ? (double)patience : INFINITY;
    s->possible_stop = 0;
}

int early_stopping_update(EarlyStopping *s, int epoch, double fitness)
{
    if (fitness >= s->best_fitness) {
        s->best_epoch = epoch;
        s->best_fitness = fitness;
    }
    double delta = (double)epoch - (double)s->best_epoch;
    s->possible_stop = delta >= s->patience - 1.0;
    return delta >= s->patience;
}
