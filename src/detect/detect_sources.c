/* --source listing (detect_sources.h). */
#include "detect/detect_sources.h"

#include <dirent.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "data/fsutil.h"

static const char *const image_formats[] = {"bmp", "dng", "jpeg", "jpg", "mpo", "png", "tif", "tiff", "webp", "pfm"};
static const char *const video_formats[] = {"asf", "avi", "gif", "m4v", "mkv", "mov", "mp4", "mpeg", "mpg", "ts", "wmv"};

/* x.split('.')[-1].lower() in formats */
static int has_format(const char *path, const char *const *formats, size_t n)
{
    const char *dot = strrchr(path, '.');
    const char *ext = dot ? dot + 1 : path;
    for (size_t i = 0; i < n; i++)
        if (!strcasecmp(ext, formats[i])) return 1;
    return 0;
}

int detect_is_image_name(const char *path)
{
    return has_format(path, image_formats, sizeof image_formats / sizeof *image_formats);
}

int detect_is_video_name(const char *path)
{
    return has_format(path, video_formats, sizeof video_formats / sizeof *video_formats);
}

static int is_magic(const char *s) { return strpbrk(s, "*?[") != NULL; }

static int path_exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

/* prefix + "/" + name (prefix "" for the root: "/name"). */
static char *join(const char *prefix, const char *name)
{
    size_t a = strlen(prefix), b = strlen(name);
    char *s = malloc(a + b + 2);
    if (!s) return NULL;
    memcpy(s, prefix, a);
    s[a] = '/';
    memcpy(s + a + 1, name, b + 1);
    return s;
}

/* Sorted names in dir matching pattern (any when NULL; only directories with
 * dirs_only); names starting with '.' only when the pattern starts with '.'. */
static int list_dir(const char *dir, const char *pattern, int dirs_only, StrList *out)
{
    DIR *d = opendir(*dir ? dir : "/");
    if (!d) return 0; /* unreadable directories match nothing, as in Python */
    struct dirent *ent;
    int rc = 0;
    while ((ent = readdir(d)) != NULL && rc == 0) {
        const char *n = ent->d_name;
        if (!strcmp(n, ".") || !strcmp(n, "..")) continue;
        if (n[0] == '.' && !(pattern && pattern[0] == '.')) continue;
        if (pattern && fnmatch(pattern, n, 0) != 0) continue;
        if (dirs_only) {
            char *p = join(dir, n);
            int ok = p && fs_is_dir(p);
            free(p);
            if (!ok) continue;
        }
        rc = strlist_push(out, n);
    }
    closedir(d);
    strlist_sort(out);
    return rc;
}

/* Expands components[i..n) below prefix into out. */
static int expand(const char *prefix, char **comp, int i, int n, int depth, StrList *out)
{
    if (depth > 64) return 0;
    if (i == n) return *prefix && path_exists(prefix) ? strlist_push(out, prefix) : 0;
    const char *c = comp[i];
    if (!strcmp(c, "**")) {
        /* zero directories, then each subdirectory (recursively) */
        if (expand(prefix, comp, i + 1, n, depth + 1, out) != 0) return -1;
        StrList subs = {0};
        int rc = list_dir(prefix, NULL, 1, &subs);
        for (size_t k = 0; k < subs.count && rc == 0; k++) {
            char *p = join(prefix, subs.items[k]);
            rc = p ? expand(p, comp, i, n, depth + 1, out) : -1;
            free(p);
        }
        strlist_free(&subs);
        return rc;
    }
    if (!is_magic(c)) {
        char *p = join(prefix, c);
        if (!p) return -1;
        int rc = (i + 1 == n || fs_is_dir(p)) ? expand(p, comp, i + 1, n, depth + 1, out) : 0;
        free(p);
        return rc;
    }
    StrList names = {0};
    int rc = list_dir(prefix, c, i + 1 < n, &names);
    for (size_t k = 0; k < names.count && rc == 0; k++) {
        char *p = join(prefix, names.items[k]);
        rc = p ? expand(p, comp, i + 1, n, depth + 1, out) : -1;
        free(p);
    }
    strlist_free(&names);
    return rc;
}

/* glob.glob(pattern, recursive=True) for an absolute pattern, unsorted. */
static int glob_paths(const char *pattern, StrList *out)
{
    char *copy = strdup(pattern);
    if (!copy) return -1;
    char *comp[512];
    int n = 0;
    for (char *tok = strtok(copy, "/"); tok && n < 512; tok = strtok(NULL, "/")) comp[n++] = tok;
    int rc = expand("", comp, 0, n, 0, out);
    free(copy);
    return rc;
}

int detect_list_sources(const char *source, StrList *images, size_t *videos, Error *e)
{
    if (videos) *videos = 0;
    if (!source || !*source) return err_set(e, "--source: empty path");
    char *p = fs_resolve(source);
    if (!p) return err_set(e, "%s: out of memory", source);
    StrList files = {0};
    int rc = 0;
    if (strchr(p, '*')) {
        rc = glob_paths(p, &files) ? err_set(e, "%s: out of memory", p) : 0;
        strlist_sort(&files);
    } else if (fs_is_dir(p)) {
        StrList names = {0};
        rc = list_dir(p, "*.*", 0, &names) ? err_set(e, "%s: out of memory", p) : 0;
        for (size_t i = 0; i < names.count && rc == 0; i++) {
            char *f = join(p, names.items[i]);
            if (!f || strlist_push_owned(&files, f) != 0) rc = err_set(e, "%s: out of memory", p);
        }
        strlist_free(&names);
    } else if (path_exists(p)) {
        rc = strlist_push(&files, p) ? err_set(e, "%s: out of memory", p) : 0;
    } else {
        rc = err_set(e, "%s does not exist", p);
    }
    size_t nv = 0;
    for (size_t i = 0; i < files.count && rc == 0; i++) {
        if (detect_is_image_name(files.items[i])) {
            if (strlist_push(images, files.items[i]) != 0) rc = err_set(e, "%s: out of memory", p);
        } else if (detect_is_video_name(files.items[i])) {
            nv++;
        }
    }
    if (rc == 0 && images->count == 0)
        rc = err_set(e, "No images found in %s%s. Supported formats are: bmp, dng, jpeg, jpg, mpo, png, tif, tiff, "
                        "webp, pfm",
                     p, nv ? " (videos are not supported)" : "");
    if (videos) *videos = nv;
    strlist_free(&files);
    free(p);
    return rc;
}
