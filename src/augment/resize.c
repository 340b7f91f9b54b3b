/* OpenCV 4.6 resize (8-bit, 3 channels) reproduced bit for bit; see resize.h.
 * The arithmetic mirrors OpenCV's resizeGeneric_ / resizeAreaFast_ /
 * resizeArea_ paths (float coefficients, fixed-point or float accumulation in
 * the same order); the loops are ours. */
#include "augment/resize.h"

#include <float.h>
#include <limits.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

enum { COEF_BITS = 11, COEF_SCALE = 1 << COEF_BITS, CN = 3 };

/* Output rows x bytes above which the row loop is split over threads. */
#define RESIZE_PARALLEL_MIN (1 << 16)

static inline int floor_f(float v)
{
    int i = (int)v;
    return i - (i > v);
}
static inline int floor_d(double v)
{
    int i = (int)v;
    return i - (i > v);
}
static inline int ceil_d(double v)
{
    int i = (int)v;
    return i + (i < v);
}
/* OpenCV saturate_cast<int>(double): round half to even, saturate. */
static inline int round_int_d(double v)
{
    if (!(v > INT_MIN)) return INT_MIN;
    if (!(v < INT_MAX)) return INT_MAX;
    return (int)lrint(v);
}
/* saturate_cast<short>(float). */
static inline short round_short_f(float v)
{
    long r = lrintf(v);
    return (short)(r < SHRT_MIN ? SHRT_MIN : r > SHRT_MAX ? SHRT_MAX : r);
}
static inline uint8_t sat_u8(int v) { return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v); }
/* saturate_cast<uchar>(float): round half to even; NaN gives 0. */
static inline uint8_t sat_u8_f(float v)
{
    if (!(v > -1.0f)) return 0;
    if (v >= 255.0f) return 255;
    return sat_u8((int)lrintf(v));
}
static inline int clampi(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }
static inline double min_d(double a, double b) { return b < a ? b : a; } /* std::min */

/* ---- INTER_LINEAR (and OpenCV's bilinear stand-in for enlarging INTER_AREA) ---- */

/* Source index and weight of one output coordinate. area_mode is OpenCV's
 * INTER_AREA-when-enlarging rule; otherwise half-pixel centres. */
static void linear_coord(int d, double scale, double inv_scale, int area_mode, int *s_out, float *f_out)
{
    int s;
    float f;
    if (!area_mode) {
        f = (float)((d + 0.5) * scale - 0.5);
        s = floor_f(f);
        f -= (float)s;
    } else {
        s = floor_d(d * scale);
        f = (float)((d + 1) - (s + 1) * inv_scale);
        f = f <= 0 ? 0.f : f - (float)floor_f(f);
    }
    *s_out = s;
    *f_out = f;
}

/* One source row resized horizontally; xofs/alpha hold one entry per output
 * pixel (the three channels share them), xmax counts pixels. */
static void hresize_row(const uint8_t *restrict S, int *restrict D, const int *xofs, const short *alpha, int xmax,
                        int dw)
{
    int dx = 0;
    for (; dx < xmax; dx++) {
        const uint8_t *p = S + xofs[dx];
        const int a0 = alpha[2 * dx], a1 = alpha[2 * dx + 1];
        D[3 * dx] = p[0] * a0 + p[3] * a1;
        D[3 * dx + 1] = p[1] * a0 + p[4] * a1;
        D[3 * dx + 2] = p[2] * a0 + p[5] * a1;
    }
    for (; dx < dw; dx++) {
        const uint8_t *p = S + xofs[dx];
        D[3 * dx] = p[0] * COEF_SCALE;
        D[3 * dx + 1] = p[1] * COEF_SCALE;
        D[3 * dx + 2] = p[2] * COEF_SCALE;
    }
}

/* OpenCV's vertical pass as its SIMD code computes it (measured: the 8-bit
 * build here takes this rounding for every byte of the row): each
 * horizontally resized value is shifted right by 4, multiplied by the 11-bit
 * weight keeping the high 16 bits, and the sum is rounded by (+2) >> 2. */
static void vresize_row(const int *restrict r0, const int *restrict r1, short b0, short b1, uint8_t *restrict out,
                        int width)
{
    /* 16-bit operands (r >> 4 <= 255·2048/16 fits), so the multiply-high
     * vectorises as OpenCV's does. */
    for (int x = 0; x < width; x++) {
        short a0 = (short)(r0[x] >> 4), a1 = (short)(r1[x] >> 4);
        int v = ((a0 * b0) >> 16) + ((a1 * b1) >> 16);
        out[x] = sat_u8((v + 2) >> 2);
    }
}

