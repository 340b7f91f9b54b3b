/* Conv2d forward/backward against a naive float64 reference and central finite
 * differences, on odd shapes (H, W not multiples of the stride, batch 1 and 3,
 * channel counts 3, 5, 17) and one case large enough for gemm's blocked paths.
 *
 * Tolerances:
 * - forward, float32 vs float64: |y - y_ref| <= 1e-5 · Σ|w·x| (+|b|). A float
 *   dot product of K terms errs by at most ~K·eps32·Σ|terms| (rigorous) and
 *   ~sqrt(K)·eps32·Σ|terms| in practice; with K <= 576 and eps32 = 6e-8 the
 *   practical error is ~1.5e-6·Σ|terms|, so 1e-5 has margin yet catches any
 *   wrong or missing term (which is O(|term|) ~ Σ|terms|/K >= 1.7e-3·Σ|terms|).
 * - gradients, analytic vs central difference: 1e-4 of the gradient array's
 *   largest magnitude. The loss is linear in each of x, W, b, so the double FD is
 *   exact to ~1e-12; the float32 backward sums <= 800 terms (~1e-6 relative). */
#include <omp.h>

#include "core/rng.h"
#include "nn/conv2d.h"
#include "nn/gradcheck.h"
#include "test.h"

#ifndef FWD_RTOL /* overridable with -D to measure the margin */
#define FWD_RTOL 1e-5
#endif
#ifndef GRAD_RTOL
#define GRAD_RTOL 1e-4
#endif

/* ---- float64 reference ---- */

/* y = conv(x, w) + b; when magnitude is non-NULL it receives Σ|w·x| + |b| per output. */
static void conv_ref(const Conv2d *cv, int n, int h, int w, const double *x, const double *wt,
                     const double *bias, double *y, double *magnitude)
{
    const int ho = conv2d_out_dim(h, cv->k, cv->stride, cv->pad);
    const int wo = conv2d_out_dim(w, cv->k, cv->stride, cv->pad);
    const int k = cv->k;
    for (int b = 0; b < n; b++)
        for (int co = 0; co < cv->c_out; co++)
            for (int oy = 0; oy < ho; oy++)
                for (int ox = 0; ox < wo; ox++) {
                    double acc = bias ? bias[co] : 0, mag = bias ? fabs(bias[co]) : 0;
                    for (int ci = 0; ci < cv->c_in; ci++)
                        for (int kh = 0; kh < k; kh++) {
                            int iy = oy * cv->stride - cv->pad + kh;
                            if (iy < 0 || iy >= h) continue;
                            for (int kw = 0; kw < k; kw++) {
                                int ix = ox * cv->stride - cv->pad + kw;
                                if (ix < 0 || ix >= w) continue;
                                double term = wt[((size_t)(co * cv->c_in + ci) * k + kh) * k + kw] *
                                              x[((size_t)(b * cv->c_in + ci) * h + iy) * w + ix];
                                acc += term;
                                mag += fabs(term);
                            }
                        }
                    size_t o = ((size_t)(b * cv->c_out + co) * ho + oy) * wo + ox;
                    y[o] = acc;
                    if (magnitude) magnitude[o] = mag;
                }
}

