/* YOLO txt label files and the label checks shared by every label source. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/fsutil.h"
#include "data/labels.h"

static int grow_rows(LabelBuf *b, size_t need)
{
    if (need <= b->cap && b->poly_start) return 0;
    size_t cap = b->cap ? b->cap : 8;
    while (cap < need) cap *= 2;
    float *rows = realloc(b->rows, cap * LABEL_FIELDS * sizeof *rows);
    if (!rows) return -1;
    b->rows = rows;
    size_t *ps = realloc(b->poly_start, (cap + 1) * sizeof *ps);
    if (!ps) return -1;
    if (!b->poly_start) ps[0] = 0;
    b->poly_start = ps;
    b->cap = cap;
    return 0;
}

static int grow_points(LabelBuf *b, size_t need)
{
    if (need <= b->cap_points) return 0;
    size_t cap = b->cap_points ? b->cap_points : 16;
    while (cap < need) cap *= 2;
    float *xy = realloc(b->poly_xy, cap * 2 * sizeof *xy);
    if (!xy) return -1;
    b->poly_xy = xy;
    b->cap_points = cap;
    return 0;
}

int labelbuf_push(LabelBuf *b, const float row[LABEL_FIELDS], const float *xy, size_t n_points)
{
    if (grow_rows(b, b->n + 1) || grow_points(b, b->n_points + n_points)) return -1;
    memcpy(b->rows + b->n * LABEL_FIELDS, row, LABEL_FIELDS * sizeof *row);
    if (n_points) memcpy(b->poly_xy + 2 * b->n_points, xy, 2 * n_points * sizeof *xy);
    b->n_points += n_points;
    b->n++;
    b->poly_start[b->n] = b->n_points;
    return 0;
}

void labelbuf_truncate(LabelBuf *b, size_t n)
{
    if (n >= b->n) return;
    b->n = n;
    b->n_points = b->poly_start[n];
}

int labelbuf_append(LabelBuf *b, const LabelBuf *src, size_t start, size_t count)
{
    for (size_t i = start; i < start + count; i++) {
        size_t p0 = src->poly_start[i], np = src->poly_start[i + 1] - p0;
        if (labelbuf_push(b, src->rows + i * LABEL_FIELDS, src->poly_xy ? src->poly_xy + 2 * p0 : NULL, np))
            return -1;
    }
    return 0;
}

void labelbuf_free(LabelBuf *b)
{
    free(b->rows);
    free(b->poly_start);
    free(b->poly_xy);
    memset(b, 0, sizeof *b);
}

/* Row order of numpy.unique(axis=0): lexicographic over the five floats. */
static int row_cmp(const float *a, const float *b)
{
    for (int k = 0; k < LABEL_FIELDS; k++) {
        if (a[k] < b[k]) return -1;
        if (a[k] > b[k]) return 1;
    }
    return 0;
}

/* Stable merge sort of row indices (stability keeps the first occurrence of
 * equal rows first, as numpy's return_index does). */
static void sort_rows(const float *rows, size_t *idx, size_t *tmp, size_t n)
{
    if (n < 2) return;
    size_t h = n / 2;
    sort_rows(rows, idx, tmp, h);
    sort_rows(rows, idx + h, tmp, n - h);
    size_t i = 0, j = h, k = 0;
    while (i < h && j < n)
        tmp[k++] = row_cmp(rows + idx[j] * LABEL_FIELDS, rows + idx[i] * LABEL_FIELDS) < 0 ? idx[j++] : idx[i++];
    while (i < h) tmp[k++] = idx[i++];
    while (j < n) tmp[k++] = idx[j++];
    memcpy(idx, tmp, n * sizeof *idx);
}

static int remove_duplicates(LabelBuf *b, size_t start, size_t *removed)
{
    size_t n = b->n - start;
    *removed = 0;
    if (n < 2) return 0;
    const float *rows = b->rows + start * LABEL_FIELDS;
    size_t *idx = malloc(n * sizeof *idx), *tmp = malloc(n * sizeof *tmp);
    if (!idx || !tmp) {
        free(idx);
        free(tmp);
        return -1;
    }
    for (size_t i = 0; i < n; i++) idx[i] = i;
    sort_rows(rows, idx, tmp, n);
    size_t keep = 0;
    for (size_t i = 0; i < n; i++)
        if (i == 0 || row_cmp(rows + idx[i] * LABEL_FIELDS, rows + idx[keep - 1] * LABEL_FIELDS) != 0)
            idx[keep++] = idx[i];
    int rc = 0;
    if (keep < n) {
        LabelBuf copy = {0};
        rc = labelbuf_append(&copy, b, start, n); /* the image's rows, renumbered from 0 */
        if (!rc) {
            labelbuf_truncate(b, start);
            for (size_t i = 0; i < keep && !rc; i++) rc = labelbuf_append(b, &copy, idx[i], 1);
        }
        labelbuf_free(&copy);
        *removed = n - keep;
    }
    free(idx);
    free(tmp);
    return rc;
}

int labels_verify(LabelBuf *b, size_t start, int nc, size_t *duplicates, Error *e)
{
    static const char *field[LABEL_FIELDS] = {"class", "cx", "cy", "w", "h"};
    *duplicates = 0;
    for (size_t i = start; i < b->n; i++) {
        const float *r = b->rows + i * LABEL_FIELDS;
        for (int k = 0; k < LABEL_FIELDS; k++) {
            if (!(r[k] >= 0)) /* NaN fails too */
                return err_set(e, "object %zu: %s %g is negative or not a number", i - start + 1, field[k], (double)r[k]);
            if (k > 0 && !(r[k] <= 1))
                return err_set(e, "object %zu: %s %g is outside [0, 1] (non-normalised or out of bounds)",
                               i - start + 1, field[k], (double)r[k]);
        }
        if (r[0] != floorf(r[0]))
            return err_set(e, "object %zu: class %g is not an integer", i - start + 1, (double)r[0]);
        if (r[0] >= (float)nc)
            return err_set(e, "object %zu: class %g exceeds the dataset's %d classes (0..%d)", i - start + 1,
                           (double)r[0], nc, nc - 1);
    }
    if (remove_duplicates(b, start, duplicates)) return err_set(e, "out of memory");
    return 0;
}

