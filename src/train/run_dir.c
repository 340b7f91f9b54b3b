/* Run directories (run_dir.h). */
#include "train/run_dir.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data/fsutil.h"
#include "data/strlist.h"

static int path_exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

int run_dir_create(const char *project, const char *name, int exist_ok, char *out, size_t cap, Error *e)
{
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", project, name) >= sizeof path)
        return err_set(e, "%s/%s: path too long", project, name);
    if (path_exists(path) && !exist_ok) {
        int n;
        for (n = 2; n < 9999; n++) {
            snprintf(path, sizeof path, "%s/%s%d", project, name, n);
            if (!path_exists(path)) break;
        }
        if (n == 9999) return err_set(e, "%s/%s: no free run directory name up to %s9998", project, name, name);
    }
    if (strlen(path) + 1 > cap) return err_set(e, "%s: path too long", path);
    snprintf(out, cap, "%s", path);
    char weights[4200];
    snprintf(weights, sizeof weights, "%s/weights", path);
    if (fs_mkdirs(weights, e) != 0) return err_prefix(e, "run directory");
    return 0;
}

int run_dir_latest_checkpoint(const char *dir, char *out, size_t cap, Error *e)
{
    if (!fs_is_dir(dir)) return err_set(e, "--resume: no run directory '%s' to find the newest checkpoint in", dir);
    StrList files = {0};
    if (fs_list_files(dir, &files, e) != 0) return err_prefix(e, "--resume");
    const char *best = NULL;
    long long best_s = 0, best_ns = 0;
    for (size_t i = 0; i < files.count; i++) {
        const char *f = files.items[i];
        if (strcmp(fs_basename(f), "last.safetensors") != 0) continue;
        FileStamp s = fs_stamp(f);
        if (!s.exists) continue;
        if (!best || s.mtime_sec > best_s || (s.mtime_sec == best_s && s.mtime_nsec > best_ns) ||
            (s.mtime_sec == best_s && s.mtime_nsec == best_ns && strcmp(f, best) > 0)) {
            best = f;
            best_s = s.mtime_sec;
            best_ns = s.mtime_nsec;
        }
    }
    int rc = 0;
    if (!best) rc = err_set(e, "--resume: no last.safetensors under '%s' (give the checkpoint path)", dir);
    else if (strlen(best) + 1 > cap) rc = err_set(e, "%s: path too long", best);
    else snprintf(out, cap, "%s", best);
    strlist_free(&files);
    return rc;
}

int run_dir_of_checkpoint(const char *ckpt_path, char *out, size_t cap, Error *e)
{
    char *d = fs_dirname(ckpt_path);
    char *run = d ? fs_dirname(d) : NULL;
    int rc = 0;
    if (!run) rc = err_set(e, "%s: out of memory", ckpt_path);
    else if (strlen(run) + 1 > cap) rc = err_set(e, "%s: path too long", run);
    else snprintf(out, cap, "%s", run);
    free(d);
    free(run);
    return rc;
}

int run_dir_remove_stale_temps(const char *weights_dir)
{
    DIR *d = opendir(weights_dir);
    if (!d) return 0;
    int removed = 0;
    struct dirent *ent;
    while ((ent = readdir(d)) != NULL) {
        if (!strstr(ent->d_name, ".safetensors.tmp.")) continue;
        char path[4200];
        snprintf(path, sizeof path, "%s/%s", weights_dir, ent->d_name);
        if (unlink(path) == 0) removed++;
    }
    closedir(d);
    return removed;
}
