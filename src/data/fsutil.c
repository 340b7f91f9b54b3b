/* realpath() is XSI, not plain POSIX. */
#define _XOPEN_SOURCE 700

#include "data/fsutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int fs_read_file(const char *path, unsigned char **data, size_t *size, Error *e)
{
    *data = NULL;
    *size = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return err_set(e, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return err_set(e, "%s: not a regular file", path);
    }
    size_t n = (size_t)st.st_size;
    unsigned char *buf = malloc(n + 1);
    if (!buf) {
        fclose(f);
        return err_set(e, "%s: out of memory reading %zu bytes", path, n);
    }
    size_t got = n ? fread(buf, 1, n, f) : 0;
    int read_error = ferror(f);
    fclose(f);
    if (got != n || read_error) {
        free(buf);
        return err_set(e, "%s: read error (got %zu of %zu bytes)", path, got, n);
    }
    buf[n] = 0;
    *data = buf;
    *size = n;
    return 0;
}

int fs_write_atomic(const char *path, const void *data, size_t size, Error *e)
{
    size_t len = strlen(path);
    char *tmp = malloc(len + 48);
    if (!tmp) return err_set(e, "%s: out of memory", path);
    int fd = -1;
    for (int attempt = 0; attempt < 100 && fd < 0; attempt++) {
        snprintf(tmp, len + 48, "%s.tmp.%ld.%d", path, (long)getpid(), attempt);
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0644);
        if (fd < 0 && errno != EEXIST) break;
    }
    if (fd < 0) {
        int err = errno;
        free(tmp);
        return err_set(e, "%s: cannot create temporary file: %s", path, strerror(err));
    }
    const unsigned char *p = data;
    size_t left = size;
    while (left > 0) {
        ssize_t w = write(fd, p, left);
        if (w < 0) {
            if (errno == EINTR) continue;
            break;
        }
        p += w;
        left -= (size_t)w;
    }
    int err = left ? errno : 0;
    if (!err && fsync(fd) != 0) err = errno;
    if (close(fd) != 0 && !err) err = errno;
    if (!err && rename(tmp, path) != 0) err = errno;
    if (err) {
        unlink(tmp);
        free(tmp);
        return err_set(e, "%s: write failed: %s", path, strerror(err));
    }
    free(tmp);
    /* Make the rename itself durable. */
    char *dir = fs_dirname(path);
    if (dir) {
        int dfd = open(dir, O_RDONLY);
        if (dfd >= 0) {
            fsync(dfd);
            close(dfd);
        }
        free(dir);
    }
    return 0;
}

int fs_mkdirs(const char *path, Error *e)
{
    char *p = strdup(path);
    if (!p) return err_set(e, "%s: out of memory", path);
    for (char *s = p + 1;; s++) {
        if (*s == '/' || *s == 0) {
            char c = *s;
            *s = 0;
            if (mkdir(p, 0755) != 0 && errno != EEXIST) {
                int err = errno;
                err_set(e, "%s: cannot create directory: %s", p, strerror(err));
                free(p);
                return -1;
            }
            *s = c;
            if (!c) break;
        }
    }
    free(p);
    if (!fs_is_dir(path)) return err_set(e, "%s: exists and is not a directory", path);
    return 0;
}

int fs_is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int fs_is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

char *fs_join(const char *a, const char *b)
{
    if (b[0] == '/' || a[0] == 0) return strdup(b);
    size_t la = strlen(a), lb = strlen(b);
    int slash = a[la - 1] != '/';
    char *s = malloc(la + slash + lb + 1);
    if (!s) return NULL;
    memcpy(s, a, la);
    if (slash) s[la] = '/';
    memcpy(s + la + slash, b, lb + 1);
    return s;
}

char *fs_dirname(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash) return strdup(".");
    if (slash == path) return strdup("/");
    size_t n = (size_t)(slash - path);
    char *s = malloc(n + 1);
    if (!s) return NULL;
    memcpy(s, path, n);
    s[n] = 0;
    return s;
}

const char *fs_basename(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

char *fs_with_suffix(const char *path, const char *ext)
{
    const char *base = fs_basename(path);
    const char *dot = strrchr(base, '.');
    size_t keep = (dot && dot != base) ? (size_t)(dot - path) : strlen(path);
    size_t le = strlen(ext);
    char *s = malloc(keep + le + 1);
    if (!s) return NULL;
    memcpy(s, path, keep);
    memcpy(s + keep, ext, le + 1);
    return s;
}

/* Collapses "//", "/./" and "/x/../" in an absolute path, in place. */
static void normalize_abs(char *p)
{
    char *out = p; /* p[0] == '/' */
    const char *in = p;
    while (*in) {
        while (*in == '/') in++;
        if (!*in) break;
        const char *end = strchr(in, '/');
        size_t n = end ? (size_t)(end - in) : strlen(in);
        if (n == 1 && in[0] == '.') {
            /* skip */
        } else if (n == 2 && in[0] == '.' && in[1] == '.') {
            /* drop the last component and the slash before it */
            while (out > p && *(out - 1) != '/') out--;
            if (out > p) out--;
        } else {
            *out++ = '/';
            memmove(out, in, n);
            out += n;
        }
        in += n;
    }
    if (out == p) *out++ = '/';
    *out = 0;
}

char *fs_resolve(const char *path)
{
    char *real = realpath(path, NULL);
    if (real) return real;
    char *abs;
    if (path[0] == '/') {
        abs = strdup(path);
    } else {
        char cwd[PATH_MAX];
        if (!getcwd(cwd, sizeof cwd)) return strdup(path);
        abs = fs_join(cwd, path);
    }
    if (abs) normalize_abs(abs);
    return abs;
}

static int list_rec(const char *dir, StrList *out, int depth, Error *e)
{
    if (depth > 64) return err_set(e, "%s: directories nested too deep (symlink loop?)", dir);
    DIR *d = opendir(dir);
    if (!d) return err_set(e, "%s: cannot open directory: %s", dir, strerror(errno));
    struct dirent *ent;
    int rc = 0;
    while ((ent = readdir(d)) != NULL) {
        if (ent->d_name[0] == '.') continue;
        char *p = fs_join(dir, ent->d_name);
        if (!p) {
            rc = err_set(e, "%s: out of memory", dir);
            break;
        }
        struct stat st;
        if (stat(p, &st) != 0) { /* dangling symlink: nothing to read */
            free(p);
            continue;
        }
        if (S_ISDIR(st.st_mode)) {
            rc = list_rec(p, out, depth + 1, e);
            free(p);
            if (rc) break;
        } else if (S_ISREG(st.st_mode)) {
            if (strlist_push_owned(out, p)) {
                rc = err_set(e, "%s: out of memory", dir);
                break;
            }
        } else {
            free(p);
        }
    }
    closedir(d);
    return rc;
}

int fs_list_files(const char *dir, StrList *out, Error *e) { return list_rec(dir, out, 0, e); }

FileStamp fs_stamp(const char *path)
{
    FileStamp s = {0, 0, 0, 0};
    struct stat st;
    if (stat(path, &st) != 0) return s;
    s.exists = 1;
    s.size = (long long)st.st_size;
    s.mtime_sec = (long long)st.st_mtim.tv_sec;
    s.mtime_nsec = (long long)st.st_mtim.tv_nsec;
    return s;
}
