/* The trainer against YOLOv5 v7.0's own training steps (fixtures from
 * scripts/gen_train_fixtures.py): the same batches fed to the real
 * train.py sequence and to trainer_batch give the same loss items, learning
 * rates, momentum, accumulate decisions, clip norms, clipped gradients (the
 * first momentum buffer), updated weights, BN running statistics, EMA and
 * optimizer state. Also: the schedule through the trainer against torch's
 * LambdaLR + warmup (the optimizer fixtures), weight-decay grouping, fp16
 * start-up rounding. */
#define _GNU_SOURCE /* mallinfo2 */
#include <malloc.h>

#include "train_test_util.h"

#include <omp.h>

#include "optim/lr_schedule.h"
#include "train/fp16_round.h"

/* Two float32 implementations of the same steps drift apart as training
 * amplifies rounding differences. Measured on these fixtures against a
 * float64 run of the reference: torch's own float32 run is off by 1.4e-5 in
 * the first clip norm and 4e-4 in the fourth, ours by 1.2e-5 and 5e-4; our
 * difference from torch float32 is of the same size (printed by the tests).
 * The bounds below leave 3-10x margin over what was measured. */
#define TOL_ITEMS 1e-4       /* loss items, relative */
#define TOL_NORM_FIRST 2e-5  /* total gradient norm of the first step, relative */
#define TOL_NORM 1e-3        /* later steps */
#define TOL_GRAD 2e-4        /* first momentum buffer (clipped gradient), relative to its largest element */
#define TOL_STATE 3e-3       /* optimizer state after several steps */
#define TOL_WEIGHTS 1e-4     /* parameters and buffers, relative to the largest element */
#define TOL_DELTA 2e-3       /* the change of the parameters in one step, relative to the largest change */

static double rel(double got, double want) { return fabs(got - want) / (fabs(want) > 1e-12 ? fabs(want) : 1e-12); }

typedef struct {
    double items, norm_first, norm, momentum1, step1_params, step1_delta, step1_buffers, params, buffers, ema_p, ema_b, state0,
        state1;
} Errors;

