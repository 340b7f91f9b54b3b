/* Scanning a split: find the images, probe their headers, read and verify
 * their labels (YOLO txt or COCO JSON), keep what is usable, report the rest;
 * with the label cache in front. */
#include "data/dataset.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <omp.h>

#include "data/coco_json.h"
#include "data/fsutil.h"
#include "data/image.h"
#include "data/label_cache.h"

/* Image suffixes YOLOv5 v7.0 accepts (IMG_FORMATS); stb_image reads JPEG, PNG
 * and BMP among them, the others are reported as unsupported. */
static const char *const IMAGE_SUFFIXES[] = {"bmp", "dng", "jpeg", "jpg", "mpo", "png", "tif", "tiff", "webp", "pfm"};

static int has_image_suffix(const char *path)
{
    /* Python's x.split('.')[-1]: the text after the last dot of the whole path. */
    const char *dot = strrchr(path, '.');
    if (!dot || strlen(dot + 1) > 8) return 0;
    char ext[9];
    size_t i = 0;
    for (const char *p = dot + 1; *p; p++) ext[i++] = (char)tolower((unsigned char)*p);
    ext[i] = 0;
    for (size_t k = 0; k < sizeof IMAGE_SUFFIXES / sizeof IMAGE_SUFFIXES[0]; k++)
        if (!strcmp(ext, IMAGE_SUFFIXES[k])) return 1;
    return 0;
}

void dataset_split_free(DatasetSplit *s)
{
    for (size_t i = 0; i < s->n_images; i++) free(s->images[i].path);
    free(s->images);
    labelbuf_free(&s->labels);
    free(s->category_ids);
    strlist_free(&s->category_names);
    warn_free(&s->warnings);
    free(s->cache_path);
    memset(s, 0, sizeof *s);
}

void dataset_split_class_counts(const DatasetSplit *s, int nc, size_t *counts)
{
    memset(counts, 0, (size_t)nc * sizeof *counts);
    for (size_t i = 0; i < s->labels.n; i++) {
        int c = (int)s->labels.rows[i * LABEL_FIELDS];
        if (c >= 0 && c < nc) counts[c]++;
    }
}

/* ---- finding the images of a YOLO txt split -------------------------------- */

static int read_list_file(const char *list_path, StrList *out, Error *e)
{
    unsigned char *text;
    size_t size;
    if (fs_read_file(list_path, &text, &size, e)) return -1;
    char *dir = fs_dirname(list_path);
    int rc = 0;
    for (char *line = (char *)text; *line && !rc;) {
        char *next = line + strcspn(line, "\n");
        char *after = *next ? next + 1 : next;
        *next = 0;
        /* strip surrounding whitespace (the reference strips the whole text; lines keep theirs, but a
         * path with trailing spaces or \r is never what was meant) */
        while (isspace((unsigned char)*line)) line++;
        size_t n = strlen(line);
        while (n && isspace((unsigned char)line[n - 1])) line[--n] = 0;
        if (n) {
            char *p;
            if (!strncmp(line, "./", 2)) p = fs_join(dir, line + 2); /* "./" means the list file's folder */
            else p = strdup(line);
            if (strlist_push_owned(out, p)) rc = err_set(e, "%s: out of memory", list_path);
        }
        line = after;
    }
    free(dir);
    free(text);
    return rc;
}

