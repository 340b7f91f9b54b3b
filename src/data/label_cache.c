#include "data/label_cache.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/fsutil.h"

static const char MAGIC[8] = {'Y', 'V', '5', 'C', 'A', 'C', 'H', 'E'};
static const uint32_t BYTE_ORDER_MARK = 0x01020304u;
enum { HEADER_BYTES = 8 + 4 + 4 + 8 + 8 };

static uint64_t fnv1a(uint64_t h, const void *data, size_t n)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

#define FNV_OFFSET 0xcbf29ce484222325ull

uint64_t label_cache_fingerprint(const char *key, const StrList *files)
{
    uint64_t h = fnv1a(FNV_OFFSET, key, strlen(key) + 1);
    for (size_t i = 0; i < files->count; i++) {
        const char *p = files->items[i];
        FileStamp st = fs_stamp(p);
        h = fnv1a(h, p, strlen(p) + 1);
        long long v[4] = {st.exists, st.size, st.mtime_sec, st.mtime_nsec};
        h = fnv1a(h, v, sizeof v);
    }
    return h;
}

/* ---- writing ---------------------------------------------------------------- */

typedef struct {
    unsigned char *data;
    size_t n, cap;
    int oom;
} Buf;

static void put(Buf *b, const void *p, size_t n)
{
    if (b->oom || n == 0) return;
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->n + n) cap *= 2;
        unsigned char *d = realloc(b->data, cap);
        if (!d) {
            b->oom = 1;
            return;
        }
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->n, p, n);
    b->n += n;
}

static void put_u32(Buf *b, uint32_t v) { put(b, &v, 4); }
static void put_u64(Buf *b, uint64_t v) { put(b, &v, 8); }
static void put_i32(Buf *b, int32_t v) { put(b, &v, 4); }
static void put_i64(Buf *b, int64_t v) { put(b, &v, 8); }
static void put_str(Buf *b, const char *s)
{
    uint32_t n = (uint32_t)strlen(s);
    put_u32(b, n);
    put(b, s, n);
}

static void put_stats(Buf *b, const ScanStats *st)
{
    const size_t v[] = {st->candidates, st->images, st->backgrounds, st->corrupt, st->instances,
                        st->duplicates_removed, st->missing_label_files, st->empty_label_files,
                        st->boxes_clipped, st->annotations_dropped, st->crowd_ignored};
    put_u32(b, (uint32_t)(sizeof v / sizeof v[0]));
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) put_u64(b, v[i]);
}

int label_cache_write(const char *path, const char *key, const StrList *inputs, uint64_t fingerprint,
                      const DatasetSplit *s, Error *e)
{
    Buf p = {0};
    put_u64(&p, fingerprint);
    put_str(&p, key);
    put_u32(&p, (uint32_t)inputs->count);
    for (size_t i = 0; i < inputs->count; i++) put_str(&p, inputs->items[i]);
    put_u32(&p, (uint32_t)s->is_coco);
    put_stats(&p, &s->stats);
    put_u64(&p, s->n_images);
    for (size_t i = 0; i < s->n_images; i++) {
        const DatasetImage *im = &s->images[i];
        put_str(&p, im->path);
        put_i32(&p, im->width);
        put_i32(&p, im->height);
        put_i32(&p, im->orientation);
        put_i64(&p, im->coco_id);
        put_u64(&p, im->label_start);
        put_u64(&p, im->label_count);
    }
    const LabelBuf *lb = &s->labels;
    put_u64(&p, lb->n);
    put(&p, lb->rows, lb->n * LABEL_FIELDS * sizeof(float));
    for (size_t i = 0; i <= lb->n; i++) put_u64(&p, lb->poly_start ? lb->poly_start[i] : 0);
    put_u64(&p, lb->n_points);
    put(&p, lb->poly_xy, lb->n_points * 2 * sizeof(float));
    put_u32(&p, (uint32_t)s->category_names.count);
    for (size_t i = 0; i < s->category_names.count; i++) {
        put_i64(&p, s->category_ids[i]);
        put_str(&p, s->category_names.items[i]);
    }
    put_u64(&p, s->warnings.total);
    put_u32(&p, (uint32_t)s->warnings.kept.count);
    for (size_t i = 0; i < s->warnings.kept.count; i++) put_str(&p, s->warnings.kept.items[i]);

    Buf f = {0};
    put(&f, MAGIC, sizeof MAGIC);
    put_u32(&f, LABEL_CACHE_VERSION);
    put_u32(&f, BYTE_ORDER_MARK);
    put_u64(&f, p.n);
    put_u64(&f, fnv1a(FNV_OFFSET, p.data, p.n));
    put(&f, p.data, p.n);
    int rc;
    if (p.oom || f.oom) rc = err_set(e, "%s: out of memory building the cache", path);
    else rc = fs_write_atomic(path, f.data, f.n, e);
    free(p.data);
    free(f.data);
    return rc;
}

