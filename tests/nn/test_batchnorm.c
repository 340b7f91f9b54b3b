/* BatchNorm2d against a float64 reference (training and eval forward, running
 * statistics) and central finite differences of the training-mode loss for x,
 * gamma and beta, on odd shapes (c 3, 5, 17; n 1 and 3; hw 63, 30, 1).
 *
 * Tolerances:
 * - forward y: |y - y_ref| <= 1e-5 · (|y_ref| + |γ| + |β|): the float transform
 *   (x − μ)·(γ·invstd) + β makes a few roundings of values of size |x̂·γ| and |β|.
 * - save_mean / save_invstd / running stats: rtol 1e-6 (double statistics rounded
 *   once to float, ~6e-8; the margin covers float inputs to the update).
 * - gradients vs FD (step 1e-4, O(h²) ≈ 1e-8 truncation): 1e-4 of the array's
 *   largest magnitude, as the float dx is a difference of O(|dy|) terms. */
#include <omp.h>

#include "core/rng.h"
#include "nn/batchnorm.h"
#include "nn/gradcheck.h"
#include "test.h"

#ifndef FWD_RTOL /* overridable with -D to measure the margin */
#define FWD_RTOL 1e-5
#endif
#ifndef STAT_RTOL
#define STAT_RTOL 1e-6
#endif
#ifndef GRAD_RTOL
#define GRAD_RTOL 1e-4
#endif

static const float kEps = 1e-3f, kMomentum = 0.03f;

/* ---- float64 references ---- */

/* Per-channel batch mean and biased variance. */
static void bn_ref_stats(int n, int c, int hw, const double *x, double *mean, double *var)
{
    const double m = (double)n * hw;
    for (int ch = 0; ch < c; ch++) {
        double s = 0, sq = 0;
        for (int b = 0; b < n; b++)
            for (int i = 0; i < hw; i++) s += x[((size_t)b * c + ch) * hw + i];
        mean[ch] = s / m;
        for (int b = 0; b < n; b++)
            for (int i = 0; i < hw; i++) {
                double d = x[((size_t)b * c + ch) * hw + i] - mean[ch];
                sq += d * d;
            }
        var[ch] = sq / m;
    }
}

/* y = γ (x − μ_c) / sqrt(var_c + eps) + β with the given per-channel statistics. */
static void bn_ref_apply(int n, int c, int hw, const double *x, const double *gamma,
                         const double *beta, const double *mean, const double *var, double eps,
                         double *y)
{
    for (int b = 0; b < n; b++)
        for (int ch = 0; ch < c; ch++) {
            double invstd = 1.0 / sqrt(var[ch] + eps);
            for (int i = 0; i < hw; i++) {
                size_t o = ((size_t)b * c + ch) * hw + i;
                y[o] = gamma[ch] * (x[o] - mean[ch]) * invstd + beta[ch];
            }
        }
}

typedef struct {
    int n, c, hw;
    double *x, *gamma, *beta, *r, *y, *mean, *var;
} BnLossCtx;

static double bn_train_loss(void *p)
{
    BnLossCtx *k = p;
    bn_ref_stats(k->n, k->c, k->hw, k->x, k->mean, k->var);
    bn_ref_apply(k->n, k->c, k->hw, k->x, k->gamma, k->beta, k->mean, k->var, (double)kEps, k->y);
    return gc_dot(k->y, k->r, (size_t)k->n * k->c * k->hw);
}

/* ---- one case, float and double ---- */

typedef struct {
    BatchNorm bn;
    int n, hw;
    size_t nx, nc;
    float *x, *gamma, *beta, *r, *y, *rmean, *rvar, *smean, *sinvstd, *dx, *dgamma, *dbeta;
    double *xd, *gd, *bd, *rd, *yd, *meand, *vard, *mag;
} BnCase;

/* x is drawn per channel around an offset `center` (spread ±center) with std in
 * [0.5, 2], so channels have distinct statistics; γ includes negative values. */
