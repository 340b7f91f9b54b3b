/* High-water marks of the per-thread scratch caches (the GEMM's packing
 * buffers, the layers' tile scratch).
 *
 * Each thread grows its own caches when a task needs more, so the thread that
 * happens to run the biggest task of a layer for the first time allocates,
 * and with tasks handed out dynamically that could be in any pass, not only
 * the first. So every kind of cache also keeps the largest size any thread
 * has needed; a thread that grows takes that size at once, and after a pass
 * in which some mark rose, thread_caches_sync (nn/thread_scratch.h) brings
 * every pool thread's caches up to the marks. Passes after that allocate
 * nothing, whichever thread runs which task. */
#ifndef YV5_CACHE_HIGH_WATER_H
#define YV5_CACHE_HIGH_WATER_H

#include <stdatomic.h>
#include <stddef.h>

/* Raises *mark to at least `floats` and returns the mark (the size to
 * allocate). A rise is noted for cache_high_water_take_rise. */
size_t cache_high_water_raise(atomic_size_t *mark, size_t floats);

/* Whether any mark rose since the last call (and clears that). */
int cache_high_water_take_rise(void);

/* Notes a rise again (a sync that could not reach every thread). */
void cache_high_water_note_rise(void);

#endif
