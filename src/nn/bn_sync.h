/* Cross-process BatchNorm statistics (SyncBatchNorm) as a hook the fused
 * Conv+BN+act layer calls in training, so nn/ knows nothing of how the
 * processes talk (train/ wires it to dist/). NULL everywhere means plain
 * per-process BatchNorm.
 *
 * Both calls must return the same values on every process, and every
 * process makes them in the same order (one per BN layer per pass). */
#ifndef YV5_BN_SYNC_H
#define YV5_BN_SYNC_H

typedef struct BnSync {
    void *ctx;
    /* Forward: *count elements per channel and mean_m2[2c] = (mean, sum of
     * squared deviations) per channel for this process's batch; replaced by
     * the same over all processes' batches. */
    void (*stats)(void *ctx, int channels, double *count, double *mean_m2);
    /* Backward: sums[2c] = (Σ dL/da, Σ dL/da·(z − mean)) per channel, and
     * *count, replaced by their totals over all processes. */
    void (*sums)(void *ctx, int channels, double *count, double *sums);
} BnSync;

#endif
