/* safetensors reader/writer: round trips, dtype conversion, rejection of
 * malformed files with a message naming file, tensor and reason, atomic writes,
 * and a file written by scripts/safetensors_np.py. */
#include <dirent.h>
#include <errno.h>
#include <float.h>
#include <signal.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ckpt/safetensors.h"
#include "core/rng.h"
#include "test.h"

#define PY_FIXTURE "tests/fixtures/nn/st_python_dtypes.safetensors"

/* ------------------------------------------------------------ file helpers */

/* A fresh empty directory under $TMPDIR (or /tmp); returns 0 on success. */
static int tmp_dir_new(char *dir, size_t size)
{
    const char *base = getenv("TMPDIR");
    snprintf(dir, size, "%s/yv5_st_XXXXXX", base && *base ? base : "/tmp");
    int ok = mkdtemp(dir) != NULL;
    CHECK(ok, "mkdtemp %s: %s", dir, strerror(errno));
    return ok ? 0 : -1;
}

/* Number of entries in dir other than . and .. (-1 if unreadable). */
static int dir_entries(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    for (struct dirent *ent; (ent = readdir(d));)
        if (strcmp(ent->d_name, ".") && strcmp(ent->d_name, "..")) n++;
    closedir(d);
    return n;
}

/* Removes the files directly inside dir (the tests make no subdirectories
 * that outlive them), then dir itself. */
static void tmp_dir_remove(const char *dir)
{
    DIR *d = opendir(dir);
    if (d) {
        for (struct dirent *ent; (ent = readdir(d));) {
            if (!strcmp(ent->d_name, ".") || !strcmp(ent->d_name, "..")) continue;
            char path[512];
            snprintf(path, sizeof path, "%s/%s", dir, ent->d_name);
            if (unlink(path) != 0) rmdir(path);
        }
        closedir(d);
    }
    rmdir(dir);
}

static int write_bytes(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t w = n ? fwrite(data, 1, n, f) : 0;
    return (fclose(f) == 0 && w == n) ? 0 : -1;
}

/* The whole file in a malloc'd buffer (NULL if unreadable). */
static unsigned char *read_bytes(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 4096, n = 0;
    unsigned char *buf = malloc(cap);
    for (size_t r; buf && (r = fread(buf + n, 1, cap - n, f)) > 0;) {
        n += r;
        if (n == cap) {
            unsigned char *p = realloc(buf, cap *= 2);
            if (!p) free(buf);
            buf = p;
        }
    }
    fclose(f);
    *size = n;
    return buf;
}

/* A safetensors file from a header string, a declared header length and data. */
static int write_st_raw(const char *path, uint64_t declared_len, const char *header,
                        const void *data, size_t data_len)
{
    size_t hlen = strlen(header);
    unsigned char *buf = malloc(8 + hlen + data_len + 1);
    if (!buf) return -1;
    for (int i = 0; i < 8; i++) buf[i] = (unsigned char)(declared_len >> (8 * i));
    memcpy(buf + 8, header, hlen);
    if (data_len) memcpy(buf + 8 + hlen, data, data_len);
    int rc = write_bytes(path, buf, 8 + hlen + data_len);
    free(buf);
    return rc;
}

