/* The fused Conv -> BatchNorm -> SiLU unit (nn/conv_bn_act.h) against the
 * unfused layers it replaces (conv2d + batchnorm + silu, each checked against
 * PyTorch and finite differences in their own tests), against central finite
 * differences of a float64 reference, and for thread-count independence.
 *
 * Shapes cover the 1x1 (no im2col), 3x3 stride 1 and 2, and the 6x6 stride-2
 * stem; odd sizes; batch 1 and 3; several row tiles per image; identity
 * activation; and a layer wide enough that its weight gradient uses fewer
 * image groups than images.
 *
 * Tolerances (fused vs unfused, same float32 arithmetic per element):
 *  - z and the eval output: bit-identical (the same GEMM per element; the
 *    eval transform is batchnorm_forward_eval's).
 *  - batch mean / invstd / running stats: the statistics are combined from
 *    per-tile partials (Chan) instead of one running sum, both in double, so
 *    they agree to double rounding before the float conversion: 2e-7 relative.
 *  - the training output: its BN transform may then differ by an ulp: 1e-6 of
 *    the output's scale.
 *  - gradients: the weight gradient sums per image group, and the BN sums per
 *    tile; float32 reorderings: 2e-5 of each array's largest magnitude. */
#include <omp.h>

#include "core/rng.h"
#include "nn/batchnorm.h"
#include "nn/conv2d.h"
#include "nn/conv_bn_act.h"
#include "nn/gradcheck.h"
#include "nn/silu.h"
#include "test.h"

#define STAT_RTOL 2e-7
#define Y_RTOL 1e-6
#define GRAD_RTOL 2e-5
#define FD_RTOL 2e-3

typedef struct {
    ConvBnAct u;
    int n, h, w, ho, wo;
    size_t nx, nw, nz, nc;
    float *x, *wt, *gamma, *beta, *dy;
} Case;

typedef struct {
    float *z, *y, *mean, *invstd, *affine, *rm, *rv;
    float *dx, *dw, *dgamma, *dbeta;
    float *da; /* dL/d(BN output): what the fused backward leaves in dy */
} Result;

static Case case_new(Conv2d cv, int act, int n, int h, int w, uint64_t seed)
{
    Case c;
    memset(&c, 0, sizeof c);
    c.u = (ConvBnAct){cv, act, 1e-3f, 0.03f, NULL};
    c.n = n, c.h = h, c.w = w;
    c.ho = conv2d_out_dim(h, cv.k, cv.stride, cv.pad);
    c.wo = conv2d_out_dim(w, cv.k, cv.stride, cv.pad);
    c.nx = (size_t)n * cv.c_in * h * w;
    c.nw = (size_t)cv.c_out * cv.c_in * cv.k * cv.k;
    c.nz = (size_t)n * cv.c_out * c.ho * c.wo;
    c.nc = (size_t)cv.c_out;
    Rng r;
    rng_seed(&r, seed);
    c.x = gc_floats(c.nx);
    c.wt = gc_floats(c.nw);
    c.gamma = gc_floats(c.nc);
    c.beta = gc_floats(c.nc);
    c.dy = gc_floats(c.nz);
    gc_fill_normal(&r, c.x, c.nx, 0.3, 1.0); /* nonzero mean: exercises the mean split */
    gc_fill_uniform(&r, c.wt, c.nw, -0.5, 0.5);
    gc_fill_uniform(&r, c.gamma, c.nc, 0.5, 1.5);
    gc_fill_uniform(&r, c.beta, c.nc, -0.5, 0.5);
    gc_fill_normal(&r, c.dy, c.nz, 0.0, 1.0);
    return c;
}

static void case_free(Case *c)
{
    free(c->x), free(c->wt), free(c->gamma), free(c->beta), free(c->dy);
}

static Result result_new(const Case *c)
{
    Result r;
    r.z = gc_floats(c->nz), r.y = gc_floats(c->nz);
    r.mean = gc_floats(c->nc), r.invstd = gc_floats(c->nc), r.affine = gc_floats(2 * c->nc);
    r.rm = gc_floats(c->nc), r.rv = gc_floats(c->nc);
    r.dx = gc_floats(c->nx), r.dw = gc_floats(c->nw), r.dgamma = gc_floats(c->nc), r.dbeta = gc_floats(c->nc);
    r.da = gc_floats(c->nz);
    for (size_t i = 0; i < c->nc; i++) r.rm[i] = 0.1f * (float)i, r.rv[i] = 1.0f + 0.05f * (float)i;
    gc_prefill(r.dx, c->nx), gc_prefill(r.dw, c->nw), gc_prefill(r.dgamma, c->nc), gc_prefill(r.dbeta, c->nc);
    return r;
}

