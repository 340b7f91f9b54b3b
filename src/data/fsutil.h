/* File-system helpers for the data layer: whole-file reads, atomic writes,
 * path joining and resolution, recursive listing and file stamps (size and
 * mtime, the inputs of cache fingerprints). Returned strings are malloc'd and
 * owned by the caller. */
#ifndef YV5_FSUTIL_H
#define YV5_FSUTIL_H

#include <stddef.h>

#include "core/error.h"
#include "data/strlist.h"

/* Reads a whole file; *data gets size + 1 bytes with a terminating NUL. */
int fs_read_file(const char *path, unsigned char **data, size_t *size, Error *e);
/* Writes data to path through a temporary file in the same directory that is
 * fsync'ed and renamed over path, so readers never see a partial file. */
int fs_write_atomic(const char *path, const void *data, size_t size, Error *e);
/* mkdir -p. */
int fs_mkdirs(const char *path, Error *e);

int fs_is_dir(const char *path);
int fs_is_file(const char *path);

/* a/b (b alone when it is absolute). */
char *fs_join(const char *a, const char *b);
/* Directory part ("." when there is none). */
char *fs_dirname(const char *path);
/* Pointer to the last component inside path. */
const char *fs_basename(const char *path);
/* path with the extension of its last component replaced by ext (which
 * includes the dot), or ext appended when there is none. */
char *fs_with_suffix(const char *path, const char *ext);
/* Absolute path: realpath() when the path exists (symlinks resolved, like
 * pathlib's resolve()), else the lexically normalised cwd/path. */
char *fs_resolve(const char *path);

/* Every regular file under dir, recursively (symlinks followed, names starting
 * with '.' skipped, as Python's glob('**' '/' '*.*') does). Unsorted. */
int fs_list_files(const char *dir, StrList *out, Error *e);

typedef struct {
    int exists;
    long long size;
    long long mtime_sec, mtime_nsec;
} FileStamp;

/* Size and modification time (exists = 0 when stat fails). */
FileStamp fs_stamp(const char *path);

#endif
