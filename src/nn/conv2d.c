/* Conv2d as im2col + gemm, one image at a time (gemm parallelises each product).
 *
 * Columns: col[(ci*k + kh)*k + kw][oy*wo + ox] = x[ci][oy*s - p + kh][ox*s - p + kw]
 * (zero outside the image), so K = c_in*k*k rows by P = ho*wo columns and
 *     forward   Y  = W · col                 (c_out x P)
 *     backward  dW += dY · colᵀ,  dcol = Wᵀ · dY,  dx += col2im(dcol).
 * A 1x1 stride-1 pad-0 convolution's col is the image itself, so it skips im2col
 * and needs no scratch. */
#include "conv2d.h"

#include <string.h>

#include "core/gemm.h"
#include "nn/parallel_for.h"

/* Below this many column elements a parallel region costs more than it saves. */
#define CONV_PARALLEL_MIN 32768

int conv2d_out_dim(int in, int k, int stride, int pad)
{
    int span = in + 2 * pad - k;
    if (span < 0 || stride <= 0) return 0; /* C division truncates; floor of a negative is < 0 */
    return span / stride + 1;
}

static int is_pointwise(const Conv2d *cv) { return cv->k == 1 && cv->stride == 1 && cv->pad == 0; }

size_t conv2d_scratch_floats(const Conv2d *cv, int n, int h, int w)
{
    (void)n; /* images are processed one after another through the same columns */
    if (is_pointwise(cv)) return 0;
    int ho = conv2d_out_dim(h, cv->k, cv->stride, cv->pad);
    int wo = conv2d_out_dim(w, cv->k, cv->stride, cv->pad);
    return (size_t)cv->c_in * cv->k * cv->k * (size_t)ho * wo;
}

typedef struct {
    const Conv2d *cv;
    int h, w, ho, wo;
    const float *x, *col;
    float *out;
} ColCtx;

/* Items are (channel, kernel row) pairs; each fills its own k rows of col. */
static void im2col_range(const void *p, long long lo, long long hi)
{
    const ColCtx *c = p;
    const Conv2d *cv = c->cv;
    const int k = cv->k, s = cv->stride, pad = cv->pad, h = c->h, w = c->w, ho = c->ho, wo = c->wo;
    const size_t plane_out = (size_t)ho * wo;
    for (long long item = lo; item < hi; item++) {
        const int ci = (int)(item / k), kh = (int)(item % k);
        const float *xc = c->x + (size_t)ci * h * w;
        for (int kw = 0; kw < k; kw++) {
            float *row = c->out + ((size_t)(ci * k + kh) * k + kw) * plane_out;
            int lo_x, hi_x;
            conv2d_valid_out_range(w, wo, s, pad, kw, &lo_x, &hi_x);
            for (int oy = 0; oy < ho; oy++) {
                float *dst = row + (size_t)oy * wo;
                int iy = oy * s - pad + kh;
                if (iy < 0 || iy >= h || lo_x == hi_x) {
                    memset(dst, 0, sizeof(float) * (size_t)wo);
                    continue;
                }
                if (lo_x > 0) memset(dst, 0, sizeof(float) * (size_t)lo_x);
                if (hi_x < wo) memset(dst + hi_x, 0, sizeof(float) * (size_t)(wo - hi_x));
                const float *src = xc + (size_t)iy * w + (lo_x * s - pad + kw);
                if (s == 1) {
                    memcpy(dst + lo_x, src, sizeof(float) * (size_t)(hi_x - lo_x));
                } else {
                    for (int ox = lo_x; ox < hi_x; ox++) dst[ox] = src[(size_t)(ox - lo_x) * s];
                }
            }
        }
    }
}

/* x: one image (c_in, h, w) -> col (c_in*k*k, ho*wo). */
static void im2col(const Conv2d *cv, int h, int w, int ho, int wo, const float *x, float *col)
{
    ColCtx c = {cv, h, w, ho, wo, x, NULL, col};
    parallel_for((long long)cv->c_in * cv->k, (size_t)cv->c_in * cv->k * cv->k * ho * wo, CONV_PARALLEL_MIN,
                 im2col_range, &c);
}

/* Items are input channels, because the k*k kernel offsets of one channel add
 * into the same pixels; each pixel then receives its terms in a fixed order,
 * whatever the thread count. */
static void col2im_range(const void *p, long long lo, long long hi)
{
    const ColCtx *c = p;
    const Conv2d *cv = c->cv;
    const int k = cv->k, s = cv->stride, pad = cv->pad, h = c->h, w = c->w, ho = c->ho, wo = c->wo;
    const size_t plane_out = (size_t)ho * wo;
    for (long long ci = lo; ci < hi; ci++) {
        float *dxc = c->out + (size_t)ci * h * w;
        for (int kh = 0; kh < k; kh++) {
            for (int kw = 0; kw < k; kw++) {
                const float *row = c->col + ((size_t)(ci * k + kh) * k + kw) * plane_out;
                int lo_x, hi_x;
                conv2d_valid_out_range(w, wo, s, pad, kw, &lo_x, &hi_x);
                if (lo_x == hi_x) continue;
                for (int oy = 0; oy < ho; oy++) {
                    int iy = oy * s - pad + kh;
                    if (iy < 0 || iy >= h) continue;
                    const float *src = row + (size_t)oy * wo;
                    float *dst = dxc + (size_t)iy * w + (lo_x * s - pad + kw);
                    if (s == 1) {
                        for (int ox = lo_x; ox < hi_x; ox++) dst[ox - lo_x] += src[ox];
                    } else {
                        for (int ox = lo_x; ox < hi_x; ox++) dst[(size_t)(ox - lo_x) * s] += src[ox];
                    }
                }
            }
        }
    }
}