static int find_images(const SplitConfig *sc, const char *split, StrList *images, Error *e)
{
    StrList all = {0};
    for (size_t i = 0; i < sc->sources.count; i++) {
        const char *src = sc->sources.items[i];
        int rc;
        if (fs_is_dir(src)) rc = fs_list_files(src, &all, e);
        else if (fs_is_file(src)) rc = read_list_file(src, &all, e);
        else rc = err_set(e, "%s: %s does not exist", split, src);
        if (rc) {
            strlist_free(&all);
            return -1;
        }
    }
    for (size_t i = 0; i < all.count; i++) {
        if (has_image_suffix(all.items[i])) {
            strlist_push_owned(images, all.items[i]);
            all.items[i] = NULL;
        }
    }
    strlist_free(&all);
    strlist_sort(images);
    /* the reference keys its cache by path, so a path listed twice counts once */
    size_t u = 0;
    for (size_t i = 0; i < images->count; i++) {
        if (u && !strcmp(images->items[i], images->items[u - 1])) free(images->items[i]);
        else images->items[u++] = images->items[i];
    }
    images->count = u;
    if (!u) {
        char where[700] = "";
        for (size_t i = 0; i < sc->sources.count && strlen(where) < 500; i++)
            snprintf(where + strlen(where), sizeof where - strlen(where), "%s%s", i ? ", " : "", sc->sources.items[i]);
        return err_set(e, "%s: no images found in %s (image suffixes: bmp dng jpeg jpg mpo png tif tiff webp pfm)",
                       split, where);
    }
    return 0;
}

/* ---- per-image results, filled in parallel and merged in order --------------- */

typedef struct {
    int ok;              /* usable */
    ImageInfo info;
    LabelBuf labels;     /* this image's rows */
    int label_state;     /* txt: YOLO_LABELS_FOUND / YOLO_LABELS_MISSING */
    size_t duplicates;
    size_t boxes_dropped, boxes_clipped; /* COCO */
    Warnings notes;      /* warnings about this image, in order */
} ProbeResult;

static void probe_results_free(ProbeResult *r, size_t n)
{
    if (!r) return;
    for (size_t i = 0; i < n; i++) {
        labelbuf_free(&r[i].labels);
        warn_free(&r[i].notes);
    }
    free(r);
}

static int append_image(DatasetSplit *out, size_t *cap, const char *path, const ImageInfo *info, int64_t coco_id,
                        const LabelBuf *rows)
{
    if (out->n_images == *cap) {
        size_t c = *cap ? *cap * 2 : 64;
        DatasetImage *im = realloc(out->images, c * sizeof *im);
        if (!im) return -1;
        out->images = im;
        *cap = c;
    }
    DatasetImage *im = &out->images[out->n_images];
    im->path = strdup(path);
    if (!im->path) return -1;
    im->width = info->width;
    im->height = info->height;
    im->orientation = info->orientation;
    im->coco_id = coco_id;
    im->label_start = out->labels.n;
    im->label_count = rows->n;
    if (labelbuf_append(&out->labels, rows, 0, rows->n)) {
        free(im->path);
        return -1;
    }
    out->n_images++;
    out->stats.images++;
    out->stats.instances += rows->n;
    if (!rows->n) out->stats.backgrounds++;
    return 0;
}

/* The error for a split with nothing usable: the count and the first reason. */
static int no_usable_images(const DatasetSplit *s, const char *where, Error *e)
{
    return err_set(e, "%s: no usable images in %s (%zu looked at, %zu corrupt)%s%s", split_name(s->kind), where,
                   s->stats.candidates, s->stats.corrupt, s->warnings.kept.count ? "; first problem: " : "",
                   s->warnings.kept.count ? s->warnings.kept.items[0] : "");
}

/* ---- the cache in front of both scanners ----------------------------------- */

/* Tries the cache; 1 when s was filled from it. Notes what happened; a
 * corrupt cache's warning goes to `complaint` (added after the new cache is
 * written, so it is not saved in it). */