/* Direct (scatter) backward in float64, used to check every element of the large case. */
static void conv_ref_backward(const Conv2d *cv, int n, int h, int w, const double *x,
                              const double *wt, const double *dy, double *dx, double *dw, double *db)
{
    const int ho = conv2d_out_dim(h, cv->k, cv->stride, cv->pad);
    const int wo = conv2d_out_dim(w, cv->k, cv->stride, cv->pad);
    const int k = cv->k;
    memset(dx, 0, sizeof(double) * (size_t)n * cv->c_in * h * w);
    memset(dw, 0, sizeof(double) * (size_t)cv->c_out * cv->c_in * k * k);
    memset(db, 0, sizeof(double) * (size_t)cv->c_out);
    for (int b = 0; b < n; b++)
        for (int co = 0; co < cv->c_out; co++)
            for (int oy = 0; oy < ho; oy++)
                for (int ox = 0; ox < wo; ox++) {
                    double g = dy[((size_t)(b * cv->c_out + co) * ho + oy) * wo + ox];
                    db[co] += g;
                    for (int ci = 0; ci < cv->c_in; ci++)
                        for (int kh = 0; kh < k; kh++) {
                            int iy = oy * cv->stride - cv->pad + kh;
                            if (iy < 0 || iy >= h) continue;
                            for (int kw = 0; kw < k; kw++) {
                                int ix = ox * cv->stride - cv->pad + kw;
                                if (ix < 0 || ix >= w) continue;
                                size_t wi = ((size_t)(co * cv->c_in + ci) * k + kh) * k + kw;
                                size_t xi = ((size_t)(b * cv->c_in + ci) * h + iy) * w + ix;
                                dw[wi] += g * x[xi];
                                dx[xi] += g * wt[wi];
                            }
                        }
                }
}

typedef struct {
    const Conv2d *cv;
    int n, h, w;
    double *x, *wt, *bias, *r, *y;
} ConvLossCtx;

static double conv_loss(void *p)
{
    ConvLossCtx *c = p;
    conv_ref(c->cv, c->n, c->h, c->w, c->x, c->wt, c->bias, c->y, NULL);
    const int ho = conv2d_out_dim(c->h, c->cv->k, c->cv->stride, c->cv->pad);
    const int wo = conv2d_out_dim(c->w, c->cv->k, c->cv->stride, c->cv->pad);
    return gc_dot(c->y, c->r, (size_t)c->n * c->cv->c_out * ho * wo);
}

/* Everything one case needs, in float and double. */
typedef struct {
    Conv2d cv;
    int n, h, w, ho, wo, with_bias;
    size_t nx, nw, nb, ny, nscratch;
    float *x, *wt, *bias, *r, *y, *dx, *dw, *db, *scratch;
    double *xd, *wd, *bd, *rd, *yd, *mag;
} ConvCase;

static ConvCase conv_case_new(Conv2d cv, int n, int h, int w, int with_bias, uint64_t seed)
{
    ConvCase c;
    memset(&c, 0, sizeof c);
    c.cv = cv;
    c.n = n;
    c.h = h;
    c.w = w;
    c.with_bias = with_bias;
    c.ho = conv2d_out_dim(h, cv.k, cv.stride, cv.pad);
    c.wo = conv2d_out_dim(w, cv.k, cv.stride, cv.pad);
    c.nx = (size_t)n * cv.c_in * h * w;
    c.nw = (size_t)cv.c_out * cv.c_in * cv.k * cv.k;
    c.nb = (size_t)cv.c_out;
    c.ny = (size_t)n * cv.c_out * c.ho * c.wo;
    c.nscratch = conv2d_scratch_floats(&cv, n, h, w);
    Rng rng;
    rng_seed(&rng, seed);
    c.x = gc_floats(c.nx);
    c.wt = gc_floats(c.nw);
    c.bias = gc_floats(c.nb);
    c.r = gc_floats(c.ny);
    gc_fill_normal(&rng, c.x, c.nx, 0, 1);
    /* PyTorch's default init scale, so outputs stay O(1) whatever the fan-in. */
    double bound = 1.0 / sqrt((double)cv.c_in * cv.k * cv.k);
    gc_fill_uniform(&rng, c.wt, c.nw, -bound, bound);
    gc_fill_uniform(&rng, c.bias, c.nb, -1, 1);
    gc_fill_normal(&rng, c.r, c.ny, 0, 1);
    c.y = gc_floats(c.ny);
    c.dx = gc_floats(c.nx);
    c.dw = gc_floats(c.nw);
    c.db = gc_floats(c.nb);
    /* Exactly the advertised scratch (ASan flags any overrun); NULL when it is 0. */
    c.scratch = c.nscratch ? gc_floats(c.nscratch) : NULL;
    c.xd = gc_to_double(c.x, c.nx);
    c.wd = gc_to_double(c.wt, c.nw);
    c.bd = gc_to_double(c.bias, c.nb);
    c.rd = gc_to_double(c.r, c.ny);
    c.yd = gc_doubles(c.ny);
    c.mag = gc_doubles(c.ny);
    return c;
}

