/* clip_grad_norm against torch.nn.utils.clip_grad_norm_(max_norm=10) of
 * PyTorch 1.13 (scripts/gen_optim_fixtures.py, non-FMA kernels): clipping,
 * no clipping, a norm just under the limit, zero and underflowing gradients,
 * and non-finite gradients (inf, NaN, overflowing squares), each on tensors
 * of several sizes (tails of the 8-lane reduction included). Per-tensor
 * norms, total norm and scaled gradients are expected to match bit for bit. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "optim/clip_grad.h"
#include "optim_fixture.h"
#include "test.h"

/* One entry per tensor, all trainable parameters. */
static int table_of_sizes(const int64_t *numel, size_t n, ParamTable *t)
{
    memset(t, 0, sizeof *t);
    t->entries = calloc(n ? n : 1, sizeof *t->entries);
    if (!t->entries) return -1;
    t->n_entries = (int)n;
    for (size_t i = 0; i < n; i++) {
        ParamEntry *e = &t->entries[i];
        snprintf(e->key, sizeof e->key, "model.%zu.conv.weight", i);
        e->numel = (size_t)numel[i];
        e->kind = ENTRY_PARAM;
        e->group = PARAM_GROUP_DECAY;
        e->offset = t->n_params;
        t->n_params += e->numel;
    }
    return 0;
}

static void test_clip_parity(void)
{
    SafeTensors st;
    if (ofx_open(&st, "clip.safetensors")) {
        CHECK(0, "fixture");
        return;
    }
    char buf[512], *names[16], key[96];
    int n_cases = ofx_meta_split(&st, "cases", buf, sizeof buf, names, 16);
    CHECK(n_cases == 8, "cases %d", n_cases);
    for (int c = 0; c < n_cases; c++) {
        const char *name = names[c];
        size_t n = 0, n_g = 0;
        snprintf(key, sizeof key, "%s.numel", name);
        int64_t *numel = ofx_i64(&st, key, &n);
        snprintf(key, sizeof key, "%s.grad", name);
        float *grad = ofx_f32(&st, key, &n_g);
        snprintf(key, sizeof key, "%s.clipped", name);
        float *clipped = ofx_f32(&st, key, NULL);
        snprintf(key, sizeof key, "%s.norm", name);
        float *norm = ofx_f32(&st, key, NULL);
        snprintf(key, sizeof key, "%s.norms", name);
        float *norms = ofx_f32(&st, key, NULL);
        ParamTable t;
        if (!numel || !grad || !clipped || !norm || !norms || table_of_sizes(numel, n, &t)) {
            CHECK(0, "%s: arrays", name);
        } else {
            float *g = malloc(n_g * sizeof(float)), *entry_norms = malloc(n * sizeof(float));
            memcpy(g, grad, n_g * sizeof(float));
            ClipResult res;
            Error err = {{0}};
            int rc = clip_grad_norm(&t, NULL, g, CLIP_GRAD_MAX_NORM, entry_norms, &res, &err);
            int finite = isfinite(norm[0]);
            CHECK(rc == (finite ? 0 : -1), "%s: rc %d (%s)", name, rc, err.msg);
            CHECK(memcmp(&res.total_norm, &norm[0], sizeof(float)) == 0 ||
                      (isnan(res.total_norm) && isnan(norm[0])),
                  "%s: total norm %.9g want %.9g", name, (double)res.total_norm, (double)norm[0]);
            for (size_t i = 0; i < n; i++)
                CHECK(entry_norms[i] == norms[i] || (isnan(entry_norms[i]) && isnan(norms[i])),
                      "%s: norm of tensor %zu %.9g want %.9g", name, i, (double)entry_norms[i], (double)norms[i]);
            if (finite) {
                CHECK(ofx_bit_diffs(g, clipped, n_g) == 0, "%s: %zu clipped gradients not bit-equal", name,
                      ofx_bit_diffs(g, clipped, n_g));
                CHECK(res.clipped == (norm[0] > 10.0f), "%s: clipped %d", name, res.clipped);
                if (!res.clipped) CHECK(res.coef == 1.0f, "coef");
            } else {
                /* torch scales by NaN or 0 and steps on; we report and leave them */
                CHECK(ofx_bit_diffs(g, grad, n_g) == 0 || strcmp(name, "nan") == 0, "%s: gradients changed", name);
                CHECK(!res.clipped && res.coef == 1.0f, "%s: not clipped", name);
                if (!strcmp(name, "inf")) CHECK(strstr(err.msg, "model.2.conv.weight") != NULL, "%s", err.msg);
                if (!strcmp(name, "nan")) CHECK(strstr(err.msg, "model.5.conv.weight") != NULL, "%s", err.msg);
                if (!strcmp(name, "huge")) CHECK(strstr(err.msg, "model.0.conv.weight") != NULL, "%s", err.msg);
            }
            free(g);
            free(entry_norms);
            param_table_free(&t);
        }
        free(numel);
        free(grad);
        free(clipped);
        free(norm);
        free(norms);
    }
    st_free(&st);
}

