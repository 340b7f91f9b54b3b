/* Bilinear warps with OpenCV 4.6's fixed-point arithmetic; see warp.h. */
#include "augment/warp.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

enum {
    INTER_BITS = 5,
    TAB_SIZE = 1 << INTER_BITS,    /* 32 sub-pixel positions per axis */
    AB_BITS = 10,                  /* affine fixed point: 1/1024 pixel */
    AB_SCALE = 1 << AB_BITS,
    ROUND_DELTA = AB_SCALE / TAB_SIZE / 2,
    COEF_BITS = 15,
    CN = 3,
};

#define WARP_PARALLEL_MIN (1 << 16)

/* 15-bit bilinear weights for each (fy, fx) sub-pixel pair: products of
 * (1 - i/32, i/32), exact in float and in 15-bit fixed point. (OpenCV stores
 * the (0, 0) entry as (32767, 0, 0, 1) after saturating 32768 to a short and
 * repairing the sum; that never changes an 8-bit result, so the exact weights
 * are used.) */
typedef struct {
    int w[TAB_SIZE * TAB_SIZE][4];
} BilinearTab;

static void bilinear_tab(BilinearTab *t)
{
    for (int i = 0; i < TAB_SIZE; i++)
        for (int j = 0; j < TAB_SIZE; j++) {
            float fy = (float)i * (1.f / TAB_SIZE), fx = (float)j * (1.f / TAB_SIZE);
            float vy[2] = {1.f - fy, fy}, vx[2] = {1.f - fx, fx};
            for (int a = 0; a < 2; a++)
                for (int b = 0; b < 2; b++)
                    t->w[i * TAB_SIZE + j][a * 2 + b] = (int)lrintf(vy[a] * vx[b] * (1 << COEF_BITS));
        }
}

static inline int round_int_d(double v)
{
    if (!(v > INT_MIN)) return INT_MIN;
    if (!(v < INT_MAX)) return INT_MAX;
    return (int)lrint(v);
}
static inline int sat_short(int v) { return v < SHRT_MIN ? SHRT_MIN : v > SHRT_MAX ? SHRT_MAX : v; }
/* Floor division by 2^k of a possibly negative value (arithmetic shift). */
static inline int64_t floor_shift(int64_t v, int k) { return v >= 0 ? v >> k : -((-v + (1 << k) - 1) >> k); }

/* One output pixel from the source position (sx + ax/32, sy + ay/32). */
static inline void sample_bilinear(const ImageU8 *src, int sx, int sy, int a, const BilinearTab *tab,
                                   uint8_t border, uint8_t *out)
{
    const int sw = src->width, sh = src->height;
    const int *w = tab->w[a];
    const size_t sstep = (size_t)sw * CN;
    if ((unsigned)sx < (unsigned)(sw - 1) && (unsigned)sy < (unsigned)(sh - 1)) {
        const uint8_t *p = src->pixels + (size_t)sy * sstep + (size_t)sx * CN;
        for (int c = 0; c < CN; c++) {
            int t = p[c] * w[0] + p[c + CN] * w[1] + p[c + sstep] * w[2] + p[c + sstep + CN] * w[3];
            out[c] = (uint8_t)((t + (1 << (COEF_BITS - 1))) >> COEF_BITS);
        }
        return;
    }
    if (sx >= sw || sx + 1 < 0 || sy >= sh || sy + 1 < 0) {
        out[0] = out[1] = out[2] = border;
        return;
    }
    /* Footprint straddles the edge: outside taps read the border value. */
    const int x_ok[2] = {sx >= 0 && sx < sw, sx + 1 >= 0 && sx + 1 < sw};
    const int y_ok[2] = {sy >= 0 && sy < sh, sy + 1 >= 0 && sy + 1 < sh};
    for (int c = 0; c < CN; c++) {
        int v[4];
        for (int k = 0; k < 4; k++) {
            int dy = k >> 1, dx = k & 1;
            v[k] = (x_ok[dx] && y_ok[dy]) ? src->pixels[(size_t)(sy + dy) * sstep + (size_t)(sx + dx) * CN + c]
                                          : border;
        }
        int t = v[0] * w[0] + v[1] * w[1] + v[2] * w[2] + v[3] * w[3];
        int r = (t + (1 << (COEF_BITS - 1))) >> COEF_BITS;
        out[c] = (uint8_t)(r < 0 ? 0 : r > 255 ? 255 : r);
    }
}

void aug_invert_affine(const double M[6], double inv[6])
{
    double D = M[0] * M[4] - M[1] * M[3];
    D = D != 0 ? 1. / D : 0;
    double A11 = M[4] * D, A22 = M[0] * D;
    double m0 = A11, m1 = M[1] * -D, m3 = M[3] * -D, m4 = A22;
    double b1 = -m0 * M[2] - m1 * M[5];
    double b2 = -m3 * M[2] - m4 * M[5];
    inv[0] = m0, inv[1] = m1, inv[2] = b1;
    inv[3] = m3, inv[4] = m4, inv[5] = b2;
}

