/* The task pool (see task_pool.h).
 *
 * A job is published through one 64-bit word: generation (24 bits), task
 * count (20 bits) and the next unclaimed index (20 bits). A thread claims a
 * task with a compare-and-swap on the whole word, so a claim can only succeed
 * on the job it read, and the job's function and context (plain fields,
 * written before the word is published) are read only after a successful
 * claim: until that task is reported done, the caller cannot start another
 * job. The caller waits until `done` reaches the count; workers that never
 * claimed anything are not waited for.
 *
 * Sleeping: a worker that finds no work spins briefly (consecutive layers
 * publish jobs microseconds apart), then sleeps on a condition variable. The
 * publisher wakes sleepers after publishing; the sleeper re-checks the word
 * after registering as a sleeper under the lock, so no wake-up is lost. */
#include "nn/task_pool.h"

#include "core/cache_high_water.h"

#include <omp.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define MAX_WORKERS 255
#define FIELD_BITS 20
#define FIELD_MASK ((UINT64_C(1) << FIELD_BITS) - 1)
#define MAX_TASKS ((int)FIELD_MASK)
/* How long an idle worker polls for the next job before sleeping. */
#define WORKER_SPIN_NS 100000

typedef struct {
    pthread_mutex_t lock;     /* guards worker creation and sleeping */
    pthread_cond_t wake;
    pthread_mutex_t job_lock; /* held by the caller for the whole job */
    atomic_uint_fast64_t word;
    atomic_int done;
    atomic_int sleepers;
    atomic_int helpers;       /* workers allowed to take part in the current job */
    int workers;              /* created */
    uint64_t generation;      /* of the last job (caller side, under job_lock) */
    PoolTask task;            /* of the current job */
    const void *ctx;
    uint64_t spawn_generation[MAX_WORKERS + 1]; /* per slot: pool.generation when it was created */
} Pool;

/* The process's pool. The workers, once started, live until the process ends;
 * between jobs the pool holds no job state anyone can observe. */
static Pool pool = {.lock = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER, .job_lock = PTHREAD_MUTEX_INITIALIZER};

/* Set while the thread runs a task (nested calls run inline). */
static _Thread_local int in_task;

static uint64_t make_word(uint64_t gen, int count, int next)
{
    return (gen << (2 * FIELD_BITS)) | ((uint64_t)count << FIELD_BITS) | (uint64_t)next;
}

static int word_count(uint64_t w) { return (int)((w >> FIELD_BITS) & FIELD_MASK); }
static int word_next(uint64_t w) { return (int)(w & FIELD_MASK); }

/* Claims the next task of the job in *w (updated to the current word); -1
 * when that job has none left or a newer one replaced it. */
static int claim(uint64_t *w)
{
    for (;;) {
        if (word_next(*w) >= word_count(*w)) return -1;
        uint64_t want = *w + 1;
        if (atomic_compare_exchange_weak(&pool.word, w, want)) {
            int index = word_next(*w);
            *w = want;
            return index;
        }
        /* *w now holds the current word: retry on it (a new job included). */
    }
}

static void run_claimed(int index, int slot)
{
    in_task = 1;
    pool.task(pool.ctx, index, slot);
    in_task = 0;
    atomic_fetch_add(&pool.done, 1);
}

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static uint64_t word_generation(uint64_t w) { return w >> (2 * FIELD_BITS); }

static void *worker_main(void *arg)
{
    const int slot = (int)(intptr_t)arg; /* worker i takes slot i (the caller is 0) */
    /* The generation before the job that started this worker, not the current
     * one: that job may already be published, and the worker must help it. */
    uint64_t seen = pool.spawn_generation[slot];
    for (;;) {
        uint64_t w = atomic_load(&pool.word);
        if (word_generation(w) != seen) {
            /* A new job: take part if this job wants this many threads. */
            if (slot <= atomic_load(&pool.helpers)) {
                int index;
                while ((index = claim(&w)) >= 0) run_claimed(index, slot);
            }
            seen = word_generation(w);
            continue;
        }
        /* Poll for a while, then sleep until a new job is published. */
        double until = now_ns() + WORKER_SPIN_NS;
        int fresh = 0;
        while (!fresh && now_ns() < until)
            for (int i = 0; i < 64 && !fresh; i++) fresh = word_generation(atomic_load(&pool.word)) != seen;
        if (fresh) continue;
        pthread_mutex_lock(&pool.lock);
        atomic_fetch_add(&pool.sleepers, 1);
        while (word_generation(atomic_load(&pool.word)) == seen) pthread_cond_wait(&pool.wake, &pool.lock);
        atomic_fetch_sub(&pool.sleepers, 1);
        pthread_mutex_unlock(&pool.lock);
    }
    return NULL;
}

/* A forked child has only the forking thread: it starts with no workers and
 * fresh locks (a worker may have held one at the fork). */