static void result_free(Result *r)
{
    free(r->z), free(r->y), free(r->mean), free(r->invstd), free(r->affine), free(r->rm), free(r->rv);
    free(r->dx), free(r->dw), free(r->dgamma), free(r->dbeta), free(r->da);
}

static float *scratch_for(size_t floats)
{
    float *s = aligned_alloc(64, ((floats ? floats : 1) * sizeof(float) + 63) / 64 * 64);
    if (!s) exit(2);
    return s;
}

/* The fused unit: train forward then backward (on a copy of dy, which the
 * backward turns into dL/da: left in r->da). */
static void run_fused(const Case *c, Result *r)
{
    memcpy(r->da, c->dy, sizeof(float) * c->nz);
    size_t fs = conv_bn_act_forward_scratch_floats(&c->u, c->n, c->h, c->w, 1);
    size_t bs = conv_bn_act_backward_scratch_floats(&c->u, c->n, c->h, c->w);
    float *scratch = scratch_for(fs > bs ? fs : bs);
    conv_bn_act_forward_train(&c->u, c->n, c->h, c->w, c->x, c->wt, c->gamma, c->beta, r->rm, r->rv, r->z, r->y,
                              r->mean, r->invstd, r->affine, scratch);
    conv_bn_act_backward(&c->u, c->n, c->h, c->w, c->x, c->wt, c->gamma, c->beta, r->z, r->mean, r->invstd,
                         r->affine, r->da, r->dx, r->dw, r->dgamma, r->dbeta, scratch);
    free(scratch);
}

/* The same with the unfused layers. */
static void run_unfused(const Case *c, Result *r)
{
    const Conv2d *cv = &c->u.conv;
    const BatchNorm bn = {cv->c_out, c->u.eps, c->u.momentum};
    const int hw = c->ho * c->wo;
    float *scratch = scratch_for(conv2d_scratch_floats(cv, c->n, c->h, c->w));
    float *a = gc_floats(c->nz), *da = r->da, *dz = gc_floats(c->nz);
    conv2d_forward(cv, c->n, c->h, c->w, c->x, c->wt, NULL, r->z, scratch);
    batchnorm_forward_train(&bn, c->n, hw, r->z, c->gamma, c->beta, r->rm, r->rv, a, r->mean, r->invstd);
    if (c->u.act) {
        silu_forward(c->nz, a, r->y);
        memset(da, 0, sizeof(float) * c->nz);
        silu_backward(c->nz, a, c->dy, da);
    } else {
        memcpy(r->y, a, sizeof(float) * c->nz);
        memcpy(da, c->dy, sizeof(float) * c->nz);
    }
    memset(dz, 0, sizeof(float) * c->nz);
    batchnorm_backward(&bn, c->n, hw, r->z, c->gamma, r->mean, r->invstd, da, dz, r->dgamma, r->dbeta);
    conv2d_backward(cv, c->n, c->h, c->w, c->x, c->wt, dz, r->dx, r->dw, NULL, scratch);
    free(a), free(dz), free(scratch);
}

typedef struct {
    Conv2d cv;
    int act, n, h, w;
} Shape;

static const Shape shapes[] = {
    {{5, 7, 1, 1, 0, GEMM_FP32}, 1, 3, 7, 9},     /* 1x1: columns are the image */
    {{5, 6, 3, 1, 1, GEMM_FP32}, 1, 3, 7, 9},     /* 3x3 same */
    {{4, 9, 3, 2, 1, GEMM_FP32}, 1, 1, 9, 8},     /* 3x3 stride 2, batch 1 */
    {{3, 8, 6, 2, 2, GEMM_FP32}, 1, 2, 18, 14},   /* the stem */
    {{3, 5, 6, 2, 2, GEMM_FP32}, 1, 1, 11, 15},   /* the stem, odd sizes */
    {{4, 5, 3, 2, 1, GEMM_FP32}, 1, 2, 9, 11},    /* 3x3 stride 2, odd width */
    {{6, 5, 3, 1, 1, GEMM_FP32}, 0, 2, 6, 5},     /* identity activation */
    {{8, 16, 3, 1, 1, GEMM_FP32}, 1, 2, 40, 44},  /* several row tiles per image */
    {{16, 24, 1, 1, 0, GEMM_FP32}, 1, 3, 40, 40}, /* several tiles of a 1x1 */
};
#define SHAPE_COUNT ((int)(sizeof shapes / sizeof shapes[0]))

