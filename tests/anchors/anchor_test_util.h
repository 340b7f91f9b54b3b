/* Helpers shared by the AutoAnchor tests: reading the reference fixture
 * (scripts/gen_anchor_fixtures.py), building in-memory dataset splits, and
 * capturing a log into a string. Header-only. */
#ifndef YV5_TEST_ANCHOR_UTIL_H
#define YV5_TEST_ANCHOR_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ckpt/safetensors.h"
#include "data/dataset.h"

#define ANCHOR_FIXTURE "tests/fixtures/anchors/autoanchor.safetensors"

/* A malloc'd copy of tensor `name` converted to the wanted element type, or
 * NULL (reason printed). count gets the element count. */
static inline void *fx_tensor(const SafeTensors *st, const char *name, StDtype dtype, size_t *count)
{
    const StTensor *t = st_find(st, name);
    if (!t) {
        printf("    fixture has no tensor %s\n", name);
        return NULL;
    }
    if (t->dtype != dtype) {
        printf("    fixture tensor %s is %s\n", name, st_dtype_name(t->dtype));
        return NULL;
    }
    void *v = malloc(t->nbytes ? t->nbytes : 1);
    if (v && t->nbytes) memcpy(v, t->data, t->nbytes);
    if (count) *count = t->numel;
    return v;
}

/* A split of n_images images of sizes wh[2i], wh[2i+1], with counts[i] label
 * rows each taken in order from rows (n x 5). Free with test_split_free. */
static inline int test_split_make(DatasetSplit *s, size_t n_images, const int *wh, const int *counts,
                                  const float *rows)
{
    memset(s, 0, sizeof *s);
    s->images = calloc(n_images ? n_images : 1, sizeof *s->images);
    if (!s->images) return -1;
    s->n_images = n_images;
    size_t at = 0;
    for (size_t i = 0; i < n_images; i++) {
        s->images[i].width = wh[2 * i];
        s->images[i].height = wh[2 * i + 1];
        s->images[i].coco_id = -1;
        s->images[i].label_start = at;
        s->images[i].label_count = (size_t)counts[i];
        for (int r = 0; r < counts[i]; r++, at++)
            if (labelbuf_push(&s->labels, rows + at * LABEL_FIELDS, NULL, 0)) return -1;
    }
    return 0;
}

static inline void test_split_free(DatasetSplit *s)
{
    free(s->images);
    labelbuf_free(&s->labels);
    memset(s, 0, sizeof *s);
}

/* A log captured in memory: open, write to .f, then close to get .text. */
typedef struct {
    FILE *f;
    char *text;
    size_t len;
} LogCapture;

static inline int log_open(LogCapture *c)
{
    c->text = NULL;
    c->len = 0;
    c->f = open_memstream(&c->text, &c->len);
    return c->f ? 0 : -1;
}

/* Closes the stream; c->text stays valid until log_free. */
static inline void log_close(LogCapture *c)
{
    if (c->f) fclose(c->f);
    c->f = NULL;
}

static inline void log_free(LogCapture *c)
{
    log_close(c);
    free(c->text);
    c->text = NULL;
}

/* Whether text holds `line` as a whole line. */
static inline int has_line(const char *text, const char *line)
{
    size_t len = strlen(line);
    for (const char *p = text; p && *p;) {
        const char *end = strchr(p, '\n');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (n == len && !memcmp(p, line, len)) return 1;
        p = end ? end + 1 : NULL;
    }
    return 0;
}

/* Whether text contains `needle` anywhere. */
static inline int has_text(const char *text, const char *needle) { return text && strstr(text, needle) != NULL; }

#endif
