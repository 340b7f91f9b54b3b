/* The data loader behind the BatchSource interface (batch_source.h). Kept in
 * its own file so that code using another source does not link the loader. */
#include "train/batch_source.h"

static int lb_batches(void *ctx) { return loader_batches((const Loader *)ctx); }
static int lb_start(void *ctx, int epoch, Error *e) { return loader_start_epoch((Loader *)ctx, epoch, e); }
static int lb_next(void *ctx, const Batch **b, Error *e) { return loader_next((Loader *)ctx, b, e); }
static void lb_close(void *ctx) { loader_close((Loader *)ctx); }

int loader_source_open(BatchSource *src, const DatasetSplit *split, const LoaderOptions *opt, Error *e)
{
    Loader *l = NULL;
    if (loader_open(&l, split, opt, e) != 0) return -1;
    *src = (BatchSource){l, lb_batches, lb_start, lb_next, lb_close};
    return 0;
}
