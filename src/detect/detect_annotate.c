/* Annotated detect images (detect_annotate.h). */
#include "detect/detect_annotate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <stb/stb_image_write.h>

#include "draw/draw.h"

void detect_label_text(const AnnotateOptions *o, int cls, float conf, char *buf, size_t cap)
{
    if (cap == 0) return;
    buf[0] = 0;
    if (o->hide_labels) return;
    char index[16];
    const char *name = o->names && cls >= 0 && cls < o->nc && o->names[cls] ? o->names[cls]
                                                                              : (snprintf(index, sizeof index, "%d", cls), index);
    if (o->hide_conf) snprintf(buf, cap, "%s", name);
    else snprintf(buf, cap, "%s %.2f", name, (double)conf);
}

void detect_annotate(ImageU8 *img, const float *det, int n, const AnnotateOptions *o)
{
    int lw = o->line_width < 1 ? 1 : o->line_width;
    int font_scale = lw - 1 < 1 ? 1 : lw - 1; /* about the text height of OpenCV's font at lw / 3 */
    /* detect.py draws in reversed order: the highest score ends on top */
    for (int k = n - 1; k >= 0; k--) {
        const float *d = det + (size_t)k * 6;
        int cls = (int)d[5];
        char label[256];
        detect_label_text(o, cls, d[4], label, sizeof label);
        draw_box_label(img, d[0], d[1], d[2], d[3], label, lw, font_scale, draw_class_color(cls));
    }
}

static const char *extension(const char *path)
{
    const char *slash = strrchr(path, '/');
    const char *dot = strrchr(path, '.');
    return dot && (!slash || dot > slash) ? dot + 1 : "";
}

static int writes_natively(const char *ext)
{
    return !strcasecmp(ext, "jpg") || !strcasecmp(ext, "jpeg") || !strcasecmp(ext, "png") || !strcasecmp(ext, "bmp");
}

char *detect_output_image_path(const char *dir, const char *input_path)
{
    const char *slash = strrchr(input_path, '/');
    const char *name = slash ? slash + 1 : input_path;
    const char *suffix = writes_natively(extension(name)) ? "" : ".jpg";
    size_t len = strlen(dir) + 1 + strlen(name) + strlen(suffix) + 1;
    char *out = malloc(len);
    if (out) snprintf(out, len, "%s/%s%s", dir, name, suffix);
    return out;
}

int detect_write_image(const ImageU8 *img, const char *path, Error *e)
{
    const char *ext = extension(path);
    int ok;
    if (!strcasecmp(ext, "png")) ok = stbi_write_png(path, img->width, img->height, 3, img->pixels, img->width * 3);
    else if (!strcasecmp(ext, "bmp")) ok = stbi_write_bmp(path, img->width, img->height, 3, img->pixels);
    else ok = stbi_write_jpg(path, img->width, img->height, 3, img->pixels, 95);
    if (!ok) return err_set(e, "%s: cannot write the image", path);
    return 0;
}