static int resize_linear(const ImageU8 *src, ImageU8 *dst, double inv_x, double inv_y, int area_mode,
                         Error *e)
{
    const int sw = src->width, sh = src->height, dw = dst->width, dh = dst->height;
    const int width = dw * CN;
    const double scale_x = 1. / inv_x, scale_y = 1. / inv_y;
    const size_t sstep = (size_t)sw * CN;
    const int nthreads = omp_get_max_threads();
    int *xofs = malloc(sizeof(int) * (size_t)dw);
    short *alpha = malloc(sizeof(short) * 2 * (size_t)dw);
    int *yofs = malloc(sizeof(int) * (size_t)dh);
    short *beta = malloc(sizeof(short) * 2 * (size_t)dh);
    int *rows = malloc(sizeof(int) * 2 * (size_t)width * (size_t)nthreads);
    if (!xofs || !alpha || !yofs || !beta || !rows) {
        free(xofs), free(alpha), free(yofs), free(beta), free(rows);
        return err_set(e, "resize: out of memory");
    }
    int xmax = dw;
    for (int dx = 0; dx < dw; dx++) {
        int sx;
        float fx;
        linear_coord(dx, scale_x, inv_x, area_mode, &sx, &fx);
        if (sx < 0) fx = 0, sx = 0;
        if (sx + 1 >= sw) {
            if (dx < xmax) xmax = dx;
            if (sx >= sw - 1) fx = 0, sx = sw - 1;
        }
        xofs[dx] = sx * CN;
        alpha[2 * dx] = round_short_f((1.f - fx) * COEF_SCALE);
        alpha[2 * dx + 1] = round_short_f(fx * COEF_SCALE);
    }
    for (int dy = 0; dy < dh; dy++) {
        int sy;
        float fy;
        linear_coord(dy, scale_y, inv_y, area_mode, &sy, &fy);
        yofs[dy] = sy;
        beta[2 * dy] = round_short_f((1.f - fy) * COEF_SCALE);
        beta[2 * dy + 1] = round_short_f(fy * COEF_SCALE);
    }

#pragma omp parallel if ((size_t)dh * (size_t)width > RESIZE_PARALLEL_MIN)
    {
        int *slot[2];
        slot[0] = rows + (size_t)omp_get_thread_num() * 2 * (size_t)width;
        slot[1] = slot[0] + width;
        int tag[2] = {-1, -1};
#pragma omp for schedule(static)
        for (int dy = 0; dy < dh; dy++) {
            const int w0 = clampi(yofs[dy], 0, sh - 1), w1 = clampi(yofs[dy] + 1, 0, sh - 1);
            /* Reuse horizontally resized rows still held from the previous output row. */
            int u0 = tag[0] == w0 ? 0 : tag[1] == w0 ? 1 : -1;
            if (u0 < 0) {
                u0 = tag[0] == w1 ? 1 : 0;
                hresize_row(src->pixels + (size_t)w0 * sstep, slot[u0], xofs, alpha, xmax, dw);
                tag[u0] = w0;
            }
            int u1 = tag[u0] == w1 ? u0 : tag[1 - u0] == w1 ? 1 - u0 : -1;
            if (u1 < 0) {
                u1 = 1 - u0;
                hresize_row(src->pixels + (size_t)w1 * sstep, slot[u1], xofs, alpha, xmax, dw);
                tag[u1] = w1;
            }
            vresize_row(slot[u0], slot[u1], beta[2 * dy], beta[2 * dy + 1],
                        dst->pixels + (size_t)dy * width, width);
        }
    }
    free(xofs), free(alpha), free(yofs), free(beta), free(rows);
    return 0;
}

/* ---- INTER_AREA, integer factors ---- */

