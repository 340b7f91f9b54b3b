/* COCO instances JSON, parsed with cJSON and validated record by record. */
#include "data/coco_json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "data/fsutil.h"

/* ---- blanking of "segmentation" values ------------------------------------
 * Polygons are most of a real instances file (COCO train2017: ~450 MB of
 * JSON) and we never read them; cJSON would turn every coordinate into a
 * 64-byte node. This pass overwrites each "segmentation" value with `0` and
 * spaces before parsing, respecting strings and nesting. It stops at the
 * first thing it does not understand and leaves the rest for cJSON to judge. */

static size_t skip_string(const char *s, size_t n, size_t i) /* i at the opening quote */
{
    for (i++; i < n; i++) {
        if (s[i] == '\\') i++;
        else if (s[i] == '"') return i + 1;
    }
    return n;
}

static size_t skip_ws(const char *s, size_t n, size_t i)
{
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) i++;
    return i;
}

/* End of the JSON value starting at i (no validation beyond nesting). */
static size_t skip_value(const char *s, size_t n, size_t i)
{
    if (i >= n) return n;
    if (s[i] == '"') return skip_string(s, n, i);
    if (s[i] == '[' || s[i] == '{') {
        int depth = 0;
        while (i < n) {
            char c = s[i];
            if (c == '"') {
                i = skip_string(s, n, i);
                continue;
            }
            if (c == '[' || c == '{') depth++;
            else if (c == ']' || c == '}') {
                if (--depth == 0) return i + 1;
            }
            i++;
        }
        return n;
    }
    while (i < n && s[i] != ',' && s[i] != '}' && s[i] != ']' && s[i] != ' ' && s[i] != '\n' && s[i] != '\r' &&
           s[i] != '\t')
        i++;
    return i;
}

static void blank_key_values(char *s, size_t n, const char *key)
{
    size_t klen = strlen(key);
    for (size_t i = 0; i < n;) {
        if (s[i] != '"') {
            i++;
            continue;
        }
        size_t end = skip_string(s, n, i);
        if (end >= n) return;
        int match = end - i - 2 == klen && memcmp(s + i + 1, key, klen) == 0;
        size_t j = skip_ws(s, n, end);
        if (match && j < n && s[j] == ':') {
            size_t v = skip_ws(s, n, j + 1);
            size_t vend = skip_value(s, n, v);
            if (vend >= n || vend <= v) return;
            s[v] = '0';
            memset(s + v + 1, ' ', vend - v - 1);
            i = vend;
        } else {
            i = end;
        }
    }
}

/* ---- typed field access ---------------------------------------------------- */

typedef enum { FIELD_OK = 0, FIELD_MISSING = 1, FIELD_BAD = -1 } FieldStatus;

static FieldStatus get_int(const cJSON *obj, const char *key, int64_t *out)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!it || cJSON_IsNull(it)) return FIELD_MISSING;
    if (!cJSON_IsNumber(it)) return FIELD_BAD;
    double v = it->valuedouble;
    if (!isfinite(v) || v != floor(v) || fabs(v) > 9007199254740992.0) return FIELD_BAD;
    *out = (int64_t)v;
    return FIELD_OK;
}

static const char *type_name(const cJSON *it)
{
    if (!it) return "missing";
    if (cJSON_IsNumber(it)) return "a number";
    if (cJSON_IsString(it)) return "a string";
    if (cJSON_IsArray(it)) return "an array";
    if (cJSON_IsObject(it)) return "an object";
    if (cJSON_IsBool(it)) return "a boolean";
    if (cJSON_IsNull(it)) return "null";
    return "invalid";
}

/* "is missing" / "is a string, not an integer" */
static const char *int_problem(const cJSON *obj, const char *key, char *buf, size_t n)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!it || cJSON_IsNull(it)) snprintf(buf, n, "'%s' is missing", key);
    else if (cJSON_IsNumber(it)) snprintf(buf, n, "'%s' %.17g is not an integer", key, it->valuedouble);
    else snprintf(buf, n, "'%s' is %s, not an integer", key, type_name(it));
    return buf;
}

/* ---- sorting helpers ------------------------------------------------------- */

typedef struct {
    int64_t id;
    size_t index;
} IdIndex;

static int cmp_id_index(const void *a, const void *b)
{
    const IdIndex *x = a, *y = b;
    if (x->id != y->id) return x->id < y->id ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

/* Index of id in a sorted table, or -1. */
static long find_id(const IdIndex *t, size_t n, int64_t id)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (t[mid].id < id) lo = mid + 1;
        else hi = mid;
    }
    return (lo < n && t[lo].id == id) ? (long)lo : -1;
}