static void conv_case_free(ConvCase *c)
{
    free(c->x), free(c->wt), free(c->bias), free(c->r), free(c->y), free(c->dx), free(c->dw);
    free(c->db), free(c->scratch), free(c->xd), free(c->wd), free(c->bd), free(c->rd);
    free(c->yd), free(c->mag);
}

static void conv_case_run(ConvCase *c)
{
    conv2d_forward(&c->cv, c->n, c->h, c->w, c->x, c->wt, c->with_bias ? c->bias : NULL, c->y,
                   c->scratch);
    gc_prefill(c->dx, c->nx);
    gc_prefill(c->dw, c->nw);
    gc_prefill(c->db, c->nb);
    conv2d_backward(&c->cv, c->n, c->h, c->w, c->x, c->wt, c->r, c->dx, c->dw,
                    c->with_bias ? c->db : NULL, c->scratch);
}

static void check_forward(ConvCase *c, const char *label)
{
    char what[160];
    conv_ref(&c->cv, c->n, c->h, c->w, c->xd, c->wd, c->with_bias ? c->bd : NULL, c->yd, c->mag);
    snprintf(what, sizeof what, "%s forward", label);
    CHECK_CLOSE_TO_DOUBLE(what, c->y, c->yd, c->mag, c->ny, 0.0, FWD_RTOL);
}

/* Full finite-difference check of every input, weight and bias element. */
static void check_conv_fd(Conv2d cv, int n, int h, int w, int with_bias, uint64_t seed)
{
    char label[120], what[160];
    snprintf(label, sizeof label, "k%d s%d p%d %d->%d n%d %dx%d%s", cv.k, cv.stride, cv.pad,
             cv.c_in, cv.c_out, n, h, w, with_bias ? " bias" : "");
    ConvCase c = conv_case_new(cv, n, h, w, with_bias, seed);
    CHECK(c.ho > 0 && c.wo > 0, "%s: empty output", label);
    conv_case_run(&c);
    check_forward(&c, label);

    ConvLossCtx ctx = {&c.cv, n, h, w, c.xd, c.wd, with_bias ? c.bd : NULL, c.rd, c.yd};
    double *num = gc_doubles(c.nx > c.nw ? c.nx : c.nw);
    /* Any step works for a linear loss; 0.5 keeps the difference well above rounding. */
    gc_numeric_grad(conv_loss, &ctx, c.xd, c.nx, 0.5, num);
    snprintf(what, sizeof what, "%s dx", label);
    CHECK_GRAD(what, c.dx, num, c.nx, GRAD_RTOL);
    gc_numeric_grad(conv_loss, &ctx, c.wd, c.nw, 0.5, num);
    snprintf(what, sizeof what, "%s dweight", label);
    CHECK_GRAD(what, c.dw, num, c.nw, GRAD_RTOL);
    if (with_bias) {
        gc_numeric_grad(conv_loss, &ctx, c.bd, c.nb, 0.5, num);
        snprintf(what, sizeof what, "%s dbias", label);
        CHECK_GRAD(what, c.db, num, c.nb, GRAD_RTOL);
    } else {
        /* A NULL dbias is skipped: the prefill must be untouched. */
        for (size_t i = 0; i < c.nb; i++)
            CHECK(c.db[i] == gc_prefill_value(i), "%s: dbias[%zu] written though NULL", label, i);
    }
    free(num);
    conv_case_free(&c);
}

/* ---- tests ---- */