static float bits_f32(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static uint32_t f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

/* -------------------------------------------------------------- round trip */

static void round_trip_all_fields(void)
{
    char dir[256], path[320];
    if (tmp_dir_new(dir, sizeof dir)) return;
    snprintf(path, sizeof path, "%s/model.safetensors", dir);

    float weight[4 * 3 * 2 * 2];
    for (int i = 0; i < 48; i++) weight[i] = (float)i * 0.37f - 5.0f;
    weight[1] = -0.0f;
    weight[2] = INFINITY;
    weight[3] = bits_f32(0x7fc01234u); /* NaN with a payload */
    weight[4] = bits_f32(0x00000003u); /* subnormal */
    uint16_t half[5] = {0x3C00, 0x7C00, 0x0001, 0xFE01, 0x8000};
    int64_t step = -9007199254740993LL; /* not representable in a double */
    int32_t idx[6] = {0, -1, INT32_MAX, INT32_MIN, 7, 42};
    uint8_t mask[7] = {0, 1, 2, 127, 128, 254, 255};
    float scalar = 3.5f;
    double f64[2] = {0.1, -1e300};
    const char *uname = "unicode name \xce\xbc/\xe6\x97\xa5\xe6\x9c\xac";
    StEntry tensors[] = {
        {"conv.weight", ST_F32, 4, {4, 3, 2, 2}, weight},
        {"half", ST_F16, 1, {5}, half},
        {"step", ST_I64, 0, {0}, &step},
        {"idx", ST_I32, 2, {2, 3}, idx},
        {"mask", ST_U8, 1, {7}, mask},
        {"scalar", ST_F32, 0, {0}, &scalar},
        {"empty", ST_F32, 2, {0, 3}, NULL},
        {uname, ST_F64, 1, {2}, f64},
    };
    const int count = (int)(sizeof tensors / sizeof tensors[0]);
    StMeta meta[] = {
        {"quote", "he said \"hi\" \\ back"},
        {"unicode", "\xce\xbc = 0.5 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80"},
        {"newlines", "a\nb\r\n\tc\x01 end"},
        {"empty", ""},
        {"nc", "80"},
    };
    const int meta_count = (int)(sizeof meta / sizeof meta[0]);
    Error e = {{0}};
    int rc = st_write(path, tensors, count, meta, meta_count, &e);
    CHECK(rc == 0, "st_write: %s", e.msg);
    CHECK(dir_entries(dir) == 1, "temp file left behind (%d entries)", dir_entries(dir));

    /* Header length and data block alignment. */
    size_t size = 0;
    unsigned char *raw = read_bytes(path, &size);
    CHECK(raw && size >= 8, "cannot read back %s", path);
    if (raw && size >= 8) {
        uint64_t hlen = 0;
        for (int i = 7; i >= 0; i--) hlen = hlen << 8 | raw[i];
        CHECK(hlen % 8 == 0, "header length %llu not a multiple of 8", (unsigned long long)hlen);
        CHECK(raw[8] == '{', "header starts with '%c'", raw[8]);
        size_t data_bytes = sizeof weight + sizeof half + 8 + sizeof idx + sizeof mask + 4 + 16;
        CHECK(size == 8 + hlen + data_bytes, "file size %zu, expected %llu", size,
              (unsigned long long)(8 + hlen + data_bytes));
    }
    free(raw);

    SafeTensors st;
    rc = st_read(&st, path, &e);
    CHECK(rc == 0, "st_read: %s", e.msg);
    if (rc == 0) {
        CHECK(st.count == count, "count %d", st.count);
        for (int i = 0; i < count && i < st.count; i++) {
            const StTensor *t = &st.tensors[i];
            const StEntry *want = &tensors[i];
            CHECK(!strcmp(t->name, want->name), "tensor %d name '%s', expected '%s' (file order)", i,
                  t->name, want->name);
            CHECK(t->dtype == want->dtype, "%s dtype %s", t->name, st_dtype_name(t->dtype));
            CHECK(t->ndim == want->ndim, "%s ndim %d", t->name, t->ndim);
            size_t numel = 1;
            for (int d = 0; d < want->ndim; d++) {
                CHECK(t->shape[d] == want->shape[d], "%s shape[%d] %lld", t->name, d,
                      (long long)t->shape[d]);
                numel *= (size_t)want->shape[d];
            }
            CHECK(t->numel == numel, "%s numel %zu, expected %zu", t->name, t->numel, numel);
            CHECK(t->nbytes == numel * st_dtype_size(want->dtype), "%s nbytes %zu", t->name, t->nbytes);
            CHECK(!strcmp(t->file, path), "%s file '%s'", t->name, t->file);
            if (t->nbytes == numel * st_dtype_size(want->dtype) && numel)
                CHECK(!memcmp(t->data, want->data, t->nbytes), "%s: data not bit-exact", t->name);
            CHECK(st_find(&st, want->name) == t, "st_find(%s)", want->name);
        }
        CHECK(st.meta_count == meta_count, "meta_count %d", st.meta_count);
        for (int i = 0; i < meta_count; i++) {
            const char *v = st_meta(&st, meta[i].key);
            CHECK(v && !strcmp(v, meta[i].value), "metadata '%s' = '%s'", meta[i].key, v ? v : "(null)");
        }
        CHECK(st_meta(&st, "missing") == NULL, "st_meta of a missing key");
        CHECK(st_find(&st, "missing") == NULL, "st_find of a missing tensor");

        /* Conversion to float from F32, F16, F64, and the refusals. */
        float got[48];
        rc = st_get_f32(&st, "conv.weight", got, 48, &e);
        CHECK(rc == 0 && !memcmp(got, weight, sizeof weight), "F32 to f32: %s", rc ? e.msg : "differs");
        rc = st_get_f32(&st, "half", got, 5, &e);
        CHECK(rc == 0 && got[0] == 1.0f && isinf(got[1]) && got[2] == 0x1p-24f && isnan(got[3]) &&
                  signbit(got[3]) && got[4] == 0 && signbit(got[4]),
              "F16 to f32: %s", rc ? e.msg : "wrong values");
        rc = st_get_f32(&st, uname, got, 2, &e);
        CHECK(rc == 0 && got[0] == 0.1f && got[1] == -INFINITY, "F64 to f32: %s", rc ? e.msg : "wrong");
        rc = st_get_f32(&st, "scalar", got, 1, &e);
        CHECK(rc == 0 && got[0] == 3.5f, "0-d F32: %s", rc ? e.msg : "wrong");
        rc = st_get_f32(&st, "empty", got, 0, &e);
        CHECK(rc == 0, "empty tensor: %s", e.msg);
        rc = st_get_f32(&st, "step", got, 1, &e);
        CHECK(rc != 0 && strstr(e.msg, "'step'") && strstr(e.msg, "I64") && strstr(e.msg, path),
              "I64 to f32 refused: %s", e.msg);
        rc = st_get_f32(&st, "conv.weight", got, 47, &e);
        CHECK(rc != 0 && strstr(e.msg, "has 48 elements") && strstr(e.msg, "[4, 3, 2, 2]") &&
                  strstr(e.msg, "expected 47"),
              "count mismatch refused: %s", e.msg);
        rc = st_get_f32(&st, "nope", got, 1, &e);
        CHECK(rc != 0 && strstr(e.msg, "'nope'") && strstr(e.msg, "not in the file"), "missing: %s",
              e.msg);
        st_free(&st);
        CHECK(st.count == 0 && st.blob == NULL && st.tensors == NULL, "st_free leaves st zeroed");
    }

    /* Overwriting replaces the content; an empty file (no tensors, no
     * metadata) is valid too. */
    rc = st_write(path, NULL, 0, NULL, 0, &e);
    CHECK(rc == 0, "empty st_write: %s", e.msg);
    rc = st_read(&st, path, &e);
    CHECK(rc == 0 && st.count == 0 && st.meta_count == 0, "empty read back: %s", rc ? e.msg : "not empty");
    st_free(&st);
    CHECK(dir_entries(dir) == 1, "temp file left behind");
    tmp_dir_remove(dir);
}

/* ----------------------------------------------------------- conversions */

/* Independent value of an IEEE half: (-1)^s * 2^(e-15) * 1.m, subnormals 2^-14 * 0.m. */
static double f16_value(uint16_t h)
{
    int sign = h >> 15, exp = (h >> 10) & 31, mant = h & 1023;
    double v = exp == 0 ? ldexp(mant, -24) : ldexp(1024 + mant, exp - 25);
    return sign ? -v : v;
}

static void f16_bf16_f64_conversion(void)
{
    int bad = 0;
    for (uint32_t u = 0; u < 65536; u++) {
        uint16_t h = (uint16_t)u;
        float f = st_f16_to_f32(h);
        int exp = (h >> 10) & 31, mant = h & 1023;
        int ok;
        if (exp == 31 && mant == 0) ok = isinf(f) && !!signbit(f) == (h >> 15);
        else if (exp == 31)
            /* NaN: sign and the 10 payload bits kept (shifted up), quiet bit set. */
            ok = isnan(f) && !!signbit(f) == (h >> 15) &&
                 ((f32_bits(f) >> 13) & 1023) == ((unsigned)mant | 512);
        else ok = (double)f == f16_value(h) && !!signbit(f) == (h >> 15);
        if (!ok && bad++ < 4) CHECK(ok, "f16 0x%04x -> %.9g (bits 0x%08x)", (unsigned)h, f, f32_bits(f));
    }
    CHECK(bad == 0, "%d of 65536 half values converted wrongly", bad);

    /* Named special values. */
    CHECK(st_f16_to_f32(0x0001) == 0x1p-24f, "smallest subnormal");
    CHECK(st_f16_to_f32(0x03FF) == 0x1.ff8p-15f, "largest subnormal %.9g", st_f16_to_f32(0x03FF));
    CHECK(st_f16_to_f32(0x0400) == 0x1p-14f, "smallest normal");
    CHECK(st_f16_to_f32(0x7BFF) == 65504.0f, "largest finite");
    CHECK(st_f16_to_f32(0x3555) == 0x1.554p-2f, "0x3555 (~1/3)");
    CHECK(st_f16_to_f32(0xFC00) == -INFINITY, "-inf");
    CHECK(f32_bits(st_f16_to_f32(0x8000)) == 0x80000000u, "-0");

    /* BF16 and F64 through a tensor built by hand (a plain struct). */
    uint16_t bf[6] = {0x3F80, 0x7F80, 0xFF80, 0x7FC1, 0x0001, 0xC040};
    StTensor t = {.name = "bf", .file = "mem", .dtype = ST_BF16, .ndim = 1, .shape = {6},
                  .numel = 6, .nbytes = 12, .data = bf};
    float got[6];
    Error e;
    int rc = st_tensor_to_f32(&t, got, 6, &e);
    CHECK(rc == 0 && got[0] == 1.0f && got[1] == INFINITY && got[2] == -INFINITY && isnan(got[3]) &&
              f32_bits(got[4]) == 0x00010000u && got[5] == -3.0f,
          "BF16: %s", rc ? e.msg : "wrong values");
    double d[5] = {1e300, -1e-50, 1.0 + 0x1p-30, NAN, -0.0};
    t = (StTensor){.name = "d", .file = "mem", .dtype = ST_F64, .ndim = 1, .shape = {5},
                   .numel = 5, .nbytes = 40, .data = d};
    rc = st_tensor_to_f32(&t, got, 5, &e);
    CHECK(rc == 0 && got[0] == INFINITY && got[1] == 0 && signbit(got[1]) && got[2] == 1.0f &&
              isnan(got[3]) && signbit(got[4]),
          "F64: %s", rc ? e.msg : "wrong values");
    /* Unaligned source bytes are fine. */
    unsigned char buf[13];
    float one = 1.5f, two = -2.0f, three = 0x1p-140f;
    memcpy(buf + 1, &one, 4);
    memcpy(buf + 5, &two, 4);
    memcpy(buf + 9, &three, 4);
    t = (StTensor){.name = "u", .file = "mem", .dtype = ST_F32, .ndim = 1, .shape = {3},
                   .numel = 3, .nbytes = 12, .data = buf + 1};
    rc = st_tensor_to_f32(&t, got, 3, &e);
    CHECK(rc == 0 && got[0] == 1.5f && got[1] == -2.0f && got[2] == 0x1p-140f, "unaligned F32");
    for (int dt = 0; dt < ST_DTYPE_COUNT; dt++)
        CHECK(st_dtype_size((StDtype)dt) > 0 && strcmp(st_dtype_name((StDtype)dt), "?"),
              "dtype %d has a name and size", dt);
    CHECK(!strcmp(st_dtype_name(ST_BF16), "BF16") && st_dtype_size(ST_I64) == 8, "dtype table");
}

/* ------------------------------------------------------- malformed files */

/* Writes the case and expects st_read to fail with the path, every one of the
 * `want` substrings (NULL-terminated) in the message, and st left empty. */
static void expect_reject_file(const char *path, const char *label, const char *const *want)
{
    SafeTensors st;
    Error e = {{0}};
    int rc = st_read(&st, path, &e);
    CHECK(rc != 0, "%s: accepted", label);
    if (rc == 0) {
        st_free(&st);
        return;
    }
    CHECK(strstr(e.msg, path) != NULL, "%s: message does not name the file: %s", label, e.msg);
    for (const char *const *w = want; *w; w++)
        CHECK(strstr(e.msg, *w) != NULL, "%s: message lacks '%s': %s", label, *w, e.msg);
    CHECK(st.count == 0 && st.blob == NULL && st.tensors == NULL && st.path == NULL,
          "%s: st not left empty", label);
}

#define WANT(...) ((const char *const[]){__VA_ARGS__, NULL})

static void expect_reject(const char *dir, const char *label, const char *header,
                          size_t data_len, const char *const *want)
{
    char path[320];
    snprintf(path, sizeof path, "%s/%s.safetensors", dir, label);
    unsigned char data[64] = {0};
    CHECK(data_len <= sizeof data, "test data too long");
    if (write_st_raw(path, strlen(header), header, data, data_len) != 0) {
        CHECK(0, "%s: cannot write %s", label, path);
        return;
    }
    expect_reject_file(path, label, want);
}

static void rejects_malformed_files(void)
{
    char dir[256], path[320];
    if (tmp_dir_new(dir, sizeof dir)) return;
    const char *ok_entry = "\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]";
    char header[512];

    /* Too short for the length field; empty file. */
    snprintf(path, sizeof path, "%s/short.safetensors", dir);
    write_bytes(path, "\x10\0\0\0\0", 5);
    expect_reject_file(path, "truncated length", WANT("truncated", "5 bytes"));
    write_bytes(path, "", 0);
    expect_reject_file(path, "empty file", WANT("truncated", "0 bytes"));

    /* Header length beyond the file, and absurdly large (8 + N overflows). */
    snprintf(path, sizeof path, "%s/long.safetensors", dir);
    write_st_raw(path, 1000, "{}", NULL, 0);
    expect_reject_file(path, "header beyond file", WANT("header length 1000", "exceeds"));
    write_st_raw(path, UINT64_MAX, "{}", NULL, 0);
    expect_reject_file(path, "header length 2^64-1", WANT("header length 18446744073709551615"));
    /* Truncated in the middle of the header. */
    snprintf(header, sizeof header, "{\"a\":{%s}}", ok_entry);
    write_st_raw(path, strlen(header), header, NULL, 0);
    expect_reject_file(path, "data block missing", WANT("'a'", "data block"));

    expect_reject(dir, "invalid json", "{\"a\": {\"dtype\": \"F32\", ", 0, WANT("not valid JSON"));
    expect_reject(dir, "not an object", "[1, 2]  ", 0, WANT("not a JSON object"));
    snprintf(header, sizeof header, "{\"a\":{%s}} xyz", ok_entry);
    expect_reject(dir, "trailing garbage", header, 8, WANT("after the JSON object"));
    expect_reject(dir, "invalid utf8", "{\"\xff\":{}}", 0, WANT("UTF-8"));
    expect_reject(dir, "unknown dtype",
                  "{\"w\":{\"dtype\":\"F17\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8,
                  WANT("tensor 'w'", "unknown dtype 'F17'"));
    expect_reject(dir, "missing dtype", "{\"w\":{\"shape\":[2],\"data_offsets\":[0,8]}}", 8,
                  WANT("tensor 'w'", "dtype"));
    expect_reject(dir, "offsets out of range",
                  "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}", 8,
                  WANT("tensor 'w'", "[8, 16]", "out of range", "8-byte data block"));
    expect_reject(dir, "begin after end",
                  "{\"w\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,4]}}", 8,
                  WANT("tensor 'w'", "out of range"));
    expect_reject(dir, "offsets mismatch shape",
                  "{\"w\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,12]}}", 16,
                  WANT("tensor 'w'", "span 12 bytes", "[2, 2] of F32 needs 16"));
    expect_reject(dir, "shape larger than data",
                  "{\"w\":{\"dtype\":\"F64\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8,
                  WANT("tensor 'w'", "[3] of F64"));
    expect_reject(dir, "shape product overflows",
                  "{\"w\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,16],"
                  "\"data_offsets\":[0,8]}}",
                  8, WANT("tensor 'w'", "needs more bytes"));
    expect_reject(dir, "overlap",
                  "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
                  "\"b\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[8,24]}}",
                  24, WANT("tensor 'b'", "overlap tensor 'a'"));
    expect_reject(dir, "contained overlap",
                  "{\"a\":{\"dtype\":\"F32\",\"shape\":[6],\"data_offsets\":[0,24]},"
                  "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[20,24]},"
                  "\"c\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[8,12]}}",
                  24, WANT("overlap tensor 'a'"));
    snprintf(header, sizeof header, "{\"a\":{%s},\"a\":{%s}}", ok_entry, ok_entry);
    expect_reject(dir, "duplicate names", header, 8, WANT("tensor 'a'", "appears twice"));
    expect_reject(dir, "non-string metadata", "{\"__metadata__\":{\"k\":1}}", 0,
                  WANT("metadata 'k'", "not a string"));
    expect_reject(dir, "metadata not an object", "{\"__metadata__\":[\"x\"]}", 0,
                  WANT("__metadata__", "not a JSON object"));
    expect_reject(dir, "duplicate metadata key", "{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"}}", 0,
                  WANT("metadata 'k'", "twice"));
    expect_reject(dir, "negative offset",
                  "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[-8,0]}}", 8,
                  WANT("tensor 'w'", "data_offsets"));
    expect_reject(dir, "three offsets",
                  "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8,8]}}", 8,
                  WANT("tensor 'w'", "pair"));
    expect_reject(dir, "fractional shape",
                  "{\"w\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,8]}}", 8,
                  WANT("tensor 'w'", "shape[0]"));
    expect_reject(dir, "string shape",
                  "{\"w\":{\"dtype\":\"F32\",\"shape\":\"2\",\"data_offsets\":[0,8]}}", 8,
                  WANT("tensor 'w'", "shape"));
    expect_reject(dir, "too many dims",
                  "{\"w\":{\"dtype\":\"U8\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,1]}}", 8,
                  WANT("tensor 'w'", "9 dimensions"));
    expect_reject(dir, "entry not an object", "{\"w\":3}", 0, WANT("tensor 'w'", "not a JSON object"));

    /* Nesting deeper than cJSON's limit: rejected, not a stack overflow. */
    size_t depth = 5000;
    char *deep = malloc(2 * depth + 16);
    if (deep) {
        strcpy(deep, "{\"a\":");
        size_t pos = strlen(deep);
        for (size_t i = 0; i < depth; i++) deep[pos++] = '[';
        for (size_t i = 0; i < depth; i++) deep[pos++] = ']';
        strcpy(deep + pos, "}");
        expect_reject(dir, "deep nesting", deep, 0, WANT("not valid JSON"));
        free(deep);
    }

    /* Not a file at all. */
    snprintf(path, sizeof path, "%s/does-not-exist.safetensors", dir);
    expect_reject_file(path, "missing file", WANT("cannot open"));
    expect_reject_file(dir, "a directory", WANT("not a regular file"));

    /* Gaps between tensors and zero-size tensors anywhere are accepted. */
    snprintf(path, sizeof path, "%s/gaps.safetensors", dir);
    const char *gaps = "{\"b\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[6,8]},"
                       "\"z\":{\"dtype\":\"F32\",\"shape\":[0,5],\"data_offsets\":[7,7]},"
                       "\"a\":{\"dtype\":\"U8\",\"shape\":[],\"data_offsets\":[1,2]}}";
    unsigned char data[8] = {0, 11, 0, 0, 0, 0, 22, 33};
    write_st_raw(path, strlen(gaps), gaps, data, 8);
    SafeTensors st;
    Error e;
    int rc = st_read(&st, path, &e);
    CHECK(rc == 0, "gaps: %s", e.msg);
    if (rc == 0) {
        CHECK(st.count == 3 && !strcmp(st.tensors[0].name, "a") && !strcmp(st.tensors[1].name, "b") &&
                  !strcmp(st.tensors[2].name, "z"),
              "tensors in data order");
        const StTensor *a = st_find(&st, "a"), *b = st_find(&st, "b");
        CHECK(a && a->ndim == 0 && a->numel == 1 && *(const uint8_t *)a->data == 11, "0-d U8");
        CHECK(b && ((const uint8_t *)b->data)[1] == 33, "U8 data");
        st_free(&st);
    }
    tmp_dir_remove(dir);
}