static int cmp_category(const void *a, const void *b)
{
    const CocoCategory *x = a, *y = b;
    return x->id < y->id ? -1 : x->id > y->id;
}

static void line_col(const char *text, const char *at, int *line, int *col)
{
    *line = 1;
    *col = 1;
    for (const char *p = text; p < at && *p; p++) {
        if (*p == '\n') {
            (*line)++;
            *col = 1;
        } else {
            (*col)++;
        }
    }
}

void coco_free(CocoData *d)
{
    for (size_t i = 0; i < d->n_categories; i++) free(d->categories[i].name);
    for (size_t i = 0; i < d->n_images; i++) free(d->images[i].file_name);
    free(d->categories);
    free(d->images);
    free(d->boxes);
    memset(d, 0, sizeof *d);
}

int64_t *coco_category_ids(const CocoData *d)
{
    int64_t *ids = malloc((d->n_categories ? d->n_categories : 1) * sizeof *ids);
    if (!ids) return NULL;
    for (size_t i = 0; i < d->n_categories; i++) ids[i] = d->categories[i].id;
    return ids;
}

static int load_categories(const char *path, const cJSON *arr, CocoData *d, Warnings *w, Error *e)
{
    int n = cJSON_GetArraySize(arr);
    d->categories = calloc(n ? (size_t)n : 1, sizeof *d->categories);
    if (!d->categories) return err_set(e, "%s: out of memory", path);
    int i = 0;
    char why[160];
    for (const cJSON *c = arr->child; c; c = c->next, i++) {
        int64_t id;
        if (!cJSON_IsObject(c)) {
            warn_add(w, "%s: categories[%d] is %s, not an object: ignored", path, i, type_name(c));
            continue;
        }
        if (get_int(c, "id", &id) != FIELD_OK) {
            warn_add(w, "%s: categories[%d]: %s: category ignored", path, i, int_problem(c, "id", why, sizeof why));
            continue;
        }
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(c, "name");
        if (!cJSON_IsString(name) || !name->valuestring[0]) {
            warn_add(w, "%s: categories[%d] (id %lld): 'name' is %s, not a non-empty string: category ignored", path,
                     i, (long long)id, cJSON_IsString(name) ? "empty" : type_name(name));
            continue;
        }
        int dup = 0;
        for (size_t k = 0; k < d->n_categories && !dup; k++) dup = d->categories[k].id == id;
        if (dup) {
            warn_add(w, "%s: categories[%d]: duplicate category id %lld: ignored (the first one is kept)", path, i,
                     (long long)id);
            continue;
        }
        char *s = strdup(name->valuestring);
        if (!s) return err_set(e, "%s: out of memory", path);
        d->categories[d->n_categories].id = id;
        d->categories[d->n_categories].name = s;
        d->n_categories++;
    }
    if (d->n_categories == 0) return err_set(e, "%s: no usable category in 'categories'", path);
    qsort(d->categories, d->n_categories, sizeof *d->categories, cmp_category);
    return 0;
}

typedef struct {
    const char *name;
    size_t index;
} NameIndex;

static int cmp_name_index(const void *a, const void *b)
{
    const NameIndex *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    if (c) return c;
    return x->index < y->index ? -1 : x->index > y->index;
}

/* Fills d->images with the usable records and *lookup with their ids sorted
 * (id -> position in d->images). */
