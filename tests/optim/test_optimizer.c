/* SGD (Nesterov), Adam and AdamW against PyTorch 1.13 driven by YOLOv5 v7.0's
 * train.py loop (scripts/gen_optim_fixtures.py): a fake YOLOv5-shaped model
 * whose gradients accumulate over batches; on the batches where train.py
 * steps, clip_grad_norm_(10), optimizer.step() and ModelEMA.update() run with
 * the warmup's changing lr and momentum. The replay here runs the same
 * sequence through freeze_mask, lr_schedule_at, clip_grad_norm,
 * optimizer_step and model_ema_update and compares every step's gradient
 * norm and, every fourth step, the parameters, optimizer state, clipped
 * gradients and EMA weights. The reference ran torch's non-FMA kernels, so
 * the float32 results are expected to agree to the bit; the tolerances allow
 * a few ulps. */
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "optim/clip_grad.h"
#include "optim/ema.h"
#include "optim/freeze.h"
#include "optim/lr_schedule.h"
#include "optim/optimizer.h"
#include "optim/pyfloat.h"
#include "optim_fixture.h"
#include "test.h"

/* Parameters, state and EMA: relative 2e-6 (a few float32 ulps) plus a tiny
 * absolute floor for values near zero. */
#define PARAM_RTOL 2e-6
#define PARAM_ATOL 1e-9

typedef struct {
    double abs_err, rel_err;
    size_t bit_diffs, compared;
} ErrStats;

static void compare(const char *what, int step, const float *got, const float *want, size_t n, ErrStats *st)
{
    char label[96];
    snprintf(label, sizeof label, "%s after step %d", what, step);
    CHECK_ARRAYS_CLOSE(label, got, want, n, PARAM_ATOL, PARAM_RTOL);
    ofx_max_err(got, want, n, &st->abs_err, &st->rel_err);
    st->bit_diffs += ofx_bit_diffs(got, want, n);
    st->compared += n;
}