static BnCase bn_case_new(int n, int c, int hw, double center, uint64_t seed)
{
    BnCase k;
    memset(&k, 0, sizeof k);
    k.bn = (BatchNorm){c, kEps, kMomentum};
    k.n = n;
    k.hw = hw;
    k.nx = (size_t)n * c * hw;
    k.nc = (size_t)c;
    Rng rng;
    rng_seed(&rng, seed);
    k.x = gc_floats(k.nx);
    for (int ch = 0; ch < c; ch++) {
        double mu = center + rng_uniform_range(&rng, -1, 1) * (center != 0 ? center * 0.01 : 1);
        double sd = rng_uniform_range(&rng, 0.5, 2);
        for (int b = 0; b < n; b++)
            for (int i = 0; i < hw; i++)
                k.x[((size_t)b * c + ch) * hw + i] = (float)(mu + sd * rng_normal(&rng));
    }
    k.gamma = gc_floats(k.nc);
    k.beta = gc_floats(k.nc);
    gc_fill_uniform(&rng, k.gamma, k.nc, -1.5, 1.5);
    gc_fill_uniform(&rng, k.beta, k.nc, -1, 1);
    k.r = gc_floats(k.nx);
    gc_fill_normal(&rng, k.r, k.nx, 0, 1);
    k.rmean = gc_floats(k.nc);
    k.rvar = gc_floats(k.nc);
    gc_fill_uniform(&rng, k.rmean, k.nc, -0.5, 0.5);
    gc_fill_uniform(&rng, k.rvar, k.nc, 0.5, 1.5);
    k.y = gc_floats(k.nx);
    k.smean = gc_floats(k.nc);
    k.sinvstd = gc_floats(k.nc);
    k.dx = gc_floats(k.nx);
    k.dgamma = gc_floats(k.nc);
    k.dbeta = gc_floats(k.nc);
    k.xd = gc_to_double(k.x, k.nx);
    k.gd = gc_to_double(k.gamma, k.nc);
    k.bd = gc_to_double(k.beta, k.nc);
    k.rd = gc_to_double(k.r, k.nx);
    k.yd = gc_doubles(k.nx);
    k.meand = gc_doubles(k.nc);
    k.vard = gc_doubles(k.nc);
    k.mag = gc_doubles(k.nx);
    return k;
}

static void bn_case_free(BnCase *k)
{
    free(k->x), free(k->gamma), free(k->beta), free(k->r), free(k->y), free(k->rmean);
    free(k->rvar), free(k->smean), free(k->sinvstd), free(k->dx), free(k->dgamma), free(k->dbeta);
    free(k->xd), free(k->gd), free(k->bd), free(k->rd), free(k->yd), free(k->meand), free(k->vard);
    free(k->mag);
}

static void bn_case_train(BnCase *k)
{
    batchnorm_forward_train(&k->bn, k->n, k->hw, k->x, k->gamma, k->beta, k->rmean, k->rvar, k->y,
                            k->smean, k->sinvstd);
    gc_prefill(k->dx, k->nx);
    gc_prefill(k->dgamma, k->nc);
    gc_prefill(k->dbeta, k->nc);
    batchnorm_backward(&k->bn, k->n, k->hw, k->x, k->gamma, k->smean, k->sinvstd, k->r, k->dx,
                       k->dgamma, k->dbeta);
}

/* Scale for the forward tolerance: |y_ref| + |γ| + |β| per element. */
static void bn_magnitude(const BnCase *k, double *mag)
{
    const int c = k->bn.c;
    for (size_t i = 0; i < k->nx; i++) {
        int ch = (int)((i / (size_t)k->hw) % (size_t)c);
        mag[i] = fabs(k->yd[i]) + fabs(k->gd[ch]) + fabs(k->bd[ch]);
    }
}

