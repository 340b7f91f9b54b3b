/* Batch-size scaling, LambdaLR schedule and warmup against a simulation of
 * YOLOv5 v7.0's train.py with PyTorch 1.13's LambdaLR and SGD param groups
 * (scripts/gen_optim_fixtures.py), including resumed runs, and against the
 * reference values of spec §4.2 and §4.4. The values are doubles computed
 * with Python's operation order, so they are compared for equality. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hyp/hyp.h"
#include "optim/lr_schedule.h"
#include "optim/optimizer.h"
#include "optim_fixture.h"
#include "test.h"

static void schedule_case(const SafeTensors *st, const char *name, double *max_diff)
{
    char key[128];
#define META(field) (snprintf(key, sizeof key, "%s." field, name), ofx_meta_num(st, key))
    LrSchedule s = {0};
    snprintf(key, sizeof key, "%s.kind", name);
    const char *kind = st_meta(st, key);
    CHECK(kind && (!strcmp(kind, "linear") || !strcmp(kind, "cosine")), "%s kind", name);
    s.kind = kind && !strcmp(kind, "cosine") ? LR_COSINE : LR_LINEAR;
    s.epochs = (int)META("epochs");
    s.lr0 = META("lr0");
    s.lrf = META("lrf");
    s.momentum = META("momentum");
    s.warmup_momentum = META("warmup_momentum");
    s.warmup_bias_lr = META("warmup_bias_lr");
    s.batch_size = (int)META("batch_size");
    s.nb = (int64_t)META("nb");
    s.nw = warmup_iterations(META("warmup_epochs"), s.nb);
    CHECK(s.nw == (int64_t)META("nw"), "%s: nw %lld want %g", name, (long long)s.nw, META("nw"));
    int start_epoch = (int)META("start_epoch");
#undef META

    size_t n = 0, n_end = 0, n_lf = 0;
#define ARR(fn, field, cnt) (snprintf(key, sizeof key, "%s." field, name), fn(st, key, cnt))
    int64_t *ni = ARR(ofx_i64, "ni", &n);
    int64_t *epoch = ARR(ofx_i64, "epoch", NULL);
    double *lr = ARR(ofx_f64, "lr", NULL);
    double *mom = ARR(ofx_f64, "momentum", NULL);
    double *acc = ARR(ofx_f64, "accumulate", NULL);
    double *end_lr = ARR(ofx_f64, "epoch_end_lr", &n_end);
    double *init_lr = ARR(ofx_f64, "initial_lr", NULL);
    double *lf = ARR(ofx_f64, "lf", &n_lf);
#undef ARR
    if (!ni || !epoch || !lr || !mom || !acc || !end_lr || !init_lr || !lf || n == 0) {
        CHECK(0, "%s: arrays", name);
        goto done;
    }
    CHECK(n == (size_t)((s.epochs - start_epoch) * s.nb), "%s: %zu batches", name, n);
    int bad = 0, warm = 0, post = 0;
    for (size_t i = 0; i < n; i++) {
        SchedulePoint pt;
        lr_schedule_at(&s, (int)epoch[i], ni[i], &pt);
        for (int j = 0; j < PARAM_GROUP_COUNT; j++) {
            double want = lr[i * 3 + (size_t)j], got = pt.lr[optim_torch_group(j)];
            *max_diff = fmax(*max_diff, fabs(got - want));
            if (got != want) {
                if (bad++ < 4) printf("    %s ni %lld group %d: lr %.17g want %.17g\n", name, (long long)ni[i], j, got, want);
            }
        }
        *max_diff = fmax(*max_diff, fabs(pt.momentum - mom[i]));
        if (pt.momentum != mom[i] && bad++ < 4)
            printf("    %s ni %lld: momentum %.17g want %.17g\n", name, (long long)ni[i], pt.momentum, mom[i]);
        if (pt.accumulate != (int)acc[i] && bad++ < 4)
            printf("    %s ni %lld: accumulate %d want %g\n", name, (long long)ni[i], pt.accumulate, acc[i]);
        CHECK(pt.warmup == (ni[i] <= s.nw), "warmup flag");
        warm += pt.warmup;
        post += !pt.warmup;
    }
    CHECK(bad == 0, "%s: %d values differ from train.py", name, bad);
    /* each case must exercise what it is meant to */
    CHECK(start_epoch > 0 || warm > 0, "%s: no warmup batch", name);
    CHECK(post > 0, "%s: no post-warmup batch", name);

    CHECK(n_end == (size_t)(s.epochs - start_epoch) * 3, "%s: epoch_end_lr", name);
    for (int e = start_epoch; e < s.epochs; e++)
        for (int j = 0; j < 3; j++) {
            double want = end_lr[(size_t)(e - start_epoch) * 3 + (size_t)j];
            CHECK(lr_schedule_epoch_end_lr(&s, e) == want, "%s: lr after epoch %d: %.17g want %.17g", name, e,
                  lr_schedule_epoch_end_lr(&s, e), want);
        }
    for (int j = 0; j < 3; j++)
        CHECK(lr_schedule_initial_lr(&s) == init_lr[j], "%s: LambdaLR initial lr %.17g want %.17g", name,
              lr_schedule_initial_lr(&s), init_lr[j]);
    CHECK(n_lf == (size_t)s.epochs + 1, "lf count");
    for (int e = 0; e <= s.epochs && (size_t)e < n_lf; e++)
        CHECK(lr_lambda(&s, e) == lf[e], "%s: lf(%d) %.17g want %.17g", name, e, lr_lambda(&s, e), lf[e]);
