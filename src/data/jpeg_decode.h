/* JPEG to 8-bit RGB through libjpeg-turbo, pixel-identical to OpenCV's imread. */
#ifndef YV5_JPEG_DECODE_H
#define YV5_JPEG_DECODE_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

/* Decodes an in-memory JPEG (baseline, progressive, grayscale, CMYK) to
 * height x width x 3 RGB. *pixels is malloc'd and owned by the caller. No
 * EXIF orientation is applied here. name is for messages. */
int jpeg_decode_rgb(const uint8_t *data, size_t size, const char *name, uint8_t **pixels, int *width,
                    int *height, Error *e);

#endif