static void replay(const char *file, OptimizerKind want_kind)
{
    SafeTensors st;
    if (ofx_open(&st, file)) {
        CHECK(0, "fixture %s", file);
        return;
    }
    ParamTable t;
    int32_t *frozen = NULL;
    if (ofx_table(&st, &t, &frozen)) {
        CHECK(0, "table");
        st_free(&st);
        return;
    }
    Error err = {{0}};
    size_t n_p = t.n_params, n_b = t.n_buffers, count = 0, K = 0, C = 0;

    /* configuration as train.py derived it */
    OptimizerKind kind;
    CHECK(optimizer_kind_parse(st_meta(&st, "optimizer"), &kind, &err) == 0, "%s", err.msg);
    CHECK(kind == want_kind, "kind %d", (int)kind);
    int bs = (int)ofx_meta_num(&st, "batch_size");
    double wd = scaled_weight_decay(ofx_meta_num(&st, "weight_decay_hyp"), bs);
    CHECK(wd == ofx_meta_num(&st, "weight_decay"), "scaled decay %.17g want %s", wd,
          st_meta(&st, "weight_decay"));
    LrSchedule sched = {
        .kind = LR_LINEAR,
        .epochs = (int)ofx_meta_num(&st, "epochs"),
        .lr0 = ofx_meta_num(&st, "lr0"),
        .lrf = ofx_meta_num(&st, "lrf"),
        .momentum = ofx_meta_num(&st, "momentum"),
        .warmup_momentum = ofx_meta_num(&st, "warmup_momentum"),
        .warmup_bias_lr = ofx_meta_num(&st, "warmup_bias_lr"),
        .batch_size = bs,
        .nb = (int64_t)ofx_meta_num(&st, "nb"),
    };
    sched.nw = warmup_iterations(ofx_meta_num(&st, "warmup_epochs"), sched.nb);
    CHECK(sched.nw == (int64_t)ofx_meta_num(&st, "nw"), "nw %lld", (long long)sched.nw);

    /* --freeze */
    char fbuf[128], *fparts[16];
    int nf = ofx_meta_split(&st, "freeze", fbuf, sizeof fbuf, fparts, 16), freeze[16];
    for (int i = 0; i < nf; i++) freeze[i] = atoi(fparts[i]);
    unsigned char *trainable = calloc((size_t)t.n_entries, 1);
    int n_frozen = freeze_mask(&t, freeze, nf, trainable, &err);
    int want_frozen = 0, mask_ok = 1;
    for (int k = 0; k < t.n_entries; k++) {
        want_frozen += frozen[k];
        int want = t.entries[k].kind == ENTRY_PARAM && !frozen[k];
        if (trainable[k] != want) mask_ok = 0;
    }
    CHECK(n_frozen == want_frozen, "frozen %d want %d", n_frozen, want_frozen);
    CHECK(mask_ok, "trainable mask differs from torch's requires_grad");

    OptimizerConfig cfg = {kind, sched.lr0, sched.momentum, wd};
    Optimizer opt;
    if (optimizer_init(&opt, &cfg, &t, trainable, &err)) {
        CHECK(0, "optimizer_init: %s", err.msg);
        goto done_table;
    }

    float *params = ofx_f32(&st, "init_params", &count);
    CHECK(params && count == n_p, "init_params");
    float *buffers0 = ofx_f32(&st, "init_buffers", &count);
    CHECK(buffers0 && count == n_b, "init_buffers");
    int64_t *ni = ofx_i64(&st, "step_ni", &K);
    int64_t *epoch = ofx_i64(&st, "step_epoch", NULL);
    double *lr = ofx_f64(&st, "step_lr", NULL);
    double *mom = ofx_f64(&st, "step_momentum", NULL);
    float *norm = ofx_f32(&st, "step_norm", NULL);
    float *sgrad = ofx_f32(&st, "step_grad", NULL);
    float *sbuf = ofx_f32(&st, "step_buffers", NULL);
    int64_t *ck = ofx_i64(&st, "ckpt_step", &C);
    float *ck_p = ofx_f32(&st, "ckpt_params", NULL), *ck_s0 = ofx_f32(&st, "ckpt_state0", NULL);
    float *ck_s1 = ofx_f32(&st, "ckpt_state1", NULL), *ck_g = ofx_f32(&st, "ckpt_grad_clipped", NULL);
    float *ck_ep = ofx_f32(&st, "ckpt_ema_params", NULL), *ck_eb = ofx_f32(&st, "ckpt_ema_buffers", NULL);
    int64_t *final_steps = ofx_i64(&st, "final_steps", NULL);
    float *grads = malloc(n_p * sizeof(float)), *norms = malloc((size_t)t.n_entries * sizeof(float));
    float *ema_p = malloc(n_p * sizeof(float)), *ema_b = malloc(n_b * sizeof(float));
    if (!params || !buffers0 || !ni || !epoch || !lr || !mom || !norm || !sgrad || !sbuf || !ck || !ck_p ||
        !ck_s0 || !ck_s1 || !ck_g || !ck_ep || !ck_eb || !final_steps || !grads || !norms || !ema_p || !ema_b ||
        K == 0) {
        CHECK(0, "fixture arrays");
        goto done;
    }
    memcpy(ema_p, params, n_p * sizeof(float)); /* ModelEMA deep-copies the model */
    memcpy(ema_b, buffers0, n_b * sizeof(float));
    ModelEma ema;
    model_ema_init(&ema, 0);

    /* Which batches step: train.py's accumulate logic over every batch. */
    {
        int64_t last = -1, total = sched.nb * sched.epochs;
        size_t k = 0;
        int schedule_ok = 1;
        for (int64_t b = 0; b < total; b++) {
            SchedulePoint pt;
            lr_schedule_at(&sched, (int)(b / sched.nb), b, &pt);
            if (optimizer_step_due(b, last, pt.accumulate)) {
                if (k >= K || ni[k] != b) schedule_ok = 0;
                k++;
                last = b;
            }
        }
        CHECK(schedule_ok && k == K, "optimizer steps at other batches than train.py (%zu of %zu)", k, K);
    }

    ErrStats sp = {0}, ss = {0}, se = {0}, sg = {0};
    double norm_err = 0;
    int lr_mismatch = 0, norm_bits = 0;
    size_t c = 0;
    for (size_t k = 0; k < K; k++) {
        double glr[PARAM_GROUP_COUNT];
        for (int j = 0; j < PARAM_GROUP_COUNT; j++) glr[optim_torch_group(j)] = lr[k * 3 + (size_t)j];
        SchedulePoint pt;
        lr_schedule_at(&sched, (int)epoch[k], ni[k], &pt);
        for (int g = 0; g < PARAM_GROUP_COUNT; g++) lr_mismatch += pt.lr[g] != glr[g];
        if (kind == OPTIM_SGD) lr_mismatch += pt.momentum != mom[k];
        else lr_mismatch += opt.beta1 != mom[k];
        optimizer_set_schedule(&opt, glr, mom[k]);

        memcpy(grads, sgrad + k * n_p, n_p * sizeof(float));
        ClipResult res;
        int rc = clip_grad_norm(&t, opt.trainable, grads, CLIP_GRAD_MAX_NORM, norms, &res, &err);
        CHECK(rc == 0, "clip step %zu: %s", k, err.msg);
        CHECK_CLOSE(res.total_norm, norm[k], 0, 1e-6);
        norm_err = fmax(norm_err, fabs((double)res.total_norm - norm[k]) / norm[k]);
        norm_bits += res.total_norm != norm[k];
        CHECK(res.clipped == (norm[k] > 10.0f), "step %zu clipped %d norm %g", k, res.clipped, (double)norm[k]);

        optimizer_step(&opt, params, grads);
        model_ema_update(&ema, ema_p, params, n_p, ema_b, sbuf + k * n_b, n_b);

        if (c < C && (size_t)ck[c] == k) {
            compare("params", (int)k, params, ck_p + c * n_p, n_p, &sp);
            compare("state0", (int)k, opt.state0, ck_s0 + c * n_p, n_p, &ss);
            if (opt.state1) compare("state1", (int)k, opt.state1, ck_s1 + c * n_p, n_p, &ss);
            else CHECK(kind == OPTIM_SGD, "state1 missing");
            /* frozen entries: torch has no gradient (stored as 0); ours hold
             * the junk the fixture put there, which must not have been scaled */
            int junk_kept = 1;
            for (int e = 0; e < t.n_entries; e++) {
                const ParamEntry *pe = &t.entries[e];
                if (pe->kind != ENTRY_PARAM || !frozen[e]) continue;
                for (size_t i = 0; i < pe->numel; i++) {
                    size_t o = pe->offset + i;
                    if (grads[o] != sgrad[k * n_p + o]) junk_kept = 0;
                    grads[o] = 0.0f;
                }
            }
            CHECK(junk_kept, "a frozen entry's gradient slot was scaled");
            compare("clipped grads", (int)k, grads, ck_g + c * n_p, n_p, &sg);
            compare("ema params", (int)k, ema_p, ck_ep + c * n_p, n_p, &se);
            compare("ema buffers", (int)k, ema_b, ck_eb + c * n_b, n_b, &se);
            c++;
        }
    }
    CHECK(c == C && C > 0, "checkpoints compared %zu of %zu", c, C);
    CHECK(lr_mismatch == 0, "lr_schedule_at differs from train.py's lr/momentum in %d values", lr_mismatch);
    CHECK(ema.updates == (int64_t)K, "ema updates %lld", (long long)ema.updates);
    {
        int p = 0, steps_ok = 1;
        for (int k = 0; k < t.n_entries; k++) {
            if (t.entries[k].kind != ENTRY_PARAM) continue;
            if (opt.steps[k] != final_steps[p]) steps_ok = 0;
            p++;
        }
        CHECK(steps_ok, "per-parameter step counts differ from torch's");
    }
    /* frozen parameters and their state untouched */
    {
        int untouched = 1, n_fz = 0;
        for (int k = 0; k < t.n_entries; k++) {
            const ParamEntry *e = &t.entries[k];
            if (e->kind != ENTRY_PARAM || !frozen[k]) continue;
            n_fz++;
            const float *p0 = ofx_tensor(&st, "init_params", ST_F32)->data;
            for (size_t i = 0; i < e->numel; i++) {
                float a = params[e->offset + i], b;
                memcpy(&b, (const char *)p0 + (e->offset + i) * sizeof(float), sizeof b);
                if (a != b || opt.state0[e->offset + i] != 0.0f ||
                    (opt.state1 && opt.state1[e->offset + i] != 0.0f))
                    untouched = 0;
            }
            if (opt.steps[k] != 0) untouched = 0;
        }
        CHECK(untouched, "a frozen parameter or its state changed");
        CHECK(n_fz == want_frozen, "frozen count");
    }
    printf("    # %s: %zu steps; norm rel err %.3g (%d not bit-equal); params max abs %.3g rel %.3g "
           "(%zu/%zu elements not bit-equal); state max rel %.3g (%zu/%zu); clipped grads (%zu/%zu); "
           "EMA max rel %.3g (%zu/%zu)\n",
           file, K, norm_err, norm_bits, sp.abs_err, sp.rel_err, sp.bit_diffs, sp.compared, ss.rel_err,
           ss.bit_diffs, ss.compared, sg.bit_diffs, sg.compared, se.rel_err, se.bit_diffs, se.compared);
done:
    free(params);
    free(buffers0);
    free(ni);
    free(epoch);
    free(lr);
    free(mom);
    free(norm);
    free(sgrad);
    free(sbuf);
    free(ck);
    free(ck_p);
    free(ck_s0);
    free(ck_s1);
    free(ck_g);
    free(ck_ep);
    free(ck_eb);
    free(final_steps);
    free(grads);
    free(norms);
    free(ema_p);
    free(ema_b);
    optimizer_free(&opt);
done_table:
    free(trainable);
    free(frozen);
    param_table_free(&t);
    st_free(&st);
}