static int try_cache(DatasetSplit *s, const char *key, const uint64_t *fresh_fp, char *complaint, size_t n)
{
    complaint[0] = 0;
    DatasetSplit cached;
    char *ckey = NULL;
    StrList inputs = {0};
    uint64_t fp = 0;
    Error err = {{0}};
    CacheReadResult r = label_cache_read(s->cache_path, &cached, &ckey, &inputs, &fp, &err);
    if (r == CACHE_READ_MISSING) {
        snprintf(s->cache_note, sizeof s->cache_note, "none yet");
        return 0;
    }
    if (r == CACHE_READ_CORRUPT) {
        snprintf(s->cache_note, sizeof s->cache_note, "corrupt (%.200s): ignored and rebuilt", err.msg);
        snprintf(complaint, n, "%s: cache file is corrupt (%.300s): ignored, rebuilding it", s->cache_path, err.msg);
        return 0;
    }
    /* COCO scans list their inputs only after parsing the JSON, so theirs come from the cache. */
    int fresh = ckey && !strcmp(ckey, key) && (fresh_fp ? *fresh_fp : label_cache_fingerprint(key, &inputs)) == fp;
    free(ckey);
    strlist_free(&inputs);
    if (!fresh) {
        dataset_split_free(&cached);
        snprintf(s->cache_note, sizeof s->cache_note, "stale (inputs changed): rebuilt");
        return 0;
    }
    cached.kind = s->kind;
    cached.cache_path = s->cache_path;
    cached.from_cache = 1;
    /* warnings raised before the cache was read come first */
    Warnings restored = cached.warnings;
    cached.warnings = s->warnings;
    warn_merge(&cached.warnings, &restored);
    warn_free(&restored);
    snprintf(cached.cache_note, sizeof cached.cache_note, "read");
    *s = cached;
    return 1;
}

/* Puts msg in front of the split's warnings. */
static void prepend_warning(Warnings *w, const char *msg)
{
    if (!msg[0]) return;
    Warnings front = {{0}, 0, w->limit};
    warn_add(&front, "%s", msg);
    warn_merge(&front, w);
    warn_free(w);
    *w = front;
}

/* fp is the inputs' fingerprint taken before they were read, so a file
 * changed during the scan makes the next run rescan. */
static void save_cache(DatasetSplit *s, const char *key, const StrList *inputs, uint64_t fp)
{
    Error err = {{0}};
    if (label_cache_write(s->cache_path, key, inputs, fp, s, &err)) {
        char note[sizeof s->cache_note];
        snprintf(note, sizeof note, "not saved (%.200s)", err.msg);
        memcpy(s->cache_note, note, sizeof note);
        warn_add(&s->warnings, "cache not saved: %s", err.msg);
    } else if (!s->cache_note[0] || !strcmp(s->cache_note, "none yet")) {
        snprintf(s->cache_note, sizeof s->cache_note, "written");
    }
}

/* ---- YOLO txt --------------------------------------------------------------- */

