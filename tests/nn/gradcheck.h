/* Helpers for the layer tests: random fills, float<->double copies, central
 * finite differences of a double-precision loss, and comparisons of float
 * results against float64 references.
 *
 * Method used by every layer test: the scalar loss is L = Σ y·r for a fixed
 * random r, so dL/dy = r is what the backward receives. The analytic gradient
 * comes from the float32 backward, run into buffers pre-filled with known
 * nonzero values (gc_prefill) that are subtracted again before comparing: this
 * proves the backward accumulates (+=) instead of overwriting. The numeric
 * gradient is a central difference of a naive float64 reference forward, so it
 * is not limited by float32 noise. */
#ifndef YV5_TESTS_NN_GRADCHECK_H
#define YV5_TESTS_NN_GRADCHECK_H

#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "test.h"

static inline float *gc_floats(size_t count)
{
    float *a = malloc(sizeof(float) * (count ? count : 1));
    if (!a) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    return a;
}

static inline double *gc_doubles(size_t count)
{
    double *a = malloc(sizeof(double) * (count ? count : 1));
    if (!a) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    return a;
}

static inline void gc_fill_normal(Rng *r, float *a, size_t count, double mean, double std)
{
    for (size_t i = 0; i < count; i++) a[i] = (float)(mean + std * rng_normal(r));
}

static inline void gc_fill_uniform(Rng *r, float *a, size_t count, double lo, double hi)
{
    for (size_t i = 0; i < count; i++) a[i] = (float)rng_uniform_range(r, lo, hi);
}

static inline double *gc_to_double(const float *a, size_t count)
{
    double *d = gc_doubles(count);
    for (size_t i = 0; i < count; i++) d[i] = a[i];
    return d;
}

static inline double gc_dot(const double *a, const double *b, size_t count)
{
    double s = 0;
    for (size_t i = 0; i < count; i++) s += a[i] * b[i];
    return s;
}

/* Known, nonzero starting values for gradient buffers (0.25, 0.375, 0.5, ...). */
static inline float gc_prefill_value(size_t i) { return 0.25f + 0.125f * (float)(i % 3); }

static inline void gc_prefill(float *a, size_t count)
{
    for (size_t i = 0; i < count; i++) a[i] = gc_prefill_value(i);
}

/* Loss of the float64 reference as a function of whatever parameters ctx points at. */
typedef double (*GcLoss)(void *ctx);

/* grad[i] = (L(p + h e_i) - L(p - h e_i)) / 2h. For the bilinear layers (conv,
 * add, concat...) this is exact up to double rounding; for smooth nonlinear ones
 * (BN, SiLU) the truncation error is O(h²). */
static inline void gc_numeric_grad(GcLoss loss, void *ctx, double *param, size_t count, double step,
                                   double *grad)
{
    for (size_t i = 0; i < count; i++) {
        double saved = param[i];
        param[i] = saved + step;
        double plus = loss(ctx);
        param[i] = saved - step;
        double minus = loss(ctx);
        param[i] = saved;
        grad[i] = (plus - minus) / (2 * step);
    }
}

static inline double gc_max_abs(const double *a, size_t count)
{
    double m = 0;
    for (size_t i = 0; i < count; i++)
        if (fabs(a[i]) > m) m = fabs(a[i]);
    return m;
}

static inline float gc_max_abs_f(const float *a, size_t count)
{
    float m = 0;
    for (size_t i = 0; i < count; i++)
        if (fabsf(a[i]) > m) m = fabsf(a[i]);
    return m;
}

/* |got - want| <= rtol * max|want| for every element (reported as test.h's
 * array comparison does). */
static inline int gc_close_scaled(const char *what, const float *got, const float *want, size_t count, double rtol)
{
    return test_arrays_close(what, got, want, count, rtol * gc_max_abs_f(want, count), 0.0);
}

/* analytic (prefilled, float) vs numeric (double): passes when, for every i,
 * |(analytic[i] - prefill_i) - numeric[i]| <= rtol * max|numeric| + 4 eps32·prefill_i.
 * The scale-relative bound is used because gradients are sums with cancellation:
 * float32 error is relative to the size of the terms, not of the (possibly tiny)
 * result. The second term is the rounding of the stored (prefill + gradient). */
static inline int gc_grad_close(const char *what, const float *analytic, const double *numeric,
                                size_t count, double rtol)
{
    const double scale = gc_max_abs(numeric, count);
    size_t bad = 0, worst = 0;
    double worst_excess = -1;
    for (size_t i = 0; i < count; i++) {
        double prefill = gc_prefill_value(i);
        double got = (double)analytic[i] - prefill;
        double excess = fabs(got - numeric[i]) - (rtol * scale + 4 * 0x1p-24 * prefill);
        if (isnan(got) || excess > 0) {
            bad++;
            if (isnan(got) || excess > worst_excess) {
                worst_excess = isnan(got) ? INFINITY : excess;
                worst = i;
            }
        }
    }
    if (bad)
        printf("    %s: %zu of %zu gradients differ; worst [%zu] analytic %.9g numeric %.9g "
               "(scale %g, rtol %g)\n",
               what, bad, count, worst, (double)analytic[worst] - gc_prefill_value(worst),
               numeric[worst], scale, rtol);
    return bad == 0;
}

#define CHECK_GRAD(what, analytic, numeric, count, rtol) \
    CHECK(gc_grad_close((what), (analytic), (numeric), (count), (rtol)), "%s", (what))

/* float result vs float64 reference: |got - want| <= atol + rtol * mag_i, where
 * mag_i is magnitude[i] when given (e.g. Σ|terms| of a dot product, the natural
 * scale of its rounding error) and |want[i]| otherwise. NaN must match NaN. */
static inline int gc_close_to_double(const char *what, const float *got, const double *want,
                                     const double *magnitude, size_t count, double atol,
                                     double rtol)
{
    size_t bad = 0, worst = 0;
    double worst_excess = -1;
    for (size_t i = 0; i < count; i++) {
        double g = got[i], w = want[i];
        if (isnan(w) || isnan(g)) {
            if (isnan(w) != isnan(g)) {
                bad++;
                worst = i;
                worst_excess = INFINITY;
            }
            continue;
        }
        if (isinf(w) || isinf(g)) {
            if (g != w) {
                bad++;
                worst = i;
                worst_excess = INFINITY;
            }
            continue;
        }
        double mag = magnitude ? magnitude[i] : fabs(w);
        double excess = fabs(g - w) - (atol + rtol * mag);
        if (excess > 0) {
            bad++;
            if (excess > worst_excess) {
                worst_excess = excess;
                worst = i;
            }
        }
    }
    if (bad)
        printf("    %s: %zu of %zu elements differ; worst [%zu] got %.9g want %.9g (atol %g rtol %g)\n",
               what, bad, count, worst, (double)got[worst], want[worst], atol, rtol);
    return bad == 0;
}

#define CHECK_CLOSE_TO_DOUBLE(what, got, want, magnitude, count, atol, rtol) \
    CHECK(gc_close_to_double((what), (got), (want), (magnitude), (count), (atol), (rtol)), "%s", (what))

/* Bit-for-bit equality (thread-count independence, NULL-skip consistency). */
static inline int gc_bitwise_equal(const float *a, const float *b, size_t count)
{
    return memcmp(a, b, sizeof(float) * count) == 0;
}

#endif