static void test_sgd_nesterov_parity(void)
{
    replay("optim_sgd.safetensors", OPTIM_SGD);
}

static void test_adam_parity_with_freeze_list(void)
{
    replay("optim_adam.safetensors", OPTIM_ADAM);
}

static void test_adamw_parity(void)
{
    replay("optim_adamw.safetensors", OPTIM_ADAMW);
}

static void test_sgd_parity_with_freeze(void)
{
    replay("optim_sgd_freeze.safetensors", OPTIM_SGD);
}

/* A tiny two-entry table (decayed weight, bias) for hand-computed checks. */
static void tiny_table(ParamTable *t, ParamEntry entries[3])
{
    memset(t, 0, sizeof *t);
    memset(entries, 0, 3 * sizeof *entries);
    snprintf(entries[0].key, sizeof entries[0].key, "model.0.conv.weight");
    entries[0].numel = 3;
    entries[0].kind = ENTRY_PARAM;
    entries[0].group = PARAM_GROUP_DECAY;
    snprintf(entries[1].key, sizeof entries[1].key, "model.0.bn.running_mean");
    entries[1].numel = 2;
    entries[1].kind = ENTRY_BUFFER;
    entries[1].group = PARAM_GROUP_NONE;
    snprintf(entries[2].key, sizeof entries[2].key, "model.1.bias");
    entries[2].numel = 2;
    entries[2].kind = ENTRY_PARAM;
    entries[2].group = PARAM_GROUP_BIAS;
    entries[2].offset = 3;
    t->entries = entries;
    t->n_entries = 3;
    t->n_params = 5;
    t->n_buffers = 2;
}

