#include "draw/plot_images.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <stb/stb_image_write.h>

#include "augment/image_ops.h"
#include "augment/resize.h"
#include "draw/draw.h"

/* Last path component, at most 40 characters (YOLOv5 draws Path(p).name[:40]). */
static void file_name40(const char *path, char out[41])
{
    const char *slash = strrchr(path, '/');
    const char *name = slash ? slash + 1 : path;
    snprintf(out, 41, "%s", name);
}

static int check_input(const PlotImages *p, Error *e)
{
    if (!p || !p->images || p->n < 1 || p->h < 1 || p->w < 1)
        return err_set(e, "plot_images: empty batch (n %d, %dx%d)", p ? p->n : 0, p ? p->w : 0, p ? p->h : 0);
    if (p->n_targets > 0 && (!p->targets || (p->target_cols != 6 && p->target_cols != 7)))
        return err_set(e, "plot_images: targets need 6 or 7 columns (got %d)", p->target_cols);
    return 0;
}

int plot_images_render(const PlotImages *p, ImageU8 *out, Error *e)
{
    if (check_input(p, e)) return -1;
    const int bs = p->n < PLOT_IMAGES_MAX_IMAGES ? p->n : PLOT_IMAGES_MAX_IMAGES;
    const int ns = (int)ceil(sqrt((double)bs));
    int h = p->h, w = p->w;
    const size_t plane = (size_t)h * w;
    /* De-normalise when the first image looks like [0, 1] data, as the reference does. */
    float maxv = 0;
    for (size_t k = 0; k < 3 * plane; k++) maxv = p->images[k] > maxv ? p->images[k] : maxv;
    const float mul = maxv <= 1 ? 255.0f : 1.0f;

    ImageU8 grid = {0};
    if (aug_image_alloc(&grid, ns * w, ns * h, e)) return err_prefix(e, "plot_images");
    aug_image_fill(&grid, 255);
    for (int i = 0; i < bs; i++) {
        const int x0 = w * (i / ns), y0 = h * (i % ns);
        const float *src = p->images + (size_t)i * 3 * plane;
        for (int y = 0; y < h; y++) {
            uint8_t *dst = grid.pixels + ((size_t)(y0 + y) * grid.width + x0) * 3;
            for (int x = 0; x < w; x++)
                for (int c = 0; c < 3; c++) {
                    float v = src[c * plane + (size_t)y * w + x] * mul;
                    dst[3 * x + c] = v <= 0 ? 0 : v >= 255 ? 255 : (uint8_t)v; /* truncation as astype(uint8) */
                }
        }
    }

    const double scale = (double)PLOT_IMAGES_MAX_SIZE / ns / (h > w ? h : w);
    if (scale < 1) {
        h = (int)ceil(scale * h);
        w = (int)ceil(scale * w);
        ImageU8 small = {0};
        if (aug_resize(&grid, w * ns, h * ns, AUG_INTER_LINEAR, &small, e)) {
            aug_image_free(&grid);
            return err_prefix(e, "plot_images");
        }
        aug_image_free(&grid);
        grid = small;
    }

    /* YOLOv5's sizes: font size fs, line width fs/10 (at least ~0.3 % of the side, 2 px). */
    const int fs = (int)((h + w) * ns * 0.01);
    int lw = (int)nearbyint(fs / 10.0);
    if (lw < 1) {
        lw = (int)nearbyint((grid.width + grid.height) / 2.0 * 0.003);
        if (lw < 2) lw = 2;
    }
    /* The bitmap font's capital height is 7 of its pixels; a TrueType font of
     * size fs has a cap height near 0.7·fs. */
    int font_scale = (int)nearbyint(fs / 10.0);
    if (font_scale < 1) font_scale = 1;

    const DrawColor white = {255, 255, 255}, name_grey = {220, 220, 220};
    for (int i = 0; i < bs; i++) {
        const int x0 = w * (i / ns), y0 = h * (i % ns);
        draw_rect(&grid, x0, y0, x0 + w, y0 + h, 2, white);
        if (p->paths && p->paths[i]) {
            char name[41];
            file_name40(p->paths[i], name);
            draw_text(&grid, x0 + 5, y0 + 5, name, font_scale, name_grey);
        }
        /* This image's rows; YOLOv5 decides pixels vs normalised per image. */
        float maxc = -INFINITY;
        int any = 0;
        for (int t = 0; t < p->n_targets; t++) {
            const float *r = p->targets + (size_t)t * p->target_cols;
            if ((int)r[0] != i) continue;
            any = 1;
            float x1 = r[2] - r[4] / 2, y1 = r[3] - r[5] / 2, x2 = r[2] + r[4] / 2, y2 = r[3] + r[5] / 2;
            float m = fmaxf(fmaxf(x1, y1), fmaxf(x2, y2));
            maxc = m > maxc ? m : maxc;
        }
        if (!any) continue;
        const int normalised = maxc <= 1.01f;
        for (int t = 0; t < p->n_targets; t++) {
            const float *r = p->targets + (size_t)t * p->target_cols;
            if ((int)r[0] != i) continue;
            float b[4] = {r[2] - r[4] / 2, r[3] - r[5] / 2, r[2] + r[4] / 2, r[3] + r[5] / 2};
            if (normalised) {
                b[0] *= (float)w, b[2] *= (float)w, b[1] *= (float)h, b[3] *= (float)h;
            } else if (scale < 1) {
                for (int k = 0; k < 4; k++) b[k] *= (float)scale;
            }
            b[0] += (float)x0, b[2] += (float)x0, b[1] += (float)y0, b[3] += (float)y0;
            const int cls = (int)r[1];
            const int is_pred = p->target_cols == 7;
            if (is_pred && !(r[6] > 0.25f)) continue;
            char label[128];
            if (p->names && cls >= 0 && cls < p->nc && p->names[cls])
                snprintf(label, sizeof label, "%s", p->names[cls]);
            else
                snprintf(label, sizeof label, "%d", cls);
            if (is_pred) {
                size_t l = strlen(label);
                snprintf(label + l, sizeof label - l, " %.1f", (double)r[6]);
            }
            draw_box_label(&grid, b[0], b[1], b[2], b[3], label, lw, font_scale, draw_class_color(cls));
        }
    }
    *out = grid;
    return 0;
}

int plot_images_write_jpeg(const PlotImages *p, const char *path, Error *e)
{
    ImageU8 img = {0};
    if (plot_images_render(p, &img, e)) return -1;
    int ok = stbi_write_jpg(path, img.width, img.height, 3, img.pixels, 90);
    aug_image_free(&img);
    if (!ok) return err_set(e, "%s: cannot write the JPEG (directory missing or not writable?)", path);
    return 0;
}