/* Every truncation of a valid file and random byte corruptions: st_read must
 * either fail with a message or return a consistent table (never crash; the
 * ASan build checks memory safety). */
static void survives_corruption(void)
{
    char dir[256], path[320], bad[320];
    if (tmp_dir_new(dir, sizeof dir)) return;
    snprintf(path, sizeof path, "%s/good.safetensors", dir);
    snprintf(bad, sizeof bad, "%s/bad.safetensors", dir);
    float a[6] = {1, 2, 3, 4, 5, 6};
    int64_t b[2] = {7, 8};
    uint16_t c[3] = {0x3C00, 0x4000, 0x4200};
    StEntry tensors[] = {{"a", ST_F32, 2, {2, 3}, a}, {"b", ST_I64, 1, {2}, b}, {"c", ST_F16, 1, {3}, c}};
    StMeta meta[] = {{"k", "v"}};
    Error e;
    CHECK(st_write(path, tensors, 3, meta, 1, &e) == 0, "write: %s", e.msg);
    size_t size = 0;
    unsigned char *good = read_bytes(path, &size);
    CHECK(good != NULL && size > 8, "read back");
    if (!good || size <= 8) {
        free(good);
        tmp_dir_remove(dir);
        return;
    }
    int accepted = 0;
    for (size_t len = 0; len < size; len++) {
        write_bytes(bad, good, len);
        SafeTensors st;
        e.msg[0] = 0;
        int rc = st_read(&st, bad, &e);
        CHECK(rc != 0 && e.msg[0], "truncated to %zu of %zu bytes: accepted", len, size);
        if (rc == 0) st_free(&st);
    }
    unsigned char *mut = malloc(size);
    Rng rng;
    rng_seed(&rng, 12345);
    for (int iter = 0; mut && iter < 3000; iter++) {
        memcpy(mut, good, size);
        int flips = (int)rng_int(&rng, 1, 4);
        for (int f = 0; f < flips; f++) {
            size_t at = (size_t)rng_int(&rng, 0, (int64_t)size - 1);
            /* Mostly printable JSON-ish bytes, sometimes anything. */
            const char *pool = "{}[]\",:0123456789e-. aF";
            mut[at] = rng_int(&rng, 0, 3) ? (unsigned char)pool[rng_int(&rng, 0, (int64_t)strlen(pool) - 1)]
                                          : (unsigned char)rng_int(&rng, 0, 255);
        }
        write_bytes(bad, mut, size);
        SafeTensors st;
        e.msg[0] = 0;
        if (st_read(&st, bad, &e) != 0) {
            CHECK(e.msg[0] != 0, "corruption %d: failure without a message", iter);
            continue;
        }
        accepted++;
        for (int i = 0; i < st.count; i++) {
            const StTensor *t = &st.tensors[i];
            const unsigned char *p = t->data;
            CHECK(p >= st.blob && p + t->nbytes <= st.blob + st.blob_size &&
                      t->nbytes == t->numel * st_dtype_size(t->dtype),
                  "corruption %d: tensor '%s' inconsistent", iter, t->name);
        }
        st_free(&st);
    }
    free(mut);
    free(good);
    CHECK(accepted < 3000, "some corruptions must be detected");
    tmp_dir_remove(dir);
}