done:
    free(ni);
    free(epoch);
    free(lr);
    free(mom);
    free(acc);
    free(end_lr);
    free(init_lr);
    free(lf);
}

static void test_schedule_matches_train_py(void)
{
    SafeTensors st;
    if (ofx_open(&st, "schedule.safetensors")) {
        CHECK(0, "fixture");
        return;
    }
    char buf[1024], *names[32];
    int n = ofx_meta_split(&st, "cases", buf, sizeof buf, names, 32);
    CHECK(n >= 9, "cases %d", n);
    double max_diff = 0;
    for (int i = 0; i < n; i++) schedule_case(&st, names[i], &max_diff);
    printf("    # %d cases: max |lr or momentum - train.py| = %.3g\n", n, max_diff);
    st_free(&st);
}

/* Spec §4.4 reference values: nw = 100, lr0 = 0.01, lf(0) = 1. */
static void test_warmup_reference_values(void)
{
    LrSchedule s = {LR_LINEAR, 300, 0.01, 0.01, 0.937, 0.8, 0.1, 16, 8, 100};
    CHECK(warmup_iterations(3.0, 8) == 100, "nw");
    static const struct {
        int64_t ni;
        double bias, other, momentum;
    } ref[] = {{0, 0.1, 0.0, 0.8}, {1, 0.0991, 0.0001, 0.80137}, {50, 0.055, 0.005, 0.8685},
               {100, 0.01, 0.01, 0.937}};
    for (size_t i = 0; i < sizeof ref / sizeof ref[0]; i++) {
        SchedulePoint pt;
        lr_schedule_at(&s, 0, ref[i].ni, &pt);
        CHECK_CLOSE(pt.lr[PARAM_GROUP_BIAS], ref[i].bias, 1e-15, 1e-12);
        CHECK_CLOSE(pt.lr[PARAM_GROUP_DECAY], ref[i].other, 1e-15, 1e-12);
        CHECK_CLOSE(pt.lr[PARAM_GROUP_BN_WEIGHT], ref[i].other, 1e-15, 1e-12);
        CHECK_CLOSE(pt.momentum, ref[i].momentum, 1e-15, 1e-12);
    }
    /* accumulate change points (spec): bs 8 and 16, nw = 100 */
    static const int64_t bs8[] = {0, 8, 22, 36, 51, 65, 79, 93}, bs16[] = {0, 17, 51, 84};
    const int64_t *pts[2] = {bs8, bs16};
    const int npts[2] = {8, 4}, bss[2] = {8, 16};
    for (int c = 0; c < 2; c++) {
        s.batch_size = bss[c];
        int prev = 0, k = 0, ok = 1;
        for (int64_t ni = 0; ni <= 150; ni++) {
            SchedulePoint pt;
            lr_schedule_at(&s, (int)(ni / s.nb), ni, &pt);
            if (pt.accumulate != prev) {
                if (k >= npts[c] || pts[c][k] != ni || pt.accumulate != k + 1) ok = 0;
                k++;
                prev = pt.accumulate;
            }
        }
        CHECK(ok && k == npts[c], "bs %d: accumulate changes", bss[c]);
    }
    s.batch_size = 64;
    for (int64_t ni = 0; ni <= 120; ni++) {
        SchedulePoint pt;
        lr_schedule_at(&s, 0, ni, &pt);
        if (pt.accumulate != 1) CHECK(0, "bs 64 ni %lld accumulate %d", (long long)ni, pt.accumulate);
    }
}

