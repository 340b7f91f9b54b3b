#include "ckpt/safetensors.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors.c reads and writes tensor bytes as they are in memory: little-endian hosts only"
#endif

/* Headers above this are refused before allocating anything for them (the
 * reference implementation uses the same limit). */
#define ST_MAX_HEADER ((uint64_t)100 << 20)
/* Integers in the JSON header must be exact in a double (cJSON keeps doubles). */
#define ST_MAX_JSON_INT 9007199254740992.0 /* 2^53 */

static const struct {
    const char *name;
    size_t size;
} dtype_info[ST_DTYPE_COUNT] = {
    [ST_BOOL] = {"BOOL", 1}, [ST_U8] = {"U8", 1},     [ST_I8] = {"I8", 1},
    [ST_I16] = {"I16", 2},   [ST_U16] = {"U16", 2},   [ST_I32] = {"I32", 4},
    [ST_U32] = {"U32", 4},   [ST_I64] = {"I64", 8},   [ST_U64] = {"U64", 8},
    [ST_F16] = {"F16", 2},   [ST_BF16] = {"BF16", 2}, [ST_F32] = {"F32", 4},
    [ST_F64] = {"F64", 8},
};

const char *st_dtype_name(StDtype dtype)
{
    return (unsigned)dtype < ST_DTYPE_COUNT ? dtype_info[dtype].name : "?";
}

size_t st_dtype_size(StDtype dtype)
{
    return (unsigned)dtype < ST_DTYPE_COUNT ? dtype_info[dtype].size : 0;
}

static int dtype_from_name(const char *name, StDtype *out)
{
    for (int i = 0; i < ST_DTYPE_COUNT; i++)
        if (!strcmp(dtype_info[i].name, name)) {
            *out = (StDtype)i;
            return 0;
        }
    return -1;
}

/* "[2, 3, 4]" (or "[]" for a scalar) into buf. */
static const char *shape_str(char *buf, size_t size, int ndim, const int64_t *shape)
{
    size_t used = (size_t)snprintf(buf, size, "[");
    for (int i = 0; i < ndim && used < size; i++)
        used += (size_t)snprintf(buf + used, size - used, "%s%" PRId64, i ? ", " : "", shape[i]);
    if (used < size) snprintf(buf + used, size - used, "]");
    return buf;
}

/* Strict UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF. */
static int utf8_valid(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t len;
        uint32_t cp, min;
        if ((c & 0xE0) == 0xC0) len = 2, cp = c & 0x1F, min = 0x80;
        else if ((c & 0xF0) == 0xE0) len = 3, cp = c & 0x0F, min = 0x800;
        else if ((c & 0xF8) == 0xF0) len = 4, cp = c & 0x07, min = 0x10000;
        else return 0;
        if (n - i < len) return 0;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80) return 0;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
        i += len;
    }
    return 1;
}

/* ---------------------------------------------------------------- reading */

static int read_whole_file(const char *path, unsigned char **out, size_t *out_size, Error *e)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return err_set(e, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        int err = errno;
        close(fd);
        return err_set(e, "%s: cannot stat: %s", path, strerror(err));
    }
    if (!S_ISREG(sb.st_mode)) {
        close(fd);
        return err_set(e, "%s: not a regular file", path);
    }
    size_t size = (size_t)sb.st_size;
    unsigned char *buf = malloc(size ? size : 1);
    if (!buf) {
        close(fd);
        return err_set(e, "%s: out of memory reading %zu bytes", path, size);
    }
    size_t got = 0;
    while (got < size) {
        ssize_t r = read(fd, buf + got, size - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            int err = errno;
            close(fd);
            free(buf);
            if (r == 0) return err_set(e, "%s: file shrank while being read", path);
            return err_set(e, "%s: read failed: %s", path, strerror(err));
        }
        got += (size_t)r;
    }
    close(fd);
    *out = buf;
    *out_size = size;
    return 0;
}

