#include "data/loader_cache.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "augment/letterbox.h"

uint64_t image_cache_estimate(const DatasetSplit *s, int img_size)
{
    uint64_t total = 0;
    for (size_t i = 0; i < s->n_images; i++) {
        int h, w;
        aug_load_size(s->images[i].height, s->images[i].width, img_size, &h, &w);
        total += (uint64_t)h * (uint64_t)w * 3u;
    }
    return total;
}

int mem_available_bytes(const char *meminfo_path, uint64_t *available, uint64_t *total, Error *e)
{
    const char *path = meminfo_path ? meminfo_path : "/proc/meminfo";
    FILE *f = fopen(path, "r");
    if (!f) return err_set(e, "%s: cannot open", path);
    char line[256];
    int have_avail = 0, have_total = 0;
    uint64_t avail_kb = 0, total_kb = 0;
    while (fgets(line, sizeof line, f)) {
        unsigned long long v;
        if (sscanf(line, "MemAvailable: %llu kB", &v) == 1) avail_kb = v, have_avail = 1;
        else if (sscanf(line, "MemTotal: %llu kB", &v) == 1) total_kb = v, have_total = 1;
    }
    fclose(f);
    if (!have_avail) return err_set(e, "%s: no MemAvailable line", path);
    *available = avail_kb * 1024u;
    if (total) *total = have_total ? total_kb * 1024u : 0;
    return 0;
}

int image_cache_fits(uint64_t required, uint64_t available) { return (double)required * 1.1 < (double)available; }

int image_cache_fill(ImageCache *c, const DatasetSplit *s, int img_size, int augment, Error *e)
{
    memset(c, 0, sizeof *c);
    const long n = (long)s->n_images;
    if (n < 1) return err_set(e, "RAM cache: the split has no image");
    c->images = calloc((size_t)n, sizeof *c->images);
    if (!c->images) return err_set(e, "RAM cache: out of memory for %ld image records", n);
    c->n_images = (size_t)n;
    long first_bad = n; /* lowest failing index, so the message does not depend on timing */
    Error bad = {{0}};
#pragma omp parallel for schedule(dynamic, 1)
    for (long i = 0; i < n; i++) {
        Error ei = {{0}};
        ImageU8 orig = {0};
        int rc = image_load(s->images[i].path, &orig, NULL, &ei);
        if (!rc) rc = aug_load_image(&orig, img_size, augment, &c->images[i], &ei);
        image_free(&orig);
        if (rc) {
#pragma omp critical(image_cache_error)
            if (i < first_bad) first_bad = i, bad = ei;
        }
    }
    if (first_bad < n) {
        image_cache_free(c);
        err_set(e, "RAM cache: %s", bad.msg);
        return -1;
    }
    for (long i = 0; i < n; i++) c->bytes += aug_image_bytes(&c->images[i]);
    return 0;
}

void image_cache_free(ImageCache *c)
{
    if (c->images)
        for (size_t i = 0; i < c->n_images; i++) image_free(&c->images[i]);
    free(c->images);
    memset(c, 0, sizeof *c);
}