/* Two SGD steps worked by hand in float32 (lr 0.1, momentum 0.5, wd 0.25 on
 * the weight only): d = g + wd p; buf = d, then buf = 0.5 buf + d;
 * p -= lr (d + 0.5 buf). */
static void test_sgd_by_hand(void)
{
    ParamTable t;
    ParamEntry en[3];
    tiny_table(&t, en);
    Optimizer opt;
    Error err = {{0}};
    OptimizerConfig cfg = {OPTIM_SGD, 0.1, 0.5, 0.25};
    CHECK(optimizer_init(&opt, &cfg, &t, NULL, &err) == 0, "%s", err.msg);
    float p[5] = {1.0f, -2.0f, 0.5f, 3.0f, -1.0f};
    const float g[5] = {0.5f, 1.0f, -1.0f, 2.0f, 0.0f};
    float want[5], buf[5];
    for (int i = 0; i < 5; i++) {
        float wd = i < 3 ? 0.25f : 0.0f;
        float d = g[i] + wd * p[i];
        buf[i] = d;
        want[i] = p[i] + (-0.1f) * (d + 0.5f * buf[i]);
    }
    optimizer_step(&opt, p, g);
    CHECK_ARRAYS_CLOSE("step 1", p, want, 5, 0, 0);
    CHECK_ARRAYS_CLOSE("buffer 1", opt.state0, buf, 5, 0, 0);
    for (int i = 0; i < 5; i++) {
        float wd = i < 3 ? 0.25f : 0.0f;
        float d = g[i] + wd * want[i];
        buf[i] = buf[i] * 0.5f + d;
        want[i] = want[i] + (-0.1f) * (d + 0.5f * buf[i]);
    }
    optimizer_step(&opt, p, g);
    CHECK_ARRAYS_CLOSE("step 2", p, want, 5, 0, 0);
    CHECK(opt.steps[0] == 2 && opt.steps[1] == 0 && opt.steps[2] == 2, "steps");
    optimizer_free(&opt);
}

