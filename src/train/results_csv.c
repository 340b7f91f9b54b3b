/* results.csv formatting and files (results_csv.h). */
#include "train/results_csv.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "data/fsutil.h"

const char *const RESULTS_KEYS[RESULTS_VALUES] = {
    "train/box_loss", "train/obj_loss", "train/cls_loss", "metrics/precision", "metrics/recall",
    "metrics/mAP_0.5", "metrics/mAP_0.5:0.95", "val/box_loss", "val/obj_loss", "val/cls_loss",
    "x/lr0", "x/lr1", "x/lr2",
};

int results_csv_header(char *out, size_t cap)
{
    size_t len = (size_t)snprintf(out, cap, "%20s", "epoch");
    for (int k = 0; k < RESULTS_VALUES; k++)
        len += (size_t)snprintf(out + (len < cap ? len : cap), len < cap ? cap - len : 0, ",%20s", RESULTS_KEYS[k]);
    len += (size_t)snprintf(out + (len < cap ? len : cap), len < cap ? cap - len : 0, "\n");
    return (int)len;
}

/* Python's '%20.5g' % x; glibc would print NaN with a sign ("-nan"). */
static int py_g20(char *out, size_t cap, double x)
{
    if (isnan(x)) return snprintf(out, cap, "%20s", "nan");
    return snprintf(out, cap, "%20.5g", x);
}

int results_csv_row(int epoch, const double values[RESULTS_VALUES], char *out, size_t cap)
{
    size_t len = (size_t)py_g20(out, cap, (double)epoch);
    for (int k = 0; k < RESULTS_VALUES; k++) {
        len += (size_t)snprintf(out + (len < cap ? len : cap), len < cap ? cap - len : 0, ",");
        len += (size_t)py_g20(out + (len < cap ? len : cap), len < cap ? cap - len : 0, values[k]);
    }
    len += (size_t)snprintf(out + (len < cap ? len : cap), len < cap ? cap - len : 0, "\n");
    return (int)len;
}

int results_text_append(ResultsText *r, const char *line, Error *e)
{
    size_t n = strlen(line);
    if (r->len + n + 1 > r->cap) {
        size_t cap = r->cap ? r->cap : 4096;
        while (cap < r->len + n + 1) cap *= 2;
        char *t = realloc(r->text, cap);
        if (!t) return err_set(e, "results.csv: out of memory");
        r->text = t;
        r->cap = cap;
    }
    memcpy(r->text + r->len, line, n + 1);
    r->len += n;
    return 0;
}

int results_text_set(ResultsText *r, const char *text, Error *e)
{
    r->len = 0;
    if (r->text) r->text[0] = 0;
    return results_text_append(r, text ? text : "", e);
}

void results_text_free(ResultsText *r)
{
    free(r->text);
    memset(r, 0, sizeof *r);
}

static int write_all(int fd, const char *s, size_t n)
{
    while (n) {
        ssize_t w = write(fd, s, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        s += w;
        n -= (size_t)w;
    }
    return 0;
}

int results_csv_append(const char *path, const char *row, Error *e)
{
    int fresh = !fs_is_file(path);
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd < 0) return err_set(e, "%s: cannot open for appending: %s", path, strerror(errno));
    char header[1024];
    int rc = 0;
    if (fresh) {
        results_csv_header(header, sizeof header);
        rc = write_all(fd, header, strlen(header));
    }
    if (rc == 0) rc = write_all(fd, row, strlen(row));
    if (rc == 0) rc = fsync(fd);
    int saved = errno;
    if (close(fd) != 0 && rc == 0) {
        rc = -1;
        saved = errno;
    }
    if (rc != 0) return err_set(e, "%s: write failed: %s", path, strerror(saved));
    return 0;
}

int results_csv_rewrite(const char *path, const char *text, Error *e)
{
    return fs_write_atomic(path, text ? text : "", text ? strlen(text) : 0, e);
}