static void run_case(const char *c, Errors *err)
{
    SafeTensors st;
    memset(err, 0, sizeof *err);
    if (tt_open(&st, "step.safetensors")) {
        CHECK(0, "fixture missing");
        return;
    }
    Trainer t;
    TrainerConfig cfg;
    int freeze[1];
    if (tt_fixture_trainer(&st, c, &t, &cfg, freeze)) {
        CHECK(0, "trainer setup failed");
        st_free(&st);
        return;
    }
    char key[160];
    snprintf(key, sizeof key, "%s.epochs_run", c);
    int epochs_run = (int)tt_meta_long(&st, key);
    snprintf(key, sizeof key, "%s.batch_items", c);
    const StTensor *items = tt_tensor(&st, key, ST_F64);
    snprintf(key, sizeof key, "%s.batch_lr", c);
    const StTensor *lrs = tt_tensor(&st, key, ST_F64);
    snprintf(key, sizeof key, "%s.batch_momentum", c);
    const StTensor *moms = tt_tensor(&st, key, ST_F64);
    snprintf(key, sizeof key, "%s.batch_accumulate", c);
    const StTensor *accs = tt_tensor(&st, key, ST_I64);
    snprintf(key, sizeof key, "%s.batch_stepped", c);
    const StTensor *stepped = tt_tensor(&st, key, ST_I64);
    snprintf(key, sizeof key, "%s.step_norm", c);
    const StTensor *norms = tt_tensor(&st, key, ST_F32);
    snprintf(key, sizeof key, "%s.epoch_mloss", c);
    const StTensor *mloss = tt_tensor(&st, key, ST_F32);
    snprintf(key, sizeof key, "%s.epoch_lr", c);
    const StTensor *elr = tt_tensor(&st, key, ST_F64);
    if (!items || !lrs || !moms || !accs || !stepped || !norms || !mloss || !elr || epochs_run < 1) {
        CHECK(0, "fixture incomplete");
        trainer_free(&t);
        st_free(&st);
        return;
    }
    const Model *m = &t.model;
    size_t np = m->table.n_params;
    float *before = malloc(np * sizeof(float));
    int nb = (int)t.cfg.nb, k = 0, steps = 0;
    Error e = {{0}};
    for (int epoch = 0; epoch < epochs_run; epoch++) {
        trainer_epoch_begin(&t, epoch);
        for (int i = 0; i < nb; i++, k++) {
            TtBatch tb;
            if (tt_fixture_batch(&st, i, &tb)) {
                CHECK(0, "batch %d", i);
                break;
            }
            memcpy(before, m->params, np * sizeof(float));
            TrainBatchInfo info;
            int rc = trainer_batch(&t, i, &tb.b, &info, &e);
            free(tb.images);
            CHECK(rc == 0, "epoch %d batch %d: %s", epoch, i, e.msg);
            if (rc) break;
            double got_items[3] = {info.box, info.obj, info.cls};
            for (int q = 0; q < 3; q++) {
                double r = rel(got_items[q], tt_f64(items, 3 * (size_t)k + q));
                if (r > err->items) err->items = r;
                if (getenv("TT_VERBOSE")) printf("    batch %d item %d rel %.3g\n", k, q, r);
            }
            for (int j = 0; j < 3; j++)
                CHECK(t.opt.group[optim_torch_group(j)].lr == tt_f64(lrs, 3 * (size_t)k + j),
                      "batch %d group %d lr %.17g want %.17g", k, j, t.opt.group[optim_torch_group(j)].lr,
                      tt_f64(lrs, 3 * (size_t)k + j));
            double mom = t.opt.kind == OPTIM_SGD ? t.opt.group[PARAM_GROUP_BIAS].momentum : t.opt.beta1;
            CHECK(mom == tt_f64(moms, (size_t)k), "batch %d momentum %.17g want %.17g", k, mom, tt_f64(moms, (size_t)k));
            CHECK(info.accumulate == tt_i64(accs, (size_t)k), "batch %d accumulate %d want %lld", k, info.accumulate,
                  (long long)tt_i64(accs, (size_t)k));
            CHECK(info.stepped == tt_i64(stepped, (size_t)k), "batch %d stepped %d", k, info.stepped);
            if (info.stepped && steps < (int)norms->numel) {
                double r = rel(info.grad_norm, tt_f32(norms, (size_t)steps));
                if (getenv("TT_VERBOSE"))
                    printf("    step %d norm %.9g want %.9g rel %.3g\n", steps, info.grad_norm, tt_f32(norms, (size_t)steps), r);
                if (steps == 0) err->norm_first = r;
                else if (r > err->norm) err->norm = r;
            }
            if (info.stepped && ++steps == 1 && st_find(&st, "sgd.step1.model.0.conv.weight") && !strcmp(c, "sgd")) {
                err->momentum1 = tt_block_rel_err(&st, "sgd.step1.momentum.", m, ENTRY_PARAM, t.opt.state0, NULL, NULL);
                err->step1_params = tt_block_rel_err(&st, "sgd.step1.", m, ENTRY_PARAM, m->params, NULL, NULL);
                err->step1_buffers = tt_block_rel_err(&st, "sgd.step1.", m, ENTRY_BUFFER, m->buffers, NULL, NULL);
                /* the update itself: (after - before) against the reference's change */
                double max_err = 0, max_want = 0;
                for (int q = 0; q < m->table.n_entries; q++) {
                    const ParamEntry *en = &m->table.entries[q];
                    if (en->kind != ENTRY_PARAM) continue;
                    snprintf(key, sizeof key, "sgd.step1.%s", en->key);
                    const StTensor *after = st_find(&st, key);
                    if (!after) continue;
                    for (size_t x = 0; x < en->numel; x++) {
                        double want = (double)tt_f32(after, x) - before[en->offset + x];
                        double got = (double)m->params[en->offset + x] - before[en->offset + x];
                        if (fabs(got - want) > max_err) max_err = fabs(got - want);
                        if (fabs(want) > max_want) max_want = fabs(want);
                    }
                }
                err->step1_delta = max_want > 0 ? max_err / max_want : max_err;
                CHECK(max_want > 1e-4, "the first step changed the weights (largest change %g)", max_want);
            }
        }
        for (int q = 0; q < 3; q++) CHECK_CLOSE(t.mloss[q], tt_f32(mloss, 3 * (size_t)epoch + q), 0, TOL_ITEMS);
        for (int j = 0; j < 3; j++)
            CHECK(t.lr_last[j] == tt_f64(elr, 3 * (size_t)epoch + j), "epoch %d x/lr%d %.17g want %.17g", epoch, j,
                  t.lr_last[j], tt_f64(elr, 3 * (size_t)epoch + j));
    }
    snprintf(key, sizeof key, "%s.ema_updates", c);
    CHECK(t.ema.updates == tt_meta_long(&st, key), "EMA updates %lld", (long long)t.ema.updates);
    CHECK(steps == (int)norms->numel, "%d optimizer steps, reference %zu", steps, norms->numel);
    snprintf(key, sizeof key, "%s.final.", c);
    err->params = tt_block_rel_err(&st, key, m, ENTRY_PARAM, m->params, NULL, NULL);
    err->buffers = tt_block_rel_err(&st, key, m, ENTRY_BUFFER, m->buffers, NULL, NULL);
    snprintf(key, sizeof key, "%s.final.ema.", c);
    err->ema_p = tt_block_rel_err(&st, key, m, ENTRY_PARAM, t.ema_model.params, NULL, NULL);
    err->ema_b = tt_block_rel_err(&st, key, m, ENTRY_BUFFER, t.ema_model.buffers, NULL, NULL);
    int compared = 0;
    snprintf(key, sizeof key, "%s.final.momentum.", c);
    err->state0 = tt_block_rel_err(&st, key, m, ENTRY_PARAM, t.opt.state0, NULL, &compared);
    CHECK(compared == m->table.n_param_tensors, "momentum tensors compared: %d", compared);
    if (t.opt.state1) {
        snprintf(key, sizeof key, "%s.final.adam_v.", c);
        err->state1 = tt_block_rel_err(&st, key, m, ENTRY_PARAM, t.opt.state1, NULL, &compared);
        CHECK(compared == m->table.n_param_tensors, "adam_v tensors compared: %d", compared);
    }
    /* num_batches_tracked: one per training forward, in the model; the EMA keeps the value copied at creation */
    for (int q = 0; q < m->table.n_entries; q++) {
        const ParamEntry *en = &m->table.entries[q];
        if (en->kind != ENTRY_COUNTER) continue;
        snprintf(key, sizeof key, "%s.final.%s", c, en->key);
        const StTensor *want = st_find(&st, key);
        snprintf(key, sizeof key, "%s.final.ema.%s", c, en->key);
        const StTensor *want_ema = st_find(&st, key);
        CHECK(want && m->counters[en->offset] == tt_i64(want, 0), "%s", en->key);
        CHECK(want_ema && t.ema_model.counters[en->offset] == tt_i64(want_ema, 0), "EMA %s", en->key);
    }
    free(before);
    trainer_free(&t);
    st_free(&st);
}