/* A non-negative integer exactly representable in the header's doubles. */
static int json_uint(const cJSON *v, uint64_t *out)
{
    if (!cJSON_IsNumber(v)) return -1;
    double d = v->valuedouble;
    if (!(d >= 0 && d <= ST_MAX_JSON_INT) || d != floor(d)) return -1;
    *out = (uint64_t)d;
    return 0;
}

/* A tensor while parsing: where its bytes are and where it was in the header. */
typedef struct {
    StTensor t;
    uint64_t begin, end;
    int order;
} Parsed;

static int by_offset(const void *pa, const void *pb)
{
    const Parsed *a = pa, *b = pb;
    if (a->begin != b->begin) return a->begin < b->begin ? -1 : 1;
    if (a->end != b->end) return a->end < b->end ? -1 : 1;
    return a->order - b->order;
}

static int by_string(const void *pa, const void *pb)
{
    return strcmp(*(const char *const *)pa, *(const char *const *)pb);
}

/* The first name that appears twice among names[0..count) (sorted in place), or NULL. */
static const char *first_duplicate(const char **names, int count)
{
    qsort(names, (size_t)count, sizeof *names, by_string);
    for (int i = 1; i < count; i++)
        if (!strcmp(names[i - 1], names[i])) return names[i];
    return NULL;
}

/* Copies s into the string pool at *pos. */
static char *pool_copy(char *pool, size_t *pos, const char *s)
{
    size_t n = strlen(s) + 1;
    char *out = pool + *pos;
    memcpy(out, s, n);
    *pos += n;
    return out;
}

/* Fills p from one header entry; data_size bounds the offsets. */
static int parse_tensor(const char *path, const cJSON *item, uint64_t data_size, Parsed *p, Error *e)
{
    const char *name = item->string;
    if (!cJSON_IsObject(item))
        return err_set(e, "%s: tensor '%.200s': entry is not a JSON object", path, name);
    const cJSON *dtype = cJSON_GetObjectItemCaseSensitive(item, "dtype");
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(item, "shape");
    const cJSON *offsets = cJSON_GetObjectItemCaseSensitive(item, "data_offsets");
    if (!cJSON_IsString(dtype))
        return err_set(e, "%s: tensor '%.200s': missing or non-string \"dtype\"", path, name);
    if (dtype_from_name(dtype->valuestring, &p->t.dtype) != 0)
        return err_set(e, "%s: tensor '%.200s': unknown dtype '%.40s'", path, name,
                       dtype->valuestring);
    if (!cJSON_IsArray(shape))
        return err_set(e, "%s: tensor '%.200s': missing or non-array \"shape\"", path, name);
    int ndim = cJSON_GetArraySize(shape);
    if (ndim > ST_MAX_DIMS)
        return err_set(e, "%s: tensor '%.200s': %d dimensions, at most %d supported", path, name,
                       ndim, ST_MAX_DIMS);
    p->t.ndim = ndim;
    size_t elem = st_dtype_size(p->t.dtype);
    uint64_t numel = 1;
    int overflow = 0;
    int d = 0;
    for (const cJSON *v = shape->child; v; v = v->next, d++) {
        uint64_t dim;
        if (json_uint(v, &dim) != 0)
            return err_set(e, "%s: tensor '%.200s': shape[%d] is not a non-negative integer",
                           path, name, d);
        p->t.shape[d] = (int64_t)dim;
        if (dim && numel > UINT64_MAX / dim) overflow = 1;
        else numel *= dim;
    }
    char sbuf[200];
    shape_str(sbuf, sizeof sbuf, ndim, p->t.shape);
    /* A product that does not fit cannot match offsets inside the file either. */
    if (overflow || numel > SIZE_MAX / elem || numel * elem > data_size)
        return err_set(e, "%s: tensor '%.200s': shape %s of %s needs more bytes than the %" PRIu64
                       "-byte data block holds", path, name, sbuf, st_dtype_name(p->t.dtype),
                       data_size);
    p->t.numel = (size_t)numel;
    p->t.nbytes = (size_t)numel * elem;
    if (!cJSON_IsArray(offsets) || cJSON_GetArraySize(offsets) != 2 ||
        json_uint(offsets->child, &p->begin) != 0 || json_uint(offsets->child->next, &p->end) != 0)
        return err_set(e, "%s: tensor '%.200s': \"data_offsets\" is not a pair of non-negative integers",
                       path, name);
    if (p->begin > p->end || p->end > data_size)
        return err_set(e, "%s: tensor '%.200s': data_offsets [%" PRIu64 ", %" PRIu64
                       "] out of range of the %" PRIu64 "-byte data block", path, name, p->begin,
                       p->end, data_size);
    if (p->end - p->begin != p->t.nbytes)
        return err_set(e, "%s: tensor '%.200s': data_offsets [%" PRIu64 ", %" PRIu64
                       "] span %" PRIu64 " bytes but shape %s of %s needs %zu", path, name,
                       p->begin, p->end, p->end - p->begin, sbuf, st_dtype_name(p->t.dtype),
                       p->t.nbytes);
    return 0;
}

