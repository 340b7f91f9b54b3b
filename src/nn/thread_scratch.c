/* Per-thread scratch buffers (see thread_scratch.h). A thread-specific-data key
 * frees a thread's buffer when the thread exits (OpenMP retires pool threads
 * when a team shrinks); the main thread's stays reachable through its
 * thread-local pointer until the process ends. */
#include "nn/thread_scratch.h"

#include <omp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/cache_high_water.h"
#include "core/gemm.h"
#include "nn/task_pool.h"

typedef struct {
    float *data;
    size_t cap; /* floats */
} ThreadScratch;

static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static pthread_key_t key;
static _Thread_local ThreadScratch *mine;

static void release(void *p)
{
    ThreadScratch *s = p;
    free(s->data);
    free(s);
}

static void key_create(void)
{
    if (pthread_key_create(&key, release) != 0) {
        fprintf(stderr, "thread_scratch: pthread_key_create failed\n");
        abort();
    }
}

static void fatal(size_t bytes)
{
    fprintf(stderr, "thread_scratch: cannot allocate %zu bytes\n", bytes);
    abort();
}

/* The largest scratch any thread has asked for (core/cache_high_water.h). */
static atomic_size_t scratch_mark;

float *thread_scratch_floats(size_t floats)
{
    if (!mine) {
        pthread_once(&key_once, key_create);
        mine = calloc(1, sizeof *mine);
        if (!mine) fatal(sizeof *mine);
        pthread_setspecific(key, mine);
    }
    if (floats > mine->cap || !mine->data) {
        free(mine->data);
        size_t want = cache_high_water_raise(&scratch_mark, floats ? floats : 1);
        size_t bytes = (want * sizeof(float) + 63) & ~(size_t)63;
        mine->data = aligned_alloc(64, bytes);
        if (!mine->data) fatal(bytes);
        mine->cap = bytes / sizeof(float);
    }
    return mine->data;
}

/* On each pool thread: every per-thread cache up to its mark. */
static void prepare_thread(const void *ctx, int index, int slot)
{
    (void)ctx, (void)index, (void)slot;
    size_t mark = atomic_load(&scratch_mark);
    if (mark) thread_scratch_floats(mark);
    gemm_scratch_prepare();
}

void thread_caches_sync(void)
{
    if (task_pool_in_task() || omp_in_parallel() || !cache_high_water_take_rise()) return;
    if (task_pool_each_thread(prepare_thread, NULL) != 0) cache_high_water_note_rise();
}
