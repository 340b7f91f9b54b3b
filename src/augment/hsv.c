/* OpenCV-exact 8-bit RGB<->HSV and YOLOv5's augment_hsv; see hsv.h. */
#include "augment/hsv.h"

#include <math.h>
#include <stdatomic.h>

#include "augment/hsv_internal.h"
#include "core/cpu.h"

#define HSV_PARALLEL_MIN (1 << 15)

/* Rows compiled for AVX2+FMA (hsv_avx2.c). */
void aug_hsv_rows_avx2(const HsvPlan *pl, uint8_t *pixels, int width, int height, int simd_end);

static void hsv_tables(HsvPlan *t)
{
    t->sdiv[0] = t->hdiv[0] = 0;
    for (int i = 1; i < 256; i++) {
        t->sdiv[i] = (int)lrint((255 << HSV_SHIFT) / (1. * i));
        t->hdiv[i] = (int)lrint((HUE_RANGE << HSV_SHIFT) / (6. * i));
    }
}

/* OpenCV HSV2RGB_b for one pixel. Sector table (b, g, r) from
 * tab = {v, v(1-s), v(1-s·f), v(1-s(1-f))}. */
static inline void hsv_to_rgb_px(int H, int S, int V, int simd_path, uint8_t rgb[3])
{
    static const int sector_data[6][3] = {{1, 3, 0}, {1, 0, 2}, {3, 0, 1}, {0, 2, 1}, {0, 1, 3}, {2, 1, 0}};
    const float hscale = 6.0f / HUE_RANGE;
    float h = (float)H, s = (float)S * (1.0f / 255.0f), v = (float)V * (1.0f / 255.0f);
    float b, g, r;
    if (simd_path) {
        h = h * hscale;
        float sector_f = truncf(h);
        h -= sector_f;
        float tab[4];
        tab[0] = v;
        tab[1] = v * (1.0f - s);
        tab[2] = v * fmaf(-s, h, 1.0f);
        tab[3] = v * fmaf(-s, 1.0f - h, 1.0f);
        int sector = (int)sector_f; /* H <= 179 keeps this in 0..5 */
        b = tab[sector_data[sector][0]];
        g = tab[sector_data[sector][1]];
        r = tab[sector_data[sector][2]];
        rgb[0] = hsv_clamp_u8((int)(r * 255.0f));
        rgb[1] = hsv_clamp_u8((int)(g * 255.0f));
        rgb[2] = hsv_clamp_u8((int)(b * 255.0f));
        return;
    }
    if (s == 0) {
        b = g = r = v;
    } else {
        h *= hscale;
        h = fmodf(h, 6.f);
        int sector = (int)floorf(h);
        h -= (float)sector;
        if ((unsigned)sector >= 6u) sector = 0, h = 0.f;
        float tab[4];
        tab[0] = v;
        tab[1] = v * (1.f - s);
        tab[2] = v * fmaf(-s, h, 1.0f);
        float one_minus = 1.f - h;
        float prod = s * one_minus; /* separate rounding: not fused in this path */
        tab[3] = v * (1.f - prod);
        b = tab[sector_data[sector][0]];
        g = tab[sector_data[sector][1]];
        r = tab[sector_data[sector][2]];
    }
    rgb[0] = hsv_clamp_u8((int)lrintf(r * 255.0f));
    rgb[1] = hsv_clamp_u8((int)lrintf(g * 255.0f));
    rgb[2] = hsv_clamp_u8((int)lrintf(b * 255.0f));
}

void aug_rgb_to_hsv(const uint8_t rgb[3], uint8_t hsv[3])
{
    HsvPlan t;
    hsv_tables(&t);
    int H, S, V;
    hsv_from_rgb(&t, rgb[0], rgb[1], rgb[2], &H, &S, &V);
    hsv[0] = (uint8_t)H, hsv[1] = (uint8_t)S, hsv[2] = (uint8_t)V;
}