static void print_errors(const char *c, const Errors *x)
{
    printf("    %s: items %.2g norm %.2g, later %.2g momentum1 %.2g step1 params %.2g delta %.2g buffers %.2g | final params %.2g "
           "buffers %.2g ema %.2g/%.2g state %.2g/%.2g\n",
           c, x->items, x->norm_first, x->norm, x->momentum1, x->step1_params, x->step1_delta, x->step1_buffers, x->params, x->buffers,
           x->ema_p, x->ema_b, x->state0, x->state1);
}

static void test_sgd_steps_match_train_py(void)
{
    Errors x;
    run_case("sgd", &x);
    print_errors("sgd", &x);
    CHECK(x.items <= TOL_ITEMS, "loss items rel err %g", x.items);
    CHECK(x.norm_first <= TOL_NORM_FIRST, "first clip norm rel err %g", x.norm_first);
    CHECK(x.norm <= TOL_NORM, "clip norm rel err %g", x.norm);
    CHECK(x.momentum1 <= TOL_GRAD, "first momentum buffer (clipped gradient + decay) err %g", x.momentum1);
    CHECK(x.step1_params <= TOL_WEIGHTS, "weights after step 1 err %g", x.step1_params);
    CHECK(x.step1_delta <= TOL_DELTA, "step-1 update err %g", x.step1_delta);
    CHECK(x.step1_buffers <= TOL_WEIGHTS, "BN running stats after step 1 err %g", x.step1_buffers);
    CHECK(x.params <= TOL_WEIGHTS, "final weights err %g", x.params);
    CHECK(x.buffers <= TOL_WEIGHTS, "final BN running stats err %g", x.buffers);
    CHECK(x.ema_p <= TOL_WEIGHTS && x.ema_b <= TOL_WEIGHTS, "EMA err %g %g", x.ema_p, x.ema_b);
    CHECK(x.state0 <= TOL_STATE, "final momentum err %g", x.state0);
}

