/* Images on disk: a cheap header probe for dataset scans (size, EXIF
 * orientation, truncation) and a full decode to 8-bit RGB with the EXIF
 * orientation applied to the pixels (stb_image underneath). */
#ifndef YV5_IMAGE_H
#define YV5_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

/* Images smaller than this on a side are rejected (YOLOv5: "image size <10 pixels"). */
#define IMAGE_MIN_SIDE 10

typedef enum { IMAGE_FORMAT_OTHER = 0, IMAGE_FORMAT_JPEG, IMAGE_FORMAT_PNG, IMAGE_FORMAT_BMP } ImageFormat;

typedef struct {
    int width, height;   /* as displayed: EXIF orientation applied (5..8 swap them) */
    int orientation;     /* EXIF orientation 1..8; 1 when absent */
    ImageFormat format;
    char note[160];      /* non-fatal remark (e.g. "unreadable EXIF block ignored"), or "" */
} ImageInfo;

/* Reads the header (stbi_info) and, for JPEG, the EXIF orientation; checks
 * that the file is complete (JPEG end-of-image marker after the scan data, PNG
 * IEND chunk; other formats are decoded in full). With full_decode, every
 * format is decoded to prove the pixel data is readable. Fails (-1, e names
 * the reason: missing file, empty file, unknown format, truncated, too small)
 * when the image cannot be used. */
int image_probe(const char *path, int full_decode, ImageInfo *info, Error *e);

/* EXIF orientation (1..8) from the APP1 "Exif" segment of an in-memory JPEG;
 * 1 when there is none. *bad is set to 1 when an Exif block exists but cannot
 * be parsed (orientation then treated as 1). */
int exif_orientation_jpeg(const uint8_t *data, size_t size, int *bad);

/* Displayed size of a width x height image stored with EXIF orientation o. */
static inline void exif_oriented_size(int o, int *w, int *h)
{
    if (o >= 5 && o <= 8) {
        int t = *w;
        *w = *h;
        *h = t;
    }
}

/* An 8-bit image, height x width x channels interleaved (HWC), channels in
 * RGB order. Owns pixels (free with image_free). The reference works in BGR;
 * only the channel order differs. */
typedef struct {
    int width, height, channels;
    uint8_t *pixels;
} ImageU8;

/* Decodes path to 3-channel RGB and applies its EXIF orientation, so the
 * result has the size image_probe reports. *orientation (may be NULL) gets
 * the orientation that was applied. */
int image_load(const char *path, ImageU8 *img, int *orientation, Error *e);
/* The same from an encoded file already in memory (name is for messages). */
int image_decode(const uint8_t *data, size_t size, const char *name, ImageU8 *img, int *orientation,
                 Error *e);
/* Rotates/flips the pixels from EXIF orientation o (1..8) to upright, in place
 * (the buffer is replaced; for 5..8 width and height swap). */
int image_apply_orientation(ImageU8 *img, int orientation, Error *e);
void image_free(ImageU8 *img);

#endif
