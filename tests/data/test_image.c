/* Image header probe (sizes, EXIF orientation, truncation, bad files) and the
 * decode with EXIF orientation applied. Bad files are written at run time. */
#include <stdint.h>

#include <stb/stb_image_write.h>

#include "data/image.h"
#include "util/temp_dataset.h"
#include "test.h"

static char *g_dir;

/* One scratch directory per run, made on first use, removed at exit. */
static char *tmp_path(const char *name)
{
    if (!g_dir) g_dir = tmpdir_make("image");
    return g_dir ? path_in(g_dir, name) : NULL;
}

__attribute__((destructor)) static void remove_scratch(void)
{
    if (g_dir) rm_rf(g_dir);
    free(g_dir);
}

/* A JPEG with an APP1 Exif block holding only the orientation tag, inserted
 * right after SOI. big_endian picks MM or II; broken writes a bad TIFF magic. */
static int write_exif_jpeg(const char *path, const uint8_t *rgb, int w, int h, int orientation, int big_endian,
                           int broken)
{
    char *tmp = tmp_path("exif_src.jpg");
    if (!stbi_write_jpg(tmp, w, h, 3, rgb, 95)) return -1;
    size_t n;
    unsigned char *jpg = slurp(tmp, &n);
    free(tmp);
    if (!jpg) return -1;
    uint8_t app[2 + 2 + 6 + 26];
    uint8_t *t = app + 10;
    app[0] = 0xFF, app[1] = 0xE1, app[2] = 0, app[3] = 2 + 6 + 26;
    memcpy(app + 4, "Exif\0\0", 6);
    /* TIFF header, IFD0 at offset 8 with one entry: 0x0112 SHORT 1 = orientation */
    const uint8_t le[26] = {'I', 'I', 42, 0, 8, 0, 0, 0, 1, 0, 0x12, 0x01, 3, 0, 1, 0, 0, 0, (uint8_t)orientation, 0, 0, 0, 0, 0, 0, 0};
    const uint8_t be[26] = {'M', 'M', 0, 42, 0, 0, 0, 8, 0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, (uint8_t)orientation, 0, 0, 0, 0, 0, 0};
    memcpy(t, big_endian ? be : le, 26);
    if (broken) t[2] = t[3] = 7;
    unsigned char *out = malloc(n + sizeof app);
    memcpy(out, jpg, 2);
    memcpy(out + 2, app, sizeof app);
    memcpy(out + 2 + sizeof app, jpg + 2, n - 2);
    int rc = write_bytes(path, out, n + sizeof app);
    free(out);
    free(jpg);
    return rc;
}

/* left half red, right half blue */
static uint8_t *two_colour(int w, int h)
{
    uint8_t *px = malloc((size_t)w * h * 3);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t *p = px + ((size_t)y * w + x) * 3;
            p[0] = x < w / 2 ? 255 : 0;
            p[1] = 0;
            p[2] = x < w / 2 ? 0 : 255;
        }
    return px;
}

static void probe_reads_sizes_of_each_format(void)
{
    char *jpg = tmp_path("a.jpg"), *png = tmp_path("b.png"), *bmp = tmp_path("c.bmp");
    write_jpeg(jpg, 37, 21, 1);
    write_png(png, 12, 40, 2);
    uint8_t *px = pattern_rgb(25, 11, 3);
    stbi_write_bmp(bmp, 25, 11, 3, px);
    free(px);
    ImageInfo info;
    Error e = {{0}};
    CHECK(image_probe(jpg, 0, &info, &e) == 0, "%s", e.msg);
    CHECK(info.width == 37 && info.height == 21 && info.format == IMAGE_FORMAT_JPEG && info.orientation == 1,
          "jpeg %dx%d fmt %d o %d", info.width, info.height, info.format, info.orientation);
    CHECK(image_probe(png, 0, &info, &e) == 0, "%s", e.msg);
    CHECK(info.width == 12 && info.height == 40 && info.format == IMAGE_FORMAT_PNG, "png %dx%d", info.width, info.height);
    CHECK(image_probe(bmp, 0, &info, &e) == 0, "%s", e.msg);
    CHECK(info.width == 25 && info.height == 11 && info.format == IMAGE_FORMAT_BMP, "bmp %dx%d", info.width, info.height);
    CHECK(image_probe(jpg, 1, &info, &e) == 0, "full decode: %s", e.msg);
    free(jpg);
    free(png);
    free(bmp);
}

