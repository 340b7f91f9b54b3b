/* ModelEMA against YOLOv5 v7.0's utils/torch_utils.ModelEMA on PyTorch 1.13
 * (scripts/gen_optim_fixtures.py): the decay ramp, and six updates of a
 * YOLOv5-shaped model's params and float buffers (BN stats, anchors) starting
 * from updates = 1995, so d crosses tau. Expected bit for bit. (The EMA inside
 * the optimizer replays of test_optimizer covers updates from 0.) */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "optim/ema.h"
#include "optim_fixture.h"
#include "test.h"

static void test_decay_ramp(void)
{
    ModelEma ema;
    model_ema_init(&ema, 0);
    CHECK(ema.updates == 0 && ema.decay == 0.9999 && ema.tau == 2000.0, "defaults");
    /* spec §4.6 */
    CHECK(model_ema_decay(&ema, 1) == 0.000499825033328626, "u=1 %.17g", model_ema_decay(&ema, 1));
    CHECK(model_ema_decay(&ema, 10) == 0.0049870220552369485, "u=10");
    CHECK(model_ema_decay(&ema, 1000) == 0.39342999335333784, "u=1000");
    CHECK(model_ema_decay(&ema, 2000) == 0.6320573467726748, "u=2000");
    CHECK(model_ema_decay(&ema, 10000) == 0.9931627267956145, "u=10000");
    SafeTensors st;
    if (ofx_open(&st, "ema.safetensors")) {
        CHECK(0, "fixture");
        return;
    }
    size_t n = 0;
    int64_t *u = ofx_i64(&st, "decay_u", &n);
    double *d = ofx_f64(&st, "decay", NULL);
    CHECK(u && d && n >= 8, "arrays");
    for (size_t i = 0; u && d && i < n; i++)
        CHECK(model_ema_decay(&ema, u[i]) == d[i], "decay(%lld) %.17g want %.17g", (long long)u[i],
              model_ema_decay(&ema, u[i]), d[i]);
    free(u);
    free(d);
    st_free(&st);
}

static void test_updates_parity(void)
{
    SafeTensors st;
    if (ofx_open(&st, "ema.safetensors")) {
        CHECK(0, "fixture");
        return;
    }
    const StTensor *rp = ofx_tensor(&st, "run_params", ST_F32), *rb = ofx_tensor(&st, "run_buffers", ST_F32);
    int64_t *u0 = ofx_i64(&st, "run_updates0", NULL);
    float *params = ofx_f32(&st, "run_params", NULL), *buffers = ofx_f32(&st, "run_buffers", NULL);
    float *want_p = ofx_f32(&st, "run_ema_params", NULL), *want_b = ofx_f32(&st, "run_ema_buffers", NULL);
    if (!rp || !rb || !u0 || !params || !buffers || !want_p || !want_b || rp->ndim != 2) {
        CHECK(0, "arrays");
    } else {
        size_t rows = (size_t)rp->shape[0], n_p = (size_t)rp->shape[1], n_b = (size_t)rb->shape[1];
        float *ep = malloc(n_p * sizeof(float)), *eb = malloc(n_b * sizeof(float));
        memcpy(ep, params, n_p * sizeof(float)); /* creation: deep copy */
        memcpy(eb, buffers, n_b * sizeof(float));
        ModelEma ema;
        model_ema_init(&ema, u0[0]);
        size_t diffs = 0;
        double max_rel = 0, dummy = 0;
        for (size_t k = 1; k < rows; k++) {
            double d = model_ema_update(&ema, ep, params + k * n_p, n_p, eb, buffers + k * n_b, n_b);
            CHECK(d == model_ema_decay(&ema, u0[0] + (int64_t)k), "d");
            CHECK(ema.updates == u0[0] + (int64_t)k, "updates");
            CHECK_ARRAYS_CLOSE("ema params", ep, want_p + (k - 1) * n_p, n_p, 0, 2e-6);
            CHECK_ARRAYS_CLOSE("ema buffers", eb, want_b + (k - 1) * n_b, n_b, 0, 2e-6);
            diffs += ofx_bit_diffs(ep, want_p + (k - 1) * n_p, n_p) + ofx_bit_diffs(eb, want_b + (k - 1) * n_b, n_b);
            ofx_max_err(ep, want_p + (k - 1) * n_p, n_p, &dummy, &max_rel);
            ofx_max_err(eb, want_b + (k - 1) * n_b, n_b, &dummy, &max_rel);
        }
        CHECK(diffs == 0, "%zu elements not bit-equal", diffs);
        printf("    # %zu updates from %lld: max rel err %.3g, %zu elements not bit-equal\n", rows - 1,
               (long long)u0[0], max_rel, diffs);
        free(ep);
        free(eb);
    }
    free(u0);
    free(params);
    free(buffers);
    free(want_p);
    free(want_b);
    st_free(&st);
}

/* The float32 rounding is torch's: fl(fl(e*d) + fl((1-d)*m)), with d and
 * 1 - d rounded to float from double; not a double blend rounded once. Also
 * exercises the threaded path on a large block. */
static void test_rounding_and_threads(void)
{
    size_t n_p = 100003, n_b = 40000;
    float *ep = malloc(n_p * sizeof(float)), *m = malloc(n_p * sizeof(float));
    float *eb = malloc(n_b * sizeof(float)), *mb = malloc(n_b * sizeof(float));
    float *ref = malloc(n_p * sizeof(float));
    uint32_t x = 7;
    for (size_t i = 0; i < n_p; i++) {
        x = x * 1664525u + 1013904223u;
        ep[i] = (float)(x >> 8) / 16777216.0f - 0.5f;
        m[i] = ep[i] * 1.25f + 0.01f;
        if (i < n_b) {
            eb[i] = ep[i] * 3.0f;
            mb[i] = -ep[i];
        }
    }
    ModelEma ema;
    model_ema_init(&ema, 41);
    double d = model_ema_decay(&ema, 42);
    float df = (float)d, omd = (float)(1.0 - d);
    for (size_t i = 0; i < n_p; i++) ref[i] = ep[i] * df + omd * m[i];
    float b0 = eb[5] * df + omd * mb[5];
    model_ema_update(&ema, ep, m, n_p, eb, mb, n_b);
    CHECK(ofx_bit_diffs(ep, ref, n_p) == 0, "threaded blend");
    CHECK(eb[5] == b0, "buffer blend");
    size_t double_differs = 0;
    /* a double-rounded-once blend differs in the last bit somewhere */
    x = 7;
    for (size_t i = 0; i < 2000; i++) {
        x = x * 1664525u + 1013904223u;
        float e0 = (float)(x >> 8) / 16777216.0f - 0.5f, m0 = e0 * 1.25f + 0.01f;
        float torch_way = e0 * df + omd * m0;
        float once = (float)((double)e0 * d + (1.0 - d) * (double)m0);
        double_differs += torch_way != once;
    }
    CHECK(double_differs > 0, "the test inputs do not tell the two roundings apart");
    free(ep);
    free(m);
    free(eb);
    free(mb);
    free(ref);
}

TEST_MAIN(TEST_ENTRY(test_decay_ramp), TEST_ENTRY(test_updates_parity), TEST_ENTRY(test_rounding_and_threads))