/* Spec §4.4: linear, E = 5, lr0 = 0.01, lrf = 0.01: the steps after epochs
 * 0..4 set 0.01, 0.00802, 0.00604, 0.00406, 0.00208. */
static void test_epoch_lag_reference(void)
{
    LrSchedule s = {LR_LINEAR, 5, 0.01, 0.01, 0.937, 0.8, 0.1, 16, 8, 100};
    const double want[5] = {0.01, 0.00802, 0.00604, 0.00406, 0.00208};
    for (int e = 0; e < 5; e++) CHECK_CLOSE(lr_schedule_epoch_end_lr(&s, e), want[e], 1e-17, 1e-12);
    /* nb 100: warmup ends at ni = 100 = the first batch of epoch 1, which
     * then runs at lr0*lf(1); epoch 2 at lr0*lf(1) too, epoch 3 at lf(2) */
    s.nb = 100;
    SchedulePoint pt;
    lr_schedule_at(&s, 1, 150, &pt);
    CHECK(pt.lr[PARAM_GROUP_DECAY] == 0.01 * lr_lambda(&s, 1) && !pt.warmup, "epoch of warmup end");
    lr_schedule_at(&s, 2, 250, &pt);
    CHECK(pt.lr[PARAM_GROUP_BIAS] == 0.01 * lr_lambda(&s, 1), "one-epoch lag");
    lr_schedule_at(&s, 3, 399, &pt);
    CHECK(pt.lr[PARAM_GROUP_BN_WEIGHT] == 0.01 * lr_lambda(&s, 2), "one-epoch lag");
    CHECK(pt.momentum == 0.937 && pt.accumulate == 4, "after warmup");
    CHECK(optimizer_step_due(0, -1, 1) && !optimizer_step_due(5, 3, 4) && optimizer_step_due(7, 3, 4), "due");
    /* cosine multiplier: 1 at 0, lrf at E, midpoint (1 + lrf) / 2 */
    s.kind = LR_COSINE;
    s.lrf = 0.1;
    s.epochs = 4;
    CHECK(lr_lambda(&s, 0) == 1.0, "cos lf(0)");
    CHECK_CLOSE(lr_lambda(&s, 4), 0.1, 1e-15, 0);
    CHECK_CLOSE(lr_lambda(&s, 2), 0.55, 1e-15, 0);
}

