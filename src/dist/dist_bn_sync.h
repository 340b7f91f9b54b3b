/* SyncBatchNorm over a Dist: the nn/bn_sync.h hook the trainer hands the
 * model with --sync-bn. Statistics are gathered from every rank and combined
 * in rank order (Chan's parallel variance), so all ranks normalise with the
 * same numbers. */
#ifndef YV5_DIST_BN_SYNC_H
#define YV5_DIST_BN_SYNC_H

#include "dist/dist.h"
#include "nn/bn_sync.h"

typedef struct {
    BnSync hook; /* what the model calls; hook.ctx points back here */
    Dist *dist;
    double *packed; /* count + 2 values per channel, grown once (owned) */
    size_t packed_cap;
} DistBnSync;

void dist_bn_sync_init(DistBnSync *s, Dist *d);
void dist_bn_sync_free(DistBnSync *s);

#endif
