/* The layers' one parallel-loop pattern: a loop over `count` independent
 * items, split into contiguous shares run on the task pool (task_pool.h) when
 * the work pays for it, run in place otherwise (also inside a pool task or an
 * OpenMP region: one parallel level at a time).
 *
 * fn(ctx, lo, hi) handles items [lo, hi); each item must be independent of the
 * others (its result cannot depend on which thread or share runs it), which is
 * what keeps every layer's output the same for any thread count. */
#ifndef YV5_PARALLEL_FOR_H
#define YV5_PARALLEL_FOR_H

#include <stddef.h>

#include "nn/task_pool.h"

typedef void (*RangeFn)(const void *ctx, long long lo, long long hi);

/* Runs fn over [0, count) on the threads when work >= min_work (work: elements
 * touched, the cost measure) and there is more than one thread outside any
 * parallel region; otherwise fn(ctx, 0, count) here. */
void parallel_for(long long count, size_t work, size_t min_work, RangeFn fn, const void *ctx);

/* The same rule, but every item is a task of its own, claimed one at a time
 * (for a few items of very unequal cost): task(ctx, i, slot) for i in
 * [0, count). */
void parallel_for_items(int count, size_t work, size_t min_work, PoolTask task, const void *ctx);

#endif
