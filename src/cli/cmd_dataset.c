/* `yolov5c dataset`: scan a dataset (summary per split, instances per class,
 * object sizes, warnings), preview augmented training batches, or generate
 * the built-in shapes dataset. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/commands.h"
#include "data/dataset.h"
#include "data/fsutil.h"
#include "data/loader.h"
#include "data/shapes.h"
#include "draw/plot_images.h"
#include "hyp/hyp.h"

static void dataset_usage(FILE *out)
{
    fprintf(out,
            "usage: yolov5c dataset --data FILE [--img N] [--no-cache] [--verify] [--workers N] [--verbose]\n"
            "                       [--hyp FILE] [--preview N [--batch-size N] [--seed N] [--cache-ram]\n"
            "                       [--out DIR | --project DIR --name NAME]]\n"
            "       yolov5c dataset --generate-shapes DIR [--train N] [--val N] [--img N] [--seed N]\n"
            "                       [--txt-labels] [--quality Q]\n"
            "\n"
            "Scan a dataset:\n"
            "  --data FILE        data YAML (YOLOv5 keys: path, train, val, test, nc, names; plus\n"
            "                     train_annotations/val_annotations/test_annotations for COCO JSON).\n"
            "                     A relative 'path' is taken from the current directory.\n"
            "  --img N            image size for the object-size table (default 640)\n"
            "  --no-cache         neither read nor write the label cache (*.yv5cache)\n"
            "  --verify           decode every image while scanning (slow; default: header checks)\n"
            "  --workers N        threads for the image scan (default: all cores)\n"
            "  --verbose          print every warning (default: the first %d per split)\n"
            "\n"
            "Preview what training sees (augmented batches as YOLOv5's train_batch*.jpg):\n"
            "  --preview N        write N training batch mosaics (boxes and class names drawn)\n"
            "  --hyp FILE         augmentation hyperparameters (default: the values of\n"
            "                     hyps/hyp.scratch-low.yaml)\n"
            "  --batch-size N     images per batch (default 16; a mosaic shows up to 16)\n"
            "  --seed N           loader seed (default 0): same seed, same batches\n"
            "  --cache-ram        decode the images once into memory first (--cache ram)\n"
            "  --out DIR          write the mosaics into DIR (created)\n"
            "  --project DIR      else into DIR/NAME, NAME2, NAME3, ... (default runs/dataset)\n"
            "  --name NAME        (default exp)\n"
            "  --img N            also the training size (a multiple of 32)\n"
            "  --workers N        also the loader threads (default 2 for the preview)\n"
            "\n"
            "Generate the built-in shapes dataset (COCO format) into DIR:\n"
            "  --generate-shapes DIR  images/{train,val}/*.jpg, annotations/instances_{train,val}.json,\n"
            "                     and DIR/shapes.yaml (data/shapes.yaml expects DIR ../datasets/shapes)\n"
            "  --train N          training images (default 240)\n"
            "  --val N            validation images (default 60)\n"
            "  --img N            long side of every image (default 320)\n"
            "  --seed N           random seed (default 0); the same seed gives the same files\n"
            "  --txt-labels       also write YOLO txt labels under DIR/labels/{train,val}\n"
            "  --quality Q        JPEG quality 1..100 (default 90)\n",
            20);
}

static int parse_int_arg(const char *opt, const char *v, long lo, long hi, long *out)
{
    if (!v) {
        fprintf(stderr, "yolov5c dataset: %s needs a value\n", opt);
        return -1;
    }
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (*v == 0 || *end || errno || x < lo || x > hi) {
        fprintf(stderr, "yolov5c dataset: %s '%s' must be an integer in %ld..%ld\n", opt, v, lo, hi);
        return -1;
    }
    *out = x;
    return 0;
}

static double now_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int generate(const char *dir, long n_train, long n_val, long img, unsigned long long seed, int txt,
                    long quality)
{
    ShapesOptions opt = {(int)n_train, (int)n_val, (int)img, seed, txt, (int)quality};
    ShapesSummary sum;
    Error e = {{0}};
    double t0 = now_seconds();
    if (shapes_generate(dir, &opt, &sum, &e)) {
        fprintf(stderr, "yolov5c dataset: %s\n", e.msg);
        return 1;
    }
    printf("shapes: wrote %ld train + %ld val images (%d objects, %d backgrounds, %d classes) to %s in %.2f s\n",
           n_train, n_val, sum.objects, sum.backgrounds, SHAPES_NUM_CLASSES, dir, now_seconds() - t0);
    printf("shapes: data YAML %s/shapes.yaml%s\n", dir, txt ? "; YOLO txt labels in labels/" : "");
    return 0;
}

static void print_split(const Dataset *ds, const DatasetSplit *s)
{
    const ScanStats *st = &s->stats;
    const SplitConfig *sc = &ds->cfg.split[s->kind];
    printf("%s: Scanning %s... %zu images, %zu backgrounds, %zu corrupt, %zu instances (%.2f s, cache %s)\n",
           split_name(s->kind), sc->annotations ? sc->annotations : sc->sources.items[0], st->images,
           st->backgrounds, st->corrupt, st->instances, s->scan_seconds,
           s->cache_path ? s->cache_note : "off");
    if (st->duplicates_removed || st->boxes_clipped || st->annotations_dropped || st->crowd_ignored ||
        st->missing_label_files || st->empty_label_files) {
        printf("  ");
        if (s->is_coco)
            printf("%zu crowd annotations ignored, %zu dropped, %zu boxes clipped", st->crowd_ignored,
                   st->annotations_dropped, st->boxes_clipped);
        else
            printf("%zu images without a label file, %zu empty label files", st->missing_label_files,
                   st->empty_label_files);
        printf(", %zu duplicate labels removed\n", st->duplicates_removed);
    }
}

static void print_classes(const Dataset *ds)
{
    int nc = ds->nc;
    size_t *counts[SPLIT_COUNT] = {0};
    size_t total[SPLIT_COUNT] = {0};
    int width = 5;
    for (int c = 0; c < nc; c++) {
        int l = (int)strlen(ds->names.items[c]);
        if (l > width) width = l;
    }
    if (width > 40) width = 40;
    printf("\n%-*s %8s", width, "class", ds->category_ids ? "id" : "index");
    for (int k = 0; k < SPLIT_COUNT; k++) {
        if (!ds->scanned[k]) continue;
        counts[k] = calloc((size_t)nc, sizeof(size_t));
        if (counts[k]) dataset_split_class_counts(&ds->split[k], nc, counts[k]);
        printf(" %10s", split_name((SplitKind)k));
    }
    printf("\n");
    for (int c = 0; c < nc; c++) {
        printf("%-*.*s ", width, width, ds->names.items[c]);
        if (ds->category_ids) printf("%8lld", (long long)ds->category_ids[c]);
        else printf("%8d", c);
        for (int k = 0; k < SPLIT_COUNT; k++) {
            if (!counts[k]) continue;
            printf(" %10zu", counts[k][c]);
            total[k] += counts[k][c];
        }
        printf("\n");
    }
    printf("%-*s %8s", width, "all", "");
    for (int k = 0; k < SPLIT_COUNT; k++)
        if (counts[k]) printf(" %10zu", total[k]);
    printf("\n");
    for (int k = 0; k < SPLIT_COUNT; k++) free(counts[k]);
}

/* COCO's small/medium/large (area < 32^2, < 96^2 px) after resizing the long side to img. */
static void print_sizes(const Dataset *ds, int img)
{
    printf("\nobject sizes at --img %d (long side resized to %d; COCO areas: small < 32^2, medium < 96^2 px)\n", img,
           img);
    printf("%-6s %10s %10s %10s %14s\n", "split", "small", "medium", "large", "smallest (px)");
    for (int k = 0; k < SPLIT_COUNT; k++) {
        if (!ds->scanned[k]) continue;
        const DatasetSplit *s = &ds->split[k];
        size_t small = 0, medium = 0, large = 0;
        double smallest = 0;
        int any = 0;
        for (size_t i = 0; i < s->n_images; i++) {
            const DatasetImage *im = &s->images[i];
            double r = (double)img / (im->width > im->height ? im->width : im->height);
            for (size_t j = 0; j < im->label_count; j++) {
                const float *row = s->labels.rows + (im->label_start + j) * LABEL_FIELDS;
                double w = row[3] * im->width * r, h = row[4] * im->height * r, a = w * h;
                double side = w < h ? w : h;
                if (!any || side < smallest) smallest = side;
                any = 1;
                if (a < 32.0 * 32.0) small++;
                else if (a < 96.0 * 96.0) medium++;
                else large++;
            }
        }
        printf("%-6s %10zu %10zu %10zu ", split_name((SplitKind)k), small, medium, large);
        if (any) printf("%14.1f\n", smallest);
        else printf("%14s\n", "-");
    }
}

