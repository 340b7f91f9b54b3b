/* Splitting elementwise work among the threads of an OpenMP parallel region
 * without a worksharing construct per tensor: each thread takes a fixed,
 * contiguous share of every tensor. Elementwise results do not depend on the
 * split, so they are the same for any thread count. */
#ifndef YV5_OPTIM_THREAD_SHARE_H
#define YV5_OPTIM_THREAD_SHARE_H

#include <stddef.h>

#ifdef _OPENMP
#include <omp.h>
#define OPTIM_THREAD_ID() omp_get_thread_num()
#define OPTIM_THREAD_COUNT() omp_get_num_threads()
#else
#define OPTIM_THREAD_ID() 0
#define OPTIM_THREAD_COUNT() 1
#endif

/* Below this many elements in all, the optimizer-stage loops run on one
 * thread (starting threads would cost more than the work). */
#define OPTIM_PARALLEL_MIN 32768

/* This thread's share [*begin, *end) of n elements. */
static inline void thread_share(size_t n, int tid, int nthreads, size_t *begin, size_t *end)
{
    size_t chunk = n / (size_t)nthreads, rest = n % (size_t)nthreads, t = (size_t)tid;
    *begin = t * chunk + (t < rest ? t : rest);
    *end = *begin + chunk + (t < rest ? 1 : 0);
}

#endif
