/* augment_hsv's per-row kernel, shared by hsv.c (baseline x86-64: fmaf is a
 * libm call) and hsv_avx2.c (-mfma: fmaf is one instruction). Both compile
 * the same source, so they give the same bytes. Internal to src/augment/. */
#ifndef YV5_AUG_HSV_INTERNAL_H
#define YV5_AUG_HSV_INTERNAL_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

enum { HSV_SHIFT = 12, HUE_RANGE = 180 };

/* Everything a row needs, derived once per image from the gains: OpenCV's
 * division tables, YOLOv5's LUTs, and the float values OpenCV's SIMD
 * HSV->RGB computes from each LUT output (indexed by the value before the
 * LUT), so the per-pixel work is the colour conversion arithmetic alone. */
typedef struct {
    int sdiv[256], hdiv[256];
    uint8_t lut_h[256], lut_s[256], lut_v[256];
    float s[256], one_minus_s[256], v[256]; /* by S or V before the LUT */
    float f[256], one_minus_f[256];         /* by H before the LUT */
    int sector[256];
} HsvPlan;

/* Arithmetic right shift written as floor division (portable for negatives). */
static inline int hsv_floor_shift(int v)
{
    return v >= 0 ? v >> HSV_SHIFT : -((-v + (1 << HSV_SHIFT) - 1) >> HSV_SHIFT);
}

/* OpenCV RGB2HSV_b (hue range 180) for one pixel. */
static inline void hsv_from_rgb(const HsvPlan *pl, int r, int g, int b, int *H, int *S, int *V)
{
    int v = r > g ? r : g;
    v = v > b ? v : b;
    int vmin = r < g ? r : g;
    vmin = vmin < b ? vmin : b;
    int diff = v - vmin;
    *S = (diff * pl->sdiv[v] + (1 << (HSV_SHIFT - 1))) >> HSV_SHIFT;
    int h = v == r ? g - b : v == g ? b - r + 2 * diff : r - g + 4 * diff;
    h = hsv_floor_shift(h * pl->hdiv[diff] + (1 << (HSV_SHIFT - 1)));
    *H = h < 0 ? h + HUE_RANGE : h;
    *V = v;
}

static inline uint8_t hsv_clamp_u8(int v) { return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v); }

/* The first n pixels of a row through OpenCV's SIMD HSV->RGB rule:
 * t = {v, v(1-s), v·fma(-s, f, 1), v·fma(-s, 1-f, 1)}, per sector
 * (b, g, r) = (t1,t3,t0) (t1,t0,t2) (t3,t0,t1) (t0,t2,t1) (t0,t1,t3) (t2,t1,t0),
 * x·255 truncated. All per-image work is in the plan's tables; the selects
 * compile to conditional moves, so the loop has no data-dependent branches. */
static inline void hsv_row_simd(const HsvPlan *pl, uint8_t *restrict p, int n)
{
    for (int x = 0; x < n; x++) {
        const int r0 = p[3 * x], g0 = p[3 * x + 1], b0 = p[3 * x + 2];
        int v = r0 > g0 ? r0 : g0;
        v = v > b0 ? v : b0;
        int vmin = r0 < g0 ? r0 : g0;
        vmin = vmin < b0 ? vmin : b0;
        const int diff = v - vmin;
        const int S = (diff * pl->sdiv[v] + (1 << (HSV_SHIFT - 1))) >> HSV_SHIFT;
        int h = v == g0 ? b0 - r0 + 2 * diff : r0 - g0 + 4 * diff;
        h = v == r0 ? g0 - b0 : h;
        /* h·hdiv + 2^11 >= −255·122880: adding 256·180·2^12 (a multiple of
         * 2^12) makes it non-negative, so the floor shift is a plain shift
         * followed by subtracting 256·180. */
        h = ((h * pl->hdiv[diff] + (1 << (HSV_SHIFT - 1)) + (HUE_RANGE << HSV_SHIFT) * 256) >> HSV_SHIFT) -
            HUE_RANGE * 256;
        const int H = h + (h < 0 ? HUE_RANGE : 0);
        const float s = pl->s[S], vv = pl->v[v];
        const float t0 = vv;
        const float t1 = vv * pl->one_minus_s[S];
        const float t2 = vv * fmaf(-s, pl->f[H], 1.0f);
        const float t3 = vv * fmaf(-s, pl->one_minus_f[H], 1.0f);
        const int sec = pl->sector[H];
        /* Chains of two-way selects (GCC turns a many-way one into branches). */
        float bf = sec < 2 ? t1 : t0;
        bf = sec == 2 ? t3 : bf;
        bf = sec == 5 ? t2 : bf;
        float gf = sec < 3 ? t0 : t1;
        gf = sec == 0 ? t3 : gf;
        gf = sec == 3 ? t2 : gf;
        float rf = (sec == 2) | (sec == 3) ? t1 : t0;
        rf = sec == 1 ? t2 : rf;
        rf = sec == 4 ? t3 : rf;
        /* x·255 <= 255 for x <= 1, and >= 0: the truncation needs no clamp. */
        p[3 * x] = (uint8_t)(int)(rf * 255.0f);
        p[3 * x + 1] = (uint8_t)(int)(gf * 255.0f);
        p[3 * x + 2] = (uint8_t)(int)(bf * 255.0f);
    }
}

#endif
