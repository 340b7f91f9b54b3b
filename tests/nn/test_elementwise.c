/* SiLU and residual add: forward against float64, backward against central
 * finite differences of a float64 loss, += semantics, NULL skips, aliasing, and
 * SiLU's behaviour at large |x|, infinities and NaN.
 *
 * Tolerances:
 * - SiLU forward: rtol 1e-6 (a few float roundings plus the ~1-ulp polynomial
 *   exp; the measured worst case over [-104, 104] is well below), atol 1e-40 for
 *   results that underflow into the subnormals (x < -87).
 * - SiLU backward vs FD (step 1e-4, O(h²) truncation ~1e-9): 1e-4 of the largest
 *   gradient; vs the float64 derivative formula: rtol 1e-6 + atol 1e-6·|dy|.
 * - add: float addition is correctly rounded, so forward and backward must match
 *   the float64 result rounded to float exactly. */
#include "core/rng.h"
#include "nn/add.h"
#include "nn/gradcheck.h"
#include "nn/silu.h"
#include "test.h"

#ifndef SILU_RTOL /* overridable with -D to measure the margin */
#define SILU_RTOL 1e-6
#endif
#ifndef GRAD_RTOL
#define GRAD_RTOL 1e-4
#endif

static double silu_ref(double x) { return x / (1.0 + exp(-x)); }

static double silu_grad_ref(double x)
{
    double s = 1.0 / (1.0 + exp(-x));
    return s * (1.0 + x * (1.0 - s));
}

typedef struct {
    size_t count;
    double *x, *r;
} SiluLossCtx;

static double silu_loss(void *p)
{
    SiluLossCtx *c = p;
    double l = 0;
    for (size_t i = 0; i < c->count; i++) l += silu_ref(c->x[i]) * c->r[i];
    return l;
}

/* ---- SiLU ---- */

/* A dense sweep over [-104, 104] (the whole range where the result is not
 * trivially x or 0) and the float64 reference at every point. */
static void silu_forward_sweep(void)
{
    const size_t count = 400001;
    float *x = gc_floats(count), *y = gc_floats(count);
    double *want = gc_doubles(count);
    for (size_t i = 0; i < count; i++) {
        x[i] = (float)(-104.0 + 208.0 * (double)i / (double)(count - 1));
        want[i] = silu_ref(x[i]);
    }
    silu_forward(count, x, y);
    CHECK_CLOSE_TO_DOUBLE("silu sweep", y, want, NULL, count, 1e-40, SILU_RTOL);
    free(x), free(y), free(want);
}

static void silu_grad_fd(void)
{
    /* n 3, c 5, 7x9 activations with a wide spread, plus exact zeros. */
    const size_t count = 3 * 5 * 7 * 9;
    Rng rng;
    rng_seed(&rng, 31);
    float *x = gc_floats(count), *r = gc_floats(count), *y = gc_floats(count), *dx = gc_floats(count);
    gc_fill_normal(&rng, x, count, 0, 4);
    x[0] = 0.0f, x[1] = -0.0f, x[2] = 12.5f, x[3] = -12.5f;
    gc_fill_normal(&rng, r, count, 0, 1);
    silu_forward(count, x, y);
    gc_prefill(dx, count);
    silu_backward(count, x, r, dx);

    SiluLossCtx ctx = {count, gc_to_double(x, count), gc_to_double(r, count)};
    double *want = gc_doubles(count), *num = gc_doubles(count);
    for (size_t i = 0; i < count; i++) want[i] = silu_ref(ctx.x[i]);
    CHECK_CLOSE_TO_DOUBLE("silu forward", y, want, NULL, count, 1e-40, SILU_RTOL);
    gc_numeric_grad(silu_loss, &ctx, ctx.x, count, 1e-4, num);
    CHECK_GRAD("silu dx vs FD", dx, num, count, GRAD_RTOL);
    /* And elementwise against the closed form (no cancellation here). */
    double *mag = gc_doubles(count);
    for (size_t i = 0; i < count; i++) {
        want[i] = gc_prefill_value(i) + ctx.r[i] * silu_grad_ref(ctx.x[i]);
        mag[i] = fabs(want[i]) + fabs(ctx.r[i]);
    }
    CHECK_CLOSE_TO_DOUBLE("silu dx vs formula", dx, want, mag, count, 0.0, SILU_RTOL);
    free(x), free(r), free(y), free(dx), free(ctx.x), free(ctx.r), free(want), free(num), free(mag);
}

