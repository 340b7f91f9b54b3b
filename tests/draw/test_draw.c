/* Drawing: rectangles (pixels, thickness, clipping), the palette, text in
 * the bitmap font, labelled boxes, and the batch mosaic written as a JPEG
 * that decodes back to the expected size. */
#include <unistd.h>

#include "augment/image_ops.h"
#include "data/image.h"
#include "draw/plot_images.h"
#include "draw/draw.h"
#include "draw/font5x7.h"
#include "test.h"

static const DrawColor RED = {255, 0, 0}, BLACK = {0, 0, 0}, WHITE = {255, 255, 255};

static ImageU8 blank(int w, int h, uint8_t v)
{
    ImageU8 im = {0};
    Error e;
    if (aug_image_alloc(&im, w, h, &e) == 0) aug_image_fill(&im, v);
    return im;
}

static int is(const ImageU8 *im, int x, int y, DrawColor c)
{
    const uint8_t *p = im->pixels + ((size_t)y * im->width + x) * 3;
    return p[0] == c.r && p[1] == c.g && p[2] == c.b;
}

static int count(const ImageU8 *im, DrawColor c)
{
    int n = 0;
    for (int y = 0; y < im->height; y++)
        for (int x = 0; x < im->width; x++) n += is(im, x, y, c);
    return n;
}

static void rectangle_pixels(void)
{
    ImageU8 im = blank(20, 16, 0);
    draw_rect(&im, 2, 3, 11, 9, 2, RED);
    /* Outline 2 px wide inwards: corners inclusive. */
    int bad = 0;
    for (int y = 0; y < 16; y++)
        for (int x = 0; x < 20; x++) {
            int inside = x >= 2 && x <= 11 && y >= 3 && y <= 9;
            int inner = x >= 4 && x <= 9 && y >= 5 && y <= 7;
            bad += is(&im, x, y, RED) != (inside && !inner);
        }
    CHECK(bad == 0, "%d pixels wrong", bad);
    CHECK(count(&im, RED) == 10 * 7 - 6 * 3, "%d red", count(&im, RED));
    /* Clipping: partly and wholly outside, reversed corners, thick enough to fill. */
    ImageU8 c = blank(10, 10, 0);
    draw_rect(&c, -5, -5, 4, 4, 1, RED);
    CHECK(count(&c, RED) == 9 && is(&c, 4, 0, RED) && is(&c, 0, 4, RED) && !is(&c, 0, 0, RED), "clipped outline");
    draw_rect(&c, 50, 50, 60, 60, 3, WHITE);
    draw_rect(&c, -9, -9, -1, -1, 3, WHITE);
    CHECK(count(&c, WHITE) == 0, "outside: nothing drawn");
    draw_rect(&c, 8, 8, 6, 6, 5, WHITE);
    CHECK(count(&c, WHITE) == 9, "thick small rectangle filled");
    draw_fill_rect(&c, 0, 0, 100, 100, BLACK);
    CHECK(count(&c, BLACK) == 100, "fill clipped to the image");
    image_free(&im);
    image_free(&c);
}

static void palette_and_contrast(void)
{
    DrawColor c0 = draw_class_color(0), c3 = draw_class_color(3), c19 = draw_class_color(19);
    CHECK(c0.r == 0xFF && c0.g == 0x38 && c0.b == 0x38, "class 0 FF3838");
    CHECK(c3.r == 0xFF && c3.g == 0xB2 && c3.b == 0x1D, "class 3 FFB21D");
    CHECK(c19.r == 0xFF && c19.g == 0x37 && c19.b == 0xC7, "class 19 FF37C7");
    DrawColor c20 = draw_class_color(20), c23 = draw_class_color(23);
    CHECK(!memcmp(&c20, &c0, sizeof c0) && !memcmp(&c23, &c3, sizeof c0), "wraps every 20 classes");
    DrawColor on_yellow = draw_text_color_on(c3), on_navy = draw_text_color_on(draw_class_color(12));
    CHECK(on_yellow.r == 0 && on_navy.r == 255, "black on yellow, white on navy");
}