/* Validates the parsed header and builds st's tables (st->blob already set). */
static int parse_header(SafeTensors *st, const cJSON *root, const unsigned char *data,
                        uint64_t data_size, Error *e)
{
    const char *path = st->path;
    const cJSON *meta = NULL;
    int count = 0;
    size_t pool_size = 0;
    for (const cJSON *item = root->child; item; item = item->next) {
        if (!strcmp(item->string, "__metadata__")) {
            if (meta) return err_set(e, "%s: \"__metadata__\" appears twice", path);
            if (!cJSON_IsObject(item)) return err_set(e, "%s: \"__metadata__\" is not a JSON object", path);
            meta = item;
            for (const cJSON *m = item->child; m; m = m->next) {
                if (!cJSON_IsString(m))
                    return err_set(e, "%s: metadata '%.200s': value is not a string", path, m->string);
                pool_size += strlen(m->string) + strlen(m->valuestring) + 2;
                st->meta_count++;
            }
            continue;
        }
        pool_size += strlen(item->string) + 1;
        count++;
    }

    Parsed *parsed = calloc((size_t)count + 1, sizeof *parsed);
    const char **names = calloc((size_t)count + (size_t)st->meta_count + 1, sizeof *names);
    st->strings = malloc(pool_size + 1);
    st->tensors = calloc((size_t)count + 1, sizeof *st->tensors);
    st->meta_keys = calloc((size_t)st->meta_count + 1, sizeof *st->meta_keys);
    st->meta_values = calloc((size_t)st->meta_count + 1, sizeof *st->meta_values);
    int rc = -1;
    if (!parsed || !names || !st->strings || !st->tensors || !st->meta_keys || !st->meta_values) {
        err_set(e, "%s: out of memory for a header of %d tensors", path, count);
        goto done;
    }
    size_t pos = 0;
    int i = 0;
    for (const cJSON *item = root->child; item; item = item->next) {
        if (item == meta) continue;
        if (parse_tensor(path, item, data_size, &parsed[i], e) != 0) goto done;
        parsed[i].t.name = pool_copy(st->strings, &pos, item->string);
        parsed[i].t.file = st->path;
        parsed[i].t.data = data + parsed[i].begin;
        parsed[i].order = i;
        names[i] = parsed[i].t.name;
        i++;
    }
    const char *dup = first_duplicate(names, count);
    if (dup) {
        err_set(e, "%s: tensor '%.200s': name appears twice in the header", path, dup);
        goto done;
    }
    /* File order, then overlap: each non-empty tensor must start at or after
     * the furthest end seen so far. */
    qsort(parsed, (size_t)count, sizeof *parsed, by_offset);
    int furthest = -1;
    for (i = 0; i < count; i++) {
        if (parsed[i].begin == parsed[i].end) continue;
        if (furthest >= 0 && parsed[i].begin < parsed[furthest].end) {
            err_set(e, "%s: tensor '%.200s': data_offsets [%" PRIu64 ", %" PRIu64
                    "] overlap tensor '%.200s' [%" PRIu64 ", %" PRIu64 "]", path, parsed[i].t.name,
                    parsed[i].begin, parsed[i].end, parsed[furthest].t.name,
                    parsed[furthest].begin, parsed[furthest].end);
            goto done;
        }
        if (furthest < 0 || parsed[i].end > parsed[furthest].end) furthest = i;
    }
    for (i = 0; i < count; i++) st->tensors[i] = parsed[i].t;
    st->count = count;

    i = 0;
    for (const cJSON *m = meta ? meta->child : NULL; m; m = m->next, i++) {
        st->meta_keys[i] = pool_copy(st->strings, &pos, m->string);
        st->meta_values[i] = pool_copy(st->strings, &pos, m->valuestring);
        names[i] = st->meta_keys[i];
    }
    dup = first_duplicate(names, st->meta_count);
    if (dup) {
        err_set(e, "%s: metadata '%.200s': key appears twice", path, dup);
        goto done;
    }
    rc = 0;
done:
    free(parsed);
    free(names);
    return rc;
}