/* Adam's first step moves each parameter by about lr * sign(g) (bias
 * correction), AdamW additionally shrinks decayed weights by lr * wd. */
static void test_adam_first_step_magnitude(void)
{
    ParamTable t;
    ParamEntry en[3];
    tiny_table(&t, en);
    Error err = {{0}};
    const float g[5] = {0.5f, -1.0f, 2e-3f, 7.0f, -3.0f};
    for (int w = 0; w < 2; w++) {
        Optimizer opt;
        OptimizerConfig cfg = {w ? OPTIM_ADAMW : OPTIM_ADAM, 0.01, 0.9, 0.0};
        CHECK(optimizer_init(&opt, &cfg, &t, NULL, &err) == 0, "%s", err.msg);
        float p[5] = {1, 1, 1, 1, 1};
        optimizer_step(&opt, p, g);
        for (int i = 0; i < 5; i++) CHECK_CLOSE(p[i], 1.0f - 0.01f * (g[i] > 0 ? 1.0f : -1.0f), 1e-6, 0);
        optimizer_free(&opt);
    }
    Optimizer opt;
    OptimizerConfig cfg = {OPTIM_ADAMW, 0.01, 0.9, 0.5};
    CHECK(optimizer_init(&opt, &cfg, &t, NULL, &err) == 0, "%s", err.msg);
    float p[5] = {1, 1, 1, 1, 1};
    optimizer_step(&opt, p, g);
    /* decayed weights: 1 * (1 - 0.005) then -lr*sign(g); bias: no decay */
    for (int i = 0; i < 3; i++) CHECK_CLOSE(p[i], 0.995f - 0.01f * (g[i] > 0 ? 1.0f : -1.0f), 1e-6, 0);
    for (int i = 3; i < 5; i++) CHECK_CLOSE(p[i], 1.0f - 0.01f * (g[i] > 0 ? 1.0f : -1.0f), 1e-6, 0);
    optimizer_free(&opt);
}

/* Momentum 0 (possible during warmup with warmup_momentum 0): torch skips the
 * buffer entirely, so a later step with momentum still starts it afresh. */
static void test_sgd_zero_momentum_keeps_no_buffer(void)
{
    ParamTable t;
    ParamEntry en[3];
    tiny_table(&t, en);
    Error err = {{0}};
    Optimizer opt;
    OptimizerConfig cfg = {OPTIM_SGD, 0.1, 0.9, 0.0};
    CHECK(optimizer_init(&opt, &cfg, &t, NULL, &err) == 0, "%s", err.msg);
    double lr[3] = {0.1, 0.1, 0.1};
    optimizer_set_schedule(&opt, lr, 0.0);
    float p[5] = {1, 1, 1, 1, 1};
    const float g[5] = {1, 2, 3, 4, 5};
    optimizer_step(&opt, p, g);
    for (int i = 0; i < 5; i++) CHECK(p[i] == 1.0f + (-0.1f) * g[i], "plain step %d", i);
    CHECK(opt.steps[0] == 0 && opt.state0[0] == 0.0f, "no buffer yet");
    optimizer_set_schedule(&opt, lr, 0.5);
    float before = p[0];
    optimizer_step(&opt, p, g);
    CHECK(opt.state0[0] == g[0], "buffer starts as d");
    CHECK(p[0] == before + (-0.1f) * (g[0] + 0.5f * g[0]), "first momentum step");
    optimizer_free(&opt);
}