static void train_matches_unfused_layers(void)
{
    for (int s = 0; s < SHAPE_COUNT; s++) {
        const Shape *sh = &shapes[s];
        Case c = case_new(sh->cv, sh->act, sh->n, sh->h, sh->w, 100 + s);
        Result f = result_new(&c), u = result_new(&c);
        run_fused(&c, &f);
        run_unfused(&c, &u);
        char what[64];
        snprintf(what, sizeof what, "shape %d z", s);
        CHECK(gc_bitwise_equal(f.z, u.z, c.nz), "%s: conv output not bit-identical", what);
        snprintf(what, sizeof what, "shape %d mean", s);
        CHECK_ARRAYS_CLOSE(what, f.mean, u.mean, c.nc, 1e-7, STAT_RTOL);
        snprintf(what, sizeof what, "shape %d invstd", s);
        CHECK_ARRAYS_CLOSE(what, f.invstd, u.invstd, c.nc, 0, STAT_RTOL);
        snprintf(what, sizeof what, "shape %d running_mean", s);
        CHECK_ARRAYS_CLOSE(what, f.rm, u.rm, c.nc, 1e-7, STAT_RTOL);
        snprintf(what, sizeof what, "shape %d running_var", s);
        CHECK_ARRAYS_CLOSE(what, f.rv, u.rv, c.nc, 0, STAT_RTOL);
        snprintf(what, sizeof what, "shape %d y", s);
        CHECK(gc_close_scaled(what, f.y, u.y, c.nz, Y_RTOL), "%s", what);
        snprintf(what, sizeof what, "shape %d dL/da left in dy", s);
        CHECK(gc_close_scaled(what, f.da, u.da, c.nz, Y_RTOL), "%s", what);
        snprintf(what, sizeof what, "shape %d dx", s);
        CHECK(gc_close_scaled(what, f.dx, u.dx, c.nx, GRAD_RTOL), "%s", what);
        snprintf(what, sizeof what, "shape %d dweight", s);
        CHECK(gc_close_scaled(what, f.dw, u.dw, c.nw, GRAD_RTOL), "%s", what);
        snprintf(what, sizeof what, "shape %d dgamma", s);
        CHECK(gc_close_scaled(what, f.dgamma, u.dgamma, c.nc, GRAD_RTOL), "%s", what);
        snprintf(what, sizeof what, "shape %d dbeta", s);
        CHECK(gc_close_scaled(what, f.dbeta, u.dbeta, c.nc, GRAD_RTOL), "%s", what);
        result_free(&f), result_free(&u);
        case_free(&c);
    }
}

static void eval_matches_unfused_layers(void)
{
    for (int s = 0; s < SHAPE_COUNT; s++) {
        const Shape *sh = &shapes[s];
        Case c = case_new(sh->cv, sh->act, sh->n, sh->h, sh->w, 200 + s);
        const BatchNorm bn = {sh->cv.c_out, c.u.eps, c.u.momentum};
        Result r = result_new(&c);
        float *y = gc_floats(c.nz), *want = gc_floats(c.nz);
        float *scratch = scratch_for(conv_bn_act_forward_scratch_floats(&c.u, c.n, c.h, c.w, 0) +
                                     conv2d_scratch_floats(&sh->cv, c.n, c.h, c.w));
        conv_bn_act_forward_eval(&c.u, c.n, c.h, c.w, c.x, c.wt, c.gamma, c.beta, r.rm, r.rv, y, scratch);
        conv2d_forward(&sh->cv, c.n, c.h, c.w, c.x, c.wt, NULL, want, scratch);
        batchnorm_forward_eval(&bn, c.n, c.ho * c.wo, want, c.gamma, c.beta, r.rm, r.rv, want);
        if (sh->act) silu_forward(c.nz, want, want);
        CHECK(gc_bitwise_equal(y, want, c.nz), "shape %d: eval output differs from the unfused layers", s);
        free(y), free(want), free(scratch);
        result_free(&r);
        case_free(&c);
    }
}

