/* Drawing on 8-bit RGB images (ImageU8, HWC): rectangle outlines with a
 * thickness, filled rectangles, text in the built-in 5x7 bitmap font scaled
 * by an integer factor, YOLOv5's per-class colour palette (utils/plots.py
 * Colors) and its labelled boxes (Annotator.box_label). Used by the training
 * batch mosaics and the detect command.
 *
 * Coordinates are pixels, x right, y down; rectangles are given by their
 * corners, both inclusive, as PIL's ImageDraw.rectangle takes them. Every
 * function clips to the image, so any coordinates are safe. */
#ifndef YV5_DRAW_H
#define YV5_DRAW_H

#include <stdint.h>

#include "data/image.h"

typedef struct {
    uint8_t r, g, b;
} DrawColor;

/* YOLOv5's 20-colour palette; class c gets colour c mod 20 (c < 0 is taken as -c). */
enum { DRAW_PALETTE_SIZE = 20 };
DrawColor draw_class_color(int cls);

/* Black or white, whichever reads better on bg (ITU-R BT.601 luma against mid grey). */
DrawColor draw_text_color_on(DrawColor bg);

/* Filled rectangle with corners (x1, y1) and (x2, y2), inclusive. */
void draw_fill_rect(ImageU8 *img, int x1, int y1, int x2, int y2, DrawColor c);
/* Outline of that rectangle, `thickness` pixels wide, drawn inwards from the
 * corners (PIL's rule); thickness < 1 is taken as 1. */
void draw_rect(ImageU8 *img, int x1, int y1, int x2, int y2, int thickness, DrawColor c);

/* Size in pixels of `text` in the 5x7 font at integer scale s >= 1: each
 * character advances 6·s, the last one's spacing column is not counted;
 * height 7·s. Non-ASCII bytes count as one character each. */
void draw_text_size(const char *text, int scale, int *width, int *height);
/* Draws text with its top-left corner at (x, y); characters outside printable
 * ASCII draw as '?'. */
void draw_text(ImageU8 *img, int x, int y, const char *text, int scale, DrawColor c);

/* A labelled box as YOLOv5's Annotator.box_label: the box outline
 * (line_width), and when label is non-empty and non-NULL a filled label box
 * in the box colour above the box's top-left corner (inside the box when it
 * would leave the image) holding the text in black or white, whichever
 * reads better. Box corners are truncated to integers. */
void draw_box_label(ImageU8 *img, float x1, float y1, float x2, float y2, const char *label, int line_width,
                    int font_scale, DrawColor c);

#endif