static int scan_txt(const DatasetConfig *cfg, int nc, const ScanOptions *opt, DatasetSplit *out, Error *e)
{
    const SplitConfig *sc = &cfg->split[out->kind];
    const char *split = split_name(out->kind);
    StrList images = {0}, labels = {0}, inputs = {0};
    ProbeResult *res = NULL;
    int rc = -1;
    if (find_images(sc, split, &images, e)) goto done;
    for (size_t i = 0; i < images.count; i++) {
        if (strlist_push_owned(&labels, yolo_label_path(images.items[i])) ||
            strlist_push(&inputs, images.items[i]) || strlist_push(&inputs, labels.items[i])) {
            err_set(e, "%s: out of memory", split);
            goto done;
        }
    }
    char key[64], complaint[1024] = "";
    snprintf(key, sizeof key, "yolo-txt nc=%d", nc);
    uint64_t fp = opt->use_cache ? label_cache_fingerprint(key, &inputs) : 0;
    if (opt->use_cache) {
        const char *last = sc->sources.items[sc->sources.count - 1];
        if (fs_is_file(last)) {
            out->cache_path = fs_with_suffix(last, LABEL_CACHE_SUFFIX);
        } else {
            char *dir = fs_dirname(labels.items[0]);
            out->cache_path = dir ? fs_with_suffix(dir, LABEL_CACHE_SUFFIX) : NULL;
            free(dir);
        }
        if (out->cache_path && try_cache(out, key, &fp, complaint, sizeof complaint)) {
            rc = 0;
            goto done;
        }
    }

    size_t n = images.count;
    res = calloc(n, sizeof *res);
    if (!res) {
        err_set(e, "%s: out of memory", split);
        goto done;
    }
    int threads = opt->threads > 0 ? opt->threads : omp_get_max_threads();
#pragma omp parallel for schedule(dynamic, 8) if (n > 16) num_threads(threads)
    for (size_t i = 0; i < n; i++) {
        ProbeResult *r = &res[i];
        Error err = {{0}};
        const char *img = images.items[i];
        if (image_probe(img, opt->full_decode, &r->info, &err)) {
            warn_add(&r->notes, "%s: ignoring corrupt image: %s", img, err.msg);
            continue;
        }
        if (r->info.note[0]) warn_add(&r->notes, "%s: %s", img, r->info.note);
        int st = yolo_read_labels(labels.items[i], &r->labels, &err);
        if (st < 0) {
            warn_add(&r->notes, "%s: ignoring image with corrupt labels: %s", img, err.msg);
            continue;
        }
        r->label_state = st;
        if (st == YOLO_LABELS_FOUND && labels_verify(&r->labels, 0, nc, &r->duplicates, &err)) {
            warn_add(&r->notes, "%s: ignoring image with corrupt labels: %s: %s", img, labels.items[i], err.msg);
            continue;
        }
        if (r->duplicates) warn_add(&r->notes, "%s: %zu duplicate labels removed", img, r->duplicates);
        r->ok = 1;
    }
    size_t cap = 0;
    out->stats.candidates = n;
    for (size_t i = 0; i < n; i++) {
        ProbeResult *r = &res[i];
        warn_merge(&out->warnings, &r->notes);
        if (!r->ok) {
            out->stats.corrupt++;
            continue;
        }
        if (r->label_state == YOLO_LABELS_MISSING) out->stats.missing_label_files++;
        else if (!r->labels.n) out->stats.empty_label_files++;
        out->stats.duplicates_removed += r->duplicates;
        if (append_image(out, &cap, images.items[i], &r->info, -1, &r->labels)) {
            err_set(e, "%s: out of memory", split);
            goto done;
        }
    }
    if (!out->n_images) {
        prepend_warning(&out->warnings, complaint);
        no_usable_images(out, sc->sources.items[0], e);
        goto done;
    }
    if (out->cache_path) save_cache(out, key, &inputs, fp);
    prepend_warning(&out->warnings, complaint);
    rc = 0;
done:
    probe_results_free(res, images.count);
    strlist_free(&images);
    strlist_free(&labels);
    strlist_free(&inputs);
    return rc;
}

/* ---- COCO JSON ---------------------------------------------------------------- */

typedef struct {
    const char *path;
    size_t record;
} PathOrder;

static int cmp_path(const void *a, const void *b)
{
    const PathOrder *x = a, *y = b;
    int c = strcmp(x->path, y->path);
    return c ? c : (x->record < y->record ? -1 : x->record > y->record);
}

