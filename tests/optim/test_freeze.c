/* --freeze as train.py applies it: "model.{i}." substrings of the keys, one
 * value = range(N), several values = exactly those layers; on a hand-made
 * table (prefix traps such as model.1. vs model.10.) and on yolov5n's real
 * state_dict table. (The optimizer replays check a frozen run against torch.) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/model_config.h"
#include "model/param_table.h"
#include "optim/clip_grad.h"
#include "optim/freeze.h"
#include "optim/optimizer.h"
#include "test.h"

static const char *const keys[] = {
    "model.0.conv.weight", "model.0.bn.weight", "model.0.bn.running_mean", "model.1.conv.weight",
    "model.10.conv.weight", "model.11.bn.bias", "model.2.m.1.cv1.conv.weight", "model.24.m.0.weight",
    "model.24.anchors", "model.3.m.10.bias",
};
#define N_KEYS ((int)(sizeof keys / sizeof keys[0]))

static void make_table(ParamTable *t, ParamEntry *en)
{
    memset(t, 0, sizeof *t);
    for (int i = 0; i < N_KEYS; i++) {
        memset(&en[i], 0, sizeof en[i]);
        snprintf(en[i].key, sizeof en[i].key, "%s", keys[i]);
        en[i].numel = 2;
        int buffer = strstr(keys[i], "running") || strstr(keys[i], "anchors");
        en[i].kind = buffer ? ENTRY_BUFFER : ENTRY_PARAM;
        en[i].group = buffer ? PARAM_GROUP_NONE : PARAM_GROUP_DECAY;
        en[i].offset = buffer ? t->n_buffers : t->n_params;
        if (buffer) t->n_buffers += 2;
        else t->n_params += 2;
    }
    t->entries = en;
    t->n_entries = N_KEYS;
}

static void expect(const int *freeze, int n, const char *want, const char *what)
{
    ParamTable t;
    ParamEntry en[N_KEYS];
    make_table(&t, en);
    unsigned char tr[N_KEYS];
    Error err = {{0}};
    int frozen = freeze_mask(&t, freeze, n, tr, &err);
    char got[N_KEYS + 1];
    int want_frozen = 0;
    for (int i = 0; i < N_KEYS; i++) {
        got[i] = (char)('0' + tr[i]);
        want_frozen += en[i].kind == ENTRY_PARAM && want[i] == '0';
    }
    got[N_KEYS] = '\0';
    CHECK(strcmp(got, want) == 0, "%s: trainable %s want %s", what, got, want);
    CHECK(frozen == want_frozen, "%s: frozen %d want %d", what, frozen, want_frozen);
}

static void test_freeze_semantics(void)
{
    /* keys:                          0c 0b 0r 1c 10 11 2m 24w 24a 3m10 */
    expect((int[]){0}, 1, "1101111101", "default 0: nothing");
    expect((int[]){1}, 1, "0001111101", "1: layer 0 (buffers never trainable)");
    expect((int[]){2}, 1, "0000111101", "2: layers 0-1, not model.10/11");
    expect((int[]){4}, 1, "0000110100", "4: up to 3 (model.3.m.10 frozen by model.3.)");
    expect((int[]){11}, 1, "0000010100", "11: up to 10");
    expect((int[]){1000}, 1, "0000000000", "1000: everything");
    expect((int[]){-3}, 1, "1101111101", "negative: range() empty");
    expect((int[]){1, 10}, 2, "1100011101", "list 1 10: exactly those");
    expect((int[]){10, 24}, 2, "1101011001", "list 10 24");
    expect((int[]){0, 0}, 2, "0001111101", "list 0 0: layer 0 only");
    Error err = {{0}};
    ParamTable t;
    ParamEntry en[N_KEYS];
    make_table(&t, en);
    unsigned char tr[N_KEYS];
    CHECK(freeze_mask(&t, NULL, 0, tr, &err) == -1 && strstr(err.msg, "freeze"), "%s", err.msg);
}

/* yolov5n: --freeze 10 (the backbone) freezes every parameter of layers 0-9;
 * the optimizer then steps only the rest and clipping ignores the frozen. */
static void test_yolov5n_backbone(void)
{
    ModelConfig cfg;
    ParamTable t;
    Error err = {{0}};
    if (model_config_load("models/yolov5n.yaml", 0, &cfg, &err) || param_table_build(&cfg, &t, &err)) {
        CHECK(0, "yolov5n: %s", err.msg);
        return;
    }
    unsigned char *tr = calloc((size_t)t.n_entries, 1);
    int frozen = freeze_mask(&t, (int[]){10}, 1, tr, &err);
    int want = 0, ok = 1;
    size_t trainable_numel = 0;
    for (int k = 0; k < t.n_entries; k++) {
        const ParamEntry *e = &t.entries[k];
        int fz = e->kind == ENTRY_PARAM && e->layer < 10;
        want += fz;
        if (tr[k] != (e->kind == ENTRY_PARAM && !fz)) ok = 0;
        if (tr[k]) trainable_numel += e->numel;
    }
    CHECK(ok && frozen == want && frozen > 0, "frozen %d want %d", frozen, want);
    Optimizer opt;
    OptimizerConfig oc = {OPTIM_SGD, 0.01, 0.937, 0.0005};
    CHECK(optimizer_init(&opt, &oc, &t, tr, &err) == 0, "%s", err.msg);
    size_t seg_numel = 0;
    for (int s = 0; s < opt.n_segments; s++) seg_numel += opt.segments[s].numel;
    CHECK(seg_numel == trainable_numel && opt.n_segments == t.n_param_tensors - frozen, "segments");
    float *p = calloc(t.n_params, sizeof(float)), *g = malloc(t.n_params * sizeof(float));
    for (size_t i = 0; i < t.n_params; i++) g[i] = 1.0f;
    float *norms = malloc((size_t)t.n_entries * sizeof(float));
    ClipResult res;
    CHECK(clip_grad_norm(&t, opt.trainable, g, 10.0f, norms, &res, &err) == 0, "%s", err.msg);
    CHECK_CLOSE(res.total_norm, sqrt((double)trainable_numel), 0, 1e-5);
    optimizer_step(&opt, p, g);
    int frozen_still = 1, moved = 1;
    for (int k = 0; k < t.n_entries; k++) {
        const ParamEntry *e = &t.entries[k];
        if (e->kind != ENTRY_PARAM) continue;
        for (size_t i = 0; i < e->numel; i++) {
            float v = p[e->offset + i];
            if (!tr[k] && (v != 0.0f || g[e->offset + i] != 1.0f)) frozen_still = 0;
            if (tr[k] && v == 0.0f) moved = 0;
        }
    }
    CHECK(frozen_still, "frozen parameters or their gradients changed");
    CHECK(moved, "a trainable parameter did not move");
    free(p);
    free(g);
    free(norms);
    free(tr);
    optimizer_free(&opt);
    param_table_free(&t);
    model_config_free(&cfg);
}

TEST_MAIN(TEST_ENTRY(test_freeze_semantics), TEST_ENTRY(test_yolov5n_backbone))