static int check_pair(const ImageU8 *src, const ImageU8 *dst, Error *e)
{
    if (aug_image_check(src, "warp source", e)) return -1;
    if (aug_image_check(dst, "warp destination", e)) return -1;
    if (src == dst || src->pixels == dst->pixels) return err_set(e, "warp: source and destination must differ");
    return 0;
}

/* The 2x2 footprint at (sx, sy) lies inside the image: 15-bit weights
 * w = (32 − ay|ay)(32 − ax|ax)·32 factor, so Σ w·p + 2^14 >> 15 equals
 * (Σ' + 2^9) >> 10 with Σ' = (32 − ay)·((32 − ax)·p00 + ax·p01) + ay·(...),
 * bit for bit. */
static inline void sample_inside(const uint8_t *p, size_t sstep, int ax, int ay, uint8_t *out)
{
    const int bx = TAB_SIZE - ax, by = TAB_SIZE - ay;
    for (int c = 0; c < CN; c++) {
        int top = p[c] * bx + p[c + CN] * ax;
        int bot = p[c + sstep] * bx + p[c + sstep + CN] * ax;
        out[c] = (uint8_t)((top * by + bot * ay + (1 << 9)) >> 10);
    }
}

/* Source position of an output pixel in 1/32 pixel: integer part and fraction. */
static inline void split_coord(int64_t fixed, int *s, int *frac)
{
    int X = (int)floor_shift(fixed, AB_BITS - INTER_BITS);
    *s = sat_short((int)floor_shift(X, INTER_BITS));
    *frac = X & (TAB_SIZE - 1);
}

/* Scale + translation only (no rotation or shear: m1 = m3 = 0, the default
 * hyps): the source column of each output column and the source row of each
 * output row are fixed, so they are computed once and the inner loop has no
 * coordinate arithmetic. Same fixed-point values as the general path. */
static int warp_affine_axis_aligned(const ImageU8 *src, const double m[6], const int *adelta, const int *bdelta,
                                     const BilinearTab *tab, uint8_t border, ImageU8 *dst)
{
    const int sw = src->width, sh = src->height, dw = dst->width, dh = dst->height;
    const size_t sstep = (size_t)sw * CN;
    int *sxs = malloc(sizeof(int) * 2 * (size_t)dw);
    if (!sxs) return -1;
    int *axs = sxs + dw;
    const int64_t X0 = (int64_t)round_int_d(m[2] * AB_SCALE) + ROUND_DELTA; /* m1·y vanishes */
    int x_lo = dw, x_hi = 0; /* columns whose footprint is inside horizontally */
    for (int x = 0; x < dw; x++) {
        split_coord(X0 + adelta[x], &sxs[x], &axs[x]);
        if ((unsigned)sxs[x] < (unsigned)(sw - 1)) {
            if (x < x_lo) x_lo = x;
            x_hi = x + 1;
        }
    }
#pragma omp parallel for schedule(static) if ((size_t)dw * (size_t)dh > WARP_PARALLEL_MIN)
    for (int y = 0; y < dh; y++) {
        const int64_t Y0 = (int64_t)round_int_d((m[4] * y + m[5]) * AB_SCALE) + ROUND_DELTA;
        uint8_t *out = dst->pixels + (size_t)y * dw * CN;
        int x = 0;
        int sy, ay;
        split_coord(Y0 + bdelta[0], &sy, &ay); /* bdelta = m3·x = 0 */
        if ((unsigned)sy < (unsigned)(sh - 1) && x_lo < x_hi) {
            for (; x < x_lo; x++)
                sample_bilinear(src, sxs[x], sy, ay * TAB_SIZE + axs[x], tab, border, out + (size_t)x * CN);
            const uint8_t *row = src->pixels + (size_t)sy * sstep;
            for (; x < x_hi; x++)
                sample_inside(row + (size_t)sxs[x] * CN, sstep, axs[x], ay, out + (size_t)x * CN);
        }
        for (; x < dw; x++)
            sample_bilinear(src, sxs[x], sy, ay * TAB_SIZE + axs[x], tab, border, out + (size_t)x * CN);
    }
    free(sxs);
    return 0;
}