static int results_equal(const Case *c, const Result *a, const Result *b)
{
    return gc_bitwise_equal(a->z, b->z, c->nz) && gc_bitwise_equal(a->y, b->y, c->nz) &&
           gc_bitwise_equal(a->mean, b->mean, c->nc) && gc_bitwise_equal(a->invstd, b->invstd, c->nc) &&
           gc_bitwise_equal(a->affine, b->affine, 2 * c->nc) && gc_bitwise_equal(a->rm, b->rm, c->nc) &&
           gc_bitwise_equal(a->rv, b->rv, c->nc) && gc_bitwise_equal(a->dx, b->dx, c->nx) &&
           gc_bitwise_equal(a->dw, b->dw, c->nw) && gc_bitwise_equal(a->dgamma, b->dgamma, c->nc) &&
           gc_bitwise_equal(a->dbeta, b->dbeta, c->nc) && gc_bitwise_equal(a->da, b->da, c->nz);
}

/* Same bits with 1, 2 and 3 threads, including a layer so wide that its
 * weight gradient runs in fewer image groups than images. */
static void thread_count_independent(void)
{
    Shape extra[2] = {{{512, 512, 3, 1, 1, GEMM_FP32}, 1, 3, 3, 3}, {{8, 16, 3, 1, 1, GEMM_FP32}, 1, 5, 40, 44}};
    const int saved = omp_get_max_threads();
    for (int s = 0; s < SHAPE_COUNT + 2; s++) {
        const Shape *sh = s < SHAPE_COUNT ? &shapes[s] : &extra[s - SHAPE_COUNT];
        Case c = case_new(sh->cv, sh->act, sh->n, sh->h, sh->w, 300 + s);
        Result r1 = result_new(&c), r2 = result_new(&c), r3 = result_new(&c);
        omp_set_num_threads(1);
        run_fused(&c, &r1);
        omp_set_num_threads(2);
        run_fused(&c, &r2);
        omp_set_num_threads(3);
        run_fused(&c, &r3);
        omp_set_num_threads(saved);
        CHECK(results_equal(&c, &r1, &r2), "shape %d: 1 and 2 threads differ", s);
        CHECK(results_equal(&c, &r1, &r3), "shape %d: 1 and 3 threads differ", s);
        result_free(&r1), result_free(&r2), result_free(&r3);
        case_free(&c);
    }
}

/* ---- finite differences of a float64 reference ---- */

typedef struct {
    const Case *c;
    double *x, *wt, *gamma, *beta, *r; /* r = dL/dy */
} FdCtx;

static double fd_loss(void *p)
{
    const FdCtx *f = p;
    const Case *c = f->c;
    const Conv2d *cv = &c->u.conv;
    const int P = c->ho * c->wo, k = cv->k;
    double *z = gc_doubles(c->nz);
    for (int b = 0; b < c->n; b++)
        for (int co = 0; co < cv->c_out; co++)
            for (int oy = 0; oy < c->ho; oy++)
                for (int ox = 0; ox < c->wo; ox++) {
                    double acc = 0;
                    for (int ci = 0; ci < cv->c_in; ci++)
                        for (int kh = 0; kh < k; kh++)
                            for (int kw = 0; kw < k; kw++) {
                                int iy = oy * cv->stride - cv->pad + kh, ix = ox * cv->stride - cv->pad + kw;
                                if (iy < 0 || iy >= c->h || ix < 0 || ix >= c->w) continue;
                                acc += f->wt[((size_t)(co * cv->c_in + ci) * k + kh) * k + kw] *
                                       f->x[((size_t)(b * cv->c_in + ci) * c->h + iy) * c->w + ix];
                            }
                    z[((size_t)(b * cv->c_out + co) * c->ho + oy) * c->wo + ox] = acc;
                }
    double loss = 0;
    for (int co = 0; co < cv->c_out; co++) {
        double sum = 0, sq = 0, m = (double)c->n * P;
        for (int b = 0; b < c->n; b++)
            for (int i = 0; i < P; i++) sum += z[((size_t)b * cv->c_out + co) * P + i];
        double mean = sum / m;
        for (int b = 0; b < c->n; b++)
            for (int i = 0; i < P; i++) {
                double d = z[((size_t)b * cv->c_out + co) * P + i] - mean;
                sq += d * d;
            }
        double invstd = 1.0 / sqrt(sq / m + c->u.eps);
        for (int b = 0; b < c->n; b++)
            for (int i = 0; i < P; i++) {
                size_t o = ((size_t)b * cv->c_out + co) * P + i;
                double a = (z[o] - mean) * invstd * f->gamma[co] + f->beta[co];
                double y = c->u.act ? a / (1.0 + exp(-a)) : a;
                loss += y * f->r[o];
            }
    }
    free(z);
    return loss;
}