static void test_adamw_cosine_steps_match_train_py(void)
{
    Errors x;
    run_case("adamw", &x);
    print_errors("adamw", &x);
    CHECK(x.items <= TOL_ITEMS, "loss items rel err %g", x.items);
    CHECK(x.norm_first <= TOL_NORM_FIRST, "first clip norm rel err %g", x.norm_first);
    CHECK(x.norm <= TOL_NORM, "clip norm rel err %g", x.norm);
    CHECK(x.params <= TOL_WEIGHTS, "final weights err %g", x.params);
    CHECK(x.buffers <= TOL_WEIGHTS, "final BN running stats err %g", x.buffers);
    CHECK(x.ema_p <= TOL_WEIGHTS && x.ema_b <= TOL_WEIGHTS, "EMA err %g %g", x.ema_p, x.ema_b);
    CHECK(x.state0 <= TOL_STATE, "exp_avg err %g", x.state0);
    CHECK(x.state1 <= TOL_STATE, "exp_avg_sq err %g", x.state1);
}

/* Weight decay only on the conv-weight group, scaled by bs * accumulate / 64;
 * every parameter in exactly one group, as smart_optimizer sorts them. */
static void test_weight_decay_groups(void)
{
    SafeTensors st;
    if (tt_open(&st, "step.safetensors")) {
        CHECK(0, "fixture missing");
        return;
    }
    Trainer t;
    TrainerConfig cfg;
    int freeze[1];
    if (tt_fixture_trainer(&st, "sgd", &t, &cfg, freeze)) {
        CHECK(0, "trainer");
        st_free(&st);
        return;
    }
    CHECK(t.accumulate == 32, "accumulate at batch 2: %d", t.accumulate);
    CHECK(t.opt.group[PARAM_GROUP_DECAY].weight_decay == 0.0005 * (2.0 * 32 / 64), "decay %.17g",
          t.opt.group[PARAM_GROUP_DECAY].weight_decay);
    CHECK(t.opt.group[PARAM_GROUP_BN_WEIGHT].weight_decay == 0.0 && t.opt.group[PARAM_GROUP_BIAS].weight_decay == 0.0,
          "no decay on BN weights and biases");
    int count[PARAM_GROUP_COUNT] = {0};
    for (int s = 0; s < t.opt.n_segments; s++) {
        const ParamEntry *en = &t.model.table.entries[t.opt.segments[s].entry];
        count[t.opt.segments[s].group]++;
        int is_bias = strstr(en->key, ".bias") != NULL;
        int is_bn_weight = strstr(en->key, ".bn.weight") != NULL;
        int want = is_bias ? PARAM_GROUP_BIAS : is_bn_weight ? PARAM_GROUP_BN_WEIGHT : PARAM_GROUP_DECAY;
        CHECK(t.opt.segments[s].group == want, "%s in group %d", en->key, t.opt.segments[s].group);
    }
    CHECK(count[PARAM_GROUP_BN_WEIGHT] == 57 && count[PARAM_GROUP_DECAY] == 60 && count[PARAM_GROUP_BIAS] == 60,
          "groups %d %d %d", count[PARAM_GROUP_BN_WEIGHT], count[PARAM_GROUP_DECAY], count[PARAM_GROUP_BIAS]);
    /* batch 16: accumulate 4, decay x1; batch 24: accumulate 3, x1.125 */
    trainer_free(&t);
    Model m;
    Hyp h;
    hyp_default(&h);
    Error e;
    int sizes[2] = {24, 128};
    double scale[2] = {1.125, 2.0};
    for (int q = 0; q < 2; q++) {
        if (tt_fixture_model(&st, &m)) break;
        cfg.batch_size = sizes[q];
        int rc = trainer_create(&t, &cfg, &h, &m, NULL, NULL, &e);
        CHECK(rc == 0, "%s", e.msg);
        if (rc) break;
        CHECK(fabs(t.opt.group[PARAM_GROUP_DECAY].weight_decay - 0.0005 * scale[q]) < 1e-18, "bs %d decay %.17g",
              sizes[q], t.opt.group[PARAM_GROUP_DECAY].weight_decay);
        trainer_free(&t);
    }
    st_free(&st);
}

/* lr, momentum and accumulate of every batch, through the trainer, against
 * torch's LambdaLR + train.py's warmup (tests/fixtures/optim/schedule.safetensors). */
