/* A training step allocates nothing once the first step has run (issue 8).
 *
 * trainer_batch (forward, loss, backward, gradient clipping, optimizer step,
 * zero_grad, EMA update) on the tiny YOLOv5 layout, SGD, AdamW and SGD with
 * bf16 products (--bf16), on 1 and 2 threads: after one warm-up batch, every
 * call of malloc, calloc, realloc, aligned_alloc, posix_memalign and memalign from any thread is counted by
 * the wrappers below (they forward to glibc's allocator), and the count must
 * stay 0. Under AddressSanitizer, which owns malloc, the wrappers are left
 * out and only the steps run. */
#include <errno.h>
#include <omp.h>
#include <stdatomic.h>

#include "core/gemm.h"
#include "core/rng.h"
#include "train_test_util.h"

#include "util/alloc_count.h"

/* ---- The steps ------------------------------------------------------------------------- */

#define BATCH 8
#define IMG 128
#define TARGETS_PER_IMAGE 6
#define COUNTED_BATCHES 4

/* Random images and boxes (several per image, some sharing cells). */
static void make_batch(Batch *b, float *images, float *targets)
{
    Rng r;
    rng_seed(&r, 11);
    for (size_t i = 0; i < (size_t)BATCH * 3 * IMG * IMG; i++) images[i] = (float)rng_uniform(&r);
    for (int k = 0; k < BATCH * TARGETS_PER_IMAGE; k++) {
        float *row = targets + (size_t)k * 6;
        row[0] = (float)(k / TARGETS_PER_IMAGE);
        row[1] = (float)rng_int(&r, 0, 2);
        row[2] = (float)(0.1 + 0.8 * rng_uniform(&r));
        row[3] = (float)(0.1 + 0.8 * rng_uniform(&r));
        row[4] = (float)(0.03 + 0.4 * rng_uniform(&r));
        row[5] = (float)(0.03 + 0.4 * rng_uniform(&r));
    }
    memset(b, 0, sizeof *b);
    b->n = BATCH;
    b->h = IMG;
    b->w = IMG;
    b->images = images;
    b->n_targets = BATCH * TARGETS_PER_IMAGE;
    b->targets = targets;
}

/* One warm-up batch, then COUNTED_BATCHES counted ones, on `threads` threads. */
static void run_steps(OptimizerKind kind, int threads, int bf16)
{
    omp_set_num_threads(threads);
    const char *name = bf16 ? "SGD --bf16" : optimizer_kind_name(kind);
    Error e = {{0}};
    Model m;
    if (model_create_from_yaml(&m, TRAIN_TINY_CFG, 3, &e)) {
        CHECK(0, "%s", e.msg);
        return;
    }
    Rng r;
    rng_seed(&r, 5);
    model_init_weights(&m, &r);
    Hyp h;
    hyp_default(&h);
    int freeze[1] = {0};
    TrainerConfig cfg = {.optimizer = kind, .epochs = 3, .batch_size = BATCH, .imgsz = IMG, .patience = 100,
                         .freeze = freeze, .n_freeze = 1, .nb = 50, .round_fp16 = 1, .bf16 = bf16};
    Trainer t;
    if (trainer_create(&t, &cfg, &h, &m, NULL, NULL, &e)) {
        CHECK(0, "trainer_create: %s", e.msg);
        model_free(&m);
        return;
    }
    float *images = malloc((size_t)BATCH * 3 * IMG * IMG * sizeof(float));
    float *targets = malloc((size_t)BATCH * TARGETS_PER_IMAGE * 6 * sizeof(float));
    if (!images || !targets) {
        CHECK(0, "out of memory");
        free(images);
        free(targets);
        trainer_free(&t);
        return;
    }
    Batch b;
    make_batch(&b, images, targets);
    trainer_epoch_begin(&t, 0);
    TrainBatchInfo info;
    int rc = trainer_batch(&t, 0, &b, &info, &e);
    CHECK(rc == 0, "%s, %d threads, warm-up batch: %s", name, threads, e.msg);
    int stepped = 0;
    long counted = 0;
    for (int i = 1; rc == 0 && i <= COUNTED_BATCHES; i++) {
        alloc_count_start();
        rc = trainer_batch(&t, i, &b, &info, &e);
        long calls = alloc_count_stop();
        counted += calls;
        CHECK(rc == 0, "%s, %d threads, batch %d: %s", name, threads, i, e.msg);
        CHECK(calls == 0, "%s, %d threads, batch %d: %ld heap allocations", name, threads, i, calls);
        stepped += info.stepped;
    }
    /* Early warm-up batches accumulate 1: every one ends in clip, optimizer and EMA. */
    CHECK(stepped == COUNTED_BATCHES, "%s: the optimizer stepped after %d of %d batches", name, stepped,
          COUNTED_BATCHES);
    if (ALLOC_COUNTING)
        printf("    %s, %d thread%s: %ld allocations in %d batches after the first\n", name, threads,
               threads > 1 ? "s" : "", counted, COUNTED_BATCHES);
    free(images);
    free(targets);
    trainer_free(&t);
}

static void test_sgd_step_allocations(void)
{
    if (!ALLOC_COUNTING) printf("    AddressSanitizer owns malloc: steps run, allocations not counted\n");
    run_steps(OPTIM_SGD, 1, 0);
    run_steps(OPTIM_SGD, 2, 0);
}

static void test_adamw_step_allocations(void)
{
    run_steps(OPTIM_ADAMW, 1, 0);
    run_steps(OPTIM_ADAMW, 2, 0);
}

/* The bf16 products pack into the same per-thread buffers (fewer bytes). */
static void test_bf16_step_allocations(void)
{
    if (!gemm_bf16_available()) {
        printf("    no AVX512_BF16 here: the --bf16 case is skipped\n");
        CHECK(1, "skipped");
        return;
    }
    run_steps(OPTIM_SGD, 1, 1);
    run_steps(OPTIM_SGD, 2, 1);
}

TEST_MAIN(TEST_ENTRY(test_sgd_step_allocations), TEST_ENTRY(test_adamw_step_allocations),
          TEST_ENTRY(test_bf16_step_allocations))
