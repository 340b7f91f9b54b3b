/* Binary cross-entropy with logits for one element, with PyTorch's
 * pos_weight and YOLOv5's optional focal modulation, and its derivative.
 * Inline because the objectness pass calls it for every grid cell.
 *
 *   l(z, y)  = (1 - y) z - (1 + (pw - 1) y) log sigma(z)
 *            = pw y softplus(-z) + (1 - y) softplus(z)
 *   focal    = l * a_t * (1 - p_t)^gamma,  p = sigma(z),
 *              p_t = y p + (1 - y)(1 - p),  a_t = y alpha + (1 - y)(1 - alpha)
 *
 * Both focal factors depend on z (YOLOv5 does not detach them). Computed in
 * double from one exp and one log1p, stable for any finite z. */
#ifndef YV5_BCE_H
#define YV5_BCE_H

#include <math.h>

typedef struct {
    double pos_weight; /* 1 = plain BCE */
    double gamma;      /* focal gamma; 0 = no focal modulation */
    double alpha;      /* focal alpha (YOLOv5: 0.25), used only when gamma > 0 */
} BceParams;

/* Returns the element loss and stores d loss / d z in *dz. */
static inline double bce_logits(double z, double y, const BceParams *bp, double *dz)
{
    /* Written as pw y softplus(-z) + (1 - y) softplus(z), which equals
     * PyTorch's form but has no cancellation when y is 0 or 1. */
    double e = exp(-fabs(z));
    double inv = 1.0 / (1.0 + e);
    double sig = z >= 0 ? inv : e * inv;           /* sigma(z) */
    double one_minus_sig = z >= 0 ? e * inv : inv; /* 1 - sigma(z), without cancellation */
    double tail = log1p(e);
    double softplus_pos = (z > 0 ? z : 0.0) + tail;  /* softplus(z) = -log(1 - sigma(z)) */
    double softplus_neg = (z < 0 ? -z : 0.0) + tail; /* softplus(-z) = -log sigma(z) */
    double wy = bp->pos_weight * y;
    double loss = wy * softplus_neg + (1.0 - y) * softplus_pos;
    double d = (1.0 - y) * sig - wy * one_minus_sig;
    if (bp->gamma > 0) {
        /* m = 1 - p_t, p_t = y sigma + (1 - y)(1 - sigma), formed without cancellation. */
        double m = y * one_minus_sig + (1.0 - y) * sig;
        double a_t = y * bp->alpha + (1.0 - y) * (1.0 - bp->alpha);
        double mod = pow(m, bp->gamma);
        double dp_t = (2.0 * y - 1.0) * sig * one_minus_sig;
        /* d m^gamma / dz = -gamma m^(gamma-1) dp_t; at m == 0 (sigma saturated in
         * double) dp_t is 0 too and the term is taken as 0. */
        double dmod = m > 0 ? -bp->gamma * (mod / m) * dp_t : 0.0;
        d = a_t * (mod * d + loss * dmod);
        loss = loss * a_t * mod;
    }
    *dz = d;
    return loss;
}

#endif