int st_read(SafeTensors *st, const char *path, Error *e)
{
    memset(st, 0, sizeof *st);
    st->path = strdup(path);
    if (!st->path) return err_set(e, "%s: out of memory", path);
    if (read_whole_file(path, &st->blob, &st->blob_size, e) != 0) {
        st_free(st);
        return -1;
    }
    size_t size = st->blob_size;
    if (size < 8) {
        err_set(e, "%s: truncated: %zu bytes, but a safetensors file starts with an 8-byte header length",
                path, size);
        st_free(st);
        return -1;
    }
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | st->blob[i];
    if (hlen > size - 8) {
        err_set(e, "%s: header length %" PRIu64 " exceeds the %zu bytes after the length field"
                " (truncated or not a safetensors file)", path, hlen, size - 8);
        st_free(st);
        return -1;
    }
    if (hlen > ST_MAX_HEADER) {
        err_set(e, "%s: header length %" PRIu64 " exceeds the limit of %" PRIu64 " bytes", path,
                hlen, ST_MAX_HEADER);
        st_free(st);
        return -1;
    }
    const char *header = (const char *)st->blob + 8;
    if (!utf8_valid((const unsigned char *)header, (size_t)hlen)) {
        err_set(e, "%s: header is not valid UTF-8", path);
        st_free(st);
        return -1;
    }
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(header, (size_t)hlen, &end, 0);
    if (!root) {
        size_t at = end && end >= header && end <= header + hlen ? (size_t)(end - header) : 0;
        err_set(e, "%s: header is not valid JSON (error near byte %zu of %" PRIu64 ")", path, at, hlen);
        st_free(st);
        return -1;
    }
    /* Only the padding spaces (or other JSON whitespace) may follow the object. */
    for (const char *p = end; p < header + hlen; p++)
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
            err_set(e, "%s: header has bytes after the JSON object (at byte %zu of %" PRIu64 ")",
                    path, (size_t)(p - header), hlen);
            cJSON_Delete(root);
            st_free(st);
            return -1;
        }
    if (!cJSON_IsObject(root)) {
        err_set(e, "%s: header is not a JSON object", path);
        cJSON_Delete(root);
        st_free(st);
        return -1;
    }
    const unsigned char *data = st->blob + 8 + hlen;
    int rc = parse_header(st, root, data, (uint64_t)(size - 8 - hlen), e);
    cJSON_Delete(root);
    if (rc != 0) st_free(st);
    return rc;
}