static void test_config_errors(void)
{
    ParamTable t;
    ParamEntry en[3];
    tiny_table(&t, en);
    Error err = {{0}};
    Optimizer opt;
    OptimizerConfig bad[] = {
        {OPTIM_SGD, 0.01, 0.0, 0.0},    /* nesterov needs momentum */
        {OPTIM_SGD, -0.01, 0.9, 0.0},   /* negative lr */
        {OPTIM_ADAM, 0.01, 1.0, 0.0},   /* beta1 = 1 */
        {OPTIM_ADAMW, 0.01, 0.9, -1.0}, /* negative decay */
        {(OptimizerKind)7, 0.01, 0.9, 0.0},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err.msg[0] = '\0';
        CHECK(optimizer_init(&opt, &bad[i], &t, NULL, &err) == -1, "config %zu accepted", i);
        CHECK(strstr(err.msg, "optimizer") != NULL, "message: %s", err.msg);
        optimizer_free(&opt);
    }
    en[2].group = 5;
    OptimizerConfig ok = {OPTIM_SGD, 0.01, 0.9, 0.0};
    CHECK(optimizer_init(&opt, &ok, &t, NULL, &err) == -1 && strstr(err.msg, "model.1.bias"), "bad group: %s",
          err.msg);
    optimizer_free(&opt);
    en[2].group = PARAM_GROUP_BIAS;
    en[2].offset = 4;
    CHECK(optimizer_init(&opt, &ok, &t, NULL, &err) == -1 && strstr(err.msg, "outside"), "bad offset: %s",
          err.msg);
    optimizer_free(&opt);

    OptimizerKind k;
    CHECK(optimizer_kind_parse("AdamW", &k, &err) == 0 && k == OPTIM_ADAMW, "AdamW");
    CHECK(optimizer_kind_parse("sgd", &k, &err) == -1 && strstr(err.msg, "sgd"), "case-sensitive: %s", err.msg);
}

/* The log line of smart_optimizer for yolov5n (spec §4.3). */
static void test_summary_yolov5n(void)
{
    ModelConfig cfg;
    ParamTable t;
    Error err = {{0}};
    if (model_config_load("models/yolov5n.yaml", 0, &cfg, &err) || param_table_build(&cfg, &t, &err)) {
        CHECK(0, "yolov5n: %s", err.msg);
        return;
    }
    Optimizer opt;
    OptimizerConfig oc = {OPTIM_SGD, 0.01, 0.937, scaled_weight_decay(0.0005, 16)};
    CHECK(optimizer_init(&opt, &oc, &t, NULL, &err) == 0, "%s", err.msg);
    char line[256];
    optimizer_summary(&opt, &t, line, sizeof line);
    CHECK(strcmp(line, "SGD(lr=0.01) with parameter groups 57 weight(decay=0.0), 60 weight(decay=0.0005), "
                       "60 bias") == 0,
          "%s", line);
    optimizer_free(&opt);
    oc.kind = OPTIM_ADAMW;
    oc.lr0 = 0.001;
    oc.weight_decay = scaled_weight_decay(0.0005, 24);
    CHECK(optimizer_init(&opt, &oc, &t, NULL, &err) == 0, "%s", err.msg);
    optimizer_summary(&opt, &t, line, sizeof line);
    CHECK(strcmp(line, "AdamW(lr=0.001) with parameter groups 57 weight(decay=0.0), 60 "
                       "weight(decay=0.0005625000000000001), 60 bias") == 0,
          "%s", line);
    CHECK(opt.n_segments == t.n_param_tensors, "segments %d", opt.n_segments);
    optimizer_free(&opt);
    param_table_free(&t);
    model_config_free(&cfg);
}

/* Large tensors take the threaded path: the result must not depend on the
 * number of threads (each thread takes a fixed share of every tensor). */