static void out_dim_matches_pytorch(void)
{
    CHECK(conv2d_out_dim(640, 6, 2, 2) == 320, "stem 640");
    CHECK(conv2d_out_dim(7, 6, 2, 2) == 3, "stem 7");
    CHECK(conv2d_out_dim(9, 6, 2, 2) == 4, "stem 9");
    CHECK(conv2d_out_dim(7, 3, 2, 1) == 4, "3x3 s2 7");
    CHECK(conv2d_out_dim(6, 3, 2, 1) == 3, "3x3 s2 6");
    CHECK(conv2d_out_dim(9, 3, 1, 1) == 9, "3x3 s1 9");
    CHECK(conv2d_out_dim(5, 1, 1, 0) == 5, "1x1");
    CHECK(conv2d_out_dim(2, 3, 1, 0) == 0, "kernel larger than input: %d",
          conv2d_out_dim(2, 3, 1, 0));
    CHECK(conv2d_out_dim(1, 4, 2, 1) == 0, "floor of a negative span: %d",
          conv2d_out_dim(1, 4, 2, 1));
}

static void scratch_sizes(void)
{
    Conv2d pw = {17, 5, 1, 1, 0, GEMM_FP32};
    CHECK(conv2d_scratch_floats(&pw, 3, 7, 9) == 0, "1x1 s1 p0 needs no im2col");
    Conv2d stem = {3, 16, 6, 2, 2, GEMM_FP32};
    size_t s = conv2d_scratch_floats(&stem, 1, 640, 640);
    CHECK(s >= (size_t)3 * 36 * 320 * 320, "stem scratch %zu too small for one image's columns", s);
    /* Images share the columns, so the batch size must not multiply the scratch. */
    CHECK(conv2d_scratch_floats(&stem, 16, 640, 640) == s, "scratch grows with n");
}

static void grad_stem_6x6_s2_p2(void)
{
    Conv2d cv = {3, 5, 6, 2, 2, GEMM_FP32};
    check_conv_fd(cv, 1, 7, 9, 0, 101);
    check_conv_fd(cv, 3, 7, 9, 0, 102);
    check_conv_fd(cv, 3, 6, 5, 1, 103);
}

static void grad_3x3_s1_p1(void)
{
    check_conv_fd((Conv2d){5, 17, 3, 1, 1, GEMM_FP32}, 3, 7, 9, 1, 201);
    check_conv_fd((Conv2d){17, 5, 3, 1, 1, GEMM_FP32}, 1, 5, 6, 0, 202);
}

static void grad_3x3_s2_p1(void)
{
    check_conv_fd((Conv2d){5, 17, 3, 2, 1, GEMM_FP32}, 3, 7, 9, 0, 301);
    check_conv_fd((Conv2d){17, 5, 3, 2, 1, GEMM_FP32}, 1, 5, 6, 1, 302);
    check_conv_fd((Conv2d){3, 5, 3, 2, 1, GEMM_FP32}, 3, 6, 6, 0, 303);
}

static void grad_1x1_pointwise(void)
{
    check_conv_fd((Conv2d){17, 5, 1, 1, 0, GEMM_FP32}, 3, 5, 6, 1, 401);
    check_conv_fd((Conv2d){5, 17, 1, 1, 0, GEMM_FP32}, 1, 7, 9, 0, 402);
    check_conv_fd((Conv2d){3, 3, 1, 1, 0, GEMM_FP32}, 3, 1, 1, 1, 403);
}

/* Shapes off the YOLOv5 path that still exercise every branch of im2col/col2im:
 * strided 1x1 (not the pointwise shortcut), padding wider than k/2 (whole
 * rows/columns of zeros), stride 3, even kernels, no padding. */
static void grad_unusual_geometry(void)
{
    check_conv_fd((Conv2d){5, 3, 1, 2, 0, GEMM_FP32}, 3, 7, 9, 1, 501);
    check_conv_fd((Conv2d){3, 5, 1, 1, 1, GEMM_FP32}, 1, 5, 6, 0, 502);
    check_conv_fd((Conv2d){3, 5, 5, 3, 2, GEMM_FP32}, 3, 7, 9, 1, 503);
    check_conv_fd((Conv2d){5, 3, 3, 1, 0, GEMM_FP32}, 1, 5, 6, 0, 504);
    check_conv_fd((Conv2d){3, 5, 2, 2, 0, GEMM_FP32}, 3, 7, 9, 0, 505);
    check_conv_fd((Conv2d){3, 4, 4, 1, 3, GEMM_FP32}, 1, 5, 6, 1, 506);
    check_conv_fd((Conv2d){5, 3, 3, 2, 1, GEMM_FP32}, 3, 1, 2, 1, 507);
}