static void probe_rejects_bad_files(void)
{
    ImageInfo info;
    Error e = {{0}};
    char *p = tmp_path("nope.jpg");
    CHECK(image_probe(p, 0, &info, &e) == -1 && strstr(e.msg, "missing file"), "missing: %s", e.msg);
    free(p);

    p = tmp_path("empty.jpg");
    write_bytes(p, "", 0);
    CHECK(image_probe(p, 0, &info, &e) == -1 && strstr(e.msg, "empty file (0 bytes)"), "empty: %s", e.msg);
    free(p);

    p = tmp_path("garbage.jpg");
    write_text(p, "this is not an image at all, just text pretending to be one\n");
    CHECK(image_probe(p, 0, &info, &e) == -1 && strstr(e.msg, "unrecognised image format"), "garbage: %s", e.msg);
    free(p);

    p = tmp_path("tiff.tif");
    write_bytes(p, "II*\0\x08\0\0\0\0\0\0\0", 12);
    CHECK(image_probe(p, 0, &info, &e) == -1 && strstr(e.msg, "TIFF is not supported"), "tiff: %s", e.msg);
    free(p);

    p = tmp_path("badheader.jpg");
    write_bytes(p, "\xFF\xD8\xFF\xC0\x00\x03\x01\xFF\xD9", 9);
    CHECK(image_probe(p, 0, &info, &e) == -1 && strstr(e.msg, "corrupt image header"), "bad header: %s", e.msg);
    free(p);

    p = tmp_path("tiny.png");
    write_png(p, 9, 30, 4);
    CHECK(image_probe(p, 0, &info, &e) == -1 && strstr(e.msg, "9x30 is below 10 pixels"), "tiny: %s", e.msg);
    free(p);
    p = tmp_path("ten.png");
    write_png(p, 10, 10, 4);
    CHECK(image_probe(p, 0, &info, &e) == 0, "10x10 is allowed: %s", e.msg);
    free(p);
}

static void probe_detects_truncation(void)
{
    ImageInfo info;
    Error e = {{0}};
    char *src = tmp_path("whole.jpg"), *cut = tmp_path("cut.jpg");
    write_jpeg(src, 64, 48, 5);
    size_t n;
    unsigned char *d = slurp(src, &n);
    write_bytes(cut, d, n * 2 / 3);
    CHECK(image_probe(cut, 0, &info, &e) == -1 && strstr(e.msg, "truncated JPEG"), "jpeg cut: %s", e.msg);
    /* data after the end marker (cameras append such) is fine */
    unsigned char *more = malloc(n + 100);
    memcpy(more, d, n);
    memset(more + n, 0x55, 100);
    write_bytes(cut, more, n + 100);
    CHECK(image_probe(cut, 0, &info, &e) == 0, "trailing data: %s", e.msg);
    free(more);
    free(d);

    char *png = tmp_path("whole.png"), *pcut = tmp_path("cut.png");
    write_png(png, 64, 48, 6);
    d = slurp(png, &n);
    write_bytes(pcut, d, n - 20);
    CHECK(image_probe(pcut, 0, &info, &e) == -1 && strstr(e.msg, "truncated PNG"), "png cut: %s", e.msg);
    free(d);

    /* BMP has no end marker: the header says how long the pixel rows are */
    char *bmp = tmp_path("whole.bmp"), *bcut = tmp_path("cut.bmp");
    uint8_t *px = pattern_rgb(40, 30, 7);
    stbi_write_bmp(bmp, 40, 30, 3, px);
    free(px);
    d = slurp(bmp, &n);
    write_bytes(bcut, d, n / 2);
    CHECK(image_probe(bcut, 0, &info, &e) == -1 && strstr(e.msg, "truncated BMP"), "bmp cut: %s", e.msg);
    free(d);
    free(src);
    free(cut);
    free(png);
    free(pcut);
    free(bmp);
    free(bcut);
}