static void test_schedule_through_trainer(void)
{
    SafeTensors sched, st;
    Error e = {{0}};
    if (st_read(&sched, "tests/fixtures/optim/schedule.safetensors", &e) || tt_open(&st, "step.safetensors")) {
        CHECK(0, "fixtures: %s", e.msg);
        return;
    }
    const char *cases = st_meta(&sched, "cases");
    char list[2048];
    snprintf(list, sizeof list, "%s", cases ? cases : "");
    int n_cases = 0, bad = 0;
    for (char *save = NULL, *c = strtok_r(list, ",", &save); c; c = strtok_r(NULL, ",", &save)) {
        char key[160];
#define META(k) (snprintf(key, sizeof key, "%s." k, c), st_meta(&sched, key))
        const char *kind = META("kind");
        Hyp h;
        hyp_default(&h);
        h.lr0 = strtod(META("lr0"), NULL);
        h.lrf = strtod(META("lrf"), NULL);
        h.momentum = strtod(META("momentum"), NULL);
        h.warmup_momentum = strtod(META("warmup_momentum"), NULL);
        h.warmup_bias_lr = strtod(META("warmup_bias_lr"), NULL);
        h.warmup_epochs = strtod(META("warmup_epochs"), NULL);
        int freeze[1] = {0};
        TrainerConfig cfg = {OPTIM_SGD, atoi(META("epochs")), atoi(META("batch_size")), 64, 0,
                             !strcmp(kind, "cosine"), 100, freeze, 1, 0, atol(META("nb")), 1, NULL, NULL, NULL, 0, 0, 0};
#undef META
        Model m;
        Trainer t;
        if (tt_fixture_model(&st, &m) || trainer_create(&t, &cfg, &h, &m, NULL, NULL, &e)) {
            CHECK(0, "%s: %s", c, e.msg);
            break;
        }
        snprintf(key, sizeof key, "%s.ni", c);
        const StTensor *ni = tt_tensor(&sched, key, ST_I64);
        snprintf(key, sizeof key, "%s.epoch", c);
        const StTensor *ep = tt_tensor(&sched, key, ST_I64);
        snprintf(key, sizeof key, "%s.lr", c);
        const StTensor *lr = tt_tensor(&sched, key, ST_F64);
        snprintf(key, sizeof key, "%s.momentum", c);
        const StTensor *mo = tt_tensor(&sched, key, ST_F64);
        snprintf(key, sizeof key, "%s.accumulate", c);
        const StTensor *ac = tt_tensor(&sched, key, ST_F64);
        if (!ni || !ep || !lr || !mo || !ac) {
            CHECK(0, "%s: fixture incomplete", c);
            trainer_free(&t);
            break;
        }
        for (size_t k = 0; k < ni->numel; k++) {
            SchedulePoint sp;
            trainer_schedule_at(&t, (int)tt_i64(ep, k), tt_i64(ni, k), &sp);
            for (int j = 0; j < 3; j++)
                if (sp.lr[optim_torch_group(j)] != tt_f64(lr, 3 * k + j)) bad++;
            if (sp.momentum != tt_f64(mo, k)) bad++;
            if ((double)sp.accumulate != tt_f64(ac, k)) bad++;
        }
        n_cases++;
        trainer_free(&t);
    }
    CHECK(n_cases >= 5, "%d schedule cases", n_cases);
    CHECK(bad == 0, "%d schedule values differ from torch", bad);
    st_free(&sched);
    st_free(&st);
}

/* model.half().float() at start-up: the training model is rounded, the EMA
 * (created before) is not. */
