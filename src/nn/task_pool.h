/* A small pool of worker threads for the layers' parallel loops, built so that
 * a slow or descheduled thread never holds the others up more than the task
 * it is actually running.
 *
 * Why not an OpenMP parallel region per loop: a region ends in a barrier that
 * waits for every thread of the team, including one the OS has not even
 * scheduled yet, and libgomp's waiting threads spin for milliseconds. On a
 * machine shared with other work (2 cores, load above 2) each of the hundreds
 * of regions of a training step then costs a scheduler time slice, and two
 * threads end up several times slower than one. Here the caller publishes the
 * tasks, takes tasks itself, and waits only for tasks other threads have
 * claimed; a worker that wakes late finds nothing left and goes back to sleep.
 *
 * Thread count: omp_get_max_threads() at the call (so OMP_NUM_THREADS and
 * omp_set_num_threads govern it as they govern the rest of the program). The
 * pool grows to that many threads minus the caller on first use and keeps
 * them, sleeping, between jobs. One job at a time: a call from inside a task,
 * or while another thread's job is running, runs its tasks in order on the
 * calling thread.
 *
 * Results never depend on which thread runs a task, as long as each task's
 * result depends on its index only (every user's contract). */
#ifndef YV5_TASK_POOL_H
#define YV5_TASK_POOL_H

/* task(ctx, index, slot): slot is the running thread's place in this job, in
 * [0, task_pool_threads(count)): 0 for the caller, so per-thread buffers can
 * be indexed by it. */
typedef void (*PoolTask)(const void *ctx, int index, int slot);

/* Threads a job of `count` tasks would use: min(count, omp_get_max_threads()),
 * and 1 when called from inside a task. */
int task_pool_threads(int count);

/* Runs task(ctx, i, slot) for every i in [0, count) and returns when all have
 * finished. At most max_threads threads take part (<= 0: no limit beyond
 * task_pool_threads). */
void task_pool_run(int count, int max_threads, PoolTask task, const void *ctx);

/* Runs the task once on the calling thread and once on every worker the pool
 * has started (each with its own slot; i counts arrivals), for per-thread
 * set-up such as growing per-thread buffers; a worker started later notes a
 * cache high-water rise (core/cache_high_water.h) so that the next
 * thread_caches_sync reaches it. Returns 0; -1 when another thread's job is
 * running, and then the task ran on the calling thread only (the caller may
 * retry later). From inside a task: the calling thread only. */
int task_pool_each_thread(PoolTask task, const void *ctx);

/* Whether the calling thread is running a pool task (work it starts must then
 * stay on this thread: nested pool jobs run inline, and it must not start
 * OpenMP teams either). */
int task_pool_in_task(void);

#endif
