/* bce_logits: PyTorch's BCE-with-logits (pos_weight) and YOLOv5's focal
 * modulation, values against direct formulas and derivatives against finite
 * differences, stable for large |z|. */
#include "test.h"
#include "loss/bce.h"

/* Direct (unstable for large |z|) formulas, for moderate z only. */
static double naive(double z, double y, double pw, double gamma)
{
    double p = 1 / (1 + exp(-z));
    double l = -(pw * y * log(p) + (1 - y) * log(1 - p));
    if (gamma > 0) {
        double p_t = y * p + (1 - y) * (1 - p);
        double a_t = y * 0.25 + (1 - y) * 0.75;
        l *= a_t * pow(1 - p_t, gamma);
    }
    return l;
}

static void values_match_direct_formula(void)
{
    const double zs[] = {-6, -2.5, -0.3, 0, 0.7, 3, 8};
    const double ys[] = {0, 0.05, 0.37, 0.95, 1};
    const double pws[] = {1, 0.7, 2.5};
    const double gammas[] = {0, 0.5, 1.5, 2};
    for (size_t a = 0; a < sizeof zs / sizeof *zs; a++)
        for (size_t b = 0; b < sizeof ys / sizeof *ys; b++)
            for (size_t c = 0; c < sizeof pws / sizeof *pws; c++)
                for (size_t g = 0; g < sizeof gammas / sizeof *gammas; g++) {
                    BceParams bp = {pws[c], gammas[g], 0.25};
                    double d;
                    double v = bce_logits(zs[a], ys[b], &bp, &d);
                    CHECK_CLOSE(v, naive(zs[a], ys[b], pws[c], gammas[g]), 1e-13, 1e-11);
                }
}

static void derivative_matches_finite_differences(void)
{
    const double zs[] = {-9, -4, -1.1, -0.2, 0.3, 1.7, 5, 12};
    const double ys[] = {0, 0.1, 0.5, 0.83, 1};
    const double pws[] = {1, 0.6, 3};
    const double gammas[] = {0, 0.5, 1.5, 2.5};
    double worst = 0;
    for (size_t a = 0; a < sizeof zs / sizeof *zs; a++)
        for (size_t b = 0; b < sizeof ys / sizeof *ys; b++)
            for (size_t c = 0; c < sizeof pws / sizeof *pws; c++)
                for (size_t g = 0; g < sizeof gammas / sizeof *gammas; g++) {
                    BceParams bp = {pws[c], gammas[g], 0.25};
                    const double h = 1e-5;
                    double d, dummy;
                    bce_logits(zs[a], ys[b], &bp, &d);
                    double fd = (bce_logits(zs[a] + h, ys[b], &bp, &dummy) -
                                 bce_logits(zs[a] - h, ys[b], &bp, &dummy)) / (2 * h);
                    CHECK(test_close(d, fd, 1e-9, 1e-6), "z %g y %g pw %g gamma %g: d %.12g fd %.12g", zs[a],
                          ys[b], pws[c], gammas[g], d, fd);
                    worst = fmax(worst, fabs(d - fd));
                }
    printf("    # max |analytic - fd| %.2e\n", worst);
}

/* Plain BCE: sigma(z) - y; large logits neither overflow nor lose the tail. */
static void stable_at_large_logits(void)
{
    BceParams plain = {1, 0, 0.25};
    double d;
    CHECK_CLOSE(bce_logits(100, 0, &plain, &d), 100, 0, 1e-15);
    CHECK_CLOSE(d, 1, 0, 1e-15);
    CHECK_CLOSE(bce_logits(-100, 0, &plain, &d), exp(-100), 0, 1e-12);
    CHECK_CLOSE(d, exp(-100), 0, 1e-12);
    CHECK_CLOSE(bce_logits(-800, 1, &plain, &d), 800, 0, 1e-15);
    CHECK_CLOSE(d, -1, 0, 1e-15);
    BceParams focal = {1, 1.5, 0.25};
    double v = bce_logits(-800, 0, &focal, &d);
    CHECK(isfinite(v) && isfinite(d) && v >= 0, "focal at -800: %g %g", v, d);
    v = bce_logits(800, 0, &focal, &d);
    CHECK(isfinite(v) && isfinite(d), "focal at 800: %g %g", v, d);
    CHECK_CLOSE(bce_logits(0.4, 0.3, &plain, &d), naive(0.4, 0.3, 1, 0), 0, 1e-14);
    CHECK_CLOSE(d, 1 / (1 + exp(-0.4)) - 0.3, 0, 1e-14);
}

TEST_MAIN(TEST_ENTRY(values_match_direct_formula), TEST_ENTRY(derivative_matches_finite_differences),
          TEST_ENTRY(stable_at_large_logits))