/* Inserts a `pad`-byte APP2 segment right after SOI (ICC profiles sit there). */
static int pad_after_soi(const char *path, size_t pad)
{
    size_t n;
    unsigned char *d = slurp(path, &n);
    if (!d || pad < 4 || pad > 65535) return -1;
    unsigned char *out = malloc(n + pad + 2);
    memcpy(out, d, 2);
    out[2] = 0xFF, out[3] = 0xE2, out[4] = (uint8_t)(pad >> 8), out[5] = (uint8_t)pad;
    memset(out + 6, 'p', pad - 2);
    memcpy(out + 4 + pad, d + 2, n - 2);
    int rc = write_bytes(path, out, n + pad + 2);
    free(out);
    free(d);
    return rc;
}

static void exif_orientation_swaps_sizes_5_to_8(void)
{
    uint8_t *px = pattern_rgb(30, 20, 8);
    for (int be = 0; be < 2; be++) {
        for (int o = 1; o <= 8; o++) {
            char name[48];
            snprintf(name, sizeof name, "exif_%d_%d.jpg", be, o);
            char *p = tmp_path(name);
            write_exif_jpeg(p, px, 30, 20, o, be, 0);
            ImageInfo info;
            Error e = {{0}};
            CHECK(image_probe(p, 0, &info, &e) == 0, "%s", e.msg);
            int sw = o >= 5;
            CHECK(info.orientation == o, "orientation %d read as %d (%s)", o, info.orientation, be ? "MM" : "II");
            CHECK(info.width == (sw ? 20 : 30) && info.height == (sw ? 30 : 20), "o %d: %dx%d", o, info.width,
                  info.height);
            free(p);
        }
    }
    /* metadata before the Exif block pushes it across the first read and the
     * frame header beyond it: both are still found */
    for (int k = 0; k < 2; k++) {
        char *big = tmp_path("exif_far.jpg");
        write_exif_jpeg(big, px, 30, 20, 8, k, 0);
        pad_after_soi(big, 65520);
        if (k) pad_after_soi(big, 40000);
        ImageInfo fi;
        Error fe = {{0}};
        CHECK(image_probe(big, 0, &fi, &fe) == 0 && fi.orientation == 8 && fi.width == 20 && fi.height == 30,
              "Exif after %d padding segments: %s o %d %dx%d", k + 1, fe.msg, fi.orientation, fi.width, fi.height);
        free(big);
    }
    /* an unreadable Exif block is not fatal: orientation 1 and a note */
    char *p = tmp_path("exif_broken.jpg");
    write_exif_jpeg(p, px, 30, 20, 6, 0, 1);
    ImageInfo info;
    Error e = {{0}};
    CHECK(image_probe(p, 0, &info, &e) == 0, "%s", e.msg);
    CHECK(info.orientation == 1 && info.width == 30 && strstr(info.note, "EXIF"), "o %d note '%s'", info.orientation,
          info.note);
    free(p);
    free(px);
}

/* Expected results derived from PIL's Image.transpose with the methods
 * exif_transpose uses (FLIP_LEFT_RIGHT, ROTATE_180, FLIP_TOP_BOTTOM,
 * TRANSPOSE, ROTATE_270, TRANSVERSE, ROTATE_90) on a 3x2 image 0..5. */