static void print_warnings(const Dataset *ds, int verbose)
{
    for (int k = 0; k < SPLIT_COUNT; k++) {
        if (!ds->scanned[k]) continue;
        const Warnings *w = &ds->split[k].warnings;
        if (!w->total) continue;
        size_t show = verbose ? w->kept.count : (w->kept.count < 20 ? w->kept.count : 20);
        fprintf(stderr, "\n%s: %zu warning%s\n", split_name((SplitKind)k), w->total, w->total == 1 ? "" : "s");
        for (size_t i = 0; i < show; i++) fprintf(stderr, "WARNING %s\n", w->kept.items[i]);
        if (w->total > show)
            fprintf(stderr, "... %zu more (%s)\n", w->total - show,
                    verbose ? "not kept: over the warning limit" : "--verbose shows them");
    }
}

/* YOLOv5's increment_path: project/name, else the first free name2, name3, ... */
static char *next_run_dir(const char *project, const char *name)
{
    char buf[4096];
    for (int k = 1; k < 100000; k++) {
        if (k == 1) snprintf(buf, sizeof buf, "%s/%s", project, name);
        else snprintf(buf, sizeof buf, "%s/%s%d", project, name, k);
        if (!fs_is_dir(buf) && !fs_is_file(buf)) return strdup(buf);
    }
    return NULL;
}

