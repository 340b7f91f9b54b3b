/* The parallel schedule of the layers: the task pool runs every task exactly
 * once and nests safely, parallel_for covers its range, and a whole yolov5n
 * training step (forward, backward) and eval forward give bit-identical
 * results for 1, 2 and 3 threads, whichever of batch-level, per-image or
 * per-layer parallelism each layer uses. */
#include <omp.h>
#include <stdatomic.h>
#include <stdint.h>

#include "model/model.h"
#include "nn/parallel_for.h"
#include "nn/task_pool.h"
#include "test.h"

#define TASKS 1000

typedef struct {
    atomic_int runs[TASKS];
    atomic_int bad_slot;
    int slots;
} CountCtx;

static void count_task(const void *p, int index, int slot)
{
    CountCtx *c = (CountCtx *)p;
    atomic_fetch_add(&c->runs[index], 1);
    if (slot < 0 || slot >= c->slots) atomic_fetch_add(&c->bad_slot, 1);
}

/* Nested job: each outer task runs an inner job, which must run inline. */
static void nested_task(const void *p, int index, int slot)
{
    (void)slot;
    CountCtx *inner = ((CountCtx **)p)[index];
    CHECK(task_pool_in_task(), "inside a task, task_pool_in_task() is 0");
    CHECK(task_pool_threads(10) == 1, "a nested job would use %d threads", task_pool_threads(10));
    task_pool_run(10, 0, count_task, inner);
}

static void pool_runs_every_task_once(void)
{
    const int saved = omp_get_max_threads();
    for (int threads = 1; threads <= 4; threads++) {
        omp_set_num_threads(threads);
        for (int rep = 0; rep < 20; rep++) {
            static CountCtx c;
            memset(&c, 0, sizeof c);
            int count = 1 + (rep * 97) % TASKS;
            c.slots = task_pool_threads(count);
            task_pool_run(count, 0, count_task, &c);
            int wrong = 0;
            for (int i = 0; i < TASKS; i++) wrong += atomic_load(&c.runs[i]) != (i < count ? 1 : 0);
            CHECK(wrong == 0, "%d threads, %d tasks: %d tasks not run exactly once", threads, count, wrong);
            CHECK(atomic_load(&c.bad_slot) == 0, "slot outside [0, %d)", c.slots);
        }
        CHECK(task_pool_threads(100) == threads, "task_pool_threads %d with %d threads", task_pool_threads(100),
              threads);
        CHECK(!task_pool_in_task(), "outside tasks, task_pool_in_task() is 1");
    }
    omp_set_num_threads(3);
    static CountCtx inner[6];
    CountCtx *ptrs[6];
    for (int i = 0; i < 6; i++) {
        memset(&inner[i], 0, sizeof inner[i]);
        inner[i].slots = 1;
        ptrs[i] = &inner[i];
    }
    task_pool_run(6, 0, nested_task, ptrs);
    for (int i = 0; i < 6; i++)
        for (int k = 0; k < 10; k++) CHECK(atomic_load(&inner[i].runs[k]) == 1, "nested job %d task %d", i, k);
    omp_set_num_threads(saved);
}

static void mark_range(const void *p, long long lo, long long hi)
{
    atomic_int *hits = (atomic_int *)p;
    for (long long i = lo; i < hi; i++) atomic_fetch_add(&hits[i], 1);
}

static void parallel_for_covers_range(void)
{
    static atomic_int hits[5000];
    const int saved = omp_get_max_threads();
    for (int threads = 1; threads <= 3; threads++) {
        omp_set_num_threads(threads);
        const long long counts[4] = {1, 7, 64, 5000};
        for (int k = 0; k < 4; k++) {
            memset(hits, 0, sizeof hits);
            parallel_for(counts[k], (size_t)counts[k] * 1000, 1, mark_range, hits);
            int wrong = 0;
            for (long long i = 0; i < 5000; i++) wrong += atomic_load(&hits[i]) != (i < counts[k] ? 1 : 0);
            CHECK(wrong == 0, "%d threads, count %lld: %d items not visited once", threads, counts[k], wrong);
        }
    }
    omp_set_num_threads(saved);
}

/* ---- whole model ---- */

typedef struct {
    float *pred[MODEL_MAX_LEVELS], *grads, *buffers, *dinput, *decoded;
    size_t numel[MODEL_MAX_LEVELS], n_decoded, n_params, n_buffers;
} Snapshot;

