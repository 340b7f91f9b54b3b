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

/* Threads for `count` items: 1 below min_work, inside an OpenMP region or
 * inside a pool task (task_pool_threads). */
static int threads_for(long long count, size_t work, size_t min_work)
{
    return count < 2 || work < min_work || omp_in_parallel() ? 1 : task_pool_threads((int)(count < 4096 ? count : 4096));
}

void parallel_for(long long count, size_t work, size_t min_work, RangeFn fn, const void *ctx)
{
    if (count <= 0) return;
    const int threads = threads_for(count, work, min_work);
    if (threads < 2) {
        fn(ctx, 0, count);
        return;
    }
    long long shares = (long long)threads * SHARES_PER_THREAD;
    if (shares > count) shares = count;
    ShareCtx c = {fn, ctx, count, (int)shares};
    task_pool_run((int)shares, threads, run_share, &c);
}

void parallel_for_items(int count, size_t work, size_t min_work, PoolTask task, const void *ctx)
{
    if (count <= 0) return;
    const int threads = threads_for(count, work, min_work);
    if (threads < 2) {
        for (int i = 0; i < count; i++) task(ctx, i, 0);
        return;
    }
    task_pool_run(count, threads, task, ctx);
}