/* Large |x|, infinities and NaN: no overflow, no spurious NaN. */
static void silu_special_values(void)
{
    const float inf = INFINITY, nan = NAN;
    const float x[] = {1000.0f, -1000.0f, 1e30f, -1e30f, 88.8f, -88.8f, 104.5f, -104.5f,
                       3.4e38f, -3.4e38f, inf, nan, 1e-30f, -1e-30f, 0.0f, -0.0f};
    enum { N = sizeof x / sizeof x[0] };
    float y[N], dx[N], dy[N];
    for (int i = 0; i < N; i++) dy[i] = 1.0f, dx[i] = 0.0f;
    silu_forward(N, x, y);
    silu_backward(N, x, dy, dx);
    CHECK(y[0] == 1000.0f && dx[0] == 1.0f, "x=1000: y %g dx %g", y[0], dx[0]);
    CHECK(y[1] == 0.0f && dx[1] == 0.0f, "x=-1000: y %g dx %g", y[1], dx[1]);
    CHECK(y[2] == 1e30f && dx[2] == 1.0f, "x=1e30: y %g dx %g", y[2], dx[2]);
    CHECK(y[3] == 0.0f && dx[3] == 0.0f, "x=-1e30: y %g dx %g", y[3], dx[3]);
    CHECK_CLOSE(y[4], 88.8, 0, 1e-7);
    CHECK_CLOSE(dx[4], 1.0, 0, 1e-7);
    /* silu(-88.8) = -88.8·e^-88.8 ≈ -2.5e-37: tiny but representable. */
    CHECK_CLOSE(y[5], silu_ref(-88.8f), 1e-44, 1e-5);
    CHECK_CLOSE(dx[5], silu_grad_ref(-88.8f), 1e-44, 1e-5);
    CHECK(y[6] == 104.5f && dx[6] == 1.0f, "x=104.5: y %g dx %g", y[6], dx[6]);
    CHECK(y[7] == 0.0f && dx[7] == 0.0f, "x=-104.5: y %g dx %g", y[7], dx[7]);
    CHECK(y[8] == 3.4e38f && dx[8] == 1.0f, "x=3.4e38: y %g dx %g", y[8], dx[8]);
    CHECK(y[9] == 0.0f && dx[9] == 0.0f, "x=-3.4e38: y %g dx %g", y[9], dx[9]);
    CHECK(y[10] == inf, "silu(inf) = %g", y[10]);
    CHECK(isnan(y[11]) && isnan(dx[11]), "NaN in, NaN out: y %g dx %g", y[11], dx[11]);
    CHECK_CLOSE(y[12], 0.5e-30, 0, 1e-6);
    CHECK_CLOSE(y[13], -0.5e-30, 0, 1e-6);
    CHECK(y[14] == 0.0f && dx[14] == 0.5f, "x=0: y %g dx %g", y[14], dx[14]);
    CHECK(y[15] == 0.0f && dx[15] == 0.5f, "x=-0: y %g dx %g", y[15], dx[15]);
    /* At x = +inf the derivative formula is 1·(1 + inf·0) = NaN, as in PyTorch's
     * silu_backward; every finite x must give finite values. */
    for (int i = 0; i < N; i++)
        if (i != 10 && i != 11) CHECK(!isnan(y[i]) && !isnan(dx[i]), "x=%g gives NaN", x[i]);
}

/* y may alias x; results must equal the out-of-place ones exactly. Uses a count
 * above the parallel threshold so the threaded path is covered too. */