static int resize_area_fast(const ImageU8 *src, ImageU8 *dst, int fx, int fy, Error *e)
{
    const int sw = src->width, sh = src->height, dw = dst->width, dh = dst->height;
    const int area = fx * fy, width = dw * CN, swidth = sw * CN;
    const float scale = 1.f / (float)area;
    const int dwidth1 = (sw / fx) * CN;
    const size_t sstep = (size_t)sw * CN;
    int *ofs = malloc(sizeof(int) * ((size_t)area + (size_t)width));
    if (!ofs) return err_set(e, "resize: out of memory");
    int *xofs = ofs + area;
    for (int y = 0, k = 0; y < fy; y++)
        for (int x = 0; x < fx; x++) ofs[k++] = (int)((size_t)y * sstep + (size_t)x * CN);
    for (int dx = 0; dx < dw; dx++)
        for (int k = 0; k < CN; k++) xofs[dx * CN + k] = fx * dx * CN + k;

#pragma omp parallel for schedule(static) if ((size_t)dh * (size_t)width > RESIZE_PARALLEL_MIN)
    for (int dy = 0; dy < dh; dy++) {
        uint8_t *D = dst->pixels + (size_t)dy * width;
        int sy0 = dy * fy;
        int w = sy0 + fy <= sh ? dwidth1 : 0;
        if (sy0 >= sh) {
            memset(D, 0, (size_t)width);
            continue;
        }
        const uint8_t *S = src->pixels + (size_t)sy0 * sstep;
        int dx = 0;
        if (fx == 2 && fy == 2) {
            const uint8_t *N = S + sstep;
            for (; dx < w; dx += CN) {
                const int i = 2 * dx;
                D[dx] = (uint8_t)((S[i] + S[i + 3] + N[i] + N[i + 3] + 2) >> 2);
                D[dx + 1] = (uint8_t)((S[i + 1] + S[i + 4] + N[i + 1] + N[i + 4] + 2) >> 2);
                D[dx + 2] = (uint8_t)((S[i + 2] + S[i + 5] + N[i + 2] + N[i + 5] + 2) >> 2);
            }
        } else {
            for (; dx < w; dx++) {
                const uint8_t *P = S + xofs[dx];
                int sum = 0;
                for (int k = 0; k < area; k++) sum += P[ofs[k]];
                D[dx] = sat_u8_f((float)sum * scale);
            }
        }
        /* Cells cut by the right or bottom edge: mean of the pixels inside. */
        for (; dx < width; dx++) {
            int sum = 0, count = 0, sx0 = xofs[dx];
            for (int y = 0; y < fy && sy0 + y < sh; y++) {
                const uint8_t *P = src->pixels + (size_t)(sy0 + y) * sstep + sx0;
                for (int x = 0; x < fx * CN && sx0 + x < swidth; x += CN) {
                    sum += P[x];
                    count++;
                }
            }
            D[dx] = count ? sat_u8_f((float)sum / (float)count) : 0;
        }
    }
    free(ofs);
    return 0;
}

/* ---- INTER_AREA, other shrink factors ---- */

typedef struct {
    int si, di; /* source and destination element (x) or row (y) index */
    float alpha;
} AreaTap;

/* OpenCV computeResizeAreaTab: overlap of each destination cell with the
 * source pixels, in units of the cell width. Returns the number of taps. */
static int area_taps(int ssize, int dsize, int cn, double scale, AreaTap *tab)
{
    int k = 0;
    for (int dx = 0; dx < dsize; dx++) {
        double fsx1 = dx * scale;
        double fsx2 = fsx1 + scale;
        double cell = min_d(scale, ssize - fsx1);
        int sx1 = ceil_d(fsx1), sx2 = floor_d(fsx2);
        if (sx2 > ssize - 1) sx2 = ssize - 1;
        if (sx1 > sx2) sx1 = sx2;
        if (sx1 - fsx1 > 1e-3) tab[k++] = (AreaTap){(sx1 - 1) * cn, dx * cn, (float)((sx1 - fsx1) / cell)};
        for (int sx = sx1; sx < sx2; sx++) tab[k++] = (AreaTap){sx * cn, dx * cn, (float)(1.0 / cell)};
        if (fsx2 - sx2 > 1e-3)
            tab[k++] = (AreaTap){sx2 * cn, dx * cn, (float)(min_d(min_d(fsx2 - sx2, 1.), cell) / cell)};
    }
    return k;
}