int aug_warp_affine(const ImageU8 *src, const double M[6], uint8_t border, ImageU8 *dst, Error *e)
{
    if (check_pair(src, dst, e)) return -1;
    const int sw = src->width, sh = src->height, dw = dst->width, dh = dst->height;
    const size_t sstep = (size_t)sw * CN;
    double m[6];
    aug_invert_affine(M, m);
    int *delta = malloc(sizeof(int) * 4 * (size_t)dw);
    BilinearTab *tab = malloc(sizeof *tab);
    if (!delta || !tab) {
        free(delta), free(tab);
        return err_set(e, "warp: out of memory");
    }
    bilinear_tab(tab);
    int *adelta = delta, *bdelta = delta + dw;
    for (int x = 0; x < dw; x++) {
        adelta[x] = round_int_d(m[0] * x * AB_SCALE);
        bdelta[x] = round_int_d(m[3] * x * AB_SCALE);
    }
    if (m[1] == 0 && m[3] == 0) {
        int rc = warp_affine_axis_aligned(src, m, adelta, bdelta, tab, border, dst);
        free(delta), free(tab);
        return rc ? err_set(e, "warp: out of memory") : 0;
    }
#pragma omp parallel for schedule(static) if ((size_t)dw * (size_t)dh > WARP_PARALLEL_MIN)
    for (int y = 0; y < dh; y++) {
        const int64_t X0 = (int64_t)round_int_d((m[1] * y + m[2]) * AB_SCALE) + ROUND_DELTA;
        const int64_t Y0 = (int64_t)round_int_d((m[4] * y + m[5]) * AB_SCALE) + ROUND_DELTA;
        uint8_t *out = dst->pixels + (size_t)y * dw * CN;
        for (int x = 0; x < dw; x++) {
            int sx, sy, ax, ay;
            split_coord(X0 + adelta[x], &sx, &ax);
            split_coord(Y0 + bdelta[x], &sy, &ay);
            if ((unsigned)sx < (unsigned)(sw - 1) && (unsigned)sy < (unsigned)(sh - 1))
                sample_inside(src->pixels + (size_t)sy * sstep + (size_t)sx * CN, sstep, ax, ay,
                              out + (size_t)x * CN);
            else
                sample_bilinear(src, sx, sy, ay * TAB_SIZE + ax, tab, border, out + (size_t)x * CN);
        }
    }
    free(delta), free(tab);
    return 0;
}

/* Inverse of a 3x3 matrix by Gaussian elimination with partial pivoting in
 * double (OpenCV inverts with LU, DECOMP_LU). Returns 0 if singular. */
static int invert3(const double M[9], double inv[9])
{
    double a[3][6];
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 6; j++) a[i][j] = j < 3 ? M[i * 3 + j] : (j - 3 == i);
    for (int c = 0; c < 3; c++) {
        int p = c;
        for (int r = c + 1; r < 3; r++)
            if (fabs(a[r][c]) > fabs(a[p][c])) p = r;
        if (a[p][c] == 0) return 0;
        if (p != c)
            for (int j = 0; j < 6; j++) {
                double t = a[p][j];
                a[p][j] = a[c][j];
                a[c][j] = t;
            }
        for (int r = 0; r < 3; r++) {
            if (r == c) continue;
            double f = a[r][c] / a[c][c];
            for (int j = c; j < 6; j++) a[r][j] -= f * a[c][j];
        }
    }
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) inv[i * 3 + j] = a[i][j + 3] / a[i][i];
    return 1;
}

int aug_warp_perspective(const ImageU8 *src, const double M[9], uint8_t border, ImageU8 *dst, Error *e)
{
    if (check_pair(src, dst, e)) return -1;
    const int dw = dst->width, dh = dst->height;
    double m[9];
    if (!invert3(M, m)) memset(m, 0, sizeof m);
    BilinearTab *tab = malloc(sizeof *tab);
    if (!tab) return err_set(e, "warp: out of memory");
    bilinear_tab(tab);
    /* OpenCV's block layout: the block's left column enters the double sums. */
    int bh0 = dh < 16 ? dh : 16;
    int bw0 = 1024 / bh0 < dw ? 1024 / bh0 : dw;
#pragma omp parallel for schedule(static) if ((size_t)dw * (size_t)dh > WARP_PARALLEL_MIN)
    for (int y = 0; y < dh; y++) {
        uint8_t *out = dst->pixels + (size_t)y * dw * CN;
        for (int bx = 0; bx < dw; bx += bw0) {
            int bw = dw - bx < bw0 ? dw - bx : bw0;
            double X0 = m[0] * bx + m[1] * y + m[2];
            double Y0 = m[3] * bx + m[4] * y + m[5];
            double W0 = m[6] * bx + m[7] * y + m[8];
            for (int x1 = 0; x1 < bw; x1++) {
                double W = W0 + m[6] * x1;
                W = W != 0 ? TAB_SIZE / W : 0;
                double fX = (X0 + m[0] * x1) * W, fY = (Y0 + m[3] * x1) * W;
                fX = fX > INT_MAX ? INT_MAX : fX < INT_MIN ? INT_MIN : fX;
                fY = fY > INT_MAX ? INT_MAX : fY < INT_MIN ? INT_MIN : fY;
                int X = round_int_d(fX), Y = round_int_d(fY);
                int sx = sat_short((int)floor_shift(X, INTER_BITS)), sy = sat_short((int)floor_shift(Y, INTER_BITS));
                int a = (Y & (TAB_SIZE - 1)) * TAB_SIZE + (X & (TAB_SIZE - 1));
                sample_bilinear(src, sx, sy, a, tab, border, out + (size_t)(bx + x1) * CN);
            }
        }
    }
    free(tab);
    return 0;
}
