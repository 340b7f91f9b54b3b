#include "augment/mixup.h"

#include <math.h>

double aug_gamma_draw(Rng *rng, double shape)
{
    if (shape < 1.0) {
        /* Boost: Gamma(k) = Gamma(k + 1)·U^(1/k). */
        double g = aug_gamma_draw(rng, shape + 1.0);
        double u = rng_uniform(rng);
        return g * pow(1.0 - u, 1.0 / shape); /* 1 - u in (0, 1] */
    }
    const double d = shape - 1.0 / 3.0, c = 1.0 / sqrt(9.0 * d);
    for (;;) {
        double x = rng_normal(rng);
        double v = 1.0 + c * x;
        if (v <= 0) continue;
        v = v * v * v;
        double u = 1.0 - rng_uniform(rng); /* (0, 1] keeps log finite */
        if (u < 1.0 - 0.0331 * (x * x) * (x * x)) return d * v;
        if (log(u) < 0.5 * x * x + d * (1.0 - v + log(v))) return d * v;
    }
}

double aug_beta_draw(Rng *rng, double a, double b)
{
    double x = aug_gamma_draw(rng, a);
    double y = aug_gamma_draw(rng, b);
    return x / (x + y);
}

int aug_mixup_blend(ImageU8 *a, const ImageU8 *b, double r, Error *e)
{
    if (aug_image_check(a, "mixup image", e) || aug_image_check(b, "mixup partner", e)) return -1;
    if (a->width != b->width || a->height != b->height)
        return err_set(e, "mixup: images differ in size (%dx%d vs %dx%d)", a->width, a->height, b->width,
                       b->height);
    /* The two products take 256 values each; the sum is formed per byte as
     * the reference does (float64, then truncation). */
    double ta[256], tb[256];
    for (int v = 0; v < 256; v++) {
        ta[v] = v * r;
        tb[v] = v * (1 - r);
    }
    const size_t n = aug_image_bytes(a);
    uint8_t *pa = a->pixels;
    const uint8_t *pb = b->pixels;
#pragma omp parallel for schedule(static) if (n > (1 << 18))
    for (size_t i = 0; i < n; i++) {
        double s = ta[pa[i]] + tb[pb[i]];
        pa[i] = (uint8_t)(s <= 0 ? 0 : s >= 255 ? 255 : (int)s);
    }
    return 0;
}
