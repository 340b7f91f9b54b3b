/* increment_path + mkdir (save_dir.h). */
#include "val/save_dir.h"

#include <stdio.h>
#include <sys/stat.h>

#include "data/fsutil.h"

static int exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

int save_dir_create(const char *project, const char *name, int exist_ok, int with_labels, char *out, size_t cap,
                    Error *e)
{
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", project, name) >= sizeof path)
        return err_set(e, "%s/%s: path too long", project, name);
    if (exists(path) && !exist_ok) {
        int n;
        for (n = 2; n < 9999; n++) {
            snprintf(path, sizeof path, "%s/%s%d", project, name, n);
            if (!exists(path)) break;
        }
        if (n == 9999) return err_set(e, "%s/%s: no free directory name up to %s9998", project, name, name);
    }
    if (snprintf(out, cap, "%s", path) >= (int)cap) return err_set(e, "%s: path too long", path);
    char dir[4200];
    snprintf(dir, sizeof dir, with_labels ? "%s/labels" : "%s", path);
    if (fs_mkdirs(dir, e) != 0) return err_prefix(e, "output directory");
    return 0;
}
