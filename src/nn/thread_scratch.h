/* Per-thread scratch for the layer kernels' small working tiles (im2col column
 * tiles, gradient tiles): grown on demand and kept for the thread's life, so
 * the steady state allocates nothing and no caller has to size buffers by a
 * thread count that may change between a forward and its backward.
 *
 * A cache of memory, not state: the contents are overwritten before every use
 * and no call can observe another's. One buffer per thread, so a caller takes
 * it once and carves all its tiles from it; nested use is not allowed (the
 * GEMM keeps its own packing scratch). */
#ifndef YV5_THREAD_SCRATCH_H
#define YV5_THREAD_SCRATCH_H

#include <stddef.h>

/* A 64-byte aligned buffer of at least `floats` floats owned by the calling
 * thread (contents undefined). Aborts when the memory cannot be had, like the
 * GEMM's packing scratch: kernels have no error path. */
float *thread_scratch_floats(size_t floats);

/* After a pass in which some per-thread cache (this scratch, the GEMM's
 * packing buffers) grew past the largest size any thread had needed: grows
 * every pool thread's caches to the new largest sizes (on the task pool's
 * threads, task_pool_each_thread), so that later passes allocate nothing
 * whichever thread runs which task (core/cache_high_water.h). Cheap when
 * nothing grew (one atomic exchange); does nothing inside a pool task or an
 * OpenMP region. Call between passes, e.g. at the end of a forward. */
void thread_caches_sync(void);

/* Floats rounded up to whole 64-byte lines, for carving aligned sub-buffers. */
static inline size_t thread_scratch_lines(size_t floats) { return (floats + 15) / 16 * 16; }

#endif