/* ---- reading ---------------------------------------------------------------- */

typedef struct {
    const unsigned char *p;
    size_t n, at;
    int bad;
} Cursor;

static int get(Cursor *c, void *out, size_t n)
{
    if (n == 0) return c->bad ? -1 : 0;
    if (c->bad || n > c->n - c->at) {
        c->bad = 1;
        memset(out, 0, n);
        return -1;
    }
    memcpy(out, c->p + c->at, n);
    c->at += n;
    return 0;
}

static uint32_t get_u32(Cursor *c) { uint32_t v; get(c, &v, 4); return v; }
static uint64_t get_u64(Cursor *c) { uint64_t v; get(c, &v, 8); return v; }
static int32_t get_i32(Cursor *c) { int32_t v; get(c, &v, 4); return v; }
static int64_t get_i64(Cursor *c) { int64_t v; get(c, &v, 8); return v; }

static char *get_str(Cursor *c)
{
    uint32_t n = get_u32(c);
    if (c->bad || n > c->n - c->at) {
        c->bad = 1;
        return NULL;
    }
    char *s = malloc((size_t)n + 1);
    if (!s) {
        c->bad = 1;
        return NULL;
    }
    memcpy(s, c->p + c->at, n);
    s[n] = 0;
    c->at += n;
    return s;
}

/* A count of items of at least min_bytes each must fit in what is left. */
static int plausible(Cursor *c, uint64_t count, size_t min_bytes)
{
    if (c->bad || count > (c->n - c->at) / (min_bytes ? min_bytes : 1)) {
        c->bad = 1;
        return 0;
    }
    return 1;
}