typedef struct {
    long n_batches, batch_size, img, workers;
    unsigned long long seed;
    int cache_ram;
    const char *out, *project, *name;
} PreviewOptions;

/* Writes the first n augmented training batches (epoch 0, then 1, ...) as mosaics. */
static int preview(const Dataset *ds, const Hyp *hyp, const PreviewOptions *po)
{
    const DatasetSplit *train = &ds->split[SPLIT_TRAIN];
    char *dir = po->out ? strdup(po->out) : next_run_dir(po->project, po->name);
    Error e = {{0}};
    if (!dir || fs_mkdirs(dir, &e)) {
        fprintf(stderr, "yolov5c dataset: --preview: %s\n", dir ? e.msg : "no free run directory name");
        free(dir);
        return 1;
    }
    LoaderOptions lo = {.batch_size = (int)po->batch_size, .img_size = (int)po->img, .stride = 32, .augment = 1,
                        .shuffle = 1, .workers = (int)po->workers, .cache_ram = po->cache_ram, .seed = po->seed,
                        .hyp = hyp, .log = stdout};
    Loader *l = NULL;
    int rc = 1, written = 0;
    double t0 = now_seconds(), t_load = 0;
    if (loader_open(&l, train, &lo, &e)) goto done;
    const char **paths = calloc((size_t)po->batch_size, sizeof *paths);
    if (!paths) {
        err_set(&e, "out of memory");
        goto done;
    }
    printf("\npreview: %ld batch%s of %ld at --img %ld, hyp %s, seed %llu, %ld worker%s\n", po->n_batches,
           po->n_batches == 1 ? "" : "es", po->batch_size, po->img, hyp->source, po->seed, po->workers,
           po->workers == 1 ? "" : "s");
    for (int epoch = 0; written < po->n_batches; epoch++) {
        if (loader_start_epoch(l, epoch, &e)) goto free_paths;
        const Batch *b;
        int got = 0;
        double t1 = now_seconds();
        while (written < po->n_batches && (got = loader_next(l, &b, &e)) == 1) {
            t_load += now_seconds() - t1;
            for (int i = 0; i < b->n; i++) paths[i] = train->images[b->indices[i]].path;
            PlotImages p = {b->images, b->n, b->h, b->w, b->targets, b->n_targets, 6, paths,
                            (const char *const *)ds->names.items, ds->nc};
            char file[4200];
            snprintf(file, sizeof file, "%s/train_batch%d.jpg", dir, written);
            if (plot_images_write_jpeg(&p, file, &e)) goto free_paths;
            printf("  %s: %d images, %d targets (epoch %d, batch %d)\n", file, b->n, b->n_targets, epoch,
                   b->batch_index);
            written++;
            t1 = now_seconds();
        }
        if (written < po->n_batches && got < 0) goto free_paths;
    }
    printf("preview: wrote %d mosaic%s to %s (%.2f s, %.2f s of it waiting for batches)\n", written,
           written == 1 ? "" : "s", dir, now_seconds() - t0, t_load);
    rc = 0;
free_paths:
    free(paths);
done:
    if (rc) fprintf(stderr, "yolov5c dataset: --preview: %s\n", e.msg);
    loader_close(l);
    free(dir);
    return rc;
}