static void silu_inplace(void)
{
    const size_t count = 100003;
    Rng rng;
    rng_seed(&rng, 32);
    float *x = gc_floats(count), *y = gc_floats(count);
    gc_fill_normal(&rng, x, count, 0, 5);
    silu_forward(count, x, y);
    silu_forward(count, x, x);
    CHECK(gc_bitwise_equal(x, y, count), "in-place silu differs");
    free(x), free(y);
}

/* ---- add ---- */

static void add_forward_and_grad(void)
{
    const size_t count = 3 * 17 * 5 * 6;
    Rng rng;
    rng_seed(&rng, 33);
    float *a = gc_floats(count), *b = gc_floats(count), *y = gc_floats(count), *r = gc_floats(count);
    float *da = gc_floats(count), *db = gc_floats(count);
    gc_fill_normal(&rng, a, count, 0, 3);
    gc_fill_normal(&rng, b, count, 0, 3);
    gc_fill_normal(&rng, r, count, 0, 1);
    add_forward(count, a, b, y);
    int exact = 1;
    for (size_t i = 0; i < count; i++) exact &= y[i] == (float)((double)a[i] + (double)b[i]);
    CHECK(exact, "a + b is not the correctly rounded sum");

    gc_prefill(da, count);
    gc_prefill(db, count);
    add_backward(count, r, da, db);
    /* L = Σ (a + b)·r is linear: the central difference is exact, dL/da = dL/db = r. */
    double *ad = gc_to_double(a, count), *bd = gc_to_double(b, count), *rd = gc_to_double(r, count);
    double *num = gc_doubles(count);
    for (size_t i = 0; i < count; i++) {
        double step = 0.5;
        double plus = (ad[i] + step + bd[i]) * rd[i], minus = (ad[i] - step + bd[i]) * rd[i];
        num[i] = (plus - minus) / (2 * step);
    }
    CHECK_GRAD("add da", da, num, count, 1e-7);
    CHECK_GRAD("add db", db, num, count, 1e-7);
    int sums = 1;
    for (size_t i = 0; i < count; i++) sums &= da[i] == gc_prefill_value(i) + r[i];
    CHECK(sums, "da is not prefill + dy exactly");

    /* NULL skips. */
    float *d2 = gc_floats(count);
    gc_prefill(d2, count);
    add_backward(count, r, NULL, d2);
    CHECK(gc_bitwise_equal(d2, db, count), "db with da NULL");
    gc_prefill(d2, count);
    add_backward(count, r, d2, NULL);
    CHECK(gc_bitwise_equal(d2, da, count), "da with db NULL");
    free(a), free(b), free(y), free(r), free(da), free(db), free(d2), free(ad), free(bd), free(rd);
    free(num);
}

/* y may alias a or b; da == db (x + x) gets the gradient twice. */
static void add_aliasing(void)
{
    const size_t count = 70001; /* above the parallel threshold */
    Rng rng;
    rng_seed(&rng, 34);
    float *a = gc_floats(count), *b = gc_floats(count), *y = gc_floats(count), *t = gc_floats(count);
    gc_fill_normal(&rng, a, count, 0, 1);
    gc_fill_normal(&rng, b, count, 0, 1);
    add_forward(count, a, b, y);
    memcpy(t, a, sizeof(float) * count);
    add_forward(count, t, b, t);
    CHECK(gc_bitwise_equal(t, y, count), "y aliasing a");
    memcpy(t, b, sizeof(float) * count);
    add_forward(count, a, t, t);
    CHECK(gc_bitwise_equal(t, y, count), "y aliasing b");

    memset(t, 0, sizeof(float) * count);
    add_backward(count, a, t, t);
    int twice = 1;
    for (size_t i = 0; i < count; i++) twice &= t[i] == 2 * a[i];
    CHECK(twice, "da == db must receive 2·dy");
    free(a), free(b), free(y), free(t);
}

TEST_MAIN(TEST_ENTRY(silu_forward_sweep), TEST_ENTRY(silu_grad_fd), TEST_ENTRY(silu_special_values),
          TEST_ENTRY(silu_inplace), TEST_ENTRY(add_forward_and_grad), TEST_ENTRY(add_aliasing))
