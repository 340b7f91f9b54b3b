/* Data-loader throughput: images per second out of loader_next at
 * --img 640 with the full training augmentation of hyp.scratch-low (mosaic
 * of four decoded JPEGs, random affine, HSV, flips), for 0 workers (samples
 * built on the calling thread, OpenMP inside the kernels), 1 and 2 worker
 * threads, and 2 workers over the RAM cache; plus the validation path
 * (rect batches, letterbox only). The consumer takes batches as fast as they
 * come, so this is the loader's ceiling, not a training-step overlap.
 *
 * Generates its own shapes dataset (64 training images, long side 640) into
 * a temporary directory and removes it afterwards. About 20 s on 2 cores.
 *
 *   bench_loader [images]     (default 64) */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data/dataset.h"
#include "data/fsutil.h"
#include "data/loader.h"
#include "data/shapes.h"
#include "hyp/hyp.h"

static void remove_tree(const char *dir)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "bench_loader: could not remove %s\n", dir);
}

/* Images per second over one epoch (after a warm-up epoch that fills the
 * buffers); -1 on error. */
static double run(const DatasetSplit *s, const LoaderOptions *o, int *targets)
{
    Loader *l;
    Error e = {{0}};
    if (loader_open(&l, s, o, &e)) {
        fprintf(stderr, "bench_loader: %s\n", e.msg);
        return -1;
    }
    double rate = -1;
    for (int epoch = 0; epoch < 2; epoch++) {
        double t0 = omp_get_wtime();
        if (loader_start_epoch(l, epoch, &e)) break;
        const Batch *b;
        int rc, images = 0;
        *targets = 0;
        while ((rc = loader_next(l, &b, &e)) == 1) images += b->n, *targets += b->n_targets;
        if (rc < 0) {
            fprintf(stderr, "bench_loader: %s\n", e.msg);
            break;
        }
        if (epoch == 1) rate = images / (omp_get_wtime() - t0);
    }
    loader_close(l);
    return rate;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 64;
    if (n < 16) n = 16;
    char dir[] = "/tmp/yv5_bench_loader_XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    ShapesOptions so = {n, 16, 640, 7, 0, 90};
    Error e = {{0}};
    double t0 = omp_get_wtime();
    if (shapes_generate(dir, &so, NULL, &e)) {
        fprintf(stderr, "bench_loader: %s\n", e.msg);
        remove_tree(dir);
        return 1;
    }
    char *yaml = fs_join(dir, "shapes.yaml");
    Dataset ds;
    const ScanOptions scan = {0, 0, 0};
    if (dataset_open(yaml, (1u << SPLIT_TRAIN) | (1u << SPLIT_VAL), &scan, &ds, &e)) {
        fprintf(stderr, "bench_loader: %s\n", e.msg);
        free(yaml);
        remove_tree(dir);
        return 1;
    }
    printf("shapes dataset: %d train + 16 val JPEGs, long side 640, generated in %.1f s; OpenMP threads %d\n", n,
           omp_get_wtime() - t0, omp_get_max_threads());
    Hyp hyp;
    hyp_default(&hyp); /* hyp.scratch-low: mosaic 1, translate 0.1, scale 0.5, HSV, fliplr 0.5 */
    printf("%-44s %10s %10s\n", "configuration (batch 16, second epoch timed)", "images/s", "targets");
    struct {
        const char *what;
        int workers, cache;
    } cfgs[] = {{"train 640 full augmentation, workers 0", 0, 0},
                {"train 640 full augmentation, workers 1", 1, 0},
                {"train 640 full augmentation, workers 2", 2, 0},
                {"train 640 full augmentation, workers 2, RAM", 2, 1}};
    int rc = 0;
    for (size_t k = 0; k < sizeof cfgs / sizeof cfgs[0]; k++) {
        LoaderOptions o = {.batch_size = 16, .img_size = 640, .stride = 32, .augment = 1, .shuffle = 1,
                           .workers = cfgs[k].workers, .cache_ram = cfgs[k].cache, .seed = 1, .hyp = &hyp};
        int targets = 0;
        double r = run(&ds.split[SPLIT_TRAIN], &o, &targets);
        if (r < 0) rc = 1;
        printf("%-44s %10.1f %10d\n", cfgs[k].what, r, targets);
        fflush(stdout);
    }
    for (int w = 0; w <= 2; w += 2) {
        LoaderOptions o = {.batch_size = 16, .img_size = 640, .stride = 32, .rect = 1, .pad = 0.5f, .workers = w,
                           .seed = 1};
        int targets = 0;
        double r = run(&ds.split[SPLIT_VAL], &o, &targets);
        if (r < 0) rc = 1;
        char what[64];
        snprintf(what, sizeof what, "val 640 rect letterbox, workers %d", w);
        printf("%-44s %10.1f %10d\n", what, r, targets);
    }
    dataset_close(&ds);
    free(yaml);
    remove_tree(dir);
    return rc;
}