static int scan(const char *data, long img, int use_cache, int verify, long workers, int verbose, const Hyp *hyp,
                const PreviewOptions *po)
{
    ScanOptions opt = {use_cache, verify, (int)workers};
    Dataset ds;
    Error e = {{0}};
    if (dataset_open(data, (1u << SPLIT_TRAIN) | (1u << SPLIT_VAL) | (1u << SPLIT_TEST), &opt, &ds, &e)) {
        fprintf(stderr, "yolov5c dataset: %s\n", e.msg);
        return 1;
    }
    int coco = 0;
    for (int k = 0; k < SPLIT_COUNT; k++) coco |= ds.scanned[k] && ds.split[k].is_coco;
    printf("dataset %s: %d classes%s, root %s\n", data, ds.nc, coco ? " (COCO categories, sorted by id)" : "",
           ds.cfg.root);
    for (int k = 0; k < SPLIT_COUNT; k++)
        if (ds.scanned[k]) print_split(&ds, &ds.split[k]);
    print_classes(&ds);
    print_sizes(&ds, (int)img);
    fflush(stdout);
    print_warnings(&ds, verbose);
    int rc = 0;
    if (po->n_batches > 0) {
        fflush(stderr);
        if (!ds.scanned[SPLIT_TRAIN]) {
            fprintf(stderr, "yolov5c dataset: --preview needs a train split\n");
            rc = 1;
        } else {
            rc = preview(&ds, hyp, po);
        }
    }
    dataset_close(&ds);
    return rc;
}

