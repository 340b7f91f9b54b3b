/* fitness() and EarlyStopping against YOLOv5 v7.0's utils/metrics.fitness and
 * utils/torch_utils.EarlyStopping (scripts/gen_optim_fixtures.py): improving,
 * plateau, ties (>= counts as improvement), all-zero, patience 1, patience 0
 * (never stops), negative fitness (below the initial best 0.0) and NaN. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "optim/early_stop.h"
#include "optim_fixture.h"
#include "test.h"

static void test_fitness(void)
{
    const double r[4] = {0.9, 0.8, 0.5, 0.3};
    CHECK(fitness_from_metrics(r) == 0.1 * 0.5 + 0.9 * 0.3, "weights");
    SafeTensors st;
    if (ofx_open(&st, "early_stop.safetensors")) {
        CHECK(0, "fixture");
        return;
    }
    size_t n = 0, m = 0;
    double *in = ofx_f64(&st, "fitness_in", &n), *out = ofx_f64(&st, "fitness_out", &m);
    CHECK(in && out && n == m * 7 && m >= 10, "arrays");
    for (size_t i = 0; in && out && i < m; i++)
        CHECK(fitness_from_metrics(in + i * 7) == out[i], "row %zu: %.17g want %.17g", i,
              fitness_from_metrics(in + i * 7), out[i]);
    free(in);
    free(out);
    st_free(&st);
}

static void test_early_stopping_sequences(void)
{
    SafeTensors st;
    if (ofx_open(&st, "early_stop.safetensors")) {
        CHECK(0, "fixture");
        return;
    }
    char buf[512], *names[16], key[96];
    int n_cases = ofx_meta_split(&st, "cases", buf, sizeof buf, names, 16);
    CHECK(n_cases == 8, "cases %d", n_cases);
    int stops = 0;
    for (int c = 0; c < n_cases; c++) {
        size_t n = 0;
        snprintf(key, sizeof key, "%s.fitness", names[c]);
        double *fit = ofx_f64(&st, key, &n);
        snprintf(key, sizeof key, "%s.stop", names[c]);
        int64_t *stop = ofx_i64(&st, key, NULL);
        snprintf(key, sizeof key, "%s.possible_stop", names[c]);
        int64_t *possible = ofx_i64(&st, key, NULL);
        snprintf(key, sizeof key, "%s.best_epoch", names[c]);
        int64_t *best = ofx_i64(&st, key, NULL);
        snprintf(key, sizeof key, "%s.patience", names[c]);
        int patience = (int)ofx_meta_num(&st, key);
        CHECK(fit && stop && possible && best && n > 0, "%s arrays", names[c]);
        EarlyStopping es;
        early_stopping_init(&es, patience);
        for (size_t e = 0; fit && stop && possible && best && e < n; e++) {
            int s = early_stopping_update(&es, (int)e, fit[e]);
            CHECK(s == stop[e] && es.possible_stop == possible[e] && es.best_epoch == best[e],
                  "%s epoch %zu: stop %d/%lld possible %d/%lld best %d/%lld", names[c], e, s, (long long)stop[e],
                  es.possible_stop, (long long)possible[e], es.best_epoch, (long long)best[e]);
            stops += s;
        }
        free(fit);
        free(stop);
        free(possible);
        free(best);
    }
    CHECK(stops > 0, "no sequence stops");
    EarlyStopping es;
    early_stopping_init(&es, 0);
    CHECK(isinf(es.patience) && es.best_fitness == 0.0 && es.best_epoch == 0, "patience 0 = never");
    st_free(&st);
}

TEST_MAIN(TEST_ENTRY(test_fitness), TEST_ENTRY(test_early_stopping_sequences))