CacheReadResult label_cache_read(const char *path, DatasetSplit *s, char **key, StrList *inputs,
                                 uint64_t *fingerprint, Error *e)
{
    *key = NULL;
    unsigned char *data;
    size_t size;
    FILE *probe = fopen(path, "rb");
    if (!probe) {
        if (errno == ENOENT) return CACHE_READ_MISSING;
        err_set(e, "cannot open: %s", strerror(errno));
        return CACHE_READ_CORRUPT;
    }
    fclose(probe);
    if (fs_read_file(path, &data, &size, e)) return CACHE_READ_CORRUPT;
    const char *why = NULL;
    uint32_t version = 0, bom = 0;
    uint64_t psize = 0, sum = 0;
    if (size < HEADER_BYTES || memcmp(data, MAGIC, sizeof MAGIC) != 0) {
        why = "not a yolov5c label cache (bad header)";
    } else {
        memcpy(&version, data + 8, 4);
        memcpy(&bom, data + 12, 4);
        memcpy(&psize, data + 16, 8);
        memcpy(&sum, data + 24, 8);
        if (bom != BYTE_ORDER_MARK) why = "written on a machine of another byte order";
        else if (version != LABEL_CACHE_VERSION) why = "written by another cache version";
        else if (psize != size - HEADER_BYTES) why = "truncated or padded (size does not match its header)";
        else if (fnv1a(FNV_OFFSET, data + HEADER_BYTES, (size_t)psize) != sum) why = "checksum mismatch";
    }
    if (why) {
        free(data);
        err_set(e, "%s", why);
        return CACHE_READ_CORRUPT;
    }

    Cursor c = {data + HEADER_BYTES, (size_t)psize, 0, 0};
    memset(s, 0, sizeof *s);
    memset(inputs, 0, sizeof *inputs);
    *fingerprint = get_u64(&c);
    *key = get_str(&c);
    uint32_t n_inputs = get_u32(&c);
    if (plausible(&c, n_inputs, 4))
        for (uint32_t i = 0; i < n_inputs && !c.bad; i++) {
            char *x = get_str(&c);
            if (!x || strlist_push_owned(inputs, x)) c.bad = 1;
        }
    s->is_coco = (int)get_u32(&c);
    uint32_t n_stats = get_u32(&c);
    uint64_t st[11] = {0};
    if (n_stats != 11) c.bad = 1;
    for (int i = 0; i < 11 && !c.bad; i++) st[i] = get_u64(&c);
    ScanStats *S = &s->stats;
    S->candidates = st[0], S->images = st[1], S->backgrounds = st[2], S->corrupt = st[3], S->instances = st[4];
    S->duplicates_removed = st[5], S->missing_label_files = st[6], S->empty_label_files = st[7];
    S->boxes_clipped = st[8], S->annotations_dropped = st[9], S->crowd_ignored = st[10];

    uint64_t n_images = get_u64(&c);
    if (plausible(&c, n_images, 4 + 4 * 3 + 8 * 3)) {
        s->images = calloc(n_images ? n_images : 1, sizeof *s->images);
        if (!s->images) c.bad = 1;
        for (uint64_t i = 0; i < n_images && !c.bad; i++) {
            DatasetImage *im = &s->images[i];
            im->path = get_str(&c);
            im->width = get_i32(&c);
            im->height = get_i32(&c);
            im->orientation = get_i32(&c);
            im->coco_id = get_i64(&c);
            im->label_start = get_u64(&c);
            im->label_count = get_u64(&c);
            s->n_images = i + 1;
            if (!im->path || im->width < 1 || im->height < 1 || im->orientation < 1 || im->orientation > 8) c.bad = 1;
        }
    }
    uint64_t n_labels = get_u64(&c);
    if (plausible(&c, n_labels, LABEL_FIELDS * sizeof(float) + 8)) {
        LabelBuf *lb = &s->labels;
        lb->rows = malloc((n_labels ? n_labels : 1) * LABEL_FIELDS * sizeof(float));
        lb->poly_start = malloc((n_labels + 1) * sizeof(size_t));
        if (!lb->rows || !lb->poly_start) c.bad = 1;
        else {
            lb->n = lb->cap = n_labels;
            get(&c, lb->rows, n_labels * LABEL_FIELDS * sizeof(float));
            for (uint64_t i = 0; i <= n_labels && !c.bad; i++) {
                lb->poly_start[i] = get_u64(&c);
                if (i > 0 && lb->poly_start[i] < lb->poly_start[i - 1]) c.bad = 1;
            }
            if (lb->poly_start[0] != 0) c.bad = 1;
            uint64_t np = get_u64(&c);
            if (plausible(&c, np, 2 * sizeof(float)) && np == lb->poly_start[n_labels]) {
                lb->poly_xy = malloc((np ? np : 1) * 2 * sizeof(float));
                if (!lb->poly_xy) c.bad = 1;
                else {
                    lb->n_points = lb->cap_points = np;
                    get(&c, lb->poly_xy, np * 2 * sizeof(float));
                }
            } else {
                c.bad = 1;
            }
        }
    }
    for (size_t i = 0; i < s->n_images && !c.bad; i++) {
        const DatasetImage *im = &s->images[i];
        if (im->label_start > n_labels || im->label_count > n_labels - im->label_start) c.bad = 1;
    }
    uint32_t n_cat = get_u32(&c);
    if (n_cat && plausible(&c, n_cat, 12)) {
        s->category_ids = malloc(n_cat * sizeof *s->category_ids);
        if (!s->category_ids) c.bad = 1;
        for (uint32_t i = 0; i < n_cat && !c.bad; i++) {
            s->category_ids[i] = get_i64(&c);
            char *name = get_str(&c);
            if (!name || strlist_push_owned(&s->category_names, name)) c.bad = 1;
        }
    }
    s->warnings.total = get_u64(&c);
    uint32_t n_kept = get_u32(&c);
    if (plausible(&c, n_kept, 4))
        for (uint32_t i = 0; i < n_kept && !c.bad; i++) {
            char *m = get_str(&c);
            if (!m || strlist_push_owned(&s->warnings.kept, m)) c.bad = 1;
        }
    if (!c.bad && c.at != c.n) c.bad = 1;
    free(data);
    if (c.bad) {
        dataset_split_free(s);
        strlist_free(inputs);
        free(*key);
        *key = NULL;
        err_set(e, "inconsistent contents");
        return CACHE_READ_CORRUPT;
    }
    return CACHE_READ_OK;
}