int cmd_dataset(int argc, char **argv)
{
    const char *data = NULL, *shapes_dir = NULL;
    long img = -1, n_train = 240, n_val = 60, workers = 0, quality = 90;
    unsigned long long seed = 0;
    int use_cache = 1, verify = 0, verbose = 0, txt = 0, seed_given = 0;
    const char *hyp_path = NULL;
    PreviewOptions po = {.batch_size = 16, .project = "runs/dataset", .name = "exp"};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            dataset_usage(stdout);
            return 0;
        } else if (!strcmp(a, "--data")) {
            if (!v) goto missing;
            data = v, i++;
        } else if (!strcmp(a, "--generate-shapes")) {
            if (!v) goto missing;
            shapes_dir = v, i++;
        } else if (!strcmp(a, "--img") || !strcmp(a, "--imgsz") || !strcmp(a, "--img-size")) {
            if (parse_int_arg(a, v, 32, 8192, &img)) return 2;
            i++;
        } else if (!strcmp(a, "--train")) {
            if (parse_int_arg(a, v, 0, 10000000, &n_train)) return 2;
            i++;
        } else if (!strcmp(a, "--val")) {
            if (parse_int_arg(a, v, 0, 10000000, &n_val)) return 2;
            i++;
        } else if (!strcmp(a, "--seed")) {
            long s;
            if (parse_int_arg(a, v, 0, LONG_MAX, &s)) return 2;
            seed = (unsigned long long)s, i++;
            seed_given = 1;
        } else if (!strcmp(a, "--quality")) {
            if (parse_int_arg(a, v, 1, 100, &quality)) return 2;
            i++;
        } else if (!strcmp(a, "--workers")) {
            if (parse_int_arg(a, v, 0, 1024, &workers)) return 2;
            i++;
        } else if (!strcmp(a, "--no-cache")) {
            use_cache = 0;
        } else if (!strcmp(a, "--verify")) {
            verify = 1;
        } else if (!strcmp(a, "--verbose")) {
            verbose = 1;
        } else if (!strcmp(a, "--txt-labels")) {
            txt = 1;
        } else if (!strcmp(a, "--preview")) {
            if (parse_int_arg(a, v, 1, 100000, &po.n_batches)) return 2;
            i++;
        } else if (!strcmp(a, "--batch-size") || !strcmp(a, "--batch")) {
            if (parse_int_arg(a, v, 1, 4096, &po.batch_size)) return 2;
            i++;
        } else if (!strcmp(a, "--hyp")) {
            if (!v) goto missing;
            hyp_path = v, i++;
        } else if (!strcmp(a, "--out")) {
            if (!v) goto missing;
            po.out = v, i++;
        } else if (!strcmp(a, "--project")) {
            if (!v) goto missing;
            po.project = v, i++;
        } else if (!strcmp(a, "--name")) {
            if (!v) goto missing;
            po.name = v, i++;
        } else if (!strcmp(a, "--cache-ram")) {
            po.cache_ram = 1;
        } else {
            fprintf(stderr, "yolov5c dataset: unknown option '%s'\n\n", a);
            dataset_usage(stderr);
            return 2;
        }
        continue;
    missing:
        fprintf(stderr, "yolov5c dataset: %s needs a value\n", a);
        return 2;
    }
    if (!!data == !!shapes_dir) {
        fprintf(stderr, "yolov5c dataset: give either --data FILE or --generate-shapes DIR\n\n");
        dataset_usage(stderr);
        return 2;
    }
    if (shapes_dir) return generate(shapes_dir, n_train, n_val, img > 0 ? img : 320, seed, txt, quality);
    Hyp hyp;
    hyp_default(&hyp);
    if (hyp_path) {
        Error e = {{0}};
        if (hyp_load(&hyp, hyp_path, stderr, &e)) {
            fprintf(stderr, "yolov5c dataset: %s\n", e.msg);
            return 1;
        }
    } else {
        snprintf(hyp.source, sizeof hyp.source, "defaults (hyp.scratch-low)");
    }
    po.img = img > 0 ? img : 640;
    if (po.n_batches > 0 && po.img % 32) {
        fprintf(stderr, "yolov5c dataset: --img %ld must be a multiple of 32 for --preview\n", po.img);
        return 2;
    }
    po.workers = workers > 0 ? workers : 2;
    po.seed = seed_given ? seed : 0;
    return scan(data, po.img, use_cache, verify, workers, verbose, &hyp, &po);
}