static void finite_differences_match(void)
{
    const Shape fd_shapes[3] = {{{3, 4, 3, 2, 1, GEMM_FP32}, 1, 2, 7, 6}, {{4, 3, 1, 1, 0, GEMM_FP32}, 1, 3, 5, 4}, {{3, 4, 3, 1, 1, GEMM_FP32}, 0, 2, 5, 5}};
    for (int s = 0; s < 3; s++) {
        const Shape *sh = &fd_shapes[s];
        Case c = case_new(sh->cv, sh->act, sh->n, sh->h, sh->w, 400 + s);
        Result r = result_new(&c);
        run_fused(&c, &r);
        FdCtx f = {&c, gc_to_double(c.x, c.nx), gc_to_double(c.wt, c.nw), gc_to_double(c.gamma, c.nc),
                   gc_to_double(c.beta, c.nc), gc_to_double(c.dy, c.nz)};
        double *num = gc_doubles(c.nx);
        char what[64];
        gc_numeric_grad(fd_loss, &f, f.x, c.nx, 1e-4, num);
        snprintf(what, sizeof what, "fd shape %d dx", s);
        CHECK_GRAD(what, r.dx, num, c.nx, FD_RTOL);
        free(num);
        num = gc_doubles(c.nw);
        gc_numeric_grad(fd_loss, &f, f.wt, c.nw, 1e-4, num);
        snprintf(what, sizeof what, "fd shape %d dweight", s);
        CHECK_GRAD(what, r.dw, num, c.nw, FD_RTOL);
        free(num);
        num = gc_doubles(c.nc);
        gc_numeric_grad(fd_loss, &f, f.gamma, c.nc, 1e-4, num);
        snprintf(what, sizeof what, "fd shape %d dgamma", s);
        CHECK_GRAD(what, r.dgamma, num, c.nc, FD_RTOL);
        gc_numeric_grad(fd_loss, &f, f.beta, c.nc, 1e-4, num);
        snprintf(what, sizeof what, "fd shape %d dbeta", s);
        CHECK_GRAD(what, r.dbeta, num, c.nc, FD_RTOL);
        free(num);
        free(f.x), free(f.wt), free(f.gamma), free(f.beta), free(f.r);
        result_free(&r);
        case_free(&c);
    }
}

/* NULL gradient outputs are skipped without changing the others. */
static void null_gradients_are_skipped(void)
{
    Case c = case_new((Conv2d){5, 6, 3, 1, 1, GEMM_FP32}, 1, 3, 7, 9, 501);
    Result full = result_new(&c), part = result_new(&c);
    run_fused(&c, &full);
    size_t bs = conv_bn_act_backward_scratch_floats(&c.u, c.n, c.h, c.w);
    float *scratch = scratch_for(bs);
    memcpy(part.da, c.dy, sizeof(float) * c.nz);
    conv_bn_act_backward(&c.u, c.n, c.h, c.w, c.x, c.wt, c.gamma, c.beta, full.z, full.mean, full.invstd,
                         full.affine, part.da, NULL, part.dw, NULL, NULL, scratch);
    CHECK(gc_bitwise_equal(part.dw, full.dw, c.nw), "dweight changed when dx is NULL");
    memcpy(part.da, c.dy, sizeof(float) * c.nz);
    conv_bn_act_backward(&c.u, c.n, c.h, c.w, c.x, c.wt, c.gamma, c.beta, full.z, full.mean, full.invstd,
                         full.affine, part.da, part.dx, NULL, part.dgamma, part.dbeta, scratch);
    CHECK(gc_bitwise_equal(part.dx, full.dx, c.nx), "dx changed when dweight is NULL");
    CHECK(gc_bitwise_equal(part.dgamma, full.dgamma, c.nc), "dgamma changed when dweight is NULL");
    CHECK(gc_bitwise_equal(part.dbeta, full.dbeta, c.nc), "dbeta changed when dweight is NULL");
    free(scratch);
    result_free(&full), result_free(&part);
    case_free(&c);
}

