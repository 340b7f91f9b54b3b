/* The per-split label cache: a scanned DatasetSplit saved to disk with a
 * fingerprint of its inputs (a key describing the configuration, then every
 * input file's path, size and mtime), so a later scan with unchanged inputs
 * skips the JSON parse and the image-header probes.
 *
 * File layout (native little-endian): "YV5CACHE", u32 version, u32 byte-order
 * mark, u64 payload size, u64 FNV-1a of the payload, payload. A file that is
 * short, has another version, or fails the checksum or a bounds check is
 * reported as corrupt, never half-used. Written atomically (fs_write_atomic). */
#ifndef YV5_LABEL_CACHE_H
#define YV5_LABEL_CACHE_H

#include <stdint.h>

#include "core/error.h"
#include "data/dataset.h"

#define LABEL_CACHE_SUFFIX ".yv5cache"
/* Bump when the file layout or the meaning of a scan result changes (label
 * rules, warnings), so old caches are rebuilt instead of trusted. */
#define LABEL_CACHE_VERSION 1u

/* FNV-1a over key and, for each file, its path and stamp (missing files
 * count as such, so their appearance also changes the fingerprint). */
uint64_t label_cache_fingerprint(const char *key, const StrList *files);

/* Saves s with its key, input list and fingerprint. */
int label_cache_write(const char *path, const char *key, const StrList *inputs, uint64_t fingerprint,
                      const DatasetSplit *s, Error *e);

typedef enum { CACHE_READ_OK = 0, CACHE_READ_MISSING = 1, CACHE_READ_CORRUPT = -1 } CacheReadResult;

/* Reads a cache into s (images, labels, categories, stats, warnings; kind,
 * cache_path and notes are left to the caller), *key (malloc'd), inputs and
 * *fingerprint. Freshness is the caller's check. On CACHE_READ_CORRUPT, e
 * says why and nothing is returned. */
CacheReadResult label_cache_read(const char *path, DatasetSplit *s, char **key, StrList *inputs,
                                 uint64_t *fingerprint, Error *e);

#endif
