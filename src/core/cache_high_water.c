#include "core/cache_high_water.h"

/* Set when any mark rises, cleared by the sync that follows: a hint about the
 * caches' sizes, never read by a computation. */
static atomic_int mark_rose;

size_t cache_high_water_raise(atomic_size_t *mark, size_t floats)
{
    size_t seen = atomic_load(mark);
    while (seen < floats) {
        if (atomic_compare_exchange_weak(mark, &seen, floats)) {
            atomic_store(&mark_rose, 1);
            return floats;
        }
    }
    return seen;
}

int cache_high_water_take_rise(void) { return atomic_exchange(&mark_rose, 0); }

void cache_high_water_note_rise(void) { atomic_store(&mark_rose, 1); }