static int scan_coco(const DatasetConfig *cfg, const ScanOptions *opt, DatasetSplit *out, Error *e)
{
    const SplitConfig *sc = &cfg->split[out->kind];
    const char *split = split_name(out->kind);
    const char *dir = sc->sources.items[0];
    const char *ann = sc->annotations;
    out->is_coco = 1;
    if (!fs_is_dir(dir))
        return err_set(e, "%s: image folder %s %s", split, dir, fs_is_file(dir) ? "is not a folder" : "does not exist");
    if (!fs_is_file(ann)) return err_set(e, "%s_annotations: %s does not exist", split, ann);

    char *key = malloc(strlen(ann) + strlen(dir) + 32);
    if (!key) return err_set(e, "%s: out of memory", split);
    sprintf(key, "coco\n%s\n%s", ann, dir);
    char complaint[1024] = "";
    if (opt->use_cache) {
        out->cache_path = fs_with_suffix(ann, LABEL_CACHE_SUFFIX);
        if (out->cache_path && try_cache(out, key, NULL, complaint, sizeof complaint)) {
            free(key);
            return 0;
        }
    }

    CocoData d;
    StrList paths = {0}, inputs = {0};
    PathOrder *order = NULL;
    ProbeResult *res = NULL;
    int rc = -1;
    if (coco_load(ann, &d, &out->warnings, e)) {
        free(key);
        return err_prefix(e, "%s_annotations", split);
    }
    out->stats.annotations_dropped = d.n_dropped;
    out->stats.crowd_ignored = d.n_crowd;
    size_t n = d.n_images;
    if (strlist_push(&inputs, ann)) goto oom;
    for (size_t i = 0; i < n; i++) {
        if (strlist_push_owned(&paths, fs_join(dir, d.images[i].file_name))) goto oom;
        if (strlist_push(&inputs, paths.items[i])) goto oom;
    }
    uint64_t fp = out->cache_path ? label_cache_fingerprint(key, &inputs) : 0;
    order = malloc((n ? n : 1) * sizeof *order);
    res = calloc(n ? n : 1, sizeof *res);
    if (!order || !res) goto oom;
    for (size_t i = 0; i < n; i++) order[i] = (PathOrder){paths.items[i], i};
    qsort(order, n, sizeof *order, cmp_path); /* the same order as a YOLO txt split */

    int threads = opt->threads > 0 ? opt->threads : omp_get_max_threads();
#pragma omp parallel for schedule(dynamic, 8) if (n > 16) num_threads(threads)
    for (size_t i = 0; i < n; i++) {
        ProbeResult *r = &res[i];
        const CocoImage *im = &d.images[i];
        const char *img = paths.items[i];
        Error err = {{0}};
        if (image_probe(img, opt->full_decode, &r->info, &err)) {
            warn_add(&r->notes, "%s: image id %lld (%s): %s: image and its %zu annotations dropped", ann,
                     (long long)im->id, img, err.msg, im->box_count);
            continue;
        }
        if (r->info.note[0]) warn_add(&r->notes, "%s: %s", img, r->info.note);
        int W = im->width ? im->width : r->info.width;
        int H = im->height ? im->height : r->info.height;
        if (im->width && (im->width != r->info.width || im->height != r->info.height))
            warn_add(&r->notes,
                     "%s: image id %lld: size %dx%d in the JSON differs from the image file's %dx%d%s: boxes "
                     "normalised by the JSON size",
                     ann, (long long)im->id, im->width, im->height, r->info.width, r->info.height,
                     r->info.orientation != 1 ? " (after EXIF orientation)" : "");
        size_t exact_dups = 0;
        for (size_t k = 0; k < im->box_count; k++) {
            const CocoBox *b = &d.boxes[im->box_start + k];
            /* JSON2YOLO drops a box equal to an earlier one of its image before
             * rounding, keeping the order; labels_verify then applies YOLOv5's
             * own duplicate rule to the rounded rows. */
            int seen = 0;
            for (size_t j = 0; j < k && !seen; j++) {
                const CocoBox *p = &d.boxes[im->box_start + j];
                seen = p->cls == b->cls && p->x == b->x && p->y == b->y && p->w == b->w && p->h == b->h;
            }
            if (seen) {
                exact_dups++;
                continue;
            }
            float row[LABEL_FIELDS];
            row[0] = (float)b->cls;
            CocoBoxResult br = coco_box_to_yolo(b->x, b->y, b->w, b->h, W, H, row + 1);
            char what[64];
            if (b->ann_id >= 0) snprintf(what, sizeof what, "annotations[%zu] (id %lld)", b->ann_index, (long long)b->ann_id);
            else snprintf(what, sizeof what, "annotations[%zu]", b->ann_index);
            if (br == COCO_BOX_DROPPED) {
                warn_add(&r->notes, "%s: %s: bbox [%g, %g, %g, %g] has no area inside the %dx%d image %s: dropped",
                         ann, what, b->x, b->y, b->w, b->h, W, H, im->file_name);
                r->boxes_dropped++;
                continue;
            }
            if (br == COCO_BOX_CLIPPED) {
                warn_add(&r->notes, "%s: %s: bbox [%g, %g, %g, %g] reaches past the %dx%d image %s: clipped to it",
                         ann, what, b->x, b->y, b->w, b->h, W, H, im->file_name);
                r->boxes_clipped++;
            }
            if (labelbuf_push(&r->labels, row, NULL, 0)) {
                warn_add(&r->notes, "%s: out of memory", img);
                break;
            }
        }
        if (labels_verify(&r->labels, 0, (int)d.n_categories, &r->duplicates, &err)) {
            warn_add(&r->notes, "%s: image id %lld (%s): %s: image dropped", ann, (long long)im->id, img, err.msg);
            continue;
        }
        r->duplicates += exact_dups;
        if (r->duplicates) warn_add(&r->notes, "%s: %zu duplicate labels removed", img, r->duplicates);
        r->ok = 1;
    }
    size_t cap = 0;
    out->stats.candidates = n;
    for (size_t oi = 0; oi < n; oi++) {
        size_t i = order[oi].record;
        ProbeResult *r = &res[i];
        warn_merge(&out->warnings, &r->notes);
        if (!r->ok) {
            out->stats.corrupt++;
            continue;
        }
        out->stats.duplicates_removed += r->duplicates;
        out->stats.annotations_dropped += r->boxes_dropped;
        out->stats.boxes_clipped += r->boxes_clipped;
        if (append_image(out, &cap, paths.items[i], &r->info, d.images[i].id, &r->labels)) goto oom;
    }
    out->category_ids = coco_category_ids(&d);
    if (!out->category_ids) goto oom;
    for (size_t c = 0; c < d.n_categories; c++)
        if (strlist_push(&out->category_names, d.categories[c].name)) goto oom;
    if (!out->n_images) {
        prepend_warning(&out->warnings, complaint);
        no_usable_images(out, dir, e);
        goto done;
    }
    if (out->cache_path) save_cache(out, key, &inputs, fp);
    prepend_warning(&out->warnings, complaint);
    rc = 0;
    goto done;
oom:
    err_set(e, "%s: out of memory", split);
done:
    probe_results_free(res, n);
    free(order);
    strlist_free(&paths);
    strlist_free(&inputs);
    coco_free(&d);
    free(key);
    return rc;
}