static void check_train_case(int n, int c, int hw, double center, uint64_t seed)
{
    char label[96], what[160];
    snprintf(label, sizeof label, "n%d c%d hw%d center %g", n, c, hw, center);
    BnCase k = bn_case_new(n, c, hw, center, seed);
    float *rmean0 = gc_floats(k.nc), *rvar0 = gc_floats(k.nc);
    memcpy(rmean0, k.rmean, sizeof(float) * k.nc);
    memcpy(rvar0, k.rvar, sizeof(float) * k.nc);
    bn_case_train(&k);

    /* Forward and saved statistics vs float64. */
    BnLossCtx ctx = {n, c, hw, k.xd, k.gd, k.bd, k.rd, k.yd, k.meand, k.vard};
    bn_train_loss(&ctx);
    bn_magnitude(&k, k.mag);
    snprintf(what, sizeof what, "%s y", label);
    CHECK_CLOSE_TO_DOUBLE(what, k.y, k.yd, k.mag, k.nx, 0.0, FWD_RTOL);
    double *invstd = gc_doubles(k.nc), *rm = gc_doubles(k.nc), *rv = gc_doubles(k.nc);
    const double m = (double)n * hw;
    for (int ch = 0; ch < c; ch++) {
        invstd[ch] = 1.0 / sqrt(k.vard[ch] + (double)kEps);
        /* PyTorch: running = (1 − momentum)·running + momentum·stat, unbiased var. */
        rm[ch] = (1 - (double)kMomentum) * rmean0[ch] + (double)kMomentum * k.meand[ch];
        rv[ch] = (1 - (double)kMomentum) * rvar0[ch] +
                 (double)kMomentum * k.vard[ch] * (m > 1 ? m / (m - 1) : 1);
    }
    /* The mean's error is relative to the spread of x, not to |μ| (which may be ~0). */
    double *mean_mag = gc_doubles(k.nc);
    for (int ch = 0; ch < c; ch++) mean_mag[ch] = fabs(k.meand[ch]) + sqrt(k.vard[ch]);
    snprintf(what, sizeof what, "%s save_mean", label);
    CHECK_CLOSE_TO_DOUBLE(what, k.smean, k.meand, mean_mag, k.nc, 0.0, STAT_RTOL);
    snprintf(what, sizeof what, "%s save_invstd", label);
    CHECK_CLOSE_TO_DOUBLE(what, k.sinvstd, invstd, NULL, k.nc, 0.0, STAT_RTOL);
    for (int ch = 0; ch < c; ch++) mean_mag[ch] = fabs(rm[ch]) + fabs(rmean0[ch]) + 1e-2 * sqrt(k.vard[ch]);
    snprintf(what, sizeof what, "%s running_mean", label);
    CHECK_CLOSE_TO_DOUBLE(what, k.rmean, rm, mean_mag, k.nc, 0.0, STAT_RTOL);
    snprintf(what, sizeof what, "%s running_var", label);
    CHECK_CLOSE_TO_DOUBLE(what, k.rvar, rv, NULL, k.nc, 0.0, STAT_RTOL);

    /* Gradients vs central differences of the float64 training loss. */
    double *num = gc_doubles(k.nx);
    const double step = 1e-4;
    gc_numeric_grad(bn_train_loss, &ctx, k.xd, k.nx, step, num);
    snprintf(what, sizeof what, "%s dx", label);
    CHECK_GRAD(what, k.dx, num, k.nx, GRAD_RTOL);
    gc_numeric_grad(bn_train_loss, &ctx, k.gd, k.nc, step, num);
    snprintf(what, sizeof what, "%s dgamma", label);
    CHECK_GRAD(what, k.dgamma, num, k.nc, GRAD_RTOL);
    gc_numeric_grad(bn_train_loss, &ctx, k.bd, k.nc, step, num);
    snprintf(what, sizeof what, "%s dbeta", label);
    CHECK_GRAD(what, k.dbeta, num, k.nc, GRAD_RTOL);

    free(num), free(invstd), free(rm), free(rv), free(mean_mag), free(rmean0), free(rvar0);
    bn_case_free(&k);
}

/* ---- tests ---- */

static void train_grad_n3_c5_7x9(void) { check_train_case(3, 5, 63, 0, 11); }
static void train_grad_n1_c17_5x6(void) { check_train_case(1, 17, 30, 0, 12); }
static void train_grad_n3_c3_1x1(void) { check_train_case(3, 3, 1, 0, 13); }

/* |mean| >> std: statistics summed in float or in one pass would lose digits here. */
static void train_large_offset(void)
{
    check_train_case(3, 5, 63, 1000, 14);
    check_train_case(1, 3, 400, -300, 15);
}

/* One element per channel (M = 1): the batch variance is 0 and M/(M−1) is
 * undefined; the running variance must stay finite (PyTorch refuses this input
 * in training; we use the biased variance). */