static void test_thread_count_invariance(void)
{
    enum { N_ENT = 4 };
    static const size_t sizes[N_ENT] = {70001, 13, 40000, 4099};
    ParamEntry en[N_ENT];
    ParamTable t;
    memset(&t, 0, sizeof t);
    memset(en, 0, sizeof en);
    for (int k = 0; k < N_ENT; k++) {
        snprintf(en[k].key, sizeof en[k].key, "model.%d.x", k);
        en[k].numel = sizes[k];
        en[k].kind = ENTRY_PARAM;
        en[k].group = k % PARAM_GROUP_COUNT;
        en[k].offset = t.n_params;
        t.n_params += sizes[k];
    }
    t.entries = en;
    t.n_entries = N_ENT;
    float *g = malloc(t.n_params * sizeof(float)), *p[2];
    uint32_t x = 99;
    for (size_t i = 0; i < t.n_params; i++) {
        x = x * 1664525u + 1013904223u;
        g[i] = (float)(x >> 8) / 16777216.0f - 0.5f;
    }
    static const int threads[2] = {1, 3};
    for (int kind = 0; kind < 3; kind++) {
        Optimizer opt[2];
        Error err = {{0}};
        for (int r = 0; r < 2; r++) {
            OptimizerConfig cfg = {(OptimizerKind)kind, 0.01, 0.9, 0.001};
            CHECK(optimizer_init(&opt[r], &cfg, &t, NULL, &err) == 0, "%s", err.msg);
            p[r] = malloc(t.n_params * sizeof(float));
            for (size_t i = 0; i < t.n_params; i++) p[r][i] = g[(i * 7) % t.n_params];
            omp_set_num_threads(threads[r]);
            for (int s = 0; s < 3; s++) optimizer_step(&opt[r], p[r], g);
        }
        omp_set_num_threads(omp_get_num_procs());
        CHECK(ofx_bit_diffs(p[0], p[1], t.n_params) == 0, "%s: params depend on threads",
              optimizer_kind_name((OptimizerKind)kind));
        CHECK(ofx_bit_diffs(opt[0].state0, opt[1].state0, t.n_params) == 0, "state0 depends on threads");
        if (kind != OPTIM_SGD)
            CHECK(ofx_bit_diffs(opt[0].state1, opt[1].state1, t.n_params) == 0, "state1 depends on threads");
        for (int r = 0; r < 2; r++) {
            free(p[r]);
            optimizer_free(&opt[r]);
        }
    }
    free(g);
}

static void test_py_float_repr(void)
{
    static const struct {
        double v;
        const char *want;
    } cases[] = {
        {0.01, "0.01"}, {0.0005, "0.0005"}, {0.0005625000000000001, "0.0005625000000000001"}, {1e-05, "1e-05"},
        {1.5e-07, "1.5e-07"}, {0.0001, "0.0001"}, {100.0, "100.0"}, {1e16, "1e+16"}, {1e15, "1000000000000000.0"},
        {123456.789, "123456.789"}, {0.0, "0.0"}, {-0.0, "-0.0"}, {-2.5, "-2.5"}, {1.0 / 3.0, "0.3333333333333333"},
        {5e-324, "5e-324"}, {1.7976931348623157e308, "1.7976931348623157e+308"}, {INFINITY, "inf"},
        {-INFINITY, "-inf"}, {NAN, "nan"}, {0.1 + 0.2, "0.30000000000000004"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char buf[40];
        py_float_repr(cases[i].v, buf, sizeof buf);
        CHECK(strcmp(buf, cases[i].want) == 0, "repr %s want %s", buf, cases[i].want);
    }
}

TEST_MAIN(TEST_ENTRY(test_thread_count_invariance), TEST_ENTRY(test_py_float_repr), TEST_ENTRY(test_sgd_nesterov_parity), TEST_ENTRY(test_adam_parity_with_freeze_list),
          TEST_ENTRY(test_adamw_parity), TEST_ENTRY(test_sgd_parity_with_freeze), TEST_ENTRY(test_sgd_by_hand),
          TEST_ENTRY(test_adam_first_step_magnitude), TEST_ENTRY(test_sgd_zero_momentum_keeps_no_buffer),
          TEST_ENTRY(test_config_errors), TEST_ENTRY(test_summary_yolov5n))