static void reset_in_child(void)
{
    pthread_mutex_init(&pool.lock, NULL);
    pthread_mutex_init(&pool.job_lock, NULL);
    pthread_cond_init(&pool.wake, NULL);
    pool.workers = 0;
    atomic_store(&pool.sleepers, 0);
}

static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;
static void register_atfork(void) { pthread_atfork(NULL, NULL, reset_in_child); }

/* Starts workers up to `wanted` (fewer if threads cannot be created: the
 * caller then simply does more of the work). */
static void grow(int wanted)
{
    if (wanted > MAX_WORKERS) wanted = MAX_WORKERS;
    if (pool.workers >= wanted) return;
    pthread_once(&atfork_once, register_atfork);
    pthread_mutex_lock(&pool.lock);
    while (pool.workers < wanted) {
        pthread_t t;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        pool.spawn_generation[pool.workers + 1] = pool.generation; /* pthread_create publishes it */
        int rc = pthread_create(&t, &attr, worker_main, (void *)(intptr_t)(pool.workers + 1));
        pthread_attr_destroy(&attr);
        if (rc != 0) break;
        pool.workers++;
        /* Its per-thread caches are empty: the next sync must reach it. */
        cache_high_water_note_rise();
    }
    pthread_mutex_unlock(&pool.lock);
}

int task_pool_in_task(void) { return in_task; }

int task_pool_threads(int count)
{
    if (in_task || count < 2) return 1;
    int threads = omp_get_max_threads();
    if (threads > MAX_WORKERS + 1) threads = MAX_WORKERS + 1;
    return threads < count ? threads : count;
}

/* Publishes a job of `count` tasks for `threads` threads (>= 2, workers
 * started), takes part, and returns when all have finished. The caller holds
 * job_lock; it is released here. */
static void run_job(int count, int threads, PoolTask task, const void *ctx)
{
    /* Publish: the fields first, then the word (sequentially consistent, so
     * the sleeper count read below cannot be from before it). */
    pool.task = task;
    pool.ctx = ctx;
    atomic_store(&pool.done, 0);
    atomic_store(&pool.helpers, threads - 1);
    pool.generation = (pool.generation + 1) & ((UINT64_C(1) << (64 - 2 * FIELD_BITS)) - 1);
    uint64_t w = make_word(pool.generation, count, 0);
    atomic_store(&pool.word, w);
    if (atomic_load(&pool.sleepers) > 0) {
        pthread_mutex_lock(&pool.lock);
        pthread_cond_broadcast(&pool.wake);
        pthread_mutex_unlock(&pool.lock);
    }
    int index;
    while ((index = claim(&w)) >= 0) run_claimed(index, 0);
    /* Only tasks other threads claimed are left: wait for them, giving the
     * CPU away when it takes long (the other thread may be waiting for it). */
    for (int spins = 0; atomic_load(&pool.done) < count; spins++) {
        if (spins > 2000) sched_yield();
    }
    pthread_mutex_unlock(&pool.job_lock);
}

void task_pool_run(int count, int max_threads, PoolTask task, const void *ctx)
{
    int threads = task_pool_threads(count);
    if (max_threads > 0 && threads > max_threads) threads = max_threads;
    if (threads < 2 || count > MAX_TASKS || pthread_mutex_trylock(&pool.job_lock) != 0) {
        int was = in_task;
        in_task = 1;
        for (int i = 0; i < count; i++) task(ctx, i, 0);
        in_task = was;
        return;
    }
    grow(threads - 1);
    run_job(count, threads, task, ctx);
}

typedef struct {
    PoolTask task;
    const void *ctx;
    int count;
    atomic_int arrived;
} EachThreadCtx;

/* Holds its thread until every task of the job has been claimed, so that no
 * thread can claim two: each of the `count` threads runs exactly one. */
static void each_thread_task(const void *p, int index, int slot)
{
    EachThreadCtx *c = (EachThreadCtx *)p;
    atomic_fetch_add(&c->arrived, 1);
    for (int spins = 0; atomic_load(&c->arrived) < c->count; spins++)
        if (spins > 2000) sched_yield();
    c->task(c->ctx, index, slot);
}

int task_pool_each_thread(PoolTask task, const void *ctx)
{
    const int nested = in_task;
    if (nested || pthread_mutex_trylock(&pool.job_lock) != 0) {
        in_task = 1;
        task(ctx, 0, 0);
        in_task = nested;
        return nested ? 0 : -1;
    }
    /* Every worker the pool has, whatever the thread count is now: one left
     * out would meet its next job unprepared. */
    const int threads = pool.workers + 1;
    if (threads < 2) {
        pthread_mutex_unlock(&pool.job_lock);
        in_task = 1;
        task(ctx, 0, 0);
        in_task = 0;
        return 0;
    }
    EachThreadCtx c = {task, ctx, threads, 0};
    run_job(threads, threads, each_thread_task, &c);
    return 0;
}