/* Spec §4.2 table plus train.py's values for more sizes (fixture). */
static void test_accumulate_and_weight_decay(void)
{
    static const struct {
        int bs, acc;
        double factor;
    } ref[] = {{1, 64, 1.0}, {16, 4, 1.0}, {24, 3, 1.125}, {32, 2, 1.0}, {64, 1, 1.0}, {128, 1, 2.0}};
    for (size_t i = 0; i < sizeof ref / sizeof ref[0]; i++) {
        CHECK(nominal_accumulate(ref[i].bs) == ref[i].acc, "bs %d accumulate %d", ref[i].bs,
              nominal_accumulate(ref[i].bs));
        CHECK_CLOSE(scaled_weight_decay(0.0005, ref[i].bs), 0.0005 * ref[i].factor, 1e-18, 1e-15);
    }
    SafeTensors st;
    if (ofx_open(&st, "accumulate.safetensors")) {
        CHECK(0, "fixture");
        return;
    }
    size_t n = 0, m = 0;
    int64_t *bs = ofx_i64(&st, "batch_size", &n), *acc = ofx_i64(&st, "accumulate", NULL);
    double *wd = ofx_f64(&st, "weight_decay", NULL), *we = ofx_f64(&st, "nw_warmup_epochs", &m);
    int64_t *nb = ofx_i64(&st, "nw_nb", NULL), *nw = ofx_i64(&st, "nw", NULL);
    CHECK(bs && acc && wd && we && nb && nw && n > 10 && m > 5, "arrays");
    for (size_t i = 0; bs && acc && wd && i < n; i++) {
        CHECK(nominal_accumulate((int)bs[i]) == acc[i], "bs %lld: accumulate %d want %lld", (long long)bs[i],
              nominal_accumulate((int)bs[i]), (long long)acc[i]);
        CHECK(scaled_weight_decay(0.0005, (int)bs[i]) == wd[i], "bs %lld: decay %.17g want %.17g",
              (long long)bs[i], scaled_weight_decay(0.0005, (int)bs[i]), wd[i]);
    }
    for (size_t i = 0; we && nb && nw && i < m; i++)
        CHECK(warmup_iterations(we[i], nb[i]) == nw[i], "nw(%g, %lld) = %lld want %lld", we[i], (long long)nb[i],
              (long long)warmup_iterations(we[i], nb[i]), (long long)nw[i]);
    free(bs);
    free(acc);
    free(wd);
    free(we);
    free(nb);
    free(nw);
    st_free(&st);
}

static void test_init_from_hyp(void)
{
    Hyp h;
    hyp_default(&h);
    LrSchedule s;
    Error err = {{0}};
    CHECK(lr_schedule_init(&s, LR_COSINE, &h, 300, 8, 16, &err) == 0, "%s", err.msg);
    CHECK(s.kind == LR_COSINE && s.epochs == 300 && s.nb == 8 && s.nw == 100 && s.batch_size == 16, "fields");
    CHECK(s.lr0 == 0.01 && s.lrf == 0.01 && s.momentum == 0.937 && s.warmup_momentum == 0.8 &&
              s.warmup_bias_lr == 0.1,
          "hyp values");
    CHECK(lr_schedule_init(&s, LR_LINEAR, &h, 10, 1000, 16, &err) == 0 && s.nw == 3000, "nw 3 epochs");
    CHECK(lr_schedule_init(&s, LR_LINEAR, &h, 0, 8, 16, &err) == -1 && strstr(err.msg, "epochs"), "%s", err.msg);
    CHECK(lr_schedule_init(&s, LR_LINEAR, &h, 5, 0, 16, &err) == -1 && strstr(err.msg, "batches"), "%s",
          err.msg);
    CHECK(lr_schedule_init(&s, LR_LINEAR, &h, 5, 8, 0, &err) == -1 && strstr(err.msg, "batch size"), "%s",
          err.msg);
}

TEST_MAIN(TEST_ENTRY(test_schedule_matches_train_py), TEST_ENTRY(test_warmup_reference_values),
          TEST_ENTRY(test_epoch_lag_reference), TEST_ENTRY(test_accumulate_and_weight_decay),
          TEST_ENTRY(test_init_from_hyp))