char *yolo_label_path(const char *image_path)
{
    static const char img_dir[] = "/images/", lbl_dir[] = "/labels/";
    size_t len = strlen(image_path);
    char *s = malloc(len + 8); /* room for ".txt" after an extension-less name */
    if (!s) return NULL;
    memcpy(s, image_path, len + 1);
    /* last occurrence of /images/ */
    char *hit = NULL;
    for (char *p = strstr(s, img_dir); p; p = strstr(p + 1, img_dir)) hit = p;
    if (hit) memcpy(hit, lbl_dir, sizeof lbl_dir - 1);
    /* Python's rsplit('.', 1) looks at the whole path, not just the file name. */
    char *dot = strrchr(s, '.');
    if (dot) strcpy(dot, ".txt");
    else strcat(s, ".txt");
    return s;
}

/* Parses a float the way Python's float() accepts it (strtod here, which also
 * takes hex forms Python rejects; harmless). */
static int parse_float(const char *tok, float *out)
{
    char *end;
    errno = 0;
    double v = strtod(tok, &end);
    if (end == tok || *end) return -1;
    *out = (float)v;
    return 0;
}

int yolo_read_labels(const char *label_path, LabelBuf *b, Error *e)
{
    unsigned char *text;
    size_t size;
    FILE *probe = fopen(label_path, "rb");
    if (!probe) {
        if (errno == ENOENT) return YOLO_LABELS_MISSING;
        return err_set(e, "%s: cannot open label file: %s", label_path, strerror(errno));
    }
    fclose(probe);
    if (fs_read_file(label_path, &text, &size, e)) return -1;
    if (memchr(text, 0, size)) {
        free(text);
        return err_set(e, "%s: label file is binary (contains NUL bytes)", label_path);
    }

    /* First pass: does any line have more than 6 fields (polygon file)? */
    int polygons = 0;
    size_t max_fields = 0;
    for (char *line = (char *)text; *line;) {
        char *next = line + strcspn(line, "\n");
        size_t fields = 0;
        for (char *p = line; p < next;) {
            while (p < next && isspace((unsigned char)*p)) p++;
            if (p >= next) break;
            fields++;
            while (p < next && !isspace((unsigned char)*p)) p++;
        }
        if (fields > 6) polygons = 1;
        if (fields > max_fields) max_fields = fields;
        line = *next ? next + 1 : next;
    }

    size_t start = b->n;
    float *vals = malloc((max_fields + 1) * sizeof *vals);
    if (!vals) {
        free(text);
        return err_set(e, "%s: out of memory", label_path);
    }
    int line_no = 0, rc = YOLO_LABELS_FOUND;
    for (char *line = (char *)text; *line && rc >= 0;) {
        char *next = line + strcspn(line, "\n");
        char *after = *next ? next + 1 : next;
        *next = 0;
        line_no++;
        size_t nf = 0;
        char *fsave = NULL;
        for (char *tok = strtok_r(line, " \t\r\v\f", &fsave); tok; tok = strtok_r(NULL, " \t\r\v\f", &fsave)) {
            if (parse_float(tok, &vals[nf])) {
                rc = err_set(e, "%s: line %d: '%s' is not a number", label_path, line_no, tok);
                break;
            }
            nf++;
        }
        line = after;
        if (rc < 0) break;
        if (nf == 0) continue; /* blank line */
        if (nf == LABEL_FIELDS) {
            if (labelbuf_push(b, vals, NULL, 0)) {
                rc = err_set(e, "%s: out of memory", label_path);
                break;
            }
            continue;
        }
        if (!polygons || nf < 7) {
            rc = err_set(e, "%s: line %d has %zu fields; labels require 5 columns (class cx cy w h)%s", label_path,
                         line_no, nf, polygons ? " or a polygon (class x1 y1 x2 y2 x3 y3 ...)" : "");
            break;
        }
        if ((nf - 1) % 2) {
            rc = err_set(e, "%s: line %d: polygon has an odd number of coordinates (%zu)", label_path, line_no,
                         nf - 1);
            break;
        }
        /* Box of a polygon: min/max of its points, then centre form, in float32
         * as segments2boxes and xyxy2xywh compute it. */
        size_t np = (nf - 1) / 2;
        float x0 = vals[1], y0 = vals[2], x1 = vals[1], y1 = vals[2];
        int nan_point = 0;
        for (size_t k = 0; k < np; k++) {
            float x = vals[1 + 2 * k], y = vals[2 + 2 * k];
            if (isnan(x) || isnan(y)) nan_point = 1;
            x0 = fminf(x0, x);
            x1 = fmaxf(x1, x);
            y0 = fminf(y0, y);
            y1 = fmaxf(y1, y);
        }
        float row[LABEL_FIELDS] = {vals[0], (x0 + x1) / 2.0f, (y0 + y1) / 2.0f, x1 - x0, y1 - y0};
        if (nan_point) row[1] = NAN; /* numpy's min/max propagate NaN; labels_verify rejects it */
        if (labelbuf_push(b, row, vals + 1, np)) {
            rc = err_set(e, "%s: out of memory", label_path);
            break;
        }
    }
    free(vals);
    free(text);
    if (rc < 0) labelbuf_truncate(b, start);
    return rc;
}