static void text_renders(void)
{
    int w, h;
    draw_text_size("AB", 2, &w, &h);
    CHECK(w == 2 * 6 * 2 - 2 && h == 14, "size %dx%d", w, h);
    draw_text_size("", 3, &w, &h);
    CHECK(w == 0 && h == 21, "empty");
    /* 'T' at scale 1: top row 5 px wide, then the stem. */
    ImageU8 im = blank(12, 10, 0);
    draw_text(&im, 1, 1, "T", 1, WHITE);
    int top = 0, stem = 0;
    for (int x = 1; x <= 5; x++) top += is(&im, x, 1, WHITE);
    for (int y = 2; y <= 7; y++) stem += is(&im, 3, y, WHITE);
    CHECK(top == 5 && stem == 6 && count(&im, WHITE) == 11, "T: top %d stem %d total %d", top, stem,
          count(&im, WHITE));
    /* Scale 3 draws 9 pixels per font pixel; every glyph but space has ink. */
    ImageU8 big = blank(40, 30, 0);
    draw_text(&big, 0, 0, "T", 3, WHITE);
    CHECK(count(&big, WHITE) == 11 * 9, "scaled T: %d", count(&big, WHITE));
    int empty = 0;
    for (int ch = 33; ch < 127; ch++) {
        const uint8_t *g = font5x7_glyph((unsigned char)ch);
        int ink = 0;
        for (int r = 0; r < FONT5X7_H; r++) ink |= g[r];
        empty += ink == 0 || (ink & ~0x1F);
    }
    CHECK(empty == 0, "%d glyphs without ink or wider than 5", empty);
    CHECK(font5x7_glyph(200) == font5x7_glyph('?'), "non-ASCII drawn as ?");
    draw_text(&big, 38, 26, "Tclipped at the edge", 2, RED); /* must not write outside */
    CHECK(count(&big, RED) > 0, "partly visible text");
    image_free(&im);
    image_free(&big);
}

static void labelled_box(void)
{
    ImageU8 im = blank(100, 80, 0);
    DrawColor c = draw_class_color(5); /* bright green: black text */
    draw_box_label(&im, 20.7f, 30.2f, 70.9f, 60.5f, "cat", 2, 1, c);
    CHECK(is(&im, 20, 40, c) && is(&im, 21, 40, c) && !is(&im, 22, 40, c), "left edge 2 px at x = 20 (truncated)");
    CHECK(is(&im, 70, 40, c) && is(&im, 69, 40, c) && !is(&im, 68, 40, c), "right edge");
    /* label box above: height 7 + 2 padding, width 17 + 2, ending at row 29 */
    CHECK(is(&im, 20, 21, c) && is(&im, 38, 21, c) && !is(&im, 39, 21, c) && !is(&im, 20, 20, c), "label box");
    int text = 0;
    for (int y = 21; y < 30; y++)
        for (int x = 20; x < 39; x++) text += is(&im, x, y, BLACK);
    CHECK(text > 10, "text pixels in the label box: %d", text);
    /* At the top edge the label goes inside the box. */
    ImageU8 top = blank(60, 40, 0);
    draw_box_label(&top, 5, 2, 50, 30, "x", 1, 1, RED);
    CHECK(is(&top, 5, 10, RED) && is(&top, 10, 3, RED) && count(&top, WHITE) > 0, "label inside, white on red");
    /* A box at the right border: the 19 px wide label slides left to end at
     * the last column instead of losing its end. */
    ImageU8 right = blank(60, 40, 0);
    draw_box_label(&right, 50, 20, 59, 35, "cat", 1, 1, c);
    CHECK(is(&right, 59, 12, c) && is(&right, 41, 12, c) && !is(&right, 40, 12, c), "label box x 41..59");
    int right_text = 0;
    for (int y = 11; y < 20; y++)
        for (int x = 41; x < 60; x++) right_text += is(&right, x, y, BLACK);
    CHECK(right_text == text, "all text pixels inside the image: %d, %d away from the border", right_text, text);
    image_free(&im);
    image_free(&top);
    image_free(&right);
}

