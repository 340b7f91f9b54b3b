/* Nearest ×2 upsampling and channel concatenation: forward against float64
 * references, backward against central finite differences, += semantics and
 * NULL entries, on odd shapes (planes 15 and 17, 7x9 and 5x6, channel lists
 * 3/5/17, batch 1 and 3).
 *
 * Tolerances: both layers only move values, so forwards must match exactly.
 * The losses are linear, so the FD (step 0.5) is exact up to double rounding;
 * the upsample gradient is a float sum of 4 values and concat's a copy, so 1e-6
 * of the largest gradient is ample. */
#include "core/rng.h"
#include "nn/concat.h"
#include "nn/gradcheck.h"
#include "nn/upsample.h"
#include "test.h"

/* ---- upsample ---- */

static void upsample_ref(int planes, int h, int w, const double *x, double *y)
{
    for (int pl = 0; pl < planes; pl++)
        for (int oy = 0; oy < 2 * h; oy++)
            for (int ox = 0; ox < 2 * w; ox++)
                y[((size_t)pl * 2 * h + oy) * 2 * w + ox] = x[((size_t)pl * h + oy / 2) * w + ox / 2];
}

typedef struct {
    int planes, h, w;
    double *x, *r, *y;
} UpLossCtx;

static double upsample_loss(void *p)
{
    UpLossCtx *c = p;
    upsample_ref(c->planes, c->h, c->w, c->x, c->y);
    return gc_dot(c->y, c->r, (size_t)c->planes * 4 * c->h * c->w);
}

static void check_upsample(int planes, int h, int w, uint64_t seed)
{
    char label[64], what[128];
    snprintf(label, sizeof label, "upsample planes %d %dx%d", planes, h, w);
    const size_t nx = (size_t)planes * h * w, ny = 4 * nx;
    Rng rng;
    rng_seed(&rng, seed);
    float *x = gc_floats(nx), *y = gc_floats(ny), *r = gc_floats(ny), *dx = gc_floats(nx);
    gc_fill_normal(&rng, x, nx, 0, 1);
    gc_fill_normal(&rng, r, ny, 0, 1);
    upsample2x_forward(planes, h, w, x, y);
    gc_prefill(dx, nx);
    upsample2x_backward(planes, h, w, r, dx);

    UpLossCtx ctx = {planes, h, w, gc_to_double(x, nx), gc_to_double(r, ny), gc_doubles(ny)};
    upsample_ref(planes, h, w, ctx.x, ctx.y);
    snprintf(what, sizeof what, "%s forward", label);
    CHECK_CLOSE_TO_DOUBLE(what, y, ctx.y, NULL, ny, 0.0, 0.0);
    double *num = gc_doubles(nx);
    gc_numeric_grad(upsample_loss, &ctx, ctx.x, nx, 0.5, num);
    snprintf(what, sizeof what, "%s dx", label);
    CHECK_GRAD(what, dx, num, nx, 1e-6);
    free(x), free(y), free(r), free(dx), free(ctx.x), free(ctx.r), free(ctx.y), free(num);
}

static void upsample_grad(void)
{
    check_upsample(15, 7, 9, 51);
    check_upsample(17, 5, 6, 52);
    check_upsample(3, 1, 1, 53);
}

/* Large enough for the threaded path: compare with a plain loop. */
static void upsample_large(void)
{
    const int planes = 64, h = 20, w = 20;
    const size_t nx = (size_t)planes * h * w, ny = 4 * nx;
    Rng rng;
    rng_seed(&rng, 54);
    float *x = gc_floats(nx), *y = gc_floats(ny), *dx = gc_floats(nx), *want = gc_floats(nx);
    gc_fill_normal(&rng, x, nx, 0, 1);
    upsample2x_forward(planes, h, w, x, y);
    int ok = 1;
    for (int pl = 0; pl < planes; pl++)
        for (int oy = 0; oy < 2 * h; oy++)
            for (int ox = 0; ox < 2 * w; ox++)
                ok &= y[((size_t)pl * 2 * h + oy) * 2 * w + ox] ==
                      x[((size_t)pl * h + oy / 2) * w + ox / 2];
    CHECK(ok, "forward");
    /* dy = y: each input gets 4·x (exact in float). */
    memset(dx, 0, sizeof(float) * nx);
    upsample2x_backward(planes, h, w, y, dx);
    for (size_t i = 0; i < nx; i++) want[i] = 4 * x[i];
    CHECK(gc_bitwise_equal(dx, want, nx), "backward");
    free(x), free(y), free(dx), free(want);
}

/* ---- concat ---- */

typedef struct {
    int n, hw, count;
    const int *cs;
    double **xs; /* count inputs */
    double *r, *y;
    int c_total;
} CatLossCtx;

static void concat_ref(const CatLossCtx *c, double *y)
{
    for (int b = 0; b < c->n; b++) {
        int off = 0;
        for (int i = 0; i < c->count; i++) {
            for (int ch = 0; ch < c->cs[i]; ch++)
                for (int j = 0; j < c->hw; j++)
                    y[((size_t)b * c->c_total + off + ch) * c->hw + j] =
                        c->xs[i][((size_t)b * c->cs[i] + ch) * c->hw + j];
            off += c->cs[i];
        }
    }
}

static double concat_loss(void *p)
{
    CatLossCtx *c = p;
    concat_ref(c, c->y);
    return gc_dot(c->y, c->r, (size_t)c->n * c->c_total * c->hw);
}

