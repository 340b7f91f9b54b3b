/* MixUp (spec §5.8) and the Beta(32, 32) draw it needs.
 *
 * YOLOv5 draws r ~ Beta(32, 32) with NumPy. Here Beta(a, b) = X / (X + Y)
 * with X ~ Gamma(a), Y ~ Gamma(b) (in that order) from the caller's Rng;
 * Gamma(k >= 1) is Marsaglia and Tsang's method (each attempt draws one
 * rng_normal, and one rng_uniform when the candidate is positive), Gamma(k < 1)
 * is Gamma(k + 1)·U^(1/k). The number of draws varies with the rejections
 * but is fixed by the Rng state, so samples stay reproducible.
 *
 * Blend: a := trunc(a·r + b·(1 − r)) per byte, in double (NumPy float64 then
 * astype(uint8)). Labels are the concatenation (first image's rows first). */
#ifndef YV5_AUG_MIXUP_H
#define YV5_AUG_MIXUP_H

#include "augment/image_ops.h"
#include "core/rng.h"

double aug_gamma_draw(Rng *rng, double shape);
double aug_beta_draw(Rng *rng, double a, double b);

/* YOLOv5's alpha = beta = 32. */
#define AUG_MIXUP_ALPHA 32.0

/* a := mixup(a, b, r); a and b must have the same size. */
int aug_mixup_blend(ImageU8 *a, const ImageU8 *b, double r, Error *e);

#endif
