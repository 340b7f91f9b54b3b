#include "draw/draw.h"

#include <math.h>
#include <string.h>

#include "draw/font5x7.h"

/* Ultralytics' palette (utils/plots.py Colors), RGB. */
static const DrawColor PALETTE[DRAW_PALETTE_SIZE] = {
    {0xFF, 0x38, 0x38}, {0xFF, 0x9D, 0x97}, {0xFF, 0x70, 0x1F}, {0xFF, 0xB2, 0x1D}, {0xCF, 0xD2, 0x31},
    {0x48, 0xF9, 0x0A}, {0x92, 0xCC, 0x17}, {0x3D, 0xDB, 0x86}, {0x1A, 0x93, 0x34}, {0x00, 0xD4, 0xBB},
    {0x2C, 0x99, 0xA8}, {0x00, 0xC2, 0xFF}, {0x34, 0x45, 0x93}, {0x64, 0x73, 0xFF}, {0x00, 0x18, 0xEC},
    {0x84, 0x38, 0xFF}, {0x52, 0x00, 0x85}, {0xCB, 0x38, 0xFF}, {0xFF, 0x95, 0xC8}, {0xFF, 0x37, 0xC7},
};

DrawColor draw_class_color(int cls)
{
    unsigned u = cls < 0 ? 0u - (unsigned)cls : (unsigned)cls;
    return PALETTE[u % DRAW_PALETTE_SIZE];
}

DrawColor draw_text_color_on(DrawColor bg)
{
    /* Luma in 1/1000 units; above mid grey, black text contrasts more. */
    int luma = 299 * bg.r + 587 * bg.g + 114 * bg.b;
    DrawColor black = {0, 0, 0}, white = {255, 255, 255};
    return luma > 128 * 1000 ? black : white;
}

static inline int clampi(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

void draw_fill_rect(ImageU8 *img, int x1, int y1, int x2, int y2, DrawColor c)
{
    if (!img || !img->pixels || img->width < 1 || img->height < 1) return;
    if (x2 < x1) { int t = x1; x1 = x2; x2 = t; }
    if (y2 < y1) { int t = y1; y1 = y2; y2 = t; }
    if (x2 < 0 || y2 < 0 || x1 >= img->width || y1 >= img->height) return;
    x1 = clampi(x1, 0, img->width - 1), x2 = clampi(x2, 0, img->width - 1);
    y1 = clampi(y1, 0, img->height - 1), y2 = clampi(y2, 0, img->height - 1);
    const int ch = img->channels > 0 ? img->channels : 3;
    for (int y = y1; y <= y2; y++) {
        uint8_t *p = img->pixels + ((size_t)y * img->width + x1) * ch;
        for (int x = x1; x <= x2; x++, p += ch) p[0] = c.r, p[1] = c.g, p[2] = c.b;
    }
}

void draw_rect(ImageU8 *img, int x1, int y1, int x2, int y2, int thickness, DrawColor c)
{
    if (x2 < x1) { int t = x1; x1 = x2; x2 = t; }
    if (y2 < y1) { int t = y1; y1 = y2; y2 = t; }
    int t = thickness < 1 ? 1 : thickness;
    /* A thickness covering the whole rectangle fills it. */
    if (2 * t >= x2 - x1 + 1 || 2 * t >= y2 - y1 + 1) {
        draw_fill_rect(img, x1, y1, x2, y2, c);
        return;
    }
    draw_fill_rect(img, x1, y1, x2, y1 + t - 1, c);         /* top */
    draw_fill_rect(img, x1, y2 - t + 1, x2, y2, c);         /* bottom */
    draw_fill_rect(img, x1, y1 + t, x1 + t - 1, y2 - t, c); /* left */
    draw_fill_rect(img, x2 - t + 1, y1 + t, x2, y2 - t, c); /* right */
}

void draw_text_size(const char *text, int scale, int *width, int *height)
{
    int s = scale < 1 ? 1 : scale;
    size_t n = text ? strlen(text) : 0;
    if (width) *width = n ? (int)n * FONT5X7_ADVANCE * s - s : 0;
    if (height) *height = FONT5X7_H * s;
}

void draw_text(ImageU8 *img, int x, int y, const char *text, int scale, DrawColor c)
{
    if (!text) return;
    int s = scale < 1 ? 1 : scale;
    for (const unsigned char *p = (const unsigned char *)text; *p; p++, x += FONT5X7_ADVANCE * s) {
        if (x >= img->width) break;
        const uint8_t *g = font5x7_glyph(*p);
        for (int row = 0; row < FONT5X7_H; row++)
            for (int col = 0; col < FONT5X7_W; col++)
                if (g[row] & (1u << (FONT5X7_W - 1 - col)))
                    draw_fill_rect(img, x + col * s, y + row * s, x + col * s + s - 1, y + row * s + s - 1, c);
    }
}

/* float -> int as Python's int(): truncation toward zero, saturated. */
static int trunc_to_int(float v)
{
    if (!(v == v)) return 0;
    if (v > 1e9f) return 1000000000;
    if (v < -1e9f) return -1000000000;
    return (int)v;
}

void draw_box_label(ImageU8 *img, float x1, float y1, float x2, float y2, const char *label, int line_width,
                    int font_scale, DrawColor c)
{
    int bx1 = trunc_to_int(x1), by1 = trunc_to_int(y1), bx2 = trunc_to_int(x2), by2 = trunc_to_int(y2);
    draw_rect(img, bx1, by1, bx2, by2, line_width, c);
    if (!label || !*label) return;
    int s = font_scale < 1 ? 1 : font_scale;
    int tw, th;
    draw_text_size(label, s, &tw, &th);
    const int pad = s; /* one font pixel around the text */
    int lw = tw + 2 * pad, lh = th + 2 * pad;
    int outside = by1 - lh >= 0; /* fits above the box */
    int top = outside ? by1 - lh : by1;
    /* Slide the label left (never past the left edge) rather than cut its end
     * off when the box touches the right border. */
    int left = bx1;
    if (left + lw > img->width) left = img->width - lw;
    if (left < 0) left = 0;
    draw_fill_rect(img, left, top, left + lw - 1, top + lh - 1, c);
    draw_text(img, left + pad, top + pad, label, s, draw_text_color_on(c));
}