static int load_images(const char *path, const cJSON *arr, CocoData *d, IdIndex **lookup, size_t *n_lookup,
                       Warnings *w, Error *e)
{
    int n = cJSON_GetArraySize(arr);
    size_t cap = n ? (size_t)n : 1;
    d->images = calloc(cap, sizeof *d->images);
    IdIndex *ids = calloc(cap, sizeof *ids);
    NameIndex *names = calloc(cap, sizeof *names);
    unsigned char *drop = calloc(cap, 1);
    int rc = -1;
    if (!d->images || !ids || !names || !drop) {
        err_set(e, "%s: out of memory", path);
        goto done;
    }
    int i = 0;
    char why[160];
    for (const cJSON *im = arr->child; im; im = im->next, i++) {
        int64_t id, v;
        if (!cJSON_IsObject(im)) {
            warn_add(w, "%s: images[%d] is %s, not an object: ignored", path, i, type_name(im));
            d->n_bad_images++;
            continue;
        }
        if (get_int(im, "id", &id) != FIELD_OK) {
            warn_add(w, "%s: images[%d]: %s: image ignored", path, i, int_problem(im, "id", why, sizeof why));
            d->n_bad_images++;
            continue;
        }
        const cJSON *fn = cJSON_GetObjectItemCaseSensitive(im, "file_name");
        if (!cJSON_IsString(fn) || !fn->valuestring[0]) {
            warn_add(w, "%s: images[%d] (id %lld): 'file_name' is %s, not a non-empty string: image ignored", path, i,
                     (long long)id, cJSON_IsString(fn) ? "empty" : type_name(fn));
            d->n_bad_images++;
            continue;
        }
        CocoImage *rec = &d->images[d->n_images];
        rec->id = id;
        const char *dims[2] = {"width", "height"};
        int *dst[2] = {&rec->width, &rec->height};
        for (int k = 0; k < 2; k++) {
            FieldStatus st = get_int(im, dims[k], &v);
            if (st == FIELD_OK && v > 0 && v <= 1000000) {
                *dst[k] = (int)v;
            } else {
                *dst[k] = 0;
                if (st == FIELD_OK) snprintf(why, sizeof why, "'%s' %lld is not a positive size", dims[k], (long long)v);
                else int_problem(im, dims[k], why, sizeof why);
                warn_add(w, "%s: images[%d] (id %lld): %s: the image file's size is used", path, i, (long long)id,
                         why);
            }
        }
        rec->file_name = strdup(fn->valuestring);
        if (!rec->file_name) {
            err_set(e, "%s: out of memory", path);
            goto done;
        }
        ids[d->n_images] = (IdIndex){id, d->n_images};
        names[d->n_images] = (NameIndex){rec->file_name, d->n_images};
        d->n_images++;
    }
    size_t m = d->n_images;
    /* Duplicate ids, then duplicate file names: the first record wins. */
    qsort(ids, m, sizeof *ids, cmp_id_index);
    for (size_t k = 1; k < m; k++) {
        if (ids[k].id != ids[k - 1].id) continue;
        drop[ids[k].index] = 1;
        warn_add(w, "%s: image record '%s': duplicate image id %lld (first used by '%s'): ignored", path,
                 d->images[ids[k].index].file_name, (long long)ids[k].id, d->images[ids[k - 1].index].file_name);
    }
    qsort(names, m, sizeof *names, cmp_name_index);
    for (size_t g = 0; g < m;) {
        size_t end = g + 1;
        while (end < m && !strcmp(names[end].name, names[g].name)) end++;
        size_t keep = m; /* first surviving record of this name (the group is in index order) */
        for (size_t k = g; k < end; k++) {
            if (drop[names[k].index]) continue;
            if (keep == m) {
                keep = k;
                continue;
            }
            drop[names[k].index] = 1;
            warn_add(w, "%s: image record id %lld: duplicate file_name '%s' (first used by id %lld): ignored", path,
                     (long long)d->images[names[k].index].id, names[k].name,
                     (long long)d->images[names[keep].index].id);
        }
        g = end;
    }
    /* Compact the records and build the id lookup of the survivors. */
    size_t kept = 0;
    for (size_t k = 0; k < m; k++) {
        if (drop[k]) {
            free(d->images[k].file_name);
            continue;
        }
        d->images[kept] = d->images[k];
        ids[kept] = (IdIndex){d->images[kept].id, kept};
        kept++;
    }
    d->n_bad_images += m - kept;
    d->n_images = kept;
    qsort(ids, kept, sizeof *ids, cmp_id_index);
    *lookup = ids;
    *n_lookup = kept;
    ids = NULL;
    rc = 0;
done:
    free(ids);
    free(names);
    free(drop);
    return rc;
}

typedef struct {
    size_t image; /* position in d->images */
    CocoBox box;
} PendingBox;

