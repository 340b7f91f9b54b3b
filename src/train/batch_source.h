/* Where the trainer's batches come from: the data loader (data/loader.h) in
 * a real run, anything else in a test. Batches follow loader.h's contract:
 * RGB images in [0, 1], targets (image, class, cx, cy, w, h) normalised, the
 * order of epoch e a pure function of (seed, e). */
#ifndef YV5_TRAIN_BATCH_SOURCE_H
#define YV5_TRAIN_BATCH_SOURCE_H

#include "core/error.h"
#include "data/dataset.h"
#include "data/loader.h"

typedef struct {
    void *ctx;
    int (*batches)(void *ctx);                               /* per epoch */
    int (*start_epoch)(void *ctx, int epoch, Error *e);
    int (*next)(void *ctx, const Batch **batch, Error *e);  /* 1 batch, 0 end, -1 error */
    void (*close)(void *ctx);
} BatchSource;

/* Opens a source over a scanned split with the given options. */
typedef int (*BatchSourceOpen)(BatchSource *src, const DatasetSplit *split, const LoaderOptions *opt, Error *e);

/* The data loader as a BatchSource (src/train/loader_source.c). */
int loader_source_open(BatchSource *src, const DatasetSplit *split, const LoaderOptions *opt, Error *e);

#endif
