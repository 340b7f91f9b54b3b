/* Splitting the optimizer-stage loops (optimizer step, EMA, gradient
 * clipping) among threads. They run on the layers' task pool through
 * parallel_for over the flat element range of a block, never in an OpenMP
 * region: libgomp allocates a new team for every region that runs on one
 * thread, and a training step must not allocate. Each share of the range
 * updates the part of every tensor that falls inside it; the updates are
 * elementwise, so the results are the same for any split and thread count. */
#ifndef YV5_OPTIM_PARALLEL_H
#define YV5_OPTIM_PARALLEL_H

#include <stddef.h>

#include "nn/parallel_for.h"

/* Below this many elements in all, the optimizer-stage loops run on one
 * thread (waking threads would cost more than the work). */
#define OPTIM_PARALLEL_MIN 32768

/* The part of the tensor [offset, offset + numel) that lies inside the
 * element range [lo, hi), as indices relative to offset (returns 1); 0 when none. */
static inline int range_overlap(size_t offset, size_t numel, size_t lo, size_t hi, size_t *begin, size_t *end)
{
    if (hi <= offset || lo >= offset + numel) return 0;
    size_t b = lo > offset ? lo - offset : 0;
    size_t e = hi < offset + numel ? hi - offset : numel;
    *begin = b;
    *end = e;
    return 1;
}

#endif