static int load_annotations(const char *path, const cJSON *arr, CocoData *d, const IdIndex *lookup,
                            size_t n_lookup, Warnings *w, Error *e)
{
    int n = arr ? cJSON_GetArraySize(arr) : 0;
    size_t cap = n ? (size_t)n : 1;
    PendingBox *pend = malloc(cap * sizeof *pend);
    IdIndex *ann_ids = malloc(cap * sizeof *ann_ids);
    unsigned char *dup = calloc(cap, 1);
    size_t *count = calloc(d->n_images + 1, sizeof *count);
    int rc = -1;
    if (!pend || !ann_ids || !dup || !count) {
        err_set(e, "%s: out of memory", path);
        goto done;
    }
    /* Duplicate annotation ids first (the first occurrence is kept). */
    size_t n_ids = 0;
    int i = 0;
    for (const cJSON *a = arr ? arr->child : NULL; a; a = a->next, i++) {
        int64_t id;
        if (cJSON_IsObject(a) && get_int(a, "id", &id) == FIELD_OK) ann_ids[n_ids++] = (IdIndex){id, (size_t)i};
    }
    qsort(ann_ids, n_ids, sizeof *ann_ids, cmp_id_index);
    for (size_t k = 1; k < n_ids; k++)
        if (ann_ids[k].id == ann_ids[k - 1].id) dup[ann_ids[k].index] = 1;

    size_t np = 0;
    i = 0;
    char why[160];
    for (const cJSON *a = arr ? arr->child : NULL; a; a = a->next, i++) {
        if (!cJSON_IsObject(a)) {
            warn_add(w, "%s: annotations[%d] is %s, not an object: dropped", path, i, type_name(a));
            d->n_dropped++;
            continue;
        }
        int64_t id = -1, image_id, cat_id;
        FieldStatus st = get_int(a, "id", &id);
        if (st == FIELD_BAD) {
            warn_add(w, "%s: annotations[%d]: %s: dropped", path, i, int_problem(a, "id", why, sizeof why));
            d->n_dropped++;
            continue;
        }
        char where[96];
        if (st == FIELD_OK) snprintf(where, sizeof where, "annotations[%d] (id %lld)", i, (long long)id);
        else snprintf(where, sizeof where, "annotations[%d]", i);
        if (dup[i]) {
            warn_add(w, "%s: %s: duplicate annotation id: dropped (the first one is kept)", path, where);
            d->n_dropped++;
            continue;
        }
        const cJSON *crowd = cJSON_GetObjectItemCaseSensitive(a, "iscrowd");
        if (crowd && !cJSON_IsNull(crowd)) {
            if (!cJSON_IsNumber(crowd) && !cJSON_IsBool(crowd)) {
                warn_add(w, "%s: %s: 'iscrowd' is %s, not 0 or 1: dropped", path, where, type_name(crowd));
                d->n_dropped++;
                continue;
            }
            if (cJSON_IsTrue(crowd) || (cJSON_IsNumber(crowd) && crowd->valuedouble != 0)) {
                d->n_crowd++;
                continue;
            }
        }
        if (get_int(a, "image_id", &image_id) != FIELD_OK) {
            warn_add(w, "%s: %s: %s: dropped", path, where, int_problem(a, "image_id", why, sizeof why));
            d->n_dropped++;
            continue;
        }
        long img = find_id(lookup, n_lookup, image_id);
        if (img < 0) {
            warn_add(w, "%s: %s: image_id %lld is not among the usable image records: dropped", path, where,
                     (long long)image_id);
            d->n_dropped++;
            continue;
        }
        if (get_int(a, "category_id", &cat_id) != FIELD_OK) {
            warn_add(w, "%s: %s: %s: dropped", path, where, int_problem(a, "category_id", why, sizeof why));
            d->n_dropped++;
            continue;
        }
        long cls = -1;
        for (size_t lo = 0, hi = d->n_categories; lo < hi;) { /* categories are sorted by id */
            size_t mid = (lo + hi) / 2;
            if (d->categories[mid].id < cat_id) lo = mid + 1;
            else if (d->categories[mid].id > cat_id) hi = mid;
            else {
                cls = (long)mid;
                break;
            }
        }
        if (cls < 0) {
            warn_add(w, "%s: %s: category_id %lld is not in 'categories': dropped", path, where, (long long)cat_id);
            d->n_dropped++;
            continue;
        }
        const cJSON *bbox = cJSON_GetObjectItemCaseSensitive(a, "bbox");
        double v[4];
        int ok = cJSON_IsArray(bbox) && cJSON_GetArraySize(bbox) == 4;
        int k = 0;
        for (const cJSON *x = ok ? bbox->child : NULL; x && ok; x = x->next, k++) {
            ok = cJSON_IsNumber(x) && isfinite(x->valuedouble);
            if (ok) v[k] = x->valuedouble;
        }
        if (!ok) {
            warn_add(w, "%s: %s: 'bbox' is not an array of 4 finite numbers [x, y, w, h]: dropped", path, where);
            d->n_dropped++;
            continue;
        }
        if (!(v[2] > 0 && v[3] > 0)) {
            warn_add(w, "%s: %s: bbox [%g, %g, %g, %g] has a non-positive size: dropped", path, where, v[0], v[1],
                     v[2], v[3]);
            d->n_dropped++;
            continue;
        }
        pend[np].image = (size_t)lookup[img].index;
        pend[np].box = (CocoBox){id, (size_t)i, (int)cls, v[0], v[1], v[2], v[3]};
        count[pend[np].image]++;
        np++;
    }
    /* Group by image, keeping annotation order within each (counting sort). */
    d->boxes = malloc((np ? np : 1) * sizeof *d->boxes);
    if (!d->boxes) {
        err_set(e, "%s: out of memory", path);
        goto done;
    }
    size_t start = 0;
    for (size_t k = 0; k < d->n_images; k++) {
        d->images[k].box_start = start;
        d->images[k].box_count = 0;
        start += count[k];
    }
    for (size_t k = 0; k < np; k++) {
        CocoImage *im = &d->images[pend[k].image];
        d->boxes[im->box_start + im->box_count++] = pend[k].box;
    }
    d->n_boxes = np;
    rc = 0;
done:
    free(pend);
    free(ann_ids);
    free(dup);
    free(count);
    return rc;
}