/* --------------------------------------------------------- failed writes */

static void check_unchanged(const char *path, const unsigned char *orig, size_t orig_size,
                            const char *label)
{
    size_t size = 0;
    unsigned char *now = read_bytes(path, &size);
    CHECK(now && size == orig_size && !memcmp(now, orig, size), "%s: existing file changed", label);
    free(now);
}

static void failed_writes_keep_old_file(void)
{
    char dir[256], path[320], tmp[400], missing[400];
    if (tmp_dir_new(dir, sizeof dir)) return;
    snprintf(path, sizeof path, "%s/ckpt.safetensors", dir);
    float old_data[4] = {1, 2, 3, 4};
    StEntry old_t[] = {{"w", ST_F32, 1, {4}, old_data}};
    Error e;
    CHECK(st_write(path, old_t, 1, NULL, 0, &e) == 0, "initial write: %s", e.msg);
    size_t orig_size = 0;
    unsigned char *orig = read_bytes(path, &orig_size);
    CHECK(orig != NULL, "read initial file");
    if (!orig) {
        tmp_dir_remove(dir);
        return;
    }

    static float big[1 << 16];
    StEntry new_t[] = {{"w", ST_F32, 1, {1 << 16}, big}};

    /* Directory does not exist. */
    snprintf(missing, sizeof missing, "%s/no/such/dir/ckpt.safetensors", dir);
    int rc = st_write(missing, new_t, 1, NULL, 0, &e);
    CHECK(rc != 0 && strstr(e.msg, missing) && strstr(e.msg, "No such file"), "missing dir: %s", e.msg);

    /* The temp path is taken by a directory: cannot create the temp file. */
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    CHECK(mkdir(tmp, 0755) == 0, "mkdir %s", tmp);
    rc = st_write(path, new_t, 1, NULL, 0, &e);
    CHECK(rc != 0 && strstr(e.msg, "temp file"), "blocked temp: %s", e.msg);
    check_unchanged(path, orig, orig_size, "blocked temp");
    rmdir(tmp);

    /* Failure in the middle of writing the data (file size limit): the temp
     * file is removed and the old file stays. */
    struct rlimit old_lim, lim;
    int limited = 0;
    if (getrlimit(RLIMIT_FSIZE, &old_lim) == 0) {
        void (*old_handler)(int) = signal(SIGXFSZ, SIG_IGN);
        lim = old_lim;
        lim.rlim_cur = 4096;
        if (setrlimit(RLIMIT_FSIZE, &lim) == 0) {
            limited = 1;
            rc = st_write(path, new_t, 1, NULL, 0, &e);
            setrlimit(RLIMIT_FSIZE, &old_lim);
            CHECK(rc != 0 && strstr(e.msg, "writing temp file"), "write failure: %s", e.msg);
            check_unchanged(path, orig, orig_size, "write failure");
        }
        signal(SIGXFSZ, old_handler);
    }
    CHECK(limited, "could not lower RLIMIT_FSIZE to simulate a failing write");

    /* Invalid requests are refused before anything is written. */
    float two[2] = {0};
    StEntry dup[] = {{"a", ST_F32, 1, {2}, two}, {"a", ST_F32, 1, {2}, two}};
    rc = st_write(path, dup, 2, NULL, 0, &e);
    CHECK(rc != 0 && strstr(e.msg, "'a'") && strstr(e.msg, "twice"), "duplicate names: %s", e.msg);
    StEntry reserved[] = {{"__metadata__", ST_F32, 1, {2}, two}};
    rc = st_write(path, reserved, 1, NULL, 0, &e);
    CHECK(rc != 0 && strstr(e.msg, "reserved"), "reserved name: %s", e.msg);
    StEntry negative[] = {{"n", ST_F32, 2, {2, -1}, two}};
    rc = st_write(path, negative, 1, NULL, 0, &e);
    CHECK(rc != 0 && strstr(e.msg, "'n'") && strstr(e.msg, "-1"), "negative dim: %s", e.msg);
    StEntry no_data[] = {{"d", ST_F32, 1, {2}, NULL}};
    rc = st_write(path, no_data, 1, NULL, 0, &e);
    CHECK(rc != 0 && strstr(e.msg, "'d'") && strstr(e.msg, "no data"), "NULL data: %s", e.msg);
    StEntry bad_dtype[] = {{"t", (StDtype)99, 1, {2}, two}};
    rc = st_write(path, bad_dtype, 1, NULL, 0, &e);
    CHECK(rc != 0 && strstr(e.msg, "dtype"), "bad dtype: %s", e.msg);
    StMeta bad_meta[] = {{"k", "\xc3\x28"}};
    rc = st_write(path, old_t, 1, bad_meta, 1, &e);
    CHECK(rc != 0 && strstr(e.msg, "UTF-8"), "invalid UTF-8 metadata: %s", e.msg);
    StMeta dup_meta[] = {{"k", "1"}, {"k", "2"}};
    rc = st_write(path, old_t, 1, dup_meta, 2, &e);
    CHECK(rc != 0 && strstr(e.msg, "'k'"), "duplicate metadata: %s", e.msg);

    check_unchanged(path, orig, orig_size, "after refused writes");
    CHECK(dir_entries(dir) == 1, "temp files left behind (%d entries)", dir_entries(dir));
    free(orig);
    tmp_dir_remove(dir);
}

