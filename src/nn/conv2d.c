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

/* Output columns [*lo, *hi) whose input column ox*stride - pad + kw lies in [0, w). */
static void valid_out_range(int w, int wo, int stride, int pad, int kw, int *lo, int *hi)
{
    int first = pad - kw; /* smallest ox*stride that is valid */
    int a = first <= 0 ? 0 : (first + stride - 1) / stride;
    int last = w - 1 + pad - kw; /* largest valid ox*stride */
    int b = last < 0 ? 0 : last / stride + 1;
    if (a > wo) a = wo;
    if (b > wo) b = wo;
    if (b < a) b = a;
    *lo = a;
    *hi = b;
}

/* x: one image (c_in, h, w) -> col (c_in*k*k, ho*wo). */
static void im2col(const Conv2d *cv, int h, int w, int ho, int wo, const float *x, float *col)
{
    const int k = cv->k, s = cv->stride, p = cv->pad, c_in = cv->c_in;
    const size_t plane_out = (size_t)ho * wo;
    const int parallel = (size_t)c_in * k * k * plane_out >= CONV_PARALLEL_MIN;
    /* Each (channel, kernel row) pair fills its own k rows of col: no sharing. */
#pragma omp parallel for collapse(2) schedule(static) if (parallel)
    for (int ci = 0; ci < c_in; ci++) {
        for (int kh = 0; kh < k; kh++) {
            const float *xc = x + (size_t)ci * h * w;
            for (int kw = 0; kw < k; kw++) {
                float *row = col + ((size_t)(ci * k + kh) * k + kw) * plane_out;
                int lo, hi;
                valid_out_range(w, wo, s, p, kw, &lo, &hi);
                for (int oy = 0; oy < ho; oy++) {
                    float *dst = row + (size_t)oy * wo;
                    int iy = oy * s - p + kh;
                    if (iy < 0 || iy >= h || lo == hi) {
                        memset(dst, 0, sizeof(float) * (size_t)wo);
                        continue;
                    }
                    if (lo > 0) memset(dst, 0, sizeof(float) * (size_t)lo);
                    if (hi < wo) memset(dst + hi, 0, sizeof(float) * (size_t)(wo - hi));
                    const float *src = xc + (size_t)iy * w + (lo * s - p + kw);
                    if (s == 1) {
                        memcpy(dst + lo, src, sizeof(float) * (size_t)(hi - lo));
                    } else {
                        for (int ox = lo; ox < hi; ox++) dst[ox] = src[(size_t)(ox - lo) * s];
                    }
                }
            }
        }
    }
}

/* dx: one image (c_in, h, w) += col2im(col). Parallel over input channels only,
 * because the k*k kernel offsets of one channel add into the same pixels; each
 * pixel then receives its terms in a fixed order, whatever the thread count. */
static void col2im_add(const Conv2d *cv, int h, int w, int ho, int wo, const float *col, float *dx)
{
    const int k = cv->k, s = cv->stride, p = cv->pad, c_in = cv->c_in;
    const size_t plane_out = (size_t)ho * wo;
    const int parallel = (size_t)c_in * k * k * plane_out >= CONV_PARALLEL_MIN;
#pragma omp parallel for schedule(static) if (parallel)
    for (int ci = 0; ci < c_in; ci++) {
        float *dxc = dx + (size_t)ci * h * w;
        for (int kh = 0; kh < k; kh++) {
            for (int kw = 0; kw < k; kw++) {
                const float *row = col + ((size_t)(ci * k + kh) * k + kw) * plane_out;
                int lo, hi;
                valid_out_range(w, wo, s, p, kw, &lo, &hi);
                if (lo == hi) continue;
                for (int oy = 0; oy < ho; oy++) {
                    int iy = oy * s - p + kh;
                    if (iy < 0 || iy >= h) continue;
                    const float *src = row + (size_t)oy * wo;
                    float *dst = dxc + (size_t)iy * w + (lo * s - p + kw);
                    if (s == 1) {
                        for (int ox = lo; ox < hi; ox++) dst[ox - lo] += src[ox];
                    } else {
                        for (int ox = lo; ox < hi; ox++) dst[(size_t)(ox - lo) * s] += src[ox];
                    }
                }
            }
        }
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
#pragma omp parallel for schedule(static) if (out_image >= CONV_PARALLEL_MIN)
            for (int co = 0; co < cv->c_out; co++) {
                float *yc = yb + (size_t)co * pdim;
                const float bv = bias[co];
                for (int i = 0; i < pdim; i++) yc[i] += bv;
            }
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
        /* One channel per thread, images then pixels in order: deterministic. */
#pragma omp parallel for schedule(static) if ((size_t)n * out_image >= CONV_PARALLEL_MIN)
        for (int co = 0; co < cv->c_out; co++) {
            double acc = 0;
            for (int b = 0; b < n; b++) {
                const float *g = dy + (size_t)b * out_image + (size_t)co * pdim;
#pragma omp simd reduction(+ : acc)
                for (int i = 0; i < pdim; i++) acc += g[i];
            }
            dbias[co] += (float)acc;
        }
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
