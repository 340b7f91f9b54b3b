/* JPEG decode with libjpeg(-turbo), set up as OpenCV's imread sets it up
 * (default islow IDCT, fancy upsampling, RGB output), so our pixels are the
 * reference's pixels: stb_image's IDCT and chroma upsampling differ by a few
 * levels, enough to move validation recall in the third decimal. */
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>

#include "data/jpeg_decode.h"

typedef struct {
    struct jpeg_error_mgr pub;
    jmp_buf escape;
    char message[JMSG_LENGTH_MAX];
} JpegErrorSink;

/* libjpeg reports fatal errors by calling error_exit, which must not return. */
static void jpeg_error_escape(j_common_ptr cinfo)
{
    JpegErrorSink *sink = (JpegErrorSink *)cinfo->err;
    (*cinfo->err->format_message)(cinfo, sink->message);
    longjmp(sink->escape, 1);
}

/* Warnings (e.g. "premature end of data") are not fatal: OpenCV decodes on. */
static void jpeg_warning_ignore(j_common_ptr cinfo, int level)
{
    (void)cinfo;
    (void)level;
}

/* Adobe CMYK JPEGs store inverted ink values; OpenCV maps them to RGB this way. */
static void cmyk_row_to_rgb(const uint8_t *cmyk, uint8_t *rgb, int width)
{
    for (int x = 0; x < width; x++, cmyk += 4, rgb += 3) {
        int k = cmyk[3];
        rgb[0] = (uint8_t)(k - ((255 - cmyk[0]) * k >> 8));
        rgb[1] = (uint8_t)(k - ((255 - cmyk[1]) * k >> 8));
        rgb[2] = (uint8_t)(k - ((255 - cmyk[2]) * k >> 8));
    }
}

int jpeg_decode_rgb(const uint8_t *data, size_t size, const char *name, uint8_t **pixels, int *width,
                    int *height, Error *e)
{
    *pixels = NULL;
    *width = *height = 0;
    struct jpeg_decompress_struct cinfo;
    JpegErrorSink sink;
    /* Touched after setjmp returns a second time, so they must be volatile. */
    uint8_t *volatile out = NULL;
    uint8_t *volatile row = NULL;
    memset(&cinfo, 0, sizeof cinfo);
    cinfo.err = jpeg_std_error(&sink.pub);
    sink.pub.error_exit = jpeg_error_escape;
    sink.pub.emit_message = jpeg_warning_ignore;
    sink.message[0] = 0;
    if (setjmp(sink.escape)) {
        jpeg_destroy_decompress(&cinfo);
        free(out);
        free(row);
        return err_set(e, "%s: cannot decode JPEG (libjpeg: %s)", name, sink.message);
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, (unsigned char *)data, (unsigned long)size);
    jpeg_read_header(&cinfo, TRUE);
    const int cmyk = cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK;
    cinfo.out_color_space = cmyk ? JCS_CMYK : JCS_RGB;
    jpeg_start_decompress(&cinfo);
    const int w = (int)cinfo.output_width, h = (int)cinfo.output_height;
    if (w <= 0 || h <= 0 || (size_t)w * (size_t)h > ((size_t)1 << 31)) {
        jpeg_destroy_decompress(&cinfo);
        return err_set(e, "%s: JPEG of unusable size %dx%d", name, w, h);
    }
    out = malloc((size_t)w * h * 3);
    if (cmyk) row = malloc((size_t)w * 4);
    if (!out || (cmyk && !row)) {
        jpeg_destroy_decompress(&cinfo);
        free(out);
        free(row);
        return err_set(e, "%s: out of memory decoding a %dx%d JPEG", name, w, h);
    }
    while (cinfo.output_scanline < cinfo.output_height) {
        uint8_t *dst = out + (size_t)cinfo.output_scanline * w * 3;
        JSAMPROW target = cmyk ? row : dst;
        if (jpeg_read_scanlines(&cinfo, &target, 1) != 1) break;
        if (cmyk) cmyk_row_to_rgb(row, dst, w);
    }
    /* A truncated stream leaves the remaining rows unwritten; libjpeg-turbo
     * fills them (with a warning) the way OpenCV sees them, so finishing is
     * safe. */
    jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    free(row);
    *pixels = out;
    *width = w;
    *height = h;
    return 0;
}