/* The plain batched conv (Detect heads) against conv2d_forward/backward, and
 * with 1 and 3 threads. Forward: bit-identical (same GEMM and bias add);
 * gradients: reordered float sums (weight groups, bias per tile). */
static void plain_conv_matches_conv2d(void)
{
    const Conv2d convs[4] = {{16, 255, 1, 1, 0, GEMM_FP32}, {5, 6, 3, 1, 1, GEMM_FP32}, {4, 9, 3, 2, 1, GEMM_FP32}, {8, 16, 3, 1, 1, GEMM_FP32}};
    const int sizes[4][3] = {{3, 10, 12}, {3, 7, 9}, {1, 9, 8}, {2, 40, 44}};
    const int saved = omp_get_max_threads();
    for (int s = 0; s < 4; s++) {
        const Conv2d *cv = &convs[s];
        Case c = case_new(*cv, 0, sizes[s][0], sizes[s][1], sizes[s][2], 600 + s);
        float *y = gc_floats(c.nz), *want = gc_floats(c.nz);
        float *dx[3], *dw[3], *db[3];
        for (int k = 0; k < 3; k++) {
            dx[k] = gc_floats(c.nx), dw[k] = gc_floats(c.nw), db[k] = gc_floats(c.nc);
            gc_prefill(dx[k], c.nx), gc_prefill(dw[k], c.nw), gc_prefill(db[k], c.nc);
        }
        size_t fs = conv2d_scratch_floats(cv, c.n, c.h, c.w) + conv2d_batched_forward_scratch_floats(cv, c.n, c.h, c.w);
        size_t bs = conv2d_batched_backward_scratch_floats(cv, c.n, c.h, c.w);
        float *scratch = scratch_for(fs > bs ? fs : bs);
        conv2d_forward(cv, c.n, c.h, c.w, c.x, c.wt, c.beta, want, scratch);
        conv2d_backward(cv, c.n, c.h, c.w, c.x, c.wt, c.dy, dx[0], dw[0], db[0], scratch);
        omp_set_num_threads(1);
        conv2d_forward_batched(cv, c.n, c.h, c.w, c.x, c.wt, c.beta, y, scratch);
        conv2d_backward_batched(cv, c.n, c.h, c.w, c.x, c.wt, c.dy, dx[1], dw[1], db[1], scratch);
        omp_set_num_threads(3);
        conv2d_backward_batched(cv, c.n, c.h, c.w, c.x, c.wt, c.dy, dx[2], dw[2], db[2], scratch);
        omp_set_num_threads(saved);
        CHECK(gc_bitwise_equal(y, want, c.nz), "conv %d: forward differs from conv2d_forward", s);
        char what[64];
        snprintf(what, sizeof what, "conv %d dx", s);
        CHECK(gc_close_scaled(what, dx[1], dx[0], c.nx, GRAD_RTOL), "%s", what);
        snprintf(what, sizeof what, "conv %d dweight", s);
        CHECK(gc_close_scaled(what, dw[1], dw[0], c.nw, GRAD_RTOL), "%s", what);
        snprintf(what, sizeof what, "conv %d dbias", s);
        CHECK(gc_close_scaled(what, db[1], db[0], c.nc, GRAD_RTOL), "%s", what);
        CHECK(gc_bitwise_equal(dx[1], dx[2], c.nx) && gc_bitwise_equal(dw[1], dw[2], c.nw) &&
                  gc_bitwise_equal(db[1], db[2], c.nc),
              "conv %d: gradients depend on the thread count", s);
        for (int k = 0; k < 3; k++) free(dx[k]), free(dw[k]), free(db[k]);
        free(y), free(want), free(scratch);
        case_free(&c);
    }
}

/* SyncBatchNorm hook (nn/bn_sync.h) standing in for two processes with the
 * same batch: totals are twice the local values, the mean is unchanged. */
static void twin_stats(void *ctx, int channels, double *count, double *mean_m2)
{
    (*(int *)ctx)++;
    for (int ch = 0; ch < channels; ch++) mean_m2[2 * ch + 1] *= 2;
    *count *= 2;
}