int coco_load(const char *path, CocoData *d, Warnings *w, Error *e)
{
    memset(d, 0, sizeof *d);
    unsigned char *text;
    size_t size;
    if (fs_read_file(path, &text, &size, e)) return -1;
    blank_key_values((char *)text, size, "segmentation");
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts((const char *)text, size, &end, 0);
    if (!root) {
        int line, col;
        line_col((const char *)text, end ? end : (const char *)text + size, &line, &col);
        free(text);
        return err_set(e, "%s: not valid JSON (error near line %d, column %d)", path, line, col);
    }
    IdIndex *lookup = NULL;
    size_t n_lookup = 0;
    int rc = -1;
    if (!cJSON_IsObject(root)) {
        err_set(e, "%s: top level is %s, not an object with 'images', 'annotations' and 'categories'", path,
                type_name(root));
        goto done;
    }
    const cJSON *images = cJSON_GetObjectItemCaseSensitive(root, "images");
    const cJSON *anns = cJSON_GetObjectItemCaseSensitive(root, "annotations");
    const cJSON *cats = cJSON_GetObjectItemCaseSensitive(root, "categories");
    if (!cJSON_IsArray(images)) {
        err_set(e, "%s: 'images' is %s, not an array", path, type_name(images));
        goto done;
    }
    if (!cJSON_IsArray(cats)) {
        err_set(e, "%s: 'categories' is %s, not an array", path, type_name(cats));
        goto done;
    }
    if (anns && !cJSON_IsNull(anns) && !cJSON_IsArray(anns)) {
        err_set(e, "%s: 'annotations' is %s, not an array", path, type_name(anns));
        goto done;
    }
    if (load_categories(path, cats, d, w, e)) goto done;
    if (load_images(path, images, d, &lookup, &n_lookup, w, e)) goto done;
    if (!anns || cJSON_IsNull(anns)) {
        warn_add(w, "%s: no 'annotations' array: every image is a background", path);
        if (load_annotations(path, NULL, d, lookup, n_lookup, w, e)) goto done;
    } else if (load_annotations(path, anns, d, lookup, n_lookup, w, e)) {
        goto done;
    }
    rc = 0;
done:
    free(lookup);
    cJSON_Delete(root);
    free(text);
    if (rc) coco_free(d);
    return rc;
}

/* Value as the converter's "%g" text reads back into float32. */
static float round_g6(double v)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%g", v);
    return (float)strtod(buf, NULL);
}

CocoBoxResult coco_box_to_yolo(double x, double y, double w, double h, int W, int H, float out[4])
{
    if (!(w > 0 && h > 0) || W <= 0 || H <= 0) return COCO_BOX_DROPPED;
    double x1 = x + w, y1 = y + h;
    if (x >= W || y >= H || x1 <= 0 || y1 <= 0) return COCO_BOX_DROPPED;
    CocoBoxResult r = COCO_BOX_OK;
    double cx, cy, bw, bh;
    if (x < 0 || y < 0 || x1 > W || y1 > H) {
        double a = fmax(x, 0), b = fmax(y, 0), c = fmin(x1, W), d = fmin(y1, H);
        cx = (a + c) / 2 / W;
        cy = (b + d) / 2 / H;
        bw = (c - a) / W;
        bh = (d - b) / H;
        r = COCO_BOX_CLIPPED;
    } else {
        /* JSON2YOLO's arithmetic, in this order: centre = corner + size / 2, then / W. */
        cx = (x + w / 2) / W;
        cy = (y + h / 2) / H;
        bw = w / W;
        bh = h / H;
    }
    out[0] = round_g6(cx);
    out[1] = round_g6(cy);
    out[2] = round_g6(bw);
    out[3] = round_g6(bh);
    if (!(out[2] > 0 && out[3] > 0)) return COCO_BOX_DROPPED; /* rounded away (sub-1e-6 of the image) */
    return r;
}
