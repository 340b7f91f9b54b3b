/* The loader's RAM cache (--cache ram, spec §5.13): every image of a split
 * decoded and passed through load_image (long side resized to img_size) once,
 * kept in memory, so samples are built without decoding. Numerically
 * identical to decoding each time.
 *
 * Before caching, the memory it needs is computed exactly from the scanned
 * image sizes (YOLOv5 extrapolates from 30 sampled images) and checked, as
 * YOLOv5 does, against the available memory with a 10 % safety margin. */
#ifndef YV5_LOADER_CACHE_H
#define YV5_LOADER_CACHE_H

#include <stdint.h>

#include "core/error.h"
#include "data/dataset.h"
#include "data/image.h"

typedef struct {
    ImageU8 *images; /* n_images load_image outputs, dataset order */
    size_t n_images;
    uint64_t bytes;  /* pixel bytes held */
} ImageCache;

/* Bytes of the load_image outputs of every image of s at img_size. */
uint64_t image_cache_estimate(const DatasetSplit *s, int img_size);

/* MemAvailable and MemTotal from /proc/meminfo (or meminfo_path when non-NULL,
 * for tests), in bytes. -1 with the reason when unreadable. */
int mem_available_bytes(const char *meminfo_path, uint64_t *available, uint64_t *total, Error *e);

/* YOLOv5's rule: cache only if required·(1 + 0.1) < available. */
int image_cache_fits(uint64_t required, uint64_t available);

/* Decodes and resizes every image (OpenMP threads; `augment` picks bilinear
 * for shrinking as load_image does). Fails, naming the file, on the first
 * image (lowest index) that cannot be read; the cache is then empty. */
int image_cache_fill(ImageCache *c, const DatasetSplit *s, int img_size, int augment, Error *e);
void image_cache_free(ImageCache *c);

#endif