static void twin_sums(void *ctx, int channels, double *count, double *sums)
{
    (*(int *)ctx)++;
    for (int k = 0; k < 2 * channels; k++) sums[k] *= 2;
    *count *= 2;
}

/* With synced statistics, a process holding batch x computes what one
 * process holding [x; x] computes: the same outputs, input gradients and
 * running stats; its parameter gradients are half (the gradient sum over
 * processes adds the other half). */
static void synced_statistics_equal_the_joint_batch(void)
{
    const Conv2d cv = {5, 6, 3, 2, 1, GEMM_FP32};
    Case one = case_new(cv, 1, 2, 9, 7, 777);
    Case two = case_new(cv, 1, 4, 9, 7, 777);
    memcpy(two.wt, one.wt, sizeof(float) * one.nw);
    memcpy(two.gamma, one.gamma, sizeof(float) * one.nc);
    memcpy(two.beta, one.beta, sizeof(float) * one.nc);
    for (int k = 0; k < 2; k++) {
        memcpy(two.x + k * one.nx, one.x, sizeof(float) * one.nx);
        memcpy(two.dy + k * one.nz, one.dy, sizeof(float) * one.nz);
    }
    int calls = 0;
    BnSync sync = {&calls, twin_stats, twin_sums};
    one.u.sync = &sync;
    Result r1 = result_new(&one), r2 = result_new(&two);
    run_fused(&one, &r1);
    run_fused(&two, &r2);
    CHECK(calls == 2, "the hook is called once in the forward and once in the backward: %d", calls);
    CHECK_ARRAYS_CLOSE("mean", r1.mean, r2.mean, one.nc, 0.0, STAT_RTOL);
    CHECK_ARRAYS_CLOSE("invstd", r1.invstd, r2.invstd, one.nc, 0.0, STAT_RTOL);
    CHECK_ARRAYS_CLOSE("rm", r1.rm, r2.rm, one.nc, 0.0, STAT_RTOL);
    CHECK_ARRAYS_CLOSE("rv", r1.rv, r2.rv, one.nc, 0.0, STAT_RTOL);
    CHECK_ARRAYS_CLOSE("y", r1.y, r2.y, one.nz, Y_RTOL, Y_RTOL);
    CHECK_ARRAYS_CLOSE("dx", r1.dx, r2.dx, one.nx, 1e-6, GRAD_RTOL);
    /* the backward adds to prefilled gradients: 2 (g - p) + p */
    Result pre = result_new(&one);
    for (size_t i = 0; i < one.nw; i++) r1.dw[i] = 2 * r1.dw[i] - pre.dw[i];
    for (size_t i = 0; i < one.nc; i++)
        r1.dgamma[i] = 2 * r1.dgamma[i] - pre.dgamma[i], r1.dbeta[i] = 2 * r1.dbeta[i] - pre.dbeta[i];
    result_free(&pre);
    CHECK_ARRAYS_CLOSE("dw", r1.dw, r2.dw, one.nw, 1e-6, GRAD_RTOL);
    CHECK_ARRAYS_CLOSE("dgamma", r1.dgamma, r2.dgamma, one.nc, 1e-6, GRAD_RTOL);
    CHECK_ARRAYS_CLOSE("dbeta", r1.dbeta, r2.dbeta, one.nc, 1e-6, GRAD_RTOL);
    /* and without the hook the statistics are the local batch's: the running
     * variance's unbiasing then differs */
    one.u.sync = NULL;
    Result r3 = result_new(&one);
    run_fused(&one, &r3);
    int rv_differs = 0;
    for (size_t i = 0; i < one.nc; i++) rv_differs += r3.rv[i] != r1.rv[i];
    CHECK(rv_differs > 0, "unsynced running variance equals the synced one");
    result_free(&r1), result_free(&r2), result_free(&r3);
    case_free(&one), case_free(&two);
}

TEST_MAIN(TEST_ENTRY(train_matches_unfused_layers), TEST_ENTRY(plain_conv_matches_conv2d), TEST_ENTRY(eval_matches_unfused_layers),
          TEST_ENTRY(thread_count_independent), TEST_ENTRY(finite_differences_match),
          TEST_ENTRY(null_gradients_are_skipped), TEST_ENTRY(synced_statistics_equal_the_joint_batch))
