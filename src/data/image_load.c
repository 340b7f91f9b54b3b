/* Full decode to 8-bit RGB with the EXIF orientation applied to the pixels
 * (what OpenCV's imread does for the reference). */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <stb/stb_image.h>

#include "data/fsutil.h"
#include "data/image.h"
#include "data/jpeg_decode.h"

int image_apply_orientation(ImageU8 *img, int o, Error *e)
{
    if (o < 1 || o > 8) return err_set(e, "EXIF orientation %d out of range 1..8", o);
    if (o == 1) return 0;
    const int W = img->width, H = img->height, C = img->channels;
    const int swap = o >= 5;
    const int ow = swap ? H : W, oh = swap ? W : H;
    uint8_t *out = malloc((size_t)W * H * C);
    if (!out) return err_set(e, "out of memory rotating a %dx%d image", W, H);
    for (int y = 0; y < oh; y++) {
        for (int x = 0; x < ow; x++) {
            int sx, sy; /* source pixel shown at (x, y) */
            switch (o) {
            case 2: sx = W - 1 - x; sy = y; break;             /* mirrored */
            case 3: sx = W - 1 - x; sy = H - 1 - y; break;     /* rotated 180 */
            case 4: sx = x; sy = H - 1 - y; break;             /* flipped vertically */
            case 5: sx = y; sy = x; break;                     /* transposed */
            case 6: sx = y; sy = H - 1 - x; break;             /* needs 90 clockwise */
            case 7: sx = W - 1 - y; sy = H - 1 - x; break;     /* transversed */
            default: sx = W - 1 - y; sy = x; break;            /* 8: needs 90 counter-clockwise */
            }
            memcpy(out + ((size_t)y * ow + x) * C, img->pixels + ((size_t)sy * W + sx) * C, (size_t)C);
        }
    }
    free(img->pixels);
    img->pixels = out;
    img->width = ow;
    img->height = oh;
    return 0;
}

int image_decode(const uint8_t *data, size_t size, const char *name, ImageU8 *img, int *orientation,
                 Error *e)
{
    memset(img, 0, sizeof *img);
    if (orientation) *orientation = 1;
    if (size == 0) return err_set(e, "%s: empty file (0 bytes)", name);
    if (size > INT_MAX) return err_set(e, "%s: file too large (%zu bytes)", name, size);
    int w, h, c;
    const int is_jpeg = size >= 3 && data[0] == 0xFF && data[1] == 0xD8;
    uint8_t *px;
    if (is_jpeg) {
        /* libjpeg-turbo, as OpenCV decodes: stb_image's JPEG pixels differ. */
        if (jpeg_decode_rgb(data, size, name, &px, &w, &h, e)) return -1;
    } else {
        /* libstb allocates with the C allocator, so free() releases its buffers. */
        px = stbi_load_from_memory(data, (int)size, &w, &h, &c, 3);
        if (!px) return err_set(e, "%s: cannot decode (stb_image: %s)", name, stbi_failure_reason());
    }
    img->width = w;
    img->height = h;
    img->channels = 3;
    img->pixels = px;
    int o = 1;
    if (is_jpeg) o = exif_orientation_jpeg(data, size, NULL);
    if (image_apply_orientation(img, o, e)) {
        image_free(img);
        return err_prefix(e, "%s", name);
    }
    if (orientation) *orientation = o;
    return 0;
}

int image_load(const char *path, ImageU8 *img, int *orientation, Error *e)
{
    memset(img, 0, sizeof *img);
    uint8_t *data;
    size_t size;
    if (fs_read_file(path, &data, &size, e)) return -1;
    int rc = image_decode(data, size, path, img, orientation, e);
    free(data);
    return rc;
}

void image_free(ImageU8 *img)
{
    free(img->pixels);
    img->pixels = NULL;
    img->width = img->height = img->channels = 0;
}