static float *copy_of(const float *src, size_t count)
{
    float *d = malloc((count ? count : 1) * sizeof(float));
    if (d) memcpy(d, src, count * sizeof(float));
    return d;
}

/* One training step (forward, fixed upstream gradient, backward) and one eval
 * forward of another batch, with `threads` threads, from the same weights. */
static int run_model(int threads, Snapshot *s)
{
    memset(s, 0, sizeof *s);
    const int saved = omp_get_max_threads();
    omp_set_num_threads(threads);
    Model m;
    Error e;
    if (model_create_from_yaml(&m, "models/yolov5n.yaml", 3, &e) != 0) {
        CHECK(0, "%s", e.msg);
        omp_set_num_threads(saved);
        return -1;
    }
    Rng rng;
    rng_seed(&rng, 7);
    model_init_weights(&m, &rng);
    const int n = 3, h = 64, w = 96, ne = 5;
    const size_t count = (size_t)n * 3 * h * w, count_eval = (size_t)ne * 3 * h * w;
    float *x = malloc(count * sizeof(float)), *xe = malloc(count_eval * sizeof(float));
    s->dinput = calloc(count, sizeof(float));
    for (size_t i = 0; i < count; i++) x[i] = (float)rng_uniform(&rng);
    for (size_t i = 0; i < count_eval; i++) xe[i] = (float)rng_uniform(&rng);
    int rc = model_forward(&m, x, n, h, w, MODEL_TRAIN, &e);
    CHECK(rc == 0, "%s", e.msg);
    if (rc == 0) {
        for (int l = 0; l < m.out.nl; l++) {
            for (size_t i = 0; i < m.out.numel[l]; i++) m.out.dpred[l][i] = (float)rng_normal(&rng);
            s->pred[l] = copy_of(m.out.pred[l], m.out.numel[l]);
            s->numel[l] = m.out.numel[l];
        }
        rc = model_backward(&m, NULL, s->dinput, &e);
        CHECK(rc == 0, "%s", e.msg);
    }
    if (rc == 0) {
        rc = model_forward(&m, xe, ne, h, w, MODEL_EVAL, &e);
        CHECK(rc == 0, "%s", e.msg);
    }
    if (rc == 0) {
        s->n_decoded = (size_t)ne * m.out.n_boxes * m.out.no;
        s->decoded = copy_of(m.out.decoded, s->n_decoded);
        s->n_params = m.table.n_params;
        s->n_buffers = m.table.n_buffers;
        s->grads = copy_of(m.grads, s->n_params);
        s->buffers = copy_of(m.buffers, s->n_buffers);
    }
    model_free(&m);
    free(x), free(xe);
    omp_set_num_threads(saved);
    return rc;
}

static void snapshot_free(Snapshot *s)
{
    for (int l = 0; l < MODEL_MAX_LEVELS; l++) free(s->pred[l]);
    free(s->grads), free(s->buffers), free(s->dinput), free(s->decoded);
}

static int same(const float *a, const float *b, size_t count)
{
    return a && b && memcmp(a, b, count * sizeof(float)) == 0;
}

static void model_results_independent_of_threads(void)
{
    Snapshot ref;
    if (run_model(1, &ref) != 0) {
        snapshot_free(&ref);
        return;
    }
    const size_t inputs = (size_t)3 * 3 * 64 * 96;
    for (int threads = 2; threads <= 3; threads++) {
        Snapshot s;
        if (run_model(threads, &s) == 0) {
            for (int l = 0; l < 3; l++)
                CHECK(same(s.pred[l], ref.pred[l], ref.numel[l]), "%d threads: train pred %d differs", threads, l);
            CHECK(same(s.grads, ref.grads, ref.n_params), "%d threads: gradients differ", threads);
            CHECK(same(s.buffers, ref.buffers, ref.n_buffers), "%d threads: BN running stats differ", threads);
            CHECK(same(s.dinput, ref.dinput, inputs), "%d threads: input gradient differs", threads);
            CHECK(same(s.decoded, ref.decoded, ref.n_decoded), "%d threads: eval output differs", threads);
        }
        snapshot_free(&s);
    }
    snapshot_free(&ref);
}

TEST_MAIN(TEST_ENTRY(pool_runs_every_task_once), TEST_ENTRY(parallel_for_covers_range),
          TEST_ENTRY(model_results_independent_of_threads))
