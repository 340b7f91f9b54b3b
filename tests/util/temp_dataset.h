/* Scratch directories and the small files and images tests write into them
 * at run time (temporary datasets: bad-data cases need no committed
 * fixtures), plus reading files back. Header-only. */
#ifndef YV5_TEST_UTIL_TEMP_DATASET_H
#define YV5_TEST_UTIL_TEMP_DATASET_H

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <stb/stb_image_write.h>

#include "data/fsutil.h"

/* A new directory /tmp/yv5_<tag>_<pid>_<n>, malloc'd (NULL on failure).
 * mkdtemp is XSI; build the name ourselves and create it with mkdir. */
static inline char *tmpdir_make(const char *tag)
{
    static unsigned counter;
    char buf[256];
    for (int attempt = 0; attempt < 1000; attempt++) {
        snprintf(buf, sizeof buf, "/tmp/yv5_%s_%ld_%u", tag, (long)getpid(), counter++);
        if (mkdir(buf, 0755) == 0) return strdup(buf);
    }
    return NULL;
}

/* Removes path and, for a directory, everything below it. */
static inline void rm_rf(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0) return;
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        if (d) {
            struct dirent *ent;
            while ((ent = readdir(d)) != NULL) {
                if (!strcmp(ent->d_name, ".") || !strcmp(ent->d_name, "..")) continue;
                char *p = fs_join(path, ent->d_name);
                if (p) rm_rf(p);
                free(p);
            }
            closedir(d);
        }
        rmdir(path);
    } else {
        unlink(path);
    }
}

/* dir/rel, malloc'd; parent directories of the result are created. */
static inline char *path_in(const char *dir, const char *rel)
{
    char *p = fs_join(dir, rel);
    char *parent = p ? fs_dirname(p) : NULL;
    if (parent) fs_mkdirs(parent, NULL);
    free(parent);
    return p;
}

static inline int write_bytes(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t w = n ? fwrite(data, 1, n, f) : 0;
    return (fclose(f) == 0 && w == n) ? 0 : -1;
}

static inline int write_text(const char *path, const char *text) { return write_bytes(path, text, strlen(text)); }

static inline int write_text_in(const char *dir, const char *rel, const char *text)
{
    char *p = path_in(dir, rel);
    int rc = p ? write_text(p, text) : -1;
    free(p);
    return rc;
}

/* Deterministic RGB test pattern. */
static inline uint8_t *pattern_rgb(int w, int h, unsigned seed)
{
    uint8_t *px = malloc((size_t)w * h * 3);
    if (!px) return NULL;
    uint32_t s = seed * 2654435761u + 1;
    for (size_t i = 0; i < (size_t)w * h * 3; i++) {
        s = s * 1664525u + 1013904223u;
        px[i] = (uint8_t)((i * 7 + (s >> 24)) & 0xFF);
    }
    return px;
}

static inline int write_jpeg(const char *path, int w, int h, unsigned seed)
{
    uint8_t *px = pattern_rgb(w, h, seed);
    int ok = px && stbi_write_jpg(path, w, h, 3, px, 90);
    free(px);
    return ok ? 0 : -1;
}

static inline int write_png(const char *path, int w, int h, unsigned seed)
{
    uint8_t *px = pattern_rgb(w, h, seed);
    int ok = px && stbi_write_png(path, w, h, 3, px, w * 3);
    free(px);
    return ok ? 0 : -1;
}

static inline int write_jpeg_in(const char *dir, const char *rel, int w, int h, unsigned seed)
{
    char *p = path_in(dir, rel);
    int rc = p ? write_jpeg(p, w, h, seed) : -1;
    free(p);
    return rc;
}

/* Reads a whole file (NULL if unreadable). */
static inline unsigned char *slurp(const char *path, size_t *n)
{
    unsigned char *d;
    if (fs_read_file(path, &d, n, NULL)) return NULL;
    return d;
}

static inline int files_equal(const char *a, const char *b)
{
    size_t na, nb;
    unsigned char *da = slurp(a, &na), *db = slurp(b, &nb);
    int eq = da && db && na == nb && memcmp(da, db, na) == 0;
    free(da);
    free(db);
    return eq;
}

#endif