/* Large enough that gemm takes its packed, blocked, multi-threaded paths:
 * forward vs the float64 reference, every gradient element vs a direct float64
 * backward, and that reference tied to the definition by FD on sampled elements. */
static void large_blocked_case(void)
{
    Conv2d cv = {64, 48, 3, 1, 1, GEMM_FP32};
    const int n = 2, h = 20, w = 20;
    ConvCase c = conv_case_new(cv, n, h, w, 1, 601);
    conv_case_run(&c);
    check_forward(&c, "large");

    double *dxd = gc_doubles(c.nx), *dwd = gc_doubles(c.nw), *dbd = gc_doubles(c.nb);
    conv_ref_backward(&cv, n, h, w, c.xd, c.wd, c.rd, dxd, dwd, dbd);
    CHECK_GRAD("large dx", c.dx, dxd, c.nx, GRAD_RTOL);
    CHECK_GRAD("large dweight", c.dw, dwd, c.nw, GRAD_RTOL);
    CHECK_GRAD("large dbias", c.db, dbd, c.nb, GRAD_RTOL);

    ConvLossCtx ctx = {&c.cv, n, h, w, c.xd, c.wd, c.bd, c.rd, c.yd};
    Rng rng;
    rng_seed(&rng, 602);
    const double dx_scale = gc_max_abs(dxd, c.nx), dw_scale = gc_max_abs(dwd, c.nw);
    for (int s = 0; s < 6; s++) {
        double fd;
        size_t i = (size_t)rng_int(&rng, 0, (int64_t)c.nx - 1);
        gc_numeric_grad(conv_loss, &ctx, &c.xd[i], 1, 0.5, &fd);
        CHECK_CLOSE(dxd[i], fd, 1e-9 * dx_scale, 0);
        size_t j = (size_t)rng_int(&rng, 0, (int64_t)c.nw - 1);
        gc_numeric_grad(conv_loss, &ctx, &c.wd[j], 1, 0.5, &fd);
        CHECK_CLOSE(dwd[j], fd, 1e-9 * dw_scale, 0);
    }
    free(dxd), free(dwd), free(dbd);
    conv_case_free(&c);
}

/* NULL dx / dbias are skipped and do not change what the other outputs get. */
static void backward_null_skips(void)
{
    Conv2d shapes[2] = {{5, 17, 3, 2, 1, GEMM_FP32}, {17, 5, 1, 1, 0, GEMM_FP32}};
    for (int t = 0; t < 2; t++) {
        ConvCase c = conv_case_new(shapes[t], 3, 7, 9, 1, 701 + t);
        conv_case_run(&c);
        float *dw2 = gc_floats(c.nw), *dx2 = gc_floats(c.nx), *db2 = gc_floats(c.nb);
        gc_prefill(dw2, c.nw);
        conv2d_backward(&c.cv, c.n, c.h, c.w, c.x, c.wt, c.r, NULL, dw2, NULL, c.scratch);
        CHECK(gc_bitwise_equal(dw2, c.dw, c.nw), "case %d: dweight changed when dx is NULL", t);
        gc_prefill(dx2, c.nx);
        gc_prefill(db2, c.nb);
        conv2d_backward(&c.cv, c.n, c.h, c.w, c.x, c.wt, c.r, dx2, NULL, db2, c.scratch);
        CHECK(gc_bitwise_equal(dx2, c.dx, c.nx), "case %d: dx changed when dweight is NULL", t);
        CHECK(gc_bitwise_equal(db2, c.db, c.nb), "case %d: dbias changed when dweight is NULL", t);
        free(dw2), free(dx2), free(db2);
        conv_case_free(&c);
    }
}