static void orientation_matches_pil(void)
{
    static const uint8_t want[8][6] = {{0, 1, 2, 3, 4, 5}, {2, 1, 0, 5, 4, 3}, {5, 4, 3, 2, 1, 0},
                                       {3, 4, 5, 0, 1, 2}, {0, 3, 1, 4, 2, 5}, {3, 0, 4, 1, 5, 2},
                                       {5, 2, 4, 1, 3, 0}, {2, 5, 1, 4, 0, 3}};
    for (int o = 1; o <= 8; o++) {
        ImageU8 im = {3, 2, 1, malloc(6)};
        for (int i = 0; i < 6; i++) im.pixels[i] = (uint8_t)i;
        Error e = {{0}};
        CHECK(image_apply_orientation(&im, o, &e) == 0, "%s", e.msg);
        int sw = o >= 5;
        CHECK(im.width == (sw ? 2 : 3) && im.height == (sw ? 3 : 2), "o %d size %dx%d", o, im.width, im.height);
        CHECK(memcmp(im.pixels, want[o - 1], 6) == 0, "o %d pixels %d %d %d %d %d %d", o, im.pixels[0], im.pixels[1],
              im.pixels[2], im.pixels[3], im.pixels[4], im.pixels[5]);
        image_free(&im);
    }
    ImageU8 im = {3, 2, 1, malloc(6)};
    Error e = {{0}};
    CHECK(image_apply_orientation(&im, 9, &e) == -1 && strstr(e.msg, "out of range"), "%s", e.msg);
    image_free(&im);
}

static int is_colour(const ImageU8 *im, int x, int y, int r, int b)
{
    const uint8_t *p = im->pixels + ((size_t)y * im->width + x) * 3;
    return abs(p[0] - r) < 40 && p[1] < 40 && abs(p[2] - b) < 40;
}

static void load_applies_exif(void)
{
    uint8_t *px = two_colour(32, 16);
    char *p6 = tmp_path("rot6.jpg"), *p8 = tmp_path("rot8.jpg");
    write_exif_jpeg(p6, px, 32, 16, 6, 0, 0);
    write_exif_jpeg(p8, px, 32, 16, 8, 1, 0);
    free(px);
    ImageU8 im;
    int o = 0;
    Error e = {{0}};
    CHECK(image_load(p6, &im, &o, &e) == 0, "%s", e.msg);
    /* rotated 90 degrees clockwise: the left (red) half is now on top */
    CHECK(o == 6 && im.width == 16 && im.height == 32 && im.channels == 3, "o %d %dx%d", o, im.width, im.height);
    CHECK(is_colour(&im, 8, 4, 255, 0) && is_colour(&im, 8, 28, 0, 255), "rot6 colours");
    image_free(&im);
    CHECK(image_load(p8, &im, &o, &e) == 0, "%s", e.msg);
    CHECK(o == 8 && im.width == 16 && im.height == 32, "o %d %dx%d", o, im.width, im.height);
    CHECK(is_colour(&im, 8, 4, 0, 255) && is_colour(&im, 8, 28, 255, 0), "rot8 colours");
    image_free(&im);
    free(p6);
    free(p8);

    /* written by PIL (big-endian Exif after a JFIF APP0): 30x20 stored, orientation 6 */
    const char *fx = "tests/fixtures/data/exif_orientation6.jpg";
    ImageInfo info;
    CHECK(image_probe(fx, 0, &info, &e) == 0, "%s", e.msg);
    CHECK(info.orientation == 6 && info.width == 20 && info.height == 30, "fixture o %d %dx%d", info.orientation,
          info.width, info.height);
    CHECK(image_load(fx, &im, &o, &e) == 0, "%s", e.msg);
    CHECK(im.width == 20 && im.height == 30 && is_colour(&im, 10, 5, 255, 0) && is_colour(&im, 10, 25, 0, 255),
          "fixture pixels %dx%d", im.width, im.height);
    image_free(&im);

    char *bad = tmp_path("bad.png");
    write_text(bad, "\x89PNG\r\n\x1a\nnot really");
    CHECK(image_load(bad, &im, &o, &e) == -1 && strstr(e.msg, "cannot decode") && strstr(e.msg, "bad.png"), "%s",
          e.msg);
    CHECK(im.pixels == NULL, "no pixels on failure");
    free(bad);
}

TEST_MAIN(TEST_ENTRY(probe_reads_sizes_of_each_format), TEST_ENTRY(probe_rejects_bad_files),
          TEST_ENTRY(probe_detects_truncation), TEST_ENTRY(exif_orientation_swaps_sizes_5_to_8),
          TEST_ENTRY(orientation_matches_pil), TEST_ENTRY(load_applies_exif))