void st_free(SafeTensors *st)
{
    free(st->path);
    free(st->blob);
    free(st->tensors);
    free(st->meta_keys);
    free(st->meta_values);
    free(st->strings);
    memset(st, 0, sizeof *st);
}

const StTensor *st_find(const SafeTensors *st, const char *name)
{
    for (int i = 0; i < st->count; i++)
        if (!strcmp(st->tensors[i].name, name)) return &st->tensors[i];
    return NULL;
}

const char *st_meta(const SafeTensors *st, const char *key)
{
    for (int i = 0; i < st->meta_count; i++)
        if (!strcmp(st->meta_keys[i], key)) return st->meta_values[i];
    return NULL;
}

/* ------------------------------------------------------------ conversion */

float st_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1Fu, mant = h & 0x3FFu, bits;
    if (exp == 0x1F) {
        /* Inf, or NaN with its payload; a signalling NaN comes back quiet, as
         * the F16C instruction does it. */
        bits = sign | 0x7F800000u | (mant << 13) | (mant ? 0x00400000u : 0);
    } else if (exp == 0) {
        if (mant == 0) {
            bits = sign;
        } else {
            /* Subnormal mant * 2^-24: shift the leading 1 into the implicit
             * bit position, lowering the exponent once per shift. */
            uint32_t e = 127 - 15 + 1;
            while (!(mant & 0x400u)) {
                mant <<= 1;
                e--;
            }
            bits = sign | (e << 23) | ((mant & 0x3FFu) << 13);
        }
    } else {
        bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
    }
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

int st_tensor_to_f32(const StTensor *t, float *dst, size_t count, Error *e)
{
    if (count != t->numel) {
        char sbuf[200];
        return err_set(e, "%s: tensor '%.200s': has %zu elements (shape %s), expected %zu", t->file,
                       t->name, t->numel, shape_str(sbuf, sizeof sbuf, t->ndim, t->shape), count);
    }
    const unsigned char *src = t->data;
    switch (t->dtype) {
    case ST_F32:
        if (count) memcpy(dst, src, count * sizeof(float));
        return 0;
    case ST_F16:
        for (size_t i = 0; i < count; i++) {
            uint16_t h;
            memcpy(&h, src + 2 * i, 2);
            dst[i] = st_f16_to_f32(h);
        }
        return 0;
    case ST_BF16:
        for (size_t i = 0; i < count; i++) {
            uint16_t h;
            memcpy(&h, src + 2 * i, 2);
            uint32_t bits = (uint32_t)h << 16;
            memcpy(&dst[i], &bits, 4);
        }
        return 0;
    case ST_F64:
        for (size_t i = 0; i < count; i++) {
            double d;
            memcpy(&d, src + 8 * i, 8);
            dst[i] = (float)d;
        }
        return 0;
    default:
        return err_set(e, "%s: tensor '%.200s': dtype %s is not a floating-point type", t->file,
                       t->name, st_dtype_name(t->dtype));
    }
}

int st_get_f32(const SafeTensors *st, const char *name, float *dst, size_t count, Error *e)
{
    const StTensor *t = st_find(st, name);
    if (!t) return err_set(e, "%s: tensor '%.200s': not in the file", st->path, name);
    return st_tensor_to_f32(t, dst, count, e);
}

/* ---------------------------------------------------------------- writing */

typedef struct {
    char *p;
    size_t len, cap;
    int oom;
} Buf;

static void buf_put(Buf *b, const char *s, size_t n)
{
    if (b->oom) return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1) cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}

