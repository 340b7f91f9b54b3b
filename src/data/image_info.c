/* Header probe for dataset scans: size, EXIF orientation and completeness
 * checks without decoding the pixels (except for formats with no cheap check). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <stb/stb_image.h>

#include "data/image.h"
#include "data/jpeg_decode.h"

/* Enough for the header and an Exif block (APP1 is at most 64 KiB); more is read only when needed. */
enum { PROBE_HEAD_BYTES = 64 * 1024 };

static unsigned be16(const uint8_t *p) { return (unsigned)p[0] << 8 | p[1]; }

static unsigned rd16(const uint8_t *p, int big_endian)
{
    return big_endian ? (unsigned)p[0] << 8 | p[1] : (unsigned)p[1] << 8 | p[0];
}

static uint32_t rd32(const uint8_t *p, int big_endian)
{
    return big_endian ? (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]
                      : (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

/* Orientation tag (0x0112) of IFD0 in a TIFF block; 1 when absent, -1 when
 * the block is malformed or the value is out of range. */
static int tiff_orientation(const uint8_t *t, size_t n)
{
    if (n < 8) return -1;
    int big;
    if (t[0] == 'I' && t[1] == 'I') big = 0;
    else if (t[0] == 'M' && t[1] == 'M') big = 1;
    else return -1;
    if (rd16(t + 2, big) != 42) return -1;
    uint32_t ifd = rd32(t + 4, big);
    if (ifd > n - 2) return -1;
    unsigned entries = rd16(t + ifd, big);
    if ((size_t)entries * 12 > n - ifd - 2) return -1;
    for (unsigned i = 0; i < entries; i++) {
        const uint8_t *ent = t + ifd + 2 + 12 * (size_t)i;
        if (rd16(ent, big) != 0x0112) continue;
        unsigned type = rd16(ent + 2, big);
        uint32_t count = rd32(ent + 4, big);
        unsigned v;
        if (type == 3 && count >= 1) v = rd16(ent + 8, big);      /* SHORT, as the standard says */
        else if (type == 4 && count >= 1) v = rd32(ent + 8, big); /* LONG, written by some tools */
        else return -1;
        return (v >= 1 && v <= 8) ? (int)v : -1;
    }
    return 1;
}

int exif_orientation_jpeg(const uint8_t *data, size_t size, int *bad)
{
    if (bad) *bad = 0;
    if (size < 4 || data[0] != 0xFF || data[1] != 0xD8) return 1;
    size_t pos = 2;
    while (pos + 4 <= size) {
        if (data[pos] != 0xFF) return 1; /* lost sync: no usable marker structure */
        unsigned marker = data[pos + 1];
        if (marker == 0xFF) { /* fill byte */
            pos++;
            continue;
        }
        if (marker == 0x01 || (marker >= 0xD0 && marker <= 0xD8)) { /* no length field */
            pos += 2;
            continue;
        }
        if (marker == 0xDA || marker == 0xD9) return 1; /* scan data: no Exif before it */
        size_t len = be16(data + pos + 2);
        if (len < 2) return 1;
        if (marker == 0xE1 && len >= 8 && pos + 10 <= size && memcmp(data + pos + 4, "Exif\0\0", 6) == 0) {
            /* The block may run past a partial read; IFD0 sits near its start. */
            size_t tiff_len = len - 8 < size - (pos + 10) ? len - 8 : size - (pos + 10);
            int o = tiff_orientation(data + pos + 10, tiff_len);
            if (o < 0) {
                if (bad) *bad = 1;
                return 1;
            }
            return o;
        }
        if (pos + 2 + len > size) return 1;
        pos += 2 + len;
    }
    return 1;
}

/* Offset just past the first start-of-scan header, or 0 when there is none. */
static size_t jpeg_scan_offset(const uint8_t *data, size_t size)
{
    size_t pos = 2;
    while (pos + 4 <= size) {
        if (data[pos] != 0xFF) return 0;
        unsigned marker = data[pos + 1];
        if (marker == 0xFF) {
            pos++;
            continue;
        }
        if (marker == 0x01 || (marker >= 0xD0 && marker <= 0xD8)) {
            pos += 2;
            continue;
        }
        size_t len = be16(data + pos + 2);
        if (len < 2 || pos + 2 + len > size) return 0;
        if (marker == 0xDA) return pos + 2 + len;
        pos += 2 + len;
    }
    return 0;
}

/* Does the byte pair a,b occur in data[from..size)? */
static int has_pair(const uint8_t *data, size_t size, size_t from, uint8_t a, uint8_t b)
{
    for (size_t i = from; i + 1 < size; i++)
        if (data[i] == a && data[i + 1] == b) return 1;
    return 0;
}

static int has_bytes(const uint8_t *data, size_t size, const char *what, size_t n)
{
    for (size_t i = 0; i + n <= size; i++)
        if (memcmp(data + i, what, n) == 0) return 1;
    return 0;
}

static ImageFormat sniff_format(const uint8_t *h, size_t n)
{
    if (n >= 3 && h[0] == 0xFF && h[1] == 0xD8 && h[2] == 0xFF) return IMAGE_FORMAT_JPEG;
    if (n >= 8 && memcmp(h, "\x89PNG\r\n\x1a\n", 8) == 0) return IMAGE_FORMAT_PNG;
    if (n >= 2 && h[0] == 'B' && h[1] == 'M') return IMAGE_FORMAT_BMP;
    return IMAGE_FORMAT_OTHER;
}

static const uint8_t PNG_IEND[12] = {0, 0, 0, 0, 'I', 'E', 'N', 'D', 0xAE, 0x42, 0x60, 0x82};

int image_probe(const char *path, int full_decode, ImageInfo *info, Error *e)
{
    memset(info, 0, sizeof *info);
    info->orientation = 1;
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (errno == ENOENT) return err_set(e, "missing file");
        return err_set(e, "cannot open: %s", strerror(errno));
    }
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return err_set(e, "not a regular file");
    }
    size_t size = (size_t)st.st_size;
    if (size == 0) {
        fclose(f);
        return err_set(e, "empty file (0 bytes)");
    }
    size_t head_n = size < PROBE_HEAD_BYTES ? size : PROBE_HEAD_BYTES;
    uint8_t *buf = malloc(size < PROBE_HEAD_BYTES ? size : PROBE_HEAD_BYTES);
    uint8_t tail[12];
    size_t tail_n = size < sizeof tail ? size : sizeof tail;
    int rc = -1;
    if (!buf) {
        err_set(e, "out of memory");
        goto done;
    }
    if (fread(buf, 1, head_n, f) != head_n) {
        err_set(e, "read error: %s", strerror(errno));
        goto done;
    }
    if (fseek(f, -(long)tail_n, SEEK_END) != 0 || fread(tail, 1, tail_n, f) != tail_n) {
        err_set(e, "read error at end of file");
        goto done;
    }
    info->format = sniff_format(buf, head_n);
    if (info->format == IMAGE_FORMAT_OTHER) {
        /* stb_image reads no other format our extension list admits; name the
         * common ones so the message says what to convert. */
        const char *kind = "unrecognised image format";
        if (head_n >= 4 && (memcmp(buf, "II*\0", 4) == 0 || memcmp(buf, "MM\0*", 4) == 0)) kind = "TIFF is not supported";
        else if (head_n >= 12 && memcmp(buf, "RIFF", 4) == 0 && memcmp(buf + 8, "WEBP", 4) == 0) kind = "WebP is not supported";
        err_set(e, "%s (readable formats: JPEG, PNG, BMP)", kind);
        goto done;
    }

    /* Whole-file checks need the whole file; read it only when the cheap
     * end-of-file test fails or the format has no such test. */
    int need_all = full_decode || info->format == IMAGE_FORMAT_BMP;
    if (info->format == IMAGE_FORMAT_JPEG && !(tail_n >= 2 && tail[tail_n - 2] == 0xFF && tail[tail_n - 1] == 0xD9))
        need_all = 1;
    if (info->format == IMAGE_FORMAT_PNG && !(tail_n == 12 && memcmp(tail, PNG_IEND, 12) == 0))
        need_all = 1;
    if (head_n > 0x7fffffff || size > 0x7fffffff) {
        err_set(e, "file too large (%zu bytes)", size);
        goto done;
    }
    int w = 0, h = 0, comp = 0;
    int header_ok = 0;
    if (!need_all) header_ok = stbi_info_from_memory(buf, (int)head_n, &w, &h, &comp);
    if ((need_all || !header_ok) && head_n < size) {
        /* (A JPEG header can also sit behind more than PROBE_HEAD_BYTES of metadata.) */
        uint8_t *all = realloc(buf, size);
        if (!all) {
            err_set(e, "out of memory (%zu bytes)", size);
            goto done;
        }
        buf = all;
        if (fseek(f, (long)head_n, SEEK_SET) != 0 || fread(buf + head_n, 1, size - head_n, f) != size - head_n) {
            err_set(e, "read error: %s", strerror(errno));
            goto done;
        }
        head_n = size;
        header_ok = 0;
    }
    if (!header_ok && !stbi_info_from_memory(buf, (int)head_n, &w, &h, &comp)) {
        err_set(e, "corrupt image header (stb_image: %s)", stbi_failure_reason());
        goto done;
    }
    if (info->format == IMAGE_FORMAT_JPEG) {
        int bad = 0;
        info->orientation = exif_orientation_jpeg(buf, head_n, &bad);
        if (bad) snprintf(info->note, sizeof info->note, "unreadable EXIF orientation ignored");
        if (need_all) {
            size_t scan = jpeg_scan_offset(buf, head_n);
            if (!scan || !has_pair(buf, head_n, scan, 0xFF, 0xD9)) {
                err_set(e, "truncated JPEG (no end-of-image marker after the scan data)");
                goto done;
            }
        }
    } else if (info->format == IMAGE_FORMAT_BMP) {
        /* stb_image reads past the end of a BMP as zeros, so compare the size
         * the header implies (uncompressed pixel rows) with the file's. */
        if (head_n >= 34) {
            uint32_t off = rd32(buf + 10, 0), hdr = rd32(buf + 14, 0);
            if (hdr >= 40) {
                int32_t bw = (int32_t)rd32(buf + 18, 0), bh = (int32_t)rd32(buf + 22, 0);
                unsigned bpp = rd16(buf + 28, 0);
                uint32_t compression = rd32(buf + 30, 0);
                if ((compression == 0 || compression == 3) && bw > 0 && bpp > 0) {
                    unsigned long long rows = (unsigned long long)(bh < 0 ? -(long long)bh : bh);
                    unsigned long long need = off + ((unsigned long long)bw * bpp + 31) / 32 * 4 * rows;
                    if (need > head_n) {
                        err_set(e, "truncated BMP (%zu bytes, the header implies %llu)", head_n, need);
                        goto done;
                    }
                }
            }
        }
    } else if (info->format == IMAGE_FORMAT_PNG && need_all) {
        if (!has_bytes(buf, head_n, "IEND", 4)) {
            err_set(e, "truncated PNG (no IEND chunk)");
            goto done;
        }
    }
    if (full_decode || info->format == IMAGE_FORMAT_BMP) {
        int dw, dh, dc;
        unsigned char *px;
        if (info->format == IMAGE_FORMAT_JPEG) {
            /* The decoder training will use (image_decode), so the probe's verdict holds. */
            Error je = {0};
            if (jpeg_decode_rgb(buf, head_n, "", &px, &dw, &dh, &je)) {
                const char *why = strstr(je.msg, "(libjpeg");
                err_set(e, "cannot decode pixels %s", why ? why : je.msg);
                goto done;
            }
            free(px);
        } else {
            px = stbi_load_from_memory(buf, (int)head_n, &dw, &dh, &dc, 3);
            if (!px) {
                err_set(e, "cannot decode pixels (stb_image: %s)", stbi_failure_reason());
                goto done;
            }
            stbi_image_free(px);
        }
    }
    exif_oriented_size(info->orientation, &w, &h);
    info->width = w;
    info->height = h;
    if (w < IMAGE_MIN_SIDE || h < IMAGE_MIN_SIDE) {
        err_set(e, "image size %dx%d is below %d pixels on a side", w, h, IMAGE_MIN_SIDE);
        goto done;
    }
    rc = 0;
done:
    free(buf);
    fclose(f);
    return rc;
}