/* ---- entry points ------------------------------------------------------------- */

int dataset_scan_split(const DatasetConfig *cfg, SplitKind kind, int nc, const ScanOptions *opt,
                       DatasetSplit *out, Error *e)
{
    memset(out, 0, sizeof *out);
    out->kind = kind;
    static const ScanOptions defaults = {1, 0, 0};
    if (!opt) opt = &defaults;
    if (kind < 0 || kind >= SPLIT_COUNT || !cfg->split[kind].sources.count)
        return err_set(e, "%s: split '%s' is not configured", cfg->yaml_path ? cfg->yaml_path : "dataset",
                       split_name(kind));
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc;
    if (cfg->split[kind].annotations) {
        rc = scan_coco(cfg, opt, out, e);
    } else {
        if (nc <= 0) return err_set(e, "%s: the number of classes is unknown (names missing)", split_name(kind));
        rc = scan_txt(cfg, nc, opt, out, e);
    }
    if (rc) {
        dataset_split_free(out);
        out->kind = kind;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    out->scan_seconds = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    return rc;
}

void dataset_close(Dataset *ds)
{
    for (int k = 0; k < SPLIT_COUNT; k++) dataset_split_free(&ds->split[k]);
    dataset_config_free(&ds->cfg);
    strlist_free(&ds->names);
    free(ds->category_ids);
    memset(ds, 0, sizeof *ds);
}

int dataset_single_class(Dataset *ds, Error *e)
{
    for (int k = 0; k < SPLIT_COUNT; k++) {
        if (!ds->scanned[k]) continue;
        LabelBuf *b = &ds->split[k].labels;
        for (size_t i = 0; i < b->n; i++) b->rows[i * LABEL_FIELDS] = 0.0f;
    }
    if (ds->names.count != 1) {
        strlist_free(&ds->names);
        if (strlist_push(&ds->names, "item")) return err_set(e, "out of memory");
    }
    ds->nc = 1;
    return 0;
}

/* Class names from the COCO splits, checked against each other and the YAML. */
static int resolve_classes(Dataset *ds, Error *e)
{
    const DatasetConfig *cfg = &ds->cfg;
    const DatasetSplit *first = NULL;
    for (int k = 0; k < SPLIT_COUNT; k++) {
        const DatasetSplit *s = &ds->split[k];
        if (!ds->scanned[k] || !s->is_coco) continue;
        if (!first) {
            first = s;
            continue;
        }
        int same = s->category_names.count == first->category_names.count;
        for (size_t c = 0; same && c < s->category_names.count; c++)
            same = s->category_ids[c] == first->category_ids[c] &&
                   !strcmp(s->category_names.items[c], first->category_names.items[c]);
        if (!same)
            return err_set(e, "%s: the categories of %s (%s) differ from those of %s (%s)", cfg->yaml_path,
                           split_name(s->kind), cfg->split[s->kind].annotations, split_name(first->kind),
                           cfg->split[first->kind].annotations);
    }
    if (!first) {
        if (strlist_extend(&ds->names, &cfg->names)) return err_set(e, "out of memory");
        ds->nc = cfg->nc;
        return 0;
    }
    size_t n = first->category_names.count;
    const char *json = cfg->split[first->kind].annotations;
    if (cfg->names.count) {
        if (cfg->names.count != n)
            return err_set(e, "%s: 'names' has %zu classes but %s has %zu categories", cfg->yaml_path,
                           cfg->names.count, json, n);
        for (size_t c = 0; c < n; c++)
            if (strcmp(cfg->names.items[c], first->category_names.items[c]))
                return err_set(e,
                               "%s: names[%zu] is '%s' but class %zu of %s (category id %lld, categories sorted by "
                               "id) is '%s'",
                               cfg->yaml_path, c, cfg->names.items[c], c, json, (long long)first->category_ids[c],
                               first->category_names.items[c]);
    } else if (cfg->nc && (size_t)cfg->nc != n) {
        return err_set(e, "%s: 'nc' is %d but %s has %zu categories", cfg->yaml_path, cfg->nc, json, n);
    }
    if (strlist_extend(&ds->names, &first->category_names)) return err_set(e, "out of memory");
    ds->nc = (int)n;
    ds->category_ids = malloc(n * sizeof *ds->category_ids);
    if (!ds->category_ids) return err_set(e, "out of memory");
    memcpy(ds->category_ids, first->category_ids, n * sizeof *ds->category_ids);
    return 0;
}

int dataset_open(const char *yaml_path, unsigned split_mask, const ScanOptions *opt, Dataset *ds, Error *e)
{
    memset(ds, 0, sizeof *ds);
    if (dataset_config_load(yaml_path, &ds->cfg, e)) return -1;
    for (int k = 0; k < SPLIT_COUNT; k++) {
        if (!(split_mask & (1u << k)) || !ds->cfg.split[k].sources.count) continue;
        if (dataset_scan_split(&ds->cfg, (SplitKind)k, ds->cfg.nc, opt, &ds->split[k], e)) {
            dataset_close(ds);
            return -1;
        }
        ds->scanned[k] = 1;
    }
    if (resolve_classes(ds, e)) {
        dataset_close(ds);
        return -1;
    }
    return 0;
}
