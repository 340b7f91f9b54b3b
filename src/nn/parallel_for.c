#include "nn/parallel_for.h"

#include <omp.h>

#include "nn/task_pool.h"

/* Shares per thread: more than one, so a thread slowed by other load hands
 * some of its share to the others. */
#define SHARES_PER_THREAD 4

typedef struct {
    RangeFn fn;
    const void *ctx;
    long long count;
    int shares;
} ShareCtx;

static void run_share(const void *p, int index, int slot)
{
    (void)slot;
    const ShareCtx *c = p;
    long long lo = c->count * index / c->shares, hi = c->count * (index + 1) / c->shares;
    if (lo < hi) c->fn(c->ctx, lo, hi);
}

void parallel_for(long long count, size_t work, size_t min_work, RangeFn fn, const void *ctx)
{
    if (count <= 0) return;
    const int threads = count < 2 || work < min_work || omp_in_parallel() ? 1 : task_pool_threads((int)(count < 4096 ? count : 4096));
    if (threads < 2) {
        fn(ctx, 0, count);
        return;
    }
    long long shares = (long long)threads * SHARES_PER_THREAD;
    if (shares > count) shares = count;
    ShareCtx c = {fn, ctx, count, (int)shares};
    task_pool_run((int)shares, threads, run_share, &c);
}
