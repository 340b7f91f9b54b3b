/* Per-thread scratch buffers (see thread_scratch.h). A thread-specific-data key
 * frees a thread's buffer when the thread exits (OpenMP retires pool threads
 * when a team shrinks); the main thread's stays reachable through its
 * thread-local pointer until the process ends. */
#include "nn/thread_scratch.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

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
        size_t bytes = ((floats ? floats : 1) * sizeof(float) + 63) & ~(size_t)63;
        mine->data = aligned_alloc(64, bytes);
        if (!mine->data) fatal(bytes);
        mine->cap = bytes / sizeof(float);
    }
    return mine->data;
}