/* dx: one image (c_in, h, w) += col2im(col). */
static void col2im_add(const Conv2d *cv, int h, int w, int ho, int wo, const float *col, float *dx)
{
    ColCtx c = {cv, h, w, ho, wo, NULL, col, dx};
    parallel_for(cv->c_in, (size_t)cv->c_in * cv->k * cv->k * ho * wo, CONV_PARALLEL_MIN, col2im_range, &c);
}

typedef struct {
    const float *bias, *dy;
    float *y, *dbias;
    int n;
    size_t pdim, out_image;
} BiasCtx;

static void bias_add_range(const void *p, long long lo, long long hi)
{
    const BiasCtx *c = p;
    for (long long co = lo; co < hi; co++) {
        float *yc = c->y + (size_t)co * c->pdim;
        const float bv = c->bias[co];
        for (size_t i = 0; i < c->pdim; i++) yc[i] += bv;
    }
}

/* One channel per item, images then pixels in order: deterministic. */
static void bias_grad_range(const void *p, long long lo, long long hi)
{
    const BiasCtx *c = p;
    for (long long co = lo; co < hi; co++) {
        double acc = 0;
        for (int b = 0; b < c->n; b++) {
            const float *g = c->dy + (size_t)b * c->out_image + (size_t)co * c->pdim;
#pragma omp simd reduction(+ : acc)
            for (size_t i = 0; i < c->pdim; i++) acc += g[i];
        }
        c->dbias[co] += (float)acc;
    }
}

void conv2d_forward(const Conv2d *cv, int n, int h, int w, const float *x, const float *weight,
                    const float *bias, float *y, float *scratch)
{
    const int ho = conv2d_out_dim(h, cv->k, cv->stride, cv->pad);
    const int wo = conv2d_out_dim(w, cv->k, cv->stride, cv->pad);
    const int kdim = cv->c_in * cv->k * cv->k;
    const int pdim = ho * wo;
    if (n <= 0 || pdim <= 0 || cv->c_out <= 0) return;
    const size_t in_image = (size_t)cv->c_in * h * w;
    const size_t out_image = (size_t)cv->c_out * pdim;
    const int pointwise = is_pointwise(cv);

    for (int b = 0; b < n; b++) {
        const float *xb = x + (size_t)b * in_image;
        float *yb = y + (size_t)b * out_image;
        const float *cols = xb;
        if (!pointwise) {
            im2col(cv, h, w, ho, wo, xb, scratch);
            cols = scratch;
        }
        gemm(0, 0, cv->c_out, pdim, kdim, 1.0f, weight, kdim, cols, pdim, 0.0f, yb, pdim);
        if (bias) {
            BiasCtx c = {bias, NULL, yb, NULL, n, (size_t)pdim, out_image};
            parallel_for(cv->c_out, out_image, CONV_PARALLEL_MIN, bias_add_range, &c);
        }
    }
}

void conv2d_backward(const Conv2d *cv, int n, int h, int w, const float *x, const float *weight,
                     const float *dy, float *dx, float *dweight, float *dbias, float *scratch)
{
    const int ho = conv2d_out_dim(h, cv->k, cv->stride, cv->pad);
    const int wo = conv2d_out_dim(w, cv->k, cv->stride, cv->pad);
    const int kdim = cv->c_in * cv->k * cv->k;
    const int pdim = ho * wo;
    if (n <= 0 || pdim <= 0 || cv->c_out <= 0) return;
    const size_t in_image = (size_t)cv->c_in * h * w;
    const size_t out_image = (size_t)cv->c_out * pdim;
    const int pointwise = is_pointwise(cv);

    if (dbias) {
        BiasCtx c = {NULL, dy, NULL, dbias, n, (size_t)pdim, out_image};
        parallel_for(cv->c_out, (size_t)n * out_image, CONV_PARALLEL_MIN, bias_grad_range, &c);
    }

    for (int b = 0; b < n; b++) {
        const float *xb = x + (size_t)b * in_image;
        const float *gb = dy + (size_t)b * out_image;
        float *dxb = dx ? dx + (size_t)b * in_image : NULL;
        if (pointwise) {
            if (dweight)
                gemm(0, 1, cv->c_out, kdim, pdim, 1.0f, gb, pdim, xb, pdim, 1.0f, dweight, kdim);
            if (dxb)
                gemm(1, 0, kdim, pdim, cv->c_out, 1.0f, weight, kdim, gb, pdim, 1.0f, dxb, pdim);
            continue;
        }
        if (dweight) {
            im2col(cv, h, w, ho, wo, xb, scratch);
            gemm(0, 1, cv->c_out, kdim, pdim, 1.0f, gb, pdim, scratch, pdim, 1.0f, dweight, kdim);
        }
        if (dxb) {
            /* The columns are no longer needed: reuse the same scratch for dcol. */
            gemm(1, 0, kdim, pdim, cv->c_out, 1.0f, weight, kdim, gb, pdim, 0.0f, scratch, pdim);
            col2im_add(cv, h, w, ho, wo, scratch, dxb);
        }
    }
}
