/* JPEG decoding is pixel-identical to OpenCV's imread (the reference's loader)
 * on the encodings datasets contain: tests/fixtures/data/jpeg holds small
 * JPEGs and the RGB bytes OpenCV decodes from them
 * (scripts/gen_jpeg_fixtures.py). Corrupt streams fail with a message that
 * names the file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/image.h"
#include "data/jpeg_decode.h"
#include "test.h"

#define FIXTURE_DIR "tests/fixtures/data/jpeg/"

static uint8_t *read_all(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc(len > 0 ? (size_t)len : 1);
    *n = buf && len > 0 ? fread(buf, 1, (size_t)len, f) : 0;
    fclose(f);
    return buf;
}

typedef struct {
    const char *name;
    int width, height;
} Case;

/* Sizes as expected.json records them. */
static const Case CASES[] = {
    {"yuv420", 61, 47}, {"yuv422", 61, 47}, {"yuv444", 61, 47}, {"progressive420", 61, 47},
    {"gray", 61, 47},   {"cmyk", 33, 29},   {"opencv_wide", 97, 13},
};

static void decodes_like_opencv(void)
{
    for (size_t c = 0; c < sizeof CASES / sizeof CASES[0]; c++) {
        char jpg[256], rgb[256];
        snprintf(jpg, sizeof jpg, FIXTURE_DIR "%s.jpg", CASES[c].name);
        snprintf(rgb, sizeof rgb, FIXTURE_DIR "%s.rgb", CASES[c].name);
        size_t n_want = 0;
        uint8_t *want = read_all(rgb, &n_want);
        ImageU8 im;
        Error e = {{0}};
        int rc = image_load(jpg, &im, NULL, &e);
        CHECK(rc == 0, "%s: %s", jpg, e.msg);
        if (rc == 0 && want) {
            CHECK(im.width == CASES[c].width && im.height == CASES[c].height && im.channels == 3, "%s: %dx%dx%d",
                  jpg, im.width, im.height, im.channels);
            size_t n = (size_t)im.width * im.height * 3;
            CHECK(n == n_want, "%s: %zu bytes, OpenCV %zu", jpg, n, n_want);
            if (n == n_want) {
                size_t differ = 0;
                int worst = 0;
                for (size_t i = 0; i < n; i++) {
                    int d = abs((int)im.pixels[i] - (int)want[i]);
                    differ += d != 0;
                    if (d > worst) worst = d;
                }
                CHECK(differ == 0, "%s: %zu of %zu bytes differ from OpenCV (worst by %d)", jpg, differ, n, worst);
            }
        }
        CHECK(want != NULL, "fixture %s", rgb);
        if (rc == 0) image_free(&im);
        free(want);
    }
}

static void corrupt_streams_fail_cleanly(void)
{
    size_t n = 0;
    uint8_t *jpg = read_all(FIXTURE_DIR "yuv420.jpg", &n);
    CHECK(jpg && n > 200, "fixture");
    if (!jpg) return;
    uint8_t *px;
    int w, h;
    Error e = {{0}};
    /* header cut in the middle: libjpeg cannot even start */
    CHECK(jpeg_decode_rgb(jpg, 40, "cut.jpg", &px, &w, &h, &e) == -1 && strstr(e.msg, "cut.jpg") &&
              strstr(e.msg, "libjpeg"),
          "%s", e.msg);
    CHECK(px == NULL, "no pixels on failure");
    /* SOI then garbage */
    uint8_t junk[64] = {0xFF, 0xD8};
    for (int i = 2; i < 64; i++) junk[i] = (uint8_t)(i * 37);
    CHECK(jpeg_decode_rgb(junk, sizeof junk, "junk.jpg", &px, &w, &h, &e) == -1 && strstr(e.msg, "junk.jpg"), "%s",
          e.msg);
    /* scan data truncated: decodes (as OpenCV does, with a warning) without reading past the buffer */
    int rc = jpeg_decode_rgb(jpg, n - 100, "short.jpg", &px, &w, &h, &e);
    CHECK(rc == 0 && w == 61 && h == 47, "truncated scan: rc %d %s", rc, rc ? e.msg : "");
    if (rc == 0) free(px);
    free(jpg);
}

TEST_MAIN(TEST_ENTRY(decodes_like_opencv), TEST_ENTRY(corrupt_streams_fail_cleanly))