static void batch_mosaic_jpeg(void)
{
    enum { N = 5, H = 40, W = 60 };
    float *images = malloc(sizeof(float) * N * 3 * H * W);
    for (int i = 0; i < N * 3 * H * W; i++) images[i] = 0.25f;
    const float targets[] = {0, 1, 0.5f, 0.5f, 0.5f, 0.5f, 3, 0, 0.25f, 0.5f, 0.2f, 0.4f};
    const char *names[] = {"zero", "one"};
    const char *paths[] = {"/a/im0.jpg", "/a/im1.jpg", "/a/im2.jpg", "/a/im3.jpg", "/a/im4.jpg"};
    PlotImages p = {images, N, H, W, targets, 2, 6, paths, names, 2};
    ImageU8 m = {0};
    Error e = {{0}};
    CHECK(plot_images_render(&p, &m, &e) == 0, "%s", e.msg);
    /* 5 images: 3x3 grid, column-major; cells 5..8 stay white */
    CHECK(m.width == 3 * W && m.height == 3 * H, "grid %dx%d", m.width, m.height);
    const DrawColor grey = {63, 63, 63}; /* 0.25 * 255 truncated */
    CHECK(is(&m, 30, 20, draw_class_color(1)) || is(&m, W / 4, H / 4, draw_class_color(1)), "box of class 1 drawn");
    CHECK(is(&m, 2 * W + 30, 2 * H + 30, WHITE), "empty cell white");
    CHECK(is(&m, W + 30, 30, grey), "image 3 at column 1, row 0");
    /* image 0's box: centre (30, 20), size 30x20 -> corners (15, 10) .. (45, 30) */
    CHECK(is(&m, 15, 20, draw_class_color(1)) && is(&m, 45, 20, draw_class_color(1)), "box corners");
    /* image 3's box in column 1, row 0 (x offset W): x1 = 0.15·60 = 9 */
    CHECK(is(&m, W + 9, 20, draw_class_color(0)), "image 3 box");
    image_free(&m);

    char path[128];
    snprintf(path, sizeof path, "/tmp/yv5_draw_%ld.jpg", (long)getpid());
    CHECK(plot_images_write_jpeg(&p, path, &e) == 0, "%s", e.msg);
    ImageU8 back = {0};
    CHECK(image_load(path, &back, NULL, &e) == 0 && back.width == 3 * W && back.height == 3 * H, "decodes: %s", e.msg);
    image_free(&back);
    unlink(path);
    CHECK(plot_images_write_jpeg(&p, "/nonexistent_dir_yv5/x.jpg", &e) == -1 && strstr(e.msg, "nonexistent_dir_yv5"),
          "%s", e.msg);

    /* Large batches: 16 images at most, shrunk to 1920 px; prediction rows. */
    enum { BN = 20, BS = 640 };
    float *big = calloc((size_t)BN * 3 * BS * BS, sizeof(float));
    const float preds[] = {0, 2, 320, 320, 100, 100, 0.9f, 1, 2, 320, 320, 100, 100, 0.1f};
    PlotImages q = {big, BN, BS, BS, preds, 2, 7, NULL, NULL, 0};
    CHECK(plot_images_render(&q, &m, &e) == 0 && m.width == 4 * 480 && m.height == 4 * 480, "%dx%d %s", m.width,
          m.height, e.msg);
    /* pixel boxes scaled by 0.75: (270..330)*0.75 ... box left edge near x = 202 */
    DrawColor c2 = draw_class_color(2);
    int left = 0, second = 0;
    for (int x = 195; x < 210; x++) left += is(&m, x, 240, c2);
    for (int x = 195; x < 210; x++) second += is(&m, x, 480 + 240, c2);
    CHECK(left > 0 && second == 0, "conf 0.9 drawn (%d), conf 0.1 not (%d)", left, second);
    image_free(&m);
    free(big);
    PlotImages bad = {images, 0, H, W, NULL, 0, 6, NULL, NULL, 0};
    CHECK(plot_images_render(&bad, &m, &e) == -1 && strstr(e.msg, "empty"), "%s", e.msg);
    free(images);
}

TEST_MAIN(TEST_ENTRY(rectangle_pixels), TEST_ENTRY(palette_and_contrast), TEST_ENTRY(text_renders),
          TEST_ENTRY(labelled_box), TEST_ENTRY(batch_mosaic_jpeg))
