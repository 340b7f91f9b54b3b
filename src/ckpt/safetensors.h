/* safetensors files: read (validated, never trusting the file) and write (atomically).
 *
 * Layout: u64 little-endian header length N, N bytes of UTF-8 JSON
 *     {"__metadata__": {"key": "string", ...},
 *      "name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, ...}
 * (space-padded; our writer pads to a multiple of 8 so the data block is
 * 8-byte aligned), then the data block: each tensor's little-endian bytes in
 * row-major order at [begin, end) relative to the start of the block.
 *
 * Reading holds the whole file in memory; tensors point into it. Writing goes
 * to "<path>.tmp.<pid>", is fsynced, then renamed over <path>, so a reader (or
 * a crash) sees either the old file or the complete new one.
 * This code assumes a little-endian host (x86-64), like the format. st_read
 * must not run in two threads at once (cJSON keeps its last parse error in a
 * global); everything else is reentrant. */
#ifndef YV5_SAFETENSORS_H
#define YV5_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

typedef enum {
    ST_BOOL, ST_U8, ST_I8, ST_I16, ST_U16, ST_I32, ST_U32, ST_I64, ST_U64,
    ST_F16, ST_BF16, ST_F32, ST_F64,
    ST_DTYPE_COUNT
} StDtype;

/* Most dimensions a tensor may have (files with more are rejected). */
#define ST_MAX_DIMS 8

/* "F32", "BF16", ... (the file's spelling); "?" for an invalid value. */
const char *st_dtype_name(StDtype dtype);
/* Bytes per element (0 for an invalid value). */
size_t st_dtype_size(StDtype dtype);

/* One tensor of a file that was read. Everything points into the SafeTensors
 * that owns it and lives until st_free. */
typedef struct {
    const char *name;
    const char *file; /* path of the file it came from, for error messages */
    StDtype dtype;
    int ndim;          /* 0 for a scalar */
    int64_t shape[ST_MAX_DIMS];
    size_t numel;      /* product of shape (1 for a scalar) */
    size_t nbytes;     /* numel * st_dtype_size(dtype) */
    const void *data;  /* raw little-endian bytes; not necessarily aligned */
} StTensor;

typedef struct {
    char *path;
    unsigned char *blob; /* the whole file */
    size_t blob_size;
    StTensor *tensors;   /* count tensors in file order (by data offset) */
    int count;
    char **meta_keys;    /* meta_count key/value pairs from "__metadata__" */
    char **meta_values;
    int meta_count;
    char *strings;       /* storage for names, keys and values */
} SafeTensors;

/* Reads and validates the whole file: header length against the file size,
 * well-formed UTF-8 JSON, known dtypes, shape x dtype size == end - begin,
 * offsets inside the data block, no two tensors overlapping, unique names,
 * string-only metadata. Gaps between tensors are allowed. On failure returns
 * -1 with a message naming the file, the tensor and the reason, and leaves *st
 * empty (st_free is still safe). */
int st_read(SafeTensors *st, const char *path, Error *e);
/* Releases everything st_read allocated; leaves *st zeroed. */
void st_free(SafeTensors *st);

/* The tensor called `name`, or NULL. */
const StTensor *st_find(const SafeTensors *st, const char *name);
/* The metadata value for `key`, or NULL. */
const char *st_meta(const SafeTensors *st, const char *key);

/* Converts a floating-point tensor (F32, F16, BF16, F64) to float. `count`
 * must equal t->numel (the caller states what it expects). F16 and BF16
 * conversions are exact (subnormals, infinities, NaN sign and payload kept);
 * F64 rounds to nearest. */
int st_tensor_to_f32(const StTensor *t, float *dst, size_t count, Error *e);
/* st_find + st_tensor_to_f32, failing when the tensor is missing. */
int st_get_f32(const SafeTensors *st, const char *name, float *dst, size_t count, Error *e);

/* Exact IEEE half -> float, usable on its own. */
float st_f16_to_f32(uint16_t h);

/* One tensor to write. `data` holds numel * st_dtype_size(dtype) bytes in
 * little-endian row-major order (may be NULL when that is 0). */
typedef struct {
    const char *name;
    StDtype dtype;
    int ndim;
    int64_t shape[ST_MAX_DIMS];
    const void *data;
} StEntry;

typedef struct {
    const char *key, *value; /* UTF-8 strings */
} StMeta;

/* Writes the tensors (in this order, packed back to back) and the metadata to
 * `path` atomically: a temp file "<path>.tmp.<pid>" in the same directory is
 * written, flushed and fsynced, then renamed over `path`, and the directory is
 * fsynced. Names must be unique, valid UTF-8, and not "__metadata__". On any
 * failure returns -1, leaves an existing `path` untouched and removes the temp
 * file. Not for two threads of one process writing the same path at once. */
int st_write(const char *path, const StEntry *tensors, int count, const StMeta *meta,
             int meta_count, Error *e);

#endif