/* Forward and backward give the same bits with 1 and with several threads. */
static void thread_count_independent(void)
{
    Conv2d shapes[3] = {{64, 48, 3, 1, 1, GEMM_FP32}, {48, 40, 1, 1, 0, GEMM_FP32}, {3, 16, 6, 2, 2, GEMM_FP32}};
    const int sizes[3] = {20, 20, 64};
    const int saved = omp_get_max_threads();
    for (int t = 0; t < 3; t++) {
        ConvCase a = conv_case_new(shapes[t], 2, sizes[t], sizes[t], 1, 801 + t);
        ConvCase b = conv_case_new(shapes[t], 2, sizes[t], sizes[t], 1, 801 + t);
        omp_set_num_threads(1);
        conv_case_run(&a);
        omp_set_num_threads(3);
        conv_case_run(&b);
        omp_set_num_threads(saved);
        CHECK(gc_bitwise_equal(a.y, b.y, a.ny), "case %d: forward depends on threads", t);
        CHECK(gc_bitwise_equal(a.dx, b.dx, a.nx), "case %d: dx depends on threads", t);
        CHECK(gc_bitwise_equal(a.dw, b.dw, a.nw), "case %d: dweight depends on threads", t);
        CHECK(gc_bitwise_equal(a.db, b.db, a.nb), "case %d: dbias depends on threads", t);
        conv_case_free(&a);
        conv_case_free(&b);
    }
}

/* Backward accumulates: two calls give twice the gradient of one. */
static void backward_accumulates_twice(void)
{
    ConvCase c = conv_case_new((Conv2d){5, 17, 3, 2, 1, GEMM_FP32}, 3, 7, 9, 1, 901);
    float *dx = gc_floats(c.nx), *dw = gc_floats(c.nw), *db = gc_floats(c.nb);
    memset(dx, 0, sizeof(float) * c.nx);
    memset(dw, 0, sizeof(float) * c.nw);
    memset(db, 0, sizeof(float) * c.nb);
    conv2d_backward(&c.cv, c.n, c.h, c.w, c.x, c.wt, c.r, dx, dw, db, c.scratch);
    float *dx1 = gc_floats(c.nx), *dw1 = gc_floats(c.nw), *db1 = gc_floats(c.nb);
    for (size_t i = 0; i < c.nx; i++) dx1[i] = 2 * dx[i];
    for (size_t i = 0; i < c.nw; i++) dw1[i] = 2 * dw[i];
    for (size_t i = 0; i < c.nb; i++) db1[i] = 2 * db[i];
    conv2d_backward(&c.cv, c.n, c.h, c.w, c.x, c.wt, c.r, dx, dw, db, c.scratch);
    /* Doubling is exact, but the second call rounds each partial sum once more. */
    CHECK_ARRAYS_CLOSE("2x dx", dx, dx1, c.nx, 1e-6, 1e-6);
    CHECK_ARRAYS_CLOSE("2x dweight", dw, dw1, c.nw, 1e-6, 1e-6);
    CHECK_ARRAYS_CLOSE("2x dbias", db, db1, c.nb, 1e-6, 1e-6);
    free(dx), free(dw), free(db), free(dx1), free(dw1), free(db1);
    conv_case_free(&c);
}

TEST_MAIN(TEST_ENTRY(out_dim_matches_pytorch), TEST_ENTRY(scratch_sizes),
          TEST_ENTRY(grad_stem_6x6_s2_p2), TEST_ENTRY(grad_3x3_s1_p1), TEST_ENTRY(grad_3x3_s2_p1),
          TEST_ENTRY(grad_1x1_pointwise), TEST_ENTRY(grad_unusual_geometry),
          TEST_ENTRY(large_blocked_case), TEST_ENTRY(backward_null_skips),
          TEST_ENTRY(thread_count_independent), TEST_ENTRY(backward_accumulates_twice))