static void train_single_element_guard(void)
{
    BnCase k = bn_case_new(1, 4, 1, 0, 16);
    float rvar0[4], rmean0[4];
    memcpy(rvar0, k.rvar, sizeof rvar0);
    memcpy(rmean0, k.rmean, sizeof rmean0);
    bn_case_train(&k);
    for (int ch = 0; ch < 4; ch++) {
        CHECK(k.y[ch] == k.beta[ch], "ch %d: y %g, want β %g (x − μ = 0)", ch, k.y[ch], k.beta[ch]);
        CHECK(k.smean[ch] == k.x[ch], "ch %d: mean", ch);
        CHECK_CLOSE(k.sinvstd[ch], 1.0 / sqrt((double)kEps), 0, 1e-6);
        CHECK_CLOSE(k.rvar[ch], (1 - (double)kMomentum) * rvar0[ch], 0, 1e-6);
        CHECK_CLOSE(k.rmean[ch], (1 - (double)kMomentum) * rmean0[ch] + kMomentum * k.x[ch], 1e-7, 1e-6);
        /* x̂ = 0 and dy − mean(dy) = 0: no gradient reaches x or γ. */
        CHECK(k.dx[ch] == gc_prefill_value((size_t)ch), "ch %d: dx %g", ch, k.dx[ch]);
        CHECK(k.dgamma[ch] == gc_prefill_value((size_t)ch), "ch %d: dgamma %g", ch, k.dgamma[ch]);
        CHECK_CLOSE(k.dbeta[ch] - gc_prefill_value((size_t)ch), k.r[ch], 1e-6, 1e-6);
    }
    bn_case_free(&k);
}

static void eval_matches_double(void)
{
    BnCase k = bn_case_new(3, 17, 30, 0.5, 17);
    batchnorm_forward_eval(&k.bn, k.n, k.hw, k.x, k.gamma, k.beta, k.rmean, k.rvar, k.y);
    double *rm = gc_to_double(k.rmean, k.nc), *rv = gc_to_double(k.rvar, k.nc);
    bn_ref_apply(k.n, k.bn.c, k.hw, k.xd, k.gd, k.bd, rm, rv, (double)kEps, k.yd);
    bn_magnitude(&k, k.mag);
    CHECK_CLOSE_TO_DOUBLE("eval y", k.y, k.yd, k.mag, k.nx, 0.0, FWD_RTOL);
    /* Eval does not touch the running statistics. */
    for (size_t ch = 0; ch < k.nc; ch++)
        CHECK(k.rmean[ch] == (float)rm[ch] && k.rvar[ch] == (float)rv[ch], "ch %zu changed", ch);
    /* In place (y aliases x). */
    float *inplace = gc_floats(k.nx);
    memcpy(inplace, k.x, sizeof(float) * k.nx);
    batchnorm_forward_eval(&k.bn, k.n, k.hw, inplace, k.gamma, k.beta, k.rmean, k.rvar, inplace);
    CHECK(gc_bitwise_equal(inplace, k.y, k.nx), "in-place eval differs");
    free(inplace), free(rm), free(rv);
    bn_case_free(&k);
}

/* y aliasing x, and NULL running statistics, give the same y and saved stats. */
static void train_inplace_and_null_running(void)
{
    BnCase k = bn_case_new(3, 5, 63, 0, 18);
    batchnorm_forward_train(&k.bn, k.n, k.hw, k.x, k.gamma, k.beta, k.rmean, k.rvar, k.y, k.smean,
                            k.sinvstd);
    float *inplace = gc_floats(k.nx), *sm = gc_floats(k.nc), *si = gc_floats(k.nc);
    memcpy(inplace, k.x, sizeof(float) * k.nx);
    batchnorm_forward_train(&k.bn, k.n, k.hw, inplace, k.gamma, k.beta, NULL, NULL, inplace, sm, si);
    CHECK(gc_bitwise_equal(inplace, k.y, k.nx), "in-place / NULL-running y differs");
    CHECK(gc_bitwise_equal(sm, k.smean, k.nc), "save_mean differs");
    CHECK(gc_bitwise_equal(si, k.sinvstd, k.nc), "save_invstd differs");
    free(inplace), free(sm), free(si);
    bn_case_free(&k);
}