static void test_fp16_startup_rounding(void)
{
    CHECK(f32_round_to_f16(0.9f) == 0.89990234375f, "0.9 -> %.12g", (double)f32_round_to_f16(0.9f));
    CHECK(f32_round_to_f16(65504.0f) == 65504.0f && isinf(f32_round_to_f16(65520.0f)) &&
              f32_round_to_f16(65519.996f) == 65504.0f,
          "overflow boundary");
    CHECK(f32_round_to_f16(5.9604644775390625e-8f) == 5.9604644775390625e-8f, "smallest subnormal");
    CHECK(f32_round_to_f16(2.98023223876953125e-8f) == 0.0f, "half of it rounds to even (0)");
    CHECK(f32_round_to_f16(8.940696716308594e-8f) == 1.1920928955078125e-7f, "1.5 steps rounds to 2");
    CHECK(isnan(f32_round_to_f16(NAN)) && f32_round_to_f16(-0.0f) == 0.0f && signbit(f32_round_to_f16(-0.0f)), "nan, -0");
    /* every half value is a fixed point; midpoints between neighbours round to the even one */
    int bad = 0;
    for (uint32_t hbits = 0; hbits < 0x7C00u; hbits++) {
        float v = st_f16_to_f32((uint16_t)hbits);
        if (f32_to_f16_bits(v) != hbits || f32_to_f16_bits(-v) != (hbits | 0x8000u)) bad++;
        if (hbits + 1 < 0x7C00u) {
            float next = st_f16_to_f32((uint16_t)(hbits + 1));
            float mid = (float)(((double)v + (double)next) / 2);
            uint16_t want = (hbits & 1u) ? (uint16_t)(hbits + 1) : (uint16_t)hbits;
            if ((double)mid == ((double)v + (double)next) / 2 && f32_to_f16_bits(mid) != want) bad++;
            float above = nextafterf(mid, INFINITY), below = nextafterf(mid, -INFINITY);
            if (f32_to_f16_bits(above) != hbits + 1 || f32_to_f16_bits(below) != hbits) bad++;
        }
    }
    CHECK(bad == 0, "%d half values round wrongly", bad);

    SafeTensors st;
    if (tt_open(&st, "step.safetensors")) {
        CHECK(0, "fixture");
        return;
    }
    Trainer t;
    TrainerConfig cfg;
    int freeze[1];
    if (!tt_fixture_trainer(&st, "sgd", &t, &cfg, freeze)) {
        Model init;
        if (!tt_fixture_model(&st, &init)) {
            int model_rounded = 1, ema_exact = 1;
            for (size_t k = 0; k < init.table.n_params; k++) {
                if (t.model.params[k] != f32_round_to_f16(init.params[k])) model_rounded = 0;
                if (t.ema_model.params[k] != init.params[k]) ema_exact = 0;
            }
            for (size_t k = 0; k < init.table.n_buffers; k++) {
                if (t.model.buffers[k] != f32_round_to_f16(init.buffers[k])) model_rounded = 0;
                if (t.ema_model.buffers[k] != init.buffers[k]) ema_exact = 0;
            }
            CHECK(model_rounded, "training model rounded to fp16");
            CHECK(ema_exact, "EMA copied before rounding");
            model_free(&init);
        }
        trainer_free(&t);
    } else {
        CHECK(0, "trainer");
    }
    st_free(&st);
}

/* After the first batches of a size (which size the arena, the loss's work
 * buffers and OpenMP's thread pool), training steps hold no new heap memory:
 * multi-scale at its largest size is reserved up front. On one thread, so
 * that per-thread scratch of the kernels (sized by whichever thread runs
 * which task) does not blur the measure. */
static void test_no_allocation_per_step(void)
{
    int threads = omp_get_max_threads();
    omp_set_num_threads(1);
    SafeTensors st;
    if (tt_open(&st, "step.safetensors")) {
        CHECK(0, "fixture");
        omp_set_num_threads(threads);
        return;
    }
    Trainer t;
    TrainerConfig cfg;
    int freeze[1];
    if (tt_fixture_trainer(&st, "sgd", &t, &cfg, freeze)) {
        CHECK(0, "trainer");
        st_free(&st);
        omp_set_num_threads(threads);
        return;
    }
    TtBatch tb[4];
    int ok = 1;
    for (int i = 0; i < 4; i++) ok &= tt_fixture_batch(&st, i, &tb[i]) == 0;
    Error e = {{0}};
    TrainBatchInfo info;
    size_t used_after_warmup = 0, used_later = 0;
    for (int epoch = 0; ok && epoch < 6; epoch++) {
        trainer_epoch_begin(&t, epoch);
        for (int i = 0; ok && i < 4; i++) ok &= trainer_batch(&t, i, &tb[i].b, &info, &e) == 0;
        if (epoch == 1) used_after_warmup = mallinfo2().uordblks;
    }
    used_later = mallinfo2().uordblks;
    CHECK(ok, "%s", e.msg);
    CHECK(used_later == used_after_warmup, "heap in use grew from %zu to %zu bytes", used_after_warmup, used_later);
    for (int i = 0; i < 4; i++) free(tb[i].images);
    trainer_free(&t);
    st_free(&st);
    omp_set_num_threads(threads);
}

TEST_MAIN(TEST_ENTRY(test_sgd_steps_match_train_py), TEST_ENTRY(test_no_allocation_per_step), TEST_ENTRY(test_adamw_cosine_steps_match_train_py),
          TEST_ENTRY(test_weight_decay_groups), TEST_ENTRY(test_schedule_through_trainer),
          TEST_ENTRY(test_fp16_startup_rounding))