static void buf_printf(Buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void buf_printf(Buf *b, const char *fmt, ...)
{
    char tmp[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof tmp) {
        b->oom = 1; /* never happens for the short numbers written here */
        return;
    }
    buf_put(b, tmp, (size_t)n);
}

/* A JSON string literal; s is valid UTF-8, passed through except for the
 * characters JSON requires escaped. */
static void buf_json_string(Buf *b, const char *s)
{
    buf_put(b, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"': buf_put(b, "\\\"", 2); break;
        case '\\': buf_put(b, "\\\\", 2); break;
        case '\n': buf_put(b, "\\n", 2); break;
        case '\r': buf_put(b, "\\r", 2); break;
        case '\t': buf_put(b, "\\t", 2); break;
        default:
            if (*p < 0x20) buf_printf(b, "\\u%04x", *p);
            else buf_put(b, (const char *)p, 1);
        }
    }
    buf_put(b, "\"", 1);
}

static int valid_string(const char *s)
{
    return s && utf8_valid((const unsigned char *)s, strlen(s));
}

/* Checks the caller's list and computes each tensor's byte count. */
static int check_entries(const char *path, const StEntry *tensors, int count, const StMeta *meta,
                         int meta_count, size_t *nbytes, Error *e)
{
    if (count < 0 || meta_count < 0 || (count && !tensors) || (meta_count && !meta))
        return err_set(e, "%s: invalid tensor or metadata list", path);
    const char **names = calloc((size_t)(count > meta_count ? count : meta_count) + 1, sizeof *names);
    if (!names) return err_set(e, "%s: out of memory", path);
    int rc = -1;
    for (int i = 0; i < count; i++) {
        const StEntry *t = &tensors[i];
        if (!valid_string(t->name)) {
            err_set(e, "%s: tensor #%d: name is missing or not valid UTF-8", path, i);
            goto done;
        }
        if (!strcmp(t->name, "__metadata__")) {
            err_set(e, "%s: tensor #%d: the name \"__metadata__\" is reserved", path, i);
            goto done;
        }
        if ((unsigned)t->dtype >= ST_DTYPE_COUNT) {
            err_set(e, "%s: tensor '%.200s': invalid dtype %d", path, t->name, (int)t->dtype);
            goto done;
        }
        if (t->ndim < 0 || t->ndim > ST_MAX_DIMS) {
            err_set(e, "%s: tensor '%.200s': %d dimensions, expected 0..%d", path, t->name, t->ndim,
                    ST_MAX_DIMS);
            goto done;
        }
        size_t n = st_dtype_size(t->dtype);
        for (int d = 0; d < t->ndim; d++) {
            int64_t dim = t->shape[d];
            if (dim < 0 || (double)dim > ST_MAX_JSON_INT || (dim && n > SIZE_MAX / (uint64_t)dim)) {
                err_set(e, "%s: tensor '%.200s': invalid size %" PRId64 " of dimension %d", path,
                        t->name, dim, d);
                goto done;
            }
            n *= (size_t)dim;
        }
        if (n && !t->data) {
            err_set(e, "%s: tensor '%.200s': no data for %zu bytes", path, t->name, n);
            goto done;
        }
        nbytes[i] = n;
        names[i] = t->name;
    }
    const char *dup = first_duplicate(names, count);
    if (dup) {
        err_set(e, "%s: tensor '%.200s': name given twice", path, dup);
        goto done;
    }
    for (int i = 0; i < meta_count; i++) {
        if (!valid_string(meta[i].key) || !valid_string(meta[i].value)) {
            err_set(e, "%s: metadata #%d: key or value missing or not valid UTF-8", path, i);
            goto done;
        }
        names[i] = meta[i].key;
    }
    dup = first_duplicate(names, meta_count);
    if (dup) {
        err_set(e, "%s: metadata '%.200s': key given twice", path, dup);
        goto done;
    }
    rc = 0;
done:
    free(names);
    return rc;
}

