/* `yolov5c dataset`: scan a dataset (summary per split, instances per class,
 * object sizes, warnings) or generate the built-in shapes dataset. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/commands.h"
#include "data/dataset.h"
#include "data/shapes.h"

static void dataset_usage(FILE *out)
{
    fprintf(out,
            "usage: yolov5c dataset --data FILE [--img N] [--no-cache] [--verify] [--workers N] [--verbose]\n"
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

static int scan(const char *data, long img, int use_cache, int verify, long workers, int verbose)
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
    dataset_close(&ds);
    return 0;
}

int cmd_dataset(int argc, char **argv)
{
    const char *data = NULL, *shapes_dir = NULL;
    long img = -1, n_train = 240, n_val = 60, workers = 0, quality = 90;
    unsigned long long seed = 0;
    int use_cache = 1, verify = 0, verbose = 0, txt = 0;
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
        } else if (!strcmp(a, "--preview") || !strcmp(a, "--hyp")) {
            fprintf(stderr, "yolov5c dataset: %s is not available yet (it comes with the augmentation pipeline)\n", a);
            return 2;
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
    return scan(data, img > 0 ? img : 640, use_cache, verify, workers, verbose);
}