/* Frozen tensors and buffers take no part; the reduction order is torch's:
 * 8 lanes, lanes summed in order, then the tail. */
static void test_mask_and_order(void)
{
    int64_t numel[4] = {19, 5, 300, 1};
    ParamTable t;
    CHECK(table_of_sizes(numel, 4, &t) == 0, "table");
    t.entries[3].kind = ENTRY_BUFFER; /* a buffer in the table: never part of the norm */
    float *g = malloc(t.n_params * sizeof(float));
    for (size_t i = 0; i < t.n_params; i++) g[i] = (float)((int)(i * 37 % 101) - 50) * 0.173f;
    unsigned char trainable[4] = {1, 0, 1, 1};
    float norms[4];
    ClipResult res;
    Error err = {{0}};
    /* make the frozen slot huge: it must not matter */
    for (size_t i = 0; i < 5; i++) g[19 + i] = 1e30f;
    float *orig = malloc(t.n_params * sizeof(float));
    memcpy(orig, g, t.n_params * sizeof(float));
    CHECK(clip_grad_norm(&t, trainable, g, 10.0f, norms, &res, &err) == 0, "%s", err.msg);
    float n0 = torch_l2_norm_f32(orig, 19), n2 = torch_l2_norm_f32(orig + 24, 300);
    float stack[2] = {n0, n2};
    CHECK(norms[0] == n0 && norms[1] == 0.0f && norms[2] == n2 && norms[3] == 0.0f, "per-tensor norms");
    CHECK(res.total_norm == torch_l2_norm_f32(stack, 2), "total");
    double exact = sqrt((double)n0 * n0 + (double)n2 * n2);
    CHECK_CLOSE(res.total_norm, exact, 0, 1e-6);
    CHECK(res.clipped && res.coef == (1.0f / (res.total_norm + 1e-6f)) * 10.0f, "coef %.9g", (double)res.coef);
    int frozen_kept = 1;
    for (size_t i = 0; i < 5; i++) frozen_kept &= g[19 + i] == 1e30f;
    CHECK(frozen_kept, "frozen gradients scaled");
    CHECK(g[0] == orig[0] * res.coef && g[323] == orig[323] * res.coef, "scaled");

    /* the lane order: 8 partial sums, summed 0..7, then the tail one by one */
    float x[19];
    for (int i = 0; i < 19; i++) x[i] = 1.0f + (float)i * 0.3f;
    float acc[8] = {0};
    for (int i = 0; i < 16; i++) acc[i % 8] += x[i] * x[i];
    float s = acc[0];
    for (int l = 1; l < 8; l++) s = s + acc[l];
    for (int i = 16; i < 19; i++) s += x[i] * x[i];
    CHECK(torch_l2_norm_f32(x, 19) == sqrtf(s), "lane order");
    CHECK(torch_l2_norm_f32(x, 0) == 0.0f, "empty");
    free(g);
    free(orig);
    param_table_free(&t);
}

/* Large tensors take the threaded path; results must equal the reference
 * reduction whatever the thread count. */
static void test_large_parallel(void)
{
    int64_t numel[3] = {1 << 18, 77777, 3};
    ParamTable t;
    CHECK(table_of_sizes(numel, 3, &t) == 0, "table");
    float *g = malloc(t.n_params * sizeof(float)), *ref = malloc(t.n_params * sizeof(float));
    uint32_t x = 12345;
    for (size_t i = 0; i < t.n_params; i++) {
        x = x * 1664525u + 1013904223u;
        g[i] = ((float)(x >> 8) / 16777216.0f - 0.5f) * 0.01f;
    }
    memcpy(ref, g, t.n_params * sizeof(float));
    float norms[3];
    ClipResult res;
    Error err = {{0}};
    CHECK(clip_grad_norm(&t, NULL, g, 1.0f, norms, &res, &err) == 0, "%s", err.msg);
    float n3[3] = {torch_l2_norm_f32(ref, (size_t)numel[0]),
                   torch_l2_norm_f32(ref + numel[0], (size_t)numel[1]),
                   torch_l2_norm_f32(ref + numel[0] + numel[1], 3)};
    CHECK(res.total_norm == torch_l2_norm_f32(n3, 3), "total");
    CHECK(res.clipped, "clipped at max_norm 1");
    size_t bad = 0;
    for (size_t i = 0; i < t.n_params; i++) bad += g[i] != ref[i] * res.coef;
    CHECK(bad == 0, "%zu elements scaled differently", bad);
    free(g);
    free(ref);
    param_table_free(&t);
}

TEST_MAIN(TEST_ENTRY(test_clip_parity), TEST_ENTRY(test_mask_and_order), TEST_ENTRY(test_large_parallel))