static int write_all(int fd, const void *data, size_t n)
{
    const unsigned char *p = data;
    while (n) {
        size_t chunk = n < ((size_t)1 << 30) ? n : ((size_t)1 << 30);
        ssize_t w = write(fd, p, chunk);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Makes the rename durable. Best effort: some file systems refuse fsync on a
 * directory, and by now the new file is complete and in place. */
static void sync_parent_dir(const char *path)
{
    char *dir = strdup(path);
    if (!dir) return;
    char *slash = strrchr(dir, '/');
    const char *d = dir;
    if (!slash) d = ".";
    else if (slash == dir) dir[1] = 0;
    else *slash = 0;
    int fd = open(d, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    free(dir);
}

int st_write(const char *path, const StEntry *tensors, int count, const StMeta *meta,
             int meta_count, Error *e)
{
    if (!path || !*path) return err_set(e, "st_write: empty path");
    size_t *nbytes = calloc((size_t)(count > 0 ? count : 0) + 1, sizeof *nbytes);
    if (!nbytes) return err_set(e, "%s: out of memory", path);
    if (check_entries(path, tensors, count, meta, meta_count, nbytes, e) != 0) {
        free(nbytes);
        return -1;
    }

    Buf h = {0};
    buf_put(&h, "{", 1);
    if (meta_count) {
        buf_put(&h, "\"__metadata__\":{", 16);
        for (int i = 0; i < meta_count; i++) {
            if (i) buf_put(&h, ",", 1);
            buf_json_string(&h, meta[i].key);
            buf_put(&h, ":", 1);
            buf_json_string(&h, meta[i].value);
        }
        buf_put(&h, "}", 1);
    }
    uint64_t offset = 0;
    for (int i = 0; i < count; i++) {
        const StEntry *t = &tensors[i];
        if (i || meta_count) buf_put(&h, ",", 1);
        buf_json_string(&h, t->name);
        buf_printf(&h, ":{\"dtype\":\"%s\",\"shape\":[", st_dtype_name(t->dtype));
        for (int d = 0; d < t->ndim; d++) buf_printf(&h, "%s%" PRId64, d ? "," : "", t->shape[d]);
        buf_printf(&h, "],\"data_offsets\":[%" PRIu64 ",%" PRIu64 "]}", offset, offset + nbytes[i]);
        offset += nbytes[i];
    }
    buf_put(&h, "}", 1);
    while (!h.oom && h.len % 8) buf_put(&h, " ", 1); /* data block 8-byte aligned */
    if (h.oom) {
        free(h.p);
        free(nbytes);
        return err_set(e, "%s: out of memory building the header", path);
    }
    unsigned char len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (unsigned char)((uint64_t)h.len >> (8 * i));

    size_t tmp_size = strlen(path) + 32;
    char *tmp = malloc(tmp_size);
    if (!tmp) {
        free(h.p);
        free(nbytes);
        return err_set(e, "%s: out of memory", path);
    }
    snprintf(tmp, tmp_size, "%s.tmp.%ld", path, (long)getpid());
    int rc = -1;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        err_set(e, "%s: cannot create temp file %s: %s", path, tmp, strerror(errno));
        goto done;
    }
    int failed = write_all(fd, len8, 8) || write_all(fd, h.p, h.len);
    for (int i = 0; i < count && !failed; i++)
        if (nbytes[i]) failed = write_all(fd, tensors[i].data, nbytes[i]);
    if (failed) {
        err_set(e, "%s: writing temp file %s failed: %s", path, tmp, strerror(errno));
    } else if (fsync(fd) != 0) {
        err_set(e, "%s: fsync of temp file %s failed: %s", path, tmp, strerror(errno));
        failed = 1;
    }
    if (close(fd) != 0 && !failed) {
        err_set(e, "%s: closing temp file %s failed: %s", path, tmp, strerror(errno));
        failed = 1;
    }
    if (failed) {
        unlink(tmp);
        goto done;
    }
    if (rename(tmp, path) != 0) {
        err_set(e, "%s: cannot rename temp file %s over it: %s", path, tmp, strerror(errno));
        unlink(tmp);
        goto done;
    }
    sync_parent_dir(path);
    rc = 0;
done:
    free(tmp);
    free(h.p);
    free(nbytes);
    return rc;
}