static int resize_area_general(const ImageU8 *src, ImageU8 *dst, double scale_x, double scale_y, Error *e)
{
    const int sw = src->width, sh = src->height, dw = dst->width, dh = dst->height;
    const int width = dw * CN;
    const size_t sstep = (size_t)sw * CN;
    const int nthreads = omp_get_max_threads();
    AreaTap *xtab = malloc(sizeof(AreaTap) * 2 * (size_t)sw);
    AreaTap *ytab = malloc(sizeof(AreaTap) * 2 * (size_t)sh);
    int *yfirst = malloc(sizeof(int) * ((size_t)dh + 1));
    float *work = malloc(sizeof(float) * 2 * (size_t)width * (size_t)nthreads);
    if (!xtab || !ytab || !yfirst || !work) {
        free(xtab), free(ytab), free(yfirst), free(work);
        return err_set(e, "resize: out of memory");
    }
    int nx = area_taps(sw, dw, CN, scale_x, xtab);
    int ny = area_taps(sh, dh, 1, scale_y, ytab);
    for (int dy = 0; dy <= dh; dy++) yfirst[dy] = ny;
    for (int k = ny - 1; k >= 0; k--) yfirst[ytab[k].di] = k;

#pragma omp parallel if ((size_t)dh * (size_t)width > RESIZE_PARALLEL_MIN)
    {
        float *buf = work + (size_t)omp_get_thread_num() * 2 * (size_t)width;
        float *sum = buf + width;
#pragma omp for schedule(static)
        for (int dy = 0; dy < dh; dy++) {
            int j_end = dy + 1 < dh ? yfirst[dy + 1] : ny;
            for (int j = yfirst[dy]; j < j_end; j++) {
                const uint8_t *S = src->pixels + (size_t)ytab[j].si * sstep;
                const float beta = ytab[j].alpha;
                memset(buf, 0, sizeof(float) * (size_t)width);
                for (int k = 0; k < nx; k++) {
                    const uint8_t *P = S + xtab[k].si;
                    float *B = buf + xtab[k].di;
                    const float a = xtab[k].alpha;
                    float t0 = B[0] + (float)P[0] * a;
                    float t1 = B[1] + (float)P[1] * a;
                    float t2 = B[2] + (float)P[2] * a;
                    B[0] = t0, B[1] = t1, B[2] = t2;
                }
                if (j == yfirst[dy])
                    for (int x = 0; x < width; x++) sum[x] = beta * buf[x];
                else
                    for (int x = 0; x < width; x++) sum[x] += beta * buf[x];
            }
            uint8_t *D = dst->pixels + (size_t)dy * width;
            for (int x = 0; x < width; x++) D[x] = sat_u8_f(sum[x]);
        }
    }
    free(xtab), free(ytab), free(yfirst), free(work);
    return 0;
}

int aug_resize(const ImageU8 *src, int dst_w, int dst_h, AugInterp interp, ImageU8 *dst, Error *e)
{
    if (aug_image_check(src, "resize source", e)) return -1;
    if (src == dst) return err_set(e, "resize: source and destination must differ");
    if (dst_w < 1 || dst_h < 1) return err_set(e, "resize: invalid target size %dx%d", dst_w, dst_h);
    if (interp != AUG_INTER_LINEAR && interp != AUG_INTER_AREA)
        return err_set(e, "resize: unknown interpolation %d", (int)interp);
    if (aug_image_alloc(dst, dst_w, dst_h, e)) return -1;
    const int sw = src->width, sh = src->height;
    if (dst_w == sw && dst_h == sh) {
        memcpy(dst->pixels, src->pixels, aug_image_bytes(src));
        return 0;
    }
    const double inv_x = (double)dst_w / sw, inv_y = (double)dst_h / sh;
    const double scale_x = 1. / inv_x, scale_y = 1. / inv_y;
    const int iscale_x = round_int_d(scale_x), iscale_y = round_int_d(scale_y);
    const int area_fast = fabs(scale_x - iscale_x) < DBL_EPSILON && fabs(scale_y - iscale_y) < DBL_EPSILON;
    /* OpenCV: an exact 2x shrink with INTER_LINEAR is the same as INTER_AREA. */
    if (interp == AUG_INTER_LINEAR && area_fast && iscale_x == 2 && iscale_y == 2) interp = AUG_INTER_AREA;
    if (interp == AUG_INTER_AREA && scale_x >= 1 && scale_y >= 1) {
        if (area_fast) return resize_area_fast(src, dst, iscale_x, iscale_y, e);
        return resize_area_general(src, dst, scale_x, scale_y, e);
    }
    return resize_linear(src, dst, inv_x, inv_y, interp == AUG_INTER_AREA, e);
}