/* Running statistics over several steps track the PyTorch recurrence. */
static void running_stats_over_steps(void)
{
    BnCase k = bn_case_new(3, 5, 63, 2, 19);
    double rm[5], rv[5], mean[5], var[5];
    for (int ch = 0; ch < 5; ch++) rm[ch] = k.rmean[ch], rv[ch] = k.rvar[ch];
    Rng rng;
    rng_seed(&rng, 20);
    for (int step = 0; step < 5; step++) {
        gc_fill_normal(&rng, k.x, k.nx, step * 0.5, 1 + step);
        batchnorm_forward_train(&k.bn, k.n, k.hw, k.x, k.gamma, k.beta, k.rmean, k.rvar, k.y,
                                k.smean, k.sinvstd);
        double *xd = gc_to_double(k.x, k.nx);
        bn_ref_stats(k.n, 5, k.hw, xd, mean, var);
        free(xd);
        for (int ch = 0; ch < 5; ch++) {
            rm[ch] = 0.97 * rm[ch] + 0.03 * mean[ch];
            rv[ch] = 0.97 * rv[ch] + 0.03 * var[ch] * 189.0 / 188.0;
        }
    }
    for (int ch = 0; ch < 5; ch++) {
        /* atol: one float rounding of mean-sized values per step. */
        CHECK_CLOSE(k.rmean[ch], rm[ch], 1e-6, 1e-6);
        CHECK_CLOSE(k.rvar[ch], rv[ch], 0, 1e-6);
    }
    bn_case_free(&k);
}

/* NULL gradient outputs are skipped and do not change the others. */
static void backward_null_skips(void)
{
    BnCase k = bn_case_new(3, 5, 63, 0, 21);
    bn_case_train(&k);
    float *dx = gc_floats(k.nx), *dg = gc_floats(k.nc), *db = gc_floats(k.nc);
    gc_prefill(dx, k.nx);
    batchnorm_backward(&k.bn, k.n, k.hw, k.x, k.gamma, k.smean, k.sinvstd, k.r, dx, NULL, NULL);
    CHECK(gc_bitwise_equal(dx, k.dx, k.nx), "dx differs without dgamma/dbeta");
    gc_prefill(dg, k.nc);
    gc_prefill(db, k.nc);
    batchnorm_backward(&k.bn, k.n, k.hw, k.x, k.gamma, k.smean, k.sinvstd, k.r, NULL, dg, db);
    CHECK(gc_bitwise_equal(dg, k.dgamma, k.nc), "dgamma differs without dx");
    CHECK(gc_bitwise_equal(db, k.dbeta, k.nc), "dbeta differs without dx");
    free(dx), free(dg), free(db);
    bn_case_free(&k);
}

static void thread_count_independent(void)
{
    const int saved = omp_get_max_threads();
    BnCase a = bn_case_new(3, 17, 1600, 0.3, 22), b = bn_case_new(3, 17, 1600, 0.3, 22);
    omp_set_num_threads(1);
    bn_case_train(&a);
    omp_set_num_threads(3);
    bn_case_train(&b);
    omp_set_num_threads(saved);
    CHECK(gc_bitwise_equal(a.y, b.y, a.nx), "y");
    CHECK(gc_bitwise_equal(a.rmean, b.rmean, a.nc), "running_mean");
    CHECK(gc_bitwise_equal(a.rvar, b.rvar, a.nc), "running_var");
    CHECK(gc_bitwise_equal(a.dx, b.dx, a.nx), "dx");
    CHECK(gc_bitwise_equal(a.dgamma, b.dgamma, a.nc), "dgamma");
    CHECK(gc_bitwise_equal(a.dbeta, b.dbeta, a.nc), "dbeta");
    bn_case_free(&a);
    bn_case_free(&b);
}

TEST_MAIN(TEST_ENTRY(train_grad_n3_c5_7x9), TEST_ENTRY(train_grad_n1_c17_5x6),
          TEST_ENTRY(train_grad_n3_c3_1x1), TEST_ENTRY(train_large_offset),
          TEST_ENTRY(train_single_element_guard), TEST_ENTRY(eval_matches_double),
          TEST_ENTRY(train_inplace_and_null_running), TEST_ENTRY(running_stats_over_steps),
          TEST_ENTRY(backward_null_skips), TEST_ENTRY(thread_count_independent))
