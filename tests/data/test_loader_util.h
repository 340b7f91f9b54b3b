/* Helpers for the loader tests: small datasets written at run time (the
 * shapes generator, or YOLO txt datasets with chosen image sizes) and a
 * hash of a batch's bytes for comparing runs. */
#ifndef YV5_TEST_LOADER_UTIL_H
#define YV5_TEST_LOADER_UTIL_H

#include "util/temp_dataset.h"
#include "data/dataset.h"
#include "data/loader.h"
#include "data/shapes.h"

/* A shapes dataset (COCO JSON) of n_train images with long side `side`,
 * scanned; root receives the directory (free and rm_rf it). */
static inline int shapes_dataset(const char *tag, int n_train, int side, Dataset *ds, char **root)
{
    *root = tmpdir_make(tag);
    if (!*root) return -1;
    ShapesOptions opt = {n_train, 2, side, 5, 0, 90};
    Error e = {{0}};
    if (shapes_generate(*root, &opt, NULL, &e)) {
        printf("    shapes_generate: %s\n", e.msg);
        return -1;
    }
    char *yaml = fs_join(*root, "shapes.yaml");
    const ScanOptions scan = {0, 0, 0};
    int rc = dataset_open(yaml, 1u << SPLIT_TRAIN, &scan, ds, &e);
    if (rc) printf("    dataset_open: %s\n", e.msg);
    free(yaml);
    return rc;
}

/* A YOLO txt dataset: image k is sizes[k] = (w, h), file images/train/NNN.jpg,
 * with the label text labels[k] (NULL: no label file). Classes a, b, c. */
static inline int sized_dataset(const char *tag, const int (*sizes)[2], const char *const *labels, int n,
                                Dataset *ds, char **root)
{
    *root = tmpdir_make(tag);
    if (!*root) return -1;
    for (int k = 0; k < n; k++) {
        char rel[64];
        snprintf(rel, sizeof rel, "images/train/%03d.jpg", k);
        if (write_jpeg_in(*root, rel, sizes[k][0], sizes[k][1], (unsigned)k + 1)) return -1;
        snprintf(rel, sizeof rel, "labels/train/%03d.txt", k);
        if (labels && labels[k] && write_text_in(*root, rel, labels[k])) return -1;
    }
    char text[600];
    snprintf(text, sizeof text, "path: %s\ntrain: images/train\nval: images/train\nnames: [a, b, c]\n", *root);
    if (write_text_in(*root, "data.yaml", text)) return -1;
    char *yaml = fs_join(*root, "data.yaml");
    const ScanOptions scan = {0, 0, 0};
    Error e = {{0}};
    int rc = dataset_open(yaml, 1u << SPLIT_TRAIN, &scan, ds, &e);
    if (rc) printf("    dataset_open: %s\n", e.msg);
    free(yaml);
    return rc;
}

static inline uint64_t fnv1a(uint64_t h, const void *data, size_t n)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

/* Everything a batch hands out, hashed. */
static inline uint64_t batch_hash(const Batch *b)
{
    uint64_t h = 14695981039346656037ull;
    int head[4] = {b->n, b->h, b->w, b->n_targets};
    h = fnv1a(h, head, sizeof head);
    h = fnv1a(h, b->images, sizeof(float) * 3 * (size_t)b->n * b->h * b->w);
    h = fnv1a(h, b->targets, sizeof(float) * 6 * (size_t)b->n_targets);
    h = fnv1a(h, b->indices, sizeof(int) * (size_t)b->n);
    h = fnv1a(h, b->orig_hw, sizeof(int) * 2 * (size_t)b->n);
    h = fnv1a(h, b->ratio_pad, sizeof(float) * 4 * (size_t)b->n);
    return h;
}

/* Runs epochs first..first+count-1 and writes one hash per batch into
 * hashes (count x loader_batches); returns the number of batches or -1. */
static inline int epoch_hashes(const DatasetSplit *s, const LoaderOptions *o, int first, int count, uint64_t *hashes)
{
    Loader *l;
    Error e = {{0}};
    if (loader_open(&l, s, o, &e)) {
        printf("    loader_open: %s\n", e.msg);
        return -1;
    }
    int nb = loader_batches(l), k = 0;
    for (int ep = first; ep < first + count; ep++) {
        if (loader_start_epoch(l, ep, &e)) {
            printf("    start_epoch: %s\n", e.msg);
            loader_close(l);
            return -1;
        }
        const Batch *b;
        int rc;
        while ((rc = loader_next(l, &b, &e)) == 1) hashes[k++] = batch_hash(b);
        if (rc < 0) {
            printf("    loader_next: %s\n", e.msg);
            loader_close(l);
            return -1;
        }
    }
    loader_close(l);
    return k == nb * count ? nb : -1;
}

#endif
