#include "augment/perspective.h"

#include <math.h>
#include <string.h>

#include "augment/warp.h"

static const double PI = 3.1415926535897932384626433832795;

void aug_perspective_draw(Rng *rng, double degrees, double translate, double scale, double shear,
                          double perspective, AugPerspectiveDraw *d)
{
    d->px = rng_uniform_range(rng, -perspective, perspective);
    d->py = rng_uniform_range(rng, -perspective, perspective);
    d->angle = rng_uniform_range(rng, -degrees, degrees);
    d->scale = rng_uniform_range(rng, 1 - scale, 1 + scale);
    d->shear_x = rng_uniform_range(rng, -shear, shear);
    d->shear_y = rng_uniform_range(rng, -shear, shear);
    d->tx = rng_uniform_range(rng, 0.5 - translate, 0.5 + translate);
    d->ty = rng_uniform_range(rng, 0.5 - translate, 0.5 + translate);
}

/* c = a·b for 3x3 row-major matrices, each sum taken left to right. */
static void matmul3(const double a[9], const double b[9], double c[9])
{
    double t[9];
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) t[i * 3 + j] = a[i * 3] * b[j] + a[i * 3 + 1] * b[3 + j] + a[i * 3 + 2] * b[6 + j];
    memcpy(c, t, sizeof t);
}

void aug_perspective_matrix(const AugPerspectiveDraw *d, int in_w, int in_h, int out_w, int out_h, double M[9])
{
    double C[9] = {1, 0, -in_w / 2.0, 0, 1, -in_h / 2.0, 0, 0, 1};
    double P[9] = {1, 0, 0, 0, 1, 0, d->px, d->py, 1};
    /* OpenCV getRotationMatrix2D: angle·(π/180), then cos·scale, sin·scale. */
    double rad = d->angle * (PI / 180);
    double a = cos(rad) * d->scale, b = sin(rad) * d->scale;
    double R[9] = {a, b, 0, -b, a, 0, 0, 0, 1};
    /* The reference writes the shear as tan(deg·π/180), evaluated left to right. */
    double S[9] = {1, tan(d->shear_x * PI / 180), 0, tan(d->shear_y * PI / 180), 1, 0, 0, 0, 1};
    double T[9] = {1, 0, d->tx * out_w, 0, 1, d->ty * out_h, 0, 0, 1};
    double m[9];
    matmul3(T, S, m);
    matmul3(m, R, m);
    matmul3(m, P, m);
    matmul3(m, C, M);
}

static inline double clampd(double v, double lo, double hi) { return v < lo ? lo : v > hi ? hi : v; }

void aug_perspective_boxes(AugBoxes *labels, const double M[9], int use_perspective, double scale, int out_w,
                           int out_h)
{
    const float fscale = (float)scale;
    int kept = 0;
    for (int i = 0; i < labels->n; i++) {
        float *r = labels->v + (size_t)i * AUG_BOX_FIELDS;
        const double cx[4] = {r[1], r[3], r[1], r[3]}, cy[4] = {r[2], r[4], r[4], r[2]};
        double xmin = INFINITY, ymin = INFINITY, xmax = -INFINITY, ymax = -INFINITY;
        for (int k = 0; k < 4; k++) {
            double x = cx[k] * M[0] + cy[k] * M[1] + M[2];
            double y = cx[k] * M[3] + cy[k] * M[4] + M[5];
            if (use_perspective) {
                double z = cx[k] * M[6] + cy[k] * M[7] + M[8];
                x /= z, y /= z;
            }
            xmin = x < xmin ? x : xmin, xmax = x > xmax ? x : xmax;
            ymin = y < ymin ? y : ymin, ymax = y > ymax ? y : ymax;
        }
        xmin = clampd(xmin, 0, out_w), xmax = clampd(xmax, 0, out_w);
        ymin = clampd(ymin, 0, out_h), ymax = clampd(ymax, 0, out_h);
        /* Original size times the scale, in float32 like the reference. */
        float x1s = r[1] * fscale, y1s = r[2] * fscale, x2s = r[3] * fscale, y2s = r[4] * fscale;
        if (!aug_box_candidate(x2s - x1s, y2s - y1s, xmax - xmin, ymax - ymin, AUG_BOX_WH_THR, AUG_BOX_AR_THR,
                               AUG_BOX_AREA_THR))
            continue;
        float *o = labels->v + (size_t)kept * AUG_BOX_FIELDS;
        o[0] = r[0];
        o[1] = (float)xmin, o[2] = (float)ymin, o[3] = (float)xmax, o[4] = (float)ymax;
        kept++;
    }
    labels->n = kept;
}

int aug_random_perspective(const ImageU8 *in, AugBoxes *labels, const AugPerspectiveDraw *d, int border_x,
                           int border_y, int use_perspective, ImageU8 *out, Error *e)
{
    if (aug_image_check(in, "random_perspective", e)) return -1;
    if (in == out) return err_set(e, "random_perspective: input and output must differ");
    const int out_w = in->width + 2 * border_x, out_h = in->height + 2 * border_y;
    if (out_w < 1 || out_h < 1)
        return err_set(e, "random_perspective: border (%d, %d) leaves no image of %dx%d", border_x, border_y,
                       in->width, in->height);
    double M[9];
    aug_perspective_matrix(d, in->width, in->height, out_w, out_h, M);
    int identity = 1;
    for (int i = 0; i < 9; i++) identity &= M[i] == (i % 4 == 0 ? 1.0 : 0.0);
    if (border_x != 0 || border_y != 0 || !identity) {
        if (aug_image_alloc(out, out_w, out_h, e)) return -1;
        int rc = use_perspective ? aug_warp_perspective(in, M, AUG_BORDER_VALUE, out, e)
                                 : aug_warp_affine(in, M, AUG_BORDER_VALUE, out, e);
        if (rc) return -1;
    } else if (aug_image_copy(in, out, e)) {
        return -1;
    }
    if (labels && labels->n) aug_perspective_boxes(labels, M, use_perspective, d->scale, out_w, out_h);
    return 0;
}