static void check_concat(int n, int hw, int count, const int *cs, int null_entry, uint64_t seed)
{
    char label[96], what[160];
    snprintf(label, sizeof label, "concat n%d hw%d count %d", n, hw, count);
    int c_total = 0;
    for (int i = 0; i < count; i++) c_total += cs[i];
    const size_t ny = (size_t)n * c_total * hw;
    Rng rng;
    rng_seed(&rng, seed);
    float *xs[8], *dxs[8];
    double *xds[8];
    for (int i = 0; i < count; i++) {
        size_t ni = (size_t)n * cs[i] * hw;
        xs[i] = gc_floats(ni);
        gc_fill_normal(&rng, xs[i], ni, 0, 1);
        dxs[i] = gc_floats(ni);
        gc_prefill(dxs[i], ni);
        xds[i] = gc_to_double(xs[i], ni);
    }
    float *y = gc_floats(ny), *r = gc_floats(ny);
    gc_fill_normal(&rng, r, ny, 0, 1);
    concat_forward(n, hw, count, (const float *const *)xs, cs, y);
    float *dx_skipped = null_entry >= 0 ? dxs[null_entry] : NULL;
    if (null_entry >= 0) dxs[null_entry] = NULL;
    concat_backward(n, hw, count, cs, r, dxs);
    if (null_entry >= 0) dxs[null_entry] = dx_skipped;

    CatLossCtx ctx = {n, hw, count, cs, xds, gc_to_double(r, ny), gc_doubles(ny), c_total};
    concat_ref(&ctx, ctx.y);
    snprintf(what, sizeof what, "%s forward", label);
    CHECK_CLOSE_TO_DOUBLE(what, y, ctx.y, NULL, ny, 0.0, 0.0);
    for (int i = 0; i < count; i++) {
        size_t ni = (size_t)n * cs[i] * hw;
        if (i == null_entry) {
            int untouched = 1;
            for (size_t j = 0; j < ni; j++) untouched &= dxs[i][j] == gc_prefill_value(j);
            CHECK(untouched, "%s: NULL entry %d written", label, i);
            continue;
        }
        double *num = gc_doubles(ni);
        gc_numeric_grad(concat_loss, &ctx, xds[i], ni, 0.5, num);
        snprintf(what, sizeof what, "%s dx[%d] (c %d)", label, i, cs[i]);
        CHECK_GRAD(what, dxs[i], num, ni, 1e-6);
        free(num);
    }
    for (int i = 0; i < count; i++) free(xs[i]), free(dxs[i]), free(xds[i]);
    free(y), free(r), free(ctx.r), free(ctx.y);
}

static void concat_grad(void)
{
    const int cs3[3] = {3, 5, 17};
    check_concat(3, 63, 3, cs3, -1, 61);
    check_concat(1, 30, 3, cs3, -1, 62);
    const int cs2[2] = {17, 5};
    check_concat(3, 30, 2, cs2, -1, 63);
    const int cs1[1] = {5};
    check_concat(3, 7, 1, cs1, -1, 64);
}

/* SPPF concatenates four equal tensors; a NULL gradient entry is skipped. */
static void concat_sppf_and_null(void)
{
    const int cs4[4] = {5, 5, 5, 5};
    check_concat(3, 63, 4, cs4, 2, 65);
    const int cs3[3] = {3, 5, 17};
    check_concat(1, 30, 3, cs3, 0, 66);
}

/* Large enough for the threaded path: slices land where a plain loop puts them. */
static void concat_large(void)
{
    const int n = 3, hw = 400, cs[3] = {64, 32, 48};
    const int c_total = 144;
    float *xs[3];
    Rng rng;
    rng_seed(&rng, 67);
    for (int i = 0; i < 3; i++) {
        xs[i] = gc_floats((size_t)n * cs[i] * hw);
        gc_fill_normal(&rng, xs[i], (size_t)n * cs[i] * hw, 0, 1);
    }
    float *y = gc_floats((size_t)n * c_total * hw);
    concat_forward(n, hw, 3, (const float *const *)xs, cs, y);
    int ok = 1;
    for (int b = 0; b < n; b++) {
        int off = 0;
        for (int i = 0; i < 3; i++) {
            ok &= memcmp(y + ((size_t)b * c_total + off) * hw, xs[i] + (size_t)b * cs[i] * hw,
                         sizeof(float) * cs[i] * hw) == 0;
            off += cs[i];
        }
    }
    CHECK(ok, "forward slices");
    /* Backward with dy = y into zeros gives back the inputs. */
    float *dxs[3];
    for (int i = 0; i < 3; i++) {
        dxs[i] = gc_floats((size_t)n * cs[i] * hw);
        memset(dxs[i], 0, sizeof(float) * n * cs[i] * hw);
    }
    concat_backward(n, hw, 3, cs, y, dxs);
    for (int i = 0; i < 3; i++) {
        CHECK(gc_bitwise_equal(dxs[i], xs[i], (size_t)n * cs[i] * hw), "backward slice %d", i);
        free(xs[i]), free(dxs[i]);
    }
    free(y);
}

TEST_MAIN(TEST_ENTRY(upsample_grad), TEST_ENTRY(upsample_large), TEST_ENTRY(concat_grad),
          TEST_ENTRY(concat_sppf_and_null), TEST_ENTRY(concat_large))
