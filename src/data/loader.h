/* The batch loader: turns a scanned DatasetSplit into batches of network
 * input (RGB, /255, CHW float) and targets, preparing the next batches on
 * worker threads while the trainer computes.
 *
 * Determinism: the sample order of an epoch is a pure function of (seed,
 * epoch), and every random draw of sample i in epoch e comes from an Rng
 * seeded by (seed, e, i) (rng_seed_stream), so batches are bit-identical for
 * any number of workers and any thread timing, and a resumed run can start at
 * any epoch.
 *
 * Threads: `workers` pthreads take the samples of the next batches one by one
 * (each sample is built by one thread with OpenMP off inside it) and fill at
 * most LOADER_PREFETCH batches beyond the one the caller holds; they sleep on
 * condition variables when the queue is full. With workers = 0 each batch is
 * built inside loader_next on the calling thread (OpenMP kernels parallel).
 *
 * Ownership: the Loader owns its threads, queue and batch memory. A Batch
 * returned by loader_next stays valid until the next loader_next /
 * loader_start_epoch / loader_close call on that loader. All batch memory is
 * allocated in loader_open, except target storage, which grows to the
 * largest batch seen and is then reused.
 *
 * Errors: an image that cannot be read or processed while building a batch
 * makes loader_next return -1 for that batch with a message naming the file
 * (the lowest failing position of the batch, so the message does not depend
 * on timing); the loader stays usable and the next call returns the
 * following batch. YOLOv5 stops training on such an image; the trainer
 * should do the same. */
#ifndef YV5_LOADER_H
#define YV5_LOADER_H

#include <stdint.h>
#include <stdio.h>

#include "core/error.h"
#include "data/dataset.h"
#include "hyp/hyp.h"

/* Batches prepared ahead of the one the caller holds (with workers > 0). */
#define LOADER_PREFETCH 2

typedef struct {
    int batch_size;
    int img_size;     /* letterbox / mosaic size (multiple of stride) */
    int stride;       /* max model stride, 32 */
    int augment;      /* training augmentation (mosaic, perspective, HSV, flips, mixup) */
    int rect;         /* rectangular batches sorted by aspect ratio (val; train --rect) */
    float pad;        /* rect padding in strides: 0.5 for val, 0 for train */
    int shuffle;      /* new random order each epoch (train); ignored with rect, as YOLOv5 */
    int workers;      /* preparation threads; 0 = prepare on the calling thread */
    int cache_ram;    /* keep resized decoded images in memory (--cache ram) */
    uint64_t seed;
    /* Data-parallel shard (world > 1): this loader yields rank's part of each
     * epoch's order, as DistributedSampler splits it (order padded to a
     * multiple of world, positions rank, rank + world, ...); batch_size is
     * then the per-rank batch, and rank r's batch b is a slice of the global
     * batch b of world x batch_size images (rect shapes included). world 0
     * or 1: the whole order. */
    int rank, world;
    const Hyp *hyp;   /* augmentation parameters; NULL when augment is 0 */
    /* Where the RAM-cache report ("Caching images (X.XGB ram)", or why not)
     * and option warnings go, one line each; NULL: silent. */
    FILE *log;
} LoaderOptions;

typedef struct {
    int n;             /* images in this batch (the last batch may be smaller) */
    int h, w;          /* size of every image tensor in the batch */
    float *images;     /* n x 3 x h x w, RGB in [0, 1] */
    int n_targets;
    float *targets;    /* n_targets x 6: image index in batch, class, cx, cy, w, h (normalised) */
    int *indices;      /* dataset image index of each batch image */
    int (*orig_hw)[2]; /* original image height, width (for mapping predictions back) */
    /* ratio_pad[i] = {ratio_h, ratio_w, pad_w, pad_h}: the letterbox resize
     * ratio and float padding, as YOLOv5's shapes[i][1]; all 0 for a mosaic
     * sample (YOLOv5: shapes None) */
    float (*ratio_pad)[4];
    int batch_index;   /* position of this batch in the epoch, 0-based */
} Batch;

typedef struct Loader Loader;

/* split must outlive the loader. Fails on invalid options, or when the RAM
 * cache cannot read an image (a cache that would not fit in memory is
 * skipped with a warning instead). */
int loader_open(Loader **out, const DatasetSplit *split, const LoaderOptions *opt, Error *e);
/* ceil(images / batch_size) */
int loader_batches(const Loader *l);
/* Begins epoch `epoch` (any order of epochs is allowed, e.g. when resuming). */
int loader_start_epoch(Loader *l, int epoch, Error *e);
/* 1 with *batch set, 0 at the end of the epoch, -1 on error (e.g. an image
 * that can no longer be read: message names the file). */
int loader_next(Loader *l, const Batch **batch, Error *e);
void loader_close(Loader *l);

/* Height and width of batch b's images (rect: its batch shape; otherwise
 * img_size square). -1 when b is out of range. */
int loader_batch_shape(const Loader *l, int b, int *h, int *w);
/* 1 when the RAM cache is in use. */
int loader_cache_active(const Loader *l);
/* The dataset index at each position of epoch `epoch` for a shuffled
 * n-image split (a pure function of seed and epoch). */
void loader_permutation(uint64_t seed, int epoch, int n, int *order);

#endif