void aug_hsv_to_rgb(const uint8_t hsv[3], int simd_path, uint8_t rgb[3])
{
    hsv_to_rgb_px(hsv[0], hsv[1], hsv[2], simd_path, rgb);
}

void aug_hsv_draw_gains(Rng *rng, double hgain, double sgain, double vgain, double gains[3])
{
    const double k[3] = {hgain, sgain, vgain};
    for (int i = 0; i < 3; i++) gains[i] = rng_uniform_range(rng, -1.0, 1.0) * k[i] + 1.0;
}

void aug_hsv_luts(const double gains[3], uint8_t lut_h[256], uint8_t lut_s[256], uint8_t lut_v[256])
{
    for (int x = 0; x < 256; x++) {
        double h = fmod(x * gains[0], (double)HUE_RANGE); /* NumPy %: result takes the divisor's sign */
        if (h < 0) h += HUE_RANGE;
        double s = x * gains[1], v = x * gains[2];
        s = s < 0 ? 0 : s > 255 ? 255 : s;
        v = v < 0 ? 0 : v > 255 ? 255 : v;
        lut_h[x] = (uint8_t)(int)h; /* astype(uint8): truncation */
        lut_s[x] = (uint8_t)(int)s;
        lut_v[x] = (uint8_t)(int)v;
    }
}

static void hsv_plan(const double gains[3], HsvPlan *pl)
{
    hsv_tables(pl);
    aug_hsv_luts(gains, pl->lut_h, pl->lut_s, pl->lut_v);
    const float hscale = 6.0f / HUE_RANGE;
    for (int i = 0; i < 256; i++) {
        pl->s[i] = (float)pl->lut_s[i] * (1.0f / 255.0f);
        pl->one_minus_s[i] = 1.0f - pl->s[i];
        pl->v[i] = (float)pl->lut_v[i] * (1.0f / 255.0f);
        /* H < 180 always; entries above are never read. */
        float h = (float)(i < HUE_RANGE ? pl->lut_h[i] : 0) * hscale;
        float sector = truncf(h);
        pl->f[i] = h - sector;
        pl->one_minus_f[i] = 1.0f - pl->f[i];
        pl->sector[i] = (int)sector;
    }
}

static Isa hsv_isa(void)
{
    static atomic_int cached = -1;
    int isa = atomic_load_explicit(&cached, memory_order_relaxed);
    if (isa < 0) {
        isa = (int)cpu_best_isa();
        atomic_store_explicit(&cached, isa, memory_order_relaxed);
    }
    return (Isa)isa;
}

int aug_hsv_apply_isa(ImageU8 *img, const double gains[3], Isa isa, Error *e)
{
    if (aug_image_check(img, "augment_hsv image", e)) return -1;
    HsvPlan pl;
    hsv_plan(gains, &pl);
    const int w = img->width, h = img->height;
    const int simd_end = w - w % AUG_HSV_SIMD_BLOCK;
    if (isa >= ISA_AVX2 && hsv_isa() >= ISA_AVX2) {
        aug_hsv_rows_avx2(&pl, img->pixels, w, h, simd_end);
    } else {
#pragma omp parallel for schedule(static) if ((size_t)w * (size_t)h > HSV_PARALLEL_MIN)
        for (int y = 0; y < h; y++) hsv_row_simd(&pl, img->pixels + (size_t)y * w * 3, simd_end);
    }
    /* The scalar tail of each row (OpenCV rounds there). */
    if (simd_end < w)
        for (int y = 0; y < h; y++) {
            uint8_t *p = img->pixels + ((size_t)y * w + simd_end) * 3;
            for (int x = simd_end; x < w; x++, p += 3) {
                int H, S, V;
                hsv_from_rgb(&pl, p[0], p[1], p[2], &H, &S, &V);
                hsv_to_rgb_px(pl.lut_h[H], pl.lut_s[S], pl.lut_v[V], 0, p);
            }
        }
    return 0;
}

int aug_hsv_apply(ImageU8 *img, const double gains[3], Error *e)
{
    return aug_hsv_apply_isa(img, gains, ISA_AVX512, e);
}