/* ------------------------------------------- a file written by Python */

static void reads_python_written_file(void)
{
    SafeTensors st;
    Error e;
    int rc = st_read(&st, PY_FIXTURE, &e);
    CHECK(rc == 0, "%s", e.msg);
    if (rc != 0) return;
    const char *order[] = {"f32", "f16", "f64", "i64", "i32", "u8", "scalar", "empty"};
    CHECK(st.count == 8, "count %d", st.count);
    for (int i = 0; i < 8 && i < st.count; i++)
        CHECK(!strcmp(st.tensors[i].name, order[i]), "tensor %d is '%s', expected '%s'", i,
              st.tensors[i].name, order[i]);

    float f[8];
    rc = st_get_f32(&st, "f32", f, 5, &e);
    CHECK(rc == 0 && f[0] == 1.5f && f[1] == 0 && signbit(f[1]) && f[2] == INFINITY &&
              f[3] == -2.25e-40f && f[4] == 3.4028235e38f,
          "f32: %s", rc ? e.msg : "values");
    rc = st_get_f32(&st, "f16", f, 8, &e);
    CHECK(rc == 0 && f[0] == 1 && f[1] == -2 && f[2] == 65504 && f[3] == 0x1p-14f && f[4] == 0x1p-24f &&
              f[5] == INFINITY && f[6] == -INFINITY && isnan(f[7]),
          "f16: %s", rc ? e.msg : "values");
    rc = st_get_f32(&st, "f64", f, 3, &e);
    CHECK(rc == 0 && f[0] == 0.1f && f[1] == -INFINITY && f[2] == 0, "f64: %s", rc ? e.msg : "values");
    const StTensor *t = st_find(&st, "i64");
    CHECK(t && t->dtype == ST_I64 && t->ndim == 2 && t->shape[0] == 2 && t->shape[1] == 2, "i64 shape");
    if (t && t->nbytes == 32) {
        int64_t v[4];
        memcpy(v, t->data, 32);
        CHECK(v[0] == -(1LL << 62) && v[1] == (1LL << 62) + 1 && v[2] == 0 && v[3] == -1, "i64 values");
    }
    t = st_find(&st, "i32");
    CHECK(t && t->dtype == ST_I32 && t->ndim == 0 && t->numel == 1, "i32 is 0-d");
    if (t && t->nbytes == 4) {
        int32_t v;
        memcpy(&v, t->data, 4);
        CHECK(v == -7, "i32 value %d", v);
    }
    t = st_find(&st, "u8");
    CHECK(t && t->dtype == ST_U8 && t->nbytes == 3 && !memcmp(t->data, "\x00\xff\x80", 3), "u8");
    rc = st_get_f32(&st, "scalar", f, 1, &e);
    CHECK(rc == 0 && f[0] == 0.25f, "scalar: %s", rc ? e.msg : "value");
    t = st_find(&st, "empty");
    CHECK(t && t->ndim == 2 && t->shape[0] == 0 && t->shape[1] == 4 && t->numel == 0, "empty");

    const char *v = st_meta(&st, "unicode");
    CHECK(v && !strcmp(v, "\xce\xbc=0.5 \xc2\xb7 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80"),
          "unicode metadata (escaped \\u and a surrogate pair in the file): '%s'", v ? v : "(null)");
    v = st_meta(&st, "quote");
    CHECK(v && !strcmp(v, "say \"hi\" \\ back"), "quote metadata '%s'", v ? v : "(null)");
    v = st_meta(&st, "multi");
    CHECK(v && !strcmp(v, "line1\nline2\ttab"), "multi-line metadata '%s'", v ? v : "(null)");
    st_free(&st);
}

TEST_MAIN(TEST_ENTRY(round_trip_all_fields), TEST_ENTRY(f16_bf16_f64_conversion),
          TEST_ENTRY(rejects_malformed_files), TEST_ENTRY(survives_corruption),
          TEST_ENTRY(failed_writes_keep_old_file), TEST_ENTRY(reads_python_written_file))
